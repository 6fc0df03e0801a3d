"""Disk layers on the host: qcow2 overlays and point-in-time copies.

Local files for now (qemu-img, cp); a remote host backend would make them
through libvirt's storage-pool API instead (docs/architecture.md).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..errors import HostError


def qemu_img_overlay(base: Path, overlay: Path) -> None:
    """A new qcow2 ``overlay`` on top of ``base``, which from then on must not change."""
    try:
        proc = subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2",
                               str(overlay)], capture_output=True, text=True)
    except FileNotFoundError:
        raise HostError("qemu-img is not installed", hint="apt-get install qemu-utils") from None
    if proc.returncode != 0:
        msg = proc.stderr.strip()
        if "No space left" in msg:
            raise HostError(f"disk full making {overlay}", hint="free some disk space")
        raise HostError(f"qemu-img could not make {overlay}: {msg}")


def copy_sparse(src: Path, dest: Path) -> None:
    """Copy one disk layer as it is; raises ``subprocess.CalledProcessError`` (stderr captured) on failure."""
    subprocess.run(["cp", "--sparse=always", str(src), str(dest)], check=True, capture_output=True)
