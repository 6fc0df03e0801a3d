"""Grading a seat against the exam's criteria (shared/CURRICULUM.md, C1-C4): data, not prose.

What labctl can judge it judges; what it cannot (communication, C4) it leaves to
the instructor; an instructor's override always wins and says so. A check that
reached no verdict (``unknown``) never counts as a pass: the item is
``not judged``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PASS = "pass"
FAIL = "fail"
NOT_JUDGED = "not judged"
PENDING = "pending"
STATUSES = (PASS, FAIL, NOT_JUDGED, PENDING)
CRITERIA = ("C1", "C2", "C3", "C4")


@dataclass(frozen=True)
class Item:
    """One judged item: its status, why, and who judged it (labctl or the instructor)."""

    id: str
    status: str
    reasons: tuple[str, ...] = ()
    by: str = "labctl"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "reasons": list(self.reasons), "by": self.by}


@dataclass(frozen=True)
class GradeInput:
    """Everything grading looks at for one seat (gathered from the database by the session layer)."""

    fault_level: int
    ticket_state: str  # new | acknowledged | escalated | resolved | reopened
    acknowledged: bool
    note_kinds: tuple[str, ...]  # kinds of the notes written: diagnosis, action, communication
    resolution: str
    escalation: dict[str, str]  # observed, tried, reason (empty when not escalated)
    closed_at: datetime | None  # when resolved or escalated
    due: datetime | None  # the SLA due time
    deadline: datetime | None  # the session's time limit
    check_status: str  # pass | fail | unknown | "" (no check recorded)
    groups: dict[str, str] = field(default_factory=dict)  # functional/integrity/security -> pass|fail|unknown
    session_open: bool = True
    instructor: dict[str, Any] = field(default_factory=dict)  # c1..c4 -> pass|fail, comment


@dataclass(frozen=True)
class SeatGrade:
    result: Item
    time: Item
    c1: Item
    c2: Item
    c3: Item
    c4: Item
    overall: str
    comment: str = ""

    def criteria(self) -> dict[str, Item]:
        return {"C1": self.c1, "C2": self.c2, "C3": self.c3, "C4": self.c4}

    def as_dict(self) -> dict[str, Any]:
        return {"result": self.result.as_dict(), "time": self.time.as_dict(),
                **{k.lower(): v.as_dict() for k, v in self.criteria().items()},
                "overall": self.overall, "comment": self.comment}


def _result(g: GradeInput) -> Item:
    if g.ticket_state == "escalated":
        if g.fault_level >= 2:
            return Item("result", PASS, ("escalated a fault beyond level 1, with the information level 2 needs",))
        return Item("result", FAIL, ("escalated a fault that level 1 should fix",))
    if g.ticket_state == "resolved":
        if g.check_status == PASS:
            return Item("result", PASS, ("resolved; every post-check passes",))
        if g.check_status == FAIL:
            return Item("result", FAIL, ("resolved, but post-checks fail",))
        return Item("result", NOT_JUDGED, ("resolved, but the post-checks reached no verdict",))
    if g.session_open:
        return Item("result", PENDING, ("the ticket is still open",))
    return Item("result", FAIL, ("the ticket was neither resolved nor escalated",))


def _time(g: GradeInput) -> Item:
    if g.closed_at is None:
        if g.session_open:
            return Item("time", PENDING, ("the ticket is still open",))
        return Item("time", FAIL, ("the ticket was not closed within the session",))
    reasons = []
    if g.due is not None and g.closed_at > g.due:
        reasons.append(f"closed {_minutes(g.closed_at - g.due)} after the SLA due time")
    if g.deadline is not None and g.closed_at > g.deadline:
        reasons.append(f"closed {_minutes(g.closed_at - g.deadline)} after the time limit")
    if reasons:
        return Item("time", FAIL, tuple(reasons))
    return Item("time", PASS, ("within the SLA and the time limit",))


def _minutes(delta) -> str:
    return f"{delta.total_seconds() / 60:.0f} min"


def _c2(g: GradeInput) -> Item:
    missing = []
    if not g.acknowledged:
        missing.append("the ticket was never acknowledged")
    if "diagnosis" not in g.note_kinds:
        missing.append("no diagnosis note")
    if "action" not in g.note_kinds:
        missing.append("no action note")
    if g.ticket_state == "resolved" and not g.resolution.strip():
        missing.append("the resolution is empty")
    if g.ticket_state == "escalated" and not all((g.escalation.get(k) or "").strip() for k in ("observed", "tried", "reason")):
        missing.append("the escalation lacks what was observed, tried, or why")
    if g.ticket_state not in ("resolved", "escalated"):
        if g.session_open:
            return Item("C2", PENDING, tuple(missing) or ("the ticket is still open",))
        missing.append("neither a resolution nor an escalation")
    if missing:
        return Item("C2", FAIL, tuple(missing))
    return Item("C2", PASS, ("acknowledged, diagnosis and actions noted, " +
                             ("resolution" if g.ticket_state == "resolved" else "escalation") + " filled in",))


def _c3(g: GradeInput) -> Item:
    if not g.check_status:
        return Item("C3", PENDING if g.session_open else NOT_JUDGED, ("no post-check recorded yet",))
    statuses = {k: g.groups.get(k, "unknown") for k in ("integrity", "security")}
    failed = [k for k, v in statuses.items() if v == FAIL]
    if failed:
        return Item("C3", FAIL, tuple(f"{k} checks fail" for k in failed))
    unknown = [k for k, v in statuses.items() if v != PASS]
    if unknown:
        return Item("C3", NOT_JUDGED, tuple(f"{k} checks reached no verdict" for k in unknown))
    return Item("C3", PASS, ("integrity and security checks pass",))


def _combine(*statuses: str) -> str:
    if FAIL in statuses:
        return FAIL
    if PENDING in statuses:
        return PENDING
    if all(s == PASS for s in statuses):
        return PASS
    return NOT_JUDGED


def _override(item: Item, key: str, inst: dict[str, Any]) -> Item:
    value = inst.get(key)
    if value in (PASS, FAIL):
        comment = inst.get("comment") or ""
        why = (f"instructor: {value}" + (f" ({comment})" if comment else ""),)
        return Item(item.id, value, why + tuple(f"labctl said {item.status}: {r}" for r in item.reasons), "instructor")
    return item


def grade(g: GradeInput) -> SeatGrade:
    result = _result(g)
    time = _time(g)
    c1 = Item("C1", _combine(result.status, time.status), result.reasons + time.reasons)
    c2 = _c2(g)
    c3 = _c3(g)
    c4 = Item("C4", PENDING if g.session_open else NOT_JUDGED, ("communication is judged by the instructor",))
    inst = g.instructor or {}
    c1, c2, c3, c4 = (_override(c, c.id.lower(), inst) for c in (c1, c2, c3, c4))
    overall = _combine(c1.status, c2.status, c3.status, c4.status)
    return SeatGrade(result=result, time=time, c1=c1, c2=c2, c3=c3, c4=c4, overall=overall,
                     comment=inst.get("comment") or "")
