"""Every check kind refuses an answer it cannot read: ``unknown``, never a pass (issue 20).

Each kind's verdict is fed the bad answers a guest really gives (nothing, a script killed
or timed out, a tool missing, a tool's error, garbage) through ``_judge``, the path a real
check run takes, with a ``CommandResult``; and a few honest answers, to show the verdicts
still pass and fail. Where the host has the tool, the kind's own script is run here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from labctl.faults import checks as C
from labctl.faults.checks import pam
from labctl.faults.lint import describe_mismatches
from labctl.faults.manifest import CheckSpec, load_fault
from labctl.guest import CommandResult

ROOT = Path(__file__).resolve().parents[2]


def judge(kind: str, spec: dict, stdout: str = "", *, rc: int = 0, stderr: str = "", timed_out: bool = False):
    check = CheckSpec("c", "security", "t", kind, {})
    res = CommandResult(("/bin/sh", "-c", "..."), rc, stdout, stderr, 0.0, "test", timed_out=timed_out)
    return C._judge(check, spec, res, 90.0, "test", 0.0)


def status(kind: str, spec: dict, stdout: str = "", **kw) -> str:
    return judge(kind, spec, stdout, **kw).status


def run_here(kind: str, spec: dict, path: str | None = None) -> CommandResult:
    """The kind's own script, run by this host's /bin/sh (``path``: a PATH without some tool)."""
    script = C._plan(CheckSpec("c", "security", "t", kind, {}), spec)[0]
    env = {**os.environ, **({"PATH": path} if path is not None else {})}
    p = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    return CommandResult(("/bin/sh", "-c", script), p.returncode, p.stdout, p.stderr, 0.0, "here")


def judged_here(kind: str, spec: dict, path: str | None = None):
    res = run_here(kind, spec, path)
    return C._judge(CheckSpec("c", "security", "t", kind, {}), spec, res, 90.0, "here", 0.0)


def only_tools(tmp_path: Path, *tools: str, fake: dict[str, str] | None = None) -> str:
    """A PATH holding just these tools (and fake ones: name -> shell script)."""
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)
    for t in tools:
        (d / t).symlink_to(shutil.which(t))
    for name, body in (fake or {}).items():
        (d / name).write_text("#!/bin/sh\n" + body + "\n")
        (d / name).chmod(0o755)
    return str(d)


# The answers every kind must refuse, whatever its spec: (stdout, rc, stderr, timed_out).
COMMON_BAD = {
    "empty": ("", 0, "", False),
    "killed (rc 137)": ("", 137, "", False),
    "timed out": ("", 124, "", True),
    "shell could not run it (rc 127)": ("", 127, "/bin/sh: 1: something: not found\n", False),
    "garbage": ("Segmentation fault\n\x00\x01 ??? \n", 0, "", False),
}

SPECS = {
    "file": {"path": "/etc/shadow", "owner": "root", "mode_not": "0004"},
    "files": {"paths": ["/a", "/b"], "exists": False},
    "command": {"run": "true", "stdout_regex": r"\A\s*\Z"},
    "free_space": {"path": "/home", "min_mib": 1},
    "url": {"url": "http://x/", "answers": False},
    "not_growing": {"path": "/var/log/x", "seconds": 1},
    "service": {"unit": "legacy.service", "active": False, "enabled": False},
    "groups": {"user": "alex", "lacks": ["sudo"]},
    "sudo": {"user": "alex", "may_not": ["/bin/bash"]},
    "pam_faillock": {"deny_max": 10},
    "protected": {"paths": ["/home/alex/Documents"], "snapshot": {}},
    "image_programs": {"record": {"@@preload": "none", "/usr/bin/df": "12 34 56 78"}},
    "fs_walk": {"report": "setuid", "allow": "/usr/bin/su"},
}


def test_every_kind_is_covered_here():
    assert set(SPECS) == set(C.KINDS)


# A command's exit status is its answer: rc 0 with any output is judged, not refused, so the
# bad answers that exit 0 are not bad for the command kind.
CASES = [(k, c) for k in sorted(SPECS) for c in sorted(COMMON_BAD) if not (k == "command" and COMMON_BAD[c][1] == 0)]


@pytest.mark.parametrize("kind,case", CASES)
def test_a_bad_answer_is_unknown_for_every_kind(kind, case):
    stdout, rc, stderr, timed_out = COMMON_BAD[case]
    r = judge(kind, SPECS[kind], stdout, rc=rc, stderr=stderr, timed_out=timed_out)
    assert r.status == "unknown", (case, r.observed)
    assert r.observed.startswith("no verdict")


# -- command: the exit-code convention --------------------------------------------------------

@pytest.mark.parametrize("rc", [124, 125, 126, 127, 130, 137, -9])
def test_a_command_killed_or_not_run_is_unknown_even_when_its_output_matches(rc):
    spec = {"run": "x", "stdout_regex": r"\A\s*\Z"}  # empty output "matches"
    assert status("command", spec, "", rc=rc) == "unknown"
    assert status("command", {"run": "x", "rc": 1}, "", rc=rc) == "unknown"


def test_a_command_that_expects_a_high_code_is_judged_by_it():
    assert status("command", {"run": "x", "rc": 130}, "", rc=130) == "pass"
    assert status("command", {"run": "x", "rc": 130}, "", rc=0) == "fail"


def test_a_command_says_no_verdict_with_exit_125():
    r = judge("command", {"run": "x"}, "find failed (rc=1) find: '/x': Input/output error\n", rc=125)
    assert r.status == "unknown" and "Input/output error" in r.observed


def test_a_command_still_passes_and_fails_on_honest_answers():
    assert status("command", {"run": "x", "stdout_contains": "ok"}, "all ok\n") == "pass"
    assert status("command", {"run": "x", "stdout_contains": "ok"}, "bad\n", rc=1) == "fail"
    assert status("command", {"run": "x", "rc": 3}, "", rc=3) == "pass"


# -- the baseline's find walks --------------------------------------------------------------

WALKS = {  # check id -> (kind, the tools its script needs besides find, how a found path prints)
    # One walk for both, and for the image's programs (labctl/guest/programs.py): mode, inode,
    # size, times, type and path, compressed.
    "baseline-no-world-writable": ("fs_walk", ("awk", "gzip", "base64"), "echo '4777 1 2 3 4 regular file|/etc/evil'"),
    "baseline-no-new-setuid": ("fs_walk", ("awk", "gzip", "base64"), "echo '4777 1 2 3 4 regular file|/etc/evil'"),
    "baseline-sudoers-private": ("command", ("awk", "grep"), "echo /etc/evil"),
}


@pytest.mark.parametrize("check_id", WALKS)
def test_a_baseline_walk_that_cannot_walk_is_unknown_and_a_vanished_file_is_not(check_id, tmp_path):
    check = next(c for c in C.baseline_checks() if c.id == check_id)
    kind, tools, found = WALKS[check_id]
    assert check.kind == kind
    script = C._plan(check, check.spec).script

    def verdict(find_body: str | None) -> str:
        sub = tmp_path / str(abs(hash(find_body)))
        sub.mkdir()
        path = only_tools(sub, *tools, **({"fake": {"find": find_body}} if find_body else {}))
        p = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, env={"PATH": path})
        res = CommandResult(("sh",), p.returncode, p.stdout, p.stderr, 0.0, "here")
        return C._judge(check, check.spec, res, 180.0, "here", 0.0).status

    assert verdict(None) == "unknown"  # find is not there
    assert verdict("echo \"find: '/etc/x': Input/output error\" >&2; exit 1") == "unknown"
    assert verdict("kill -9 $$") == "unknown"
    # a file that went away during the walk is no reason to give up
    assert verdict("echo \"find: '/var/lib/x/tmp.1': No such file or directory\" >&2; exit 1") == "pass"
    assert verdict("exit 0") == "pass"
    # what a failing walk found is still an observation
    assert verdict(found + "; echo \"find: '/x': Input/output error\" >&2; exit 1") == "fail"


# -- file and files -------------------------------------------------------------------------

def test_file_judges_a_real_file_here(tmp_path):
    f = tmp_path / "f"
    f.write_text("hello\n")
    f.chmod(0o640)
    digest = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    assert judged_here("file", {"path": str(f), "mode": "0640", "sha256": digest}).status == "pass"
    assert judged_here("file", {"path": str(f), "mode": "0600"}).status == "fail"
    assert judged_here("file", {"path": str(tmp_path / "nope"), "exists": False}).status == "pass"


def test_file_when_stat_or_sha256sum_fails_on_an_existing_path_is_unknown(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    no_stat = only_tools(tmp_path, "sha256sum", fake={"stat": "echo 'stat: cannot statx: I/O error' >&2; exit 1"})
    r = judged_here("file", {"path": str(f), "owner": "root"}, path=no_stat)
    assert r.status == "unknown" and "stat failed" in r.observed
    # absent-wanted: a failing stat is no proof of absence either
    assert judged_here("file", {"path": str(f), "exists": False}, path=no_stat).status == "unknown"
    sub = tmp_path / "s"
    sub.mkdir()
    no_sum = only_tools(sub, "stat")
    r = judged_here("file", {"path": str(f), "sha256": "0" * 64}, path=no_sum)
    assert r.status == "unknown" and "sha256sum failed" in r.observed


def test_file_refuses_garbled_fields():
    assert status("file", {"path": "/x", "mode": "0644"}, "exists=1\nowner=root\ngroup=root\ntype=regular file\n"
                  "mode=rw-r--r--\n") == "unknown"
    assert status("file", {"path": "/x"}, "exists=maybe\n") == "unknown"
    assert status("file", {"path": "/x", "owner": "root"}, "exists=1\nmode=644\n") == "unknown"


def test_files_without_an_answer_for_a_path_is_unknown_not_fail():
    out = "@@ /a\nexists=0\n"
    assert status("files", {"paths": ["/a", "/b"], "exists": False}, out) == "unknown"
    assert status("files", {"paths": ["/a", "/b"], "exists": False}, out + "@@ /b\nexists=0\n") == "pass"
    assert status("files", {"paths": ["/a", "/b"], "exists": False}, out + "@@ /b\nexists=error\n") == "unknown"
    assert status("files", {"paths": "", "exists": False}, "") == "unknown"  # a list rendered empty


def test_files_judges_real_files_here(tmp_path):
    (tmp_path / "a").write_text("a")
    (tmp_path / "b").write_text("b")
    me = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    paths = f"{tmp_path}/a {tmp_path}/b"
    assert judged_here("files", {"paths": paths, "owner": me}).status == "pass"
    assert judged_here("files", {"paths": paths + f" {tmp_path}/c", "owner": me}).status == "fail"


# -- free_space ------------------------------------------------------------------------------

def test_free_space_here_and_when_df_fails(tmp_path):
    assert judged_here("free_space", {"path": str(tmp_path), "min_mib": 1}).status == "pass"
    assert judged_here("free_space", {"path": str(tmp_path), "min_mib": 10 ** 9}).status == "fail"
    assert judged_here("free_space", {"path": str(tmp_path / "nope"), "min_mib": 1}).status == "unknown"
    assert status("free_space", {"path": "/", "min_mib": 1}, "df_rc=1\navail=900\n") == "unknown"
    assert status("free_space", {"path": "/", "min_mib": 1}, "df_rc=0\navail=lots\n") == "unknown"


# -- url -------------------------------------------------------------------------------------

def test_url_refuses_curls_own_failures_and_keeps_a_real_no_answer():
    no = {"url": "http://x/", "answers": False}
    yes = {"url": "http://x/"}
    missing = "/bin/sh: 1: curl: not found\n@@rc=127\n"
    assert status("url", no, missing) == "unknown"
    assert status("url", yes, missing) == "unknown"
    assert status("url", no, "curl: (3) URL using bad/illegal format\n@@code=000\n@@rc=3\n") == "unknown"
    assert status("url", no, "curl: (2) Failure when initializing\n@@code=000\n@@rc=2\n") == "unknown"
    refused = "curl: (7) Failed to connect to x port 80: Connection refused\n@@code=000\n@@rc=7\n"
    assert status("url", no, refused) == "pass"
    assert status("url", yes, refused) == "fail"
    assert status("url", yes, "<h1>ok</h1>\n@@code=200\n@@rc=0\n") == "pass"
    assert status("url", no, "<h1>ok</h1>\n@@code=200\n@@rc=0\n") == "fail"
    assert status("url", yes, "<h1>ok</h1>\n@@rc=0\n") == "unknown"  # an answer without its status


# -- not_growing -----------------------------------------------------------------------------

def test_not_growing_here_absent_both_times_is_not_growing(tmp_path):
    r = judged_here("not_growing", {"path": str(tmp_path / "gone"), "seconds": 1})
    assert r.status == "pass" and "absent" in r.observed
    (tmp_path / "d").mkdir()
    r = judged_here("not_growing", {"path": str(tmp_path / "d"), "seconds": 1})
    assert r.status == "pass" and "grew 0 KiB" in r.observed


def test_not_growing_when_du_fails_is_unknown(tmp_path):
    (tmp_path / "d").mkdir()
    broken = only_tools(tmp_path, "cut", "sleep",
                        fake={"du": "echo \"du: cannot read directory '$4': Input/output error\" >&2; exit 1"})
    r = judged_here("not_growing", {"path": str(tmp_path / "d"), "seconds": 1}, path=broken)
    assert r.status == "unknown" and "du failed" in r.observed
    sub = tmp_path / "n"
    sub.mkdir()
    assert judged_here("not_growing", {"path": str(tmp_path / "d"), "seconds": 1},
                       path=only_tools(sub, "cut", "sleep")).status == "unknown"  # no du at all


def test_not_growing_files_vanishing_during_du_are_fine_other_errors_are_not():
    vanished = "du: cannot access '/var/log/x/debug.log.1': No such file or directory\n"
    out = "before_rc=1\nbefore=100\nafter_rc=0\nafter=104\n"
    assert status("not_growing", {"path": "/var/log/x"}, out, stderr=vanished) == "pass"
    assert status("not_growing", {"path": "/var/log/x"}, out, stderr="du: fts_read failed: I/O error\n") == "unknown"
    grew = "before_rc=0\nbefore=100\nafter_rc=0\nafter=9000000\n"
    assert status("not_growing", {"path": "/var/log/x"}, grew) == "fail"
    assert status("not_growing", {"path": "/var/log/x"}, "before=absent\nafter_rc=0\nafter=9000000\n") == "fail"
    assert status("not_growing", {"path": "/var/log/x"}, "before_rc=0\nbefore=100\n") == "unknown"  # cut short


# -- service ---------------------------------------------------------------------------------

def _svc(active: str, active_rc: int, enabled: str, enabled_rc: int, err_active: str = "", err_enabled: str = ""):
    out = f"active_rc={active_rc}\nactive={active}\nenabled_rc={enabled_rc}\nenabled={enabled}\n"
    return out, f"@@is-active\n{err_active}@@is-enabled\n{err_enabled}"


OFF = {"unit": "legacy.service", "active": False, "enabled": False}
ON = {"unit": "app.service", "active": True, "enabled": True}
# What systemd 252 on Debian 12 says without its bus, and for a unit that has no unit file.
BUS = ("System has not been booted with systemd as init system (PID 1). Can't operate.\n"
       "Failed to connect to bus: Host is down\n")
NO_FILE = "Failed to get unit file state for legacy.service: No such file or directory\n"


def test_service_bus_error_or_empty_answer_is_unknown_not_stopped():
    out, err = _svc("", 1, "", 1, BUS, "Failed to connect to bus: No such file or directory\n")
    assert status("service", OFF, out, stderr=err) == "unknown"
    assert status("service", {"unit": "x", "enabled": False}, out, stderr=err) == "unknown"
    out, err = _svc("", 127, "", 127, "/bin/sh: 1: systemctl: not found\n", "/bin/sh: 1: systemctl: not found\n")
    assert status("service", OFF, out, stderr=err) == "unknown"
    out, err = _svc("inactive", 3, "", 137)
    assert status("service", OFF, out, stderr=err) == "unknown"
    out, err = _svc("sleeping", 3, "disabled", 1)
    assert status("service", OFF, out, stderr=err) == "unknown"


def test_service_a_unit_without_unit_file_is_not_enabled():
    out, err = _svc("inactive", 3, "", 1, "", NO_FILE)
    r = judge("service", OFF, out, stderr=err)
    assert r.status == "pass" and "not installed" in r.observed
    assert status("service", {**ON, "active": False}, out, stderr=err) == "fail"
    out, err = _svc("inactive", 3, "not-found", 4)
    assert status("service", OFF, out, stderr=err) == "pass"


def test_service_honest_answers_as_before():
    out, err = _svc("active", 0, "enabled", 0)
    assert status("service", ON, out, stderr=err) == "pass"
    assert status("service", OFF, out, stderr=err) == "fail"
    out, err = _svc("inactive", 3, "disabled", 1)
    assert status("service", OFF, out, stderr=err) == "pass"
    assert status("service", ON, out, stderr=err) == "fail"
    out, err = _svc("failed", 3, "static", 0)
    assert status("service", {"unit": "x", "enabled": True}, out, stderr=err) == "pass"


@pytest.mark.skipif(shutil.which("systemctl") is None or os.path.exists("/run/systemd/system"),
                    reason="needs systemctl on a host not booted with systemd (the bus error is real)")
def test_service_script_here_without_a_bus_is_unknown():
    r = judged_here("service", {"unit": "labctl-no-such.service", "active": False})
    assert r.status == "unknown", r.observed


# -- groups ----------------------------------------------------------------------------------

def test_groups_here_and_for_a_user_that_does_not_exist():
    assert judged_here("groups", {"user": "root", "has": ["root"]}).status == "pass"
    assert judged_here("groups", {"user": "root", "lacks": ["root"]}).status == "fail"
    r = judged_here("groups", {"user": "labctl-no-such-user", "lacks": ["sudo"]})
    assert r.status == "unknown" and "no such user" in r.observed
    assert status("groups", {"user": "alex", "lacks": ["sudo"]}, "id_rc=0\ngroups=\n") == "unknown"


# -- sudo ------------------------------------------------------------------------------------

def test_sudo_missing_or_failing_is_unknown_not_refused():
    spec = {"user": "alex", "may_not": ["/bin/bash", "/usr/bin/su"]}
    assert status("sudo", spec, "maynot0=127\nmaynot1=127\n",
                  stderr="/bin/sh: 1: sudo: not found\n" * 3) == "unknown"
    assert status("sudo", spec, "maynot0=1\nmaynot1=1\n", stderr="sudo: unknown user alex\n" * 2) == "unknown"
    assert status("sudo", spec, "maynot0=1\nmaynot1=1\n",
                  stderr=">>> /etc/sudoers: syntax error near line 30 <<<\nsudo: parse error in /etc/sudoers "
                         "near line 30\nsudo: no valid sudoers sources found, quitting\n") == "unknown"
    assert status("sudo", spec, "maynot0=1\n") == "unknown"  # one answer missing


def test_sudo_honest_answers_as_before():
    spec = {"user": "alex", "may": ["/usr/bin/systemctl restart x"], "may_not": ["/bin/bash"]}
    assert status("sudo", spec, "may0=0\nmaynot0=1\n") == "pass"
    # a harmless warning does not spoil the answer
    assert status("sudo", spec, "may0=0\nmaynot0=1\n",
                  stderr="sudo: unable to resolve host ws-01: Name or service not known\n") == "pass"
    assert status("sudo", spec, "may0=0\nmaynot0=0\n") == "fail"
    assert status("sudo", {"user": "alex", "may_not": ["/bin/bash"]}, "none=1\n") == "pass"


# -- protected -------------------------------------------------------------------------------

def test_protected_listing_here_and_when_find_is_missing(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    snap = C.parse_snapshot(run_here("protected", {"paths": [str(tmp_path)]}).stdout)
    spec = {"paths": [str(tmp_path)], "snapshot": snap}
    assert judged_here("protected", spec).status == "pass"
    (tmp_path / "a.txt").write_text("b")
    assert judged_here("protected", spec).status == "fail"
    sub = tmp_path / "bin-dir"
    sub.mkdir()
    assert judged_here("protected", spec, path=only_tools(sub, "sed", "sha256sum")).status == "unknown"
    listing = f"M\t{tmp_path}/a.txt\troot\troot\t644\nEND\n"  # sha256sum gave nothing
    assert status("protected", spec, listing) == "unknown"


# -- pam_faillock: real Debian 12 files ---------------------------------------------------------
# common-auth and common-account as pam-auth-update (libpam-runtime 1.5.2-6) writes them with
# the recipe's two profiles (faults/account-access/files/prepare.sh), and with them disabled
# (the drop-policy decoy); faillock.conf as prepare.sh edits Debian's.

_HEAD = """#
# /etc/pam.d/common-auth - authentication settings common to all services
#
# This file is included from other service-specific PAM config files,
# and should contain a list of the authentication modules that define
# the central authentication scheme for use on the system
# (e.g., /etc/shadow, LDAP, Kerberos, etc.).  The default is to use the
# traditional Unix authentication mechanisms.
#
# As of pam 1.0.1-6, this file is managed by pam-auth-update by default.
# To take advantage of this, it is recommended that you configure any
# local modules either before or after the default block, and use
# pam-auth-update to manage selection of other modules.  See
# pam-auth-update(8) for details.

