"""Prepared states: a recipe's healthy stage run once, saved, and restored by every seat that needs it.

A recipe's ``prepare`` playbook builds what the user had before anything broke
(documents, a sync agent, a backup, an account policy). Most of it is the same
for every seat, and running it costs a seat 10-40 s under software emulation. So
for each (image warm state, recipe content, prepare contract, variant, prepare
values, day) labctl runs it once on a machine restored from the image's warm
state, and saves that machine, memory and disk, in the cache:

    <cache_dir>/prepared/<image>/<key>/prepared.qcow2   a layer on the warm state's disk
                                       prepared.save    its memory
                                       prepared.json    what it is, each file's size and SHA-256

Seats are then made from it as from the warm state (labctl.seats: restore,
personalise, save the pristine state) and go straight to the inject step.

- **What seats share.** The prepare stage gets only the parameters marked
  ``prepare: true`` (drawn from a pool of :data:`~labctl.faults.draw.PREPARED_POOL`
  draws per variant) and the variant's own values that need nothing else; every
  other parameter is drawn per seat and reaches inject, fix and repairs only. Two
  seats share a prepared state only with the same variant and pool draw; seat
  identity (host name, passwords, keys) is made afterwards, per seat.
- **The day is in the key**: recipes date the user's files relative to the day
  they are made ("last night's backup").
- **Checked before use.** A state whose files are missing, truncated or differ from
  the checksums in ``prepared.json`` is removed and made again, never restored
  (checked once per process). One lock per key: two labctl processes (or threads)
  that need the same state make it once. A state is made in ``.<key>.part`` and
  renamed when complete, so a process killed while saving leaves nothing a later
  run would load.
- **Which recipes.** Those whose prepare stage does not need the seat's own
  identity: recipes wired to the company server (``network: company``) run their
  prepare stage on the seat, after its VPN identity and network folder exist.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Callable

from .. import images, timing
from ..config import Config
from ..errors import LabError
from ..machines.inventory import image_users
from ..machines.spec import domain_name
from ..machines.states import Prepared, prepared_folder, prepared_key, warm_work_folder
from ..machines.inventory import read_seat_record
from ..ports import state_lock, try_lock
from . import confine, playbook as playbook_mod
from .draw import Draw, context, prepare_values
from .manifest import Fault
from .provenance import folder_hash

Progress = Callable[[str], None]
# A machine that makes a prepared state is named after its key (labctl-prep-<key[:8]>).
MACHINE_PREFIX = "prep-"


class PreparedError(LabError):
    pass


def in_use(backend) -> set[str]:
    """Keys of the prepared states the host's machines were made from (every lab's)."""
    return {u.prepared for u in image_users(backend) if u.prepared}


def contract_hash() -> str:
    """labctl's side of the prepare stage (how playbooks are run, confined and given roles)."""
    h = hashlib.sha256()
    for f in (Path(playbook_mod.__file__), Path(confine.__file__)):
        h.update(f.read_bytes())
    h.update(folder_hash(playbook_mod.ROLES_DIR).encode())
    return h.hexdigest()[:16]


def values_digest(fault: Fault, d: Draw) -> str:
    return hashlib.sha256(json.dumps(prepare_values(fault, d), sort_keys=True, default=str).encode()).hexdigest()[:16]


def today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


