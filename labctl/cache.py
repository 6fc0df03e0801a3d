"""What labctl keeps in its cache outside seats, and pruning what is no longer needed.

The cache (``cache_dir``) holds built images (``images/<name>/<hash>/``, see
:mod:`labctl.images`) and their warm states (``warm/<image>/<key>/``, see
:mod:`labctl.machines.states`). Each entry is *current* (what a new seat would
use today), *stale* (an older recipe, domain template or seat size) or *broken*
(a build or warm state that never finished, or lost a file). Machines on the
host are layers on a build and its warm states, so an entry a machine still
uses is never removed, whatever its status. A third kind, fault recipes' prepared
states (``prepared/<image>/<key>/``, see :mod:`labctl.faults.prepared`), are
layers on a warm state; one is current only on the day it was made, for today's
recipe, warm state and prepare contract, and in use while a seat made from it exists.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from . import images
from .config import Config
from .machines.inventory import ImageUser
from .machines.spec import DOMAIN_TEMPLATE
from .machines.states import Golden, Prepared, warm_key
from .ports import state_lock

CURRENT, STALE, BROKEN = "current", "stale", "broken"
IMAGE, WARM, PREPARED = "image", "warm state", "prepared state"
# A build folder touched more recently than this may belong to a build running now (builds take no lock).
BUILDING_SECONDS = 30 * 60
IMAGE_FILES = ("image.json", "disk.qcow2", "vmlinuz", "initrd.img")


@dataclass(frozen=True)
class Entry:
    """One cached artefact: a built image or a warm state."""

    kind: str  # IMAGE, WARM or PREPARED
    image: str
    key: str  # a build's recipe hash, or a warm or prepared state's key
    folder: Path
    size_bytes: int  # allocated on disk (sparse files count what they hold)
    status: str  # CURRENT, STALE or BROKEN
    digest: str = ""  # the build it belongs to (a warm state's image hash); "" if unknown
    made_at: str = ""
    users: tuple[str, ...] = ()  # machines on this host that run on it
    problem: str = ""  # what is wrong with a broken entry
    what: str = ""  # a prepared state's fault and variant

    @property
    def in_use(self) -> bool:
        return bool(self.users)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "image": self.image, "key": self.key, "digest": self.digest,
                "status": self.status, "in_use": self.in_use, "users": list(self.users),
                "size_bytes": self.size_bytes, "made_at": self.made_at, "path": str(self.folder),
                "problem": self.problem, **({"what": self.what} if self.what else {})}


@dataclass(frozen=True)
class Decision:
    """What prune does with one entry, and why."""

    entry: Entry
    remove: bool
    reason: str


@dataclass(frozen=True)
class Removal:
    entry: Entry
    freed_bytes: int
    error: str = ""  # set when the entry could be removed only in part (or not at all)


@dataclass(frozen=True)
class PruneResult:
    decisions: tuple[Decision, ...]
    removals: tuple[Removal, ...]  # empty on a dry run
    dry_run: bool

    @property
    def freed_bytes(self) -> int:
        if self.dry_run:
            return sum(d.entry.size_bytes for d in self.decisions if d.remove)
        return sum(r.freed_bytes for r in self.removals)


def allocated_bytes(path: Path) -> int:
    """Space a file or folder takes on disk: allocated blocks, each inode once, symlinks not followed."""
    seen: set[tuple[int, int]] = set()
    total = 0

    def add(p: str) -> None:
        nonlocal total
        try:
            st = os.lstat(p)
        except OSError:
            return
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512

    if not path.is_dir() or path.is_symlink():
        add(str(path))
        return total
    add(str(path))
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            add(os.path.join(root, name))
    return total


def _stamp(path: Path) -> str:
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime))
    except OSError:
        return ""


def _newest_mtime(folder: Path) -> float:
    times = [folder.stat().st_mtime]
    for p in folder.iterdir():
        try:
            times.append(p.lstat().st_mtime)
        except OSError:
            pass
    return max(times)


class _Recipes:
    """Today's recipe hash and warm keys of each image, computed once per inspection."""

    def __init__(self, cfg: Config, accel: str | None):
        self.cfg = cfg
        self.known = set(images.list_recipes(cfg.images_dir))
        # Unknown acceleration (libvirt not asked): a warm state for either kind counts as current.
        self.accels = (accel,) if accel else ("kvm", "qemu")
        self._recipes: dict[str, images.Recipe | None] = {}
        self._digests: dict[str, str | None] = {}

    def recipe(self, name: str) -> images.Recipe | None:
        """None when the recipe is gone; a recipe that does not load raises its ConfigError (never guessed)."""
        if name not in self._recipes:
            self._recipes[name] = images.load_recipe(self.cfg.images_dir, name) if name in self.known else None
        return self._recipes[name]

    def digest(self, name: str) -> str | None:
        if name not in self._digests:
            r = self.recipe(name)
            self._digests[name] = r.digest() if r else None
        return self._digests[name]

    def warm_keys(self, name: str) -> set[str]:
        r, digest = self.recipe(name), self.digest(name)
        if r is None or digest is None:
            return set()
        memory = r.seat_memory_mib(self.cfg.seat_memory_mib)  # as seat creation sizes it
        tmpl = DOMAIN_TEMPLATE.read_bytes()
        return {warm_key(digest=digest, template=tmpl, accel=a, memory_mib=memory, vcpus=self.cfg.seat_vcpus)
                for a in self.accels}


