"""The checks' own tools: the host's static busybox, put into the guest for one check run.

A trainee has root on their seat. A check that asked the seat's own ``df`` or ``stat``
would believe a replaced program: two fake programs were enough to make a full disk
pass every check. So a check run brings its tools from the host: the guest agent
writes Debian's static busybox (package ``busybox-static``) to ``/dev/shm/.labctl-tools``
(memory; ``/run`` is mounted noexec on Debian; a folder only root may write), reads it
back to prove it arrived unchanged, and runs the whole batch with it. Debian builds it with
``FEATURE_SH_STANDALONE`` and ``FEATURE_PREFER_APPLETS``: a script run by that shell
gets busybox's own ``df``, ``du``, ``stat``, ``find``, ``sha256sum``... whatever the
guest's ``PATH`` holds. A static program does not read ``/etc/ld.so.preload`` either.
The copy stays there for the next run, which reads it back again before it runs it
(0.25 s) and writes it only when it is missing or differs (0.7 s more): a restore to a
state saved before it came, a reboot, or a change by anyone in the guest.

What busybox does not have (``systemctl``, ``sudo``, ``curl``, a recipe's own command
checks) still runs from the guest; the security baseline's ``baseline-image-programs``
rule, run with busybox, fails when one of the image's programs was replaced.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from ..errors import HostError

HOST_BUSYBOX = "/bin/busybox"
GUEST_DIR = "/dev/shm"  # tmpfs and not noexec (Debian mounts /run noexec)
KEPT_DIR = f"{GUEST_DIR}/.labctl-tools"  # root's, 0755: users run the tools, only root may write here
KEPT_TOOLS = f"{KEPT_DIR}/busybox"
# The guest agent drops a command of a few hundred KiB (libvirt then reports it "not
# responding" for a while); 48 KiB chunks were measured safe and as fast as bigger ones.
CHUNK = 48 * 1024


def host_busybox_path() -> Path:
    return Path(os.environ.get("LABCTL_BUSYBOX", HOST_BUSYBOX))


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int, size: int) -> bytes:
    data = Path(path).read_bytes()
    if not is_static_elf(data):
        raise HostError(f"{path} is not a statically linked program",
                        hint="labctl's checks need Debian's static busybox: apt-get install busybox-static")
    return data


def host_busybox() -> bytes:
    """The static busybox the checks bring into the guest (read once per file version)."""
    path = host_busybox_path()
    try:
        st = path.stat()
    except OSError:
        raise HostError(f"{path} is missing: the checks bring their tools from the host",
                        hint="apt-get install busybox-static (scripts/setup.sh installs it)") from None
    return _load(str(path), st.st_mtime_ns, st.st_size)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_static_elf(data: bytes) -> bool:
    """A 64-bit little-endian ELF program with no program interpreter (PT_INTERP)."""
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return False
    e_type = int.from_bytes(data[16:18], "little")
    phoff = int.from_bytes(data[32:40], "little")
    phentsize = int.from_bytes(data[54:56], "little")
    phnum = int.from_bytes(data[56:58], "little")
    if e_type not in (2, 3) or phentsize < 4 or phoff + phentsize * phnum > len(data):
        return False
    for i in range(phnum):
        off = phoff + i * phentsize
        if int.from_bytes(data[off:off + 4], "little") == 3:  # PT_INTERP: needs a loader
            return False
    return True
