"""Where every saved state of a machine lives, and what its files are called.

A seat's disk is a chain of qcow2 layers; each one below the top is frozen when a
state is saved on it, next to that state's saved memory:

    <cache_dir>/images/<image>/<hash>/disk.qcow2       the built image
      <- <cache_dir>/warm/<image>/<key>/golden.qcow2   the image's warm state (+ golden.save, golden.json)
      <- <seat folder>/pristine.qcow2                   the seat as created (+ pristine.save)
      <- <seat folder>/<name>.qcow2                     checkpoints: fault test's "staged" and "broken" (+ <name>.save)
      <- <seat folder>/disk.qcow2                       the live overlay the machine runs on

:class:`StateStore` names a machine's layers in its folder, :class:`Golden` and
:func:`warm_folder` the image's warm state in the cache. The file names are those
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
