"""fault test cannot be fooled: fixture recipes made to misbehave are caught, and the lab's
own failures are told apart from a recipe's (tests/data/faults/)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from labctl.faults.manifest import Catalog
from labctl.faults.testing import FaultTester

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "faults"

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def engine(lab_cfg, seat_manager):
    from labctl.faults.engine import FaultEngine

    return FaultEngine(lab_cfg, seat_manager, Catalog(FIXTURES))


def _step(report, name):
    for s in report.steps:
        if s.step == name:
            return s
    raise AssertionError(f"no step {name!r}; the run went: "
                         + "; ".join(f"{s.step}={s.outcome} {s.detail}" for s in report.steps))


def _stop_in_guest(engine, seat, units):
    """Stop services in the guest, as a trainee would, and wait until they are really gone."""
    from labctl.errors import GuestError

    agent = engine.seats.agent(seat)
    others = [u for u in units.split() if u != "qemu-guest-agent"]
    if others:
        res = agent.run(["systemctl", "stop", *others], timeout=120)
        assert res.ok, res.stderr
    if "qemu-guest-agent" in units.split():
        try:
            agent.sh("systemctl --no-block stop qemu-guest-agent", timeout=10)
        except GuestError:
            pass  # the agent may be gone before it answers
        deadline = time.monotonic() + 120
        while agent.ping(timeout=2):
            assert time.monotonic() < deadline, "the guest agent did not stop"
            time.sleep(1)
    if "ssh" in others:
        with pytest.raises(GuestError):
            engine.seats.root_ssh(seat).run(["/bin/true"], timeout=30)


def test_an_honest_recipe_passes(engine, vm_seat):
    """The control: without it, the catches below could be the framework failing everything."""
    rep = FaultTester(engine, vm_seat, reboots=False).run(engine.catalog.get("honest-recipe"), ["one"])
    assert rep.outcome == "pass", [(s.step, s.detail) for s in rep.steps if s.outcome != "pass"]


def test_residue_scan_catches_a_leaky_recipe(engine, vm_seat):
    rep = FaultTester(engine, vm_seat, reboots=False).run(engine.catalog.get("leaky-recipe"), ["one"])
    step = _step(rep, "no residue")
    assert step.outcome == "fail" and "/etc/lab-note.conf" in step.detail
    assert rep.outcome == "fail"


def test_a_fault_that_vanishes_on_reboot_is_caught(engine, vm_seat):
    rep = FaultTester(engine, vm_seat).run(engine.catalog.get("vanishing-fault"), ["one"], repairs=False)
    step = _step(rep, "fault survives a reboot")
    assert step.outcome == "fail" and "marker-absent" in step.detail
    assert rep.outcome == "fail"


def test_a_failed_injection_leaves_the_seat_pristine(engine, vm_seat):
    from labctl.faults.engine import FaultError

    with pytest.raises(FaultError) as e:
        engine.inject(vm_seat, "failing-inject", seed=1)
    assert "the recipe fails halfway" in e.value.message
    assert engine.current(vm_seat) is None
    assert engine.seats.info(vm_seat).record.fault == ""
    res = engine.seats.agent(vm_seat).run(["test", "-e", "/etc/lab-marker"])
    assert res.rc == 1, "the half-made change was rolled back with the reset"
    rep = FaultTester(engine, vm_seat, reboots=False).run(engine.catalog.get("failing-inject"), ["one"])
    assert _step(rep, "inject").outcome == "fail", "a broken recipe is a recipe failure, not a lab error"


def test_checks_reach_a_verdict_with_the_guest_agent_stopped(engine, vm_seat):
    engine.inject(vm_seat, "honest-recipe", seed=1)
    before = engine.check(vm_seat)
    assert before.status == "fail" and before.routes == ("agent",)
    _stop_in_guest(engine, vm_seat, "qemu-guest-agent")
    after = engine.check(vm_seat)
    assert after.routes[0].startswith("ssh")
    assert [(r.id, r.status) for r in after.results] == [(r.id, r.status) for r in before.results]
    assert {r.route for r in after.results} == {"ssh"}
    engine.seats.reset(vm_seat)


def test_with_agent_and_ssh_stopped_the_disk_is_read_and_nothing_unjudged_passes(engine, vm_seat):
    """No road into the running seat: a rescue machine reads a copy of its disk."""
    engine.inject(vm_seat, "honest-recipe", seed=1)
    # A harmful "repair" the disk shows: the password store readable by everyone.
    assert engine.seats.agent(vm_seat).run(["chmod", "o+r", "/etc/shadow"]).ok
    _stop_in_guest(engine, vm_seat, "qemu-guest-agent ssh")
    report = engine.check(vm_seat)
    by_id = {r.id: r for r in report.results}
    assert report.routes[0].startswith("disk"), report.routes
    assert by_id["marker-file-absent"].status == "fail" and by_id["marker-file-absent"].route == "disk"
    assert by_id["baseline-password-store-private"].status == "fail"
    assert by_id["baseline-one-root"].status == "pass", by_id["baseline-one-root"].observed
    assert by_id["baseline-user-not-admin"].status == "pass", by_id["baseline-user-not-admin"].observed
    # What only the running machine can tell (here: a marker under /run) is never judged from the disk.
    assert by_id["marker-absent"].status == "unknown" and "running machine" in by_id["marker-absent"].observed
    assert report.status == "fail"
    # The seat runs on, and the rescue machine left nothing behind.
    assert engine.seats.info(vm_seat).status == "running"
    assert not any(d.name().startswith("labctl-rescue.") for d in engine.seats.backend.list_domains())
    assert not (engine.cfg.state_dir / "rescue" / vm_seat).exists()
    engine.seats.reset(vm_seat)


def test_no_route_at_all_is_unknown_never_pass(engine, vm_seat, monkeypatch):
    """Not even the disk can be read: every check is unknown, and the report says why."""
    import labctl.rescue
    from labctl.errors import HostError

    def no_disk(*_a, **_k):
        raise HostError("no rescue machine in this test")

    monkeypatch.setattr(labctl.rescue, "_copy_top_layer", no_disk)
    engine.inject(vm_seat, "honest-recipe", seed=1)
    _stop_in_guest(engine, vm_seat, "qemu-guest-agent ssh")
    report = engine.check(vm_seat)
    assert report.status == "unknown" and {r.status for r in report.results} == {"unknown"}
    assert "reading its disk failed" in report.routes[0]
    engine.seats.reset(vm_seat)


def test_a_seat_that_is_down_is_an_infrastructure_error(engine, vm_seat):
    engine.seats.stop(vm_seat, force=True)
    try:
        rep = FaultTester(engine, vm_seat, reboots=False).run(engine.catalog.get("honest-recipe"), ["one"])
        assert rep.outcome == "error"
        first_problem = next(s for s in rep.steps if s.outcome != "pass")
        assert first_problem.outcome == "error", "a seat that is down is not the recipe's fault"
    finally:
        # A reset brings a stopped seat back from its pristine state in a second or two
        # (test_seat_vm.py proves it); a boot would take a minute under emulation.
        engine.seats.reset(vm_seat)


def test_a_playbook_that_slipped_past_the_scan_cannot_read_the_lab_hosts_files(engine, vm_seat):
    """The sandbox (labctl/faults/confine.py), the line behind the static scan (issue 19).

    host-reader carries a playbook that is none of its steps, so the scan never read it
    (a weakened scan): it delegates to the lab host to slurp and cat a file planted in the
    lab's state dir, then hands what it got to the seat. Run as the inject step, through
    the engine, it must get nothing, and the file's content must appear in no artefact.
    The control: the honest recipe still injects and fixes, confined the same way.
    """
    import dataclasses
    import json
    import secrets

    from labctl.faults.draw import draw

    engine.inject(vm_seat, "honest-recipe", seed=1)
    assert engine.check(vm_seat).status == "fail"
    assert engine.fix(vm_seat).ok
    assert engine.check(vm_seat).status == "pass"
    engine.seats.reset(vm_seat)

    token = secrets.token_hex(16)
    planted = engine.cfg.state_dir / f"planted-{token[:8]}.secret"
    planted.write_text(token + "\n")
    os.chmod(planted, 0o600)
    fault = engine.catalog.get("host-reader")
    try:
        d = draw(fault, 1, "one")
        # The playbook is told exactly where the file is: what stops it must be the sandbox.
        d = dataclasses.replace(d, params={**d.params, "host_file": str(planted)})
        res = engine.run_step(vm_seat, fault, d, "inject", playbook=fault.folder / "files" / "steal-host-file.yml")
    finally:
        planted.unlink()
    assert res is not None and res.ok, res.summary() if res else "no run"  # the play ran to its end in the seat
    outcome, why = {}, {}
    for path in sorted(res.artifacts.glob("artifacts/*/job_events/*.json")):
        event = json.loads(path.read_text())
        if event.get("event") in ("runner_on_ok", "runner_on_failed"):
            task = event["event_data"]["task"]
            outcome[task] = event["event"]
            r = event["event_data"].get("res") or {}
            why[task] = f"{r.get('msg', '')} {r.get('stderr', '')}"
    assert outcome.get("Steal by slurp") == "runner_on_failed", outcome
    assert outcome.get("Steal by cat") == "runner_on_failed", outcome
    # They failed for want of the file, not for a mistake of the test (an undefined variable).
    for task in ("Steal by slurp", "Steal by cat"):
        assert "undefined" not in why[task].lower(), why[task]
        assert planted.name in why[task] or "No such file" in why[task] or "not found" in why[task], why[task]
    assert outcome.get("Hand the loot to the seat") == "runner_on_ok", outcome
    loot = engine.seats.agent(vm_seat).run(["cat", "/var/tmp/lab-loot"])
    assert loot.ok, "the last task wrote what it got into the seat"
    assert token not in loot.stdout
    leaks = [p for p in res.artifacts.rglob("*") if p.is_file() and token in p.read_text(errors="replace")]
    assert leaks == [], f"the planted file's content reached the run's artefacts: {leaks}"
    engine.seats.reset(vm_seat)
