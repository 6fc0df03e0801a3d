"""``fault test``: prove a recipe on a real seat, variant by variant.

For each variant: healthy checks pass, inject, checks fail, reference fix,
checks pass; then every declared repair on a freshly broken machine, where a
legitimate repair must pass and a decoy must fail.

"Fail" is proven from the check runs the cycle makes anyway, no extra one:

- after inject, every check the variant ``breaks`` fails (without ``breaks``, at
  least one of the recipe's own functional checks) and no baseline check does;
  the failing set (F_broken) is kept;
- after a decoy, every check it is ``caught_by`` fails, and at least one check of
  F_broken passes (the decoy looks like a repair) unless it says ``no_progress``.
  A catcher that already failed in F_broken is the fault's failure left in place:
  it only proves the decoy wrong because the decoy made progress elsewhere.

Each step ends in one of three outcomes, kept apart in output, JSON, JUnit and exit code:

- ``pass``: the recipe behaved;
- ``fail``: the recipe is wrong (a check that cannot fail, a fix that does not fix,
  a playbook task that fails);
- ``error``: the lab could not run it (seat did not answer, agent lost, a check
  that reached no verdict, a timeout).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Callable

from ..errors import LabError
from .checks import FAIL, PASS, UNKNOWN, CheckReport, CheckResult, baseline_checks
from .engine import FaultEngine, FaultError
from .manifest import Fault, RepairSpec, VariantSpec

OUTCOMES = ("pass", "fail", "error")
REBOOTS = ("all", "first", "first-broken", "none")
REPEATS = ("all", "first", "none")
REPAIRS = ("all", "spread")
Progress = Callable[[str], None]


@dataclass
class StepResult:
    variant: str
    step: str
    outcome: str  # pass | fail | error
    detail: str
    duration: float
    checks: dict | None = None

    def as_dict(self) -> dict:
        d = {"variant": self.variant, "step": self.step, "outcome": self.outcome, "detail": self.detail,
             "duration": round(self.duration, 2)}
        if self.checks is not None:
            d["checks"] = self.checks
        return d


@dataclass
class FaultTestReport:
    fault: str
    seat: str
    seed: int
    steps: list[StepResult] = field(default_factory=list)
    duration: float = 0.0

    @property
    def outcome(self) -> str:
        outcomes = {s.outcome for s in self.steps}
        if "error" in outcomes:
            return "error"
        if "fail" in outcomes:
            return "fail"
        return "pass" if self.steps else "error"

    def as_dict(self) -> dict:
        return {"fault": self.fault, "seat": self.seat, "seed": self.seed, "outcome": self.outcome,
                "duration": round(self.duration, 2), "steps": [s.as_dict() for s in self.steps]}


class _Stop(Exception):
    """The variant cannot go on (its outcome is already recorded)."""


class FaultTester:
    def __init__(self, engine: FaultEngine, seat: str, *, seed: int = 1, progress: Progress | None = None,
                 reboots: bool | str = True, repeats: str = "all", repairs: str = "all", residue: bool = True,
                 prepared: bool = False):
        self.engine = engine
        # Each variant starts from its prepared state (labctl/faults/prepared.py), as a session's
        # seats do, instead of running prepare on the seat.
        self.prepared = prepared
        self.residue = residue
        # all: every variant proves reboot persistence (broken and repaired); first: only each
        # recipe's first variant; first-broken: only the first variant's broken machine; none.
        if reboots is True:
            reboots = "all"
        elif reboots is False:
            reboots = "none"
        if reboots not in REBOOTS:
            raise ValueError(f"reboots: {', '.join(REBOOTS)} (got {reboots!r})")
        # all: every variant proves that a second inject and a second fix change nothing; first:
        # only each recipe's first variant; none.
        if repeats not in REPEATS:
            raise ValueError(f"repeats: {', '.join(REPEATS)} (got {repeats!r})")
        # all: every repair and decoy on every variant it applies to; spread: each one once, on
        # one of its variants, dealt so that every variant gets its share.
        if repairs not in REPAIRS:
            raise ValueError(f"repairs: {', '.join(REPAIRS)} (got {repairs!r})")
        self.reboot_policy = reboots
        self.repeat_policy = repeats
        self.repair_policy = repairs
        self.seat = seat
        self.seed = seed
        self.say = progress or (lambda _m: None)
        self.baseline = frozenset(c.id for c in baseline_checks())

    def run(self, fault: Fault, variants: list[str] | None = None, repairs: bool = True) -> FaultTestReport:
        with self.engine.lock(self.seat):
            return self._run(fault, variants, repairs)

    def _run(self, fault: Fault, variants: list[str] | None, repairs: bool) -> FaultTestReport:
        report = FaultTestReport(fault.id, self.seat, self.seed)
        start = time.monotonic()
        chosen = [v.id for v in fault.variants if not variants or v.id in variants]
        plan = repair_plan(fault, chosen, self.repair_policy) if repairs else {v: [] for v in chosen}
        for v in chosen:
            try:
                self._variant(fault, v, report, plan[v])
            except _Stop:
                pass
        # Leave the seat pristine for whatever comes next.
        try:
            self.engine.seats.reset(self.seat)
        except LabError as exc:
            report.steps.append(StepResult("-", "final reset", "error", str(exc), 0.0))
        report.duration = time.monotonic() - start
        return report

    # -- steps --------------------------------------------------------------------
    def _record(self, report: FaultTestReport, variant: str, step: str, outcome: str, detail: str,
                started: float, checks: CheckReport | None = None) -> StepResult:
        r = StepResult(variant, step, outcome, detail, time.monotonic() - started,
                       checks.as_dict() if checks else None)
        report.steps.append(r)
        mark = {"pass": "ok", "fail": "FAIL", "error": "ERROR"}[outcome]
        self.say(f"  {fault_label(report.fault, variant)} {step}: {mark} ({r.duration:.1f} s){': ' + detail if outcome != 'pass' else ''}")
        if outcome != "pass":
            raise _Stop()
        return r

    def _do(self, report: FaultTestReport, variant: str, step: str, fn) -> None:
        started = time.monotonic()
        try:
            fn()
        except FaultError as exc:
            self._record(report, variant, step, "fail", exc.message, started)
        except LabError as exc:
            self._record(report, variant, step, "error", exc.message, started)
        else:
            self._record(report, variant, step, "pass", "", started)

    def _playbook(self, report: FaultTestReport, variant: str, step: str, fn) -> None:
        started = time.monotonic()
        try:
            res = fn()
        except LabError as exc:
            self._record(report, variant, step, "error", exc.message, started)
            return
        if res.ok:
            self._record(report, variant, step, "pass", "", started)
        else:
            self._record(report, variant, step, "fail", res.summary() + f" (artefacts: {res.artifacts})", started)

    # The expectations below end a step at its first ``fail`` or ``error``: ``_record`` raises _Stop.

    def _expect_pass(self, report: FaultTestReport, variant: str, step: str) -> None:
        """Every check passes: healthy, fixed, or repaired."""
        started = time.monotonic()
        checks, _ = self._verdicts(report, variant, step, started)
        failed = [r for r in checks.results if r.status == FAIL]
        if failed:
            self._record(report, variant, step, "fail",
                         "checks should pass but failed: " + ", ".join(f"{r.id} ({r.observed})" for r in failed),
                         started, checks)
        self._record(report, variant, step, "pass", "", started, checks)

    def _verdicts(self, report: FaultTestReport, variant: str, step: str,
                  started: float) -> tuple[CheckReport, dict[str, CheckResult]]:
        """One check run, by check id. No run, or a check without a verdict, is an ``error``."""
        try:
            checks = self.engine.check(self.seat)
        except LabError as exc:
            self._record(report, variant, step, "error", exc.message, started)
            raise _Stop() from None  # not reached: _record stops on anything but a pass
        unknown = [r for r in checks.results if r.status == UNKNOWN]
        if unknown:
            self._record(report, variant, step, "error",
                         "no verdict from " + ", ".join(f"{r.id} ({r.observed})" for r in unknown), started, checks)
        return checks, {r.id: r for r in checks.results}

    def _expect_broken(self, report: FaultTestReport, spec: VariantSpec, step: str) -> None:
        """After inject: the variant's ``breaks`` fail (or a functional check does), and no baseline check."""
        started = time.monotonic()
        checks, by_id = self._verdicts(report, spec.id, step, started)
        failed = [r for r in checks.results if r.status == FAIL]

        def fail(detail: str) -> None:
            self._record(report, spec.id, step, "fail", detail, started, checks)

        weakened = [r for r in failed if r.id in self.baseline]
        if weakened:
            fail("the inject broke the security baseline: "
                 + ", ".join(f"{r.id} ({r.observed})" for r in weakened))
        if not failed:
            fail("every check passed: the checks do not see this fault")
        if spec.breaks:
            missed = [c for c in spec.breaks if c not in by_id or by_id[c].status != FAIL]
            if missed:
                fail(f"variant {spec.id} should break {', '.join(spec.breaks)} but "
                     + ", ".join(f"{c} {'passed' if c in by_id else 'did not run'}" for c in missed))
            proof = "breaks " + ", ".join(spec.breaks) + " as declared"
        else:
            functional = [r.id for r in failed if r.group == "functional"]
            if not functional:
                fail("no functional check failed (only " + ", ".join(r.id for r in failed)
                     + "): the checks do not see the symptom")
            proof = "functional check(s) fail: " + ", ".join(functional)
        self._record(report, spec.id, step, "pass", f"{proof}; failing: " + ", ".join(r.id for r in failed),
                     started, checks)

    def _expect_caught(self, report: FaultTestReport, variant: str, step: str, rep: RepairSpec,
                       broken: set[str], seen: dict[str, str] | None = None) -> None:
        """After a decoy on the broken machine: its catchers fail, and it made progress (or says why not).

        ``broken``: the checks that failed after inject (F_broken); ``seen``: what each check
        observed then. A decoy that says ``no_progress`` must still have changed something a
        check sees (a catcher it broke, or another observation than the broken machine's):
        a playbook that did nothing cannot pass as a decoy.
        """
        started = time.monotonic()
        checks, by_id = self._verdicts(report, variant, step, started)

        def fail(detail: str) -> None:
            self._record(report, variant, step, "fail", detail, started, checks)

        if not rep.caught_by:
            fail(f"decoy {rep.id} names no check that catches it (caught_by)")
        missed = [c for c in rep.caught_by if c not in by_id or by_id[c].status != FAIL]
        if missed:
            fail(f"decoy {rep.id} should be caught by {', '.join(rep.caught_by)} but "
                 + ", ".join(f"{c} {'passed' if c in by_id else 'did not run'}" for c in missed))
        progress = sorted(c for c in broken if c in by_id and by_id[c].status == PASS)
        if not progress and not rep.no_progress:
            fail(f"decoy {rep.id} made no progress: every check that failed on the broken machine ("
                 + ", ".join(sorted(broken)) + ") still fails, so its catchers may only see the fault "
                 "(a decoy does something a user would take for a repair; or it says no_progress: why)")
        if not progress:
            changed = sorted(c for c, r in by_id.items() if seen is not None and c in seen and r.observed != seen[c])
            if not any(c not in broken for c in rep.caught_by) and not changed:
                fail(f"decoy {rep.id} changed nothing a check sees: every check observes what it did on the "
                     "broken machine (a decoy with no_progress must still break a check or change what one sees)")
        fault_s = "left failing: the fault's"
        caught = ", ".join(f"{c} ({fault_s if c in broken else 'broken by the decoy'})" for c in rep.caught_by)
        if progress:
            moved = f"progress: {', '.join(progress)} now pass{'es' if len(progress) == 1 else ''}"
        else:
            moved = f"no progress (declared: {rep.no_progress})"
            if changed:
                moved += "; changed what " + ", ".join(changed) + " see"
        self._record(report, variant, step, "pass", f"caught by {caught}; {moved}", started, checks)

    def _expect_same(self, report: FaultTestReport, variant: str, step: str, failing: set[str]) -> None:
        """The checks fail exactly as they did: a second injection changed nothing."""
        started = time.monotonic()
        try:
            checks = self.engine.check(self.seat)
        except LabError as exc:
            self._record(report, variant, step, "error", exc.message, started)
            return
        unknown = [r.id for r in checks.results if r.status == UNKNOWN]
        now = {r.id for r in checks.results if r.status == FAIL}
        if unknown:
            self._record(report, variant, step, "error", "no verdict from " + ", ".join(unknown), started, checks)
        elif now != failing:
            self._record(report, variant, step, "fail", f"failing checks were {sorted(failing)}, now {sorted(now)}",
                         started, checks)
        else:
            self._record(report, variant, step, "pass", "", started, checks)

    def _seen(self, report: FaultTestReport) -> dict[str, str]:
        last = report.steps[-1].checks or {}
        return {r["id"]: r["observed"] for r in last.get("results", [])}

    def _failing(self, report: FaultTestReport) -> set[str]:
        last = report.steps[-1].checks or {}
        return {r["id"] for r in last.get("results", []) if r["status"] == FAIL}

    def _residue(self, report: FaultTestReport, fault: Fault, variant: str, since: int) -> None:
        from . import residue

        started = time.monotonic()
        try:
            _, d = self.engine.current_draw(self.seat)
            found = residue.scan(self.engine.seats.agent(self.seat), fault, d, since)
        except LabError as exc:
            self._record(report, variant, "no residue", "error", exc.message, started)
            return
        if found:
            self._record(report, variant, "no residue", "fail",
                         f"{len(found)} finding(s): " + "; ".join(str(f) for f in found[:4]), started)
        else:
            self._record(report, variant, "no residue", "pass", "", started)

    def _start_from(self, report: FaultTestReport, fault: Fault, variant: str) -> None:
        """With ``prepared``: the seat starts over from the variant's prepared state. Without: a seat made
        from another prepared state starts over from the image's warm state (its pristine state would
        hold that other recipe's healthy stage)."""
        e, seat = self.engine, self.seat
        rec = e.seats.info(seat).record
        base = None
        if self.prepared:
            why = e.prepared.why_not(fault)
            if why:
                self.say(f"{fault.id} ({variant}): no prepared state ({why}); prepare runs on the seat")
            else:
                got: list = []
                self._do(report, variant, "make or find the prepared state", lambda: got.append(
                    e.prepared_base(rec.image, fault.id, seed=self.seed, variant=variant, progress=self.say)))
                base = got[0] if got else None
        if (base.key if base else "") != rec.base.get("key", ""):
            self._do(report, variant, "start over from the prepared state" if base else
                     "start over from the warm state", lambda: e.seats.rebase(seat, base, progress=self.say))

    def _variant(self, fault: Fault, variant: str, report: FaultTestReport, repairs: list) -> None:
        e, seat = self.engine, self.seat
        spec = fault.variant(variant)
        first = variant == fault.variants[0].id
        reboot_broken = self.reboot_policy == "all" or (self.reboot_policy in ("first", "first-broken") and first)
        reboot_fixed = self.reboot_policy == "all" or (self.reboot_policy == "first" and first)
        repeats = self.repeat_policy == "all" or (self.repeat_policy == "first" and first)
        since = int(time.time()) - 2
        self._start_from(report, fault, variant)
        # No checkpoint of the healthy machine: every repair and decoy starts from the broken one
        # (frozen below), and a checkpoint costs a save and a restore of the seat's memory.
        self._do(report, variant, "prepare", lambda: e.stage(seat, fault.id, seed=self.seed, variant=variant))
        self._expect_pass(report, variant, "healthy checks pass")
        self._do(report, variant, "inject", lambda: e.break_staged(seat))
        self._expect_broken(report, spec, "checks fail after inject")
        failing = self._failing(report)  # F_broken: what decoys are judged against
        seen = self._seen(report)
        # Each repair and decoy starts from this very machine: a checkpoint taken now costs
        # a save and a restore, an injection per repair costs a playbook run.
        if repairs:
            self._do(report, variant, "freeze the broken machine", lambda: e.checkpoint_broken(seat))
        if repeats:
            self._do(report, variant, "inject again", lambda: e.break_staged(seat))
            self._expect_same(report, variant, "second inject leaves the same fault", failing)
        if self.residue:
            self._residue(report, fault, variant, since)
        if reboot_broken:
            self._do(report, variant, "reboot the broken machine", lambda: e.seats.reboot(seat))
            if spec.survives_reboot:
                self._expect_same(report, variant, "fault survives a reboot", failing)
            else:
                self._expect_pass(report, variant, "fault gone after a reboot (declared)")
                self._do(report, variant, "inject after the reboot", lambda: e.break_staged(seat))
        self._playbook(report, variant, "reference fix", lambda: e.fix(seat))
        self._expect_pass(report, variant, "checks pass after fix")
        if repeats:
            self._playbook(report, variant, "fix again", lambda: e.fix(seat))
            self._expect_pass(report, variant, "checks pass after a second fix")
        if reboot_fixed:
            self._do(report, variant, "reboot the repaired machine", lambda: e.seats.reboot(seat))
            self._expect_pass(report, variant, "still healthy after a reboot")
        for rep in repairs:
            kind = "legitimate repair" if rep.expect == "pass" else "decoy"
            try:
                self._do(report, variant, f"{kind} {rep.id}: back to the broken machine",
                         lambda: e.restage(seat, "broken"))
                self._playbook(report, variant, f"{kind} {rep.id}: apply", lambda: e.repair(seat, rep.id))
                if rep.expect == "pass":
                    self._expect_pass(report, variant, f"{kind} {rep.id}: checks pass")
                else:
                    self._expect_caught(report, variant, f"{kind} {rep.id}: checks fail", rep, failing, seen)
            except _Stop:
                continue


