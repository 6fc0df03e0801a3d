#!/usr/bin/env python3
"""Rewrite the figures section of docs/benchmarks.md from what bench/run's scripts printed.

Usage: python bench/report.py OUT_DIR docs/benchmarks.md
Reads the ``@@ key value`` lines of OUT_DIR/*.txt and replaces what lies between
``<!-- figures:start -->`` and ``<!-- figures:end -->``. A figure a script did not
print is written as "not measured".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

START, END = "<!-- figures:start -->", "<!-- figures:end -->"
NM = "not measured"


def collect(out: Path) -> dict:
    got = {}
    for f in sorted(out.glob("*.txt")):
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith("@@ "):
                _, key, value = line.split(" ", 2)
                try:
                    got[key] = json.loads(value)
                except ValueError:
                    got[key] = value
    return got


def s(x, unit=" s", fmt="{:.1f}") -> str:
    return NM if x is None else fmt.format(x) + unit


def verdict(ok) -> str:
    return NM if ok is None else ("met" if ok else "**not met**")


def render(g: dict) -> str:
    L = []
    n = g.get("class.n")
    L.append(f"Taken {g.get('run.date', '?')} on {g.get('run.host', '?')}, QEMU TCG (software emulation), "
             f"by `bench/run` (outputs kept in the run's folder). Host load average (1, 5, 15 min) at the start "
             f"{g.get('run.load_start', '?')}, at the end {g.get('run.load_end', '?')}; each script's own start/end "
             "load is given with its figures. Every figure is one run unless runs are listed.\n")
    # -- class
    L.append(f"### 1. A class from nothing to ready (`{g.get('class.cmd', 'bench/class_ready.py')}`)\n")
    naive = g.get("class.naive") or {}
    lab = g.get("class.labctl_s")
    L.append(f"{n if n is not None else '?'} seats, faults drawn from disk-full and deleted-files (same draws "
             f"both ways); load {g.get('class.load_start', '?')} -> {g.get('class.load_end', '?')}.\n")
    L.append("| way | total | per seat |\n|---|---|---|")
    per = (lambda x: s(x / n) if (x is not None and n) else NM)
    L.append(f"| labctl: `Sessions.create`, warm start from the saved golden guest, {g.get('class.parallel', '?')} "
             f"in parallel, inject over the guest agent, {g.get('class.tickets', '?')} tickets issued "
             f"| {s(lab)} | {per(lab)} |")
    L.append(f"| naive: cold boot of each seat ({g.get('class.parallel', '?')} at a time) "
             f"| {s(naive.get('boot_s'))} | {per(naive.get('boot_s'))} |")
    L.append(f"| naive: + `ansible-playbook` defaults over SSH, recipe prepare | {s(naive.get('ansible_prepare_s'))} "
             f"| {per(naive.get('ansible_prepare_s'))} |")
    L.append(f"| naive: + `ansible-playbook` defaults over SSH, recipe inject | {s(naive.get('ansible_inject_s'))} "
             f"| {per(naive.get('ansible_inject_s'))} |")
    L.append(f"| naive total (no tickets: it has nowhere to put them) | {s(naive.get('total_s'))} "
             f"| {per(naive.get('total_s'))} |")
    L.append(f"\nRatio: {'x' + str(g['class.ratio']) if 'class.ratio' in g else NM}. The golden guest (a cold boot "
             f"and a save, once per image, cached) took {s(g.get('class.warm_up_s'))} in this run "
             "(0 when already cached) and is not in labctl's total.\n")
    phases = g.get("class.labctl_phases")
    if phases:
        L.append("Where labctl's time went (the library's phases, as `labctl --verbose` prints them; seats run in "
                 "parallel, so the totals add up beyond the wall time):\n")
        L.append("| phase | count | total | mean | longest |\n|---|---|---|---|---|")
        for name, count, total, mean, longest in phases:
            L.append(f"| {name} | {count} | {s(total)} | {s(mean)} | {s(longest)} |")
        L.append("")
    L.append(f"### 5. Host cost of an idle seat\n\n{s(g.get('idle.mib'), ' MiB', '{:.0f}')} resident and "
             f"{s(g.get('idle.cpu_pct'), '% of one core')} per seat (mean over {g.get('idle.seats', '?')} seats of "
             "the labctl class, fault injected, 10 s, from /proc).\n")
    # -- checks
    L.append(f"### 3. Post-checks of every seat (`{g.get('checks.cmd', 'bench/checks.py')}`)\n")
    cn = g.get("checks.n")
    L.append(f"{cn if cn is not None else '?'} seats, {g.get('checks.per_seat', '?')} checks per seat "
             f"(the fault's, the protected-data check and the security baseline); "
             f"load {g.get('checks.load_start', '?')} -> {g.get('checks.load_end', '?')}.\n")
    L.append("| way | total | per seat |\n|---|---|---|")
    for label, key in (("labctl: `engine.check` on all seats at once, one guest command each (median of rounds "
                        f"{g.get('checks.labctl_rounds', '?')})", "checks.labctl_s"),
                       ("naive: `ansible-playbook` defaults over SSH, one `shell` item per check, become root",
                        "checks.naive_s")):
        x = g.get(key)
        L.append(f"| {label} | {s(x, fmt='{:.2f}')} | {s(x / cn, fmt='{:.2f}') if (x is not None and cn) else NM} |")
    L.append(f"\nRatio: {'x' + str(g['checks.ratio']) if 'checks.ratio' in g else NM}; both ways gave the same "
             f"verdicts: {g.get('checks.same_verdicts', NM)}. Longest single check inside a guest: "
             f"{s(g.get('checks.labctl_guest_max_s'), fmt='{:.2f}')}.\n")
    if g.get("checks.naive_unreachable"):
        L.append("The naive way could not run at all on: " + ", ".join(g["checks.naive_unreachable"]) +
                 " (Ansible copies its module files into the guest; a full disk stops it). labctl's one "
                 "command through the agent needs no file in the guest.\n")
    # -- reset
    L.append(f"### 2. Seat reset (`{g.get('reset.cmd', 'bench/seat_reset.py')}`), seconds until agent and SSH answer\n")
    L.append(f"Load {g.get('reset.load_start', '?')} -> {g.get('reset.load_end', '?')}.\n")
    L.append("| way | median | runs |\n|---|---|---|")
    for label, key in (("labctl: fresh overlay + restore of the saved pristine memory", "reset.labctl"),
                       ("internal snapshot revert (`virsh snapshot-revert`)", "reset.snapshot"),
                       ("power off + start (cold boot of the same disk)", "reset.poweroff_start"),
                       ("naive: destroy and cold boot (new seat from the image, no warm state)", "reset.destroy_cold")):
        r = g.get(key) or {}
        L.append(f"| {label} | {s(r.get('median'))} | {', '.join(map(str, r.get('runs', []))) or NM} |")
    L.append(f"\nRatio destroy-and-cold-boot / labctl: "
             f"{'x' + str(g['reset.ratio_destroy_cold']) if 'reset.ratio_destroy_cold' in g else NM}.\n")
    # -- fault test
    L.append(f"### 4. `fault test` of the catalogue (`{g.get('fault_test.cmd', 'bench/fault_test.py')}`)\n")
    rows = g.get("fault_test.faults")
    if rows:
        policy = g.get("fault_test.policy") or f"--reboots {g.get('fault_test.reboots', '?')}"
        L.append(f"Policy `{policy}`; one seat; load {g.get('fault_test.load_start', '?')} "
                 f"-> {g.get('fault_test.load_end', '?')}.\n")
        L.append("| fault | outcome | total | variants | per variant | biggest steps |\n|---|---|---|---|---|---|")
        for r in rows:
            top = sorted(r["breakdown"].items(), key=lambda kv: -kv[1])[:3]
            L.append(f"| {r['fault']} | {r['outcome']} | {r['seconds']:.0f} s | {r['variants']} | "
                     f"{r['seconds'] / r['variants']:.0f} s | {', '.join(f'{k} {v:.0f} s' for k, v in top)} |")
        tot = g.get("fault_test.total_s")
        L.append(f"\n{len(rows)} fault(s) in {tot:.0f} s: {tot / len(rows):.0f} s per fault.\n")
    else:
        L.append(f"{NM} in this run (`bench/run --no-fault-test`).\n")
    # -- targets
    L.append("### Targets (issue 7)\n\n| target | measured | |\n|---|---|---|")
    ratio = g.get("class.ratio")
    L.append(f"| class of 8 ready in <= 20 s | {s(lab)} for {n} seats | "
             f"{verdict(None if lab is None or n != 8 else lab <= 20)} |")
    L.append(f"| class >= 5x faster than naive | x{ratio if ratio is not None else '?'} | "
             f"{verdict(None if ratio is None else ratio >= 5)} |")
    rl = (g.get("reset.labctl") or {}).get("median")
    rr = g.get("reset.ratio_destroy_cold")
    L.append(f"| seat reset <= 3 s | {s(rl)} | {verdict(None if rl is None else rl <= 3)} |")
    L.append(f"| reset >= 10x faster than destroy + cold boot | x{rr if rr is not None else '?'} | "
             f"{verdict(None if rr is None else rr >= 10)} |")
    cl = g.get("checks.labctl_s")
    L.append(f"| checks of 8 seats <= 2 s | {s(cl, fmt='{:.2f}')} for {cn} seats | "
             f"{verdict(None if cl is None or cn != 8 else cl <= 2)} |")
    pf = (g["fault_test.total_s"] / len(rows)) if rows else None
    L.append(f"| fault test <= 20 s per fault | {s(pf)} | {verdict(None if pf is None else pf <= 20)} |")
    return "\n".join(L) + "\n"


def main() -> None:
    out, page = Path(sys.argv[1]), Path(sys.argv[2])
    text = page.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{page}: no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    page.write_text(head + START + "\n" + render(collect(out)) + END + tail)


if __name__ == "__main__":
    main()
