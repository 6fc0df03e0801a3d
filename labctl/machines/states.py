"""Where every saved state of a machine lives, and what its files are called.

A seat's disk is a chain of qcow2 layers; each one below the top is frozen when a
state is saved on it, next to that state's saved memory:

    <cache_dir>/images/<image>/<hash>/disk.qcow2       the built image
      <- <cache_dir>/warm/<image>/<key>/golden.qcow2   the image's warm state (+ golden.save, golden.json)
      <- <cache_dir>/prepared/<image>/<key>/prepared.qcow2
                                                        a fault's prepared state, for seats of a session
                                                        (+ prepared.save, prepared.json; see labctl.faults.prepared)
      <- <seat folder>/pristine.qcow2                   the seat as created (+ pristine.save)
      <- <seat folder>/<name>.qcow2                     checkpoints: fault test's "staged" and "broken" (+ <name>.save)
      <- <seat folder>/disk.qcow2                       the live overlay the machine runs on

:class:`StateStore` names a machine's layers in its folder, :class:`Golden` and
:func:`warm_folder` the image's warm state in the cache, :class:`Prepared` and
:func:`prepared_folder` a fault's prepared state. The file names are those
labctl has always used, so existing caches and seats stay valid.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

# Part of the warm state's key: bump it when what is saved changes in a way the key does not see.
GOLDEN_VERSION = "2"
PRISTINE = "pristine"


@dataclass(frozen=True)
class SavedState:
    """One saved state: the machine's memory (``save``) and the frozen disk it was saved with."""

    save: Path
    disk: Path

    def exists(self) -> bool:
        return self.disk.is_file() and self.save.is_file()


class StateStore:
    """The saved states of one machine (a seat, the company server), in its folder."""

    def __init__(self, folder: Path):
        self.folder = folder

    @property
    def live(self) -> Path:
        """The top layer, the one the machine writes to."""
        return self.folder / "disk.qcow2"

    @property
    def warm_boot(self) -> Path:
        """The seat's own copy of the image's warm memory, restored once at creation and removed."""
        return self.folder / "warm.save"

    def state(self, name: str) -> SavedState:
        return SavedState(save=self.folder / f"{name}.save", disk=self.folder / f"{name}.qcow2")

    @property
    def pristine(self) -> SavedState:
        return self.state(PRISTINE)

    def has(self, name: str) -> bool:
        return self.state(name).exists()

    def drop_checkpoints(self) -> None:
        """Remove every saved state above pristine (the live disk stays)."""
        for p in self.folder.glob("*.save"):
            if p.name != f"{PRISTINE}.save":
                p.unlink(missing_ok=True)
                p.with_suffix(".qcow2").unlink(missing_ok=True)


@dataclass(frozen=True)
class Golden:
    """An image's warm state: saved memory plus the disk it was saved with."""

    folder: Path
    mac: str

    @property
    def save(self) -> Path:
        return self.folder / "golden.save"

    @property
    def disk(self) -> Path:
        return self.folder / "golden.qcow2"

    @classmethod
    def load(cls, folder: Path) -> "Golden | None":
        try:
            meta = json.loads((folder / "golden.json").read_text())
        except (OSError, ValueError):
            return None
        g = cls(folder=folder, mac=meta["mac"])
        return g if g.save.is_file() and g.disk.is_file() else None

    @staticmethod
    def write_meta(folder: Path, *, mac: str, image: str, digest: str, key: str) -> None:
        (folder / "golden.json").write_text(json.dumps({"mac": mac, "image": image, "digest": digest, "key": key}))


def warm_key(*, digest: str, template: bytes, accel: str, memory_mib: int, vcpus: int) -> str:
    """The warm state's key: everything that shapes the saved machine."""
    return hashlib.sha256(b"\0".join([GOLDEN_VERSION.encode(), digest.encode(), template, accel.encode(),
                                      str(memory_mib).encode(), str(vcpus).encode()])
                          ).hexdigest()[:12]


def warm_folder(cache_dir: Path, image: str, key: str) -> Path:
    return cache_dir / "warm" / image / key


def warm_work_folder(final: Path) -> Path:
    """Where a warm state is made before it is renamed into ``final``: never loaded from."""
    return final.parent / f".{final.name}.part"


# Part of every prepared state's key: bump it when what a prepared state holds changes.
PREPARED_VERSION = "1"
PREPARED_FILES = ("prepared.save", "prepared.qcow2")


@dataclass(frozen=True)
class Prepared:
    """A fault's prepared state: the image's warm state with a recipe's healthy stage run, saved.

    Lives in ``<cache_dir>/prepared/<image>/<key>/``: ``prepared.qcow2`` (a layer
    on the warm state's disk), ``prepared.save`` (the memory) and ``prepared.json``
    (what was made, and each file's size and SHA-256). Seats are made from it as
    from the warm state; it is never written to once made.
    """

    folder: Path
    meta: dict

    @property
    def save(self) -> Path:
        return self.folder / "prepared.save"

    @property
    def disk(self) -> Path:
        return self.folder / "prepared.qcow2"

    @property
    def mac(self) -> str:
        return str(self.meta.get("mac", ""))

    @property
    def key(self) -> str:
        return str(self.meta.get("key", self.folder.name))

    @classmethod
    def load(cls, folder: Path) -> "Prepared | None":
        """The state in ``folder`` if its record and both files are there (not yet checksummed)."""
        try:
            meta = json.loads((folder / "prepared.json").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or not isinstance(meta.get("files"), dict):
            return None
        p = cls(folder=folder, meta=meta)
        return p if p.save.is_file() and p.disk.is_file() else None

    def problem(self) -> str:
        """What is wrong with the saved files ("" when each has the size and SHA-256 recorded)."""
        for name in PREPARED_FILES:
            want = self.meta["files"].get(name) or {}
            path = self.folder / name
            try:
                size = path.stat().st_size
            except OSError:
                return f"{name} is missing"
            if size != want.get("size"):
                return f"{name} is {size} bytes, {want.get('size')} were saved (truncated or changed)"
            if file_sha256(path) != want.get("sha256"):
                return f"{name} does not match its checksum"
        return ""

    @staticmethod
    def write_meta(folder: Path, **meta) -> dict:
        meta = {**meta, "files": {n: {"size": (folder / n).stat().st_size, "sha256": file_sha256(folder / n)}
                                  for n in PREPARED_FILES}}
        (folder / "prepared.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        return meta


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def prepared_key(*, warm: str, fault: str, recipe: str, contract: str, variant: str, values: str, day: str) -> str:
    """A prepared state's key: the warm state it is a layer on, the recipe's content, the prepare
    contract (labctl's own playbook plumbing), the variant, the values its prepare stage gets,
    and the day (recipes date the user's files relative to the day they are made)."""
    parts = [PREPARED_VERSION, warm, fault, recipe, contract, variant, values, day]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def prepared_folder(cache_dir: Path, image: str, key: str) -> Path:
    return cache_dir / "prepared" / image / key
