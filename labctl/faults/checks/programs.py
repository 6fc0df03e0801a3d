"""Kind ``image_programs``: the image's own programs and libraries are the ones the seat started with.

Checks that need a program busybox lacks (``systemctl``, ``sudo``, ``curl``, a recipe's own
commands) run the guest's. A trainee with root could replace one so that it lies; this rule
makes that replacement itself a failed security check. When a seat is made, labctl lists
every program and library under the program folders (inode, size, modification and change
times; labctl/guest/programs.py says which files count) before
anything else runs on it, and keeps that list on the host (``programs.json.gz`` in the seat's
folder). A check run lists them again with the checks' own
busybox, in the walk the ``fs_walk`` rules share. A file that is still there with another inode, size or time was replaced or
rewritten: the kernel sets a file's change time to the clock's time at every change, so
forging it takes turning the guest's clock back to that very second as well. New files (a program a technician
installs) and removed ones (an uninstalled package) are fine. ``/etc/ld.so.preload``, which
would make every dynamic program load a library of the trainee's choice, must stay as it was.

Python's byte-code caches (``__pycache__``) are left out: Python rewrites them itself.
"""

from __future__ import annotations

from ...guest import CommandResult
from ...guest.programs import FOLDERS, PRELOAD, ListingError, parse_listing, walk_script
from .base import NoVerdict, Verdict


def programs_script(spec: dict | None = None) -> str:
    """The baseline's one walk, which ``fs_walk`` checks share (labctl/guest/programs.py)."""
    return walk_script()


def programs_verdict(spec: dict, res: CommandResult) -> Verdict:
    before: dict[str, str] | None = spec.get("record")
    if not before:
        raise NoVerdict("no record of the image's programs for this seat (made before labctl kept one); "
                        "recreate the seat")
    try:
        now = parse_listing(res.stdout)
    except ListingError as exc:
        raise NoVerdict(str(exc)) from None
    expected = (f"the image's {len(before) - 1} programs and libraries unchanged "
                f"({', '.join(FOLDERS)}), no new {PRELOAD}")
    changed = sorted(p for p, v in before.items() if p != "@@preload" and p in now and now[p] != v)
    problems = []
    if now.get("@@preload") != before.get("@@preload"):
        problems.append(f"{PRELOAD} " + ("appeared" if before.get("@@preload") == "none" else "changed"))
    if changed:
        problems.append(f"{len(changed)} replaced or rewritten: " + ", ".join(changed[:5])
                        + (", ..." if len(changed) > 5 else ""))
    if problems:
        return (False, "; ".join(problems), expected)
    return (True, f"{sum(1 for p in before if p in now and p != '@@preload')} unchanged", expected)
