"""A recipe's playbook runs in a bubblewrap sandbox: it cannot read the lab host's secrets.

labctl runs recipes written by others as root on the lab host, the host that
keeps the instructor secret, every seat's credentials and sessions.db. The
static scan (:mod:`labctl.faults.hostside`) refuses the forms that reach the
controller; this is the second line, for what the scan misses (issue 19).
``ansible-playbook`` starts in a new mount, PID, IPC, UTS, cgroup, network and
user namespace that shows only what Ansible needs: the system's programs and
libraries, the Python environment, a few files of ``/etc``, the recipe folder
and the roles (read-only), the run's own folder (read-write), a private
``/tmp`` and ``HOME``, and the libvirt socket its connection talks through.

ansible-runner 2.4 isolates only with container engines, but it lets the
caller name the executable (``binary``): :func:`install` writes a small shim
into the run's folder that re-enters this module, which execs ``bwrap ... --
ansible-playbook ARGS``. Python rather than a shell script because the
environment is filtered by name (ansible-runner hands the child a copy of
labctl's whole environment).

What the sandbox does not cover: through the libvirt socket a playbook can
still drive every domain on the host, and libvirtd grants that by the peer's
real uid, which stays root (docs/faults.md says more).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NoReturn, Sequence
from urllib.parse import urlsplit

from ..errors import HostError

BWRAP = "bwrap"
BWRAP_PACKAGE = "bubblewrap"

# The uid and gid the playbook has inside its user namespace (nobody). They map to root
# outside, which libvirtd requires of its peer; what the namespace takes away is every
# capability over the host (no DAC override, no mounts, no ptrace of host processes).
SANDBOX_UID = 65534

# Local libvirt sockets (the monolithic daemon's, the modular QEMU daemon's); each is
# bound when it exists. Through either, the playbook reaches every domain on the host.
LIBVIRT_SOCKETS = ("/run/libvirt/libvirt-sock", "/run/libvirt/virtqemud-sock")

# The system's programs and libraries; on merged-/usr hosts the top-level ones are symlinks.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

# What Python, Ansible and the libvirt client read from /etc; nothing else of it
# (not /etc/shadow, /etc/ssh, /etc/libvirt, /etc/labctl).
ETC_PATHS = ("/etc/alternatives", "/etc/ssl", "/etc/ca-certificates", "/etc/passwd", "/etc/group",
             "/etc/nsswitch.conf", "/etc/hosts", "/etc/host.conf", "/etc/resolv.conf", "/etc/localtime",
             "/etc/timezone", "/etc/ld.so.cache", "/etc/python3", f"/etc/python3.{sys.version_info.minor}",
             "/etc/ansible")

HOME = "/tmp/home"

# The environment the playbook gets from labctl's: what labctl and ansible-runner set for
# Ansible and its event callback, and the locale. The rest (tokens, agent sockets,
# LABCTL_* settings of whoever started labctl) stays outside.
ENV_KEEP = re.compile(r"(ANSIBLE|AWX|RUNNER)_\w+|ORIGINAL_STDOUT_CALLBACK|AD_HOC_COMMAND_ID|JOB_ID|PROJECT_UPDATE_ID"
                      r"|MAX_EVENT_RES|PATH|LANG|LANGUAGE|LC_\w+|TZ|PYTHONUNBUFFERED|PYTHONIOENCODING")

SPEC_FILE = "confine.json"
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
SHIM_FILE = "ansible-playbook-confined"


@dataclass(frozen=True)
class Sandbox:
    """What one confined ``ansible-playbook`` sees; saved with the run as ``confine.json``."""

    bwrap: str
    executable: str
    read_only: tuple[str, ...]
    writable: tuple[str, ...]
    sockets: tuple[str, ...] = LIBVIRT_SOCKETS
    masked: tuple[str, ...] = ()  # files inside ``writable`` the playbook must not read

    def argv(self, args: Sequence[str] = (), cwd: str | None = None) -> list[str]:
        """The full command: ``bwrap OPTIONS -- ansible-playbook ARGS`` (run in ``cwd``)."""
        out = [self.bwrap,
               "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
               "--cap-drop", "ALL", "--die-with-parent", "--new-session",
               "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", HOME,
               # libvirt's client connects to /var/run/libvirt/..., the compatibility link to /run.
               "--symlink", "../run", "/var/run"]
        for path in SYSTEM_DIRS:
            if os.path.islink(path):
                out += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                out += ["--ro-bind", path, path]
        for path in ETC_PATHS:
            out += ["--ro-bind-try", path, path]
        for path in self.read_only:
            if not any(path.startswith(p + "/") for p in self.read_only):
                out += ["--ro-bind", path, path]
        for path in self.writable:
            out += ["--bind", path, path]
        for path in self.masked:
            out += ["--ro-bind", "/dev/null", path]
        for path in self.sockets:
            out += ["--ro-bind-try", path, path]  # connect() needs no write access to the mount
        if cwd:
            out += ["--chdir", cwd]
        return [*out, "--", self.executable, *args]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))
        os.chmod(path, 0o600)

    @classmethod
    def load(cls, path: Path) -> "Sandbox":
        data = json.loads(path.read_text())
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def find_bwrap() -> str:
    """The ``bwrap`` command; a playbook never runs unconfined, so its absence is an error."""
    exe = shutil.which(BWRAP)
    if not exe:
        raise HostError("bwrap (bubblewrap) is not installed: recipe playbooks run only inside its sandbox",
                        hint=f"apt-get install {BWRAP_PACKAGE} (scripts/setup.sh installs it)")
    return exe


def probe() -> str:
    """Start an empty sandbox, as a run would; '' when it works, else bwrap's complaint."""
    import subprocess

    exe = find_bwrap()
    argv = Sandbox(bwrap=exe, executable=shutil.which("true") or "/bin/true", read_only=(), writable=(),
                   sockets=()).argv()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=environment(dict(os.environ)))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return "" if proc.returncode == 0 else (proc.stderr.strip() or f"exit status {proc.returncode}")


