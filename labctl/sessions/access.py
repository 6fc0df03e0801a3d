"""Trainees' access: their codes (only hashes are stored), logging in with one, and what a seat's trainees are given."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from ..errors import LabError, NotFoundError
from .core import SessionsCore, find_seat, find_session
from .model import SessionError, SessionRow, TraineeRow
from .repo import SessionRepo

CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_code() -> str:
    return "-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3))


def hash_code(code: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(code.strip().lower().encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_code_hash(code: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    return hmac.compare_digest(hash_code(code, bytes.fromhex(salt)), stored)


def issue_codes(r: SessionRepo, s: SessionRow, *, only_missing: bool, trainee: str | None = None) -> dict[str, str]:
    """New codes, inside the caller's write transaction: for every trainee, the one named, or those without one."""
    codes = {}
    rows = r.code_holders(s.id, trainee)
    if trainee and not rows:
        raise NotFoundError(f"session '{s.name}' has no trainee named {trainee!r}")
    for trainee_id, name, code_hash in rows:
        if only_missing and code_hash:
            continue
        code = new_code()
        r.set_code_hash(trainee_id, hash_code(code))
        codes[name] = code
    if codes:
        r.add_event(s.id, "codes", f"new access code(s) for {', '.join(codes)}")
    return codes


class Access:
    """Access codes and what each seat's trainees may reach."""

    def __init__(self, core: SessionsCore):
        self.core = core

    def issue_codes(self, name: str, trainee: str | None = None) -> dict[str, str]:
        """Fresh access codes (the old ones stop working); only their hashes are stored."""
        with self.core.writing() as r:
            return issue_codes(r, find_session(r, name), only_missing=False, trainee=trainee)

    def verify_code(self, name: str, code: str) -> tuple[TraineeRow, str] | None:
        """The trainee (and their seat) an access code belongs to, or None."""
        with self.core.reading() as r:
            s = find_session(r, name)
            for trainee, seat, code_hash in r.trainees_with_seats(s.id):
                if code_hash and verify_code_hash(code, code_hash):
                    return trainee, seat
        return None

    def trainee(self, name: str, trainee: str) -> tuple[TraineeRow, str] | None:
        """A trainee of the session by name (and their seat), or None: lets a login check it is still valid."""
        with self.core.reading() as r:
            s = find_session(r, name)
            return r.trainee_with_seat(s.id, trainee)

    def access(self, name: str, seat_ref: str) -> dict[str, Any]:
        """What the trainees of a seat are given: nothing of the machine in phone mode."""
        with self.core.reading() as r:
            s = find_session(r, name)
            seat = find_seat(r, s, seat_ref)
        out: dict[str, Any] = {"seat": seat.name, "mode": s.mode}
        if s.mode == "phone":
            out["note"] = "phone only: the trainee gets no access to the machine; the instructor plays the user"
            return out
        try:
            info = self.core.seats.info(seat.name)
        except LabError:
            return out
        host = "127.0.0.1" if info.record.listen in ("0.0.0.0", "::") else info.record.listen
        if info.vnc_port:
            out["vnc"] = f"{host}:{info.vnc_port}"
        if info.credentials:
            out["vnc_password"] = info.credentials.vnc_password
            out["account"] = {"user": "support", "password": info.credentials.support_password}
        ssh_port = info.record.ports.get("ssh") if info.record.ports else None
        if ssh_port:
            out["ssh"] = f"{host}:{ssh_port}"
        rdp_port = info.record.ports.get("rdp") if info.record.ports else None
        if rdp_port:
            out["rdp"] = f"{host}:{rdp_port}"
        return out

    def console(self, name: str, seat_ref: str) -> dict[str, Any]:
        """Where a seat's screen is (VNC host, port, password), in any mode: for the instructor's tools and
        for the web app, which decides who may use it (the instructor always; a trainee for their own seat
        in remote mode)."""
        with self.core.reading() as r:
            s = find_session(r, name)
            seat = find_seat(r, s, seat_ref)
        info = self.core.seats.info(seat.name)
        if not info.vnc_port:
            raise SessionError(f"seat {seat.name} has no screen now (the machine is {info.status})",
                               hint=f"labctl session reset-seat {s.name} {seat.name}")
        host = "127.0.0.1" if info.record.listen in ("0.0.0.0", "::") else info.record.listen
        return {"seat": seat.name, "mode": s.mode, "host": host, "port": info.vnc_port,
                "password": info.credentials.vnc_password if info.credentials else ""}
