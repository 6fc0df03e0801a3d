"""Host port allocation for seat forwards, without clashes."""

from __future__ import annotations

import fcntl
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .errors import HostError


def port_is_free(address: str, port: int) -> bool:
    """True if nothing listens on address:port (we can bind it)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        # QEMU's forwards bind with SO_REUSEADDR; a port in TIME_WAIT is free for them.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def allocate(services: Iterable[str], used: set[int], first: int, last: int,
             is_free: Callable[[int], bool]) -> dict[str, int]:
    """Give each service the lowest port in [first, last] not used and free."""
    out: dict[str, int] = {}
    taken = set(used)
    port = first
    for svc in services:
        while port <= last and (port in taken or not is_free(port)):
            port += 1
        if port > last:
            raise HostError(
                f"no free host port left in {first}-{last} for {svc}",
                hint="destroy unused seats or widen port_min/port_max in the config",
            )
        out[svc] = port
        taken.add(port)
        port += 1
    return out


def try_lock(path: Path) -> int | None:
    """Take the lock file ``path`` if nobody holds it: its descriptor (close it to let go), else None."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


@contextmanager
def state_lock(state_dir: Path, name: str = ".lock") -> Iterator[None]:
    """Serialise operations that allocate ports or names across processes (and threads).

    ``name``: another lock file in the same folder, for a narrower lock (one prepared state).
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / name, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
