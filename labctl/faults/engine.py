"""Put faults on seats, check them, repair them; every run leaves its artefacts.

The seat's domain metadata says which fault it carries and in what state
(``injecting`` until the injection finished, then ``injected``), so a seat is
never half-broken without labctl knowing: a failed injection resets the seat
to pristine, and a seat found ``injecting`` (labctl was killed) is reset before
anything else is done to it. The drawn parameters stay on the host, in the
seat's folder (root only) and in each run's artefacts.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .. import timing
from ..config import Config
from ..errors import ConfigError, GuestError, LabError
from ..seats import SeatManager, domain_name
from ..server import company_user, user_parts
from ..guest import Channel
from .checks import CheckReport, protected_paths, run_checks, take_snapshot, unreachable_report
from .draw import Draw, context, draw, new_seed, prepare_values, render_ticket
from .manifest import Catalog, Fault, RepairSpec
from .playbook import CLEANUP_SCRIPT, PlaybookResult, run_playbook
from .prepared import PreparedStates

Progress = Callable[[str], None]


class FaultError(LabError):
    """A recipe's playbook failed on a seat (the recipe, not the lab, is at fault)."""

    exit_code = 8


@dataclass(frozen=True)
class SeatFault:
    """What a seat carries, as recorded with the machine."""

    fault: str
    variant: str
    seed: int
    state: str  # injecting | injected

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class SeatBusyError(LabError):
    """Another labctl process is injecting, fixing or testing on this seat."""

    exit_code = 9


_held = threading.local()


