"""Kinds ``file`` and ``files``: owner, group, mode, type and content of paths, read with stat."""

from __future__ import annotations

import re
import shlex

from ...guest import CommandResult
from .base import NoVerdict, Verdict, kv, stderr_tail

# One path's answer: exists=0, or exists=1 with stat's fields (and sha256 for a regular
# file); exists=error / sha256=error when the tool failed on a path that is there, so a
# failing stat or sha256sum is never read as "absent" or "other content".
# (stat -c with the newlines in the format itself: busybox's stat, which the checks bring,
# has no --printf and does not read backslash escapes; GNU stat reads it the same way.)
_STAT = ("if [ -e \"$p\" ] || [ -L \"$p\" ]; then if s=$(stat -c 'owner=%U\ngroup=%G\nmode=%a\n"
         "type=%F' -- \"$p\"); then printf 'exists=1\\n%s\\n' \"$s\"; else echo exists=error; fi; "
         "if [ -f \"$p\" ]; then if h=$(sha256sum < \"$p\"); then printf 'sha256=%s\\n' \"${h%% *}\"; "
         "else echo sha256=error; fi; fi; else echo exists=0; fi")

_MODE = re.compile(r"[0-7]{1,4}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _norm_mode(m: str) -> str:
    return format(int(m, 8), "o")


def file_script(spec: dict) -> str:
    return f"p={shlex.quote(spec['path'])}; {_STAT}"


def _readable(spec: dict, got: dict[str, str], path: str) -> None:
    """Refuse an answer that lacks, or garbles, a field the spec asks about."""
    exists = got.get("exists")
    if exists == "error":
        raise NoVerdict(f"stat failed on {path}, which exists")
    if exists not in ("0", "1"):
        raise NoVerdict(f"no answer from stat for {path}")
    if exists == "0" or spec.get("exists", True) is False:
        return
    for key in ("owner", "group", "type"):
        if not got.get(key):
            raise NoVerdict(f"stat gave no {key} for {path}")
    if not _MODE.fullmatch(got.get("mode", "")):
        raise NoVerdict(f"stat gave no readable mode for {path} ({got.get('mode')!r})")
    if "sha256" in spec and got.get("type", "").startswith("regular") and not _SHA256.fullmatch(got.get("sha256", "")):
        raise NoVerdict(f"sha256sum failed on {path}")


def file_verdict_of(spec: dict, got: dict[str, str]) -> Verdict:
    """The verdict on one path from its ``key=value`` answer."""
    _readable(spec, got, spec.get("path", "?"))
    want_exists = spec.get("exists", True)
    exists = got.get("exists") == "1"
    if not want_exists:
        return (not exists, "present" if exists else "absent", "absent")
    if not exists:
        return (False, "absent", "present" + describe_file(spec))
    problems = []
    observed = []
    for key in ("owner", "group"):
        if key in spec:
            observed.append(f"{key}={got.get(key)}")
            if got.get(key) != spec[key]:
                problems.append(key)
    if "mode" in spec:
        observed.append(f"mode={got['mode']}")
        if _norm_mode(got["mode"]) != _norm_mode(spec["mode"]):
            problems.append("mode")
    if "mode_not" in spec:
        observed.append(f"mode={got['mode']}")
        if int(got["mode"], 8) & int(spec["mode_not"], 8):
            problems.append("mode")
    if "type" in spec:
        kind = "directory" if got.get("type") == "directory" else "file"
        observed.append(f"type={kind}")
        if kind != spec["type"]:
            problems.append("type")
    if "sha256" in spec:
        observed.append("content " + ("as expected" if got.get("sha256") == spec["sha256"] else
                                      f"sha256 {got.get('sha256', '-')[:12]}..."))
        if got.get("sha256") != spec["sha256"]:
            problems.append("content")
    return (not problems, ", ".join(observed) or "present", "present" + describe_file(spec))


def file_verdict(spec: dict, res: CommandResult) -> Verdict:
    if "exists=" not in res.stdout:
        raise NoVerdict(f"stat gave no answer: {stderr_tail(res)}")
    return file_verdict_of(spec, kv(res.stdout))


def describe_file(spec: dict) -> str:
    parts = [f"{k}={spec[k]}" for k in ("owner", "group", "mode", "type") if k in spec]
    if "mode_not" in spec:
        parts.append(f"no mode bits {spec['mode_not']}")
    if "sha256" in spec:
        parts.append(f"content sha256 {spec['sha256'][:12]}...")
    return (", " + ", ".join(parts)) if parts else ""


def files_paths(spec: dict) -> list[str]:
    paths = spec["paths"]
    if isinstance(paths, str):
        paths = [p for p in paths.split() if p]
    return list(paths)


def files_script(spec: dict) -> str:
    return "".join(f"echo '@@ '{shlex.quote(p)}; p={shlex.quote(p)}; {_STAT}; " for p in files_paths(spec)) or "true"


def files_verdict(spec: dict, res: CommandResult) -> Verdict:
    paths = files_paths(spec)
    if not paths:
        # A list rendered empty looks at nothing: it must not pass for "every file as expected".
        raise NoVerdict("no paths to look at (the list rendered empty)")
    chunks = re.split(r"^@@ (.*)$", res.stdout, flags=re.M)
    got = {chunks[i]: kv(chunks[i + 1]) for i in range(1, len(chunks) - 1, 2)}
    sums = spec.get("sha256") or {}
    bad = []
    for p in paths:
        one = {k: spec[k] for k in ("exists", "owner", "group", "mode") if k in spec}
        one["path"] = p
        if isinstance(sums, dict) and p in sums:
            one["sha256"] = sums[p]
        if p not in got:
            raise NoVerdict(f"no answer for {p}: {stderr_tail(res)}")
        ok, observed, _ = file_verdict_of(one, got[p])
        if not ok:
            bad.append(f"{p}: {observed}")
    expected = f"{len(paths)} files " + ("absent" if spec.get("exists") is False else
                                         "present" + describe_file({**spec, **({"sha256": "x" * 12} if sums else {})}))
    if bad:
        return (False, f"{len(bad)} of {len(paths)} not as expected: " + "; ".join(bad[:4])
                + (" ..." if len(bad) > 4 else ""), expected)
    return (True, f"all {len(paths)} as expected", expected)
