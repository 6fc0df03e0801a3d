"""Creating a session: plan, then bring each seat through its steps; and bringing one seat back (``reset_seat``).

Creation is a pipeline per seat, recorded in the database step by step
(``planned`` -> ``seat-created`` -> ``injected`` -> ``ticket-issued``), so that a
killed ``session create`` is finished by ``session resume`` (or by running the
same ``create`` again): each seat picks up at its last recorded step, and what
is already there (a seat, its fault, its ticket, the trainees' notes) is kept.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import timing
from ..config import default_parallel
from ..errors import AlreadyExistsError, ConfigError, LabError, NotFoundError
from .access import Access, issue_codes
from .classroom import Classroom, SeatStatus
from .core import SessionsCore, find_seat, find_session, seat_name, validate_session_name
from .db import now
from .model import SeatRow, SessionError, SessionRow
from .planning import plan_faults
from .ports import Progress
from .roster import Roster, host_capacity, parse_roster
from .scenario import Scenario, load_scenario
from .tickets import ticket_event


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
class PrepareResult:
    """What ``session create --prepare-only`` made: each seat's fault, variant and prepared state."""

    session: SessionRow
    states: dict[str, dict[str, str]]  # seat -> fault, variant, state ("" when its fault has none)
    errors: dict[str, str]  # seat -> why its prepared state could not be made

    def as_dict(self) -> dict:
        return {"session": self.session.name, "states": self.states, "errors": self.errors}


