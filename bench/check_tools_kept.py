#!/usr/bin/env python3
"""The checks' own busybox kept in the guest between runs vs written again at every run.

A check run brings the host's static busybox (1.9 MB) into the guest and proves it
arrived unchanged by reading it back through the agent (labctl/guest/toolbox.py). Until
2026-12-06 every run wrote it under a fresh name (about forty 48 KiB agent writes), read
it back and removed it; now the copy stays in ``/dev/shm/.labctl-tools`` (root's) and a
run reads it back and writes it only when it is missing or differs. The naive way here is
the old one's cost: the kept copy is removed (untimed) before each of its runs, so the run
writes it again. Both ways run the seat's whole check batch (its fault's checks, the
protected data, the security baseline) in alternation on the same seat and must give the
same verdicts.

Usage: sudo /opt/labctl/venv/bin/python bench/check_tools_kept.py [--fault missing-privileges] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_config, emit, faulted_seat, loadavg  # noqa: E402

from labctl.faults.engine import FaultEngine  # noqa: E402
from labctl.guest.toolbox import KEPT_TOOLS  # noqa: E402
from labctl.seats import SeatManager  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fault", default="missing-privileges")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    cfg = bench_config()
    mgr = SeatManager(cfg)
    engine = FaultEngine(cfg, mgr)
    seat = "bench-kept"
    emit("check_tools_kept.load_start", loadavg())
    with faulted_seat(mgr, engine, seat, args.fault):
        chan = mgr.agent(seat)
        engine.check(seat)  # the first run writes the copy either way
        times: dict[str, list[float]] = {"kept": [], "written every run": []}
        verdicts: dict[str, set] = {"kept": set(), "written every run": set()}
        for _ in range(args.rounds):
            for way in ("written every run", "kept"):
                if way != "kept":
                    chan.run(["/bin/rm", "-f", "--", KEPT_TOOLS], timeout=30)
                t = time.monotonic()
                report = engine.check(seat)
                times[way].append(time.monotonic() - t)
                verdicts[way].add(tuple((r.id, r.status) for r in report.results))
        if verdicts["kept"] != verdicts["written every run"] or len(verdicts["kept"]) != 1:
            raise SystemExit(f"the two ways disagree: {verdicts}")
        n = len(next(iter(verdicts["kept"])))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"whole check run of {args.fault} ({n} checks) on one seat, {args.rounds} rounds each, alternating "
              f"(load {loadavg()}); same verdicts both ways:")
        for way, m in med.items():
            print(f"  {way:18s} median {m:.2f} s  ({', '.join(f'{x:.2f}' for x in times[way])})")
        print(f"  saved per run: {med['written every run'] - med['kept']:.2f} s "
              f"(x{med['written every run'] / med['kept']:.2f})")
        emit("check_tools_kept.kept", round(med["kept"], 2))
        emit("check_tools_kept.written", round(med["written every run"], 2))


if __name__ == "__main__":
    main()