class PreparedStates:
    """Find, make and check the prepared states of the fault catalogue's recipes."""

    _verified: set[tuple[str, float]] = set()  # (folder, prepared.json mtime) checked in this process
    _guard = threading.Lock()

    def __init__(self, cfg: Config, seats):
        self.cfg = cfg
        self.seats = seats

    def why_not(self, fault: Fault) -> str:
        """Why seats of this fault do not start from a prepared state ("" when they do)."""
        if not self.cfg.prepared_states:
            return "prepared states are turned off (prepared_states: false)"
        if not self.cfg.warm_start:
            return "warm_start is off: a prepared state is a layer on the image's warm state"
        if fault.needs_company:
            return "its prepare stage runs on the seat, wired to the company server (VPN identity, network folder)"
        if fault.playbook("prepare") is None:
            return "it has no prepare stage"
        return ""

    def matches(self, base: dict[str, str], fault: Fault, d: Draw) -> bool:
        """Whether a seat made from ``base`` (its record's ``base``) already holds this draw's healthy stage."""
        return bool(base) and base.get("fault") == fault.id and base.get("variant") == d.variant \
            and base.get("values") == values_digest(fault, d)

    def key(self, image: str, fault: Fault, d: Draw, *, progress: Progress | None = None) -> tuple[str, str]:
        """(the image's build name, the prepared state's key) for this draw on this image."""
        golden = self.seats.warm_up(image, progress=progress)
        built = images.find_built(self.cfg, image)
        warm = golden.folder.name
        return built.name, prepared_key(warm=warm, fault=fault.id, recipe=folder_hash(fault.folder),
                                        contract=contract_hash(), variant=d.variant,
                                        values=values_digest(fault, d), day=today())

    def get(self, image: str, fault: Fault, d: Draw, *, progress: Progress | None = None) -> Prepared | None:
        """The prepared state for this draw on this image, made if needed; None if the fault has none."""
        if self.why_not(fault):
            return None
        image = image or self.cfg.default_image
        say = progress or (lambda _m: None)
        name, key = self.key(image, fault, d, progress=say)
        final = prepared_folder(self.cfg.cache_dir, name, key)
        found = self._usable(final, say)
        if found:
            return found
        with state_lock(final.parent, f".{key}.lock"):
            found = self._usable(final, say, locked=True)
            if found:
                return found
            return self._make(image, name, key, final, fault, d, say)

    def _tidy(self, folder: Path, say: Progress) -> None:
        """Remove this image's prepared states of other days that no machine was made from.

        They are made again each day, so without this they would pile up in the cache
        (about the seat's memory each); ``labctl cache prune`` removes the rest.
        """
        try:
            used = in_use(self.seats.backend)
        except LabError:
            return
        for old in folder.iterdir():
            if not old.is_dir() or old.name.startswith(".") or old.name in used:
                continue
            p = Prepared.load(old)
            if p is None or p.meta.get("day") == today():
                continue
            with state_lock(folder, f".{old.name}.lock"):
                shutil.rmtree(old, ignore_errors=True)
            (folder / f".{old.name}.lock").unlink(missing_ok=True)
            say(f"removed the prepared state {old.name} of {p.meta.get('day')} (no machine was made from it)")

    def _usable(self, folder: Path, say: Progress, *, locked: bool = False) -> Prepared | None:
        """The state in ``folder`` if it is complete and matches its checksums.

        ``locked``: the caller holds the state's lock; a bad state is then removed.
        """
        if not folder.exists():
            return None
        p = Prepared.load(folder)
        try:
            stamp = (str(folder), (folder / "prepared.json").stat().st_mtime)
        except OSError:
            stamp = None
        with self._guard:
            if p is not None and stamp in self._verified:
                return p
        problem = "its record or a file is missing" if p is None else p.problem()
        if not problem:
            with self._guard:
                self._verified.add(stamp)
            return p
        if locked:
            say(f"prepared state {folder.name}: {problem}; making it again")
            shutil.rmtree(folder)
        return None

    def _orphans(self, folder: Path, own: str, say: Progress) -> None:
        """Remove machines left making a prepared state by a labctl process that was killed.

        A machine making one holds its key's lock all along; one whose lock nobody
        holds was left behind (about a seat's memory, running), with its ``.part`` folder.
        """
        backend = self.seats.backend
        for dom in backend.list_domains():
            rec = read_seat_record(backend, dom)
            if rec is None or rec.state != "prepared" or not rec.name.startswith(MACHINE_PREFIX):
                continue
            short = rec.name.removeprefix(MACHINE_PREFIX)
            if own.startswith(short):
                continue  # ours: scratch() replaces it
            locks = sorted(folder.parent.glob(f"*/.{short}*.lock"))  # of any image
            fds = [try_lock(lk) for lk in locks]
            try:
                if locks and all(fd is not None for fd in fds):
                    say(f"removing {dom.name()}, left making a prepared state by a labctl that stopped")
                    backend.undefine(dom)
                    for lk in locks:
                        shutil.rmtree(lk.parent / f".{lk.name.removeprefix('.').removesuffix('.lock')}.part",
                                      ignore_errors=True)
            finally:
                for fd in fds:
                    if fd is not None:
                        os.close(fd)

    def _make(self, image: str, name: str, key: str, final: Path, fault: Fault, d: Draw, say: Progress) -> Prepared:
        self._orphans(final.parent, key, say)
        say(f"making the prepared state of {fault.id} ({d.variant}) on image {name} (once per variant and draw)")
        started = time.monotonic()
        work = warm_work_folder(final)
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        work.chmod(0o755)
        machine = f"{MACHINE_PREFIX}{key[:8]}"
        dom = None
        try:
            dom, golden = self.seats.scratch(image, machine, work / "prepared.qcow2", progress=say)
            values = prepare_values(fault, d)
            shown = Draw(fault=d.fault, variant=d.variant, seed=0, params=values)
            lab = {**context(shown), "seat": "prepared", "fault": fault.id, "step": "prepare"}
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            run_dir = self.cfg.runs_dir / f"{stamp}-{machine}-{fault.id}-prepare"
            with timing.phase("fault: prepare playbook (prepared state)"):
                res = playbook_mod.run_playbook(playbook=fault.playbook("prepare"), domain=domain_name(machine),
                                                libvirt_uri=self.cfg.libvirt_uri, extravars={"lab": lab, **values},
                                                run_dir=run_dir, recipe_dir=fault.folder)
            agent = self.seats.backend.agent(dom)
            agent.sh(playbook_mod.CLEANUP_SCRIPT + "; sync", timeout=60)
            if not res.ok:
                raise PreparedError(f"{fault.id} ({d.variant}): the prepare stage failed on its prepared state: "
                                    f"{res.summary()}", hint=f"artefacts: {run_dir}; a prepare stage gets only "
                                    "the parameters marked `prepare: true` (docs/faults.md)")
            with timing.phase("fault: save the prepared state"):
                self.seats.backend.save(dom, str(work / "prepared.save"))
                self.seats.backend.undefine(dom)
                dom = None
            (work / "console.log").unlink(missing_ok=True)
            Prepared.write_meta(work, key=key, image=name, warm=golden.folder.name, mac=golden.mac,
                                fault=fault.id, variant=d.variant, values=values_digest(fault, d),
                                recipe=folder_hash(fault.folder), contract=contract_hash(), day=today(),
                                made=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            for f in work.iterdir():
                f.chmod(0o644)
            os.rename(work, final)
        except BaseException:
            if dom is not None:
                try:
                    self.seats.backend.undefine(dom)
                except LabError:
                    pass
            shutil.rmtree(work, ignore_errors=True)
            raise
        self._tidy(final.parent, say)
        secs = time.monotonic() - started
        timing.record("fault: make a prepared state", secs)
        say(f"prepared state of {fault.id} ({d.variant}) ready in {secs:.1f} s")
        made = Prepared.load(final)
        assert made is not None
        with self._guard:
            self._verified.add((str(final), (final / "prepared.json").stat().st_mtime))
        return made
