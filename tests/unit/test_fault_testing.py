"""What `fault test` proves about an inject and a decoy, without a VM, and the declarations it proves.

A scripted engine answers each check run from a table per machine state (healthy,
broken, after each decoy), so the proofs are judged on exactly the verdicts given.
"""

from __future__ import annotations

import contextlib
import types
from pathlib import Path

import pytest
import yaml

from labctl.errors import ConfigError
from labctl.faults.checks import FAIL, PASS, UNKNOWN, CheckReport, CheckResult
from labctl.faults.manifest import CheckSpec, Fault, RepairSpec, TicketSpec, VariantSpec, load_fault
from labctl.faults.testing import FaultTester

GROUPS = {"symptom": "functional", "app-answers": "functional", "settings-kept": "integrity",
          "baseline-no-world-writable": "security", "baseline-user-not-admin": "security"}
HEALTHY = {c: PASS for c in GROUPS}


def broken(**statuses) -> dict[str, str]:
    """The healthy verdicts with some changed (``app_answers=FAIL`` for check ``app-answers``)."""
    return {**HEALTHY, **{k.replace("_", "-"): v for k, v in statuses.items()}}


class ScriptedEngine:
    """Just enough of FaultEngine: each machine state answers its scripted check run."""

    def __init__(self, after_inject: dict[str, str], after_repair: dict[str, dict[str, str]] | None = None,
                 observed: dict[str, dict[str, str]] | None = None):
        self.answers = {"healthy": HEALTHY, "broken": after_inject, **(after_repair or {})}
        # What a check reports it saw, per machine state (default "seen").
        self.observed = observed or {}
        self.state = "healthy"
        self.check_runs = 0
        self.lock = lambda seat: contextlib.nullcontext()
        self.seats = types.SimpleNamespace(reboot=lambda seat: 1.0, reset=lambda seat: None,
                                           info=lambda seat: types.SimpleNamespace(
                                               record=types.SimpleNamespace(image="workstation", base={})))

    def stage(self, *a, **k):
        self.state = "healthy"

    def break_staged(self, seat):
        self.state = "broken"

    def checkpoint_broken(self, seat):
        return 1.0

    def restage(self, seat, checkpoint="staged"):
        self.state = checkpoint
        return 1.0

    def fix(self, seat):
        self.state = "healthy"
        return types.SimpleNamespace(ok=True, summary=lambda: "")

    def repair(self, seat, repair_id):
        self.state = repair_id
        return types.SimpleNamespace(ok=True, summary=lambda: "")

    def check(self, seat):
        self.check_runs += 1
        seen = self.observed.get(self.state, {})
        return CheckReport("f", "v", tuple(CheckResult(c, GROUPS[c], c, s, seen.get(c, "seen"), "wanted")
                                           for c, s in self.answers[self.state].items()))


def decoy(rid: str, caught_by=(), no_progress: str = "") -> RepairSpec:
    return RepairSpec(rid, rid, Path("/x.yml"), "fail", caught_by=tuple(caught_by), no_progress=no_progress)


def fault(repairs=(), breaks=()) -> Fault:
    checks = tuple(CheckSpec(c, g, c, "command", {}) for c, g in GROUPS.items() if not c.startswith("baseline"))
    return Fault(id="f", title="t", summary="s", folder=Path("/nowhere"), families=("T2-USER",),
                 competencies=("CP4",), os="linux", image="workstation", difficulty=1, level=1, time_budget_min=5,
                 hints=(), ticket=TicketSpec("low", "low", {"en": "x", "fr": "y"}), parameters=(),
                 variants=(VariantSpec("v", "the variant", breaks=tuple(breaks)),), checks=checks,
                 repairs=tuple(repairs))


def run(engine: ScriptedEngine, f: Fault):
    return FaultTester(engine, "s", reboots="none", repeats="none", residue=False).run(f)


def step(report, name: str):
    found = [s for s in report.steps if s.step == name]
    assert found, f"no step {name!r}: " + "; ".join(f"{s.step}={s.outcome}" for s in report.steps)
    return found[0]


# -- after a decoy ----------------------------------------------------------------------------