def _image_problem(folder: Path) -> str:
    if folder.name.startswith(".build-"):
        return "unfinished build (its process stopped, or it is building now)"
    missing = [f for f in IMAGE_FILES if not (folder / f).is_file()]
    if "image.json" in missing:
        return "no image.json: the build never finished"
    if missing:
        return "missing " + ", ".join(missing)
    return "image.json unreadable or incomplete"


def _warm_problem(folder: Path) -> str:
    if folder.name.endswith(".part"):
        return "unfinished warm state (its process stopped, or it is being made now)"
    g = Golden(folder=folder, mac="")
    missing = [p.name for p in (folder / "golden.json", g.save, g.disk) if not p.is_file()]
    return ("missing " + ", ".join(missing)) if missing else "golden.json unreadable"


def _users(users: Iterable[ImageUser]) -> dict[tuple[str, str], tuple[str, ...]]:
    out: dict[tuple[str, str], list[str]] = {}
    for u in users:
        out.setdefault((u.image, u.digest), []).append(u.machine)
    return {k: tuple(sorted(set(v))) for k, v in out.items()}


def inspect(cfg: Config, users: Iterable[ImageUser], *, accel: str | None = None) -> list[Entry]:
    """Every built image and warm state in the cache, with its status and the machines using it.

    ``users``: the machines on this host and their builds (:func:`labctl.machines.inventory.image_users`).
    ``accel``: the acceleration seats get today ("kvm" or "qemu"), part of a warm state's key.
    """
    by_build = _users(users)
    recipes = _Recipes(cfg, accel)
    out: list[Entry] = []
    built = {b.folder: b for b in images.list_built(cfg)}
    if cfg.image_cache.is_dir():
        for folder in sorted(p for p in cfg.image_cache.glob("*/*") if p.is_dir()):
            name = folder.parent.name
            b = built.get(folder)
            key = "" if folder.name.startswith(".") else folder.name
            if b is not None:
                status = CURRENT if recipes.digest(name) == key else STALE
            else:
                status = BROKEN
            out.append(Entry(kind=IMAGE, image=name, key=key, folder=folder, size_bytes=allocated_bytes(folder),
                             status=status, digest=key, made_at=b.built_at if b else _stamp(folder),
                             users=by_build.get((name, key), ()) if key else (),
                             problem="" if b else _image_problem(folder)))
    warm_root = cfg.cache_dir / "warm"
    if warm_root.is_dir():
        for folder in sorted(p for p in warm_root.glob("*/*") if p.is_dir()):
            name = folder.parent.name
            g = Golden.load(folder)
            key, problem = folder.name.removeprefix(".").removesuffix(".part"), ""
            try:
                meta = json.loads((folder / "golden.json").read_text())
                digest = str(meta.get("digest", ""))
            except (OSError, ValueError, AttributeError):
                meta, digest = {}, ""
            if g is not None and (meta.get("key") not in (None, folder.name) or meta.get("image") not in (None, name)):
                g, problem = None, f"golden.json names {meta.get('image')}/{meta.get('key')}, not its folder"
            if g is None:
                status, problem = BROKEN, problem or _warm_problem(folder)
            else:
                status = CURRENT if key in recipes.warm_keys(name) else STALE
            # A machine made from a warm state runs on its disk; which warm state of a build
            # it came from is not recorded, so every warm state of a build in use is kept.
            # A half-made one (.part) is only ever used by the machine making it; a broken
            # finished one whose build is unknown is kept while any machine runs that image.
            if digest:
                using = by_build.get((name, digest), ())
            elif folder.name.endswith(".part"):
                using = tuple(sorted({m for (img, _d), ms in by_build.items() if img == name for m in ms
                                      if m == f"golden-{key[:8]}"}))
            else:
                using = tuple(sorted({m for (img, _d), ms in by_build.items() if img == name for m in ms}))
            out.append(Entry(kind=WARM, image=name, key=key, folder=folder, size_bytes=allocated_bytes(folder),
                             status=status, digest=digest, made_at=_stamp(folder / "golden.json")
                             if g else _stamp(folder), users=using, problem=problem))
    out.extend(_prepared_entries(cfg, users, recipes))
    return out


