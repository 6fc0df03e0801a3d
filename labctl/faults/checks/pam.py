"""Kind ``pam_faillock``: does the machine lock an account after repeated failed logins?

The guest only prints the files (``common-auth``, ``common-account``, ``faillock.conf``);
the host reads them as Linux-PAM would run them. Grepping for a ``preauth`` and an
``authfail`` line is not enough: ``auth optional pam_faillock.so preauth`` is there and
locks nobody. So the auth stack is played through, control by control (``required``,
``[success=2 default=ignore]``, jumps, ``die``), for three logins:

- a good password on an unlocked account must get in (else the stack is broken, not locking);
- a good password on a locked account must be refused (preauth decides);
- a wrong password must reach ``pam_faillock.so authfail`` (the failure is counted);

and the ``deny`` count (the module's argument, else ``faillock.conf``, else 3) must be a
number from 1 to ``deny_max``. With ``account: true`` the account stack must also run
``pam_faillock.so`` (what resets the count after a good login, as Debian's profile sets it).
Other modules are taken to answer "ignore" (not about this user); ``pam_permit`` succeeds
and ``pam_deny`` fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...guest import CommandResult
from .base import NoVerdict, Verdict

AUTH, ACCOUNT, CONF = "/etc/pam.d/common-auth", "/etc/pam.d/common-account", "/etc/security/faillock.conf"
DENY_DEFAULT = 3  # pam_faillock's own default

_KEYWORDS = {
    "required": {"success": "ok", "new_authtok_reqd": "ok", "ignore": "ignore", "default": "bad"},
    "requisite": {"success": "ok", "new_authtok_reqd": "ok", "ignore": "ignore", "default": "die"},
    "sufficient": {"success": "done", "new_authtok_reqd": "done", "default": "ignore"},
    "optional": {"success": "ok", "new_authtok_reqd": "ok", "default": "ignore"},
}
_ACTIONS = ("ignore", "bad", "die", "ok", "done", "reset")


def pam_faillock_script(spec: dict) -> str:
    # Each file whole, or "absent", or the error that kept it from being read.
    parts = [f"f={f}; if [ -e \"$f\" ]; then echo \"@@file $f\"; cat -- \"$f\"; r=$?; echo; "
             f"[ \"$r\" -eq 0 ] || echo \"@@error $f $r\"; else echo \"@@absent $f\"; fi"
             for f in (AUTH, ACCOUNT, CONF)]
    return "; ".join(parts) + "; echo @@end"


def read_files(text: str) -> dict[str, str | None]:
    """Each file's text (None: absent) from the script's answer."""
    if "@@end" not in text.splitlines():
        raise NoVerdict("the PAM files were not all read (the answer was cut short)")
    out: dict[str, str | None] = {}
    parts = re.split(r"^@@(file|absent|error) (\S+)(?: (\d+))?$", text.split("\n@@end")[0], flags=re.M)
    for i in range(1, len(parts) - 1, 4):
        what, path, rc, body = parts[i], parts[i + 1], parts[i + 2], parts[i + 3]
        if what == "error":
            raise NoVerdict(f"{path} could not be read (cat rc={rc})")
        out[path] = body if what == "file" else None
    for path in (AUTH, ACCOUNT, CONF):
        if path not in out:
            raise NoVerdict(f"no answer for {path}")
    return out


@dataclass(frozen=True)
class PamLine:
    number: int  # line in the file, for messages
    control: str  # as written
    actions: dict  # return value -> action ("ok", "die", ..., or a jump count)
    module: str  # file name, e.g. pam_unix.so
    args: tuple[str, ...]

    def is_faillock(self, mode: str = "") -> bool:
        return self.module == "pam_faillock.so" and (not mode or mode in self.args)

    def option(self, name: str) -> str | None:
        vals = [a.split("=", 1)[1] for a in self.args if a.startswith(name + "=")]
        return vals[-1] if vals else None


def _actions(control: str, where: str) -> dict:
    if control in _KEYWORDS:
        return dict(_KEYWORDS[control])
    if control in ("include", "substack"):
        raise NoVerdict(f"{where}: '{control}' pulls in another file; labctl reads only this one")
    m = re.fullmatch(r"\[(.*)\]", control, re.S)
    if not m:
        raise NoVerdict(f"{where}: unknown control {control!r}")
    acts: dict = {}
    for tok in m.group(1).split():
        key, _, val = tok.partition("=")
        val = val.lower()
        if val.isdigit() and int(val) > 0:
            acts[key.lower()] = int(val)
        elif val in _ACTIONS:
            acts[key.lower()] = val
        else:
            raise NoVerdict(f"{where}: cannot read {tok!r} in the control {control}")
    acts.setdefault("default", "bad")  # Linux-PAM: what a bracket does not name is "bad"
    return acts


def parse_stack(text: str, kind: str, file: str) -> list[PamLine]:
    """The ``kind`` lines (auth, account) of one PAM file, as Linux-PAM reads them."""
    lines: list[PamLine] = []
    logical: list[tuple[int, str]] = []
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        if not buf:
            start = n
        if raw.endswith("\\"):
            buf += raw[:-1] + " "
            continue
        logical.append((start, buf + raw))
        buf = ""
    for n, line in logical:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{file}: line {n}"
        if line.startswith("@include"):
            raise NoVerdict(f"{where}: {line!r} pulls in another file; labctl reads only this one")
        m = re.match(r"(-?)(\S+)\s+(\[[^\]]*\]|\S+)\s+(\S+)\s*(.*)$", line)
        if not m:
            raise NoVerdict(f"{where}: cannot read {line!r}")
        if m.group(2).lower() != kind:
            continue
        module = m.group(4).rsplit("/", 1)[-1]
        lines.append(PamLine(n, m.group(3), _actions(m.group(3).lower(), where), module,
                             tuple(m.group(5).split())))
    return lines


def run_stack(lines: list[PamLine], answer) -> tuple[bool, set[int]]:
    """Play a stack as Linux-PAM does (``_pam_dispatch_aux``): (succeeded, indexes of lines run)."""
    impression, status = None, None
    ran: set[int] = set()
    i = 0
    while i < len(lines):
        line = lines[i]
        ran.add(i)
        rv = answer(line)
        act = line.actions.get(rv, line.actions.get("default", "bad"))
        if act == "reset":
            impression, status = None, None
        elif act in ("ok", "done"):
            if impression is None or (impression == "pos" and status == "success"):
                impression, status = "pos", rv
            if impression == "pos" and act == "done":
                break
        elif act in ("bad", "die"):
            if impression != "neg":
                impression, status = "neg", rv
            if act == "die":
                break
        elif isinstance(act, int):
            i += act
        i += 1
    return impression == "pos" and status == "success", ran


def _answers(locked: bool, good_password: bool):
    """What each module returns for this login."""
    def answer(line: PamLine) -> str:
        if line.module == "pam_unix.so":
            return "success" if good_password else "auth_err"
        if line.module == "pam_permit.so":
            return "success"
        if line.module == "pam_deny.so":
            return "auth_err"
        if line.is_faillock("preauth") or line.is_faillock("authsucc"):
            return "auth_err" if locked else "success"
        if line.is_faillock("authfail"):
            return "auth_err" if locked else "ignore"  # it counts the failure, then stands aside
        if line.is_faillock():
            return "success"  # account stack: resets the count
        return "ignore"
    return answer


def _conf_deny(text: str | None) -> str | None:
    deny = None
    for raw in (text or "").splitlines():
        line = raw.split("#", 1)[0].strip()
        key, eq, value = line.partition("=")
        if eq and key.strip() == "deny":
            deny = value.strip()
    return deny


def pam_faillock_verdict(spec: dict, res: CommandResult) -> Verdict:
    files = read_files(res.stdout)
    deny_max = spec.get("deny_max", 10)
    want_account = spec.get("account", False)
    expected = ("pam_faillock preauth before pam_unix and authfail after it in common-auth, deciding the "
                f"login; an account locked after 1-{deny_max} failed logins"
                + ("; pam_faillock in common-account" if want_account else ""))
    if files[AUTH] is None:
        return (False, f"lockout off: there is no {AUTH}", expected)
    auth = parse_stack(files[AUTH], "auth", AUTH)
    problems = []
    pre = [i for i, ln in enumerate(auth) if ln.is_faillock("preauth")]
    fail = [i for i, ln in enumerate(auth) if ln.is_faillock("authfail")]
    if not pre:
        problems.append("no pam_faillock.so preauth in common-auth")
    if not fail:
        problems.append("no pam_faillock.so authfail in common-auth")
    if not any(ln.module == "pam_unix.so" for ln in auth):
        problems.append("no pam_unix.so in common-auth")
    if not problems:
        if not run_stack(auth, _answers(locked=False, good_password=True))[0]:
            problems.append("a good password on an unlocked account is refused (the stack fails before it succeeds)")
        if run_stack(auth, _answers(locked=True, good_password=True))[0]:
            ctl = ", ".join(auth[i].control for i in pre)
            problems.append(f"a locked account still logs in with its password (preauth: {ctl})")
        ran = run_stack(auth, _answers(locked=False, good_password=False))[1]
        if not any(i in ran for i in fail):
            problems.append("a wrong password never reaches pam_faillock.so authfail (failures are not counted)")
    conf_deny = _conf_deny(files[CONF])
    denies = set()
    for ln in auth:
        if ln.is_faillock():
            if ln.option("conf") is not None:
                raise NoVerdict(f"{AUTH}: line {ln.number}: pam_faillock reads {ln.option('conf')}, "
                                f"not {CONF}")
            denies.add(ln.option("deny") or conf_deny or str(DENY_DEFAULT))
    for deny in sorted(denies):
        if not deny.isdigit():
            raise NoVerdict(f"cannot read deny = {deny!r}")
        if not 1 <= int(deny) <= deny_max:
            problems.append(f"deny = {deny}" + (" (never locks)" if int(deny) == 0 else f" (more than {deny_max})"))
    if want_account:
        account = parse_stack(files[ACCOUNT], "account", ACCOUNT) if files[ACCOUNT] is not None else []
        ran = run_stack(account, _answers(locked=False, good_password=True))[1]
        if not any(account[i].is_faillock() for i in ran):
            problems.append("no pam_faillock.so in the account stack (common-account)")
    if problems:
        return (False, "lockout off: " + "; ".join(problems), expected)
    shown = "/".join(sorted(denies, key=int))
    controls = ", ".join(f"{mode} {auth[idx[0]].control}" for mode, idx in (("preauth", pre), ("authfail", fail)))
    return (True, f"lockout on: pam_faillock {controls} around pam_unix; locks after {shown} failed logins",
            expected)
