"""A seat's secrets: its passwords, its SSH key and the RDP certificate pinned for it.

They live in the seat's folder under the state directory (files 0600, the folder
0711 so that QEMU reaches the disks); never in the domain metadata or the image.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import HostError

DESKTOP_USER = "alex"
SUPPORT_USER = "support"
# The seat's own xrdp certificate, as pinned on the host at creation (in the seat's folder).
RDP_CERT = "rdp_cert.pem"


@dataclass(frozen=True)
class Credentials:
    vnc_password: str
    user_password: str
    support_password: str
    smb_password: str = ""  # the user's network-folder password on the company server

    @classmethod
    def generate(cls) -> "Credentials":
        # VNC passwords are at most 8 characters (RFB DES); use all 8.
        alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
        return cls(
            vnc_password="".join(secrets.choice(alphabet) for _ in range(8)),
            user_password="-".join(secrets.token_hex(2) for _ in range(3)),
            support_password=secrets.token_urlsafe(12),
            smb_password=secrets.token_urlsafe(12),
        )


def read_credentials(folder: Path) -> Credentials | None:
    """The credentials saved in a seat's folder; None if there are none (or they cannot be read)."""
    path = folder / "credentials.json"
    try:
        return Credentials(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def rdp_fingerprint(pem_file: Path) -> str | None:
    """The SHA-256 fingerprint of a PEM certificate file, lower-case hex pairs joined by ':'; None if missing."""
    import ssl

    try:
        der = ssl.PEM_cert_to_DER_cert(pem_file.read_text())
    except (OSError, ValueError):
        return None
    return ":".join(f"{b:02x}" for b in hashlib.sha256(der).digest())


def _ssh_keygen(path: Path, comment: str) -> None:
    try:
        proc = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                              capture_output=True, text=True)
    except FileNotFoundError:
        raise HostError("ssh-keygen is not installed", hint="apt-get install openssh-client") from None
    if proc.returncode != 0:
        raise HostError(f"ssh-keygen failed: {proc.stderr.strip()}")
