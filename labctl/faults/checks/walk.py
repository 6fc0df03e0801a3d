"""Kind ``fs_walk``: what one walk of the file system shows (world-writable paths, set-uid programs).

The security baseline asked two ``find`` walks at every check run: world-writable files
under the system and user folders, set-uid programs anywhere. Under emulation a walk of
the whole disk is the longest part of an idle seat's check run. Both questions now share
one walk: every ``fs_walk`` check runs the very same script (the check run sends a script
once however many checks share it, labctl/faults/checks/__init__.py), which prints the
mode, type and path of every file or folder with a world-write, set-uid or set-gid bit,
and each check reads its own answer from it on the host (``report``). The walk runs with
the checks' own busybox (``find``, ``stat``), not the guest's.
"""

from __future__ import annotations

import re

from ...guest import CommandResult
from .base import NoVerdict, Verdict

REPORTS = ("world_writable", "setuid")

# One answer for every fs_walk check: "<octal mode> <type>|<path>" lines, then the walk's
# exit status. -xdev: the root file system only, as before. A machine made world-writable
# wholesale (chmod -R 777) has tens of thousands: the first 5000 come back, and how many more.
WALK_SCRIPT = (
    "{ LC_ALL=C find / -xdev \\( -type f -o -type d \\) \\( -perm -0002 -o -perm -4000 -o -perm -2000 \\) "
    "-exec stat -c '%a %F|%n' {} + 2>&1; echo \"@@rc $?\"; } | "
    "awk 'NR <= 5000 || /^@@rc / {print; next} {more++} END {if (more) print \"@@more \" more; print \"@@end\"}'"
)

_LINE = re.compile(r"([0-7]{1,4}) (regular file|regular empty file|directory)\|(/.*)")


def walk_script(spec: dict | None = None) -> str:
    return WALK_SCRIPT


def parse_walk(res: CommandResult) -> tuple[list[tuple[int, str, str]], int]:
    """(mode, "file"|"directory", path) for each path the walk sent back, and how many more it found;
    NoVerdict if it did not finish."""
    lines = res.stdout.splitlines()
    if not lines or lines[-1] != "@@end":
        raise NoVerdict("the walk was cut short")
    found, errors, rc = [], [], None
    more = 0
    for line in lines[:-1]:
        if line.startswith("@@rc "):
            rc = line[5:].strip()
        elif line.startswith("@@more ") and line[7:].strip().isdigit():
            more = int(line[7:].strip())
        elif m := _LINE.fullmatch(line):
            kind = "directory" if m.group(2) == "directory" else "file"
            found.append((int(m.group(1), 8), kind, m.group(3)))
        elif line.strip() and not line.rstrip().endswith("No such file or directory"):
            errors.append(line)  # a file that went away during the walk is fine
    if rc is None:
        raise NoVerdict("the walk gave no exit status")
    if rc != "0" and (rc != "1" or (errors and not found)):
        raise NoVerdict(f"find failed (rc={rc}): {' | '.join(errors[:2])[:200]}")
    return found, more


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
        raise NoVerdict(f"the walk found over {len(found) + more} paths and sent back {len(found)}: none of those "
                        "is this check's, the others were not seen")
    if not bad:
        return (True, "none found", expected)
    return (False, f"{len(bad)} found: " + ", ".join(sorted(bad)[:5]) + (", ..." if len(bad) > 5 else ""), expected)
