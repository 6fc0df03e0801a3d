"""The class as the instructor runs it: the list of sessions, each seat's status, checks on demand, more time,
closing, destroying, and the event log."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..config import default_parallel
from ..errors import ConfigError, LabError, NotFoundError
from .core import SessionsCore, due, find_seat, find_session, store_check, writable
from .ports import Progress
from .model import SessionError, SessionRow


@dataclass(frozen=True)
class SeatStatus:
    """One seat of a session as the instructor's status screen shows it."""

    seat: str
    trainees: tuple[str, ...]
    fault: str
    variant: str
    progress: str
    error: str
    machine: str  # running | shut off | crashed | paused | missing | ...
    ticket_state: str
    priority: str
    due: str | None
    outcome: str
    last_check: str
    problem: str  # what is wrong with the seat, in words, with the command that fixes it
    last_check_at: str = ""
    deadline: str | None = None  # the seat's time limit (session limit + extensions), UTC
    mode: str = "remote"

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


class Classroom:
    """A planned session's seats and clock, seen and changed by the instructor."""

    def __init__(self, core: SessionsCore):
        self.core = core

    def list(self) -> list[tuple[SessionRow, int, int]]:
        """Every session with its number of seats and trainees."""
        with self.core.reading() as r:
            return r.sessions_with_counts()

    def events(self, name: str) -> list[dict[str, str]]:
        with self.core.reading() as r:
            s = find_session(r, name)
            return r.events(s.id)

    def status(self, name: str) -> list[SeatStatus]:
        with self.core.reading() as r:
            s = find_session(r, name)
            seats = r.seats(s.id)
            extra = {}
            for x in seats:
                extra[x.id] = (r.trainees(x.id), r.ticket(x.id), r.last_check(x.id))
        out = []
        for x in seats:
            trainees, ticket, check = extra[x.id]
            machine = self.core._machine(x.name) if s.state != "destroyed" else "destroyed"
            problem = ""
            if machine == "missing" and x.reached("seat-created"):
                problem = f"the machine is gone: labctl session reset-seat {s.name} {x.name}"
            elif machine not in ("running", "missing", "destroyed"):
                problem = (f"the machine is {machine} (crashed or powered off): "
                           f"labctl session reset-seat {s.name} {x.name}")
            elif x.error:
                problem = f"{x.error} (labctl session resume {s.name})"
            t_due = due(s, x, ticket)
            out.append(SeatStatus(
                seat=x.name, trainees=tuple(t.name for t in trainees), fault=x.fault, variant=x.variant,
                progress=x.progress, error=x.error, machine=machine, ticket_state=ticket.state if ticket else "-",
                priority=ticket.priority if ticket else "-",
                due=t_due.isoformat(timespec="seconds") if t_due else None,
                outcome=ticket.outcome if ticket else "", last_check=check.status if check else "",
                problem=problem, last_check_at=check.at if check else "",
                deadline=_iso(s.deadline(x.extra_min)), mode=s.mode))
        return out

    def check(self, name: str, seat_refs: list[str] | None = None, *, parallel: int | None = None) -> dict[str, Any]:
        """Run the post-checks now (instructor's look; grades use the checks run at resolve/escalate)."""
        with self.core.reading() as r:
            s = find_session(r, name)
            rows = [find_seat(r, s, ref) for ref in seat_refs] if seat_refs else r.seats(s.id)
        rows = [x for x in rows if x.reached("injected")]
        out: dict[str, Any] = {}
        with ThreadPoolExecutor(max_workers=max(1, parallel or default_parallel())) as pool:
            futures = {x.name: pool.submit(self.core._run_check, x.name) for x in rows}
            for x in rows:
                try:
                    report, why = futures[x.name].result()
                except LabError as exc:
                    report, why = None, exc.message
                if report is not None:
                    with self.core.writing() as r:
                        store_check(r, x, None, "instructor", report)
                out[x.name] = report if report is not None else why
        return out

    def extend(self, name: str, minutes: int, seat_ref: str | None = None) -> SessionRow:
        """More time: the time limit and the SLA clocks move by MINUTES (one seat, or the whole class)."""
        if minutes == 0 or abs(minutes) > 480:
            raise ConfigError(f"extend by {minutes} min: give a number of minutes between 1 and 480")
        with self.core.writing() as r:
            s = find_session(r, name)
            writable(s, instructor=True)
            if seat_ref:
                seat = find_seat(r, s, seat_ref)
                r.extend_seat(seat.id, minutes)
                r.add_event(s.id, "extend", f"{seat.name}: +{minutes} min", seat.name)
            else:
                r.extend_session(s.id, minutes)
                r.add_event(s.id, "extend", f"whole session: +{minutes} min")
            return find_session(r, name)

    def close(self, name: str) -> SessionRow:
        """End of the exam: trainees can no longer act on tickets; grading treats open tickets as not done."""
        with self.core.writing() as r:
            s = find_session(r, name)
            if s.state == "closed":
                return s
            if s.state != "open":
                raise SessionError(f"session '{name}' is {s.state}; only an open session can be closed")
            r.close_session(s.id)
            r.add_event(s.id, "closed", "session closed")
            return find_session(r, name)

    def destroy(self, name: str, *, purge: bool = False, progress: Progress | None = None) -> list[str]:
        """Destroy the session's seats; its records (tickets, notes, grades) are kept unless ``purge``."""
        say = progress or (lambda _m: None)
        with self.core.reading() as r:
            s = find_session(r, name)
            rows = r.seats(s.id)
        gone = []
        for x in rows:
            try:
                self.core.seats.destroy(x.name)
                gone.append(x.name)
                say(f"seat {x.name}: destroyed")
            except NotFoundError:
                pass
        with self.core.writing() as r:
            if purge:
                r.purge_session(s.id)
            else:
                r.mark_destroyed(s.id)
                r.add_event(s.id, "destroyed", f"{len(gone)} seat(s) destroyed; records kept")
        return gone


def _iso(d: datetime | None) -> str | None:
    return d.isoformat(timespec="seconds") if d else None