def test_a_decoy_that_changed_nothing_fails():
    inject = broken(symptom=FAIL)
    eng = ScriptedEngine(inject, {"decoy-x": inject})
    rep = run(eng, fault([decoy("decoy-x", ["symptom"])]))
    s = step(rep, "decoy decoy-x: checks fail")
    assert s.outcome == "fail" and rep.outcome == "fail"
    assert "decoy-x made no progress" in s.detail and "symptom" in s.detail


def test_a_decoy_whose_named_check_passes_fails():
    # It repairs the symptom and breaks nothing the checks see: it is not caught at all.
    eng = ScriptedEngine(broken(symptom=FAIL), {"decoy-x": HEALTHY})
    rep = run(eng, fault([decoy("decoy-x", ["baseline-no-world-writable"])]))
    s = step(rep, "decoy decoy-x: checks fail")
    assert s.outcome == "fail"
    assert s.detail == ("decoy decoy-x should be caught by baseline-no-world-writable but "
                        "baseline-no-world-writable passed")


def test_a_decoy_caught_only_where_some_named_check_passes_fails():
    eng = ScriptedEngine(broken(symptom=FAIL), {"decoy-x": broken(baseline_no_world_writable=FAIL)})
    rep = run(eng, fault([decoy("decoy-x", ["baseline-no-world-writable", "settings-kept"])]))
    s = step(rep, "decoy decoy-x: checks fail")
    assert s.outcome == "fail" and s.detail.endswith("but settings-kept passed")


@pytest.mark.parametrize("progress", [True, False])
def test_a_catcher_failing_on_the_broken_machine_counts_only_with_progress(progress):
    # The fault breaks two functional checks; the decoy leaves app-answers failing (the fault's
    # failure) and, when it makes progress, repairs the symptom.
    inject = broken(symptom=FAIL, app_answers=FAIL)
    after = broken(symptom=PASS if progress else FAIL, app_answers=FAIL, baseline_no_world_writable=FAIL)
    eng = ScriptedEngine(inject, {"decoy-x": after})
    rep = run(eng, fault([decoy("decoy-x", ["app-answers", "baseline-no-world-writable"])]))
    s = step(rep, "decoy decoy-x: checks fail")
    if progress:
        assert s.outcome == "pass" and rep.outcome == "pass", s.detail
        assert s.detail == ("caught by app-answers (left failing: the fault's), baseline-no-world-writable "
                            "(broken by the decoy); progress: symptom now passes")
    else:
        assert s.outcome == "fail" and "made no progress" in s.detail


def test_a_decoy_saying_no_progress_passes_without_progress():
    inject = broken(symptom=FAIL)
    after = broken(symptom=FAIL, baseline_user_not_admin=FAIL)
    why = "it only makes the user an administrator; the symptom stays"
    rep = run(ScriptedEngine(inject, {"decoy-x": after}),
              fault([decoy("decoy-x", ["baseline-user-not-admin"], no_progress=why)]))
    s = step(rep, "decoy decoy-x: checks fail")
    assert s.outcome == "pass", s.detail
    assert s.detail == f"caught by baseline-user-not-admin (broken by the decoy); no progress (declared: {why})"
    # The same decoy without the declaration: no progress is a failure.
    rep = run(ScriptedEngine(inject, {"decoy-x": after}), fault([decoy("decoy-x", ["baseline-user-not-admin"])]))
    assert step(rep, "decoy decoy-x: checks fail").outcome == "fail"


@pytest.mark.parametrize("changed", [True, False])
def test_a_no_progress_decoy_caught_only_by_the_fault_must_change_what_a_check_sees(changed):
    # The fault's own check still fails after the decoy: only a different observation shows
    # that the decoy did anything; a playbook that did nothing must not pass as this decoy.
    inject = broken(symptom=FAIL)
    observed = {"broken": {"symptom": "the account is locked"},
                "decoy-x": {"symptom": "the password is not the user's" if changed else "the account is locked"}}
    eng = ScriptedEngine(inject, {"decoy-x": inject}, observed)
    rep = run(eng, fault([decoy("decoy-x", ["symptom"], no_progress="the user still cannot log in")]))
    s = step(rep, "decoy decoy-x: checks fail")
    if changed:
        assert s.outcome == "pass", s.detail
        assert s.detail.endswith("changed what symptom see")
    else:
        assert s.outcome == "fail"
        assert "changed nothing a check sees" in s.detail


