"""The list of a guest's programs and libraries that the ``image_programs`` check compares.

One line per file under :data:`FOLDERS`: inode, size, modification and change times, path;
and whether ``/etc/ld.so.preload`` exists. It is taken with the checks' own busybox
(labctl/guest/toolbox.py), once when a seat is made (kept on the host) and at every check
run (labctl/faults/checks/programs.py says what the rule makes of it).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re

from ..errors import GuestError
from . import Channel, CommandResult
from .toolbox import host_busybox

FOLDERS = ("/usr/bin", "/usr/sbin", "/usr/libexec", "/usr/lib", "/etc/alternatives")
PRELOAD = "/etc/ld.so.preload"

_LINE = re.compile(r"(\d+) (\d+) (\d+) (\d+) (/.*)")


class ListingError(ValueError):
    """The answer is not a whole listing."""


def listing_script() -> str:
    """The listing, gzip-compressed and base64-encoded.

    Programs are what can be run (executable files, symbolic links) and what they load
    (shared libraries). Data files under /usr/lib (caches that package triggers rewrite,
    such as gdk-pixbuf's loaders.cache or the locale archive; Python's byte code and
    sources) are left out: they change in honest use.
    """
    dirs = " ".join(FOLDERS)
    return ("{ "
            f"if [ -e {PRELOAD} ] || [ -L {PRELOAD} ]; then echo \"@@preload $(stat -c '%i %s %Y %Z' {PRELOAD})\"; "
            "else echo '@@preload none'; fi; "
            f"LC_ALL=C find {dirs} -xdev -name __pycache__ -prune -o \\( -type l -o -type f \\( -perm -0100 "
            "-o -name '*.so' -o -name '*.so.*' \\) \\) "
            "-exec stat -c '%i %s %Y %Z %n' {} + 2>&1; echo \"@@rc $?\"; } | gzip -1 | base64 -w0; "
            "echo; echo @@end")


def parse_listing(text: str) -> dict[str, str]:
    """path -> "inode size mtime ctime", and ``@@preload``; ListingError when the answer is not whole."""
    lines = text.strip().splitlines()
    if len(lines) < 2 or lines[-1] != "@@end":
        raise ListingError("the listing of the programs was cut short")
    try:
        raw = gzip.decompress(base64.b64decode(lines[-2], validate=True)).decode("utf-8", "surrogateescape")
    except (ValueError, binascii.Error, OSError, EOFError) as exc:
        raise ListingError(f"the listing of the programs is unreadable: {exc}") from None
    out: dict[str, str] = {}
    rc = None
    errors = []
    for line in raw.splitlines():
        if line.startswith("@@rc "):
            rc = line[5:].strip()
        elif line.startswith("@@preload "):
            out["@@preload"] = line[10:].strip()
        elif m := _LINE.fullmatch(line):
            out[m.group(5)] = " ".join(m.group(1, 2, 3, 4))
        elif "No such file or directory" not in line:
            errors.append(line)
    if rc is None or "@@preload" not in out:
        raise ListingError("the listing of the programs has no end")
    if rc != "0" and (errors or len(out) < 2):
        raise ListingError(f"listing the programs failed (rc={rc}): {' | '.join(errors[:2])[:200]}")
    return out


def run_with_tools(chan: Channel, script: str, timeout: float = 120) -> CommandResult:
    """Run one script with the checks' own busybox (which the run removes); GuestError if it cannot come."""
    tools = chan.stage_tools(host_busybox)
    if not tools:
        raise GuestError(f"the {chan.name} channel cannot bring the checks' own tools into the guest")
    try:
        return chan.run_staged([tools, "timeout", "-k", "5", str(int(timeout)), "sh", "-c",
                                f"trap 'rm -f -- \"$0\"' EXIT; {script}", tools], timeout=timeout + 10)
    except GuestError:
        chan.unstage(tools)
        raise


def take_listing(chan: Channel) -> dict[str, str]:
    """The guest's listing now (what a seat keeps when it is made)."""
    res = run_with_tools(chan, listing_script())
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
