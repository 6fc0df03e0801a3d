"""Guest channels: ways for labctl to run commands in a seat.

Each channel implements ``run`` and returns a :class:`CommandResult`; the rest of
labctl does not care whether the command went through the QEMU guest agent
(no guest network needed), SSH, or WinRM.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str
    duration: float
    channel: str = ""
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out

    def __str__(self) -> str:
        return f"{shlex.join(self.argv)} -> rc={self.rc}"


@dataclass
class Channel:
    """A way to run commands in a guest; subclasses implement :meth:`run`."""

    name: str = field(default="channel", init=False)

    def run(self, argv: list[str] | tuple[str, ...], *, input: bytes | None = None,
            timeout: float = 60.0, user: str | None = None) -> CommandResult:
        raise NotImplementedError

    # The checks' own tools (labctl/guest/toolbox.py). A channel that cannot put a program
    # into the guest and prove it arrived says so with None; the checks then use the guest's.
    def stage_tools(self, load: Callable[[], bytes]) -> str | None:
        """Put the program ``load()`` returns into the guest for one run; its path there, or None."""
        return None

    def run_staged(self, argv: list[str] | tuple[str, ...], *, timeout: float = 60.0) -> CommandResult:
        return self.run(argv, timeout=timeout)

    def unstage(self, path: str) -> None:
        return None

    def sh(self, script: str, **kw) -> CommandResult:
        """Run a POSIX shell script."""
        return self.run(["/bin/sh", "-c", script], **kw)

    def read_file(self, path: str, **kw) -> bytes | None:
        res = self.run(["/bin/cat", "--", path], **kw)
        return res.stdout.encode("utf-8", "surrogateescape") if res.ok else None

    def write_file(self, path: str, data: bytes, mode: int = 0o644, owner: str = "root", **kw) -> CommandResult:
        script = (
            f"umask 077; tmp=$(mktemp {shlex.quote(path)}.XXXXXX) && cat > \"$tmp\" && "
            f"chmod {mode:o} \"$tmp\" && chown {shlex.quote(owner)}: \"$tmp\" && mv -f \"$tmp\" {shlex.quote(path)}"
        )
        return self.sh(script, input=data, **kw)


def as_user(user: str | None, argv: list[str] | tuple[str, ...]) -> list[str]:
    """Wrap argv so it runs as ``user`` with a login-like environment."""
    if not user or user == "root":
        return list(argv)
    return ["/usr/sbin/runuser", "-u", user, "--", "/usr/bin/env", f"HOME=/home/{user}", f"USER={user}",
            f"LOGNAME={user}", *argv]
