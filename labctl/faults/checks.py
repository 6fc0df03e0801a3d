"""Post-checks: run from the host, each reporting what it observed and what it expected.

Every check kind turns its spec into one small shell script run in the guest
through a channel (the guest agent by default), and parses the answer. Nothing
of the check (code, expected values) is stored in the guest. A check that
cannot reach a verdict (guest gone, agent stopped, garbled answer) is
``unknown``, never ``pass``.

The security baseline (``baseline.yaml`` beside this file) is appended to every
fault's own checks: a repair that weakens the machine fails whatever the fault.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from ..errors import LabError
from ..guest import Channel, CommandResult, as_user
from .draw import Draw, context, render_value
from .manifest import CheckSpec, Fault, _check

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
BASELINE_FILE = Path(__file__).with_name("baseline.yaml")


@dataclass(frozen=True)
class CheckResult:
    id: str
    group: str
    title: str
    status: str  # pass | fail | unknown
    observed: str
    expected: str
    route: str = "agent"
    duration: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def as_dict(self) -> dict:
        return {"id": self.id, "group": self.group, "title": self.title, "status": self.status,
                "observed": self.observed, "expected": self.expected, "route": self.route,
                "duration": round(self.duration, 3)}


@dataclass(frozen=True)
class CheckReport:
    fault: str
    variant: str
    results: tuple[CheckResult, ...]
    duration: float = 0.0
    routes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def status(self) -> str:
        """pass only if every check passed; fail if any failed; else unknown."""
        if any(r.status == FAIL for r in self.results):
            return FAIL
        if all(r.status == PASS for r in self.results) and self.results:
            return PASS
        return UNKNOWN

    def by_group(self, group: str) -> list[CheckResult]:
        return [r for r in self.results if r.group == group]

    def group_status(self, group: str) -> str:
        rs = self.by_group(group)
        if any(r.status == FAIL for r in rs):
            return FAIL
        if all(r.status == PASS for r in rs):
            return PASS
        return UNKNOWN

    def as_dict(self) -> dict:
        return {"fault": self.fault, "variant": self.variant, "status": self.status,
                "groups": {g: self.group_status(g) for g in ("functional", "integrity", "security")},
                "duration": round(self.duration, 3), "results": [r.as_dict() for r in self.results]}


def baseline_checks() -> tuple[CheckSpec, ...]:
    data = yaml.safe_load(BASELINE_FILE.read_text())
    return tuple(_check(i, raw, BASELINE_FILE, set()) for i, raw in enumerate(data["checks"]))


def protected_paths(fault: Fault, d: Draw) -> list[str]:
    return [render_value(p, context(d), f"{fault.manifest}: protect") for p in fault.protect]


def checks_for(fault: Fault, d: Draw, snapshot: dict | None = None,
               seat_ctx: dict | None = None) -> list[tuple[CheckSpec, dict]]:
    """The fault's checks for this variant, the protected-data check, and the baseline, rendered.

    ``seat_ctx``: what the seat adds to the templates: ``user_password``, the user's password
    from the seat's credentials (what the user types to log in; empty when labctl does not know it),
    and ``company_user``, the seat's account on the company server (its network folder's name).
    """
    ctx = context(d, **{"user_password": "", "company_user": "", **(seat_ctx or {})})
    out = []
    if fault.protect:
        spec = CheckSpec(PROTECT_CHECK_ID, "integrity", "The user's data is intact (content, owner, permissions)",
                         "protected", {})
        out.append((spec, {"paths": protected_paths(fault, d), "snapshot": snapshot}))
    for c in (*fault.checks, *baseline_checks()):
        if c.applies_to(d.variant):
            out.append((c, render_value(c.spec, ctx, f"{fault.manifest}: check {c.id}")))
    return out


# -- kinds ------------------------------------------------------------------------
# Each kind: spec -> (script, as_user, timeout), and (spec, CommandResult) -> (ok, observed, expected).

Verdict = tuple[bool, str, str]


def _kv(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def _norm_mode(m: str) -> str:
    return format(int(m, 8), "o")


_STAT = ("if [ -e \"$p\" ] || [ -L \"$p\" ]; then stat --printf 'exists=1\\nowner=%U\\ngroup=%G\\nmode=%a\\n"
         "type=%F\\n' -- \"$p\"; if [ -f \"$p\" ]; then printf 'sha256=%s\\n' \"$(sha256sum < \"$p\" | cut -d' ' -f1)\"; "
         "fi; else echo exists=0; fi")


def _file_script(spec: dict) -> str:
    return f"p={shlex.quote(spec['path'])}; {_STAT}"


def _file_verdict(spec: dict, got: dict[str, str]) -> Verdict:
    want_exists = spec.get("exists", True)
    exists = got.get("exists") == "1"
    if not want_exists:
        return (not exists, "present" if exists else "absent", "absent")
    if not exists:
        return (False, "absent", "present" + _describe_file(spec))
    problems = []
    observed = []
    for key in ("owner", "group"):
        if key in spec:
            observed.append(f"{key}={got.get(key)}")
            if got.get(key) != spec[key]:
                problems.append(key)
    if "mode" in spec:
        observed.append(f"mode={got.get('mode')}")
        if _norm_mode(got.get("mode", "0")) != _norm_mode(spec["mode"]):
            problems.append("mode")
    if "mode_not" in spec:
        observed.append(f"mode={got.get('mode')}")
        if int(got.get("mode", "0"), 8) & int(spec["mode_not"], 8):
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
    return (not problems, ", ".join(observed) or "present", "present" + _describe_file(spec))


def _describe_file(spec: dict) -> str:
    parts = [f"{k}={spec[k]}" for k in ("owner", "group", "mode", "type") if k in spec]
    if "mode_not" in spec:
        parts.append(f"no mode bits {spec['mode_not']}")
    if "sha256" in spec:
        parts.append(f"content sha256 {spec['sha256'][:12]}...")
    return (", " + ", ".join(parts)) if parts else ""


def _files_paths(spec: dict) -> list[str]:
    paths = spec["paths"]
    if isinstance(paths, str):
        paths = [p for p in paths.split() if p]
    return list(paths)


def _files_script(spec: dict) -> str:
    return "".join(f"echo '@@ '{shlex.quote(p)}; p={shlex.quote(p)}; {_STAT}; " for p in _files_paths(spec))


def _files_verdict(spec: dict, res: CommandResult) -> Verdict:
    chunks = re.split(r"^@@ (.*)$", res.stdout, flags=re.M)
    got = {chunks[i]: _kv(chunks[i + 1]) for i in range(1, len(chunks) - 1, 2)}
    paths = _files_paths(spec)
    sums = spec.get("sha256") or {}
    bad = []
    for p in paths:
        one = {k: spec[k] for k in ("exists", "owner", "group", "mode") if k in spec}
        one["path"] = p
        if isinstance(sums, dict) and p in sums:
            one["sha256"] = sums[p]
        if p not in got:
            return (False, f"no answer for {p}", "")
        ok, observed, _ = _file_verdict(one, got[p])
        if not ok:
            bad.append(f"{p}: {observed}")
    expected = f"{len(paths)} files " + ("absent" if spec.get("exists") is False else
                                         "present" + _describe_file({**spec, **({"sha256": "x" * 12} if sums else {})}))
    if bad:
        return (False, f"{len(bad)} of {len(paths)} not as expected: " + "; ".join(bad[:4])
                + (" ..." if len(bad) > 4 else ""), expected)
    return (True, f"all {len(paths)} as expected", expected)


def _command_verdict(spec: dict, res: CommandResult) -> Verdict:
    want_rc = spec.get("rc", 0)
    problems = []
    if res.rc != want_rc:
        problems.append("rc")
    out = res.stdout
    if "stdout_contains" in spec and spec["stdout_contains"] not in out:
        problems.append("output")
    if "stdout_regex" in spec and not re.search(spec["stdout_regex"], out, re.M):
        problems.append("output")
    if "stdout_lacks" in spec and spec["stdout_lacks"] in out:
        problems.append("output")
    tail = (out.strip() or res.stderr.strip()).splitlines()[-3:]
    observed = f"rc={res.rc}" + (f", output: {' | '.join(tail)[:200]}" if tail else "")
    expected = spec.get("describe") or ", ".join(
        [f"rc={want_rc}"] + [f"{k.replace('stdout_', 'output ')} {spec[k]!r}" for k in
                             ("stdout_contains", "stdout_regex", "stdout_lacks") if k in spec])
    return (not problems, observed, expected)


def _free_space_script(spec: dict) -> str:
    return f"df -Pm -- {shlex.quote(spec['path'])} | awk 'NR==2 {{print \"avail=\" $4}}'"


def _free_space_verdict(spec: dict, res: CommandResult) -> Verdict:
    avail = _kv(res.stdout).get("avail")
    if avail is None or not avail.isdigit():
        raise _NoVerdict(f"df gave no answer: {res.stderr.strip()[:200]}")
    return (int(avail) >= spec["min_mib"], f"{avail} MiB free for users",
            f"at least {spec['min_mib']} MiB free for users")


def _url_script(spec: dict) -> str:
    return (f"out=$(curl -sS --noproxy '*' --max-time 8 -o - -w '\\n@@code=%{{http_code}}' {shlex.quote(spec['url'])} 2>&1); "
            "rc=$?; printf '%s\\n@@rc=%s\\n' \"$out\" \"$rc\"")


def _url_verdict(spec: dict, res: CommandResult) -> Verdict:
    m_rc = re.search(r"^@@rc=(\d+)$", res.stdout, re.M)
    m_code = re.search(r"@@code=(\d+)", res.stdout)
    if not m_rc:
        raise _NoVerdict(f"curl gave no answer: {res.stderr.strip()[:200]}")
    rc, code = int(m_rc.group(1)), (m_code.group(1) if m_code else "000")
    body = res.stdout.split("\n@@code=")[0]
    want_answer = spec.get("answers", True)
    answered = rc == 0 and code.startswith(("2", "3"))
    if not want_answer:
        return (not answered, f"HTTP {code}" if answered else f"no answer (curl rc={rc})", "no answer")
    expected = "answers (HTTP 2xx)" + (f" with {spec['contains']!r}" if "contains" in spec else "")
    if not answered:
        detail = body.strip().splitlines()[-1][:160] if body.strip() else ""
        return (False, f"no answer (curl rc={rc}, HTTP {code})" + (f": {detail}" if detail else ""), expected)
    if "contains" in spec and spec["contains"] not in body:
        return (False, f"HTTP {code}, but the page lacks {spec['contains']!r}", expected)
    return (True, f"HTTP {code}" + (f", page has {spec['contains']!r}" if "contains" in spec else ""), expected)


def _not_growing_script(spec: dict) -> str:
    p = shlex.quote(spec["path"])
    secs = spec.get("seconds", 3)
    return (f"a=$(du -sk --apparent-size -- {p} 2>/dev/null | cut -f1); sleep {secs}; "
            f"b=$(du -sk --apparent-size -- {p} 2>/dev/null | cut -f1); echo before=${{a:-0}}; echo after=${{b:-0}}")


def _not_growing_verdict(spec: dict, res: CommandResult) -> Verdict:
    kv = _kv(res.stdout)
    try:
        grew = int(kv["after"]) - int(kv["before"])
    except (KeyError, ValueError):
        raise _NoVerdict(f"du gave no answer: {res.stderr.strip()[:200]}") from None
    limit = spec.get("max_kib", 16)
    return (grew <= limit, f"grew {max(grew, 0)} KiB in {spec.get('seconds', 3)} s",
            f"grows at most {limit} KiB in {spec.get('seconds', 3)} s")


def _service_script(spec: dict) -> str:
    u = shlex.quote(spec["unit"])
    return f"echo active=$(systemctl is-active {u}); echo enabled=$(systemctl is-enabled {u} 2>/dev/null || true)"


def _service_verdict(spec: dict, res: CommandResult) -> Verdict:
    kv = _kv(res.stdout)
    active = kv.get("active") == "active"
    enabled = kv.get("enabled") in ("enabled", "enabled-runtime", "static", "alias", "indirect")
    ok = True
    want = []
    if "active" in spec:
        ok &= active == spec["active"]
        want.append("running" if spec["active"] else "stopped")
    if "enabled" in spec:
        ok &= enabled == spec["enabled"]
        want.append("enabled at boot" if spec["enabled"] else "not enabled at boot")
    return (ok, f"{kv.get('active', '?')}, {kv.get('enabled') or 'not enabled'}", ", ".join(want))


def _groups_script(spec: dict) -> str:
    return f"echo groups=$(id -nG -- {shlex.quote(spec['user'])})"


def _groups_verdict(spec: dict, res: CommandResult) -> Verdict:
    kv = _kv(res.stdout)
    if "groups" not in kv or res.rc != 0:
        raise _NoVerdict(f"id gave no answer: {res.stderr.strip()[:200]}")
    groups = set(kv["groups"].split())
    missing = [g for g in spec.get("has", []) if g not in groups]
    extra = [g for g in spec.get("lacks", []) if g in groups]
    want = []
    if spec.get("has"):
        want.append("member of " + ", ".join(spec["has"]))
    if spec.get("lacks"):
        want.append("not member of " + ", ".join(spec["lacks"]))
    return (not missing and not extra, f"{spec['user']} is in: {' '.join(sorted(groups))}", "; ".join(want))


def _sudo_script(spec: dict) -> str:
    u = shlex.quote(spec["user"])
    lines = []
    for i, cmd in enumerate(spec.get("may", [])):
        lines.append(f"sudo -n -l -U {u} {cmd} >/dev/null 2>&1; echo may{i}=$?")
    for i, cmd in enumerate(spec.get("may_not", [])):
        lines.append(f"sudo -n -l -U {u} {cmd} >/dev/null 2>&1; echo maynot{i}=$?")
    if not lines:
        return "true"
    # Most of the time the user has no sudo rule at all: one listing says so, instead of
    # one sudo run per command (each a few tenths of a second under emulation).
    return (f"if LC_ALL=C sudo -n -l -U {u} 2>&1 | grep -q 'is not allowed to run sudo'; then echo none=1; "
            "else " + "; ".join(lines) + "; fi")


def _sudo_verdict(spec: dict, res: CommandResult) -> Verdict:
    kv = _kv(res.stdout)
    if kv.get("none") == "1":  # no rule for the user: every command refused
        kv = {**{f"may{i}": "1" for i in range(len(spec.get("may", [])))},
              **{f"maynot{i}": "1" for i in range(len(spec.get("may_not", [])))}}
    denied, granted = [], []
    for i, cmd in enumerate(spec.get("may", [])):
        if f"may{i}" not in kv:
            raise _NoVerdict("sudo gave no answer")
        if kv[f"may{i}"] != "0":
            denied.append(cmd)
    for i, cmd in enumerate(spec.get("may_not", [])):
        if f"maynot{i}" not in kv:
            raise _NoVerdict("sudo gave no answer")
        if kv[f"maynot{i}"] == "0":
            granted.append(cmd)
    want = []
    if spec.get("may"):
        want.append(f"{spec['user']} may run as root: " + "; ".join(spec["may"]))
    if spec.get("may_not"):
        want.append("and nothing broader (" + "; ".join(spec["may_not"]) + " refused)")
    observed = []
    if denied:
        observed.append("refused: " + "; ".join(denied))
    if granted:
        observed.append("granted too much: " + "; ".join(granted))
    return (not denied and not granted, "; ".join(observed) or "as expected", " ".join(want))


class _NoVerdict(Exception):
    pass


# -- protected data: what the recipe's ``protect`` folders held after prepare ---------------

PROTECT_CHECK_ID = "user-data-intact"


def snapshot_script(paths: list[str]) -> str:
    q = " ".join(shlex.quote(p) for p in paths)
    return (f"find {q} -xdev -type f -printf 'M\t%p\t%u\t%g\t%m\n' 2>/dev/null; "
            f"find {q} -xdev -type f -exec sha256sum {{}} + 2>/dev/null | sed 's/^/S /'; echo END")


def parse_snapshot(text: str) -> dict[str, dict[str, str]]:
    if "END" not in text.splitlines():
        raise _NoVerdict("the file listing was cut short")
    files: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        if line.startswith("M\t"):
            _, path, owner, group, mode = line.split("\t", 4)
            files.setdefault(path, {}).update(owner=owner, group=group, mode=mode)
        elif line.startswith("S "):
            digest, path = line[2:].split("  ", 1)
            files.setdefault(path, {})["sha256"] = digest
    return files


def take_snapshot(chan: Channel, paths: list[str]) -> dict[str, dict[str, str]]:
    res = chan.sh(snapshot_script(paths), timeout=120)
    try:
        return parse_snapshot(res.stdout)
    except _NoVerdict as exc:
        raise LabError(f"could not list the protected files: {exc}") from None


def _protected_verdict(spec: dict, res: CommandResult) -> Verdict:
    before: dict[str, dict[str, str]] | None = spec.get("snapshot")
    if before is None:
        raise _NoVerdict("no record of the protected files (prepare did not run through labctl)")
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


KINDS: dict[str, tuple[Callable[[dict], str], Callable[[dict, CommandResult], Verdict]]] = {
    "file": (_file_script, lambda s, r: _file_verdict(s, _kv(r.stdout)) if "exists=" in r.stdout
             else (_ for _ in ()).throw(_NoVerdict(f"stat gave no answer: {r.stderr.strip()[:200]}"))),
    "files": (_files_script, _files_verdict),
    "command": (lambda s: s["run"], _command_verdict),
    "free_space": (_free_space_script, _free_space_verdict),
    "url": (_url_script, _url_verdict),
    "not_growing": (_not_growing_script, _not_growing_verdict),
    "service": (_service_script, _service_verdict),
    "groups": (_groups_script, _groups_verdict),
    "sudo": (_sudo_script, _sudo_verdict),
    "protected": (lambda s: snapshot_script(s["paths"]), _protected_verdict),
}


def _plan(check: CheckSpec, spec: dict) -> tuple[str, str | None, float]:
    """What a check runs in the guest: (shell script, as which user, timeout in seconds)."""
    script_of, _ = KINDS[check.kind]
    user = spec.get("as") if check.kind in ("command", "url") else None
    timeout = float(spec.get("timeout", 90)) + float(spec.get("seconds", 0))
    return script_of(spec), user, timeout


def _judge(check: CheckSpec, spec: dict, res: CommandResult | None, timeout: float, route: str,
           duration: float, why: str = "") -> CheckResult:
    """A check's verdict from what its script printed; ``unknown`` whenever there is no honest one."""
    _, verdict_of = KINDS[check.kind]
    try:
        if res is None:
            raise _NoVerdict(why or "no answer")
        if res.timed_out:
            raise _NoVerdict(f"timed out after {timeout:.0f} s")
        ok, observed, expected = verdict_of(spec, res)
        status = PASS if ok else FAIL
    except (_NoVerdict, LabError) as exc:
        status, observed, expected = UNKNOWN, f"no verdict: {exc}", ""
    return CheckResult(check.id, check.group, check.title, status, observed, expected, route=route,
                       duration=duration)


