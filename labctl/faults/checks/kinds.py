"""The check kinds that ask a tool in the guest: command, free_space, url, not_growing,
service, groups, sudo.

Each script prints every answer it relies on, with the tool's exit status where that
status means something, and each verdict accepts only answers it knows: an empty
answer, an error, a tool that is missing or was killed gives ``NoVerdict`` (``unknown``).
"""

from __future__ import annotations

import re
import shlex

from ...guest import CommandResult
from .base import NoVerdict, Verdict, killed_or_missing, kv, stderr_tail, why_no_answer

# -- command: its exit status is its verdict ---------------------------------------------
# Convention: exit codes >= 124 (124 timed out, 125 "no verdict", 126-127 could not run,
# 128+N killed) are no answer, unless the check's own ``rc`` expects that very code. A
# recipe's script says "I cannot tell" with ``exit 125``.


def command_verdict(spec: dict, res: CommandResult) -> Verdict:
    want_rc = spec.get("rc", 0)
    out = res.stdout
    tail = (out.strip() or res.stderr.strip()).splitlines()[-3:]
    if killed_or_missing(res.rc) and res.rc != want_rc:
        raise NoVerdict(why_no_answer(res.rc) + (f": {' | '.join(tail)[:200]}" if tail else ""))
    problems = []
    if res.rc != want_rc:
        problems.append("rc")
    if "stdout_contains" in spec and spec["stdout_contains"] not in out:
        problems.append("output")
    if "stdout_regex" in spec and not re.search(spec["stdout_regex"], out, re.M):
        problems.append("output")
    if "stdout_lacks" in spec and spec["stdout_lacks"] in out:
        problems.append("output")
    observed = f"rc={res.rc}" + (f", output: {' | '.join(tail)[:200]}" if tail else "")
    expected = spec.get("describe") or ", ".join(
        [f"rc={want_rc}"] + [f"{k.replace('stdout_', 'output ')} {spec[k]!r}" for k in
                             ("stdout_contains", "stdout_regex", "stdout_lacks") if k in spec])
    return (not problems, observed, expected)


# -- free_space --------------------------------------------------------------------------

def free_space_script(spec: dict) -> str:
    return (f"out=$(df -Pm -- {shlex.quote(spec['path'])}); echo \"df_rc=$?\"; "
            "printf '%s\\n' \"$out\" | awk 'NR==2 {print \"avail=\" $4}'")


def free_space_verdict(spec: dict, res: CommandResult) -> Verdict:
    got = kv(res.stdout)
    avail = got.get("avail")
    if got.get("df_rc") != "0" or avail is None or not avail.isdigit():
        raise NoVerdict(f"df gave no answer (rc={got.get('df_rc', '?')}): {stderr_tail(res)}")
    return (int(avail) >= spec["min_mib"], f"{avail} MiB free for users",
            f"at least {spec['min_mib']} MiB free for users")


# -- url ---------------------------------------------------------------------------------

# curl's exit codes that say curl itself could not ask (bad use, missing feature, local
# file or memory trouble), as opposed to the network or the server not answering.
CURL_NO_VERDICT = frozenset({1, 2, 3, 4, 5, 23, 26, 27, 41, 43, 48, 53, 58, 59, 77})


def url_script(spec: dict) -> str:
    return (f"out=$(curl -sS --noproxy '*' --max-time 8 -o - -w '\\n@@code=%{{http_code}}' {shlex.quote(spec['url'])} 2>&1); "
            "rc=$?; printf '%s\\n@@rc=%s\\n' \"$out\" \"$rc\"")


def url_verdict(spec: dict, res: CommandResult) -> Verdict:
    m_rc = re.search(r"^@@rc=(\d+)$", res.stdout, re.M)
    m_code = re.search(r"@@code=(\d{3})$", res.stdout, re.M)
    if not m_rc:
        raise NoVerdict(f"curl gave no answer: {stderr_tail(res)}")
    rc, code = int(m_rc.group(1)), (m_code.group(1) if m_code else "000")
    body = res.stdout.split("\n@@code=")[0]
    if killed_or_missing(rc) or rc in CURL_NO_VERDICT:
        last = body.strip().splitlines()[-1][:160] if body.strip() else ""
        raise NoVerdict(f"curl could not ask (rc={rc})" + (f": {last}" if last else ""))
    if rc == 0 and not m_code:
        raise NoVerdict("curl gave no HTTP status")
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


# -- not_growing -------------------------------------------------------------------------

def not_growing_script(spec: dict) -> str:
    p = shlex.quote(spec["path"])
    secs = spec.get("seconds", 3)
    # Each look: "absent", or du's total in bytes (apparent size: -b, in GNU and busybox du) and
    # du's exit status (LC_ALL=C: its messages are read).
    return (f"m() {{ if [ -e {p} ] || [ -L {p} ]; then k=$(LC_ALL=C du -sb -- {p}); "
            f"echo \"${{1}}_rc=$?\"; echo \"$1=$(printf '%s\\n' \"$k\" | cut -f1)\"; else echo \"$1=absent\"; fi; }}; "
            f"m before; sleep {secs}; m after")


