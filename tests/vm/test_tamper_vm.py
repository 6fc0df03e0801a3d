"""Checks a trainee cannot fake (issue 15, point 4).

The trainee has root. On a real seat with a full disk, the test replaces the guest programs
every check kind would ask (df, du, stat, id, head, cat, sha256sum, systemctl, sudo, curl)
with liars that report a healthy machine, and shadows df from /usr/local/bin. It first
shows the liars work: with the guest's own programs (labctl's way before this issue) the
full disk passes. Then, with the checks' own busybox, every check kind either keeps its
verdict or runs a guest program that the security baseline's baseline-image-programs rule
reports as replaced: the seat fails either way.
"""

from __future__ import annotations

import dataclasses

import pytest

from labctl.faults.checks import run_checks
from labctl.faults.manifest import CheckSpec

pytestmark = pytest.mark.vm

# A healthy answer from each liar (the shapes the check kinds read).
LIARS = {
    "/usr/bin/df": "printf 'Filesystem 1M-blocks Used Available Capacity Mounted on\\n"
                   "/dev/vda 4000 100 3900 3%% /\\n'",
    "/usr/bin/du": 'for a; do last=$a; done; printf "0\\t%s\\n" "$last"',
    "/usr/bin/stat": "printf 'owner=root\\ngroup=root\\nmode=640\\ntype=regular file\\n'",
    "/usr/bin/id": "echo alex users",
    "/usr/bin/head": "exit 0",
    "/usr/bin/cat": "exit 0",
    "/usr/bin/sha256sum": "exit 0",
    "/usr/bin/systemctl": 'case "$1" in is-active) echo active;; is-enabled) echo enabled;; esac',
    "/usr/bin/sudo": "echo 'User alex is not allowed to run sudo on this host.'",
    "/usr/bin/curl": "printf 'ok\\n@@code=200'",
}
# Kinds whose script busybox runs: the liars cannot touch their verdict.
OWN_TOOLS = ("user-data-intact", "space-for-user", "cause-stopped", "baseline-user-not-admin",
             "baseline-password-store-private", "extra-files", "extra-pam")
# Kinds that must ask a guest program busybox does not have.
GUEST_TOOLS = ("sync-agent-runs", "baseline-no-root-shell-for-user", "extra-url", "user-can-save")


@pytest.fixture(scope="module")
def engine(lab_cfg, seat_manager):
    from labctl.faults.engine import FaultEngine

    return FaultEngine(lab_cfg, seat_manager)


def _all_kinds(engine, seat):
    """disk-full's checks and the baseline, plus one check of each kind disk-full lacks."""
    fault, d = engine.current_draw(seat)
    extra = (
        CheckSpec("extra-url", "functional", "nothing answers on port 9", "url",
                  {"url": "http://127.0.0.1:9/", "answers": False}),
        CheckSpec("extra-files", "security", "password files", "files",
                  {"paths": ["/etc/shadow", "/etc/gshadow"], "owner": "root"}),
        CheckSpec("extra-pam", "security", "lockout", "pam_faillock", {}),
    )
    return dataclasses.replace(fault, checks=(*fault.checks, *extra)), d


def _run(engine, seat):
    fault, d = _all_kinds(engine, seat)
    report = run_checks(engine.seats.agent(seat), fault, d, engine.snapshot(seat), seat_ctx=engine._seat_ctx(seat),
                        programs=engine.seats.programs_record(seat))
    return report, {r.id: r for r in report.results}


