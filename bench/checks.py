#!/usr/bin/env python3
"""Post-checks on every seat of a class: labctl vs ansible-playbook with defaults over SSH, same run.

labctl: ``FaultEngine.check`` on all seats at once (one thread per seat); each check
run is one guest command through the guest agent.
Naive: ``ansible-playbook`` with Ansible's defaults (SSH, fact gathering, no
pipelining, 5 forks) running the very same check scripts, one task item per check,
as root (become with the sudo password), wrapped in the same ``timeout``/``runuser``
as labctl's. Both ways' answers are judged by the same verdict code and compared.

Usage: sudo /opt/labctl/venv/bin/python bench/checks.py [--seats 8] [--session bq] [--rounds 1]
  --session: use a running class made by ``bench/class_ready.py --keep`` (default: make one).
"""

from __future__ import annotations

import argparse
import base64
import json
import shlex
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_config, emit, loadavg, run_naive, ssh_inventory  # noqa: E402

from labctl.faults.checks import _judge, _plan, checks_for  # noqa: E402
from labctl.faults.engine import FaultEngine  # noqa: E402
from labctl.guest import CommandResult, as_user  # noqa: E402
from labctl.sessions.manager import Sessions  # noqa: E402

PLAYBOOK = """---
- name: Post-checks, the naive way
  hosts: all
  tasks:
    - name: Run a check
      ansible.builtin.shell: "echo {{ item.b64 }} | base64 -d | {{ item.runner }}"
      loop: "{{ bench_checks }}"
      loop_control:
        label: "{{ item.id }}"
      changed_when: false
      failed_when: false
"""


def seat_plans(engine: FaultEngine, seat: str):
    fault, d = engine.current_draw(seat)
    todo = checks_for(fault, d, engine.snapshot(seat), engine._seat_ctx(seat),
                      programs=engine.seats.programs_record(seat))
    return fault, d, todo, [_plan(c, spec) for c, spec in todo]


def naive_vars(plans) -> list[dict]:
    out = []
    for i, plan in enumerate(plans):
        # The naive way runs each script with the guest's own shell and programs (the scripts read
        # the same under busybox and GNU: labctl's SSH route does the same).
        script, user, timeout = plan.script, plan.user, plan.timeout
        runner = shlex.join(["/usr/bin/timeout", "--kill-after=5", str(int(max(1, timeout))),
                             *as_user(user, ["/bin/sh"])])
        out.append({"id": i, "b64": base64.b64encode(script.encode()).decode(), "runner": runner})
    return out