# here are the per-package modules (the "Primary" block)
"""
_TAIL = """# here's the fallback if no module succeeds
auth\trequisite\t\t\tpam_deny.so
# prime the stack with a positive return value if there isn't one already;
# this avoids us returning an error just because nothing sets a success code
# since the modules above will each just jump around
auth\trequired\t\t\tpam_permit.so
# and here are more per-package modules (the "Additional" block)
auth\toptional\t\t\tpam_cap.so 
# end of pam-auth-update config
"""
AUTH_HEALTHY = _HEAD + """auth\trequisite\tpam_faillock.so preauth
auth\t[success=2 default=ignore]\tpam_unix.so nullok try_first_pass
auth\t[default=die]\tpam_faillock.so authfail
""" + _TAIL
AUTH_DROPPED = _HEAD + "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n" + _TAIL
ACCOUNT_HEALTHY = """#
# /etc/pam.d/common-account - authorization settings common to all services
#
# As of pam 1.0.1-6, this file is managed by pam-auth-update by default.
#

# here are the per-package modules (the "Primary" block)
account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so 
# here's the fallback if no module succeeds
account\trequisite\t\t\tpam_deny.so
# prime the stack with a positive return value if there isn't one already;
# this avoids us returning an error just because nothing sets a success code
# since the modules above will each just jump around
account\trequired\t\t\tpam_permit.so
# and here are more per-package modules (the "Additional" block)
account\trequired\tpam_faillock.so 
# end of pam-auth-update config
"""
ACCOUNT_DROPPED = ACCOUNT_HEALTHY.replace("account\trequired\tpam_faillock.so \n", "")
CONF_HEALTHY = """# Configuration for locking the user after multiple failed
# authentication attempts.
#
# The directory where the user files with the failure records are kept.
# The default is /var/run/faillock.
# dir = /var/run/faillock
#
# Deny access if the number of consecutive authentication failures
# for this user during the recent interval exceeds n tries.
# The default is 3.
deny = 5
#
# The length of the interval during which the consecutive
# authentication failures must happen for the user account
# lock out is <replaceable>n</replaceable> seconds.
# The default is 900 (15 minutes).
# fail_interval = 900
#
# The default is 600 (10 minutes).
unlock_time = 900
#
# Root account can become locked as well as regular accounts.
# Enabled if option is present.
# even_deny_root
"""
RECIPE = {"deny_max": 10, "account": True}  # what faults/account-access asks


def pam_answer(auth: str | None, account: str | None = ACCOUNT_HEALTHY, conf: str | None = CONF_HEALTHY,
               tmp: Path | None = None) -> str:
    """The kind's own script, run here over these files (``None``: the file is absent)."""
    assert tmp is not None
    script = pam.pam_faillock_script({})
    for path, text in ((pam.AUTH, auth), (pam.ACCOUNT, account), (pam.CONF, conf)):
        local = tmp / path.lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        if text is not None:
            local.write_text(text)
        script = script.replace(f"f={path};", f"f={local};")
    out = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=True).stdout
    for path in (pam.AUTH, pam.ACCOUNT, pam.CONF):  # as the guest would name them
        out = out.replace(str(tmp / path.lstrip("/")), path)
    return out