def _prepared_entries(cfg: Config, users: Iterable[ImageUser], recipes: "_Recipes") -> list[Entry]:
    from .faults.prepared import MACHINE_PREFIX, contract_hash, today
    from .faults.provenance import folder_hash

    root = cfg.cache_dir / "prepared"
    if not root.is_dir():
        return []
    by_key: dict[str, list[str]] = {}
    for u in users:
        if u.prepared:
            by_key.setdefault(u.prepared, []).append(u.machine)
        elif u.machine.startswith(MACHINE_PREFIX):
            by_key.setdefault(u.machine, []).append(u.machine)  # a prepared state being made now
    contract, day, recipe_hashes = contract_hash(), today(), {}
    out = []
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
        name = folder.parent.name
        key = folder.name.removeprefix(".").removesuffix(".part")
        p = Prepared.load(folder)
        using = tuple(sorted(set(by_key.get(key, []) + by_key.get(MACHINE_PREFIX + key[:8], []))))
        if p is None:
            problem = ("unfinished prepared state (its process stopped, or it is being made now)"
                       if folder.name.endswith(".part") else "prepared.json or a saved file is missing")
            out.append(Entry(kind=PREPARED, image=name, key=key, folder=folder, size_bytes=allocated_bytes(folder),
                             status=BROKEN, made_at=_stamp(folder), users=using, problem=problem))
            continue
        meta = p.meta
        fault_dir = cfg.faults_dir / str(meta.get("fault", ""))
        if fault_dir not in recipe_hashes:
            recipe_hashes[fault_dir] = folder_hash(fault_dir) if (fault_dir / "fault.yaml").is_file() else None
        current = (meta.get("day") == day and meta.get("contract") == contract
                   and meta.get("recipe") == recipe_hashes[fault_dir] and meta.get("warm") in recipes.warm_keys(name))
        out.append(Entry(kind=PREPARED, image=name, key=key, folder=folder, size_bytes=allocated_bytes(folder),
                         status=CURRENT if current else STALE, made_at=str(meta.get("made", "")), users=using,
                         what=f"{meta.get('fault')}/{meta.get('variant')}"))
    return out


