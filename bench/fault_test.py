#!/usr/bin/env python3
"""The catalogue's ``fault test``: seconds per fault, per variant, and where the time goes.

Runs what ``labctl fault test --all`` runs (the library's FaultTester, same defaults:
every variant, repairs and decoys, reboot persistence for every variant) on one
seat made for the purpose (a company seat when a recipe needs the company server),
writes the JSON report, and prints the figures. ``--reboots``, ``--repeats`` and
``--repairs`` are `labctl fault test`'s; CI's catalogue test runs
``--reboots none --repeats none --repairs spread``.
Usage: sudo /opt/labctl/venv/bin/python bench/fault_test.py [FAULT ...] [--reboots all|first|first-broken|none]
       [--repeats all|first|none] [--repairs all|spread] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_config, emit, loadavg  # noqa: E402

from labctl.faults.engine import FaultEngine  # noqa: E402
from labctl.faults.testing import FaultTester  # noqa: E402

SEAT = "bench-ft"


def kind(step: str) -> str:
    """A step's family for the breakdown: its name without the ids in it."""
    return re.split(r"[:(]", step, maxsplit=1)[0].strip() or step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("faults", nargs="*", help="fault ids (default: the whole catalogue)")
    ap.add_argument("--reboots", choices=["all", "first", "first-broken", "none"], default="all")
    ap.add_argument("--repeats", choices=["all", "first", "none"], default="all")
    ap.add_argument("--repairs", choices=["all", "spread"], default="all")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json-out", default="/tmp/labctl-bench-fault-test.json")
    args = ap.parse_args()
    cfg = bench_config()
    engine = FaultEngine(cfg)
    faults = [engine.catalog.get(f) for f in args.faults] if args.faults else engine.catalog.all()
    emit("fault_test.load_start", loadavg())
    try:
        engine.seats.destroy(SEAT)
    except Exception:  # noqa: BLE001
        pass
    t = time.monotonic()
    engine.seats.create(SEAT, company=any(f.needs_company for f in faults))
    create_s = time.monotonic() - t
    reports = []
    try:
        for f in faults:
            tester = FaultTester(engine, SEAT, seed=args.seed, reboots=args.reboots, repeats=args.repeats,
                                 repairs=args.repairs, progress=lambda m: print(m, flush=True))
            reports.append(tester.run(f))
    finally:
        engine.seats.destroy(SEAT)
    data = [r.as_dict() for r in reports]
    Path(args.json_out).write_text(json.dumps(data, indent=2))
    emit("fault_test.load_end", loadavg())
    print(f"test seat created in {create_s:.1f} s; JSON report: {args.json_out}")
    rows = []
    overall = defaultdict(float)
    for r in data:
        variants = defaultdict(float)
        breakdown = defaultdict(float)
        for s in r["steps"]:
            variants[s["variant"]] += s["duration"]
            breakdown[kind(s["step"])] += s["duration"]
            overall[kind(s["step"])] += s["duration"]
        nv = len([v for v in variants if v != "-"]) or 1
        print(f"{r['fault']:22s} {r['outcome']:5s} {r['duration']:6.1f} s  ({nv} variant(s), "
              f"{r['duration'] / nv:.1f} s per variant)")
        for v, secs in variants.items():
            print(f"    variant {v:20s} {secs:6.1f} s")
        print("    where: " + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(breakdown.items(), key=lambda kv: -kv[1])))
        rows.append({"fault": r["fault"], "outcome": r["outcome"], "seconds": r["duration"], "variants": nv,
                     "per_variant": {v: round(x, 1) for v, x in variants.items()},
                     "breakdown": {k: round(x, 1) for k, x in breakdown.items()}})
    total = sum(r["duration"] for r in data)
    print(f"all {len(data)} fault(s): {total:.1f} s, {total / max(1, len(data)):.1f} s per fault")
    print("where the time goes overall: " + ", ".join(
        f"{k} {v:.0f} s ({v / max(total, 1e-9) * 100:.0f}%)" for k, v in sorted(overall.items(), key=lambda kv: -kv[1])))
    emit("fault_test.reboots", args.reboots)
    emit("fault_test.policy", f"--reboots {args.reboots} --repeats {args.repeats} --repairs {args.repairs}")
    emit("fault_test.create_s", round(create_s, 1))
    emit("fault_test.faults", rows)
    emit("fault_test.total_s", round(total, 1))
    emit("fault_test.overall", {k: round(v, 1) for k, v in overall.items()})


if __name__ == "__main__":
    main()