def test_pam_healthy_machine_and_the_broken_variants_keep_the_lockout(tmp_path):
    # the variants (locked, password-expired, broken-shell, broken-home) leave PAM as prepare set it
    r = judge("pam_faillock", RECIPE, pam_answer(AUTH_HEALTHY, tmp=tmp_path))
    assert r.status == "pass", r.observed
    assert "after 5 failed logins" in r.observed


def test_pam_the_drop_policy_decoy_fails(tmp_path):
    r = judge("pam_faillock", RECIPE, pam_answer(AUTH_DROPPED, ACCOUNT_DROPPED, tmp=tmp_path))
    assert r.status == "fail"
    assert "no pam_faillock.so preauth" in r.observed and "common-account" in r.observed


@pytest.mark.parametrize("control", ["optional", "sufficient", "[default=ignore]", "[success=ok default=ignore]"])
def test_pam_a_preauth_that_does_not_decide_locks_nobody(control, tmp_path):
    auth = AUTH_HEALTHY.replace("auth\trequisite\tpam_faillock.so preauth", f"auth\t{control}\tpam_faillock.so preauth")
    r = judge("pam_faillock", RECIPE, pam_answer(auth, tmp=tmp_path))
    assert r.status == "fail" and "locked account still logs in" in r.observed


@pytest.mark.parametrize("control", ["required", "[success=ok default=die]", "[success=ok default=bad]"])
def test_pam_other_deciding_preauth_controls_lock(control, tmp_path):
    auth = AUTH_HEALTHY.replace("auth\trequisite\tpam_faillock.so preauth", f"auth\t{control}\tpam_faillock.so preauth")
    assert status("pam_faillock", RECIPE, pam_answer(auth, tmp=tmp_path)) == "pass"


