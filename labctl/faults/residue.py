"""The residue scan: after an injection, does the guest give the cause away?

Run as root (the most a trainee can get: the technician account has sudo), it
looks for what an injection tends to leave behind:

- Ansible's leftovers (temporary folders, module files);
- shell and editor histories (the pristine image has none);
- journal lines written since the injection began that name Ansible, the guest
  agent's commands, the recipe's scripts, the fault, or a drawn value;
- files under the usual places that name the fault or its scripts.

A finding is a string saying what was found and where. It is the framework's
job, run for every recipe by ``fault test``; recipes cannot opt out.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from ..guest import Channel
from .draw import Draw
from .manifest import Fault

SCAN_DIRS = "/etc /home /root /srv /opt /usr/local /var/tmp /tmp /var/backups /var/spool"
# /var/lib and /var/log are scanned entry by entry (symbolic links left out, as grep -r leaves
# them inside a folder), without these: the package database
# (most of the files the scan would read: the image ships programs under these names; not
# residue) and the binary journal, which the scan reads through journalctl above.
SKIPPED_DIRS = ("/var/lib/dpkg", "/var/lib/apt", "/var/log/journal")
# What the scan no longer reads, and a finding there would not count: the cache (not scanned).
IGNORED_FILES = tuple(d + "/" for d in SKIPPED_DIRS) + ("/var/cache/",)
HISTORIES = (".bash_history", ".python_history", ".lesshst", ".viminfo", ".sh_history", ".zsh_history",
             ".mysql_history", ".wget-hsts", ".local/share/nano/search_history")
MIN_VALUE_LEN = 6


@dataclass(frozen=True)
class Residue:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def _needles(fault: Fault) -> list[str]:
    """Words that would give the cause away if they showed up in a log or a stray file."""
    words = {fault.id, "AnsiballZ", "ansible-tmp", "ansible.legacy", "guest-exec", "inject.sh", "prepare.sh",
             "fix.sh", "inject.yml", "fix.yml", "labctl fault"}
    return sorted(words)


def _value_needles(d: Draw) -> list[str]:
    """Drawn values long and specific enough to be meaningful in a log."""
    out = set()
    for k, v in d.params.items():
        if k == "variant":
            continue
        for item in (v if isinstance(v, list) else [v]):
            s = str(item)
            if len(s) >= MIN_VALUE_LEN and not s.isdigit():
                out.add(s)
    return sorted(out)


def scan_script(fault: Fault, d: Draw, since_epoch: int) -> str:
    needles = _needles(fault)
    grep_words = " ".join(f"-e {shlex.quote(w)}" for w in needles)
    value_words = " ".join(f"-e {shlex.quote(w)}" for w in _value_needles(d))
    hist = " -o ".join(f"-path '*/{h}'" for h in HISTORIES)
    return "\n".join([
        # Ansible's leftovers.
        "for p in /var/tmp/.lab-ansible /root/.ansible /home/*/.ansible /tmp/ansible-* /var/tmp/ansible-*; do "
        "[ -e \"$p\" ] && echo \"R ansible-leftover $p\"; done",
        # Histories that are not empty.
        f"find /root /home -xdev \\( {hist} \\) -type f -size +0 2>/dev/null | sed 's/^/R history /'",
        # The journal since the injection began (all machine ids: a restored seat may hold several).
        f"journalctl -m --since @{since_epoch} -o cat --no-pager 2>/dev/null > /run/.scan-j || true",
        f"grep -F -i {grep_words} /run/.scan-j | head -n 5 | sed 's/^/R journal /'",
        (f"grep -F {value_words} /run/.scan-j | head -n 5 | sed 's/^/R journal-value /'" if value_words else ":"),
        "rm -f /run/.scan-j",
        # Files that name the fault or the recipe's scripts.
        f"set -- {SCAN_DIRS}; for p in /var/lib/* /var/lib/.[!.]* /var/log/* /var/log/.[!.]*; do "
        f"case $p in {'|'.join(SKIPPED_DIRS)}) ;; *) [ -e \"$p\" ] && [ ! -L \"$p\" ] && set -- \"$@\" \"$p\";; esac; done",
        f"grep -rIl -F {grep_words} \"$@\" 2>/dev/null | head -n 20 | sed 's/^/R file /'",
        "echo END",
    ])


def parse(text: str) -> tuple[list[Residue], bool]:
    found = []
    for line in text.splitlines():
        m = re.match(r"^R (\S+) (.*)$", line)
        if not m:
            continue
        kind, rest = m.groups()
        if kind == "file" and rest.startswith(IGNORED_FILES):
            continue
        found.append(Residue(kind, rest.strip()[:300]))
    return found, "END" in text.splitlines()


def scan(chan: Channel, fault: Fault, d: Draw, since_epoch: int) -> list[Residue]:
    """Residue in the guest; raises LabError when the scan itself could not run to its end."""
    from ..errors import GuestError

    res = chan.sh(scan_script(fault, d, since_epoch), timeout=180)
    found, complete = parse(res.stdout)
    if not complete:
        raise GuestError(f"the residue scan did not finish (rc={res.rc}): {res.stderr.strip()[:200]}")
    return found
