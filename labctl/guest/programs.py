"""The baseline's one walk of the disk, and the list of a guest's programs that ``image_programs`` compares.

One ``find`` over the root file system answers both security-baseline questions that need a
walk: which files and folders have a world-write, set-uid or set-gid bit (kind ``fs_walk``,
labctl/faults/checks/walk.py), and the image's programs and libraries under :data:`FOLDERS`
with their inode, size, modification and change times (kind ``image_programs``,
labctl/faults/checks/programs.py); plus whether ``/etc/ld.so.preload`` exists. Each rule
reads its own part of the one answer on the host. Until 2026-12-05 they were two walks
(/ for the bits, the program folders for the list): one walk costs 0.71 s on an idle seat
where the two cost 1.11 s, at every check run (bench/check_walk.py).

It runs with the checks' own busybox (labctl/guest/toolbox.py): once when a seat is made
(the list is kept on the host) and at every check run.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import gzip
import json
import re
from typing import NamedTuple

from ..errors import GuestError
from . import Channel, CommandResult
from .toolbox import host_busybox

FOLDERS = ("/usr/bin", "/usr/sbin", "/usr/libexec", "/usr/lib", "/etc/alternatives")
PRELOAD = "/etc/ld.so.preload"
# A machine made world-writable wholesale (chmod -R 777) has hundreds of thousands of paths:
# the first MAX_LINES come back, and how many more (then neither rule can pass on what it saw).
MAX_LINES = 100_000
FILE_TYPES = ("regular file", "regular empty file")

# "<octal mode> <inode> <size> <mtime> <ctime> <type>|<path>"
_ENTRY = re.compile(r"([0-7]{1,6}) (\d+) (\d+) (\d+) (\d+) ([a-z ]+)\|(/.*)")


class ListingError(ValueError):
    """The answer is not a whole walk."""


class Entry(NamedTuple):
    mode: int
    type: str  # stat's %F: "regular file", "directory", "symbolic link"...
    path: str
    stats: str  # "inode size mtime ctime"


class Walk(NamedTuple):
    entries: list[Entry]
    rc: str | None  # find's exit status
    errors: list[str]  # find's complaints, "No such file or directory" (a file gone during the walk) left out
    more: int  # paths found past MAX_LINES, not sent
    preload: str | None  # PRELOAD's "inode size mtime ctime", or "none"


def walk_script() -> str:
    """The walk, gzip-compressed and base64-encoded.

    What it sends: every file or folder with a world-write, set-uid or set-gid bit, and every
    program under FOLDERS: what can be run (executable files, symbolic links) and what it loads
    (shared libraries). Data files under /usr/lib (caches that package triggers rewrite, such
    as gdk-pixbuf's loaders.cache or the locale archive; Python's byte code and sources) are
    left out: they change in honest use. ``-exec ... +`` stays at the top of the expression
    (busybox's find runs nothing for one inside parentheses).
    """
    programs = " -o ".join(f"-path '{d}/*'" for d in FOLDERS)
    return ("{ "
            f"if [ -e {PRELOAD} ] || [ -L {PRELOAD} ]; then echo \"@@preload $(stat -c '%i %s %Y %Z' {PRELOAD})\"; "
            "else echo '@@preload none'; fi; "
            "LC_ALL=C find / -xdev \\( \\( \\( -type f -o -type d \\) \\( -perm -0002 -o -perm -4000 -o -perm -2000 \\) \\) "
            f"-o \\( \\( {programs} \\) ! -path '*/__pycache__/*' "
            "\\( -type l -o -type f \\( -perm -0100 -o -name '*.so' -o -name '*.so.*' \\) \\) \\) \\) "
            "-exec stat -c '%a %i %s %Y %Z %F|%n' {} + 2>&1; echo \"@@rc $?\"; } | "
            f"awk 'NR <= {MAX_LINES} || /^@@/ {{print; next}} {{more++}} END {{if (more) print \"@@more \" more}}' | "
            "gzip -1 | base64 -w0; echo; echo @@end")


def parse_walk(text: str) -> Walk:
    """The walk's answer; ListingError when it is not whole (cut short, unreadable, no end)."""
    lines = text.strip().splitlines()
    if len(lines) < 2 or lines[-1] != "@@end":
        raise ListingError("the walk was cut short")
    try:
        raw = gzip.decompress(base64.b64decode(lines[-2], validate=True)).decode("utf-8", "surrogateescape")
    except (ValueError, binascii.Error, OSError, EOFError) as exc:
        raise ListingError(f"the walk's answer is unreadable: {exc}") from None
    entries: list[Entry] = []
    errors: list[str] = []
    rc = preload = None
    more = 0
    for line in raw.splitlines():
        if line.startswith("@@rc "):
            rc = line[5:].strip()
        elif line.startswith("@@preload "):
            preload = line[10:].strip()
        elif line.startswith("@@more ") and line[7:].strip().isdigit():
            more = int(line[7:].strip())
        elif m := _ENTRY.fullmatch(line):
            entries.append(Entry(int(m.group(1), 8), m.group(6), m.group(7), " ".join(m.group(2, 3, 4, 5))))
        elif line.strip() and not line.rstrip().endswith("No such file or directory"):
            errors.append(line)
    if rc is None or preload is None:
        raise ListingError("the walk has no end")
    return Walk(entries, rc, errors, more, preload)


def is_program(e: Entry) -> bool:
    """Whether the walk sent this entry as one of the image's programs (see walk_script)."""
    if not any(e.path.startswith(d + "/") for d in FOLDERS) or "/__pycache__/" in e.path:
        return False
    if e.type == "symbolic link":
        return True
    name = e.path.rsplit("/", 1)[-1]
    return e.type in FILE_TYPES and bool(e.mode & 0o100 or fnmatch.fnmatchcase(name, "*.so")
                                         or fnmatch.fnmatchcase(name, "*.so.*"))


def parse_listing(text: str) -> dict[str, str]:
    """The programs from a walk: path -> "inode size mtime ctime", and ``@@preload``; ListingError when
    the walk is not whole or did not see everything."""
    walk = parse_walk(text)
    if walk.more:
        raise ListingError(f"the walk found over {MAX_LINES + walk.more} paths (a machine made world-writable "
                           f"wholesale?) and sent back the first {MAX_LINES}: the programs were not all seen")
    out = {e.path: e.stats for e in walk.entries if is_program(e)}
    if walk.rc != "0" and (walk.errors or not out):
        raise ListingError(f"listing the programs failed (rc={walk.rc}): {' | '.join(walk.errors[:2])[:200]}")
    out["@@preload"] = walk.preload or "none"
    return out


def run_with_tools(chan: Channel, script: str, timeout: float = 120) -> CommandResult:
    """Run one script with the checks' own busybox; GuestError if it cannot come."""
    tools = chan.stage_tools(host_busybox)
    if not tools:
        raise GuestError(f"the {chan.name} channel cannot bring the checks' own tools into the guest")
    return chan.run_staged([tools, "timeout", "-k", "5", str(int(timeout)), "sh", "-c", script], timeout=timeout + 10)


def take_listing(chan: Channel) -> dict[str, str]:
    """The guest's listing now (what a seat keeps when it is made)."""
    res = run_with_tools(chan, walk_script())
    try:
        return parse_listing(res.stdout)
    except ListingError as exc:
        raise GuestError(f"could not list the guest's programs: {exc} (rc={res.rc}: {res.stderr.strip()[:160]})") \
            from None


def dump(listing: dict[str, str]) -> bytes:
    return gzip.compress(json.dumps(listing, sort_keys=True).encode("utf-8", "surrogateescape"))


def load(data: bytes) -> dict[str, str]:
    value = json.loads(gzip.decompress(data).decode("utf-8", "surrogateescape"))
    if not isinstance(value, dict) or "@@preload" not in value:
        raise ListingError("not a record of programs")
    return {str(k): str(v) for k, v in value.items()}
