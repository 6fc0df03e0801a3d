"""The catalogue proves itself on a real seat: `fault test` for every recipe and variant.

Healthy checks pass, inject, checks fail, inject again, no residue, the fault
survives a reboot, the reference fix, fix again, healthy after a reboot, every
legitimate repair passes and every decoy fails. Reports are kept in
<state_dir>/fault-test/ (JUnit and JSON) for CI to show.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from labctl.faults.manifest import Catalog
from labctl.faults.testing import FaultTester, junit_xml

ROOT = Path(__file__).resolve().parents[2]
IDS = Catalog(ROOT / "faults").ids()
# Reboot proofs cost two boots per variant under emulation (30-60 s each): CI proves them on
# each recipe's first variant to stay inside its time limit; `labctl fault test` does all.
REBOOTS = os.environ.get("LABCTL_TEST_REBOOTS", "first")

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def engine(lab_cfg, seat_manager):
    from labctl.faults.engine import FaultEngine

    return FaultEngine(lab_cfg, seat_manager, Catalog(ROOT / "faults"))


@pytest.mark.parametrize("fault_id", IDS)
def test_recipe_passes_fault_test_on_a_real_seat(engine, vm_seat, lab_cfg, fault_id):
    fault = engine.catalog.get(fault_id)
    report = FaultTester(engine, vm_seat, seed=1, progress=print, reboots=REBOOTS).run(fault)
    out = lab_cfg.state_dir / "fault-test"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{fault_id}.json").write_text(json.dumps(report.as_dict(), indent=2))
    (out / f"{fault_id}.xml").write_text(junit_xml([report]))
    problems = [f"{s.variant} / {s.step}: {s.outcome}: {s.detail}" for s in report.steps if s.outcome != "pass"]
    assert report.outcome == "pass", "\n".join(problems)
    variants_tested = {s.variant for s in report.steps} - {"-"}
    assert variants_tested == {v.id for v in fault.variants}
    for i, v in enumerate(fault.variants):
        steps = {s.step for s in report.steps if s.variant == v.id}
        assert {"checks fail after inject", "checks pass after fix", "no residue",
                "second inject leaves the same fault", "checks pass after a second fix"} <= steps
        if REBOOTS == "all" or (REBOOTS == "first" and i == 0):
            assert "still healthy after a reboot" in steps
    declared = {(r.id, v.id) for r in fault.repairs for v in fault.variants if r.applies_to(v.id)}
    applied = {(s.step.split(" ")[-2].rstrip(":"), s.variant) for s in report.steps if s.step.endswith(": apply")}
    assert declared == applied, "every declared repair and decoy was tried on every variant it applies to"