def _only_vanished(stderr: str) -> bool:
    """du's only complaints are files that went away during its walk (a live log folder)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return bool(lines) and all("No such file or directory" in line for line in lines)


def _size(got: dict[str, str], name: str, path: str, stderr: str) -> int | None:
    """Bytes at one look; None when the path is absent."""
    value = got.get(name)
    if value is None:
        raise NoVerdict(f"du gave no answer: {stderr.strip()[:200] or 'nothing on stderr'}")
    if value == "absent":
        return None
    rc = got.get(f"{name}_rc")
    if rc != "0":
        # A file removed while du walked: du says so, exits 1 and still totals the rest.
        if rc == "1" and _only_vanished(stderr):
            if value.isdigit():
                return int(value)
            if value == "":
                return None  # the path itself went away between the test and du
        raise NoVerdict(f"du failed on {path} (rc={rc}): {stderr.strip()[:200] or 'nothing on stderr'}")
    if not value.isdigit():
        raise NoVerdict(f"du gave no size for {path} ({value!r})")
    return int(value)


def not_growing_verdict(spec: dict, res: CommandResult) -> Verdict:
    got = kv(res.stdout)
    before = _size(got, "before", spec["path"], res.stderr)
    after = _size(got, "after", spec["path"], res.stderr)
    limit, secs = spec.get("max_kib", 16), spec.get("seconds", 3)
    expected = f"grows at most {limit} KiB in {secs} s"
    if before is None and after is None:
        return (True, f"absent both times ({secs} s apart)", expected)
    grew = -(-((after or 0) - (before or 0)) // 1024)  # bytes to KiB, rounded up
    return (grew <= limit, f"grew {max(grew, 0)} KiB in {secs} s", expected)


# -- service -----------------------------------------------------------------------------

# The words systemctl answers with (systemd 252 and later); anything else is not an answer.
ACTIVE_WORDS = frozenset({"active", "inactive", "failed", "activating", "deactivating", "reloading",
                          "maintenance", "refreshing"})
ENABLED_WORDS = frozenset({"enabled", "enabled-runtime", "linked", "linked-runtime", "alias", "masked",
                           "masked-runtime", "static", "indirect", "disabled", "generated", "transient", "bad",
                           "not-found"})
# Of those, the ones that start the unit at boot (as labctl always read them).
AT_BOOT = frozenset({"enabled", "enabled-runtime", "static", "alias", "indirect"})
# A unit with no unit file: systemd 252 prints nothing and "Failed to get unit file state
# for X: No such file or directory" (rc 1); later versions print "not-found".
_NOT_INSTALLED = re.compile(r"No such file or directory|not found|does not exist", re.I)


def service_script(spec: dict) -> str:
    u = shlex.quote(spec["unit"])
    # Each answer with its exit status; stderr marked per command, to tell whose error it is.
    return (f"echo @@is-active >&2; a=$(systemctl is-active {u}); echo \"active_rc=$?\"; "
            "printf 'active=%s\\n' \"$(printf %s \"$a\" | tr '\\n' ' ')\"; "
            f"echo @@is-enabled >&2; e=$(systemctl is-enabled {u}); echo \"enabled_rc=$?\"; "
            "printf 'enabled=%s\\n' \"$(printf %s \"$e\" | tr '\\n' ' ')\"")


def _stderr_of(stderr: str, marker: str) -> str:
    parts = re.split(r"^@@(is-active|is-enabled)$", stderr, flags=re.M)
    return "".join(parts[i + 1] for i in range(1, len(parts) - 1, 2) if parts[i] == marker).strip()


def _service_word(got: dict[str, str], key: str, known: frozenset[str], err: str) -> str:
    rc, word = got.get(f"{key}_rc"), got.get(key)
    if rc is None or word is None or not rc.lstrip("-").isdigit():
        raise NoVerdict(f"systemctl gave no answer: {err[:200] or 'nothing on stderr'}")
    verb = f"systemctl is-{key}"
    if killed_or_missing(int(rc)):
        raise NoVerdict(f"{verb}: {why_no_answer(int(rc))}: {err[:160]}")
    if word in known:
        return word
    if key == "enabled" and not word and rc == "1" and err and "bus" not in err.lower() \
            and _NOT_INSTALLED.search(err):
        return "not-found"
    raise NoVerdict(f"{verb} gave no known answer ({word!r}, rc={rc}): {err[:160] or 'nothing on stderr'}")


def service_verdict(spec: dict, res: CommandResult) -> Verdict:
    got = kv(res.stdout)
    ok = True
    want, seen = [], []
    if "active" in spec:
        word = _service_word(got, "active", ACTIVE_WORDS, _stderr_of(res.stderr, "is-active"))
        ok &= (word == "active") == spec["active"]
        want.append("running" if spec["active"] else "stopped")
        seen.append(word)
    if "enabled" in spec:
        word = _service_word(got, "enabled", ENABLED_WORDS, _stderr_of(res.stderr, "is-enabled"))
        ok &= (word in AT_BOOT) == spec["enabled"]
        want.append("enabled at boot" if spec["enabled"] else "not enabled at boot")
        seen.append("not installed" if word == "not-found" else word)
    if not want:
        raise NoVerdict("the check asks neither active nor enabled")
    return (ok, ", ".join(seen), ", ".join(want))


# -- groups ------------------------------------------------------------------------------

def groups_script(spec: dict) -> str:
    return f"g=$(id -nG -- {shlex.quote(spec['user'])}); echo \"id_rc=$?\"; echo \"groups=$g\""


def groups_verdict(spec: dict, res: CommandResult) -> Verdict:
    got = kv(res.stdout)
    # A user that does not exist is no answer about that user's groups (not "in none of them").
    if got.get("id_rc") != "0" or not got.get("groups"):
        raise NoVerdict(f"id gave no answer (rc={got.get('id_rc', '?')}): {stderr_tail(res)}")
    groups = set(got["groups"].split())
    missing = [g for g in spec.get("has", []) if g not in groups]
    extra = [g for g in spec.get("lacks", []) if g in groups]
    want = []
    if spec.get("has"):
        want.append("member of " + ", ".join(spec["has"]))
    if spec.get("lacks"):
        want.append("not member of " + ", ".join(spec["lacks"]))
    return (not missing and not extra, f"{spec['user']} is in: {' '.join(sorted(groups))}", "; ".join(want))


# -- sudo --------------------------------------------------------------------------------

# sudo -l exits 1 both for "not allowed" and for its own failures; these say it failed.
# ("unable to resolve host" is a harmless warning, and not among them; a listed command
# that is not installed cannot be run either, and is read as refused.)
_SUDO_BROKEN = re.compile(r"unknown user|parse error|syntax error|no valid sudoers|must be owned by uid 0|"
                          r"unable to (open|stat|read|load)|error initializing|problem with defaults|"
                          r"permission denied", re.I)


def sudo_script(spec: dict) -> str:
    u = shlex.quote(spec["user"])
    lines = []
    for i, cmd in enumerate(spec.get("may", [])):
        lines.append(f"LC_ALL=C sudo -n -l -U {u} {cmd} >/dev/null; echo may{i}=$?")
    for i, cmd in enumerate(spec.get("may_not", [])):
        lines.append(f"LC_ALL=C sudo -n -l -U {u} {cmd} >/dev/null; echo maynot{i}=$?")
    if not lines:
        return "true"
    # Most of the time the user has no sudo rule at all: one listing says so, instead of
    # one sudo run per command (each a few tenths of a second under emulation).
    return (f"if LC_ALL=C sudo -n -l -U {u} 2>&1 | grep -q 'is not allowed to run sudo'; then echo none=1; "
            "else " + "; ".join(lines) + "; fi")


def sudo_verdict(spec: dict, res: CommandResult) -> Verdict:
    got = kv(res.stdout)
    may, may_not = spec.get("may", []), spec.get("may_not", [])
    if not may and not may_not:
        raise NoVerdict("the check names no command")
    if got.get("none") == "1":  # no rule for the user: every command refused
        got = {**{f"may{i}": "1" for i in range(len(may))}, **{f"maynot{i}": "1" for i in range(len(may_not))}}
    else:
        broken = [line for line in res.stderr.splitlines() if _SUDO_BROKEN.search(line)]
        if broken:
            raise NoVerdict(f"sudo failed: {broken[0].strip()[:200]}")
    denied, granted = [], []
    for key, cmds in (("may", may), ("maynot", may_not)):
        for i, cmd in enumerate(cmds):
            rc = got.get(f"{key}{i}")
            if rc not in ("0", "1"):  # 0 allowed, 1 refused; anything else sudo did not answer
                raise NoVerdict(f"sudo gave no answer for {cmd}" + (f" (rc={rc})" if rc else "")
                                + f": {stderr_tail(res, 160)}")
            if key == "may" and rc != "0":
                denied.append(cmd)
            if key == "maynot" and rc == "0":
                granted.append(cmd)
    want = []
    if may:
        want.append(f"{spec['user']} may run as root: " + "; ".join(may))
    if may_not:
        want.append("and nothing broader (" + "; ".join(may_not) + " refused)")
    observed = []
    if denied:
        observed.append("refused: " + "; ".join(denied))
    if granted:
        observed.append("granted too much: " + "; ".join(granted))
    return (not denied and not granted, "; ".join(observed) or "as expected", " ".join(want))