def test_replaced_programs_fool_no_check_kind(engine, vm_seat, monkeypatch):
    from labctl.guest.agent import AgentChannel

    engine.inject(vm_seat, "disk-full", seed=1, variant="runaway-log")
    fault, _ = _all_kinds(engine, vm_seat)
    kinds = {c.kind for c in fault.checks}
    assert {"free_space", "not_growing", "command", "service", "url", "files", "pam_faillock"} <= kinds

    before, b = _run(engine, vm_seat)
    assert before.status == "fail" and b["space-for-user"].status == "fail"
    assert b["baseline-image-programs"].status == "pass", b["baseline-image-programs"].observed
    assert all(b[i].status != "unknown" for i in (*OWN_TOOLS, *GUEST_TOOLS)), \
        [(i, b[i].observed) for i in (*OWN_TOOLS, *GUEST_TOOLS) if b[i].status == "unknown"]

    # The trainee replaces the programs (keeping each one's name and mode) and shadows df.
    script = "set -e; mkdir -p /usr/local/bin\n"
    for path, body in LIARS.items():
        script += f"printf '%s\\n' '#!/bin/sh' {_q(body)} > {path}.liar; chmod 755 {path}.liar; mv -f {path}.liar {path}\n"
    script += "cp /usr/bin/df /usr/local/bin/df\n"
    res = engine.seats.agent(vm_seat).sh(script, timeout=60)
    assert res.ok, res.stderr

    # Not hollow: with the guest's own programs (labctl's way before), the liars win.
    with monkeypatch.context() as m:
        m.setattr(AgentChannel, "stage_tools", lambda self, load: None)
        fooled, f = _run(engine, vm_seat)
    assert f["space-for-user"].status == "pass", f["space-for-user"].observed
    assert f["cause-stopped"].status == "pass", f["cause-stopped"].observed

    after, a = _run(engine, vm_seat)
    assert after.routes == ("agent",)
    for i in OWN_TOOLS:
        assert a[i].status == b[i].status, (i, b[i].observed, a[i].observed)
    assert a["space-for-user"].status == "fail" and a["cause-stopped"].status == "fail"
    rule = a["baseline-image-programs"]
    assert rule.status == "fail", rule.observed
    assert f"{len(LIARS)} replaced or rewritten" in rule.observed, rule.observed
    assert after.status == "fail"
    engine.seats.reset(vm_seat)


def _q(s: str) -> str:
    import shlex

    return shlex.quote(s)


def test_the_checks_tools_stay_between_runs_and_a_changed_or_foreign_copy_is_replaced(engine, vm_seat):
    """The kept busybox (labctl/guest/agent.py): read back at every run, written only when it must be."""
    from labctl.guest.toolbox import KEPT_DIR, KEPT_TOOLS, host_busybox

    chan = engine.seats.agent(vm_seat)
    writes = []
    command = chan.command

    def counting(execute, arguments=None, timeout=10):
        if execute == "guest-file-write":
            writes.append(1)
        return command(execute, arguments, timeout)

    chan.command = counting
    who = f"stat -c '%U %a %F' {KEPT_DIR} {KEPT_TOOLS}"
    try:
        assert chan.stage_tools(host_busybox) == KEPT_TOOLS
        first = len(writes)
        assert chan.stage_tools(host_busybox) == KEPT_TOOLS and len(writes) == first, \
            "the second run reads the copy back and writes nothing"
        assert chan.sh(who).stdout.split("\n")[:2] == ["root 755 directory", "root 755 regular file"]

        # Root in the guest changes one byte of the kept copy: the next run writes it again.
        assert chan.sh(f"printf X | dd of={KEPT_TOOLS} bs=1 seek=4096 conv=notrunc 2>/dev/null").ok
        assert chan.stage_tools(host_busybox) == KEPT_TOOLS and len(writes) > first
        assert chan._read_all(KEPT_TOOLS) == host_busybox()

        # A user makes the folder first and puts a byte-identical copy in it (which they could swap
        # between the read-back and the run): it is not used, the folder is made again, root's.
        n = len(writes)
        assert chan.sh(f"cp {KEPT_TOOLS} /tmp/bb && chmod 644 /tmp/bb && rm -rf {KEPT_DIR}").ok
        user = chan.run(["/bin/sh", "-c", f"mkdir -m 755 {KEPT_DIR} && cp /tmp/bb {KEPT_TOOLS} && "
                                          f"chmod 755 {KEPT_TOOLS}"], user="alex")
        assert user.ok, user.stderr
        assert chan.sh(who).stdout.startswith("alex 755 directory")
        assert chan.stage_tools(host_busybox) == KEPT_TOOLS and len(writes) > n
        assert chan.sh(who).stdout.split("\n")[:2] == ["root 755 directory", "root 755 regular file"]
        ran = chan.run_staged([KEPT_TOOLS, "sh", "-c", "echo ran"], timeout=60)
        assert ran.ok and ran.stdout == "ran\n", ran
    finally:
        chan.command = command
        engine.seats.reset(vm_seat)
