"""The disk route: checks that reach a verdict when the seat itself answers nothing.

A trainee can stop the guest agent and break SSH (or the network) on their seat;
the post-checks must still judge what can be judged. labctl then reads the
seat's disk, the way a technician pulls a drive and reads it in another machine:

1. the seat is paused for a moment (QEMU flushes its disk when it stops), the top
   layer of its disk is copied, and the seat runs on;
2. a *rescue machine* is booted from labctl's own image (never the seat's:
   nothing the trainee changed runs it), with that copy as its second disk;
3. the copy is mounted in the rescue machine (its journal replayed into the copy,
   never into the seat), and each check runs chrooted into it, through the rescue
   machine's own guest agent.

Programs from the seat's disk run only inside the rescue machine, a throwaway
guest with no network forward, never on the host. Only checks that read what
is stored on the disk (``offline`` in the recipe; files, groups, sudo rules and
the protected data by default) are judged this way; the others need the running
machine and stay ``unknown``. The disk shows what the seat had written when it
was paused: a change saved in the last seconds may not be on it yet.
"""

from __future__ import annotations

import contextlib
import fcntl
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

from . import images
from .errors import GuestError, HostError, LabError
from .guest import Channel, CommandResult, as_user
from .machines import throwaway
from .machines.disks import copy_sparse, qemu_img_overlay
from .machines.record import SeatRecord
from .machines.spec import domain_name, random_mac, render_domain_xml
from .machines.states import StateStore

ROOT = "/mnt/seat"
RESCUE_MEMORY_MIB = 768
SYNC_WAIT = 2.0  # seconds for the guest's emergency sync, under software emulation

_MOUNT = (
    f"set -e; mkdir -p {ROOT}; "
    # Read-write, on the throwaway copy: the journal is replayed so the file system is whole.
    f"mount -t ext4 /dev/vdb {ROOT}; "
    f"mount -t proc proc {ROOT}/proc; mount --bind /dev {ROOT}/dev; "
    # /run is a tmpfs on a running seat; the check run keeps its scratch files there.
    f"mount -t tmpfs -o mode=755 tmpfs {ROOT}/run; "
    f"test -x {ROOT}/bin/sh"
)


class DiskChannel(Channel):
    """Commands chrooted into a seat's disk, run by a rescue machine's guest agent."""

    def __init__(self, agent: Channel, root: str = ROOT):
        self.agent = agent
        self.root = root
        self.name = "disk"

    def run(self, argv, *, input: bytes | None = None, timeout: float = 60.0, user: str | None = None) -> CommandResult:
        # The user is looked up in the seat's own /etc/passwd: runuser runs inside the chroot.
        res = self.agent.run(["/usr/sbin/chroot", self.root, *as_user(user, list(argv))], input=input,
                             timeout=timeout)
        return CommandResult(tuple(argv), res.rc, res.stdout, res.stderr, res.duration, self.name, res.timed_out)


def _copy_top_layer(seats, seat: str, dest: Path) -> None:
    """Copy the seat's running disk (its top layer; the layers below are frozen) at one instant.

    Files a trainee saved a moment ago may still sit in the guest's page cache (Linux
    writes data out within about 30 s): a SysRq sync writes them out first.
    """
    dom = seats.backend.get(domain_name(seat))
    live = StateStore(seats.folder(seat)).live
    if not live.exists():
        raise HostError(f"seat {seat}: no disk at {live}")
    paused = False
    try:
        if seats.backend.state_name(dom) == "running":
            if seats.backend.sysrq_sync(dom):  # else the disk is read as last written
                time.sleep(SYNC_WAIT)
            seats.backend.pause(dom)
            paused = True
        copy_sparse(live, dest)
    except subprocess.CalledProcessError as exc:
        raise HostError(f"seat {seat}: cannot copy its disk: {exc.stderr.decode(errors='replace').strip()}") from None
    finally:
        if paused:
            seats.backend.start(dom)  # resumes a paused domain


def _names(seats, seat: str) -> tuple[str, str, Path]:
    """The rescue machine's name, its libvirt domain and its folder, for ``seat``."""
    name = f"rescue.{seat}"  # '.' is not allowed in seat names: no clash with a seat
    return name, domain_name(name), seats.cfg.state_dir / "rescue" / seat


@contextlib.contextmanager
def open_disk(seats, seat: str, say=None) -> Iterator[DiskChannel]:
    """A channel into a copy of ``seat``'s disk, inside a throwaway rescue machine.

    Everything it makes (domain, copy, overlay) is removed on the way out, also on
    failure; a rescue machine left by a killed process is cleared by the next one.
    """
    say = say or (lambda _m: None)
    started = time.monotonic()
    info = seats.info(seat)
    built = images.find_built(seats.cfg, info.record.image)
    name, dom_name, folder = _names(seats, seat)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # One rescue machine per seat at a time (a check from the CLI and one from the web).
    lock = open(folder.parent / f".{seat}.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    dom = None
    try:
        clear(seats, seat)
        folder.mkdir(parents=True)
        # QEMU runs as libvirt's user: it must be able to enter both folders down to the copy.
        folder.parent.chmod(0o711)
        folder.chmod(0o711)
        _copy_top_layer(seats, seat, folder / "seat.qcow2")
        qemu_img_overlay(built.disk, folder / "rescue.qcow2")
        record = SeatRecord(name=name, state="rescue", image=built.name, image_digest=built.digest,
                            listen="127.0.0.1", ports={})
        xml = render_domain_xml(
            seat=name, name=dom_name, title=f"labctl rescue machine reading seat {seat}'s disk",
            accel=seats.accel().accel, image=built, disk=folder / "rescue.qcow2",
            console_log=folder / "console.log", listen="127.0.0.1", ports={},
            vnc_password=secrets.token_hex(4), mac=random_mac(), memory_mib=RESCUE_MEMORY_MIB, vcpus=1,
            record=record, extra_disks=(folder / "seat.qcow2",),
            # No desktop, no display manager: the rescue machine only mounts a disk.
            cmdline_extra="systemd.unit=multi-user.target")
        say(f"seat {seat}: booting a rescue machine to read its disk")
        dom = throwaway.boot(seats.backend, xml, timeout=seats.cfg.boot_timeout)
        agent = seats.backend.agent(dom)
        res = agent.sh(_MOUNT, timeout=120)
        if not res.ok:
            raise GuestError(f"seat {seat}: the rescue machine cannot mount the seat's disk: "
                             f"{res.stderr.strip()[:300] or res.rc}")
        say(f"seat {seat}: its disk is readable after {time.monotonic() - started:.0f} s")
        yield DiskChannel(agent)
    finally:
        if dom is not None:
            try:
                seats.backend.undefine(dom)
            except LabError:
                pass
        shutil.rmtree(folder, ignore_errors=True)
        lock.close()


def clear(seats, seat: str) -> None:
    """Remove a rescue machine left for ``seat`` by a process that was killed (and its files)."""
    _, dom_name, folder = _names(seats, seat)
    old = seats.backend.lookup(dom_name)
    if old is not None:
        seats.backend.undefine(old)
    shutil.rmtree(folder, ignore_errors=True)
