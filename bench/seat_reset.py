#!/usr/bin/env python3
"""Seat reset: internal snapshot revert vs saved-memory restore vs cold boot, same run.

Prints seconds until the seat answers SSH again, for each way, and the ratios.
Usage: sudo /opt/labctl/venv/bin/python bench/seat_reset.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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
    libvirt_dom = mgr.backend.get(mgr.info(seat).domain)
    results: dict[str, list[float]] = {"snapshot revert (labctl seat reset)": [], "saved-memory restore": [],
                                       "cold boot (poweroff + start)": []}
    save_file = Path(tempfile.mkdtemp(dir="/var/lib/labctl-bench")) / "seat.save"
    try:
        for _ in range(args.rounds):
            mgr.agent(seat).sh("dd if=/dev/urandom of=/home/alex/junk bs=1M count=20 2>/dev/null")
            results["snapshot revert (labctl seat reset)"].append(mgr.reset(seat))

            libvirt_dom.save(str(save_file))
            t = time.monotonic()
            mgr.backend.conn.restore(str(save_file))
            libvirt_dom = mgr.backend.get(mgr.info(seat).domain)
            mgr.backend.wait_for_agent(libvirt_dom, 120)
            wait_for_ssh("127.0.0.1", port, 120)
            results["saved-memory restore"].append(time.monotonic() - t)

            mgr.backend.poweroff(libvirt_dom)
            t = time.monotonic()
            mgr.backend.start(libvirt_dom)
            mgr.backend.wait_for_agent(libvirt_dom, 300)
            wait_for_ssh("127.0.0.1", port, 300)
            results["cold boot (poweroff + start)"].append(time.monotonic() - t)
    finally:
        save_file.unlink(missing_ok=True)
        mgr.destroy(seat)
    print(f"seat create (boot, personalise, snapshot): {create_s:.1f} s")
    base = statistics.median(results["snapshot revert (labctl seat reset)"])
    for name, xs in results.items():
        med = statistics.median(xs)
        print(f"{name:40s} median {med:6.1f} s  (runs: {', '.join(f'{x:.1f}' for x in xs)})  x{med / base:.1f}")


if __name__ == "__main__":
    main()
