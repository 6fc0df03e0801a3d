#!/usr/bin/env python3
"""A class of N seats from nothing to running, reachable, fault injected and ticket issued.

labctl: ``Sessions.create`` (warm start from the image's saved golden guest, seats in
parallel, faults injected over the guest agent, tickets in the session database).
Naive, in the same run: a cold boot of each seat (labctl with ``warm_start`` off, so
the seat still gets its own key and passwords), then ``ansible-playbook`` with
Ansible's defaults over SSH running the same recipes' prepare and inject playbooks
with the same drawn parameters the engine passes. The naive way issues no ticket
(it has nowhere to put one); that is a few milliseconds of SQLite in labctl's total.

Also prints the host's memory and CPU per idle seat (the labctl class, 10 s).
Usage: sudo /opt/labctl/venv/bin/python bench/class_ready.py [--seats 8] [--parallel 4] [--keep NAME]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_config, emit, idle_cost, loadavg, run_naive, ssh_inventory  # noqa: E402

from labctl import timing  # noqa: E402
from labctl.config import default_parallel  # noqa: E402
from labctl.faults.draw import context, draw  # noqa: E402
from labctl.faults.engine import FaultEngine  # noqa: E402
from labctl.seats import SeatManager, domain_name  # noqa: E402
from labctl.sessions.manager import Sessions  # noqa: E402

FAULTS = ("disk-full", "deleted-files")
SESSION = "bq"


def write_inputs(work: Path, n: int) -> tuple[Path, Path]:
    roster = work / "roster.csv"
    roster.write_text("name,email\n" + "".join(f"Trainee {i:02d},trainee{i:02d}@example.org\n" for i in range(1, n + 1)))
    scenario = work / "bench.yaml"
    scenario.write_text(
        "title: Benchmark class\ndescription: bench/class_ready.py\nmode: remote\nlanguage: en\n"
        "time_limit_min: 60\nfaults_per_seat: 1\n"
        f"pool:\n  faults: [{', '.join(FAULTS)}]\n"
        "sla: {P1: 15, P2: 30, P3: 45, P4: 60, P5: 120}\n")
    return roster, scenario


WAYS = {
    "prepare-on-seat": "each seat runs its recipe's prepare playbook (prepared_states off: labctl before issue 15)",
    "prepared-made": "seats from prepared states, made in this run (the first class of the day)",
    "prepared-cached": "seats from prepared states already in the cache (a later class the same day)",
}


def forget_prepared(cfg) -> None:
    """Remove the cached prepared states of the benchmark's faults, so that this run makes them."""
    import json
    import shutil

    for meta in (cfg.cache_dir / "prepared").glob("*/*/prepared.json"):
        try:
            if json.loads(meta.read_text()).get("fault") in FAULTS:
                shutil.rmtree(meta.parent)
        except (OSError, ValueError):
            pass


def labctl_class(cfg, way: str, roster: Path, scenario: Path, args, *, last: bool) -> dict:
    """One class with labctl from the recorded plan (same draws every way); destroyed after unless
    it is the ``last`` way and ``--keep`` was given. The last way also measures the idle seats."""
    keep = args.keep and last
    sessions = Sessions(cfg)
    sessions._engine = FaultEngine(cfg, sessions.seats)
    try:
        sessions.destroy(SESSION, purge=True)
    except Exception:  # noqa: BLE001
        pass
    sessions.plan(SESSION, roster, str(scenario), seed=1234)
    ok = False
    marks: dict[str, dict[str, float]] = {}
    t = time.monotonic()

    def mark(msg: str) -> None:
        # "seat X: creating" / "seat X: injecting ..." / "seat X: ready": when each step began.
        if msg.startswith("seat ") and ": " in msg:
            seat, what = msg[5:].split(": ", 1)
            word = what.split(" ", 1)[0]
            m = marks.setdefault(seat, {})
            if word == "ready" or word not in m:  # the seat's own "ready" comes last (creation says one too)
                m[word] = time.monotonic() - t

    try:
        wall = time.time()
        timing.clear()  # the naive way's cold seats are labctl's too: time only this class
        t = time.monotonic()
        res = sessions.resume(SESSION, parallel=args.parallel, progress=mark)
        fast = time.monotonic() - t
        print(f"-- {WAYS[way]}")
        print(timing.render(fast))
        emit("class.labctl_phases", [[r.name, r.count, round(r.total, 1), round(r.mean, 1), round(r.longest, 1)]
                                     for r in timing.summary()])
        if res.errors:
            raise SystemExit(f"labctl: session create failed: {res.errors}")
        tickets = sum(1 for st in res.seats if st.progress == "ticket-issued")
        idle = idle_cost([domain_name(st.seat) for st in res.seats]) if last else None
        ok = True
    finally:
        if not (keep and ok):
            try:
                sessions.destroy(SESSION, purge=True)
            except Exception as exc:  # noqa: BLE001
                print(f"could not destroy the session: {exc}", file=sys.stderr)
    return {"secs": fast, "marks": marks, "tickets": tickets, "wall": wall, "idle": idle}