def test_pam_authfail_must_come_after_pam_unix_and_be_reached(tmp_path):
    lines = AUTH_HEALTHY.splitlines(keepends=True)
    pre, unix, fail = (next(i for i, ln in enumerate(lines) if w in ln) for w in ("preauth", "pam_unix", "authfail"))
    before = lines.copy()
    before[unix], before[fail] = lines[fail], lines[unix]  # authfail before pam_unix
    r = judge("pam_faillock", RECIPE, pam_answer("".join(before), tmp=tmp_path / "1"))
    assert r.status == "fail" and "good password on an unlocked account is refused" in r.observed
    gone = lines.copy()
    gone[fail] = "#" + lines[fail]
    r = judge("pam_faillock", RECIPE, pam_answer("".join(gone), tmp=tmp_path / "2"))
    assert r.status == "fail" and "no pam_faillock.so authfail" in r.observed
    skipped = lines.copy()  # a failed password jumps over authfail straight to pam_deny
    skipped[unix] = "auth\t[success=2 default=1]\tpam_unix.so nullok try_first_pass\n"
    r = judge("pam_faillock", RECIPE, pam_answer("".join(skipped), tmp=tmp_path / "3"))
    assert r.status == "fail" and "never reaches pam_faillock.so authfail" in r.observed
    assert pre < unix < fail


