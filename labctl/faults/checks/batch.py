"""A whole check run in one guest command: the bash script that runs the checks, and its answer."""

from __future__ import annotations

import re
import shlex
from typing import NamedTuple

from ...guest import CommandResult, as_user

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


class Plan(NamedTuple):
    """What one check runs in the guest.

    ``guest_shell``: the script is a recipe's own command, run by the guest's ``/bin/sh`` with
    the guest's programs (recipes rely on GNU tools); a check kind's script is run by the
    checks' own busybox when the run brought one (labctl/guest/toolbox.py).
    """

    script: str
    user: str | None
    timeout: float
    guest_shell: bool = False


# The run's tools come from busybox or from these folders, never from /usr/local, where a
# program added by the trainee would shadow one the image has. A recipe's own commands also
# search /usr/local, where recipes install company software (licence-expired's planner), but
# last: a curl put there does not shadow the image's.
_PATH = "export PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
GUEST_PATH = "/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin"
_BATCH_HEAD = (
    'd=$(mktemp -d /run/.lc.XXXXXXXX) || exit 97\n'
    'cd / || exit 97\n'
)


def _weight(plan) -> float:
    """A rough cost, to spread checks over lanes: long timeouts mean long scans."""
    script, timeout = plan[0], plan[2]
    return 1.0 + (3.0 if timeout > 90 else 0.0) + script.count("sudo -n -l") * 0.5 + \
        (3.0 if "sleep " in script else 0.0) + (2.0 if "sha256sum" in script else 0.0)


def lanes(plans: list, n: int = LANES) -> list[list[int]]:
    """Check indexes per lane: heaviest first, each to the lightest lane so far."""
    out: list[list[int]] = [[] for _ in range(max(1, min(n, len(plans))))]
    load = [0.0] * len(out)
    for i in sorted(range(len(plans)), key=lambda i: -_weight(plans[i])):
        k = load.index(min(load))
        out[k].append(i)
        load[k] += _weight(plans[i])
    return [sorted(lane) for lane in out]


def batch_script(plans: list, n_lanes: int = LANES, tools: str | None = None) -> str:
    """The run's script. ``tools``: the guest path of the checks' busybox (it stays for the next
    run), which runs the script and every check kind's script; None: the guest's shells.

    The script is the same shell language for busybox's ash and the guest's bash: ``timeout -k``,
    ``/proc/uptime`` for times (busybox's ``date`` has no nanoseconds, ash no EPOCHREALTIME).
    """
    trap = 'trap \'rm -rf -- "$d"\' EXIT\n'
    lines = [_PATH, _BATCH_HEAD, trap]
    for lane in lanes(plans, n_lanes):
        jobs = []
        for i in lane:
            script, user, timeout = plans[i][0], plans[i][1], plans[i][2]
            guest = len(plans[i]) > 3 and plans[i][3]
            shell = ["/bin/sh", "-c", script] if guest or not tools else [tools, "sh", "-c", script]
            argv = ["timeout", "-k", "5", str(int(max(1, timeout))), *as_user(user, shell)]
            env = f"PATH={GUEST_PATH} " if guest or not tools else ""
            jobs.append(f'read s _ </proc/uptime || s=0; {env}{shlex.join(argv)} >"$d/{i}.o" 2>"$d/{i}.e" </dev/null; '
                        f'r=$?; read e _ </proc/uptime || e=0; echo "$r $s $e" >"$d/{i}.r"')
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
        # GNU timeout exits 124; busybox's leaves the signal's status (143, or 137 after -k).
        late = rc == 124 or (rc in (137, 143) and dur >= float(plans[i][2]) - 0.5)
        out[i] = (CommandResult(("/bin/sh", "-c", plans[i][0]), rc, so, se, dur, "", timed_out=late), dur)
    return out
