#!/usr/bin/env python3
"""A class of seats from nothing to reachable: labctl (warm start, parallel) vs cold boot, same run.

Also prints host memory and CPU per idle seat. Usage:
  sudo /opt/labctl/venv/bin/python bench/seat_create.py [--seats 8] [--parallel 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_config  # noqa: E402

from labctl.seats import SeatManager  # noqa: E402


def qemu_pids() -> dict[str, int]:
    out = {}
    for pid_file in Path("/run/libvirt/qemu").glob("labctl-bc*.pid"):
        out[pid_file.stem] = int(pid_file.read_text().strip())
    return out


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def idle_cost(seconds: float = 10.0) -> tuple[float, float]:
    pids = qemu_pids()
    before = {n: cpu_ticks(p) for n, p in pids.items()}
    time.sleep(seconds)
    hz = os.sysconf("SC_CLK_TCK")
    cpu = [(cpu_ticks(p) - before[n]) / hz / seconds * 100 for n, p in pids.items()]
    rss = []
    for p in pids.values():
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss.append(int(line.split()[1]) / 1024)
    return sum(rss) / len(rss), sum(cpu) / len(cpu)


def run(mgr: SeatManager, names: list[str], parallel: int) -> float:
    t = time.monotonic()
    made, errors = mgr.create_many(names, parallel=parallel)
    if errors:
        raise SystemExit(f"seat creation failed: {errors}")
    return time.monotonic() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seats", type=int, default=8)
    ap.add_argument("--parallel", type=int, default=4)
    args = ap.parse_args()
    cfg = bench_config()
    warm = SeatManager(cfg)
    cold = SeatManager(dataclasses.replace(cfg, warm_start=False))
    names = [f"bc{i}" for i in range(args.seats)]
    for n in names:
        try:
            warm.destroy(n)
        except Exception:
            pass
    t = time.monotonic()
    warm.warm_up()
    warm_up_s = time.monotonic() - t
    try:
        fast = run(warm, names, args.parallel)
        mem, cpu = idle_cost()
        for n in names:
            warm.destroy(n)
        slow = run(cold, names, 1)
    finally:
        for n in names:
            try:
                warm.destroy(n)
            except Exception:
                pass
    print(f"seats: {args.seats}, host cores: {os.cpu_count()}, accel: {warm.accel().accel}")
    print(f"warm state of the image (once per image, cached): {warm_up_s:.1f} s")
    print(f"labctl (warm start, {args.parallel} in parallel): {fast:6.1f} s  ({fast / args.seats:.1f} s per seat)")
    print(f"cold boot, one after another:             {slow:6.1f} s  ({slow / args.seats:.1f} s per seat)")
    print(f"ratio: x{slow / fast:.1f}")
    print(f"idle seat: {mem:.0f} MiB resident, {cpu:.1f}% of one core (mean over {args.seats} seats, 10 s)")


if __name__ == "__main__":
    main()
