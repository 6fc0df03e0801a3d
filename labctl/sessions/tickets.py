"""The simulated ticket tool: a seat's work order, its history, and what trainees and the instructor do with it.

Resolving and escalating run the post-checks, outside any transaction: the ticket is
read, the checks run, and the ticket is read again and changed in one short write, so
another process that closed it meanwhile wins.
"""

from __future__ import annotations

import json

from ..errors import ConfigError, NotFoundError
from .core import SessionsCore, due, find_seat, find_session, store_check, writable
from .model import NOTE_KINDS, SeatRow, SessionError, SessionRow, TicketRow, TicketView
from .repo import SessionRepo

ESCALATION_FIELDS = ("observed", "tried", "reason")


def ticket_for(r: SessionRepo, name: str, seat_ref: str) -> tuple[SessionRow, SeatRow, TicketRow]:
    s = find_session(r, name)
    seat = find_seat(r, s, seat_ref)
    t = r.ticket(seat.id)
    if t is None:
        raise NotFoundError(f"seat {seat.name} has no ticket yet (it is {seat.progress})",
                            hint=f"labctl session resume {s.name}")
    return s, seat, t


def ticket_event(r: SessionRepo, t: TicketRow, actor: str, kind: str, *, note_kind: str = "", text: str = "",
                 data: dict | None = None) -> None:
    r.add_ticket_event(t.id, actor, kind, note_kind, text, json.dumps(data) if data else "")


def open_ticket(t: TicketRow) -> None:
    if t.is_closed:
        raise SessionError(f"ticket {t.number} is already {t.state} (at {t.closed})",
                           hint="the instructor can reopen it: labctl ticket reopen")


class Tickets:
    """Ticket actions: show, acknowledge, note, escalate, resolve, reopen."""

    def __init__(self, core: SessionsCore):
        self.core = core

    def ticket(self, name: str, seat_ref: str) -> TicketView:
        with self.core.reading() as r:
            s, seat, t = ticket_for(r, name, seat_ref)
            events = tuple(r.ticket_events(t.id))
            trainees = tuple(tr.name for tr in r.trainees(seat.id))
        return TicketView(session=s.name, seat=seat.name, ticket=t, due=due(s, seat, t),
                          deadline=s.deadline(seat.extra_min), events=events, trainees=trainees, mode=s.mode)

    def acknowledge(self, name: str, seat_ref: str, *, by: str = "trainee") -> TicketView:
        with self.core.writing() as r:
            s, seat, t = ticket_for(r, name, seat_ref)
            writable(s)
            if t.is_closed:
                raise SessionError(f"ticket {t.number} is {t.state}")
            if t.state in ("new", "reopened"):
                r.acknowledge_ticket(t.id)
                ticket_event(r, t, by, "acknowledged")
        return self.ticket(name, seat_ref)

    def note(self, name: str, seat_ref: str, kind: str, text: str, *, by: str = "trainee") -> TicketView:
        if kind not in NOTE_KINDS:
            raise ConfigError(f"note kind {kind!r} is not known", hint="kinds: " + ", ".join(NOTE_KINDS))
        if not text.strip():
            raise ConfigError("a note needs some text")
        with self.core.writing() as r:
            s, seat, t = ticket_for(r, name, seat_ref)
            writable(s)
            ticket_event(r, t, by, "note", note_kind=kind, text=text.strip())
        return self.ticket(name, seat_ref)

    def escalate(self, name: str, seat_ref: str, *, observed: str, tried: str, reason: str,
                 by: str = "trainee") -> TicketView:
        """Hand the ticket to level 2 with what it needs; the post-checks run too (rules, C3)."""
        info = {"observed": observed.strip(), "tried": tried.strip(), "reason": reason.strip()}
        missing = [k for k in ESCALATION_FIELDS if len(info[k]) < 3]
        if missing:
            raise ConfigError("an escalation needs what was observed, what was tried and why it is for level 2; "
                              "missing: " + ", ".join(missing), hint="--observed, --tried, --reason")
        with self.core.reading() as r:
            s, seat, t = ticket_for(r, name, seat_ref)
        writable(s)
        open_ticket(t)
        report, why = self.core._run_check(seat.name)
        with self.core.writing() as r:
            s, seat, t = ticket_for(r, name, seat_ref)
            writable(s)
            open_ticket(t)
            if report is not None:
                store_check(r, seat, t.id, "escalate", report)
            r.escalate_ticket(t.id, json.dumps(info))
            ticket_event(r, t, by, "escalated", text=info["reason"], data=info)
            ticket_event(r, t, "labctl", "checked",
                         text=report.status if report is not None else f"no verdict: {why}",
                         data=report.as_dict()["groups"] if report is not None else None)
        return self.ticket(name, seat_ref)

    def resolve(self, name: str, seat_ref: str, *, resolution: str, by: str = "trainee") -> TicketView:
        """Close the ticket as solved: the post-checks run and their outcome is recorded."""
        if not resolution.strip():
            raise ConfigError("a resolution needs some text: what was done and how it was verified",
                              hint="--resolution")
        with self.core.reading() as r:
            s, seat, t = ticket_for(r, name, seat_ref)
        writable(s)
        open_ticket(t)
        report, why = self.core._run_check(seat.name)
        if report is None:
            raise SessionError(f"seat {seat.name}: {why}; the post-checks cannot run, the ticket stays open",
                               hint=f"the instructor can bring it back: labctl session reset-seat {name} {seat.name}")
        outcome = {"pass": "passed", "fail": "failed"}.get(report.status, "unknown")
        with self.core.writing() as r:
            s, seat, t = ticket_for(r, name, seat_ref)
            writable(s)
            open_ticket(t)  # another process may have closed it while the checks ran
            store_check(r, seat, t.id, "resolve", report)
            r.resolve_ticket(t.id, resolution.strip(), outcome)
            ticket_event(r, t, by, "resolved", text=resolution.strip())
            ticket_event(r, t, "labctl", "checked", text=outcome, data=report.as_dict()["groups"])
        return self.ticket(name, seat_ref)

    def reopen(self, name: str, seat_ref: str, *, reason: str, by: str = "instructor") -> TicketView:
        if not reason.strip():
            raise ConfigError("reopening needs a reason", hint="--reason")
        with self.core.writing() as r:
            s, seat, t = ticket_for(r, name, seat_ref)
            writable(s, instructor=True)
            if not t.is_closed:
                raise SessionError(f"ticket {t.number} is {t.state}, not closed; nothing to reopen")
            r.reopen_ticket(t.id)
            ticket_event(r, t, by, "reopened", text=reason.strip(),
                         data={"was": t.state, "outcome": t.outcome, "resolution": t.resolution,
                               "escalation": t.escalation})
        return self.ticket(name, seat_ref)