def test_pam_deny_count(tmp_path):
    def verdict(n: int, conf: str | None = CONF_HEALTHY, auth: str = AUTH_HEALTHY):
        return judge("pam_faillock", RECIPE, pam_answer(auth, conf=conf, tmp=tmp_path / str(n)))

    r = verdict(1, CONF_HEALTHY.replace("deny = 5", "deny = 0"))
    assert r.status == "fail" and "deny = 0" in r.observed
    assert verdict(2, CONF_HEALTHY.replace("deny = 5", "deny = 11")).status == "fail"
    assert verdict(3, auth=AUTH_HEALTHY.replace("pam_faillock.so preauth", "pam_faillock.so preauth deny=0")).status \
        == "fail"
    r = verdict(4, conf=None)  # no faillock.conf: pam_faillock's default, 3
    assert r.status == "pass" and "after 3 failed" in r.observed
    assert verdict(5, CONF_HEALTHY.replace("deny = 5", "deny = five")).status == "unknown"


def test_pam_account_stack_only_when_asked(tmp_path):
    answer = pam_answer(AUTH_HEALTHY, ACCOUNT_DROPPED, tmp=tmp_path)
    assert status("pam_faillock", RECIPE, answer) == "fail"
    assert status("pam_faillock", {"deny_max": 10}, answer) == "pass"


