#!/usr/bin/env python3
"""One seat's check run: labctl's one-tar answer vs collecting each check's answer on its own.

Both ways run the very same batch of checks (the fault's, the protected data, the
security baseline) in one guest command through the agent, in alternation on the
same seat, so that a noisy host weighs on both alike. They differ only in how the
answers come back: labctl packs the run's private folder into one base64 tar; the
naive way (labctl's own before 2026-11-25) prints one line per check with a ``cat``
and two ``base64`` processes each, which under emulation costs tenths of a second
per check. Both answers are judged by the same verdict code and must agree.

Usage: sudo /opt/labctl/venv/bin/python bench/check_run.py [--fault missing-privileges] [--rounds 4]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_config, emit, faulted_seat, loadavg  # noqa: E402

from labctl.faults import checks as C  # noqa: E402
from labctl.faults.engine import FaultEngine  # noqa: E402
from labctl.guest import CommandResult  # noqa: E402
from labctl.seats import SeatManager  # noqa: E402


def per_check_script(plans) -> str:
    """The batch with one answer line per check (cat + base64 + base64 for each)."""
    head = C.batch_script(plans).split('cd "$d" || exit 97\nprintf', 1)[0]
    return head + (f'for i in $(seq 0 {len(plans) - 1}); do printf \'@@%s %s %s %s\\n\' "$i" '
                   '"$(cat "$d/$i.r" 2>/dev/null || echo x)" "$(base64 -w0 <"$d/$i.o")" '
                   '"$(base64 -w0 <"$d/$i.e")"; done\n')


def parse_per_check(text: str, plans) -> dict[int, CommandResult]:
    import base64

    out = {}
    for line in text.splitlines():
        parts = line[2:].split(" ") if line.startswith("@@") else []
        if len(parts) == 6 and parts[0].isdigit() and parts[1].lstrip("-").isdigit():
            i = int(parts[0])
            out[i] = CommandResult(("sh",), int(parts[1]), base64.b64decode(parts[4]).decode(errors="replace"),
                                   base64.b64decode(parts[5]).decode(errors="replace"), 0.0, "")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fault", default="missing-privileges")
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    cfg = bench_config()
    mgr = SeatManager(cfg)
    engine = FaultEngine(cfg, mgr)
    seat = "bench-checkrun"
    emit("check_run.load_start", loadavg())
    with faulted_seat(mgr, engine, seat, args.fault):
        fault, d = engine.current_draw(seat)
        todo = C.checks_for(fault, d, engine.snapshot(seat), engine._seat_ctx(seat))
        plans = [C._plan(*t) for t in todo]
        chan = mgr.agent(seat)
        times: dict[str, list[float]] = {"labctl": [], "naive": []}
        for _ in range(args.rounds):
            verdicts = {}
            for way in ("naive", "labctl"):
                script = C.batch_script(plans) if way == "labctl" else per_check_script(plans)
                t = time.monotonic()
                res = chan.run(["/bin/bash", "-c", script], timeout=600)
                times[way].append(time.monotonic() - t)
                got = ({i: r for i, (r, _) in C.parse_batch(res.stdout, plans).items()} if way == "labctl"
                       else parse_per_check(res.stdout, plans))
                verdicts[way] = [C._judge(c, spec, got.get(i), plans[i][2], "agent", 0.0).status
                                 for i, (c, spec) in enumerate(todo)]
            if verdicts["labctl"] != verdicts["naive"]:
                raise SystemExit(f"the two ways disagree: {verdicts}")
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"{len(plans)} checks of {args.fault} on one seat, {args.rounds} rounds each, alternating "
              f"(load {loadavg()}):")
        for way in ("labctl", "naive"):
            print(f"  {way:7s} median {med[way]:.1f} s  ({', '.join(f'{x:.1f}' for x in times[way])})")
        print(f"  ratio naive / labctl: x{med['naive'] / med['labctl']:.2f}")
        emit("check_run.checks", len(plans))
        emit("check_run.labctl", round(med["labctl"], 2))
        emit("check_run.naive", round(med["naive"], 2))


if __name__ == "__main__":
    main()
