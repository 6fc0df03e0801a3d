"""What the sessions database holds, as frozen dataclasses (rows never travel as dicts)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..errors import LabError
from .db import parse_time
from .scenario import Scenario

PROGRESS = ("planned", "seat-created", "injected", "ticket-issued")
NOTE_KINDS = ("diagnosis", "action", "communication")


class SessionError(LabError):
    """An action the session's or the ticket's state does not allow (resolve a closed ticket, ...)."""

    exit_code = 12


@dataclass(frozen=True)
class SessionRow:
    id: int
    name: str
    scenario: Scenario
    mode: str
    lang: str
    seed: int
    roster_file: str
    state: str
    created: str
    started: str | None
    closed: str | None
    extra_min: int

    @classmethod
    def of(cls, r: sqlite3.Row) -> "SessionRow":
        return cls(id=r["id"], name=r["name"], scenario=Scenario.from_dict(json.loads(r["scenario_json"])),
                   mode=r["mode"], lang=r["lang"], seed=r["seed"], roster_file=r["roster_file"], state=r["state"],
                   created=r["created"], started=r["started"], closed=r["closed"], extra_min=r["extra_min"])

    def deadline(self, seat_extra_min: int = 0) -> datetime | None:
        start = parse_time(self.started)
        if start is None:
            return None
        return start + timedelta(minutes=self.scenario.time_limit_min + self.extra_min + seat_extra_min)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "scenario": self.scenario.name, "title": self.scenario.title, "mode": self.mode,
                "language": self.lang, "seed": self.seed, "roster": self.roster_file, "state": self.state,
                "created": self.created, "started": self.started, "closed": self.closed,
                "time_limit_min": self.scenario.time_limit_min, "extra_min": self.extra_min,
                "deadline": _iso(self.deadline())}


@dataclass(frozen=True)
class SeatRow:
    id: int
    session_id: int
    name: str
    idx: int
    fault: str
    variant: str
    seed: int
    progress: str
    error: str
    extra_min: int

    @classmethod
    def of(cls, r: sqlite3.Row) -> "SeatRow":
        return cls(id=r["id"], session_id=r["session_id"], name=r["name"], idx=r["idx"], fault=r["fault"],
                   variant=r["variant"], seed=r["seed"], progress=r["progress"], error=r["error"],
                   extra_min=r["extra_min"])

    def reached(self, step: str) -> bool:
        return PROGRESS.index(self.progress) >= PROGRESS.index(step)


@dataclass(frozen=True)
class TraineeRow:
    id: int
    seat_id: int
    name: str
    email: str
    pair: str
    line: int
    has_code: bool
    code_set: str | None = None  # when the current access code was made (a new code ends older logins)

    @classmethod
    def of(cls, r: sqlite3.Row) -> "TraineeRow":
        return cls(id=r["id"], seat_id=r["seat_id"], name=r["name"], email=r["email"], pair=r["pair"],
                   line=r["line"], has_code=bool(r["code_hash"]), code_set=r["code_set"])


@dataclass(frozen=True)
class TicketEvent:
    at: str
    actor: str
    kind: str  # opened | acknowledged | note | escalated | resolved | reopened | checked
    note_kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, r: sqlite3.Row) -> "TicketEvent":
        return cls(at=r["at"], actor=r["actor"], kind=r["kind"], note_kind=r["note_kind"], text=r["text"],
                   data=json.loads(r["data_json"]) if r["data_json"] else {})

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "actor": self.actor, "kind": self.kind, "note_kind": self.note_kind,
                "text": self.text, "data": self.data}


@dataclass(frozen=True)
class TicketRow:
    id: int
    seat_id: int
    number: str
    fault: str
    lang: str
    subject: str
    body: str
    impact: str
    urgency: str
    priority: str
    asset: dict[str, Any]
    state: str
    opened: str | None
    acknowledged: str | None
    closed: str | None
    resolution: str
    escalation: dict[str, str]
    outcome: str

    @classmethod
    def of(cls, r: sqlite3.Row) -> "TicketRow":
        return cls(id=r["id"], seat_id=r["seat_id"], number=r["number"], fault=r["fault"], lang=r["lang"],
                   subject=r["subject"], body=r["body"], impact=r["impact"], urgency=r["urgency"],
                   priority=r["priority"], asset=json.loads(r["asset_json"]), state=r["state"], opened=r["opened"],
                   acknowledged=r["acknowledged"], closed=r["closed"], resolution=r["resolution"],
                   escalation=json.loads(r["escalation_json"]) if r["escalation_json"] else {},
                   outcome=r["outcome"])

    @property
    def is_closed(self) -> bool:
        return self.state in ("resolved", "escalated")


@dataclass(frozen=True)
class CheckRow:
    at: str
    trigger: str
    status: str
    groups: dict[str, str]
    report: dict[str, Any]

    @classmethod
    def of(cls, r: sqlite3.Row) -> "CheckRow":
        return cls(at=r["at"], trigger=r["trigger"], status=r["status"],
                   groups={"functional": r["functional"], "integrity": r["integrity"], "security": r["security"]},
                   report=json.loads(r["report_json"]))


@dataclass(frozen=True)
class TicketView:
    """A ticket as the ticket tool shows it: the work order, its SLA clock and its history."""

    session: str
    seat: str
    ticket: TicketRow
    due: datetime | None
    deadline: datetime | None
    events: tuple[TicketEvent, ...]
    trainees: tuple[str, ...]
    mode: str

    def as_dict(self) -> dict[str, Any]:
        t = self.ticket
        return {"session": self.session, "seat": self.seat, "number": t.number, "subject": t.subject,
                "body": t.body, "lang": t.lang, "impact": t.impact, "urgency": t.urgency, "priority": t.priority,
                "asset": t.asset, "state": t.state, "opened": t.opened, "acknowledged": t.acknowledged,
                "closed": t.closed, "due": _iso(self.due), "deadline": _iso(self.deadline),
                "resolution": t.resolution, "escalation": t.escalation, "outcome": t.outcome,
                "trainees": list(self.trainees), "mode": self.mode,
                "history": [e.as_dict() for e in self.events]}


def _iso(d: datetime | None) -> str | None:
    return d.isoformat(timespec="seconds") if d else None
