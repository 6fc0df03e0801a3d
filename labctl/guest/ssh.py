"""Run commands in a guest over SSH through the seat's loopback port forward."""

from __future__ import annotations

import shlex
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GuestError, HostError
from . import Channel, CommandResult


def ssh_banner(host: str, port: int, timeout: float = 3.0) -> str | None:
    """The server's SSH identification line, or None if nothing answers."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            data = s.recv(256)
    except OSError:
        return None
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    return line if line.startswith("SSH-") else None


def wait_for_ssh(host: str, port: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        banner = ssh_banner(host, port)
        if banner:
            return banner
        time.sleep(0.1)
    raise GuestError(f"no SSH answer on {host}:{port} after {timeout:.0f} s")


@dataclass
class SshChannel(Channel):
    host: str = "127.0.0.1"
    port: int = 22
    user: str = "support"
    key: Path | None = None
    known_hosts: Path | None = None
    name: str = field(default="ssh", init=False)

    def base_argv(self) -> list[str]:
        argv = ["ssh", "-p", str(self.port), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
                "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes"]
        if self.key:
            argv += ["-i", str(self.key)]
        if self.known_hosts:
            argv += ["-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes"]
        return argv + [f"{self.user}@{self.host}"]

    def run(self, argv, *, input: bytes | None = None, timeout: float = 60.0, user: str | None = None) -> CommandResult:
        argv = tuple(argv)
        remote = shlex.join(argv)
        if user and user != self.user:
            remote = "sudo -n -u " + shlex.quote(user) + " -- " + remote
        start = time.monotonic()
        try:
            proc = subprocess.run(self.base_argv() + ["--", remote], input=input or b"",
                                  capture_output=True, timeout=timeout)
        except FileNotFoundError:
            raise HostError("ssh client not installed", hint="apt-get install openssh-client") from None
        except subprocess.TimeoutExpired:
            return CommandResult(argv, 124, "", "timed out", time.monotonic() - start, self.name, True)
        return CommandResult(argv, proc.returncode, proc.stdout.decode("utf-8", "surrogateescape"),
                             proc.stderr.decode("utf-8", "surrogateescape"), time.monotonic() - start, self.name)


@dataclass
class SudoSshChannel(SshChannel):
    """SSH as an account with sudo rights, commands run as root (or as ``user``) through ``sudo -S``.

    The route post-checks take when the guest agent does not answer. The password
    goes on standard input, never on a command line.
    """

    password: str = ""
    name: str = field(default="ssh", init=False)

    def run(self, argv, *, input: bytes | None = None, timeout: float = 60.0, user: str | None = None) -> CommandResult:
        from . import as_user

        if input is not None:
            raise GuestError("the sudo-over-SSH channel cannot pass standard input to a command")
        argv = tuple(argv)
        remote = "sudo -S -p '' -- " + shlex.join(as_user(user, argv))
        start = time.monotonic()
        try:
            proc = subprocess.run(self.base_argv() + ["--", remote], input=(self.password + "\n").encode(),
                                  capture_output=True, timeout=timeout)
        except FileNotFoundError:
            raise HostError("ssh client not installed", hint="apt-get install openssh-client") from None
        except subprocess.TimeoutExpired:
            return CommandResult(argv, 124, "", "timed out", time.monotonic() - start, self.name, True)
        if proc.returncode == 255:
            raise GuestError(f"ssh to {self.host}:{self.port} failed: {proc.stderr.decode(errors='replace').strip()[:200]}")
        return CommandResult(argv, proc.returncode, proc.stdout.decode("utf-8", "surrogateescape"),
                             proc.stderr.decode("utf-8", "surrogateescape"), time.monotonic() - start, self.name)