def naive_verdicts(stdout: str, seats: dict) -> dict[str, list[str]]:
    """Each seat's check statuses from the json callback's output, judged by labctl's verdict code."""
    data = json.loads(stdout[stdout.index("{"):])
    task = data["plays"][0]["tasks"][-1]
    out = {}
    for seat, res in task["hosts"].items():
        todo, plans = seats[seat]
        items = {r["item"]["id"]: r for r in res.get("results", [])}
        statuses = []
        for i, (c, spec) in enumerate(todo):
            r = items.get(i)
            cr = None if r is None or "rc" not in r else CommandResult(
                ("/bin/sh", "-c", plans[i][0]), r["rc"], r.get("stdout", ""), r.get("stderr", ""), 0.0, "",
                timed_out=(r["rc"] == 124))
            statuses.append(_judge(c, spec, cr, plans[i][2], "ssh", 0.0, "no answer").status)
        out[seat] = statuses
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seats", type=int, default=8)
    ap.add_argument("--session", help="an existing running class to check (e.g. bq from class_ready.py --keep)")
    ap.add_argument("--rounds", type=int, default=1, help="labctl check rounds (median reported)")
    ap.add_argument("--destroy", action="store_true", help="destroy the --session class afterwards")
    args = ap.parse_args()
    cfg = bench_config()
    sessions = Sessions(cfg)
    engine = FaultEngine(cfg, sessions.seats)
    sessions._engine = engine
    made = None
    emit("checks.load_start", loadavg())
    if args.session:
        name = args.session
        if args.destroy:
            made = name
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from class_ready import SESSION, write_inputs

        name = made = SESSION
        try:
            sessions.destroy(name, purge=True)
        except Exception:  # noqa: BLE001
            pass
        roster, scenario = write_inputs(Path(tempfile.mkdtemp(prefix="labctl-bench-checks-")), args.seats)
        res = sessions.create(name, roster, str(scenario), seed=1234)
        if res.errors:
            raise SystemExit(f"class creation failed: {res.errors}")
    try:
        seats = [st.seat for st in sessions.status(name)]
        plans = {s: seat_plans(engine, s) for s in seats}
        n_checks = sum(len(p[3]) for p in plans.values())

        rounds = []
        for _ in range(args.rounds):
            def one(seat):
                t = time.monotonic()
                rep = engine.check(seat)
                return seat, time.monotonic() - t, rep
            t = time.monotonic()
            with ThreadPoolExecutor(max_workers=len(seats)) as pool:
                got = list(pool.map(one, seats))
            rounds.append((time.monotonic() - t, got))
        fast, got = sorted(rounds, key=lambda r: r[0])[len(rounds) // 2]
        labctl_status = {seat: [r.status for r in rep.results] for seat, _, rep in got}

        hostvars = {s: {"bench_checks": naive_vars(plans[s][3])} for s in seats}
        work = Path(tempfile.mkdtemp(prefix="labctl-bench-checks-"))
        book = work / "checks.yml"
        book.write_text(PLAYBOOK)
        slow, proc = run_naive(book, ssh_inventory(sessions.seats, seats, hostvars), json_out=True)
        # rc 4: a host unreachable. A real outcome of the naive way: Ansible copies its module
        # files into the guest, so on a seat whose disk is full (disk-full) it cannot run at all.
        if proc.returncode not in (0, 4):
            raise SystemExit(f"naive checks failed (rc={proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
        naive_status = naive_verdicts(proc.stdout, {s: (plans[s][2], plans[s][3]) for s in seats})
        stats = json.loads(proc.stdout[proc.stdout.index("{"):]).get("stats", {})
        dark = sorted(h for h, st in stats.items() if st.get("unreachable"))
    finally:
        if made:
            try:
                sessions.destroy(made, purge=True)
            except Exception as exc:  # noqa: BLE001
                print(f"could not destroy the session: {exc}", file=sys.stderr)
    emit("checks.load_end", loadavg())
    reached = [s for s in seats if s not in dark]
    same = all(labctl_status[s] == naive_status.get(s) for s in reached)
    print(f"seats: {len(seats)}, checks: {n_checks} ({n_checks / len(seats):.1f} per seat)")
    for seat, secs, rep in got:
        c = rep.results
        print(f"  {seat}: labctl {secs:.2f} s (in the guest: longest check {max(r.duration for r in c):.2f} s, "
              f"sum {sum(r.duration for r in c):.2f} s), {sum(r.passed for r in c)}/{len(c)} pass, route {rep.routes}")
    if args.rounds > 1:
        print(f"labctl rounds: {', '.join(f'{r[0]:.2f}' for r in rounds)} s")
    print(f"labctl, all seats at once:          {fast:6.2f} s  ({fast / len(seats):.2f} s per seat)")
    print(f"naive ansible-playbook over SSH:    {slow:6.2f} s  ({slow / len(seats):.2f} s per seat, "
          f"{slow / n_checks:.2f} s per check)")
    if dark:
        print(f"naive: Ansible could not run on {', '.join(dark)} at all (unreachable: "
              + "; ".join(f"{h}: {plans[h][0].id}/{plans[h][1].variant}" for h in dark) + ")")
    print(f"ratio: x{slow / fast:.1f}; same verdicts both ways (seats Ansible reached): {same}")
    if not same:
        for s in reached:
            print(f"  {s}: labctl {labctl_status[s]} naive {naive_status.get(s)}")
    emit("checks.n", len(seats))
    emit("checks.per_seat", round(n_checks / len(seats), 1))
    emit("checks.labctl_s", round(fast, 2))
    emit("checks.labctl_rounds", [round(r[0], 2) for r in rounds])
    emit("checks.labctl_guest_max_s", round(max(max(r.duration for r in rep.results) for _, _, rep in got), 2))
    emit("checks.naive_s", round(slow, 2))
    emit("checks.ratio", round(slow / fast, 1))
    emit("checks.same_verdicts", same)
    emit("checks.naive_unreachable", [f"{h} ({plans[h][0].id}/{plans[h][1].variant})" for h in dark])


if __name__ == "__main__":
    main()
