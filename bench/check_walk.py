#!/usr/bin/env python3
"""The security baseline's walks: one walk of the disk (labctl's way since 2026-12-05) vs two.

Every check run asks the disk two things: which files and folders have a world-write,
set-uid or set-gid bit (the ``fs_walk`` rules), and the image's programs with their inode,
size and times (the ``image_programs`` rule). Until 2026-12-05 that was two ``find`` walks
(the whole root file system, then the program folders again); now it is one
(labctl/guest/programs.py). Both ways run here on the same seat, in alternation, with the
checks' own busybox, and what each rule reads from them must be identical: the same paths
with the same bits, the same programs with the same inode, size and times. Then the seat is
harmed (a world-writable file, a set-uid copy of a program, a rewritten program) and both
ways must see the same harm.

Usage: sudo /opt/labctl/venv/bin/python bench/check_walk.py SEAT [--rounds 5]
(SEAT: a running seat of the lab in /var/lib/labctl, or LABCTL_STATE_DIR's; it is reset at the end.)
"""

from __future__ import annotations

import argparse
import base64
import gzip
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import emit, loadavg  # noqa: E402

from labctl.config import load_config  # noqa: E402
from labctl.guest.programs import FOLDERS, PRELOAD, is_program, parse_walk, walk_script  # noqa: E402
from labctl.guest.toolbox import host_busybox  # noqa: E402
from labctl.seats import SeatManager  # noqa: E402

# The way before: the two walks as they were (labctl/faults/checks/walk.py and
# labctl/guest/programs.py until 2026-12-05).
OLD_WALK = (
    "{ LC_ALL=C find / -xdev \\( -type f -o -type d \\) \\( -perm -0002 -o -perm -4000 -o -perm -2000 \\) "
    "-exec stat -c '%a %F|%n' {} + 2>&1; echo \"@@rc $?\"; } | "
    "awk 'NR <= 5000 || /^@@rc / {print; next} {more++} END {if (more) print \"@@more \" more; print \"@@end\"}'"
)
OLD_LISTING = (
    "{ "
    f"if [ -e {PRELOAD} ] || [ -L {PRELOAD} ]; then echo \"@@preload $(stat -c '%i %s %Y %Z' {PRELOAD})\"; "
    "else echo '@@preload none'; fi; "
    f"LC_ALL=C find {' '.join(FOLDERS)} -xdev -name __pycache__ -prune -o \\( -type l -o -type f \\( -perm -0100 "
    "-o -name '*.so' -o -name '*.so.*' \\) \\) "
    "-exec stat -c '%i %s %Y %Z %n' {} + 2>&1; echo \"@@rc $?\"; } | gzip -1 | base64 -w0; "
    "echo; echo @@end"
)


def old_answers(walk_out: str, listing_out: str) -> tuple[set, dict]:
    bits = set()
    for line in walk_out.splitlines():
        m = re.fullmatch(r"([0-7]{1,4}) (regular file|regular empty file|directory)\|(/.*)", line)
        if m:
            bits.add((int(m.group(1), 8), m.group(3)))
    lines = listing_out.strip().splitlines()
    raw = gzip.decompress(base64.b64decode(lines[-2])).decode("utf-8", "surrogateescape")
    progs = {}
    for line in raw.splitlines():
        if line.startswith("@@preload "):
            progs["@@preload"] = line[10:]
        elif m := re.fullmatch(r"(\d+) (\d+) (\d+) (\d+) (/.*)", line):
            progs[m.group(5)] = " ".join(m.group(1, 2, 3, 4))
    return bits, progs


def new_answers(out: str) -> tuple[set, dict]:
    walk = parse_walk(out)
    bits = {(e.mode, e.path) for e in walk.entries
            if e.type in ("regular file", "regular empty file", "directory") and e.mode & 0o6002}
    progs = {e.path: e.stats for e in walk.entries if is_program(e)}
    progs["@@preload"] = walk.preload
    return bits, progs


def compare(chan, rounds: int, label: str, times: dict) -> bool:
    same = True
    tools = chan.stage_tools(host_busybox)  # once for both ways: only the walks are timed

    def walk(script: str) -> str:
        return chan.run_staged([tools, "sh", "-c", script], timeout=300).stdout

    try:
        for _ in range(rounds):
            t = time.monotonic()
            a, b = walk(OLD_WALK), walk(OLD_LISTING)
            times["two walks"].append(time.monotonic() - t)
            t = time.monotonic()
            c = walk(walk_script())
            times["one walk"].append(time.monotonic() - t)
            same = _same(old_answers(a, b), new_answers(c), label) and same
    finally:
        chan.unstage(tools)
    old, new = old_answers(a, b), new_answers(c)
    print(f"{label}: {len(new[0])} paths with a bit, {len(new[1]) - 1} programs; identical: {same}", flush=True)
    return same


def _same(old, new, label: str) -> bool:
    """Whether both ways saw the same; says what differs when not."""
    same = old == new
    if not same:
        print(f"  DIFFER ({label}): bits only before {sorted(old[0] - new[0])[:5]}, only now "
              f"{sorted(new[0] - old[0])[:5]}; programs only before "
              f"{sorted(set(old[1].items()) - set(new[1].items()))[:3]}, only now "
              f"{sorted(set(new[1].items()) - set(old[1].items()))[:3]}")
    return same


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("seat")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    mgr = SeatManager(load_config())
    chan = mgr.agent(args.seat)
    emit("check_walk.load_start", loadavg())
    times: dict[str, list[float]] = {"two walks": [], "one walk": []}
    ok = compare(chan, args.rounds, "as it is", times)
    harm = ("touch /etc/lab-open && chmod 0666 /etc/lab-open; cp /usr/bin/true /usr/local/bin/lab-suid && "
            "chmod 4755 /usr/local/bin/lab-suid; cp -p /usr/bin/true /tmp/t && cat /tmp/t > /usr/bin/true; "
            "chmod 0777 /usr/lib/x86_64-linux-gnu; echo /nowhere.so > /etc/ld.so.preload")
    try:
        res = chan.run(["/bin/sh", "-c", harm], timeout=60)
        if not res.ok:
            raise SystemExit(f"could not harm the seat: {res.stderr}")
        ok = compare(chan, 2, "harmed (world-writable file and folder, set-uid copy, rewritten program, preload)",
                     times) and ok
    finally:
        mgr.reset(args.seat)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nload {loadavg()}; median per check run's walking, {len(times['one walk'])} runs each:")
    for way, m in med.items():
        print(f"  {way:10s} {m:.2f} s")
    print(f"  one walk saves {med['two walks'] - med['one walk']:.2f} s (x{med['two walks'] / med['one walk']:.2f})")
    for way, m in med.items():
        emit(f"check_walk.{way.replace(' ', '_')}", round(m, 2))
    emit("check_walk.identical", ok)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
