"""Grades and the report's data: what the database holds about a seat, turned into ``grading.py``'s input.

``grading.py`` judges (pure functions of a ``GradeInput``); ``report.py`` writes files;
this module reads the records between them, and records the instructor's inputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, LabError
from .core import SessionsCore, due, find_seat, find_session, writable
from .db import parse_time
from .grading import GradeInput, SeatGrade, grade
from .model import SeatRow, SessionRow
from .repo import SessionRepo


@dataclass(frozen=True)
class SeatReport:
    seat: str
    trainees: tuple[dict[str, str], ...]
    fault: str
    variant: str
    level: int
    families: tuple[str, ...]
    competencies: tuple[str, ...]
    ticket: dict[str, Any]
    last_check: dict[str, Any] | None
    grade: SeatGrade

    def as_dict(self) -> dict[str, Any]:
        return {"seat": self.seat, "trainees": list(self.trainees), "fault": self.fault, "variant": self.variant,
                "level": self.level, "families": list(self.families), "competencies": list(self.competencies),
                "ticket": self.ticket, "last_check": self.last_check, "grade": self.grade.as_dict()}


class Gradebook:
    """The instructor's grading inputs, each seat's grade, and the session's report as data."""

    def __init__(self, core: SessionsCore):
        self.core = core

    def set_grade(self, name: str, seat_ref: str, *, by: str = "instructor", comment: str | None = None,
                  **criteria: str | None) -> SeatGrade:
        """Instructor inputs: C4 (communication), and overrides of C1-C3 with a comment."""
        unknown = [k for k in criteria if k not in ("c1", "c2", "c3", "c4")]
        if unknown:
            raise ConfigError(f"unknown criteria: {', '.join(unknown)}")
        for k, v in criteria.items():
            if v not in (None, "pass", "fail", "clear"):
                raise ConfigError(f"--{k}: give pass, fail or clear (got {v!r})")
        with self.core.writing() as r:
            s = find_session(r, name)
            if s.state == "creating":
                writable(s)
            seat = find_seat(r, s, seat_ref)
            inputs = r.grade_inputs(seat.id)
            for k, v in criteria.items():
                if v == "clear":
                    inputs.pop(k, None)
                elif v:
                    inputs[k] = v
            if comment is not None:
                inputs["comment"] = comment
            r.set_grade_inputs(seat.id, json.dumps(inputs), by)
            r.add_event(s.id, "grade", f"{seat.name}: {json.dumps(inputs, ensure_ascii=False)}", seat.name)
        return self.grade(name, seat_ref)

    def _grade_input(self, r: SessionRepo, s: SessionRow, seat: SeatRow) -> GradeInput:
        t = r.ticket(seat.id)
        inputs = r.grade_inputs(seat.id)
        try:
            level = self.core.catalog.get(seat.fault).level
        except LabError:
            level = 1
        session_open = s.state in ("open", "creating")
        if t is None:
            return GradeInput(fault_level=level, ticket_state="new", acknowledged=False, note_kinds=(),
                              resolution="", escalation={}, closed_at=None, due=None,
                              deadline=s.deadline(seat.extra_min), check_status="", session_open=session_open,
                              instructor=inputs)
        kinds = r.note_kinds(t.id)
        check = r.last_check(seat.id, ticket_only=True) if t.is_closed else None
        return GradeInput(fault_level=level, ticket_state=t.state, acknowledged=bool(t.acknowledged),
                          note_kinds=kinds, resolution=t.resolution, escalation=t.escalation,
                          closed_at=parse_time(t.closed), due=due(s, seat, t),
                          deadline=s.deadline(seat.extra_min), check_status=check.status if check else "",
                          groups=check.groups if check else {}, session_open=session_open, instructor=inputs)

    def grade(self, name: str, seat_ref: str) -> SeatGrade:
        with self.core.reading() as r:
            s = find_session(r, name)
            return grade(self._grade_input(r, s, find_seat(r, s, seat_ref)))

    def report(self, name: str) -> tuple[SessionRow, list[SeatReport]]:
        """Everything a report shows, as data."""
        out = []
        with self.core.reading() as r:
            s = find_session(r, name)
            for seat in r.seats(s.id):
                try:
                    fault = self.core.catalog.get(seat.fault)
                    level, fams, cps = fault.level, fault.families, fault.competencies
                except LabError:
                    level, fams, cps = 1, (), ()
                trainees = tuple({"name": t.name, "email": t.email} for t in r.trainees(seat.id))
                t = r.ticket(seat.id)
                ticket: dict[str, Any] = {}
                if t is not None:
                    events = [e.as_dict() for e in r.ticket_events(t.id)]
                    t_due = due(s, seat, t)
                    ticket = {"number": t.number, "subject": t.subject, "priority": t.priority, "state": t.state,
                              "opened": t.opened, "acknowledged": t.acknowledged, "closed": t.closed,
                              "due": t_due.isoformat(timespec="seconds") if t_due else None, "outcome": t.outcome,
                              "resolution": t.resolution, "escalation": t.escalation, "history": events}
                check = r.last_check(seat.id)
                last = None
                if check is not None:
                    last = {"at": check.at, "trigger": check.trigger, "status": check.status, "groups": check.groups,
                            "results": [{k: x.get(k) for k in ("id", "group", "status", "observed", "expected")}
                                        for x in check.report.get("results", [])]}
                out.append(SeatReport(seat=seat.name, trainees=trainees, fault=seat.fault, variant=seat.variant,
                                      level=level, families=tuple(fams), competencies=tuple(cps), ticket=ticket,
                                      last_check=last, grade=grade(self._grade_input(r, s, seat))))
        return s, out
