"""The sessions database: SQLite in the state directory, shared by the CLI and the web process.

WAL journal (readers never block the writer), foreign keys, ``synchronous=FULL``
(a crash loses nothing that was committed), a busy timeout, and short
``BEGIN IMMEDIATE`` transactions: nothing slow (a check, an injection) ever runs
inside one. The schema grows by ordered migrations recorded in ``schema_version``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ..errors import HostError

BUSY_TIMEOUT_S = 30.0

# Ordered migrations: (version, SQL). Append; never edit one that shipped.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, """
CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    scenario      TEXT NOT NULL,
    scenario_json TEXT NOT NULL,
    mode          TEXT NOT NULL CHECK (mode IN ('remote', 'phone')),
    lang          TEXT NOT NULL,
    seed          INTEGER NOT NULL,
    roster_file   TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('creating', 'open', 'closed', 'destroyed')),
    created       TEXT NOT NULL,
    started       TEXT,
    closed        TEXT,
    extra_min     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE seats (
    id         INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    name       TEXT NOT NULL UNIQUE,
    idx        INTEGER NOT NULL,
    fault      TEXT NOT NULL,
    variant    TEXT NOT NULL,
    seed       INTEGER NOT NULL,
    progress   TEXT NOT NULL CHECK (progress IN ('planned', 'seat-created', 'injected', 'ticket-issued')),
    error      TEXT NOT NULL DEFAULT '',
    extra_min  INTEGER NOT NULL DEFAULT 0,
    updated    TEXT NOT NULL,
    UNIQUE (session_id, idx)
);
CREATE TABLE trainees (
    id         INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seat_id    INTEGER NOT NULL REFERENCES seats(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL DEFAULT '',
    pair       TEXT NOT NULL DEFAULT '',
    line       INTEGER NOT NULL,
    code_hash  TEXT NOT NULL DEFAULT '',
    code_set   TEXT,
    UNIQUE (session_id, name)
);
CREATE TABLE tickets (
    id           INTEGER PRIMARY KEY,
    seat_id      INTEGER NOT NULL UNIQUE REFERENCES seats(id) ON DELETE CASCADE,
    number       TEXT NOT NULL UNIQUE,
    fault        TEXT NOT NULL,
    lang         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    body         TEXT NOT NULL,
    impact       TEXT NOT NULL,
    urgency      TEXT NOT NULL,
    priority     TEXT NOT NULL,
    asset_json   TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('new', 'acknowledged', 'escalated', 'resolved', 'reopened')),
    opened       TEXT,
    acknowledged TEXT,
    closed       TEXT,
    resolution   TEXT NOT NULL DEFAULT '',
    escalation_json TEXT NOT NULL DEFAULT '',
    outcome      TEXT NOT NULL DEFAULT '' CHECK (outcome IN ('', 'passed', 'failed', 'unknown', 'escalated'))
);
CREATE TABLE ticket_events (
    id        INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    note_kind TEXT NOT NULL DEFAULT '',
    text      TEXT NOT NULL DEFAULT '',
    data_json TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id, id);
CREATE TABLE check_results (
    id         INTEGER PRIMARY KEY,
    seat_id    INTEGER NOT NULL REFERENCES seats(id) ON DELETE CASCADE,
    ticket_id  INTEGER REFERENCES tickets(id) ON DELETE CASCADE,
    at         TEXT NOT NULL,
    trigger    TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'unknown')),
    functional TEXT NOT NULL,
    integrity  TEXT NOT NULL,
    security   TEXT NOT NULL,
    report_json TEXT NOT NULL
);
CREATE INDEX check_results_seat ON check_results(seat_id, id);
CREATE TABLE grades (
    seat_id  INTEGER PRIMARY KEY REFERENCES seats(id) ON DELETE CASCADE,
    inputs_json TEXT NOT NULL,
    updated  TEXT NOT NULL,
    by       TEXT NOT NULL
);
CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seat       TEXT NOT NULL DEFAULT '',
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    message    TEXT NOT NULL
);
CREATE INDEX events_session ON events(session_id, id);
"""),
)

LATEST = MIGRATIONS[-1][0]


def now() -> str:
    """UTC, ISO 8601 with milliseconds: sorts as text, reads as time."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class Database:
    """One SQLite file; a connection per call keeps threads and processes apart."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._migrated = False

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise HostError(f"cannot open the sessions database {self.path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self._retry(lambda: conn.execute("PRAGMA journal_mode = WAL"))
        return conn

    @staticmethod
    def _retry(fn, tries: int = 50):
        for i in range(tries):
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or i == tries - 1:
                    raise
                time.sleep(0.1)

    def migrate(self) -> int:
        """Bring the schema to the latest version; returns the version."""
        conn = self._connect()
        try:
            self._retry(lambda: conn.execute("BEGIN IMMEDIATE"))
            try:
                conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)")
                current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
                if current > LATEST:
                    raise HostError(f"{self.path}: schema version {current} is newer than this labctl knows ({LATEST})",
                                    hint="upgrade labctl")
                for version, sql in MIGRATIONS:
                    if version > current:
                        for stmt in sql.split(";\n"):
                            if stmt.strip():
                                conn.execute(stmt)
                        conn.execute("INSERT INTO schema_version (version, applied) VALUES (?, ?)", (version, now()))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()
        if os.geteuid() == 0:
            for suffix in ("", "-wal", "-shm"):
                # The -wal and -shm files come and go with other processes' connections.
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(str(self.path) + suffix, 0o600)
        self._migrated = True
        return LATEST

    def version(self) -> int:
        with self.read() as conn:
            try:
                return conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            except sqlite3.OperationalError:
                return 0

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction (BEGIN IMMEDIATE: the write lock is taken up front, no upgrade deadlock)."""
        if not self._migrated:
            self.migrate()
        conn = self._connect()
        try:
            self._retry(lambda: conn.execute("BEGIN IMMEDIATE"))
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        if not self._migrated:
            self.migrate()
        conn = self._connect()
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        finally:
            conn.close()
