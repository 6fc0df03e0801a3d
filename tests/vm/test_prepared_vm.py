"""Prepared states on real seats (issue 15, point 2).

A recipe's healthy stage is run once on a machine restored from the image's warm
state and saved; two seats are made from that one saved state. Each has its own
identity (machine id, SSH host key, host name), neither runs the prepare playbook,
each is injected with its own seed (per-seat values differ, pooled ones are shared),
the checks catch the fault on both, the reference fix repairs one and not the other,
and a reset brings a seat back to the prepared machine, not to the bare image. A saved
state that is changed on disk is made again, never restored.
"""

from __future__ import annotations

import pytest

from labctl.faults.draw import draw

pytestmark = pytest.mark.vm

FAULT, VARIANT = "disk-full", "trash"


@pytest.fixture(scope="module")
def engine(lab_cfg, seat_manager):
    from labctl.faults.engine import FaultEngine

    return FaultEngine(lab_cfg, seat_manager)


def _two_seeds_one_pool(fault):
    """Two seeds whose draws share the pooled (prepare) values but differ in a per-seat one."""
    first = draw(fault, 1, VARIANT)
    for s in range(2, 200):
        d = draw(fault, s, VARIANT)
        if d.params["doc_token"] == first.params["doc_token"] and d.params["trash_name"] != first.params["trash_name"]:
            return 1, s
    raise AssertionError("no two such seeds in 200")


def _verdict(report, check_id):
    return next(r.status for r in report.results if r.id == check_id)


def _prepare_runs(cfg, seat):
    return sorted(p.name for p in cfg.runs_dir.glob(f"*-{seat}-{FAULT}-prepare"))


def test_two_seats_from_one_prepared_state(engine, seat_manager, lab_cfg):
    fault = engine.catalog.get(FAULT)
    s1, s2 = _two_seeds_one_pool(fault)
    said: list[str] = []
    base = engine.prepared_base("workstation", FAULT, seed=s1, variant=VARIANT, progress=said.append)
    assert base is not None and base.problem() == ""
    again = engine.prepared_base("workstation", FAULT, seed=s2, variant=VARIANT, progress=said.append)
    assert again.folder == base.folder, "seats of one pooled draw share one prepared state"
    assert sum("making the prepared state" in m for m in said) <= 1

    seats = []
    try:
        for i in (1, 2):
            name = f"pp{i}-{base.key[:4]}"
            seat_manager.create(name, base=base)
            seats.append(name)
        a, b = seats
        facts = {}
        for seat in seats:
            res = seat_manager.agent(seat).sh(
                "cat /etc/machine-id; cat /etc/ssh/ssh_host_ed25519_key.pub; hostname; "
                "ls /home/alex/Documents | head -n 3; systemctl is-active syncagent", timeout=30)
            assert res.ok, res.stderr
            facts[seat] = res.stdout.split("\n")
            assert seat_manager.info(seat).record.base["key"] == base.key
        assert facts[a][0] != facts[b][0], "each seat has its own machine id"
        assert facts[a][1] != facts[b][1], "each seat has its own SSH host key"
        assert facts[a][2] == f"ws-{a}" and facts[b][2] == f"ws-{b}"
        assert facts[a][3:] == facts[b][3:], "the healthy stage (documents, sync agent) is the prepared state's"
        assert facts[a][-2] == "active"

        engine.inject(a, FAULT, seed=s1, variant=VARIANT)
        engine.inject(b, FAULT, seed=s2, variant=VARIANT)
        assert _prepare_runs(lab_cfg, a) == [] and _prepare_runs(lab_cfg, b) == [], \
            "no seat ran the prepare playbook"
        trash = {seat: engine.current_draw(seat)[1].params["trash_name"] for seat in seats}
        assert trash[a] != trash[b], "per-seat values are the seat's own"
        for seat in seats:
            found = seat_manager.agent(seat).sh("ls /home/alex/.local/share/Trash/files/", timeout=30).stdout
            assert trash[seat] in found, (seat, found)
            report = engine.check(seat)
            assert report.status == "fail" and _verdict(report, "space-for-user") == "fail"
            assert _verdict(report, "user-data-intact") == "pass", "protected files recorded on the seat"

        assert engine.fix(a).ok
        assert engine.check(a).status == "pass", engine.check(a).as_dict()
        assert engine.check(b).status == "fail", "repairing one seat leaves the other broken"

        # A reset returns to the prepared, personalised machine: no prepare stage needed again.
        seat_manager.reset(a)
        engine.inject(a, FAULT, seed=s1, variant=VARIANT)
        assert _prepare_runs(lab_cfg, a) == []
        assert _verdict(engine.check(a), "space-for-user") == "fail"

        # Another fault cannot be staged on it: its pristine state holds disk-full's healthy stage.
        from labctl.faults.engine import FaultError

        with pytest.raises(FaultError, match="made from the prepared state of disk-full"):
            engine.inject(b, "deleted-files", seed=1)
    finally:
        for seat in seats:
            seat_manager.destroy(seat)


def test_a_changed_prepared_state_is_made_again_never_restored(engine, lab_cfg):
    from labctl.faults.prepared import PreparedStates

    base = engine.prepared_base("workstation", FAULT, seed=1, variant=VARIANT)
    size = base.save.stat().st_size
    with open(base.save, "r+b") as fh:  # one byte in the middle of the saved memory
        fh.seek(size // 2)
        byte = fh.read(1)
        fh.seek(size // 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    PreparedStates._verified.clear()  # as a new labctl process would
    said: list[str] = []
    again = engine.prepared_base("workstation", FAULT, seed=1, variant=VARIANT, progress=said.append)
    assert any("does not match its checksum" in m for m in said), said
    assert any("making the prepared state" in m for m in said), said
    assert again.folder == base.folder and again.problem() == ""


def test_fault_test_starts_each_variant_from_its_prepared_state(engine, lab_cfg, vm_seat):
    from labctl.faults.testing import FaultTester

    fault = engine.catalog.get(FAULT)
    tester = FaultTester(engine, vm_seat, seed=1, reboots="none", repeats="none", prepared=True)
    runs_before = _prepare_runs(lab_cfg, vm_seat)
    report = tester.run(fault, [VARIANT], repairs=False)
    steps = [s.step for s in report.steps]
    assert report.outcome == "pass", [(s.step, s.outcome, s.detail) for s in report.steps if s.outcome != "pass"]
    assert steps[:2] == ["make or find the prepared state", "start over from the prepared state"], steps
    assert _prepare_runs(lab_cfg, vm_seat) == runs_before, "the prepare playbook did not run on the seat"
    rec = engine.seats.info(vm_seat).record
    assert rec.base["fault"] == FAULT and rec.base["variant"] == VARIANT

    # Back to the image's warm state: the prepared stage's documents are gone with it.
    token = draw(fault, 1, VARIANT).params["doc_token"]
    grep = f"grep -rl {token} /home/alex/Documents 2>/dev/null | head -n1"
    assert engine.seats.agent(vm_seat).sh(grep, timeout=30).stdout.strip(), "the prepared seat has the documents"
    engine.seats.rebase(vm_seat, None)
    assert engine.seats.info(vm_seat).record.base == {}
    assert engine.seats.agent(vm_seat).sh(grep, timeout=30).stdout.strip() == ""
