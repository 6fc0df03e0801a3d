#!/usr/bin/env python3
"""Seat reset: saved-memory restore (labctl) vs snapshot revert vs cold boot vs destroy and cold boot.

Prints seconds until the seat answers SSH again (the agent too), for each way, and
the ratios. "Destroy and cold boot" is the naive reset the issue asks about: the
seat is destroyed and made again from the image without the warm state (labctl
with ``warm_start`` off: boot, personalise, save the pristine state).
Usage: sudo /opt/labctl/venv/bin/python bench/seat_reset.py [--rounds N]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import libvirt  # noqa: E402
from common import bench_config, emit, loadavg  # noqa: E402

from labctl.guest.ssh import wait_for_ssh  # noqa: E402
from labctl.seats import SeatManager  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    cfg = bench_config()
    mgr = SeatManager(cfg)
    cold = SeatManager(dataclasses.replace(cfg, warm_start=False))
    emit("reset.load_start", loadavg())
    seat = "bench-reset"
    try:
        mgr.destroy(seat)
    except Exception:
        pass
    t = time.monotonic()
    mgr.create(seat)
    create_s = time.monotonic() - t
    port = mgr.info(seat).record.ports["ssh"]
    results: dict[str, list[float]] = {"saved-memory restore (labctl seat reset)": [],
                                       "internal snapshot revert": [], "cold boot (poweroff + start)": [],
                                       "destroy and cold boot (naive reset)": []}
    try:
        for _ in range(args.rounds):
            mgr.agent(seat).sh("dd if=/dev/urandom of=/home/alex/junk bs=1M count=20 2>/dev/null")
            results["saved-memory restore (labctl seat reset)"].append(mgr.reset(seat))

            # The reset gave the seat a new overlay: take the snapshot to revert to in it (not timed).
            dom = mgr.backend.get(mgr.info(seat).domain)
            for old in dom.listAllSnapshots():
                old.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)
            dom.snapshotCreateXML("<domainsnapshot><name>bench</name></domainsnapshot>", 0)
            mgr.agent(seat).sh("dd if=/dev/urandom of=/home/alex/junk bs=1M count=20 2>/dev/null")
            dom = mgr.backend.get(mgr.info(seat).domain)
            t = time.monotonic()
            dom.revertToSnapshot(dom.snapshotLookupByName("bench"), libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING)
            mgr.backend.wait_for_agent(dom, 120)
            wait_for_ssh("127.0.0.1", port, 120)
            results["internal snapshot revert"].append(time.monotonic() - t)

            mgr.backend.poweroff(dom)
            t = time.monotonic()
            mgr.backend.start(dom)
            mgr.backend.wait_for_agent(dom, 300)
            wait_for_ssh("127.0.0.1", port, 300)
            results["cold boot (poweroff + start)"].append(time.monotonic() - t)

            t = time.monotonic()
            cold.destroy(seat)
            cold.create(seat)
            results["destroy and cold boot (naive reset)"].append(time.monotonic() - t)
            port = mgr.info(seat).record.ports["ssh"]
    finally:
        mgr.destroy(seat)
    base = statistics.median(results["saved-memory restore (labctl seat reset)"])
    print(f"seat create (cold boot, personalise, save pristine): {create_s:.1f} s")
    for name, xs in results.items():
        med = statistics.median(xs)
        print(f"{name:40s} median {med:6.1f} s  (runs: {', '.join(f'{x:.1f}' for x in xs)})  x{med / base:.1f}")
    emit("reset.load_end", loadavg())
    emit("reset.rounds", args.rounds)
    emit("reset.create_s", round(create_s, 1))
    for key, name in (("labctl", "saved-memory restore (labctl seat reset)"), ("snapshot", "internal snapshot revert"),
                      ("poweroff_start", "cold boot (poweroff + start)"),
                      ("destroy_cold", "destroy and cold boot (naive reset)")):
        emit(f"reset.{key}", {"median": round(statistics.median(results[name]), 1),
                              "runs": [round(x, 1) for x in results[name]]})
    emit("reset.ratio_destroy_cold", round(statistics.median(results["destroy and cold boot (naive reset)"]) / base, 1))


if __name__ == "__main__":
    main()