def _mounts_under(folder: Path) -> list[str]:
    """File systems mounted inside ``folder`` (an interrupted mmdebstrap leaves /proc, /dev... in its root)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    prefix = str(folder.resolve()) + "/"
    points = []
    for line in lines:
        fields = line.split()
        if len(fields) > 4:
            point = fields[4].encode().decode("unicode_escape")
            if point.startswith(prefix):
                points.append(point)
    return points


def plan(entries: list[Entry], *, all_stale: bool = False, now: float | None = None) -> list[Decision]:
    """What to remove: stale and broken entries no machine uses.

    The newest stale build of each image (the one before its current recipe) and
    its warm states are kept, so that undoing a recipe change costs no rebuild,
    unless ``all_stale``.
    """
    now = time.time() if now is None else now
    previous: dict[str, Entry] = {}
    if not all_stale:
        for e in entries:
            if e.kind == IMAGE and e.status == STALE:
                if e.image not in previous or e.made_at > previous[e.image].made_at:
                    previous[e.image] = e
    out = []
    for e in entries:
        if e.status == CURRENT:
            out.append(Decision(e, False, "current"))
        elif e.in_use:
            out.append(Decision(e, False, "in use by " + ", ".join(e.users)))
        elif e.status == STALE and e.image in previous and e.digest == previous[e.image].key:
            out.append(Decision(e, False, "the build before the current recipe (--all-stale removes it)"))
        elif e.status == BROKEN and e.kind == IMAGE and e.folder.name.startswith(".build-") \
                and now - _newest_mtime(e.folder) < BUILDING_SECONDS:
            out.append(Decision(e, False, "may be building now (changed in the last "
                                          f"{BUILDING_SECONDS // 60} min)"))
        elif mounts := _mounts_under(e.folder):
            out.append(Decision(e, False, f"file systems still mounted inside it ({mounts[0]}); "
                                          f"unmount them: umount -R {mounts[0]}"))
        else:
            out.append(Decision(e, True, e.problem if e.status == BROKEN else "stale"))
    return out


def _remove(entry: Entry) -> Removal:
    errors: list[str] = []

    def failed(_func, path, exc_info) -> None:
        exc = exc_info[1]
        errors.append(f"{path}: {getattr(exc, 'strerror', None) or exc}")

    shutil.rmtree(entry.folder, onerror=failed)  # onexc from Python 3.12 on; the project supports 3.11
    if entry.kind == PREPARED and not errors:
        (entry.folder.parent / f".{entry.key}.lock").unlink(missing_ok=True)
    left = allocated_bytes(entry.folder) if entry.folder.exists() else 0
    error = ""
    if errors:
        error = f"removed in part, {len(errors)} path(s) left: " + "; ".join(errors[:3])
    return Removal(entry, max(0, entry.size_bytes - left), error)


def prune(cfg: Config, users: Iterable[ImageUser], *, accel: str | None = None, all_stale: bool = False,
          dry_run: bool = False) -> PruneResult:
    """Remove the stale and broken entries no machine on this host uses (see :func:`plan`).

    Holds the cache lock, so no warm state is being made meanwhile (a half-made one
    found then was left by a stopped process).
    """
    users = list(users)
    if not cfg.cache_dir.is_dir():
        return PruneResult((), (), dry_run)
    with state_lock(cfg.cache_dir):
        decisions = tuple(plan(inspect(cfg, users, accel=accel), all_stale=all_stale))
        if dry_run:
            return PruneResult(decisions, (), True)
        # Prepared states first, then warm states: each is a layer on the next.
        rank = {PREPARED: 0, WARM: 1, IMAGE: 2}
        order = sorted((d for d in decisions if d.remove), key=lambda d: rank[d.entry.kind])
        return PruneResult(decisions, tuple(_remove(d.entry) for d in order), False)
