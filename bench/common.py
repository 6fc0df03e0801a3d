"""What the benchmark scripts share: their own state and ports, idle cost, naive Ansible over SSH.

The naive way is Ansible as a lab would run it without labctl: ``ansible-playbook``
with its defaults (SSH connection, fact gathering on, no pipelining, 5 forks),
logging in as the seat's technician account with its key and becoming root with
its sudo password, through each seat's SSH port forward.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labctl.config import load_config  # noqa: E402
from labctl.seats import SUPPORT_USER, SeatManager  # noqa: E402

STATE_DIR = os.environ.get("LABCTL_BENCH_STATE", "/var/lib/labctl-bench")
PORTS = os.environ.get("LABCTL_BENCH_PORTS", "47000-47999")


def bench_config(**over):
    lo, hi = (int(x) for x in PORTS.split("-"))
    return load_config(state_dir=STATE_DIR, port_min=lo, port_max=hi, **over)


@contextlib.contextmanager
def faulted_seat(mgr: SeatManager, engine, seat: str, fault: str):
    """A fresh seat of this name with ``fault`` injected (seed 1), destroyed afterwards."""
    try:
        mgr.destroy(seat)
    except Exception:  # noqa: BLE001 - not there
        pass
    mgr.create(seat)
    try:
        engine.inject(seat, fault, seed=1)
        yield seat
    finally:
        mgr.destroy(seat)


def emit(key: str, value) -> None:
    """A machine-readable figure line (bench/run collects them for docs/benchmarks.md)."""
    print(f"@@ {key} {json.dumps(value)}", flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- host cost of idle seats ---------------------------------------------------------
def qemu_pids(domains: list[str]) -> dict[str, int]:
    out = {}
    for d in domains:
        p = Path(f"/run/libvirt/qemu/{d}.pid")
        if p.exists():
            out[d] = int(p.read_text().strip())
    return out


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def idle_cost(domains: list[str], seconds: float = 10.0) -> tuple[float, float, int]:
    """Mean resident MiB and mean % of one core per QEMU process over ``seconds``."""
    pids = qemu_pids(domains)
    if not pids:
        raise SystemExit(f"no QEMU process found for {domains}")
    before = {n: cpu_ticks(p) for n, p in pids.items()}
    time.sleep(seconds)
    hz = os.sysconf("SC_CLK_TCK")
    cpu = [(cpu_ticks(p) - before[n]) / hz / seconds * 100 for n, p in pids.items()]
    rss = []
    for p in pids.values():
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss.append(int(line.split()[1]) / 1024)
    return sum(rss) / len(rss), sum(cpu) / len(cpu), len(pids)


# -- naive Ansible over SSH ------------------------------------------------------------
def ansible_playbook_exe() -> str:
    exe = shutil.which("ansible-playbook", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                                 os.environ.get("PATH", "")]))
    if not exe:
        raise SystemExit("ansible-playbook is not installed (scripts/setup.sh installs it)")
    return exe


def ssh_inventory(mgr: SeatManager, seats: list[str], hostvars: dict[str, dict] | None = None) -> dict:
    """An inventory of the seats over their SSH forwards: technician account, its key, sudo password."""
    hosts = {}
    for s in seats:
        info = mgr.info(s)
        creds = info.credentials
        hosts[s] = {
            "ansible_host": "127.0.0.1",
            "ansible_port": info.record.ports["ssh"],
            "ansible_user": SUPPORT_USER,
            "ansible_ssh_private_key_file": str(info.folder / "id_ed25519"),
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={info.folder / 'known_hosts'} "
                                       "-o StrictHostKeyChecking=yes",
            "ansible_become": True,
            "ansible_become_method": "sudo",
            "ansible_become_password": creds.support_password if creds else "",
            **(hostvars or {}).get(s, {}),
        }
    return {"all": {"hosts": hosts}}


def run_naive(playbook: Path, inventory: dict, *, json_out: bool = False) -> tuple[float, subprocess.CompletedProcess]:
    """``ansible-playbook`` with Ansible's defaults; returns (seconds, process).

    Only what is not about speed is set: no colour, no retry files, and (with
    ``json_out``) the json stdout callback so that the results can be judged.
    """
    work = Path(tempfile.mkdtemp(prefix="labctl-bench-"))
    os.chmod(work, 0o700)
    try:
        inv = work / "inventory.json"
        inv.write_text(json.dumps(inventory))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="False",
                   ANSIBLE_ROLES_PATH=str(ROOT / "ansible" / "roles"), ANSIBLE_LOCAL_TEMP=str(work / "tmp"))
        if json_out:
            env["ANSIBLE_STDOUT_CALLBACK"] = "json"
        t = time.monotonic()
        proc = subprocess.run([ansible_playbook_exe(), "-i", str(inv), str(playbook)], cwd=str(playbook.parent),
                              capture_output=True, text=True, env=env)
        return time.monotonic() - t, proc
    finally:
        shutil.rmtree(work, ignore_errors=True)
