"""Kind ``fs_walk``: what the baseline's one walk of the disk shows (world-writable paths, set-uid programs).

The security baseline asks two questions of a walk at every check run: world-writable files
under the system and user folders, set-uid programs anywhere; and the ``image_programs`` rule
needs the list of the image's programs. All three share one walk: every ``fs_walk`` and
``image_programs`` check runs the very same script (labctl/guest/programs.py; the check run
sends a script once however many checks share it, labctl/faults/checks/__init__.py), which
sends the mode, type and path of every file or folder with a world-write, set-uid or set-gid
bit and of every program, and each check reads its own answer from it on the host
(``report``). The walk runs with the checks' own busybox (``find``, ``stat``), not the guest's.
"""

from __future__ import annotations

import re

from ...guest import CommandResult
from ...guest.programs import FILE_TYPES, MAX_LINES, ListingError, walk_script as _walk_script
from ...guest.programs import parse_walk as _parse
from .base import NoVerdict, Verdict

REPORTS = ("world_writable", "setuid")
WALK_SCRIPT = _walk_script()


def walk_script(spec: dict | None = None) -> str:
    return WALK_SCRIPT


def parse_walk(res: CommandResult) -> tuple[list[tuple[int, str, str]], int]:
    """(mode, "file"|"directory", path) for each file or folder with a world-write, set-uid or set-gid
    bit, and how many paths the walk found past what it sent back; NoVerdict if it did not finish."""
    try:
        walk = _parse(res.stdout)
    except ListingError as exc:
        raise NoVerdict(str(exc)) from None
    found = [(e.mode, "directory" if e.type == "directory" else "file", e.path) for e in walk.entries
             if (e.type in FILE_TYPES or e.type == "directory") and e.mode & 0o6002]
    if walk.rc != "0" and (walk.rc != "1" or (walk.errors and not found)):
        raise NoVerdict(f"find failed (rc={walk.rc}): {' | '.join(walk.errors[:2])[:200]}")
    return found, walk.more


def _under(path: str, dirs: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in dirs)


def walk_verdict(spec: dict, res: CommandResult) -> Verdict:
    found, more = parse_walk(res)
    report = spec.get("report")
    if report == "world_writable":
        dirs = spec.get("dirs") or ["/"]
        bad = [p for mode, _k, p in found if mode & 0o002 and not mode & 0o1000 and _under(p, dirs)]
        expected = "none without the sticky bit"
    elif report == "setuid":
        allow = re.compile(spec.get("allow") or r"(?!)")
        bad = [p for mode, k, p in found if k == "file" and mode & 0o6000 and not allow.fullmatch(p)]
        expected = "only the set-uid programs Debian ships"
    else:
        raise NoVerdict(f"the check asks for an unknown report {report!r} (one of: {', '.join(REPORTS)})")
    if not bad and more:
        raise NoVerdict(f"the walk found over {MAX_LINES + more} paths and sent back {MAX_LINES}: none of those "
                        "is this check's, the others were not seen")
    if not bad:
        return (True, "none found", expected)
    return (False, f"{len(bad)} found: " + ", ".join(sorted(bad)[:5]) + (", ..." if len(bad) > 5 else ""), expected)
