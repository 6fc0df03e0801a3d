"""Sessions: a class running a scenario - roster in, broken seats and tickets out, grades back.

Creation is a pipeline per seat, recorded in the database step by step
(``planned`` -> ``seat-created`` -> ``injected`` -> ``ticket-issued``), so that a
killed ``session create`` is finished by ``session resume`` (or by running the
same ``create`` again): each seat picks up at its last recorded step, and what
is already there (a seat, its fault, its ticket, the trainees' notes) is kept.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from .. import timing
from ..config import Config, default_parallel
from ..errors import AlreadyExistsError, ConfigError, LabError, NotFoundError
from .db import Database, now, parse_time
from .grading import GradeInput, SeatGrade, grade
from .model import (NOTE_KINDS, CheckRow, SeatRow, SessionError, SessionRow, TicketEvent, TicketRow,
                    TicketView, TraineeRow)
from .roster import Roster, host_capacity, parse_roster
from .scenario import Scenario, load_scenario
from .planning import plan_faults

Progress = Callable[[str], None]
SESSION_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
MAX_SESSION_NAME = 27  # seats are <session>-NN and a seat name has at most 31 characters
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
ESCALATION_FIELDS = ("observed", "tried", "reason")


def validate_session_name(name: str) -> str:
    if not SESSION_RE.match(name or "") or len(name) > MAX_SESSION_NAME:
        raise ConfigError(f"session name {name!r} is not valid",
                          hint=f"use up to {MAX_SESSION_NAME} lower-case letters, digits and single '-', "
                               "starting with a letter (e.g. tai-2024-03)")
    return name


def seat_name(session: str, idx: int) -> str:
    return f"{session}-{idx:02d}"


def new_code() -> str:
    return "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3))


def hash_code(code: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(code.strip().lower().encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_code_hash(code: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    return hmac.compare_digest(hash_code(code, bytes.fromhex(salt)), stored)


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


@dataclass(frozen=True)
class CreateResult:
    session: SessionRow
    seats: tuple[SeatStatus, ...]
    codes: dict[str, str]  # trainee name -> access code, shown once
    errors: dict[str, str]  # seat -> why it is not ready
    access: dict[str, dict[str, Any]] = field(default_factory=dict)  # seat -> what its trainees get

    @property
    def complete(self) -> bool:
        return not self.errors


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


class Sessions:
    """The session library; the CLI and the web interface are thin layers over it."""

    def __init__(self, cfg: Config, *, seats=None, engine=None, catalog=None, db: Database | None = None,
                 scenarios_dir: Path | None = None):
        self.cfg = cfg
        self._seats = seats
        self._engine = engine
        self._catalog = catalog
        self.db = db or Database(cfg.state_dir / "sessions.db")
        self.scenarios_dir = Path(scenarios_dir or cfg.scenarios_dir)

    # -- collaborators, made when first needed (libvirt only when a seat is touched) ----
    @property
    def seats(self):
        if self._seats is None:
            from ..seats import SeatManager

            self._seats = SeatManager(self.cfg)
        return self._seats

    @property
    def engine(self):
        if self._engine is None:
            from ..faults.engine import FaultEngine

            self._engine = FaultEngine(self.cfg, self.seats, self.catalog)
        return self._engine

    @property
    def catalog(self):
        if self._catalog is None:
            if self._engine is not None:
                self._catalog = self._engine.catalog
            else:
                from ..faults.manifest import Catalog

                self._catalog = Catalog(self.cfg.faults_dir)
        return self._catalog

    # -- reading ------------------------------------------------------------------------
    def get(self, name: str, conn: sqlite3.Connection | None = None) -> SessionRow:
        if conn is None:
            with self.db.read() as c:
                return self.get(name, c)
        row = conn.execute("SELECT * FROM sessions WHERE name = ?", (name,)).fetchone()
        if row is None:
            names = [r[0] for r in conn.execute("SELECT name FROM sessions ORDER BY created")]
            raise NotFoundError(f"no session named '{name}'",
                                hint="sessions: " + (", ".join(names) or "none (labctl session create)"))
        return SessionRow.of(row)

    def list(self) -> list[tuple[SessionRow, int, int]]:
        """Every session with its number of seats and trainees."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT * FROM sessions ORDER BY created").fetchall()
            out = []
            for r in rows:
                n_seats = conn.execute("SELECT COUNT(*) FROM seats WHERE session_id = ?", (r["id"],)).fetchone()[0]
                n_tr = conn.execute("SELECT COUNT(*) FROM trainees WHERE session_id = ?", (r["id"],)).fetchone()[0]
                out.append((SessionRow.of(r), n_seats, n_tr))
            return out

    def _seat_rows(self, conn, s: SessionRow) -> list[SeatRow]:
        return [SeatRow.of(r) for r in conn.execute("SELECT * FROM seats WHERE session_id = ? ORDER BY idx", (s.id,))]

    def _seat(self, conn, s: SessionRow, ref: str) -> SeatRow:
        names = [ref]
        if ref.isdigit():
            names.append(seat_name(s.name, int(ref)))
        for n in names:
            row = conn.execute("SELECT * FROM seats WHERE session_id = ? AND name = ?", (s.id, n)).fetchone()
            if row is not None:
                return SeatRow.of(row)
        row = conn.execute("SELECT seats.* FROM seats JOIN trainees ON trainees.seat_id = seats.id "
                           "WHERE seats.session_id = ? AND lower(trainees.name) = lower(?)", (s.id, ref)).fetchone()
        if row is not None:
            return SeatRow.of(row)
        known = [r.name for r in self._seat_rows(conn, s)]
        raise NotFoundError(f"session '{s.name}' has no seat '{ref}'", hint="seats: " + ", ".join(known))

    def _trainees(self, conn, seat_id: int) -> list[TraineeRow]:
        return [TraineeRow.of(r) for r in conn.execute("SELECT * FROM trainees WHERE seat_id = ? ORDER BY line", (seat_id,))]

    def _ticket_row(self, conn, seat_id: int) -> TicketRow | None:
        row = conn.execute("SELECT * FROM tickets WHERE seat_id = ?", (seat_id,)).fetchone()
        return TicketRow.of(row) if row else None

    def _last_check(self, conn, seat_id: int, ticket_only: bool = False) -> CheckRow | None:
        sql = "SELECT * FROM check_results WHERE seat_id = ?"
        if ticket_only:
            sql += " AND ticket_id IS NOT NULL"
        row = conn.execute(sql + " ORDER BY id DESC LIMIT 1", (seat_id,)).fetchone()
        return CheckRow.of(row) if row else None

    def _event(self, conn, s: SessionRow, kind: str, message: str, seat: str = "") -> None:
        conn.execute("INSERT INTO events (session_id, seat, at, kind, message) VALUES (?, ?, ?, ?, ?)",
                     (s.id, seat, now(), kind, message))

    def events(self, name: str) -> list[dict[str, str]]:
        with self.db.read() as conn:
            s = self.get(name, conn)
            return [dict(r) for r in conn.execute("SELECT seat, at, kind, message FROM events WHERE session_id = ? "
                                                  "ORDER BY id", (s.id,))]

    # -- create / resume -----------------------------------------------------------------
    def plan(self, name: str, roster_file: Path | str, scenario: str, *, seed: int | None = None) -> SessionRow:
        """Check everything and record the plan (seats, faults, trainees); touches no machine.

        Planning the same session again with the same roster and scenario is a no-op,
        so rerunning ``session create`` after a crash converges.
        """
        validate_session_name(name)
        scen = load_scenario(scenario, self.scenarios_dir)
        skipped: dict[str, str] = {}
        pool = self._image_pool(scen, scen.resolve_pool(self.catalog, skipped), skipped)
        existing = self._existing(name)
        if existing is not None:
            roster = parse_roster(roster_file)
            self._same_plan(existing, roster, scen, seed)
            return existing
        memory = self._seat_memory(scen)
        roster = parse_roster(roster_file, max_seats=self._capacity(name, memory), seat_memory_mib=memory)
        seed = secrets.randbelow(2**31) if seed is None else seed
        groups = roster.groups()
        draws = plan_faults(pool, len(groups), seed)
        stamp = now()
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM sessions WHERE name = ?", (name,)).fetchone():
                raise AlreadyExistsError(f"session '{name}' was created meanwhile by another labctl")
            cur = conn.execute(
                "INSERT INTO sessions (name, scenario, scenario_json, mode, lang, seed, roster_file, state, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'creating', ?)",
                (name, scen.name, json.dumps(scen.as_dict()), scen.mode, scen.language, seed,
                 str(Path(roster_file).resolve()), stamp))
            sid = cur.lastrowid
            for idx, (group, d) in enumerate(zip(groups, draws), start=1):
                seat_id = conn.execute(
                    "INSERT INTO seats (session_id, name, idx, fault, variant, seed, progress, updated) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'planned', ?)",
                    (sid, seat_name(name, idx), idx, d.fault, d.variant, d.seed, stamp)).lastrowid
                for t in group:
                    conn.execute("INSERT INTO trainees (session_id, seat_id, name, email, pair, line) "
                                 "VALUES (?, ?, ?, ?, ?, ?)", (sid, seat_id, t.name, t.email, t.pair, t.line))
            s = self.get(name, conn)
            for fid, why in skipped.items():
                self._event(conn, s, "skipped-fault", f"{fid} left out of the pool: {why}")
            self._event(conn, s, "planned", f"{len(groups)} seat(s) for {len(roster.trainees)} trainee(s) from "
                                            f"{roster.file} ({roster.encoding}); scenario {scen.name}; seed {seed}")
            return s

    def _existing(self, name: str) -> SessionRow | None:
        try:
            return self.get(name)
        except NotFoundError:
            return None

    def _same_plan(self, s: SessionRow, roster: Roster, scen: Scenario, seed: int | None) -> None:
        if s.state == "destroyed":
            raise AlreadyExistsError(f"session '{s.name}' was destroyed; its records are kept",
                                     hint=f"pick another name, or purge it: labctl session destroy --purge {s.name}")
        with self.db.read() as conn:
            names = sorted(t.casefold() for (t,) in conn.execute("SELECT name FROM trainees WHERE session_id = ?",
                                                                  (s.id,)))
        differs = []
        if s.scenario.name != scen.name:
            differs.append(f"scenario {s.scenario.name} (not {scen.name})")
        if seed is not None and seed != s.seed:
            differs.append(f"seed {s.seed} (not {seed})")
        if names != sorted(t.name.casefold() for t in roster.trainees):
            differs.append("another roster")
        if differs:
            raise AlreadyExistsError(f"session '{s.name}' already exists with " + ", ".join(differs),
                                     hint=f"finish it with `labctl session resume {s.name}`, or pick another name")

    def _image_pool(self, scen: Scenario, pool: list, skipped: dict[str, str]) -> list:
        """The pool's faults that run on the scenario's image (its own, or one it extends)."""
        from .. import images

        image = scen.image or self.cfg.default_image
        try:
            lineage = images.lineage(self.cfg.images_dir, image)
        except LabError as exc:
            raise ConfigError(f"{scen.file}: field 'image': {exc.message}", hint=exc.hint) from None
        kept = []
        for f in pool:
            if f.image in lineage:
                kept.append(f)
            elif f.id in scen.pool.faults:
                raise ConfigError(f"{scen.file}: field 'pool.faults': fault {f.id} is written for image {f.image}, "
                                  f"not for {image}", hint="drop it from the pool or change the scenario's image")
            else:
                skipped[f.id] = f"written for image {f.image}, not {image}"
        if not kept:
            raise ConfigError(f"{scen.file}: field 'pool': no fault of the pool runs on image {image}")
        return kept

    def _seat_memory(self, scen: Scenario) -> int:
        """Memory of one seat of the scenario's image; a missing image is the scenario's error."""
        from .. import images

        try:
            recipe = images.load_recipe(self.cfg.images_dir, scen.image or self.cfg.default_image)
        except LabError as exc:
            if scen.image is None:
                raise
            raise ConfigError(f"{scen.file}: field 'image': {exc.message}", hint=exc.hint) from None
        return max(self.cfg.seat_memory_mib, recipe.min_memory_mib)

    def _capacity(self, name: str, seat_memory_mib: int | None = None) -> int:
        cap = host_capacity(seat_memory_mib or self.cfg.seat_memory_mib)
        try:
            # Every running seat on the host shares its memory, other labs' too.
            others = [i for i in self.seats.list(all_labs=True)
                      if not i.name.startswith(name + "-") and i.status == "running"]
        except LabError:
            others = []
        return max(0, cap - len(others))

    def create(self, name: str, roster_file: Path | str, scenario: str, *, seed: int | None = None,
               parallel: int | None = None, progress: Progress | None = None) -> CreateResult:
        self.plan(name, roster_file, scenario, seed=seed)
        return self.resume(name, parallel=parallel, progress=progress)

    def resume(self, name: str, *, parallel: int | None = None, progress: Progress | None = None) -> CreateResult:
        """Finish what is missing: each seat goes on from its last recorded step."""
        say = progress or (lambda _m: None)
        s = self.get(name)
        if s.state == "destroyed":
            raise SessionError(f"session '{name}' was destroyed", hint="create a new session")
        with self.db.read() as conn:
            rows = self._seat_rows(conn, s)
        todo = [r for r in rows if r.progress != "ticket-issued" or self._machine(r.name) != "running"]
        if todo and hasattr(self.seats, "warm_up"):
            self.seats.warm_up(s.scenario.image, progress=say)
        errors: dict[str, str] = {}
        tally = timing.Tally(len(todo), "seats ready (machine, fault, ticket)", say)
        with ThreadPoolExecutor(max_workers=max(1, parallel or default_parallel())) as pool:
            futures = {pool.submit(self._converge, s, r, say): r.name for r in todo}
            for fut in as_completed(futures):
                seat = futures[fut]
                try:
                    fut.result()
                    tally.step()
                except LabError as exc:
                    errors[seat] = exc.message
                    say(f"seat {seat}: {exc.message}")
                    tally.step(ok=False)
        codes: dict[str, str] = {}
        with self.db.write() as conn:
            s = self.get(name, conn)
            rows = self._seat_rows(conn, s)
            if all(r.progress == "ticket-issued" for r in rows) and s.state == "creating":
                stamp = now()
                conn.execute("UPDATE sessions SET state = 'open', started = ? WHERE id = ?", (stamp, s.id))
                conn.execute("UPDATE tickets SET opened = ? WHERE opened IS NULL AND seat_id IN "
                             "(SELECT id FROM seats WHERE session_id = ?)", (stamp, s.id))
                for r in rows:
                    t = self._ticket_row(conn, r.id)
                    if t is not None:
                        conn.execute("INSERT INTO ticket_events (ticket_id, at, actor, kind, text) "
                                     "VALUES (?, ?, 'labctl', 'opened', ?)", (t.id, stamp, t.subject))
                self._event(conn, s, "open", f"all {len(rows)} seat(s) ready; the clock starts")
            if not errors:
                codes = self._issue_codes(conn, s, only_missing=True)
            s = self.get(name, conn)
        status = self.status(name)
        access = {st.seat: self.access(name, st.seat) for st in status if st.machine != "missing"}
        return CreateResult(session=s, seats=tuple(status), codes=codes, errors=errors, access=access)

    def _set_progress(self, s: SessionRow, seat: SeatRow, step: str, error: str = "") -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE seats SET progress = ?, error = ?, updated = ? WHERE id = ?",
                         (step, error, now(), seat.id))
            self._event(conn, s, step, error or f"{seat.name}: {step}", seat.name)

    def _set_error(self, s: SessionRow, seat: SeatRow, error: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE seats SET error = ?, updated = ? WHERE id = ?", (error, now(), seat.id))
            self._event(conn, s, "error", f"{seat.name}: {error}", seat.name)

    def _machine(self, seat: str) -> str:
        """The machine's state: libvirt's (running, shut off, crashed...), or missing, or half-made."""
        try:
            info = self.seats.info(seat)
        except NotFoundError:
            return "missing"
        if info.record.state == "creating":
            return "half-made"
        return info.status

    def _converge(self, s: SessionRow, seat: SeatRow, say: Progress) -> None:
        try:
            self._converge_steps(s, seat, say)
        except LabError as exc:
            self._set_error(s, seat, exc.message)
            raise

    def _converge_steps(self, s: SessionRow, seat: SeatRow, say: Progress) -> None:
        machine = self._machine(seat.name)
        if machine in ("missing", "half-made"):
            if seat.reached("seat-created"):
                say(f"seat {seat.name}: the machine is gone; making it again")
            say(f"seat {seat.name}: creating")
            self.seats.create(seat.name, s.scenario.image, company=self._needs_company(seat.fault), progress=say)
            self._set_progress(s, seat, "seat-created")
            seat = self._reload(seat)
        else:
            if not seat.reached("seat-created"):
                self._set_progress(s, seat, "seat-created")
                seat = self._reload(seat)
            if machine != "running":
                # Stopped by hand, by a host restart, or left paused by a killed labctl.
                say(f"seat {seat.name}: the machine is {machine}; starting it")
                self.seats.start(seat.name)
        cur = self.engine.current(seat.name)
        if cur is None or cur.fault != seat.fault or cur.variant != seat.variant or cur.seed != seat.seed \
                or cur.state != "injected":
            say(f"seat {seat.name}: injecting {seat.fault} ({seat.variant})")
            self.engine.inject(seat.name, seat.fault, seed=seat.seed, variant=seat.variant, progress=say)
        if not seat.reached("injected"):
            self._set_progress(s, seat, "injected")
        with timing.phase("session: write the ticket"):
            self._issue_ticket(s, seat)
        self._set_progress(s, seat, "ticket-issued")
        say(f"seat {seat.name}: ready")

    def _reload(self, seat: SeatRow) -> SeatRow:
        with self.db.read() as conn:
            return SeatRow.of(conn.execute("SELECT * FROM seats WHERE id = ?", (seat.id,)).fetchone())

    def _issue_ticket(self, s: SessionRow, seat: SeatRow) -> None:
        with self.db.read() as conn:
            if self._ticket_row(conn, seat.id) is not None:
                return  # a ticket, its notes and its history are never made twice
        t = self.engine.ticket(seat.name, s.lang)
        try:
            info = self.seats.info(seat.name)
            image, digest = info.record.image, info.record.image_digest
        except LabError:
            image, digest = self.cfg.default_image, ""
        fault = self.catalog.get(seat.fault)
        asset = {"seat": seat.name, "host": f"ws-{seat.name}", "image": image, "image_digest": digest,
                 "os": fault.os, "user": "alex", "mode": s.mode}
        number = f"INC-{s.id:03d}{seat.idx:02d}"
        with self.db.write() as conn:
            if self._ticket_row(conn, seat.id) is not None:
                return
            conn.execute(
                "INSERT INTO tickets (seat_id, number, fault, lang, subject, body, impact, urgency, priority, "
                "asset_json, state, opened) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?)",
                (seat.id, number, seat.fault, t.lang, t.subject, t.body, t.impact, t.urgency, t.priority,
                 json.dumps(asset), s.started))

    # -- access codes --------------------------------------------------------------------
    def _issue_codes(self, conn, s: SessionRow, *, only_missing: bool, trainee: str | None = None) -> dict[str, str]:
        codes = {}
        sql = "SELECT id, name, code_hash FROM trainees WHERE session_id = ?"
        args: list[Any] = [s.id]
        if trainee:
            sql += " AND lower(name) = lower(?)"
            args.append(trainee)
        rows = conn.execute(sql + " ORDER BY line", args).fetchall()
        if trainee and not rows:
            raise NotFoundError(f"session '{s.name}' has no trainee named {trainee!r}")
        for r in rows:
            if only_missing and r["code_hash"]:
                continue
            code = new_code()
            conn.execute("UPDATE trainees SET code_hash = ?, code_set = ? WHERE id = ?", (hash_code(code), now(), r["id"]))
            codes[r["name"]] = code
        if codes:
            self._event(conn, s, "codes", f"new access code(s) for {', '.join(codes)}")
        return codes

    def issue_codes(self, name: str, trainee: str | None = None) -> dict[str, str]:
        """Fresh access codes (the old ones stop working); only their hashes are stored."""
        with self.db.write() as conn:
            return self._issue_codes(conn, self.get(name, conn), only_missing=False, trainee=trainee)

    def verify_code(self, name: str, code: str) -> tuple[TraineeRow, str] | None:
        """The trainee (and their seat) an access code belongs to, or None."""
        with self.db.read() as conn:
            s = self.get(name, conn)
            for r in conn.execute("SELECT trainees.*, seats.name AS seat FROM trainees JOIN seats "
                                  "ON seats.id = trainees.seat_id WHERE trainees.session_id = ?", (s.id,)):
                if r["code_hash"] and verify_code_hash(code, r["code_hash"]):
                    return TraineeRow.of(r), r["seat"]
        return None

    def trainee(self, name: str, trainee: str) -> tuple[TraineeRow, str] | None:
        """A trainee of the session by name (and their seat), or None: lets a login check it is still valid."""
        with self.db.read() as conn:
            s = self.get(name, conn)
            r = conn.execute("SELECT trainees.*, seats.name AS seat FROM trainees JOIN seats ON seats.id = "
                             "trainees.seat_id WHERE trainees.session_id = ? AND trainees.name = ?",
                             (s.id, trainee)).fetchone()
        return (TraineeRow.of(r), r["seat"]) if r is not None else None

    def access(self, name: str, seat_ref: str) -> dict[str, Any]:
        """What the trainees of a seat are given: nothing of the machine in phone mode."""
        with self.db.read() as conn:
            s = self.get(name, conn)
            seat = self._seat(conn, s, seat_ref)
        out: dict[str, Any] = {"seat": seat.name, "mode": s.mode}
        if s.mode == "phone":
            out["note"] = "phone only: the trainee gets no access to the machine; the instructor plays the user"
            return out
        try:
            info = self.seats.info(seat.name)
        except LabError:
            return out
        host = "127.0.0.1" if info.record.listen in ("0.0.0.0", "::") else info.record.listen
        if info.vnc_port:
            out["vnc"] = f"{host}:{info.vnc_port}"
        if info.credentials:
            out["vnc_password"] = info.credentials.vnc_password
            out["account"] = {"user": "support", "password": info.credentials.support_password}
        ssh_port = info.record.ports.get("ssh") if info.record.ports else None
        if ssh_port:
            out["ssh"] = f"{host}:{ssh_port}"
        rdp_port = info.record.ports.get("rdp") if info.record.ports else None
        if rdp_port:
            out["rdp"] = f"{host}:{rdp_port}"
        return out

    def console(self, name: str, seat_ref: str) -> dict[str, Any]:
        """Where a seat's screen is (VNC host, port, password), in any mode: for the instructor's tools and
        for the web app, which decides who may use it (the instructor always; a trainee for their own seat
        in remote mode)."""
        with self.db.read() as conn:
            s = self.get(name, conn)
            seat = self._seat(conn, s, seat_ref)
        info = self.seats.info(seat.name)
        if not info.vnc_port:
            raise SessionError(f"seat {seat.name} has no screen now (the machine is {info.status})",
                               hint=f"labctl session reset-seat {s.name} {seat.name}")
        host = "127.0.0.1" if info.record.listen in ("0.0.0.0", "::") else info.record.listen
        return {"seat": seat.name, "mode": s.mode, "host": host, "port": info.vnc_port,
                "password": info.credentials.vnc_password if info.credentials else ""}

    # -- status, checks, seats --------------------------------------------------------------
    def status(self, name: str) -> list[SeatStatus]:
        with self.db.read() as conn:
            s = self.get(name, conn)
            seats = self._seat_rows(conn, s)
            extra = {}
            for r in seats:
                extra[r.id] = (self._trainees(conn, r.id), self._ticket_row(conn, r.id), self._last_check(conn, r.id))
        out = []
        for r in seats:
            trainees, ticket, check = extra[r.id]
            machine = self._machine(r.name) if s.state != "destroyed" else "destroyed"
            problem = ""
            if machine == "missing" and r.reached("seat-created"):
                problem = f"the machine is gone: labctl session reset-seat {s.name} {r.name}"
            elif machine not in ("running", "missing", "destroyed"):
                problem = (f"the machine is {machine} (crashed or powered off): "
                           f"labctl session reset-seat {s.name} {r.name}")
            elif r.error:
                problem = f"{r.error} (labctl session resume {s.name})"
            due = self._due(s, r, ticket)
            out.append(SeatStatus(
                seat=r.name, trainees=tuple(t.name for t in trainees), fault=r.fault, variant=r.variant,
                progress=r.progress, error=r.error, machine=machine, ticket_state=ticket.state if ticket else "-",
                priority=ticket.priority if ticket else "-", due=due.isoformat(timespec="seconds") if due else None,
                outcome=ticket.outcome if ticket else "", last_check=check.status if check else "",
                problem=problem, last_check_at=check.at if check else "",
                deadline=_iso(s.deadline(r.extra_min)), mode=s.mode))
        return out

    def _due(self, s: SessionRow, seat: SeatRow, t: TicketRow | None) -> datetime | None:
        if t is None:
            return None
        opened = parse_time(t.opened or s.started)
        if opened is None:
            return None
        return opened + timedelta(minutes=s.scenario.sla_min[t.priority] + s.extra_min + seat.extra_min)

    def _run_check(self, seat: str):
        """The engine's check, unless the machine is not running: then no verdict, and why."""
        machine = self._machine(seat)
        if machine != "running":
            return None, f"the machine is {machine}"
        return self.engine.check(seat), ""

    def _store_check(self, conn, seat: SeatRow, ticket_id: int | None, trigger: str, report) -> None:
        conn.execute("INSERT INTO check_results (seat_id, ticket_id, at, trigger, status, functional, integrity, "
                     "security, report_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (seat.id, ticket_id, now(), trigger, report.status, report.group_status("functional"),
                      report.group_status("integrity"), report.group_status("security"),
                      json.dumps(report.as_dict())))

    def check(self, name: str, seat_refs: list[str] | None = None, *, parallel: int | None = None) -> dict[str, Any]:
        """Run the post-checks now (instructor's look; grades use the checks run at resolve/escalate)."""
        with self.db.read() as conn:
            s = self.get(name, conn)
            rows = [self._seat(conn, s, ref) for ref in seat_refs] if seat_refs else self._seat_rows(conn, s)
        rows = [r for r in rows if r.reached("injected")]
        out: dict[str, Any] = {}
        with ThreadPoolExecutor(max_workers=max(1, parallel or default_parallel())) as pool:
            futures = {r.name: pool.submit(self._run_check, r.name) for r in rows}
            for r in rows:
                try:
                    report, why = futures[r.name].result()
                except LabError as exc:
                    report, why = None, exc.message
                if report is not None:
                    with self.db.write() as conn:
                        self._store_check(conn, r, None, "instructor", report)
                out[r.name] = report if report is not None else why
        return out

    def _needs_company(self, fault_id: str | None) -> bool:
        """A seat whose fault needs the company server is made a company seat (which starts the server)."""
        return bool(fault_id) and bool(getattr(self.catalog.get(fault_id), "needs_company", False))

    def reset_seat(self, name: str, seat_ref: str, *, new_fault: bool = False,
                   progress: Progress | None = None) -> SeatStatus:
        """Back to the same broken machine (crashed, powered off, or wrecked by the trainee); the ticket stays.

        With ``new_fault`` the seat gets another fault (or variant) from the scenario's pool
        instead, and its ticket is replaced by the new problem's (same number, history kept).
        """
        say = progress or (lambda _m: None)
        with self.db.read() as conn:
            s = self.get(name, conn)
            seat = self._seat(conn, s, seat_ref)
            others = {(r.fault, r.variant) for r in self._seat_rows(conn, s) if r.id != seat.id}
            redraws = conn.execute("SELECT COUNT(*) FROM events WHERE session_id = ? AND seat = ? AND kind = "
                                   "'new-fault'", (s.id, seat.name)).fetchone()[0]
        if s.state == "destroyed":
            raise SessionError(f"session '{name}' was destroyed")
        old = seat
        if new_fault:
            if s.state != "open" or not seat.reached("ticket-issued"):
                raise SessionError(f"seat {seat.name}: a new fault needs an open session and a seat that is ready "
                                   f"(session {s.state}, seat {seat.progress})",
                                   hint=f"reset it with its own fault: labctl session reset-seat {name} {seat.name}")
            d = self._redraw(s, seat, others, redraws)
            seat = dataclasses.replace(seat, fault=d.fault, variant=d.variant, seed=d.seed)
        machine = self._machine(seat.name)
        if machine in ("missing", "half-made"):
            say(f"seat {seat.name}: the machine is gone; making it again")
            self.seats.create(seat.name, s.scenario.image, company=self._needs_company(seat.fault), progress=say)
        else:
            say(f"seat {seat.name}: back to pristine")
            self.seats.reset(seat.name)
        self.engine.inject(seat.name, seat.fault, seed=seat.seed, variant=seat.variant, progress=say)
        ticket = self.engine.ticket(seat.name, s.lang) if new_fault else None
        with self.db.write() as conn:
            conn.execute("UPDATE seats SET error = '', updated = ? WHERE id = ?", (now(), seat.id))
            t = self._ticket_row(conn, seat.id)
            if new_fault:
                # Recorded only once the new fault is in: a reset that fails halfway leaves the old plan,
                # and running it again converges.
                conn.execute("UPDATE seats SET fault = ?, variant = ?, seed = ? WHERE id = ?",
                             (seat.fault, seat.variant, seat.seed, seat.id))
                self._event(conn, s, "new-fault", f"{seat.name}: {old.fault} ({old.variant}) replaced by "
                                                  f"{seat.fault} ({seat.variant}) (machine was {machine})", seat.name)
                if t is not None:
                    stamp = now()
                    conn.execute("UPDATE tickets SET fault = ?, lang = ?, subject = ?, body = ?, impact = ?, "
                                 "urgency = ?, priority = ?, state = 'new', opened = ?, acknowledged = NULL, "
                                 "closed = NULL, resolution = '', escalation_json = '', outcome = '' WHERE id = ?",
                                 (seat.fault, ticket.lang, ticket.subject, ticket.body, ticket.impact, ticket.urgency,
                                  ticket.priority, stamp, t.id))
                    # What the trainee sees in the history names the new problem, never a cause.
                    self._ticket_event(conn, t, "instructor", "new-problem", text=ticket.subject,
                                       data={"previous": {"subject": t.subject, "state": t.state,
                                                          "outcome": t.outcome, "priority": t.priority}})
            else:
                self._event(conn, s, "reset-seat", f"{seat.name}: reset and {seat.fault} ({seat.variant}) injected "
                                                  f"again (machine was {machine})", seat.name)
                if t is not None:
                    self._ticket_event(conn, t, "instructor", "seat-reset", text=f"machine reset (was {machine})")
        if not seat.reached("ticket-issued"):
            self._converge(s, self._reload(seat), say)
        return next(st for st in self.status(name) if st.seat == seat.name)

    def _redraw(self, s: SessionRow, seat: SeatRow, others: set[tuple[str, str]], redraws: int):
        """Another fault or variant for a seat, from the scenario's pool, reproducible from the session's seed."""
        from .planning import SeatDraw, _rng, seat_seed

        pool = s.scenario.resolve_pool(self.catalog)
        combos = [(f.id, v.id) for f in sorted(pool, key=lambda f: f.id) for v in f.variants
                  if (f.id, v.id) != (seat.fault, seat.variant)]
        if not combos:
            raise SessionError(f"scenario {s.scenario.name} has no other fault or variant to give {seat.name}",
                               hint=f"reset it with its own fault: labctl session reset-seat {s.name} {seat.name}")
        unused = [c for c in combos if c not in others]
        rng = _rng(s.seed, "redraw", seat.idx, redraws)
        fault, variant = rng.choice(unused or combos)
        return SeatDraw(fault, variant, seat_seed(s.seed * 1000 + redraws + 1, seat.idx))

    def extend(self, name: str, minutes: int, seat_ref: str | None = None) -> SessionRow:
        """More time: the time limit and the SLA clocks move by MINUTES (one seat, or the whole class)."""
        if minutes == 0 or abs(minutes) > 480:
            raise ConfigError(f"extend by {minutes} min: give a number of minutes between 1 and 480")
        with self.db.write() as conn:
            s = self.get(name, conn)
            self._writable(s, instructor=True)
            if seat_ref:
                seat = self._seat(conn, s, seat_ref)
                conn.execute("UPDATE seats SET extra_min = extra_min + ? WHERE id = ?", (minutes, seat.id))
                self._event(conn, s, "extend", f"{seat.name}: +{minutes} min", seat.name)
            else:
                conn.execute("UPDATE sessions SET extra_min = extra_min + ? WHERE id = ?", (minutes, s.id))
                self._event(conn, s, "extend", f"whole session: +{minutes} min")
            return self.get(name, conn)

    def close(self, name: str) -> SessionRow:
        """End of the exam: trainees can no longer act on tickets; grading treats open tickets as not done."""
        with self.db.write() as conn:
            s = self.get(name, conn)
            if s.state == "closed":
                return s
            if s.state != "open":
                raise SessionError(f"session '{name}' is {s.state}; only an open session can be closed")
            conn.execute("UPDATE sessions SET state = 'closed', closed = ? WHERE id = ?", (now(), s.id))
            self._event(conn, s, "closed", "session closed")
            return self.get(name, conn)

    def destroy(self, name: str, *, purge: bool = False, progress: Progress | None = None) -> list[str]:
        """Destroy the session's seats; its records (tickets, notes, grades) are kept unless ``purge``."""
        say = progress or (lambda _m: None)
        with self.db.read() as conn:
            s = self.get(name, conn)
            rows = self._seat_rows(conn, s)
        gone = []
        for r in rows:
            try:
                self.seats.destroy(r.name)
                gone.append(r.name)
                say(f"seat {r.name}: destroyed")
            except NotFoundError:
                pass
        with self.db.write() as conn:
            if purge:
                conn.execute("DELETE FROM sessions WHERE id = ?", (s.id,))
            else:
                conn.execute("UPDATE sessions SET state = 'destroyed', closed = COALESCE(closed, ?) WHERE id = ?",
                             (now(), s.id))
                self._event(conn, s, "destroyed", f"{len(gone)} seat(s) destroyed; records kept")
        return gone

    # -- tickets (the simulated ticket tool) ------------------------------------------------
    def _writable(self, s: SessionRow, instructor: bool = False) -> None:
        if s.state == "open":
            return
        if s.state == "creating":
            raise SessionError(f"session '{s.name}' is still being created",
                               hint=f"finish it: labctl session resume {s.name}")
        raise SessionError(f"session '{s.name}' is {s.state}; its tickets can no longer change")

    def _ticket_for(self, conn, name: str, seat_ref: str) -> tuple[SessionRow, SeatRow, TicketRow]:
        s = self.get(name, conn)
        seat = self._seat(conn, s, seat_ref)
        t = self._ticket_row(conn, seat.id)
        if t is None:
            raise NotFoundError(f"seat {seat.name} has no ticket yet (it is {seat.progress})",
                                hint=f"labctl session resume {s.name}")
        return s, seat, t

    def _ticket_event(self, conn, t: TicketRow, actor: str, kind: str, *, note_kind: str = "", text: str = "",
                      data: dict | None = None) -> None:
        conn.execute("INSERT INTO ticket_events (ticket_id, at, actor, kind, note_kind, text, data_json) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (t.id, now(), actor, kind, note_kind, text, json.dumps(data) if data else ""))

    def ticket(self, name: str, seat_ref: str) -> TicketView:
        with self.db.read() as conn:
            s, seat, t = self._ticket_for(conn, name, seat_ref)
            events = tuple(TicketEvent.of(r) for r in conn.execute(
                "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY id", (t.id,)))
            trainees = tuple(tr.name for tr in self._trainees(conn, seat.id))
        return TicketView(session=s.name, seat=seat.name, ticket=t, due=self._due(s, seat, t),
                          deadline=s.deadline(seat.extra_min), events=events, trainees=trainees, mode=s.mode)

    def acknowledge(self, name: str, seat_ref: str, *, by: str = "trainee") -> TicketView:
        with self.db.write() as conn:
            s, seat, t = self._ticket_for(conn, name, seat_ref)
            self._writable(s)
            if t.is_closed:
                raise SessionError(f"ticket {t.number} is {t.state}")
            if t.state in ("new", "reopened"):
                conn.execute("UPDATE tickets SET state = 'acknowledged', acknowledged = COALESCE(acknowledged, ?) "
                             "WHERE id = ?", (now(), t.id))
                self._ticket_event(conn, t, by, "acknowledged")
        return self.ticket(name, seat_ref)

    def note(self, name: str, seat_ref: str, kind: str, text: str, *, by: str = "trainee") -> TicketView:
        if kind not in NOTE_KINDS:
            raise ConfigError(f"note kind {kind!r} is not known", hint="kinds: " + ", ".join(NOTE_KINDS))
        if not text.strip():
            raise ConfigError("a note needs some text")
        with self.db.write() as conn:
            s, seat, t = self._ticket_for(conn, name, seat_ref)
            self._writable(s)
            self._ticket_event(conn, t, by, "note", note_kind=kind, text=text.strip())
        return self.ticket(name, seat_ref)

    def escalate(self, name: str, seat_ref: str, *, observed: str, tried: str, reason: str,
                 by: str = "trainee") -> TicketView:
        """Hand the ticket to level 2 with what it needs; the post-checks run too (rules, C3)."""
        info = {"observed": observed.strip(), "tried": tried.strip(), "reason": reason.strip()}
        missing = [k for k in ESCALATION_FIELDS if len(info[k]) < 3]
        if missing:
            raise ConfigError("an escalation needs what was observed, what was tried and why it is for level 2; "
                              "missing: " + ", ".join(missing), hint="--observed, --tried, --reason")
        with self.db.read() as conn:
            s, seat, t = self._ticket_for(conn, name, seat_ref)
        self._writable(s)
        self._open_ticket(t)
        report, why = self._run_check(seat.name)
        with self.db.write() as conn:
            s, seat, t = self._ticket_for(conn, name, seat_ref)
            self._writable(s)
            self._open_ticket(t)
            if report is not None:
                self._store_check(conn, seat, t.id, "escalate", report)
            conn.execute("UPDATE tickets SET state = 'escalated', closed = ?, escalation_json = ?, "
                         "outcome = 'escalated', acknowledged = acknowledged WHERE id = ?",
                         (now(), json.dumps(info), t.id))
            self._ticket_event(conn, t, by, "escalated", text=info["reason"], data=info)
            self._ticket_event(conn, t, "labctl", "checked",
                               text=report.status if report is not None else f"no verdict: {why}",
                               data=report.as_dict()["groups"] if report is not None else None)
        return self.ticket(name, seat_ref)

    def resolve(self, name: str, seat_ref: str, *, resolution: str, by: str = "trainee") -> TicketView:
        """Close the ticket as solved: the post-checks run and their outcome is recorded."""
        if not resolution.strip():
            raise ConfigError("a resolution needs some text: what was done and how it was verified",
                              hint="--resolution")
        with self.db.read() as conn:
            s, seat, t = self._ticket_for(conn, name, seat_ref)
        self._writable(s)
        self._open_ticket(t)
        report, why = self._run_check(seat.name)
        if report is None:
            raise SessionError(f"seat {seat.name}: {why}; the post-checks cannot run, the ticket stays open",
                               hint=f"the instructor can bring it back: labctl session reset-seat {name} {seat.name}")
        outcome = {"pass": "passed", "fail": "failed"}.get(report.status, "unknown")
        with self.db.write() as conn:
            s, seat, t = self._ticket_for(conn, name, seat_ref)
            self._writable(s)
            self._open_ticket(t)  # another process may have closed it while the checks ran
            self._store_check(conn, seat, t.id, "resolve", report)
            conn.execute("UPDATE tickets SET state = 'resolved', closed = ?, resolution = ?, outcome = ? WHERE id = ?",
                         (now(), resolution.strip(), outcome, t.id))
            self._ticket_event(conn, t, by, "resolved", text=resolution.strip())
            self._ticket_event(conn, t, "labctl", "checked", text=outcome, data=report.as_dict()["groups"])
        return self.ticket(name, seat_ref)

    @staticmethod
    def _open_ticket(t: TicketRow) -> None:
        if t.is_closed:
            raise SessionError(f"ticket {t.number} is already {t.state} (at {t.closed})",
                               hint="the instructor can reopen it: labctl ticket reopen")

    def reopen(self, name: str, seat_ref: str, *, reason: str, by: str = "instructor") -> TicketView:
        if not reason.strip():
            raise ConfigError("reopening needs a reason", hint="--reason")
        with self.db.write() as conn:
            s, seat, t = self._ticket_for(conn, name, seat_ref)
            self._writable(s, instructor=True)
            if not t.is_closed:
                raise SessionError(f"ticket {t.number} is {t.state}, not closed; nothing to reopen")
            conn.execute("UPDATE tickets SET state = 'reopened', closed = NULL, outcome = '' WHERE id = ?", (t.id,))
            self._ticket_event(conn, t, by, "reopened", text=reason.strip(),
                               data={"was": t.state, "outcome": t.outcome, "resolution": t.resolution,
                                     "escalation": t.escalation})
        return self.ticket(name, seat_ref)

    # -- grading and reports ------------------------------------------------------------
    def set_grade(self, name: str, seat_ref: str, *, by: str = "instructor", comment: str | None = None,
                  **criteria: str | None) -> SeatGrade:
        """Instructor inputs: C4 (communication), and overrides of C1-C3 with a comment."""
        unknown = [k for k in criteria if k not in ("c1", "c2", "c3", "c4")]
        if unknown:
            raise ConfigError(f"unknown criteria: {', '.join(unknown)}")
        for k, v in criteria.items():
            if v not in (None, "pass", "fail", "clear"):
                raise ConfigError(f"--{k}: give pass, fail or clear (got {v!r})")
        with self.db.write() as conn:
            s = self.get(name, conn)
            if s.state == "creating":
                self._writable(s)
            seat = self._seat(conn, s, seat_ref)
            row = conn.execute("SELECT inputs_json FROM grades WHERE seat_id = ?", (seat.id,)).fetchone()
            inputs = json.loads(row[0]) if row else {}
            for k, v in criteria.items():
                if v == "clear":
                    inputs.pop(k, None)
                elif v:
                    inputs[k] = v
            if comment is not None:
                inputs["comment"] = comment
            conn.execute("INSERT INTO grades (seat_id, inputs_json, updated, by) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT(seat_id) DO UPDATE SET inputs_json = excluded.inputs_json, "
                         "updated = excluded.updated, by = excluded.by", (seat.id, json.dumps(inputs), now(), by))
            self._event(conn, s, "grade", f"{seat.name}: {json.dumps(inputs, ensure_ascii=False)}", seat.name)
        return self.grade(name, seat_ref)

    def _grade_input(self, conn, s: SessionRow, seat: SeatRow) -> GradeInput:
        t = self._ticket_row(conn, seat.id)
        row = conn.execute("SELECT inputs_json FROM grades WHERE seat_id = ?", (seat.id,)).fetchone()
        inputs = json.loads(row[0]) if row else {}
        try:
            level = self.catalog.get(seat.fault).level
        except LabError:
            level = 1
        session_open = s.state in ("open", "creating")
        if t is None:
            return GradeInput(fault_level=level, ticket_state="new", acknowledged=False, note_kinds=(),
                              resolution="", escalation={}, closed_at=None, due=None,
                              deadline=s.deadline(seat.extra_min), check_status="", session_open=session_open,
                              instructor=inputs)
        kinds = tuple(r[0] for r in conn.execute("SELECT note_kind FROM ticket_events WHERE ticket_id = ? "
                                                 "AND kind = 'note'", (t.id,)))
        check = self._last_check(conn, seat.id, ticket_only=True) if t.is_closed else None
        return GradeInput(fault_level=level, ticket_state=t.state, acknowledged=bool(t.acknowledged),
                          note_kinds=kinds, resolution=t.resolution, escalation=t.escalation,
                          closed_at=parse_time(t.closed), due=self._due(s, seat, t),
                          deadline=s.deadline(seat.extra_min), check_status=check.status if check else "",
                          groups=check.groups if check else {}, session_open=session_open, instructor=inputs)

    def grade(self, name: str, seat_ref: str) -> SeatGrade:
        with self.db.read() as conn:
            s = self.get(name, conn)
            return grade(self._grade_input(conn, s, self._seat(conn, s, seat_ref)))

    def report(self, name: str) -> tuple[SessionRow, list[SeatReport]]:
        """Everything a report shows, as data."""
        out = []
        with self.db.read() as conn:
            s = self.get(name, conn)
            for seat in self._seat_rows(conn, s):
                try:
                    fault = self.catalog.get(seat.fault)
                    level, fams, cps = fault.level, fault.families, fault.competencies
                except LabError:
                    level, fams, cps = 1, (), ()
                trainees = tuple({"name": t.name, "email": t.email} for t in self._trainees(conn, seat.id))
                t = self._ticket_row(conn, seat.id)
                ticket: dict[str, Any] = {}
                if t is not None:
                    events = [TicketEvent.of(r).as_dict() for r in conn.execute(
                        "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY id", (t.id,))]
                    due = self._due(s, seat, t)
                    ticket = {"number": t.number, "subject": t.subject, "priority": t.priority, "state": t.state,
                              "opened": t.opened, "acknowledged": t.acknowledged, "closed": t.closed,
                              "due": due.isoformat(timespec="seconds") if due else None, "outcome": t.outcome,
                              "resolution": t.resolution, "escalation": t.escalation, "history": events}
                check = self._last_check(conn, seat.id)
                last = None
                if check is not None:
                    last = {"at": check.at, "trigger": check.trigger, "status": check.status, "groups": check.groups,
                            "results": [{k: r.get(k) for k in ("id", "group", "status", "observed", "expected")}
                                        for r in check.report.get("results", [])]}
                out.append(SeatReport(seat=seat.name, trainees=trainees, fault=seat.fault, variant=seat.variant,
                                      level=level, families=tuple(fams), competencies=tuple(cps), ticket=ticket,
                                      last_check=last, grade=grade(self._grade_input(conn, s, seat))))
        return s, out


def _iso(d: datetime | None) -> str | None:
    return d.isoformat(timespec="seconds") if d else None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