def test_pam_unreadable_or_cut_answers_are_unknown(tmp_path):
    whole = pam_answer(AUTH_HEALTHY, tmp=tmp_path)
    assert status("pam_faillock", RECIPE, whole.replace("@@end\n", "")) == "unknown"
    cat_failed = whole.replace("@@file /etc/security/faillock.conf\n",
                               "@@file /etc/security/faillock.conf\n@@error /etc/security/faillock.conf 1\n")
    assert status("pam_faillock", RECIPE, cat_failed) == "unknown"
    included = AUTH_HEALTHY + "@include common-auth-local\n"
    assert status("pam_faillock", RECIPE, pam_answer(included, tmp=tmp_path / "i")) == "unknown"
    assert status("pam_faillock", RECIPE, pam_answer(None, tmp=tmp_path / "n")) == "fail"  # no common-auth


def test_pam_stack_play_follows_linux_pam_jumps():
    lines = pam.parse_stack(AUTH_HEALTHY, "auth", pam.AUTH)
    assert [ln.module for ln in lines] == ["pam_faillock.so", "pam_unix.so", "pam_faillock.so", "pam_deny.so",
                                           "pam_permit.so", "pam_cap.so"]
    ok, ran = pam.run_stack(lines, pam._answers(locked=False, good_password=True))
    assert ok and ran == {0, 1, 4, 5}  # success=2 jumps over authfail and pam_deny
    ok, ran = pam.run_stack(lines, pam._answers(locked=False, good_password=False))
    assert not ok and ran == {0, 1, 2}  # authfail counts the failure and dies
    ok, ran = pam.run_stack(lines, pam._answers(locked=True, good_password=True))
    assert not ok and ran == {0}  # requisite preauth ends it