def run_check(chan: Channel, check: CheckSpec, spec: dict) -> CheckResult:
    """Run one check through a channel; never raises for a guest problem (that is ``unknown``)."""
    script, user, timeout = _plan(check, spec)
    start = time.monotonic()
    try:
        res: CommandResult | None = chan.sh(script, user=user, timeout=timeout)
        why = ""
    except LabError as exc:
        res, why = None, str(exc)
    return _judge(check, spec, res, timeout, chan.name, time.monotonic() - start, why)


# -- a whole check run in one guest command -------------------------------------------
#
# Under software emulation every command the agent starts costs a few tenths of a
# second before it does anything (exec, timeout, a shell), and over the SSH fallback
# each command is a whole login; a check run has twenty checks. So the run goes to the
# guest as one bash script: the checks in a few lanes (background subshells; more
# lanes than that only make a one-vCPU guest thrash), each check with its own user
# and timeout, its output kept in a private folder under /run that the script
# removes; then that folder comes back as one base64-encoded tar (every check's exit
# status, times and output). Nothing of it stays in the guest.
#
# One tar rather than a line per check: collecting with cat and two base64 per check
# cost 60 % of the run's own overhead under emulation (19 empty checks: 5.5 s with
# per-check collection, 2.2 s with one tar; measured 2026-11-25).