def destroy_quietly(mgr: SeatManager, names: list[str]) -> None:
    for n in names:
        try:
            mgr.destroy(n)
        except Exception:  # noqa: BLE001 - not there is fine
            pass


def naive(cfg, engine: FaultEngine, plan: list[tuple[str, str, str, int]], parallel: int, work: Path) -> dict:
    """Cold boots, then the recipes' prepare and inject over SSH with Ansible's defaults."""
    cold = SeatManager(dataclasses.replace(cfg, warm_start=False))
    names = [f"bn-{i:02d}" for i in range(1, len(plan) + 1)]
    destroy_quietly(cold, names)
    t0 = time.monotonic()
    made, errors = cold.create_many(names, parallel=parallel)
    if errors:
        destroy_quietly(cold, names)
        raise SystemExit(f"naive: cold boot failed: {errors}")
    boot_s = time.monotonic() - t0
    out = {"boot_s": boot_s}
    try:
        steps = {}
        for step in ("prepare", "inject"):
            # One ansible-playbook per (recipe, step): hosts carry their own drawn parameters.
            step_s = 0.0
            for fid in sorted({p[1] for p in plan}):
                fault = engine.catalog.get(fid)
                book = fault.playbook(step)
                if book is None:
                    continue
                hostvars = {}
                for seat, (_, f, variant, seed) in zip(names, plan):
                    if f != fid:
                        continue
                    d = draw(fault, seed, variant)
                    hostvars[seat] = {"lab": {**context(d), "seat": seat, "fault": fid, "step": step}, **d.params}
                secs, proc = run_naive(book, ssh_inventory(cold, list(hostvars), hostvars))
                if proc.returncode != 0:
                    raise SystemExit(f"naive: {fid} {step} failed (rc={proc.returncode}):\n{proc.stdout[-3000:]}\n"
                                     f"{proc.stderr[-2000:]}")
                step_s += secs
            steps[step] = step_s
        out.update({f"ansible_{k}_s": v for k, v in steps.items()})
        out["total_s"] = time.monotonic() - t0
    finally:
        destroy_quietly(cold, names)
    return out