def test_the_recipe_asks_the_new_kind():
    f = load_fault(ROOT / "faults" / "account-access")
    c = next(c for c in f.checks if c.id == "lockout-kept")
    assert c.kind == "pam_faillock" and c.spec == RECIPE and c.offline


# -- lint: a command check's describe names only what its run looks at ---------------------------

def _cmd(run: str, describe: str) -> CheckSpec:
    return CheckSpec("c", "security", "t", "command", {"run": run, "describe": describe})


def test_lint_flags_a_describe_that_names_what_the_script_does_not_test():
    # the baseline's own old describe: /tmp was never in the walk
    old = _cmd("find /etc /usr -xdev -perm -0002 ! -perm -1000", "none (folders like /tmp keep their sticky bit)")
    assert describe_mismatches(old) == ["names the path /tmp, which its run script does not have"]
    assert describe_mismatches(_cmd("curl -s https://a.lab/", "https://b.lab/ answers"))
    assert describe_mismatches(_cmd("ss -ltn | grep -q ':80 '", "something listens on port 8080"))
    assert describe_mismatches(_cmd("grep -q x /etc/conf", "remote vpn.corp.lab 1194 in the profile"))
    assert describe_mismatches(_cmd("systemctl is-active -q cron", "timesheet.service runs"))


