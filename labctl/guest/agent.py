"""Run commands in a guest through the QEMU guest agent (virtio-serial).

Needs no guest network and leaves no login in the guest's logs.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import GuestError
from . import Channel, CommandResult, as_user


@dataclass
class AgentChannel(Channel):
    domain: Any = None  # libvirt.virDomain
    name: str = field(default="agent", init=False)

    def command(self, execute: str, arguments: dict | None = None, timeout: int = 10) -> Any:
        """One guest-agent command; returns its ``return`` value."""
        import libvirt
        import libvirt_qemu

        msg: dict[str, Any] = {"execute": execute}
        if arguments is not None:
            msg["arguments"] = arguments
        try:
            raw = libvirt_qemu.qemuAgentCommand(self.domain, json.dumps(msg), timeout, 0)
        except libvirt.libvirtError as exc:
            raise GuestError(f"guest agent of {self.domain.name()}: {execute} failed: {exc.get_error_message()}",
                             hint="is the seat running? `labctl seat info` shows its state") from None
        return json.loads(raw).get("return")

    def ping(self, timeout: int = 2) -> bool:
        try:
            self.command("guest-ping", timeout=timeout)
            return True
        except GuestError:
            return False

    def run(self, argv, *, input: bytes | None = None, timeout: float = 60.0, user: str | None = None) -> CommandResult:
        argv = tuple(argv)
        # The agent cannot kill what it started, so the guest's own `timeout` bounds it.
        wrapped = ["/usr/bin/timeout", "--kill-after=5", str(int(max(1, timeout))), *as_user(user, argv)]
        return self._exec(wrapped, argv, input=input, timeout=timeout)

    def _exec(self, spawn: list[str], argv: tuple, *, input: bytes | None, timeout: float) -> CommandResult:
        """Start ``spawn`` through the agent (no shell), wait for it, and report it as ``argv``."""
        args: dict[str, Any] = {"path": spawn[0], "arg": list(spawn[1:]), "capture-output": True}
        if input is not None:
            args["input-data"] = base64.b64encode(input).decode()
        start = time.monotonic()
        pid = self.command("guest-exec", args)["pid"]
        deadline = start + timeout + 10
        delay = 0.005
        while True:
            status = self.command("guest-exec-status", {"pid": pid})
            if status.get("exited"):
                break
            if time.monotonic() > deadline:
                raise GuestError(f"{self.domain.name()}: command did not finish in {timeout:.0f} s: {' '.join(argv)}")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        out = base64.b64decode(status.get("out-data", "")).decode("utf-8", "surrogateescape")
        err = base64.b64decode(status.get("err-data", "")).decode("utf-8", "surrogateescape")
        rc = status.get("exitcode", -status.get("signal", 1) if "signal" in status else 1)
        return CommandResult(argv, rc, out, err, time.monotonic() - start, self.name, timed_out=(rc == 124))

    # -- the checks' own tools (labctl/guest/toolbox.py) -------------------------
    def stage_tools(self, load: Callable[[], bytes]) -> str | None:
        """The host's static program at its kept place in the guest, proven unchanged; its path.

        The copy stays between check runs (in memory, under a folder only root may write): a
        run reads it back through the agent and uses it when it is byte for byte the host's,
        and writes it again otherwise (first run since boot, a restore, a change by anyone).
        Only the agent touches the file's bytes; the guest programs used (``stat``, ``rm``,
        ``mkdir``, ``chmod``, ``mv``) cannot change what the read-back just before the run proves.
        """
        from .toolbox import GUEST_DIR, KEPT_DIR, KEPT_TOOLS

        data = load()
        if self._tools_in_place() and self._read_back(KEPT_TOOLS) == data:
            return KEPT_TOOLS
        path = f"{GUEST_DIR}/busybox.lc-{secrets.token_hex(8)}"
        self._write(path, data)
        try:
            # The folder is made again, root's: whatever a user (or a lying `stat`) left there goes.
            res = self._exec(["/bin/sh", "-c", 'rm -rf -- "$3" && mkdir -m 0755 -- "$3" && chmod 0755 -- "$1" && '
                              'mv -f -- "$1" "$2"', "sh", path, KEPT_TOOLS, KEPT_DIR],
                             ("sh", "tools-in-place", path), input=None, timeout=20)
            if not res.ok:
                raise GuestError(f"{self.domain.name()}: cannot put the checks' tools in place: "
                                 f"{res.stderr.strip()[:160]}")
        except GuestError:
            self.unstage(path)
            raise
        if self._read_back(KEPT_TOOLS) != data:
            self.unstage(KEPT_TOOLS)
            raise GuestError(f"{self.domain.name()}: the checks' tools changed in the guest once written "
                             f"({KEPT_TOOLS}): something there rewrites files it should not",
                             hint="the seat's chmod or its kernel may have been tampered with; "
                                  "reset or inspect the seat")
        return KEPT_TOOLS

    def _tools_in_place(self) -> bool:
        """Whether the kept copy is root's, 0755, in a folder root owns (0755), neither a link.

        A user who made the folder, or a file in it, before labctl did would control what runs
        next; the guest's ``stat`` (root's, out of a user's reach) says.
        """
        from .toolbox import KEPT_DIR, KEPT_TOOLS

        script = ('[ "$(stat -c \'%u %a %F\' -- "$1")" = "0 755 directory" ] && '
                  '[ "$(stat -c \'%u %a %F\' -- "$2")" = "0 755 regular file" ]')
        res = self._exec(["/bin/sh", "-c", script, "sh", KEPT_DIR, KEPT_TOOLS], ("sh", "tools-in-place?"),
                         input=None, timeout=20)
        return res.rc == 0

    def _write(self, path: str, data: bytes) -> None:
        from .toolbox import CHUNK

        handle = self.command("guest-file-open", {"path": path, "mode": "w"}, timeout=10)
        try:
            for i in range(0, len(data), CHUNK):
                self.command("guest-file-write", {"handle": handle, "buf-b64": base64.b64encode(
                    data[i:i + CHUNK]).decode()}, timeout=30)
        finally:
            self.command("guest-file-close", {"handle": handle})

    def _read_back(self, path: str) -> bytes | None:
        try:
            return self._read_all(path)
        except GuestError:
            return None

    def _read_all(self, path: str) -> bytes:
        handle = self.command("guest-file-open", {"path": path, "mode": "r"}, timeout=10)
        got = bytearray()
        try:
            while True:
                part = self.command("guest-file-read", {"handle": handle, "count": 4 * 1024 * 1024}, timeout=30)
                got += base64.b64decode(part.get("buf-b64", ""))
                if part.get("eof") or not part.get("count"):
                    return bytes(got)
        finally:
            self.command("guest-file-close", {"handle": handle})

    def run_staged(self, argv, *, timeout: float = 60.0) -> CommandResult:
        """Run a staged program directly: no guest program (not even ``timeout``) stands around it."""
        argv = tuple(argv)
        return self._exec(list(argv), argv, input=None, timeout=timeout)

    def unstage(self, path: str) -> None:
        from .toolbox import GUEST_DIR, KEPT_TOOLS

        if path != KEPT_TOOLS and not path.startswith(f"{GUEST_DIR}/busybox.lc-"):
            return
        try:
            self._exec(["/bin/rm", "-f", "--", path], ("rm", path), input=None, timeout=20)
        except GuestError:
            pass
