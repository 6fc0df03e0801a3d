"""What every part of a session shares: the collaborators, the database, and the lookups and rules they all apply.

``SessionsCore`` is the base of the ``Sessions`` facade, and the parts (the creation
pipeline, tickets, access codes, the running class, grades) each hold it: so a
collaborator handed in, made when first needed, or swapped afterwards (``bench/``
sets ``_engine``) is the one every part uses.
"""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path

from ..config import Config
from ..errors import ConfigError, NotFoundError
from .db import Database, parse_time
from .model import SeatRow, SessionError, SessionRow, TicketRow
from .ports import FaultCatalog, FaultService, SeatService
from .repo import SessionRepo, reading, writing

SESSION_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
MAX_SESSION_NAME = 27  # seats are <session>-NN and a seat name has at most 31 characters


def validate_session_name(name: str) -> str:
    if not SESSION_RE.match(name or "") or len(name) > MAX_SESSION_NAME:
        raise ConfigError(f"session name {name!r} is not valid",
                          hint=f"use up to {MAX_SESSION_NAME} lower-case letters, digits and single '-', "
                               "starting with a letter (e.g. tai-2024-03)")
    return name


def seat_name(session: str, idx: int) -> str:
    return f"{session}-{idx:02d}"


def find_session(r: SessionRepo, name: str) -> SessionRow:
    s = r.session(name)
    if s is None:
        raise NotFoundError(f"no session named '{name}'",
                            hint="sessions: " + (", ".join(r.session_names()) or "none (labctl session create)"))
    return s


def find_seat(r: SessionRepo, s: SessionRow, ref: str) -> SeatRow:
    """A seat by name, by number (``2`` is ``<session>-02``) or by the name of one of its trainees."""
    names = [ref]
    if ref.isdigit():
        names.append(seat_name(s.name, int(ref)))
    for n in names:
        seat = r.seat_named(s.id, n)
        if seat is not None:
            return seat
    seat = r.seat_of_trainee(s.id, ref)
    if seat is not None:
        return seat
    known = [x.name for x in r.seats(s.id)]
    raise NotFoundError(f"session '{s.name}' has no seat '{ref}'", hint="seats: " + ", ".join(known))


def writable(s: SessionRow, instructor: bool = False) -> None:
    """Tickets change only while the session is open."""
    if s.state == "open":
        return
    if s.state == "creating":
        raise SessionError(f"session '{s.name}' is still being created",
                           hint=f"finish it: labctl session resume {s.name}")
    raise SessionError(f"session '{s.name}' is {s.state}; its tickets can no longer change")


def due(s: SessionRow, seat: SeatRow, t: TicketRow | None) -> datetime | None:
    """When the ticket's SLA runs out: its priority's time from opening, plus every extension."""
    if t is None:
        return None
    opened = parse_time(t.opened or s.started)
    if opened is None:
        return None
    return opened + timedelta(minutes=s.scenario.sla_min[t.priority] + s.extra_min + seat.extra_min)


class SessionsCore:
    """The collaborators (made when first needed: libvirt only when a seat is touched) and the database."""

    def __init__(self, cfg: Config, *, seats: SeatService | None = None, engine: FaultService | None = None,
                 catalog: FaultCatalog | None = None, db: Database | None = None, scenarios_dir: Path | None = None):
        self.cfg = cfg
        self._seats = seats
        self._engine = engine
        self._catalog = catalog
        self.db = db or Database(cfg.state_dir / "sessions.db")
        self.scenarios_dir = Path(scenarios_dir or cfg.scenarios_dir)

    @property
    def seats(self) -> SeatService:
        if self._seats is None:
            from ..seats import SeatManager

            self._seats = SeatManager(self.cfg)
        return self._seats

    @property
    def engine(self) -> FaultService:
        if self._engine is None:
            from ..faults.engine import FaultEngine

            self._engine = FaultEngine(self.cfg, self.seats, self.catalog)
        return self._engine

    @property
    def catalog(self) -> FaultCatalog:
        if self._catalog is None:
            if self._engine is not None:
                self._catalog = self._engine.catalog
            else:
                from ..faults.manifest import Catalog

                self._catalog = Catalog(self.cfg.faults_dir)
        return self._catalog

    # -- the database, as a repository --------------------------------------------------------
    def reading(self) -> AbstractContextManager[SessionRepo]:
        return reading(self.db)

    def writing(self) -> AbstractContextManager[SessionRepo]:
        return writing(self.db)

    def get(self, name: str, conn: sqlite3.Connection | None = None) -> SessionRow:
        if conn is None:
            with self.reading() as r:
                return find_session(r, name)
        return find_session(SessionRepo(conn), name)

    # -- the machine side ------------------------------------------------------------------------
    def _machine(self, seat: str) -> str:
        """The machine's state: libvirt's (running, shut off, crashed...), or missing, or half-made."""
        try:
            info = self.seats.info(seat)
        except NotFoundError:
            return "missing"
        if info.record.state == "creating":
            return "half-made"
        return info.status

    def _run_check(self, seat: str):
        """The engine's check, unless the machine is not running: then no verdict, and why."""
        machine = self._machine(seat)
        if machine != "running":
            return None, f"the machine is {machine}"
        return self.engine.check(seat), ""

    def _needs_company(self, fault_id: str | None) -> bool:
        """A seat whose fault needs the company server is made a company seat (which starts the server)."""
        return bool(fault_id) and bool(self.catalog.get(fault_id).needs_company)


def store_check(r: SessionRepo, seat: SeatRow, ticket_id: int | None, trigger: str, report) -> None:
    """Record a check run (its overall status, each group's, and the whole report)."""
    r.add_check(seat.id, ticket_id, trigger, report.status, report.group_status("functional"),
                report.group_status("integrity"), report.group_status("security"), json.dumps(report.as_dict()))