def test_a_decoy_naming_no_catcher_fails():
    eng = ScriptedEngine(broken(symptom=FAIL), {"decoy-x": broken(baseline_user_not_admin=FAIL)})
    s = step(run(eng, fault([decoy("decoy-x")])), "decoy decoy-x: checks fail")
    assert s.outcome == "fail" and "names no check" in s.detail


def test_a_check_without_verdict_after_a_decoy_is_an_error_not_a_verdict():
    eng = ScriptedEngine(broken(symptom=FAIL), {"decoy-x": broken(symptom=PASS, settings_kept=UNKNOWN,
                                                                  baseline_user_not_admin=FAIL)})
    rep = run(eng, fault([decoy("decoy-x", ["baseline-user-not-admin"])]))
    s = step(rep, "decoy decoy-x: checks fail")
    assert s.outcome == "error" and rep.outcome == "error" and "settings-kept" in s.detail


def test_the_proofs_add_no_check_run():
    """healthy, after inject, after fix, and one run per decoy: nothing more."""
    inject = broken(symptom=FAIL)
    after = broken(baseline_no_world_writable=FAIL)
    eng = ScriptedEngine(inject, {"decoy-a": after, "decoy-b": after})
    rep = run(eng, fault([decoy("decoy-a", ["baseline-no-world-writable"]),
                          decoy("decoy-b", ["baseline-no-world-writable"])]))
    assert rep.outcome == "pass", [(s.step, s.detail) for s in rep.steps]
    assert eng.check_runs == 3 + 2
    assert sum(s.checks is not None for s in rep.steps) == eng.check_runs


# -- after inject ---------------------------------------------------------------------------

def test_an_inject_that_breaks_a_baseline_check_fails():
    rep = run(ScriptedEngine(broken(symptom=FAIL, baseline_user_not_admin=FAIL)), fault())
    s = step(rep, "checks fail after inject")
    assert s.outcome == "fail" and rep.outcome == "fail"
    assert s.detail == "the inject broke the security baseline: baseline-user-not-admin (seen)"
    assert rep.steps[-1] is s, "the variant stops there"


def test_an_inject_that_leaves_a_declared_check_passing_fails():
    rep = run(ScriptedEngine(broken(symptom=FAIL)), fault(breaks=["symptom", "app-answers"]))
    s = step(rep, "checks fail after inject")
    assert s.outcome == "fail"
    assert s.detail == "variant v should break symptom, app-answers but app-answers passed"


def test_an_inject_that_breaks_every_declared_check_passes_and_says_so():
    rep = run(ScriptedEngine(broken(symptom=FAIL, settings_kept=FAIL)), fault(breaks=["symptom", "settings-kept"]))
    s = step(rep, "checks fail after inject")
    assert s.outcome == "pass"
    assert s.detail == "breaks symptom, settings-kept as declared; failing: symptom, settings-kept"


@pytest.mark.parametrize("after,outcome", [
    (broken(settings_kept=FAIL), "fail"),          # only an integrity check: the symptom is not seen
    (broken(app_answers=FAIL), "pass"),
    (HEALTHY, "fail"),                             # nothing fails at all
])
def test_without_breaks_one_functional_check_must_fail(after, outcome):
    s = step(run(ScriptedEngine(after), fault()), "checks fail after inject")
    assert s.outcome == outcome, s.detail
    if outcome == "pass":
        assert s.detail == "functional check(s) fail: app-answers; failing: app-answers"
    elif after is HEALTHY:
        assert "every check passed" in s.detail
    else:
        assert "no functional check failed (only settings-kept)" in s.detail


def test_a_check_without_verdict_after_inject_is_an_error():
    rep = run(ScriptedEngine(broken(symptom=FAIL, settings_kept=UNKNOWN)), fault())
    assert step(rep, "checks fail after inject").outcome == "error" and rep.outcome == "error"


# -- the declarations, checked when the recipe loads -------------------------------------------