LANES = 3

_BATCH_HEAD = (
    'd=$(mktemp -d /run/.lc.XXXXXXXX) || exit 97\n'
    'trap \'rm -rf -- "$d"\' EXIT\n'
    'cd / || exit 97\n'
)


def _weight(plan: tuple[str, str | None, float]) -> float:
    """A rough cost, to spread checks over lanes: long timeouts mean long scans."""
    script, _user, timeout = plan
    return 1.0 + (3.0 if timeout > 90 else 0.0) + script.count("sudo -n -l") * 0.5 + \
        (3.0 if "sleep " in script else 0.0) + (2.0 if "sha256sum" in script else 0.0)


def lanes(plans: list[tuple[str, str | None, float]], n: int = LANES) -> list[list[int]]:
    """Check indexes per lane: heaviest first, each to the lightest lane so far."""
    out: list[list[int]] = [[] for _ in range(max(1, min(n, len(plans))))]
    load = [0.0] * len(out)
    for i in sorted(range(len(plans)), key=lambda i: -_weight(plans[i])):
        k = load.index(min(load))
        out[k].append(i)
        load[k] += _weight(plans[i])
    return [sorted(lane) for lane in out]


def batch_script(plans: list[tuple[str, str | None, float]], n_lanes: int = LANES) -> str:
    lines = [_BATCH_HEAD]
    for lane in lanes(plans, n_lanes):
        jobs = []
        for i in lane:
            script, user, timeout = plans[i]
            argv = ["/usr/bin/timeout", "--kill-after=5", str(int(max(1, timeout))),
                    *as_user(user, ["/bin/sh", "-c", script])]
            jobs.append(f's=$EPOCHREALTIME; {shlex.join(argv)} >"$d/{i}.o" 2>"$d/{i}.e" </dev/null; '
                        f'echo "$? $s $EPOCHREALTIME" >"$d/{i}.r"')
        lines.append("( " + "\n  ".join(jobs) + "\n) &\n")
    lines.append("wait\n")
    lines.append('cd "$d" || exit 97\nprintf \'@@tar \'\ntar -cf - -- . | base64 -w0\necho\n')
    return "".join(lines)


