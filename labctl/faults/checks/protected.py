"""The protected-data check: what the recipe's ``protect`` folders held after prepare, file by file."""

from __future__ import annotations

import shlex
from pathlib import Path

from ...errors import LabError
from ...guest import Channel, CommandResult
from .base import NoVerdict, Verdict

from ..manifest import PROTECT_CHECK_ID  # noqa: F401 - re-exported


def snapshot_script(paths: list[str]) -> str:
    q = " ".join(shlex.quote(p) for p in paths)
    # END only when the listing ran to its end: find exits 1 for a folder that is gone (an
    # observation: its files are missing), more than that when it could not walk at all.
    # stat rather than find -printf: the same script runs with busybox (the checks' own
    # tools, which has no -printf) and with GNU find (at prepare, and over SSH).
    return (f"find {q} -xdev -type f -exec stat -c 'M %U %G %a %n' {{}} + 2>/dev/null; r=$?; "
            f"find {q} -xdev -type f -exec sha256sum {{}} + 2>/dev/null | sed 's/^/S /'; "
            "[ \"$r\" -le 1 ] && echo END")


def parse_snapshot(text: str) -> dict[str, dict[str, str]]:
    if "END" not in text.splitlines():
        raise NoVerdict("the file listing was cut short")
    files: dict[str, dict[str, str]] = {}
    sums = 0
    for line in text.splitlines():
        if line.startswith("M "):
            parts = line.split(" ", 4)
            if len(parts) != 5:
                raise NoVerdict(f"stat gave an unreadable line: {line[:120]!r}")
            _, owner, group, mode, path = parts
            files.setdefault(path, {}).update(owner=owner, group=group, mode=mode)
        elif line.startswith("M\t"):  # a record taken before 2026-12 (find -printf)
            _, path, owner, group, mode = line.split("\t", 4)
            files.setdefault(path, {}).update(owner=owner, group=group, mode=mode)
        elif line.startswith("S "):
            digest, path = line[2:].split("  ", 1)
            files.setdefault(path, {})["sha256"] = digest
            sums += 1
    if files and not sums:
        raise NoVerdict("sha256sum gave no digest for any file")
    return files


def take_snapshot(chan: Channel, paths: list[str]) -> dict[str, dict[str, str]]:
    res = chan.sh(snapshot_script(paths), timeout=120)
    try:
        return parse_snapshot(res.stdout)
    except NoVerdict as exc:
        raise LabError(f"could not list the protected files: {exc}") from None


def protected_verdict(spec: dict, res: CommandResult) -> Verdict:
    before: dict[str, dict[str, str]] | None = spec.get("snapshot")
    if before is None:
        raise NoVerdict("no record of the protected files (prepare did not run through labctl)")
    now = parse_snapshot(res.stdout)
    missing = sorted(p for p in before if p not in now)
    changed = sorted(p for p in before if p in now and now[p] != before[p])
    expected = f"the {len(before)} files under {', '.join(spec['paths'])} unchanged (content, owner, mode)"
    if not missing and not changed:
        return (True, f"all {len(before)} files unchanged", expected)
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing ({', '.join(Path(p).name for p in missing[:3])}"
                     + (", ..." if len(missing) > 3 else "") + ")")
    for p in changed[:3]:
        diff = [k for k in ("sha256", "owner", "group", "mode") if now[p].get(k) != before[p].get(k)]
        parts.append(f"{Path(p).name}: {', '.join('content' if k == 'sha256' else k for k in diff)} changed")
    if len(changed) > 3:
        parts.append(f"{len(changed) - 3} more changed")
    return (False, "; ".join(parts), expected)
