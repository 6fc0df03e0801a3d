"""What every check kind shares: the statuses, the verdict type, and how an answer is refused.

A kind's verdict function gets the guest's whole answer (a ``CommandResult``) and raises
``NoVerdict`` for anything it cannot read as a real observation: no answer, a tool that
is missing or was killed, an error from the tool, text it does not know. That makes the
check ``unknown``, which is never a pass; guessing a value (an empty answer read as "not
enabled", a failed ``du`` read as "no growth") is how a broken guest used to pass.
"""

from __future__ import annotations

from ...guest import CommandResult

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"

# (passed, observed, expected)
Verdict = tuple[bool, str, str]

# Exit codes that say the script or its tool did not run to an answer: 124 timed out
# (timeout), 125 no verdict (and timeout's own failure), 126 found but not runnable,
# 127 not found, 128+N killed by signal N (137: SIGKILL after timeout's grace).
NO_ANSWER_RC = 124


class NoVerdict(Exception):
    """The answer is not one the check can judge: the check is ``unknown``."""


_NoVerdict = NoVerdict  # the name bench/ and older code import


def killed_or_missing(rc: int) -> bool:
    """rc says the script (or the tool whose status it is) never gave an answer."""
    return rc < 0 or rc >= NO_ANSWER_RC


def why_no_answer(rc: int) -> str:
    if rc == 124:
        return "timed out (rc=124)"
    if rc == 125:
        return "no verdict (rc=125)"
    if rc in (126, 127):
        return f"could not run (rc={rc}: a program is missing or not executable)"
    if rc > 128:
        return f"killed by signal {rc - 128} (rc={rc})"
    return f"no answer (rc={rc})"


def stderr_tail(res: CommandResult, n: int = 200) -> str:
    text = res.stderr.strip()
    return text[-n:] if text else "nothing on stderr"


def kv(text: str) -> dict[str, str]:
    """``key=value`` lines; the last of a key wins, other lines are ignored."""
    out = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


_kv = kv
