"""Run a fault's playbook on a seat through ansible-runner, over the guest agent.

One typed function wraps ansible-runner (as ansible-navigator does): it returns
a :class:`PlaybookResult` (status, rc, failed tasks, where the artefacts are)
and never raises for a failed play: a failed playbook is a result. The
connection is ``community.libvirt.libvirt_qemu``'s: no guest network, no SSH
login in the guest's logs; labctl's own ``labctl_qemu`` (ansible/connection_plugins/) is
that plugin with each agent call given 60 s instead of 5 (a guest whose vCPU a fault keeps
busy answers slowly under emulation). Ansible is told not to log on the target, keeps its
temporary files in one folder that labctl removes afterwards, and gathers no
facts unless a play asks.

``ansible-playbook`` runs confined (:mod:`labctl.faults.confine`): in a bubblewrap
sandbox that shows the recipe, the roles and the run's folder, not the lab's
state or the host's secrets. Without ``bwrap`` no playbook runs.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import HostError
from . import confine
from .hostside import ROLES_DIR

# labctl_qemu: community.libvirt.libvirt_qemu with patient guest-agent calls.
CONNECTION_PLUGINS_DIR = ROLES_DIR.parent / "connection_plugins"
CONNECTION = "labctl_qemu"

# Where Ansible puts its module files in the guest; removed after every run.
# Not under /run: Debian mounts it noexec, and `script` tasks run from here.
REMOTE_TMP = "/var/tmp/.lab-ansible"
CLEANUP_SCRIPT = f"rm -rf {REMOTE_TMP} /root/.ansible /tmp/ansible-* /tmp/.ansible-* 2>/dev/null; true"


@dataclass(frozen=True)
class PlaybookResult:
    playbook: str
    status: str  # successful | failed | timeout | canceled | error
    rc: int
    duration: float
    artifacts: Path
    failed_tasks: tuple[str, ...] = ()
    stats: dict[str, Any] = field(default_factory=dict)
    stdout_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "successful" and self.rc == 0

    @property
    def unreachable(self) -> bool:
        return bool(self.stats.get("dark"))

    def as_dict(self) -> dict:
        return {"playbook": self.playbook, "status": self.status, "rc": self.rc,
                "duration": round(self.duration, 2), "artifacts": str(self.artifacts),
                "failed_tasks": list(self.failed_tasks), "unreachable": self.unreachable}

    def summary(self) -> str:
        if self.ok:
            return f"{self.playbook}: ok in {self.duration:.1f} s"
        what = "; ".join(self.failed_tasks) or self.stdout_tail.strip().splitlines()[-1:] or [self.status]
        return f"{self.playbook}: {self.status} (rc={self.rc}): {what if isinstance(what, str) else what[0]}"


def run_playbook(*, playbook: Path, domain: str, libvirt_uri: str, extravars: dict[str, Any], run_dir: Path,
                 timeout: int = 600, on_event: Callable[[dict], None] | None = None,
                 company_domain: str | None = None, recipe_dir: Path | None = None) -> PlaybookResult:
    """Run ``playbook`` against one libvirt domain; artefacts go to ``run_dir``.

    The seat is the inventory's host ``seat``. With ``company_domain`` the company
    server is there too, as host ``company`` (recipes with ``company_server: true``).
    ``recipe_dir`` is the recipe's folder, which the sandbox shows read-only
    (the playbook's own folder unless told: a repair's lives in ``repairs/``).
    """
    def host(dom: str) -> dict[str, str]:
        return {"ansible_connection": CONNECTION, "ansible_host": dom,
                "ansible_libvirt_uri": libvirt_uri, "ansible_python_interpreter": "/usr/bin/python3"}

    hosts = {"seat": host(domain), **({"company": host(company_domain)} if company_domain else {})}
    return run_confined(playbook=playbook, inventory={"all": {"hosts": hosts}}, extravars=extravars, run_dir=run_dir,
                        recipe_dir=recipe_dir or playbook.parent, libvirt_uri=libvirt_uri, timeout=timeout,
                        on_event=on_event)


def run_confined(*, playbook: Path, inventory: dict, extravars: dict[str, Any], run_dir: Path, recipe_dir: Path,
                 libvirt_uri: str, timeout: int = 600,
                 on_event: Callable[[dict], None] | None = None) -> PlaybookResult:
    """Run ``playbook`` with ``inventory`` through ansible-runner, ``ansible-playbook`` in its sandbox.

    :func:`run_playbook` is what labctl calls; this is its body, which the sandbox's
    tests also drive with a local inventory (that the recipe loader would refuse).
    """
    try:
        import ansible_runner
    except ImportError:
        raise HostError("ansible-runner is not installed", hint="pip install ansible-runner (scripts/setup.sh does)") \
            from None
    exe = _ansible_bin("ansible-playbook")
    run_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(run_dir, 0o700)  # extravars hold the drawn parameters: host-only, root-only
    # ansible-runner records labctl's whole environment in artifacts/<ident>/command before
    # the start; the playbook, which writes beside it, must not read it.
    ident = uuid.uuid4().hex
    sandbox = confine.sandbox_for(executable=exe, read_only=(recipe_dir, ROLES_DIR, CONNECTION_PLUGINS_DIR),
                                  writable=(run_dir,), libvirt_uri=libvirt_uri, masked=(run_dir / "artifacts" / ident / "command",))
    shim = confine.install(sandbox, run_dir)
    envvars = {
        "PATH": os.pathsep.join([str(Path(exe).parent), os.environ.get("PATH", "")]),
        "ANSIBLE_REMOTE_TMP": REMOTE_TMP,
        "ANSIBLE_NO_TARGET_SYSLOG": "True",
        "ANSIBLE_GATHERING": "explicit",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_FORCE_COLOR": "False",
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_ROLES_PATH": str(ROLES_DIR),
        "ANSIBLE_CONNECTION_PLUGINS": str(CONNECTION_PLUGINS_DIR),
    }
    failed: list[str] = []

    def handler(event: dict) -> bool:
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            data = event.get("event_data", {})
            if not data.get("ignore_errors"):
                res = data.get("res", {}) or {}
                msg = " ".join(str(x).strip() for x in (res.get("msg"), res.get("stderr")) if x)
                failed.append(f"{data.get('task', '?')}: {str(msg).strip()[:300]}")
        if on_event:
            on_event(event)
        return True

    start = time.monotonic()
    # With ``binary`` ansible-runner runs the shim with the arguments it would give
    # ansible-playbook, less the playbook: that comes first, through ``cmdline``.
    runner = ansible_runner.run(
        private_data_dir=str(run_dir), ident=ident, project_dir=str(playbook.parent), binary=str(shim),
        cmdline=shlex.quote(playbook.name), inventory=inventory, extravars=extravars, envvars=envvars, quiet=True,
        timeout=timeout, event_handler=handler, settings={"suppress_ansible_output": True},
    )
    duration = time.monotonic() - start
    try:
        stdout = runner.stdout.read()
    except Exception:  # noqa: BLE001 - the tail is a nicety
        stdout = ""
    stats = runner.stats or {}
    # The drawn parameters stay with the run, for instructors; nobody else reads them.
    for sub in ("env", "inventory"):
        if (run_dir / sub).exists():
            for p in (run_dir / sub).rglob("*"):
                os.chmod(p, 0o600 if p.is_file() else 0o700)
    return PlaybookResult(playbook=playbook.name, status=runner.status, rc=runner.rc if runner.rc is not None else -1,
                          duration=duration, artifacts=run_dir, failed_tasks=tuple(failed), stats=stats,
                          stdout_tail=stdout[-2000:])


def _ansible_bin(name: str) -> str:
    """Ansible's commands beside this Python first (the venv is not always on PATH)."""
    exe = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if not exe:
        raise HostError(f"{name} is not installed", hint="pip install ansible (scripts/setup.sh does)")
    return exe


def syntax_check(*playbooks: Path) -> tuple[bool, str]:
    """``ansible-playbook --syntax-check``, for the catalogue's static tests (one start for many books)."""
    import subprocess

    exe = _ansible_bin("ansible-playbook")
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(ROLES_DIR), ANSIBLE_NOCOLOR="1")
    books = [Path(p).resolve() for p in playbooks]
    proc = subprocess.run([exe, "--syntax-check", "-i", "seat,", *map(str, books)], capture_output=True,
                          text=True, env=env, cwd=str(books[0].parent))
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()