class Pipeline:
    """Plan, create, resume, and reset a seat; each step recorded as it is done."""

    def __init__(self, core: SessionsCore, classroom: Classroom, access: Access):
        self.core = core
        self.classroom = classroom
        self.access = access

    # -- planning (no machine) -------------------------------------------------------------------
    def plan(self, name: str, roster_file: Path | str, scenario: str, *, seed: int | None = None) -> SessionRow:
        """Check everything and record the plan (seats, faults, trainees); touches no machine.

        Planning the same session again with the same roster and scenario is a no-op,
        so rerunning ``session create`` after a crash converges.
        """
        validate_session_name(name)
        scen = load_scenario(scenario, self.core.scenarios_dir)
        skipped: dict[str, str] = {}
        pool = self._image_pool(scen, scen.resolve_pool(self.core.catalog, skipped), skipped)
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
        with self.core.writing() as r:
            if r.session_exists(name):
                raise AlreadyExistsError(f"session '{name}' was created meanwhile by another labctl")
            sid = r.add_session(name, scen.name, json.dumps(scen.as_dict()), scen.mode, scen.language, seed,
                                str(Path(roster_file).resolve()), stamp)
            for idx, (group, d) in enumerate(zip(groups, draws), start=1):
                seat_id = r.add_seat(sid, seat_name(name, idx), idx, d.fault, d.variant, d.seed, stamp)
                for t in group:
                    r.add_trainee(sid, seat_id, t.name, t.email, t.pair, t.line)
            s = find_session(r, name)
            for fid, why in skipped.items():
                r.add_event(s.id, "skipped-fault", f"{fid} left out of the pool: {why}")
            r.add_event(s.id, "planned", f"{len(groups)} seat(s) for {len(roster.trainees)} trainee(s) from "
                                         f"{roster.file} ({roster.encoding}); scenario {scen.name}; seed {seed}")
            return s

    def _existing(self, name: str) -> SessionRow | None:
        try:
            return self.core.get(name)
        except NotFoundError:
            return None

    def _same_plan(self, s: SessionRow, roster: Roster, scen: Scenario, seed: int | None) -> None:
        if s.state == "destroyed":
            raise AlreadyExistsError(f"session '{s.name}' was destroyed; its records are kept",
                                     hint=f"pick another name, or purge it: labctl session destroy --purge {s.name}")
        with self.core.reading() as r:
            names = sorted(t.casefold() for t in r.trainee_names(s.id))
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

        cfg = self.core.cfg
        image = scen.image or cfg.default_image
        try:
            lineage = images.lineage(cfg.images_dir, image)
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

        cfg = self.core.cfg
        try:
            recipe = images.load_recipe(cfg.images_dir, scen.image or cfg.default_image)
        except LabError as exc:
            if scen.image is None:
                raise
            raise ConfigError(f"{scen.file}: field 'image': {exc.message}", hint=exc.hint) from None
        return max(cfg.seat_memory_mib, recipe.min_memory_mib)

    def _capacity(self, name: str, seat_memory_mib: int | None = None) -> int:
        cap = host_capacity(seat_memory_mib or self.core.cfg.seat_memory_mib)
        try:
            # Every running seat on the host shares its memory, other labs' too.
            others = [i for i in self.core.seats.list(all_labs=True)
                      if not i.name.startswith(name + "-") and i.status == "running"]
        except LabError:
            others = []
        return max(0, cap - len(others))

    # -- creating the seats ----------------------------------------------------------------------
    def create(self, name: str, roster_file: Path | str, scenario: str, *, seed: int | None = None,
               parallel: int | None = None, progress: Progress | None = None) -> CreateResult:
        self.plan(name, roster_file, scenario, seed=seed)
        return self.resume(name, parallel=parallel, progress=progress)

    def prepare(self, name: str, roster_file: Path | str, scenario: str, *, seed: int | None = None,
                parallel: int | None = None, progress: Progress | None = None) -> PrepareResult:
        """Plan the session and make its seats' prepared states now, before class; no seat is made.

        ``create`` (or ``resume``) later finds them in the cache and only makes the seats.
        """
        say = progress or (lambda _m: None)
        s = self.plan(name, roster_file, scenario, seed=seed)
        with self.core.reading() as r:
            rows = r.seats(s.id)
        self.core.seats.warm_up(s.scenario.image, progress=say)
        bases = self._bases(s, rows, say, parallel)
        states: dict[str, dict[str, str]] = {}
        errors: dict[str, str] = {}
        for x in rows:
            b = bases.get(x.name)
            if isinstance(b, LabError):
                errors[x.name] = b.message
            states[x.name] = {"fault": x.fault, "variant": x.variant,
                              "state": getattr(b, "key", "") if b is not None and not isinstance(b, LabError) else ""}
        return PrepareResult(session=s, states=states, errors=errors)

    def resume(self, name: str, *, parallel: int | None = None, progress: Progress | None = None) -> CreateResult:
        """Finish what is missing: each seat goes on from its last recorded step."""
        say = progress or (lambda _m: None)
        s = self.core.get(name)
        if s.state == "destroyed":
            raise SessionError(f"session '{name}' was destroyed", hint="create a new session")
        with self.core.reading() as r:
            rows = r.seats(s.id)
        todo = [x for x in rows if x.progress != "ticket-issued" or self.core._machine(x.name) != "running"]
        if todo:
            self.core.seats.warm_up(s.scenario.image, progress=say)
        bases = self._bases(s, todo, say, parallel)
        errors: dict[str, str] = {}
        tally = timing.Tally(len(todo), "seats ready (machine, fault, ticket)", say)
        with ThreadPoolExecutor(max_workers=max(1, parallel or default_parallel())) as pool:
            futures = {pool.submit(self._converge, s, x, say, bases): x.name for x in todo}
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
        with self.core.writing() as r:
            s = find_session(r, name)
            rows = r.seats(s.id)
            if all(x.progress == "ticket-issued" for x in rows) and s.state == "creating":
                stamp = now()
                r.open_session(s.id, stamp)
                for x in rows:
                    t = r.ticket(x.id)
                    if t is not None:
                        r.add_opened_event(t.id, stamp, t.subject)
                r.add_event(s.id, "open", f"all {len(rows)} seat(s) ready; the clock starts")
            if not errors:
                codes = issue_codes(r, s, only_missing=True)
            s = find_session(r, name)
        status = self.classroom.status(name)
        access = {st.seat: self.access.access(name, st.seat) for st in status if st.machine != "missing"}
        return CreateResult(session=s, seats=tuple(status), codes=codes, errors=errors, access=access)

    def _set_progress(self, s: SessionRow, seat: SeatRow, step: str, error: str = "") -> None:
        with self.core.writing() as r:
            r.set_progress(seat.id, step, error)
            r.add_event(s.id, step, error or f"{seat.name}: {step}", seat.name)

    def _set_error(self, s: SessionRow, seat: SeatRow, error: str) -> None:
        with self.core.writing() as r:
            r.set_seat_error(seat.id, error)
            r.add_event(s.id, "error", f"{seat.name}: {error}", seat.name)

    def _bases(self, s: SessionRow, rows: list[SeatRow], say: Progress, parallel: int | None) -> dict[str, Any]:
        """The prepared state each seat still to be made starts from, made first (each once, in parallel):
        the seat, or its error when its prepared state could not be made."""
        new = [x for x in rows if self.core._machine(x.name) in ("missing", "half-made")]
        out: dict[str, Any] = {}
        if not new:
            return out
        with ThreadPoolExecutor(max_workers=max(1, parallel or default_parallel())) as pool:
            futures = {pool.submit(self._base, s, x, say): x.name for x in new}
            for fut in as_completed(futures):
                try:
                    out[futures[fut]] = fut.result()
                except LabError as exc:
                    out[futures[fut]] = exc
        return out

    def _base(self, s: SessionRow, seat: SeatRow, say: Progress) -> Any:
        with timing.phase("session: the seat's prepared state (made or found)"):
            return self.core.engine.prepared_base(s.scenario.image or self.core.cfg.default_image, seat.fault,
                                                  seed=seat.seed, variant=seat.variant, progress=say)

    def _converge(self, s: SessionRow, seat: SeatRow, say: Progress, bases: dict[str, Any] | None = None) -> None:
        try:
            self._converge_steps(s, seat, say, bases or {})
        except LabError as exc:
            self._set_error(s, seat, exc.message)
            raise

    def _converge_steps(self, s: SessionRow, seat: SeatRow, say: Progress, bases: dict[str, Any]) -> None:
        seats, engine = self.core.seats, self.core.engine
        machine = self.core._machine(seat.name)
        if machine not in ("missing", "half-made") and not seat.reached("ticket-issued") \
                and engine.holds_other_preparation(seat.name, seat.fault, seed=seat.seed, variant=seat.variant):
            say(f"seat {seat.name}: made from another fault's prepared state; making it again")
            seats.destroy(seat.name)
            machine = "missing"
        if machine in ("missing", "half-made"):
            if seat.reached("seat-created"):
                say(f"seat {seat.name}: the machine is gone; making it again")
            base = bases[seat.name] if seat.name in bases else self._base(s, seat, say)
            if isinstance(base, LabError):
                raise base
            say(f"seat {seat.name}: creating")
            seats.create(seat.name, s.scenario.image, company=self.core._needs_company(seat.fault), base=base,
                         progress=say)
            self._set_progress(s, seat, "seat-created")
            seat = self._reload(seat)
        else:
            if not seat.reached("seat-created"):
                self._set_progress(s, seat, "seat-created")
                seat = self._reload(seat)
            if machine != "running":
                # Stopped by hand, by a host restart, or left paused by a killed labctl.
                say(f"seat {seat.name}: the machine is {machine}; starting it")
                seats.start(seat.name)
        cur = engine.current(seat.name)
        if cur is None or cur.fault != seat.fault or cur.variant != seat.variant or cur.seed != seat.seed \
                or cur.state != "injected":
            say(f"seat {seat.name}: injecting {seat.fault} ({seat.variant})")
            engine.inject(seat.name, seat.fault, seed=seat.seed, variant=seat.variant, progress=say)
        if not seat.reached("injected"):
            self._set_progress(s, seat, "injected")
        with timing.phase("session: write the ticket"):
            self._issue_ticket(s, seat)
        self._set_progress(s, seat, "ticket-issued")
        say(f"seat {seat.name}: ready")

    def _reload(self, seat: SeatRow) -> SeatRow:
        with self.core.reading() as r:
            return r.seat_by_id(seat.id)

    def _issue_ticket(self, s: SessionRow, seat: SeatRow) -> None:
        with self.core.reading() as r:
            if r.ticket(seat.id) is not None:
                return  # a ticket, its notes and its history are never made twice
        t = self.core.engine.ticket(seat.name, s.lang)
        try:
            info = self.core.seats.info(seat.name)
            image, digest = info.record.image, info.record.image_digest
        except LabError:
            image, digest = self.core.cfg.default_image, ""
        fault = self.core.catalog.get(seat.fault)
        asset = {"seat": seat.name, "host": f"ws-{seat.name}", "image": image, "image_digest": digest,
                 "os": fault.os, "user": "alex", "mode": s.mode}
        number = f"INC-{s.id:03d}{seat.idx:02d}"
        with self.core.writing() as r:
            if r.ticket(seat.id) is not None:
                return
            r.add_ticket(seat.id, number, seat.fault, t.lang, t.subject, t.body, t.impact, t.urgency, t.priority,
                         json.dumps(asset), s.started)

    # -- one seat back -----------------------------------------------------------------------------
    def reset_seat(self, name: str, seat_ref: str, *, new_fault: bool = False,
                   progress: Progress | None = None) -> SeatStatus:
        """Back to the same broken machine (crashed, powered off, or wrecked by the trainee); the ticket stays.

        With ``new_fault`` the seat gets another fault (or variant) from the scenario's pool
        instead, and its ticket is replaced by the new problem's (same number, history kept).
        """
        say = progress or (lambda _m: None)
        with self.core.reading() as r:
            s = find_session(r, name)
            seat = find_seat(r, s, seat_ref)
            others = {(x.fault, x.variant) for x in r.seats(s.id) if x.id != seat.id}
            redraws = r.count_events(s.id, seat.name, "new-fault")
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
        machine = self.core._machine(seat.name)
        if machine not in ("missing", "half-made") and self.core.engine.holds_other_preparation(
                seat.name, seat.fault, seed=seat.seed, variant=seat.variant):
            # Its pristine state holds the old fault's healthy stage: a reset would keep it.
            say(f"seat {seat.name}: made from {old.fault}'s prepared state; making it again for {seat.fault}")
            self.core.seats.destroy(seat.name)
            machine = "missing"
        if machine in ("missing", "half-made"):
            say(f"seat {seat.name}: the machine is gone; making it again")
            self.core.seats.create(seat.name, s.scenario.image, company=self.core._needs_company(seat.fault),
                                   base=self._base(s, seat, say), progress=say)
        else:
            say(f"seat {seat.name}: back to pristine")
            self.core.seats.reset(seat.name)
        self.core.engine.inject(seat.name, seat.fault, seed=seat.seed, variant=seat.variant, progress=say)
        ticket = self.core.engine.ticket(seat.name, s.lang) if new_fault else None
        with self.core.writing() as r:
            r.set_seat_error(seat.id, "")
            t = r.ticket(seat.id)
            if new_fault:
                # Recorded only once the new fault is in: a reset that fails halfway leaves the old plan,
                # and running it again converges.
                r.set_seat_fault(seat.id, seat.fault, seat.variant, seat.seed)
                r.add_event(s.id, "new-fault", f"{seat.name}: {old.fault} ({old.variant}) replaced by "
                                               f"{seat.fault} ({seat.variant}) (machine was {machine})", seat.name)
                if t is not None:
                    r.replace_ticket(t.id, seat.fault, ticket.lang, ticket.subject, ticket.body, ticket.impact,
                                     ticket.urgency, ticket.priority, now())
                    # What the trainee sees in the history names the new problem, never a cause.
                    ticket_event(r, t, "instructor", "new-problem", text=ticket.subject,
                                 data={"previous": {"subject": t.subject, "state": t.state,
                                                    "outcome": t.outcome, "priority": t.priority}})
            else:
                r.add_event(s.id, "reset-seat", f"{seat.name}: reset and {seat.fault} ({seat.variant}) injected "
                                                f"again (machine was {machine})", seat.name)
                if t is not None:
                    ticket_event(r, t, "instructor", "seat-reset", text=f"machine reset (was {machine})")
        if not seat.reached("ticket-issued"):
            self._converge(s, self._reload(seat), say)
        return next(st for st in self.classroom.status(name) if st.seat == seat.name)

    def _redraw(self, s: SessionRow, seat: SeatRow, others: set[tuple[str, str]], redraws: int):
        """Another fault or variant for a seat, from the scenario's pool, reproducible from the session's seed."""
        from .planning import SeatDraw, _rng, seat_seed

        pool = s.scenario.resolve_pool(self.core.catalog)
        combos = [(f.id, v.id) for f in sorted(pool, key=lambda f: f.id) for v in f.variants
                  if (f.id, v.id) != (seat.fault, seat.variant)]
        if not combos:
            raise SessionError(f"scenario {s.scenario.name} has no other fault or variant to give {seat.name}",
                               hint=f"reset it with its own fault: labctl session reset-seat {s.name} {seat.name}")
        unused = [c for c in combos if c not in others]
        rng = _rng(s.seed, "redraw", seat.idx, redraws)
        fault, variant = rng.choice(unused or combos)
        return SeatDraw(fault, variant, seat_seed(s.seed * 1000 + redraws + 1, seat.idx))
