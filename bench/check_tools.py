#!/usr/bin/env python3
"""Checks with their own tools vs with the guest's programs: same verdicts, and what it costs.

Since issue 15 a check run brings the host's static busybox into the guest (labctl/guest/
toolbox.py) and runs every check kind's script with it; before, the same scripts ran with
the guest's own programs, which a trainee with root can replace. This script runs the
whole catalogue's checks both ways on real seats and compares every verdict: for each
recipe (default: all of them) and each variant, on the broken machine and again after the
reference fix, both ways in alternation on the same seat. Both ways include the security
baseline's new baseline-image-programs rule (the guest way runs it with the guest's find
and stat), so the figures compare the cost of bringing the tools, not of the rule.

Usage: sudo /opt/labctl/venv/bin/python bench/check_tools.py [--faults "disk-full deleted-files"] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_config, emit, loadavg  # noqa: E402

from labctl.faults.engine import FaultEngine  # noqa: E402
from labctl.guest.agent import AgentChannel  # noqa: E402
from labctl.seats import SeatManager  # noqa: E402

OWN_TOOLS = AgentChannel.stage_tools


def _check(engine: FaultEngine, seat: str, way: str):
    AgentChannel.stage_tools = OWN_TOOLS if way == "own tools" else (lambda self, load: None)
    try:
        t = time.monotonic()
        report = engine.check(seat)
        return report, time.monotonic() - t
    finally:
        AgentChannel.stage_tools = OWN_TOOLS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faults", default="", help="space-separated recipe ids (default: the whole catalogue)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    cfg = bench_config()
    mgr = SeatManager(cfg)
    engine = FaultEngine(cfg, mgr)
    faults = [engine.catalog.get(f) for f in args.faults.split()] if args.faults else engine.catalog.load()[0]
    emit("check_tools.load_start", loadavg())
    times: dict[str, list[float]] = {"own tools": [], "guest programs": []}
    compared = disagreements = 0
    seats: dict[tuple[str, bool], str] = {}
    try:
        for fault in faults:
            key = (fault.image, fault.needs_company)
            if key not in seats:
                seats[key] = f"bench-tools-{len(seats)}"
                try:
                    mgr.destroy(seats[key])
                except Exception:  # noqa: BLE001 - not there
                    pass
                mgr.create(seats[key], fault.image, company=fault.needs_company)
            seat = seats[key]
            for v in fault.variants:
                engine.inject(seat, fault.id, seed=1, variant=v.id)
                for stage in ("broken", "fixed"):
                    if stage == "fixed":
                        engine.fix(seat)
                    seen = {}
                    for _ in range(args.rounds):
                        for way in ("guest programs", "own tools"):
                            report, secs = _check(engine, seat, way)
                            times[way].append(secs)
                            seen.setdefault(way, []).append({r.id: r.status for r in report.results})
                    for i in range(args.rounds):
                        compared += 1
                        a, b = seen["own tools"][i], seen["guest programs"][i]
                        if a != b:
                            disagreements += 1
                            diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
                            print(f"  DISAGREE {fault.id}/{v.id} {stage}: {diff}")
                    print(f"{fault.id}/{v.id} {stage}: {len(seen['own tools'][0])} checks, "
                          f"own tools {statistics.median(times['own tools'][-args.rounds:]):.1f} s, "
                          f"guest programs {statistics.median(times['guest programs'][-args.rounds:]):.1f} s",
                          flush=True)
                mgr.reset(seat)
    finally:
        for seat in seats.values():
            try:
                mgr.destroy(seat)
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"could not destroy {seat}: {exc}")
    med = {k: statistics.median(v) for k, v in times.items() if v}
    print(f"\n{compared} pairs of check runs over {len(faults)} recipes (load {loadavg()}):")
    for way, m in med.items():
        print(f"  {way:15s} median {m:.2f} s per check run ({len(times[way])} runs)")
    if med:
        print(f"  bringing the tools costs {med['own tools'] - med['guest programs']:+.2f} s per run "
              f"(x{med['own tools'] / med['guest programs']:.2f})")
    print(f"  verdicts: {compared - disagreements} of {compared} pairs identical")
    emit("check_tools.pairs", compared)
    emit("check_tools.disagreements", disagreements)
    for way, m in med.items():
        emit(f"check_tools.{way.replace(' ', '_')}", round(m, 2))
    if disagreements:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