def test_lint_accepts_templated_and_placeholder_names():
    assert describe_mismatches(_cmd('url="http://127.0.0.1:{{ params.port }}/"; curl -s "$url"',
                                    "http://127.0.0.1:{{params.port}}/ shows the page")) == []
    assert describe_mismatches(_cmd('b="/srv/backup/{{ company_user }}"; stat "$b"', "/srv/backup/<user> 750")) == []
    assert describe_mismatches(_cmd('cd "{{ home }}/Network/Projects/x"', "files in ~/Network/Projects/<p>")) == []
    assert describe_mismatches(_cmd("systemctl is-active -q timesheet", "timesheet.service runs")) == []
    assert describe_mismatches(_cmd("test -r /x", "the user reads and/or writes 1/2 of it")) == []


def test_lint_passes_the_whole_catalogue_and_the_baseline():
    found = {}
    for folder in sorted(p for p in (ROOT / "faults").iterdir() if (p / "fault.yaml").is_file()):
        for c in load_fault(folder).checks:
            if describe_mismatches(c):
                found[f"{folder.name}/{c.id}"] = describe_mismatches(c)
    for c in C.baseline_checks():
        if describe_mismatches(c):
            found[f"baseline/{c.id}"] = describe_mismatches(c)
    assert found == {}


def test_fault_lint_reports_a_describe_with_its_file_and_field(tmp_path):
    import yaml

    from labctl.faults.lint import lint_fault

    folder = tmp_path / "disk-full"
    shutil.copytree(ROOT / "faults" / "disk-full", folder)
    data = yaml.safe_load((folder / "fault.yaml").read_text())
    i = next(i for i, c in enumerate(data["checks"]) if c["id"] == "user-can-save")
    data["checks"][i]["command"]["describe"] = "writing 20 MB to /var/tmp as the user succeeds"
    (folder / "fault.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    assert f"fault.yaml: field 'checks[{i}].command.describe' (user-can-save): names the path /var/tmp, which " \
           "its run script does not have" in lint_fault(folder)
