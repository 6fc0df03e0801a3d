#!/usr/bin/env python3
"""Seat reset: saved-memory restore (labctl) vs internal snapshot revert vs cold boot, same run.

Prints seconds until the seat answers SSH again, for each way, and the ratios.
Usage: sudo /opt/labctl/venv/bin/python bench/seat_reset.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import libvirt  # noqa: E402

from labctl.config import load_config  # noqa: E402
from labctl.guest.ssh import wait_for_ssh  # noqa: E402
from labctl.seats import SeatManager  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    cfg = load_config(state_dir="/var/lib/labctl-bench", port_min=44000, port_max=44999)
    mgr = SeatManager(cfg)
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
                                       "internal snapshot revert": [], "cold boot (poweroff + start)": []}
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
    finally:
        mgr.destroy(seat)
    base = statistics.median(results["saved-memory restore (labctl seat reset)"])
    print(f"seat create (cold boot, personalise, save pristine): {create_s:.1f} s")
    for name, xs in results.items():
        med = statistics.median(xs)
        print(f"{name:40s} median {med:6.1f} s  (runs: {', '.join(f'{x:.1f}' for x in xs)})  x{med / base:.1f}")


if __name__ == "__main__":
    main()
