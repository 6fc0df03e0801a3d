"""Who is asking: the instructor's secret, signed cookies, CSRF tokens.

Two kinds of people use the web app. The instructor proves who they are with a
secret generated once per lab (a file, mode 0600, under the state directory); a
trainee with the session's name and their access code (only its scrypt hash is in
the database). Either gets a cookie signed with the lab's cookie key (HMAC-SHA256),
HttpOnly and SameSite=Strict. A trainee's cookie names the session, the seat and
the trainee, and when their access code was made: a new code (``labctl session
codes``) ends every login made with an older one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import HostError

INSTRUCTOR_COOKIE = "labctl_instructor"
TRAINEE_COOKIE = "labctl_trainee"
INSTRUCTOR_MAX_AGE = 12 * 3600
TRAINEE_MAX_AGE = 12 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class WebSecrets:
    """The instructor's secret and the key that signs cookies, both kept under ``<state>/web``."""

    instructor: str
    cookie_key: bytes
    folder: Path

    @classmethod
    def load(cls, state_dir: Path, *, renew: bool = False) -> "WebSecrets":
        folder = Path(state_dir) / "web"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, 0o700)
            instructor = _secret_file(folder / "instructor.secret", lambda: secrets.token_urlsafe(24), renew)
            key = _secret_file(folder / "cookie.key", lambda: secrets.token_hex(32), renew)
        except OSError as exc:
            raise HostError(f"cannot keep the web app's secrets in {folder}: {exc}",
                            hint="run labctl serve as the user that owns the state directory (root)") from None
        return cls(instructor=instructor, cookie_key=bytes.fromhex(key), folder=folder)

    def is_instructor_secret(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.strip().encode(), self.instructor.encode())

    # -- signed values ------------------------------------------------------------------
    def sign(self, payload: dict[str, Any]) -> str:
        body = _b64(json.dumps({**payload, "iat": int(time.time())}, separators=(",", ":")).encode())
        mac = hmac.new(self.cookie_key, body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}"

    def unsign(self, token: str | None, max_age: int) -> dict[str, Any] | None:
        if not token or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        want = hmac.new(self.cookie_key, body.encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(_unb64(mac), want):
                return None
            data = json.loads(_unb64(body))
        except (ValueError, TypeError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("iat"), int):
            return None
        if not 0 <= time.time() - data["iat"] <= max_age:
            return None
        return data

    def csrf(self, cookie: str) -> str:
        """The token a page must send back with a POST: bound to the cookie it was given with."""
        return _b64(hmac.new(self.cookie_key, b"csrf:" + cookie.encode(), hashlib.sha256).digest()[:24])

    def csrf_ok(self, cookie: str | None, token: str | None) -> bool:
        return bool(cookie and token) and hmac.compare_digest(self.csrf(cookie).encode(), token.encode())


def _secret_file(path: Path, make, renew: bool) -> str:
    if path.exists() and not renew:
        value = path.read_text().strip()
        if value:
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
            return value
    value = make()
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    os.replace(tmp, path)
    return value


class LoginThrottle:
    """Failed logins per client address: a few tries a minute, then 429 (codes are short)."""

    def __init__(self, limit: int = 10, window_s: float = 60.0):
        self.limit = limit
        self.window_s = window_s
        self._fails: dict[str, list[float]] = {}

    def blocked(self, who: str) -> bool:
        now = time.monotonic()
        recent = [t for t in self._fails.get(who, []) if now - t < self.window_s]
        self._fails[who] = recent
        return len(recent) >= self.limit

    def failed(self, who: str) -> None:
        self._fails.setdefault(who, []).append(time.monotonic())
