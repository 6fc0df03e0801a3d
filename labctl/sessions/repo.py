"""Every SQL statement of the sessions code, behind one small repository class.

A ``SessionRepo`` wraps one connection from ``db.py`` (a read or a ``BEGIN IMMEDIATE``
write transaction: the caller opens it and decides what runs inside), and turns rows
into the frozen dataclasses of ``model.py``. It holds no rules: which session may
change, what a seat reference means, when a ticket is made, all live in the business
modules, which hold no SQL.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from typing import Any, Iterator

from .db import Database, now
from .model import CheckRow, SeatRow, SessionRow, TicketEvent, TicketRow, TraineeRow


class SessionRepo:
    """The sessions database's tables, over one open connection."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    # -- sessions --------------------------------------------------------------------------
    def session(self, name: str) -> SessionRow | None:
        row = self.conn.execute("SELECT * FROM sessions WHERE name = ?", (name,)).fetchone()
        return SessionRow.of(row) if row is not None else None

    def session_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM sessions ORDER BY created")]

    def session_exists(self, name: str) -> bool:
        return bool(self.conn.execute("SELECT 1 FROM sessions WHERE name = ?", (name,)).fetchone())

    def sessions_with_counts(self) -> list[tuple[SessionRow, int, int]]:
        """Every session with its number of seats and trainees."""
        rows = self.conn.execute("SELECT * FROM sessions ORDER BY created").fetchall()
        out = []
        for r in rows:
            n_seats = self.conn.execute("SELECT COUNT(*) FROM seats WHERE session_id = ?", (r["id"],)).fetchone()[0]
            n_tr = self.conn.execute("SELECT COUNT(*) FROM trainees WHERE session_id = ?", (r["id"],)).fetchone()[0]
            out.append((SessionRow.of(r), n_seats, n_tr))
        return out

    def add_session(self, name: str, scenario: str, scenario_json: str, mode: str, lang: str, seed: int,
                    roster_file: str, created: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO sessions (name, scenario, scenario_json, mode, lang, seed, roster_file, state, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'creating', ?)",
            (name, scenario, scenario_json, mode, lang, seed, roster_file, created))
        return cur.lastrowid

    def open_session(self, session_id: int, stamp: str) -> None:
        """The session starts: its state, and the opening time of every ticket not opened yet."""
        self.conn.execute("UPDATE sessions SET state = 'open', started = ? WHERE id = ?", (stamp, session_id))
        self.conn.execute("UPDATE tickets SET opened = ? WHERE opened IS NULL AND seat_id IN "
                          "(SELECT id FROM seats WHERE session_id = ?)", (stamp, session_id))

    def extend_session(self, session_id: int, minutes: int) -> None:
        self.conn.execute("UPDATE sessions SET extra_min = extra_min + ? WHERE id = ?", (minutes, session_id))

    def close_session(self, session_id: int) -> None:
        self.conn.execute("UPDATE sessions SET state = 'closed', closed = ? WHERE id = ?", (now(), session_id))

    def mark_destroyed(self, session_id: int) -> None:
        self.conn.execute("UPDATE sessions SET state = 'destroyed', closed = COALESCE(closed, ?) WHERE id = ?",
                          (now(), session_id))

    def purge_session(self, session_id: int) -> None:
        self.conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    # -- seats -------------------------------------------------------------------------------
    def seats(self, session_id: int) -> list[SeatRow]:
        return [SeatRow.of(r) for r in self.conn.execute("SELECT * FROM seats WHERE session_id = ? ORDER BY idx",
                                                         (session_id,))]

    def seat_by_id(self, seat_id: int) -> SeatRow:
        return SeatRow.of(self.conn.execute("SELECT * FROM seats WHERE id = ?", (seat_id,)).fetchone())

    def seat_named(self, session_id: int, name: str) -> SeatRow | None:
        row = self.conn.execute("SELECT * FROM seats WHERE session_id = ? AND name = ?", (session_id, name)).fetchone()
        return SeatRow.of(row) if row is not None else None

    def seat_of_trainee(self, session_id: int, trainee: str) -> SeatRow | None:
        """The seat of the trainee of that name, any case."""
        row = self.conn.execute("SELECT seats.* FROM seats JOIN trainees ON trainees.seat_id = seats.id "
                                "WHERE seats.session_id = ? AND lower(trainees.name) = lower(?)",
                                (session_id, trainee)).fetchone()
        return SeatRow.of(row) if row is not None else None

    def add_seat(self, session_id: int, name: str, idx: int, fault: str, variant: str, seed: int,
                 updated: str) -> int:
        return self.conn.execute(
            "INSERT INTO seats (session_id, name, idx, fault, variant, seed, progress, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, 'planned', ?)",
            (session_id, name, idx, fault, variant, seed, updated)).lastrowid

    def set_progress(self, seat_id: int, step: str, error: str) -> None:
        self.conn.execute("UPDATE seats SET progress = ?, error = ?, updated = ? WHERE id = ?",
                          (step, error, now(), seat_id))

    def set_seat_error(self, seat_id: int, error: str) -> None:
        self.conn.execute("UPDATE seats SET error = ?, updated = ? WHERE id = ?", (error, now(), seat_id))

    def set_seat_fault(self, seat_id: int, fault: str, variant: str, seed: int) -> None:
        self.conn.execute("UPDATE seats SET fault = ?, variant = ?, seed = ? WHERE id = ?",
                          (fault, variant, seed, seat_id))

    def extend_seat(self, seat_id: int, minutes: int) -> None:
        self.conn.execute("UPDATE seats SET extra_min = extra_min + ? WHERE id = ?", (minutes, seat_id))

    # -- trainees ----------------------------------------------------------------------------
    def add_trainee(self, session_id: int, seat_id: int, name: str, email: str, pair: str, line: int) -> None:
        self.conn.execute("INSERT INTO trainees (session_id, seat_id, name, email, pair, line) "
                          "VALUES (?, ?, ?, ?, ?, ?)", (session_id, seat_id, name, email, pair, line))

    def trainees(self, seat_id: int) -> list[TraineeRow]:
        return [TraineeRow.of(r) for r in self.conn.execute("SELECT * FROM trainees WHERE seat_id = ? ORDER BY line",
                                                            (seat_id,))]

    def trainee_names(self, session_id: int) -> list[str]:
        return [t for (t,) in self.conn.execute("SELECT name FROM trainees WHERE session_id = ?", (session_id,))]

    def code_holders(self, session_id: int, trainee: str | None = None) -> list[tuple[int, str, str]]:
        """(id, name, code hash) of the session's trainees, or of the one named (any case), in roster order."""
        sql = "SELECT id, name, code_hash FROM trainees WHERE session_id = ?"
        args: list[Any] = [session_id]
        if trainee:
            sql += " AND lower(name) = lower(?)"
            args.append(trainee)
        return [(r["id"], r["name"], r["code_hash"]) for r in self.conn.execute(sql + " ORDER BY line", args)]

    def set_code_hash(self, trainee_id: int, code_hash: str) -> None:
        self.conn.execute("UPDATE trainees SET code_hash = ?, code_set = ? WHERE id = ?",
                          (code_hash, now(), trainee_id))

    def trainees_with_seats(self, session_id: int) -> list[tuple[TraineeRow, str, str]]:
        """Every trainee of the session with their seat's name and their code hash."""
        return [(TraineeRow.of(r), r["seat"], r["code_hash"])
                for r in self.conn.execute("SELECT trainees.*, seats.name AS seat FROM trainees JOIN seats "
                                           "ON seats.id = trainees.seat_id WHERE trainees.session_id = ?",
                                           (session_id,))]

    def trainee_with_seat(self, session_id: int, trainee: str) -> tuple[TraineeRow, str] | None:
        """The trainee of exactly that name, and their seat's name."""
        r = self.conn.execute("SELECT trainees.*, seats.name AS seat FROM trainees JOIN seats ON seats.id = "
                              "trainees.seat_id WHERE trainees.session_id = ? AND trainees.name = ?",
                              (session_id, trainee)).fetchone()
        return (TraineeRow.of(r), r["seat"]) if r is not None else None

    # -- tickets -----------------------------------------------------------------------------
    def ticket(self, seat_id: int) -> TicketRow | None:
        row = self.conn.execute("SELECT * FROM tickets WHERE seat_id = ?", (seat_id,)).fetchone()
        return TicketRow.of(row) if row else None

    def add_ticket(self, seat_id: int, number: str, fault: str, lang: str, subject: str, body: str, impact: str,
                   urgency: str, priority: str, asset_json: str, opened: str | None) -> None:
        self.conn.execute(
            "INSERT INTO tickets (seat_id, number, fault, lang, subject, body, impact, urgency, priority, "
            "asset_json, state, opened) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?)",
            (seat_id, number, fault, lang, subject, body, impact, urgency, priority, asset_json, opened))

    def acknowledge_ticket(self, ticket_id: int) -> None:
        self.conn.execute("UPDATE tickets SET state = 'acknowledged', acknowledged = COALESCE(acknowledged, ?) "
                          "WHERE id = ?", (now(), ticket_id))

    def escalate_ticket(self, ticket_id: int, escalation_json: str) -> None:
        self.conn.execute("UPDATE tickets SET state = 'escalated', closed = ?, escalation_json = ?, "
                          "outcome = 'escalated', acknowledged = acknowledged WHERE id = ?",
                          (now(), escalation_json, ticket_id))

    def resolve_ticket(self, ticket_id: int, resolution: str, outcome: str) -> None:
        self.conn.execute("UPDATE tickets SET state = 'resolved', closed = ?, resolution = ?, outcome = ? WHERE id = ?",
                          (now(), resolution, outcome, ticket_id))

    def reopen_ticket(self, ticket_id: int) -> None:
        self.conn.execute("UPDATE tickets SET state = 'reopened', closed = NULL, outcome = '' WHERE id = ?",
                          (ticket_id,))

    def replace_ticket(self, ticket_id: int, fault: str, lang: str, subject: str, body: str, impact: str,
                       urgency: str, priority: str, opened: str) -> None:
        """The ticket names a new problem: same number and history, back to new."""
        self.conn.execute("UPDATE tickets SET fault = ?, lang = ?, subject = ?, body = ?, impact = ?, "
                          "urgency = ?, priority = ?, state = 'new', opened = ?, acknowledged = NULL, "
                          "closed = NULL, resolution = '', escalation_json = '', outcome = '' WHERE id = ?",
                          (fault, lang, subject, body, impact, urgency, priority, opened, ticket_id))

    def add_ticket_event(self, ticket_id: int, actor: str, kind: str, note_kind: str, text: str,
                         data_json: str) -> None:
        self.conn.execute("INSERT INTO ticket_events (ticket_id, at, actor, kind, note_kind, text, data_json) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?)",
                          (ticket_id, now(), actor, kind, note_kind, text, data_json))

    def add_opened_event(self, ticket_id: int, stamp: str, subject: str) -> None:
        self.conn.execute("INSERT INTO ticket_events (ticket_id, at, actor, kind, text) "
                          "VALUES (?, ?, 'labctl', 'opened', ?)", (ticket_id, stamp, subject))

    def ticket_events(self, ticket_id: int) -> list[TicketEvent]:
        return [TicketEvent.of(r) for r in self.conn.execute(
            "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY id", (ticket_id,))]

    def note_kinds(self, ticket_id: int) -> tuple[str, ...]:
        return tuple(r[0] for r in self.conn.execute("SELECT note_kind FROM ticket_events WHERE ticket_id = ? "
                                                     "AND kind = 'note'", (ticket_id,)))

    # -- checks and grades ---------------------------------------------------------------------
    def last_check(self, seat_id: int, ticket_only: bool = False) -> CheckRow | None:
        sql = "SELECT * FROM check_results WHERE seat_id = ?"
        if ticket_only:
            sql += " AND ticket_id IS NOT NULL"
        row = self.conn.execute(sql + " ORDER BY id DESC LIMIT 1", (seat_id,)).fetchone()
        return CheckRow.of(row) if row else None

    def add_check(self, seat_id: int, ticket_id: int | None, trigger: str, status: str, functional: str,
                  integrity: str, security: str, report_json: str) -> None:
        self.conn.execute("INSERT INTO check_results (seat_id, ticket_id, at, trigger, status, functional, integrity, "
                          "security, report_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          (seat_id, ticket_id, now(), trigger, status, functional, integrity, security, report_json))

    def grade_inputs(self, seat_id: int) -> dict[str, Any]:
        """The instructor's grading inputs for a seat ({} when none were given)."""
        row = self.conn.execute("SELECT inputs_json FROM grades WHERE seat_id = ?", (seat_id,)).fetchone()
        return json.loads(row[0]) if row else {}

    def set_grade_inputs(self, seat_id: int, inputs_json: str, by: str) -> None:
        self.conn.execute("INSERT INTO grades (seat_id, inputs_json, updated, by) VALUES (?, ?, ?, ?) "
                          "ON CONFLICT(seat_id) DO UPDATE SET inputs_json = excluded.inputs_json, "
                          "updated = excluded.updated, by = excluded.by", (seat_id, inputs_json, now(), by))

    # -- the event log -------------------------------------------------------------------------
    def add_event(self, session_id: int, kind: str, message: str, seat: str = "") -> None:
        self.conn.execute("INSERT INTO events (session_id, seat, at, kind, message) VALUES (?, ?, ?, ?, ?)",
                          (session_id, seat, now(), kind, message))

    def events(self, session_id: int) -> list[dict[str, str]]:
        return [dict(r) for r in self.conn.execute("SELECT seat, at, kind, message FROM events WHERE session_id = ? "
                                                   "ORDER BY id", (session_id,))]

    def count_events(self, session_id: int, seat: str, kind: str) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM events WHERE session_id = ? AND seat = ? AND kind = ?",
                                 (session_id, seat, kind)).fetchone()[0]


@contextmanager
def reading(db: Database) -> Iterator[SessionRepo]:
    """A read transaction, as a repository."""
    with db.read() as conn:
        yield SessionRepo(conn)


@contextmanager
def writing(db: Database) -> Iterator[SessionRepo]:
    """A short ``BEGIN IMMEDIATE`` write transaction, as a repository: nothing slow runs inside."""
    with db.write() as conn:
        yield SessionRepo(conn)
