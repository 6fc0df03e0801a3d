"""Run commands in a guest through the QEMU guest agent (virtio-serial).

Needs no guest network and leaves no login in the guest's logs.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

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
        args: dict[str, Any] = {"path": wrapped[0], "arg": wrapped[1:], "capture-output": True}
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