@contextmanager
def seat_lock(folder: Path, seat: str) -> Iterator[None]:
    """One labctl at a time changes a seat (re-entrant within a thread)."""
    held = getattr(_held, "seats", None)
    if held is None:
        held = _held.seats = set()
    if seat in held:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".busy", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SeatBusyError(f"seat '{seat}' is busy: another labctl is injecting, fixing or testing on it",
                                hint="wait for it to finish (or stop it), then try again") from None
        held.add(seat)
        try:
            yield
        finally:
            held.discard(seat)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class FaultEngine:
    def __init__(self, cfg: Config, seats: SeatManager | None = None, catalog: Catalog | None = None):
        self.cfg = cfg
        self.seats = seats or SeatManager(cfg)
        self.catalog = catalog or Catalog(cfg.faults_dir)
        self.prepared = PreparedStates(cfg, self.seats)

    def lock(self, seat: str):
        """Hold a seat for a sequence of changes (inject, fix, a whole fault test)."""
        self.seats.info(seat)  # a clear NotFoundError before any lock file is made
        return seat_lock(self.seats.folder(seat), seat)

    # -- state ----------------------------------------------------------------
    def current(self, seat: str) -> SeatFault | None:
        rec = self.seats.info(seat).record
        if not rec.fault:
            return None
        try:
            seed = int(rec.extra.get("seed", "0"))
        except ValueError:
            seed = 0
        return SeatFault(rec.fault, rec.extra.get("variant", ""), seed, rec.extra.get("fault_state", "injected"))

    def current_draw(self, seat: str) -> tuple[Fault, Draw]:
        cur = self.current(seat)
        if cur is None:
            raise ConfigError(f"seat '{seat}' carries no fault", hint=f"inject one: labctl fault inject {seat} FAULT")
        fault = self.catalog.get(cur.fault)
        return fault, draw(fault, cur.seed, cur.variant)

    def _record(self, seat: str, d: Draw | None, state: str = "") -> None:
        if d is None:
            self.seats.update_record(seat, fault="", extra={})
            (self.seats.folder(seat) / "fault.json").unlink(missing_ok=True)
            return
        self.seats.update_record(seat, fault=d.fault, extra={"variant": d.variant, "seed": str(d.seed),
                                                             "fault_state": state})
        path = self.seats.folder(seat) / "fault.json"
        path.write_text(json.dumps({**d.as_dict(), "state": state}, indent=2))
        os.chmod(path, 0o600)

    # -- runs -----------------------------------------------------------------
    def run_dir(self, seat: str, fault: str, step: str) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.monotonic_ns() % 1000000:06d}"
        return self.cfg.runs_dir / f"{stamp}-{seat}-{fault}-{step}"

    def run_step(self, seat: str, fault: Fault, d: Draw, step: str, playbook: Path | None = None) -> PlaybookResult | None:
        """Run one playbook of a recipe (prepare, inject, fix, or a repair) on a seat."""
        playbook = playbook or fault.playbook(step)
        if playbook is None:
            return None
        kind = step if step in ("prepare", "inject", "fix") else "repair"
        with self.lock(seat), timing.phase(f"fault: {kind} playbook"):
            return self._run_step(seat, fault, d, step, playbook)

    def _run_step(self, seat: str, fault: Fault, d: Draw, step: str, playbook: Path) -> PlaybookResult:
        info = self.seats.info(seat)
        if info.status != "running":
            raise GuestError(f"seat '{seat}' is {info.status}", hint=f"start it: labctl seat start {seat}")
        run_dir = self.run_dir(seat, fault.id, step)
        if step == "prepare":
            # The prepare stage gets what shapes the prepared environment and nothing drawn per
            # seat, on a seat as on a prepared state (labctl/faults/prepared.py).
            d = Draw(fault=d.fault, variant=d.variant, seed=d.seed, params=prepare_values(fault, d))
        lab = {**context(d), "seat": seat, "fault": fault.id, "step": step}
        company = None
        if fault.company_server:
            company = self._company(seat)
            lab["company_user"] = company_user(seat)
        extravars = {"lab": lab, **d.params}
        try:
            res = run_playbook(playbook=playbook, domain=domain_name(seat), libvirt_uri=self.cfg.libvirt_uri,
                               extravars=extravars, run_dir=run_dir, recipe_dir=fault.folder,
                               company_domain=company.domain_name if company else None)
        finally:
            self._cleanup(seat)
            if company is not None:
                try:
                    company.agent().sh(CLEANUP_SCRIPT, timeout=30)
                except LabError:
                    pass
        (run_dir / "result.json").write_text(json.dumps({**res.as_dict(), "seat": seat, **d.as_dict()}, indent=2))
        if res.unreachable:
            raise GuestError(f"seat '{seat}': Ansible could not reach the guest agent during {playbook.name}",
                             hint=f"artefacts: {run_dir}")
        return res

    def _company(self, seat: str):
        """The company server of a seat wired to it, running (recipes with ``company_server``)."""
        from ..server import ServerManager

        if not self.seats.info(seat).record.company:
            raise LabError(f"seat {seat} is not wired to the company server",
                           hint="make one with: labctl seat create --company <name>")
        server = ServerManager(self.cfg, self.seats.backend)
        server.agent()  # a clear error when it is not running
        return server

    # The seat user's part of the company server (labctl.server.user_parts) is saved and
    # restored with the seat's own checkpoints for recipes that change it.
    def _server_state(self, seat: str, fault: Fault, name: str, restore: bool = False) -> None:
        if not fault.company_server:
            return
        user = company_user(seat)
        tar = f"/var/lib/labctl/checkpoints/{user}.{name}.tar"
        globs = " ".join(user_parts(user))
        if restore:
            script = (f"test -f {tar} || {{ echo 'no saved state {name}' >&2; exit 1; }}; "
                      f"cd /srv && rm -rf {globs} && tar -xpf {tar}")
        else:
            script = (f"install -d -m 700 /var/lib/labctl/checkpoints; cd /srv; "
                      f"set --; for p in {globs}; do [ -e \"$p\" ] && set -- \"$@\" \"$p\"; done; "
                      f"tar -cpf {tar}.new --files-from /dev/null \"$@\" && mv {tar}.new {tar}")
        res = self._company(seat).agent().sh(script, timeout=120)
        if not res.ok:
            raise LabError(f"company server: cannot {'restore' if restore else 'save'} the state {name} of "
                           f"{seat}'s network folder: {res.stderr.strip()[:200]}")

    def _cleanup(self, seat: str) -> None:
        """Remove what Ansible leaves in the guest; a trainee must not find the recipe there."""
        try:
            self.seats.agent(seat).sh(CLEANUP_SCRIPT, timeout=30)
        except LabError:
            pass

    # -- what the CLI and sessions call ---------------------------------------
    def inject(self, seat: str, fault_id: str, *, seed: int | None = None, variant: str | None = None,
               progress: Progress | None = None) -> tuple[Draw, list[PlaybookResult]]:
        """Prepare and break a seat. All or nothing: on failure the seat is reset to pristine."""
        with self.lock(seat):
            d, results = self.stage(seat, fault_id, seed=seed, variant=variant, progress=progress)
            results.append(self.break_staged(seat, progress=progress))
        return d, [r for r in results if r is not None]

    def stage(self, seat: str, fault_id: str, *, seed: int | None = None, variant: str | None = None,
              progress: Progress | None = None, checkpoint: bool = False) -> tuple[Draw, list[PlaybookResult]]:
        """Reset if needed, run the recipe's prepare step and record the healthy machine's protected files.

        ``checkpoint``: also freeze the prepared machine, so that :meth:`restage` returns to it in
        seconds (what ``fault test`` does before each repair and decoy).
        """
        say = progress or (lambda _m: None)
        fault = self.catalog.get(fault_id)
        d = draw(fault, new_seed() if seed is None else seed, variant)
        if fault.needs_company and not self.seats.info(seat).record.company:
            raise LabError(f"fault {fault.id} needs a seat wired to the company server; seat {seat} is not",
                           hint="make one with: labctl seat create --company <name>")
        with self.lock(seat):
            self._check_image(seat, fault)
            cur = self.current(seat)
            if cur is not None:
                say(f"seat {seat}: carries {cur.fault} ({cur.state}); resetting to pristine first")
                self.seats.reset(seat)
            self._record(seat, d, "injecting")
            out = self._prepare(seat, fault, d, say)
            if checkpoint:
                self.seats.checkpoint(seat)
                self._server_state(seat, fault, "staged")
            return out

    def prepared_base(self, image: str, fault_id: str, *, seed: int, variant: str | None,
                      progress: Progress | None = None):
        """The prepared state a new seat for this draw starts from (made if needed); None if the fault
        has none (labctl/faults/prepared.py says which)."""
        fault = self.catalog.get(fault_id)
        return self.prepared.get(image, fault, draw(fault, seed, variant), progress=progress)

    def holds_other_preparation(self, seat: str, fault_id: str, *, seed: int, variant: str | None) -> bool:
        """Whether the seat was made from a prepared state other than this draw's: its pristine state
        then holds another healthy stage, and the seat must be made again for this one."""
        base = self.seats.info(seat).record.base
        if not base:
            return False
        fault = self.catalog.get(fault_id)
        return not self.prepared.matches(base, fault, draw(fault, seed, variant))

    def _check_image(self, seat: str, fault: Fault) -> None:
        """A recipe runs on its image and on images that extend it (desktop extends workstation)."""
        from .. import images

        image = self.seats.info(seat).record.image
        try:
            ok = fault.image in images.lineage(self.cfg.images_dir, image)
        except LabError:
            ok = fault.image == image  # the seat's recipe is gone from images/: judge by name
        if not ok:
            raise FaultError(f"fault {fault.id} is written for image {fault.image}; seat {seat} runs {image}",
                             hint=f"use a seat of image {fault.image} or of one that extends it")

    def _prepare(self, seat: str, fault: Fault, d: Draw, say: Progress) -> tuple[Draw, list[PlaybookResult]]:
        base = self.seats.info(seat).record.base
        with self._rollback(seat, say):
            if base and self.prepared.matches(base, fault, d):
                say(f"seat {seat}: {fault.id} ({d.variant}): prepared already (made from its prepared state)")
                res = None
            elif base:
                raise FaultError(f"seat {seat} was made from the prepared state of {base.get('fault')} "
                                 f"({base.get('variant')}): its pristine state holds that recipe's healthy stage, "
                                 f"not the one {fault.id} ({d.variant}) needs",
                                 hint=f"make the seat again for it: labctl seat destroy {seat} && labctl seat create "
                                      f"{seat} (a session's reset-seat --new-fault does this itself)")
            else:
                say(f"seat {seat}: {fault.id} ({d.variant}): prepare")
                res = self._step_ok(seat, fault, d, "prepare")
            self._snapshot(seat, fault, d)
            self._record(seat, d, "prepared")
        return d, [res] if res else []

    def restage(self, seat: str, checkpoint: str = "staged") -> float:
        """Return a staged seat to a checkpoint; seconds taken.

        ``staged`` is the prepared, healthy machine (``stage(checkpoint=True)``);
        ``broken`` the machine right after its injection (:meth:`checkpoint_broken`).
        """
        with self.lock(seat):
            fault, d = self.current_draw(seat)
            started = time.monotonic()
            self.seats.rollback(seat, checkpoint)
            self._server_state(seat, fault, checkpoint, restore=True)
            self._record(seat, d, "injected" if checkpoint == "broken" else "prepared")
            return time.monotonic() - started

    def checkpoint_broken(self, seat: str) -> float:
        """Freeze a staged seat just after its injection, so that ``restage(seat, "broken")`` returns to it."""
        with self.lock(seat):
            cur = self.current(seat)
            if cur is None or cur.state != "injected":
                raise FaultError(f"seat {seat}: no injected fault to freeze")
            secs = self.seats.checkpoint(seat, "broken")
            self._server_state(seat, self.catalog.get(cur.fault), "broken")
            return secs

    def break_staged(self, seat: str, *, progress: Progress | None = None) -> PlaybookResult:
        """Run the recipe's inject step on a staged seat."""
        say = progress or (lambda _m: None)
        with self.lock(seat):
            fault, d = self.current_draw(seat)
            self._record(seat, d, "injecting")
            with self._rollback(seat, say):
                say(f"seat {seat}: {fault.id} ({d.variant}): inject")
                res = self._step_ok(seat, fault, d, "inject")
                self._record(seat, d, "injected")
        assert res is not None
        return res

    def _step_ok(self, seat: str, fault: Fault, d: Draw, step: str) -> PlaybookResult | None:
        res = self.run_step(seat, fault, d, step)
        if res is not None and not res.ok:
            raise FaultError(f"seat {seat}: {fault.id} {step} failed: {res.summary()}",
                             hint=f"the seat was reset to pristine; artefacts: {res.artifacts}")
        return res

    @contextmanager
    def _rollback(self, seat: str, say: Progress) -> Iterator[None]:
        try:
            yield
        except BaseException:
            say(f"seat {seat}: injection failed; resetting to pristine")
            try:
                self.seats.reset(seat)
                self._record(seat, None)
            except LabError as exc:
                say(f"seat {seat}: reset after the failed injection failed too: {exc}")
            raise

    def _snapshot_path(self, seat: str) -> Path:
        return self.seats.folder(seat) / "protected.json"

    def _snapshot(self, seat: str, fault: Fault, d: Draw) -> None:
        """Record the protected files as they are on the healthy machine (host side, root only)."""
        path = self._snapshot_path(seat)
        path.unlink(missing_ok=True)
        if not fault.protect:
            return
        with timing.phase("fault: record the protected files"):
            snap = take_snapshot(self.seats.agent(seat), protected_paths(fault, d))
        path.write_text(json.dumps(snap))
        os.chmod(path, 0o600)

    def snapshot(self, seat: str) -> dict | None:
        try:
            return json.loads(self._snapshot_path(seat).read_text())
        except (OSError, ValueError):
            return None

    def route(self, seat: str) -> tuple[Channel | None, str]:
        """How checks reach the guest: the agent if it answers, else SSH with sudo; None if neither.

        The trainee can stop the agent or break the network; checks then take the
        other road, and say which one they took. With no road, no verdict.
        """
        agent = self.seats.agent(seat)
        if agent.ping(timeout=3):
            return agent, ""
        why = "guest agent does not answer"
        try:
            ssh = self.seats.root_ssh(seat)
            probe = ssh.run(["/bin/true"], timeout=30)
            if probe.ok:
                return ssh, why
            why += f"; ssh with sudo failed (rc={probe.rc}: {probe.stderr.strip()[:120]})"
        except LabError as exc:
            why += f"; {exc.message}"
        return None, why

    def check(self, seat: str) -> CheckReport:
        fault, d = self.current_draw(seat)
        chan, why = self.route(seat)
        if chan is None:
            report = self._check_from_disk(seat, fault, d, why)
        else:
            with timing.phase("checks: run (one guest command)"):
                report = run_checks(chan, fault, d, self.snapshot(seat), seat_ctx=self._seat_ctx(seat),
                                    programs=self.seats.programs_record(seat), **self._company_road(seat, fault))
            if why:
                report = dataclasses.replace(report, routes=(f"{chan.name} ({why})",))
        run_dir = self.run_dir(seat, fault.id, "check")
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "check.json").write_text(json.dumps({**report.as_dict(), "seat": seat, "seed": d.seed}, indent=2))
        return report

    def _seat_ctx(self, seat: str) -> dict:
        """What check templates may use from the seat itself: the user's password (what they type)."""
        creds = self.seats.credentials(seat)
        return {"user_password": creds.user_password if creds else "", "company_user": company_user(seat)}

    def _company_road(self, seat: str, fault: Fault) -> dict:
        """The company server's channel for checks with ``on: company``, or why there is none."""
        if not fault.company_server:
            return {}
        try:
            return {"company": self._company(seat).agent()}
        except LabError as exc:
            return {"company_why": exc.message}

    def _check_from_disk(self, seat: str, fault: Fault, d: Draw, why: str) -> CheckReport:
        """No road into the running seat: judge what its disk shows (labctl.rescue); else no verdict."""
        from ..rescue import open_disk

        try:
            with open_disk(self.seats, seat) as chan:
                report = run_checks(chan, fault, d, self.snapshot(seat), offline_only=True,
                                    seat_ctx=self._seat_ctx(seat), programs=self.seats.programs_record(seat),
                                    **self._company_road(seat, fault))
        except LabError as exc:
            return unreachable_report(fault, d, f"{why}; reading its disk failed: {exc.message}")
        return dataclasses.replace(report, routes=(f"disk ({why}; a rescue machine read a copy of its disk)",))

    def fix(self, seat: str) -> PlaybookResult:
        fault, d = self.current_draw(seat)
        res = self.run_step(seat, fault, d, "fix")
        assert res is not None  # fix.yml is required by the manifest loader
        return res

    def repair(self, seat: str, repair_id: str) -> PlaybookResult:
        fault, d = self.current_draw(seat)
        rep = self.find_repair(fault, repair_id)
        res = self.run_step(seat, fault, d, f"repair-{rep.id}", rep.playbook)
        assert res is not None
        return res

    @staticmethod
    def find_repair(fault: Fault, repair_id: str) -> RepairSpec:
        for r in fault.repairs:
            if r.id == repair_id:
                return r
        raise ConfigError(f"fault {fault.id} declares no repair '{repair_id}'",
                          hint="repairs: " + (", ".join(r.id for r in fault.repairs) or "none"))

    def ticket(self, seat: str, lang: str = "en"):
        fault, d = self.current_draw(seat)
        return render_ticket(fault, d, lang, seat=seat)
