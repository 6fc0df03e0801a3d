"""Sessions: a class running a scenario - roster in, broken seats and tickets out, grades back.

``Sessions`` is the one object the CLI, the web app and ``bench/`` hold: a thin facade
that hands each call to the part that does it (``pipeline``: plan, create, resume,
reset a seat; ``tickets``; ``access``: codes and what trainees reach; ``classroom``:
status, checks, time, close, destroy; ``gradebook``: grades and the report's data).
The collaborators and the database live in ``core.SessionsCore``, which every part
shares; the SQL lives in ``repo.py``; what is asked of seats and faults, in ``ports.py``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from ..config import Config
from .access import Access
from .classroom import Classroom, SeatStatus
from .core import SessionsCore, find_seat
from .db import Database
from .gradebook import Gradebook, SeatReport
from .grading import SeatGrade
from .model import SeatRow, SessionRow, TicketView, TraineeRow
from .pipeline import CreateResult, Pipeline
from .ports import FaultCatalog, FaultService, Progress, SeatService
from .repo import SessionRepo
from .tickets import Tickets

__all__ = ["CreateResult", "SeatReport", "SeatStatus", "Sessions"]


class Sessions(SessionsCore):
    """The session library; the CLI and the web interface are thin layers over it."""

    def __init__(self, cfg: Config, *, seats: SeatService | None = None, engine: FaultService | None = None,
                 catalog: FaultCatalog | None = None, db: Database | None = None, scenarios_dir: Path | None = None):
        super().__init__(cfg, seats=seats, engine=engine, catalog=catalog, db=db, scenarios_dir=scenarios_dir)
        self._access = Access(self)
        self._classroom = Classroom(self)
        self._tickets = Tickets(self)
        self._gradebook = Gradebook(self)
        self._pipeline = Pipeline(self, self._classroom, self._access)

    # -- reading (``get`` is SessionsCore's) ------------------------------------------------------
    def list(self) -> list[tuple[SessionRow, int, int]]:
        """Every session with its number of seats and trainees."""
        return self._classroom.list()

    def events(self, name: str) -> list[dict[str, str]]:
        return self._classroom.events(name)

    def _seat(self, conn: sqlite3.Connection, s: SessionRow, ref: str) -> SeatRow:
        return find_seat(SessionRepo(conn), s, ref)

    # -- create / resume ------------------------------------------------------------------------
    def plan(self, name: str, roster_file: Path | str, scenario: str, *, seed: int | None = None) -> SessionRow:
        return self._pipeline.plan(name, roster_file, scenario, seed=seed)

    def create(self, name: str, roster_file: Path | str, scenario: str, *, seed: int | None = None,
               parallel: int | None = None, progress: Progress | None = None) -> CreateResult:
        return self._pipeline.create(name, roster_file, scenario, seed=seed, parallel=parallel, progress=progress)

    def prepare(self, name: str, roster_file: Path | str, scenario: str, *, seed: int | None = None,
                parallel: int | None = None, progress: Progress | None = None):
        return self._pipeline.prepare(name, roster_file, scenario, seed=seed, parallel=parallel, progress=progress)

    def resume(self, name: str, *, parallel: int | None = None, progress: Progress | None = None) -> CreateResult:
        return self._pipeline.resume(name, parallel=parallel, progress=progress)

    def reset_seat(self, name: str, seat_ref: str, *, new_fault: bool = False,
                   progress: Progress | None = None) -> SeatStatus:
        return self._pipeline.reset_seat(name, seat_ref, new_fault=new_fault, progress=progress)

    def _redraw(self, s: SessionRow, seat: SeatRow, others: set[tuple[str, str]], redraws: int):
        return self._pipeline._redraw(s, seat, others, redraws)

    # -- access codes ------------------------------------------------------------------------------
    def issue_codes(self, name: str, trainee: str | None = None) -> dict[str, str]:
        return self._access.issue_codes(name, trainee)

    def verify_code(self, name: str, code: str) -> tuple[TraineeRow, str] | None:
        return self._access.verify_code(name, code)

    def trainee(self, name: str, trainee: str) -> tuple[TraineeRow, str] | None:
        return self._access.trainee(name, trainee)

    def access(self, name: str, seat_ref: str) -> dict[str, Any]:
        return self._access.access(name, seat_ref)

    def console(self, name: str, seat_ref: str) -> dict[str, Any]:
        return self._access.console(name, seat_ref)

    # -- status, checks, the class's clock ---------------------------------------------------------
    def status(self, name: str) -> list[SeatStatus]:
        return self._classroom.status(name)

    def check(self, name: str, seat_refs: list[str] | None = None, *, parallel: int | None = None) -> dict[str, Any]:
        return self._classroom.check(name, seat_refs, parallel=parallel)

    def extend(self, name: str, minutes: int, seat_ref: str | None = None) -> SessionRow:
        return self._classroom.extend(name, minutes, seat_ref)

    def close(self, name: str) -> SessionRow:
        return self._classroom.close(name)

    def destroy(self, name: str, *, purge: bool = False, progress: Progress | None = None) -> list[str]:
        return self._classroom.destroy(name, purge=purge, progress=progress)

    # -- tickets (the simulated ticket tool) -----------------------------------------------------
    def ticket(self, name: str, seat_ref: str) -> TicketView:
        return self._tickets.ticket(name, seat_ref)

    def acknowledge(self, name: str, seat_ref: str, *, by: str = "trainee") -> TicketView:
        return self._tickets.acknowledge(name, seat_ref, by=by)

    def note(self, name: str, seat_ref: str, kind: str, text: str, *, by: str = "trainee") -> TicketView:
        return self._tickets.note(name, seat_ref, kind, text, by=by)

    def escalate(self, name: str, seat_ref: str, *, observed: str, tried: str, reason: str,
                 by: str = "trainee") -> TicketView:
        return self._tickets.escalate(name, seat_ref, observed=observed, tried=tried, reason=reason, by=by)

    def resolve(self, name: str, seat_ref: str, *, resolution: str, by: str = "trainee") -> TicketView:
        return self._tickets.resolve(name, seat_ref, resolution=resolution, by=by)

    def reopen(self, name: str, seat_ref: str, *, reason: str, by: str = "instructor") -> TicketView:
        return self._tickets.reopen(name, seat_ref, reason=reason, by=by)

    # -- grading and reports -----------------------------------------------------------------------
    def set_grade(self, name: str, seat_ref: str, *, by: str = "instructor", comment: str | None = None,
                  **criteria: str | None) -> SeatGrade:
        return self._gradebook.set_grade(name, seat_ref, by=by, comment=comment, **criteria)

    def grade(self, name: str, seat_ref: str) -> SeatGrade:
        return self._gradebook.grade(name, seat_ref)

    def report(self, name: str) -> tuple[SessionRow, list[SeatReport]]:
        """Everything a report shows, as data."""
        return self._gradebook.report(name)