def playbook_times(cfg, seats: list[str], since: float) -> dict[str, dict[str, float]]:
    """Each labctl playbook run's own duration (ansible-runner), from the engine's run folders."""
    import json

    out: dict[str, dict[str, float]] = {}
    for seat in seats:
        for res in sorted(cfg.runs_dir.glob(f"*-{seat}-*/result.json")):
            try:
                if res.stat().st_mtime < since:
                    continue
                r = json.loads(res.read_text())
            except (OSError, ValueError):
                continue
            out.setdefault(seat, {})[r["playbook"].removesuffix(".yml")] = r["duration"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seats", type=int, default=8)
    ap.add_argument("--parallel", type=int, default=default_parallel(),
                    help="seats at once, both ways (default: labctl's, one per host core)")
    ap.add_argument("--naive-parallel", type=int, default=None,
                    help="cold boots at a time in the naive way (default: same as --parallel)")
    ap.add_argument("--keep", action="store_true", help=f"leave the labctl class (session '{SESSION}') running")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--ways", default=",".join(WAYS), type=lambda v: v.split(","),
                    help="labctl ways to time, in this order (the last one's figures are detailed; default all): " + ", ".join(WAYS))
    args = ap.parse_args()
    cfg = bench_config()
    sessions = Sessions(cfg)
    mgr = sessions.seats
    engine = FaultEngine(cfg, mgr)
    sessions._engine = engine
    work = Path(tempfile.mkdtemp(prefix="labctl-bench-class-"))
    roster, scenario = write_inputs(work, args.seats)
    emit("class.load_start", loadavg())
    try:
        sessions.destroy(SESSION, purge=True)
    except Exception:  # noqa: BLE001
        pass
    t = time.monotonic()
    mgr.warm_up()
    warm_up_s = time.monotonic() - t

    # Plan first (no machine touched) so that both ways get the same draws.
    sessions.plan(SESSION, roster, str(scenario), seed=1234)
    with sessions.db.read() as conn:
        rows = conn.execute("SELECT s.name, s.fault, s.variant, s.seed FROM seats s JOIN sessions x "
                            "ON s.session_id = x.id WHERE x.name = ? ORDER BY s.idx", (SESSION,)).fetchall()
    plan = [(r[0], r[1], r[2], int(r[3])) for r in rows]
    print("draws: " + ", ".join(f"{p[0]}={p[1]}/{p[2]}" for p in plan), flush=True)

    slow = None
    if not args.skip_naive:
        slow = naive(cfg, engine, plan, args.naive_parallel or args.parallel, work)

    ways = {}
    for way in args.ways:
        if way not in WAYS:
            raise SystemExit(f"--ways: {way!r}; known: {', '.join(WAYS)}")
        prepared = way != "prepare-on-seat"
        if way == "prepared-made":
            forget_prepared(cfg)
        ways[way] = labctl_class(dataclasses.replace(cfg, prepared_states=prepared), way, roster, scenario, args,
                                 last=way == args.ways[-1])
    fast = ways[args.ways[-1]]["secs"]
    marks, tickets, wall = ways[args.ways[-1]]["marks"], ways[args.ways[-1]]["tickets"], ways[args.ways[-1]]["wall"]
    mem, cpu, counted = ways[args.ways[-1]]["idle"]
    emit("class.load_end", loadavg())
    print(f"seats: {args.seats}, host cores: {os.cpu_count()}, accel: {mgr.accel().accel}, faults: {', '.join(FAULTS)}")
    print(f"warm state of the image (once per image, cached): {warm_up_s:.1f} s")
    for way, r in ways.items():
        print(f"labctl Sessions.create, {WAYS[way]} ({args.parallel} in parallel): {r['secs']:6.1f} s  "
              f"({r['secs'] / args.seats:.1f} s per seat), {r['tickets']} tickets issued")
        emit(f"class.labctl_s.{way}", round(r["secs"], 1))
    emit("class.n", args.seats)
    emit("class.parallel", args.parallel)
    emit("class.warm_up_s", round(warm_up_s, 1))
    emit("class.labctl_s", round(fast, 1))
    emit("class.tickets", tickets)
    books = playbook_times(cfg, [p[0] for p in plan], wall)
    for seat, m in sorted(marks.items()):
        if {"creating", "injecting", "ready"} <= set(m):
            print(f"  {seat}: started {m['creating']:.1f} s, made {m['injecting'] - m['creating']:.1f} s, "
                  f"prepare+inject {m['ready'] - m['injecting']:.1f} s "
                  f"(playbooks over the agent: {', '.join(f'{k} {v:.1f} s' for k, v in books.get(seat, {}).items())})")
    steps = [(m["injecting"] - m["creating"], m["ready"] - m["injecting"]) for m in marks.values()
             if {"creating", "injecting", "ready"} <= set(m)]
    if steps:
        emit("class.labctl_seat_made_mean_s", round(sum(a for a, _ in steps) / len(steps), 1))
        emit("class.labctl_seat_inject_mean_s", round(sum(b for _, b in steps) / len(steps), 1))
    allbooks = [v for b in books.values() for v in b.values()]
    if allbooks:
        emit("class.labctl_playbook_mean_s", round(sum(allbooks) / len(allbooks), 1))
    if slow:
        print(f"naive: cold boots ({args.naive_parallel or args.parallel} at a time) {slow['boot_s']:.1f} s + "
              f"ansible-playbook over SSH prepare {slow['ansible_prepare_s']:.1f} s + inject "
              f"{slow['ansible_inject_s']:.1f} s = {slow['total_s']:6.1f} s  (no tickets)")
        for way, r in ways.items():
            print(f"ratio, {WAYS[way]}: x{slow['total_s'] / r['secs']:.1f}")
        emit("class.naive", {k: round(v, 1) for k, v in slow.items()})
        emit("class.ratio", round(slow["total_s"] / fast, 1))
    print(f"idle seat: {mem:.0f} MiB resident, {cpu:.1f}% of one core (mean over {counted} seats, 10 s)")
    emit("idle.mib", round(mem))
    emit("idle.cpu_pct", round(cpu, 1))
    emit("idle.seats", counted)


if __name__ == "__main__":
    main()