def repair_plan(fault: Fault, variants: list[str], policy: str = "all") -> dict[str, list]:
    """Which repairs and decoys each variant runs, in the recipe's order.

    ``all``: each on every variant it applies to. ``spread``: each once, on the
    variant (among those it applies to) that has the fewest so far, earlier
    variants first on a tie: every repair and decoy is still proven, and no
    variant is left without its share.
    """
    plan: dict[str, list] = {v: [] for v in variants}
    for rep in fault.repairs:
        fits = [v for v in variants if rep.applies_to(v)]
        if policy == "all":
            for v in fits:
                plan[v].append(rep)
        elif fits:
            plan[min(fits, key=lambda v: (len(plan[v]), variants.index(v)))].append(rep)
    return plan


def fault_label(fault: str, variant: str) -> str:
    return f"{fault}/{variant}"


def junit_xml(reports: list[FaultTestReport]) -> str:
    suites = ET.Element("testsuites", name="labctl fault test")
    for rep in reports:
        failures = sum(s.outcome == "fail" for s in rep.steps)
        errors = sum(s.outcome == "error" for s in rep.steps)
        suite = ET.SubElement(suites, "testsuite", name=rep.fault, tests=str(len(rep.steps)),
                              failures=str(failures), errors=str(errors), time=f"{rep.duration:.2f}")
        for s in rep.steps:
            case = ET.SubElement(suite, "testcase", classname=f"{rep.fault}.{s.variant}", name=s.step,
                                 time=f"{s.duration:.2f}")
            if s.outcome == "fail":
                ET.SubElement(case, "failure", message=s.detail[:500]).text = s.detail
            elif s.outcome == "error":
                ET.SubElement(case, "error", message=s.detail[:500]).text = s.detail
    return ET.tostring(suites, encoding="unicode")