@pytest.fixture
def recipe(tmp_path):
    """A fresh recipe from the skeleton: first, second, third; symptom-gone; protect; two repairs."""
    from labctl.faults.scaffold import scaffold

    return scaffold(tmp_path, "printer-offline", ["T1-HW"])


def _edit(folder: Path, fn) -> None:
    path = folder / "fault.yaml"
    data = yaml.safe_load(path.read_text())
    fn(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _refused(folder: Path) -> str:
    with pytest.raises(ConfigError) as e:
        load_fault(folder)
    assert str(folder / "fault.yaml") in e.value.message
    return e.value.message


def test_the_skeleton_declares_and_the_fault_carries_breaks_and_caught_by(recipe):
    f = load_fault(recipe)
    assert f.variants[0].breaks == ("symptom-gone",) and f.variants[1].breaks == ()
    harmful = next(r for r in f.repairs if r.id == "harmful")
    assert harmful.caught_by == ("baseline-no-world-writable", "user-data-intact") and harmful.no_progress == ""
    d = f.as_dict()
    assert d["variants"][0]["breaks"] == ["symptom-gone"]
    assert next(r for r in d["repairs"] if r["id"] == "harmful")["caught_by"] == list(harmful.caught_by)


def test_a_decoy_must_name_what_catches_it(recipe):
    _edit(recipe, lambda d: d["repairs"][1].pop("caught_by"))
    assert "field 'repairs[1].caught_by': required for a decoy" in _refused(recipe)


@pytest.mark.parametrize("key,value", [("caught_by", ["symptom-gone"]), ("no_progress", "it does nothing")])
def test_a_legitimate_repair_names_no_catcher(recipe, key, value):
    _edit(recipe, lambda d: d["repairs"][0].update({key: value}))
    assert f"field 'repairs[0].{key}': only for decoys" in _refused(recipe)


def test_an_unknown_check_is_refused_where_it_is_named(recipe):
    _edit(recipe, lambda d: d["repairs"][1].update(caught_by=["symptom-gone", "foo"]))
    assert "field 'repairs[1].caught_by': unknown check 'foo'" in _refused(recipe)
    _edit(recipe, lambda d: d["variants"][2].update(breaks=["nope"]))
    _edit(recipe, lambda d: d["repairs"][1].update(caught_by=["symptom-gone"]))
    assert "field 'variants[2].breaks': unknown check 'nope'" in _refused(recipe)


def test_user_data_intact_is_a_check_only_with_protect(recipe):
    _edit(recipe, lambda d: d.pop("protect"))
    assert "field 'repairs[1].caught_by': 'user-data-intact' exists only with protect" in _refused(recipe)


def test_baseline_checks_may_catch_a_decoy_but_no_inject_may_break_them(recipe):
    _edit(recipe, lambda d: d["repairs"][1].update(caught_by=["baseline-user-not-admin", "baseline-one-root"]))
    assert load_fault(recipe).repairs[1].caught_by == ("baseline-user-not-admin", "baseline-one-root")
    _edit(recipe, lambda d: d["variants"][0].update(breaks=["baseline-one-root"]))
    assert "field 'variants[0].breaks': 'baseline-one-root' is a baseline check" in _refused(recipe)


def test_a_named_check_must_run_on_the_variants_concerned(recipe):
    def second_only(d):
        d["checks"].append({"id": "second-only", "group": "functional", "title": "Only on the second",
                            "variants": ["second"], "command": {"run": "true"}})
        d["repairs"][1]["caught_by"] = ["second-only"]

    _edit(recipe, second_only)
    # The decoy applies to every variant; the check runs on the second only.
    assert "field 'repairs[1].caught_by': check 'second-only' does not run on variant(s) first, third" \
        in _refused(recipe)
    _edit(recipe, lambda d: d["repairs"][1].update(variants=["second"]))
    assert load_fault(recipe).repairs[1].caught_by == ("second-only",)
    _edit(recipe, lambda d: d["variants"][0].update(breaks=["second-only"]))
    assert "field 'variants[0].breaks': check 'second-only' does not run on variant(s) first" in _refused(recipe)
