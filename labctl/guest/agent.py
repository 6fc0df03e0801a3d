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
        """Write a static program from the host to a fresh path in the guest; prove it arrived unchanged.

        Only the agent touches the file, except ``chmod``, the one guest program used: the
        read-back after it (through the agent again) fails if anything changed the file.
        """
        from .toolbox import CHUNK, GUEST_DIR

        data = load()
        path = f"{GUEST_DIR}/busybox.lc-{secrets.token_hex(8)}"
        handle = self.command("guest-file-open", {"path": path, "mode": "w"}, timeout=10)
        try:
            for i in range(0, len(data), CHUNK):
                self.command("guest-file-write", {"handle": handle, "buf-b64": base64.b64encode(
                    data[i:i + CHUNK]).decode()}, timeout=30)
        finally:
            self.command("guest-file-close", {"handle": handle})
        try:
            res = self._exec(["/bin/chmod", "0755", path], ("chmod", "0755", path), input=None, timeout=20)
            if not res.ok:
                raise GuestError(f"{self.domain.name()}: cannot make the checks' tools runnable: "
                                 f"{res.stderr.strip()[:160]}")
            if self._read_all(path) != data:
                raise GuestError(f"{self.domain.name()}: the checks' tools changed in the guest once written "
                                 f"({path}): something there rewrites files it should not",
                                 hint="the seat's chmod or its kernel may have been tampered with; "
                                      "reset or inspect the seat")
        except GuestError:
            self.unstage(path)
            raise
        return path

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
        from .toolbox import GUEST_DIR

        if not path.startswith(f"{GUEST_DIR}/busybox.lc-"):
            return
        try:
            self._exec(["/bin/rm", "-f", "--", path], ("rm", path), input=None, timeout=20)
        except GuestError:
            pass