def parse_batch(text: str, plans: list) -> dict[int, tuple[CommandResult, float]]:
    """Each check's result and its duration in the guest, by index; checks with no status are absent.

    The answer is the run's private folder as a base64 tar: ``<i>.r`` (exit status, start
    and end time), ``<i>.o`` and ``<i>.e`` (output) per check. It is read in memory, never
    unpacked on the host. A cut or garbled answer yields no result at all.
    """
    import base64
    import binascii
    import io
    import tarfile

    m = re.search(r"^@@tar ([A-Za-z0-9+/=]*)$", text, re.M)
    if not m:
        return {}
    try:
        raw = base64.b64decode(m.group(1), validate=True)
        # A whole archive ends with two zero blocks; anything else was cut on the way.
        if len(raw) < 1024 or len(raw) % 512 or raw[-1024:] != bytes(1024):
            return {}
        files: dict[str, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if member.isfile() and re.fullmatch(r"\d+\.[roe]", name):
                    fh = tar.extractfile(member)
                    files[name] = fh.read() if fh else b""
    except (ValueError, binascii.Error, tarfile.TarError, EOFError):
        return {}
    out: dict[int, tuple[CommandResult, float]] = {}
    for i in range(len(plans)):
        if not all(f"{i}.{x}" in files for x in "roe"):
            continue  # no status: the check's subshell never finished
        parts = files[f"{i}.r"].decode("ascii", "replace").split()
        if len(parts) != 3 or not parts[0].lstrip("-").isdigit():
            continue
        rc = int(parts[0])
        try:
            dur = max(0.0, float(parts[2].replace(",", ".")) - float(parts[1].replace(",", ".")))
        except ValueError:
            dur = 0.0
        so = files[f"{i}.o"].decode("utf-8", "surrogateescape")
        se = files[f"{i}.e"].decode("utf-8", "surrogateescape")
        out[i] = (CommandResult(("/bin/sh", "-c", plans[i][0]), rc, so, se, dur, "", timed_out=(rc == 124)), dur)
    return out


def run_checks(chan: Channel, fault: Fault, d: Draw, snapshot: dict | None = None, *,
               offline_only: bool = False, seat_ctx: dict | None = None,
               company: Channel | None = None, company_why: str = "") -> CheckReport:
    """Run every check of the fault's variant, and the baseline, in one guest command.

    ``offline_only``: the channel reaches the seat's disk, not the running machine
    (labctl.rescue); checks not marked ``offline`` are ``unknown`` without running.
    ``company``: the company server's channel, for checks with ``on: company`` (one
    more command, there); without it they are ``unknown`` (``company_why`` says why).
    """
    start = time.monotonic()
    todo = checks_for(fault, d, snapshot, seat_ctx)
    roads = {"seat": chan, "company": company}
    results: dict[int, CheckResult] = {}
    for where, road in roads.items():
        mine = [i for i, (c, _) in enumerate(todo) if c.on == where]
        if not mine:
            continue
        if road is None:
            for i in mine:
                c = todo[i][0]
                results[i] = CheckResult(c.id, c.group, c.title, UNKNOWN,
                                         f"no verdict: {company_why or 'no road to the company server'}", "",
                                         route="none")
            continue
        runnable = [i for i in mine if todo[i][0].offline or not offline_only or where != "seat"]
        for i in mine:
            if i not in runnable:
                c = todo[i][0]
                results[i] = CheckResult(c.id, c.group, c.title, UNKNOWN,
                                         "no verdict: needs the running machine, which did not answer "
                                         "(only its disk was read)", "", route=road.name)
        plans = [_plan(*todo[i]) for i in runnable]
        got, why = _run_batch(road, plans)
        label = _route_label(where, road)
        for k, i in enumerate(runnable):
            c, spec = todo[i]
            r, dur = got.get(k, (None, 0.0))
            results[i] = _judge(c, spec, r, plans[k][2], label, dur, why or "the check gave no answer")
    used = tuple(_route_label(w, r) for w, r in roads.items() if r is not None and any(c.on == w for c, _ in todo))
    return CheckReport(fault.id, d.variant, tuple(results[i] for i in range(len(todo))),
                       time.monotonic() - start, routes=used or (chan.name,))


def _route_label(where: str, road: Channel) -> str:
    return road.name if where == "seat" else f"company server ({road.name})"


def _run_batch(chan: Channel, plans: list) -> tuple[dict[int, tuple[CommandResult, float]], str]:
    """One guest command for many checks: their answers by index, or why there are none."""
    if not plans:
        return {}, ""
    try:
        # Lanes run their checks one after another: the run may take the sum of a lane's timeouts.
        budget = max(sum(plans[i][2] for i in lane) for lane in lanes(plans)) + 30
        res = chan.run(["/bin/bash", "-c", batch_script(plans)], timeout=budget)
    except LabError as exc:
        return {}, str(exc)
    if res.timed_out:
        return {}, "the check run did not finish in time"
    got = parse_batch(res.stdout, plans)
    if not got:
        return {}, f"the check run gave no answer (rc={res.rc}: {res.stderr.strip()[:160]})"
    return got, ""


def unreachable_report(fault: Fault, d: Draw, why: str) -> CheckReport:
    """Every check ``unknown``: no road to the guest. Never a pass."""
    results = tuple(CheckResult(c.id, c.group, c.title, UNKNOWN, f"no verdict: {why}", "", route="none")
                    for c, _ in checks_for(fault, d))
    return CheckReport(fault.id, d.variant, results, 0.0, routes=(f"none ({why})",))


def describe_kind_fields() -> dict[str, Any]:
    """For docs and `fault new`: the kinds and their fields."""
    from .manifest import schema

    props = schema()["$defs"]["check"]["properties"]
    return {k: sorted(props[k]["properties"]) for k in KINDS}