def python_dirs() -> tuple[str, ...]:
    """The Python environment Ansible runs from: the venv and the site directories it uses."""
    import site

    dirs = {sys.prefix, sys.base_prefix, *site.getsitepackages()}
    out: list[str] = []
    for d in sorted(os.path.realpath(p) for p in dirs):
        if os.path.isdir(d) and not any(d == s or d.startswith(s + "/") for s in SYSTEM_DIRS) \
                and not any(d.startswith(o + "/") for o in out):
            out.append(d)
    return tuple(out)


def sandbox_for(*, executable: str, read_only: Sequence[Path], writable: Sequence[Path],
                libvirt_uri: str = "qemu:///system", masked: Sequence[Path] = ()) -> Sandbox:
    """The sandbox of one run; raises HostError when it cannot be made on this host."""
    if urlsplit(libvirt_uri).netloc:
        raise HostError(f"libvirt_uri {libvirt_uri!r}: confined playbooks reach libvirt through its local socket "
                        "only (their sandbox has no network)", hint="use qemu:///system on the lab host")
    exe = os.path.realpath(executable)
    ro = [*python_dirs(), os.path.dirname(exe), *(os.path.realpath(p) for p in read_only if os.path.exists(p))]
    return Sandbox(bwrap=find_bwrap(), executable=exe, read_only=tuple(dict.fromkeys(ro)),
                   writable=tuple(os.path.realpath(p) for p in writable),
                   masked=tuple(os.path.realpath(p) for p in masked))


def install(sandbox: Sandbox, run_dir: Path) -> Path:
    """Write the run's sandbox and the shim ansible-runner starts (its ``binary``); the shim's path."""
    spec = run_dir / SPEC_FILE
    sandbox.save(spec)
    shim = run_dir / SHIM_FILE
    # The labctl that wrote the shim runs it, whatever the environment's own install points at.
    code = f"import sys; sys.path[:0] = [{str(_PACKAGE_ROOT)!r}]; from labctl.faults.confine import main; main()"
    shim.write_text("#!/bin/sh\n# labctl: ansible-playbook in the run's sandbox (labctl/faults/confine.py)\n"
                    f"exec {shlex.quote(sys.executable)} -I -c {shlex.quote(code)} {shlex.quote(str(spec))} \"$@\"\n")
    os.chmod(shim, 0o700)
    return shim


def environment(environ: dict[str, str]) -> dict[str, str]:
    """The playbook's environment: the kept names, and a HOME and TMPDIR inside the sandbox."""
    env = {k: v for k, v in environ.items() if ENV_KEEP.fullmatch(k)}
    return {**env, "HOME": HOME, "TMPDIR": "/tmp"}


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """``python -m labctl.faults.confine SPEC [ARGS...]``: exec the sandboxed ansible-playbook."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stderr.write("usage: python -m labctl.faults.confine SPEC [ansible-playbook arguments]\n")
        raise SystemExit(2)
    sandbox = Sandbox.load(Path(args[0]))
    cmd = sandbox.argv(args[1:], cwd=os.getcwd())
    try:
        os.execve(sandbox.bwrap, cmd, environment(dict(os.environ)))
    except OSError as exc:
        sys.stderr.write(f"labctl: cannot start {sandbox.bwrap}: {exc.strerror or exc} "
                         f"(apt-get install {BWRAP_PACKAGE})\n")
        raise SystemExit(127) from None


if __name__ == "__main__":
    main()
