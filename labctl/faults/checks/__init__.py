"""Post-checks: run from the host, each reporting what it observed and what it expected.

Every check kind turns its spec into one small shell script run in the guest
through a channel (the guest agent by default), and parses the answer. Nothing
of the check (code, expected values) is stored in the guest. A check that
cannot reach a verdict (guest gone, agent stopped, garbled answer, a tool that
failed or is missing) is ``unknown``, never ``pass``.

The kinds live beside this module (``files``, ``kinds``, ``pam``, ``protected``), the
one-command batch in ``batch``; this module runs them. The security baseline
(``baseline.yaml`` beside the package) is appended to every fault's own checks: a
repair that weakens the machine fails whatever the fault.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable


from ... import timing
from ...errors import LabError
from ...guest import toolbox
from ...guest import Channel, CommandResult
from ..draw import Draw, context, render_value
from ..manifest import BASELINE_FILE, CheckSpec, Fault, baseline_checks  # noqa: F401 - re-exported
from .base import FAIL, PASS, UNKNOWN, NoVerdict, Verdict, killed_or_missing, kv, why_no_answer
from .base import _kv, _NoVerdict  # noqa: F401  (the old private names, still importable)
from .batch import LANES, Plan, batch_script, lanes, parse_batch
from .files import file_script, file_verdict, files_script, files_verdict
from .kinds import (command_verdict, free_space_script, free_space_verdict, groups_script, groups_verdict,
                    not_growing_script, not_growing_verdict, service_script, service_verdict, sudo_script,
                    sudo_verdict, url_script, url_verdict)
from .pam import pam_faillock_script, pam_faillock_verdict
from .programs import programs_script, programs_verdict
from .walk import walk_script, walk_verdict
from .protected import PROTECT_CHECK_ID, parse_snapshot, protected_verdict, snapshot_script, take_snapshot

__all__ = [
    "BASELINE_FILE", "FAIL", "KINDS", "LANES", "PASS", "PROTECT_CHECK_ID", "UNKNOWN", "CheckReport", "CheckResult",
    "NoVerdict", "Verdict", "baseline_checks", "batch_script", "checks_for", "describe_kind_fields", "kv", "lanes",
    "parse_batch", "parse_snapshot", "protected_paths", "run_check", "run_checks", "snapshot_script",
    "take_snapshot", "unreachable_report",
]



@dataclass(frozen=True)
class CheckResult:
    id: str
    group: str
    title: str
    status: str  # pass | fail | unknown
    observed: str
    expected: str
    route: str = "agent"
    duration: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def as_dict(self) -> dict:
        return {"id": self.id, "group": self.group, "title": self.title, "status": self.status,
                "observed": self.observed, "expected": self.expected, "route": self.route,
                "duration": round(self.duration, 3)}


@dataclass(frozen=True)
class CheckReport:
    fault: str
    variant: str
    results: tuple[CheckResult, ...]
    duration: float = 0.0
    routes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def status(self) -> str:
        """pass only if every check passed; fail if any failed; else unknown."""
        if any(r.status == FAIL for r in self.results):
            return FAIL
        if all(r.status == PASS for r in self.results) and self.results:
            return PASS
        return UNKNOWN

    def by_group(self, group: str) -> list[CheckResult]:
        return [r for r in self.results if r.group == group]

    def group_status(self, group: str) -> str:
        rs = self.by_group(group)
        if any(r.status == FAIL for r in rs):
            return FAIL
        if all(r.status == PASS for r in rs):
            return PASS
        return UNKNOWN

    def as_dict(self) -> dict:
        return {"fault": self.fault, "variant": self.variant, "status": self.status,
                "groups": {g: self.group_status(g) for g in ("functional", "integrity", "security")},
                "duration": round(self.duration, 3), "results": [r.as_dict() for r in self.results]}


def protected_paths(fault: Fault, d: Draw) -> list[str]:
    return [render_value(p, context(d), f"{fault.manifest}: protect") for p in fault.protect]


def checks_for(fault: Fault, d: Draw, snapshot: dict | None = None,
               seat_ctx: dict | None = None, programs: dict | None = None) -> list[tuple[CheckSpec, dict]]:
    """The fault's checks for this variant, the protected-data check, and the baseline, rendered.

    ``seat_ctx``: what the seat adds to the templates: ``user_password``, the user's password
    from the seat's credentials (what the user types to log in; empty when labctl does not know it),
    and ``company_user``, the seat's account on the company server (its network folder's name).
    ``programs``: the seat's record of the image's programs (kind ``image_programs``).
    """
    ctx = context(d, **{"user_password": "", "company_user": "", **(seat_ctx or {})})
    out = []
    if fault.protect:
        spec = CheckSpec(PROTECT_CHECK_ID, "integrity", "The user's data is intact (content, owner, permissions)",
                         "protected", {})
        out.append((spec, {"paths": protected_paths(fault, d), "snapshot": snapshot}))
    for c in (*fault.checks, *baseline_checks()):
        if c.applies_to(d.variant):
            spec = render_value(c.spec, ctx, f"{fault.manifest}: check {c.id}")
            if c.kind == "image_programs":
                spec = {**spec, "record": programs}
            out.append((c, spec))
    return out


KINDS: dict[str, tuple[Callable[[dict], str], Callable[[dict, CommandResult], Verdict]]] = {
    "file": (file_script, file_verdict),
    "files": (files_script, files_verdict),
    "command": (lambda s: s["run"], command_verdict),
    "free_space": (free_space_script, free_space_verdict),
    "url": (url_script, url_verdict),
    "not_growing": (not_growing_script, not_growing_verdict),
    "service": (service_script, service_verdict),
    "groups": (groups_script, groups_verdict),
    "sudo": (sudo_script, sudo_verdict),
    "pam_faillock": (pam_faillock_script, pam_faillock_verdict),
    "image_programs": (programs_script, programs_verdict),
    "fs_walk": (walk_script, walk_verdict),
    "protected": (lambda s: snapshot_script(s["paths"]), protected_verdict),
}


def _plan(check: CheckSpec, spec: dict) -> Plan:
    """What a check runs in the guest: shell script, as which user, timeout in seconds, which shell.

    A recipe's ``command`` runs in the guest's shell with the guest's programs (recipes use
    GNU tools); every other kind's script runs with the checks' own busybox.
    """
    script_of, _ = KINDS[check.kind]
    user = spec.get("as") if check.kind in ("command", "url") else None
    timeout = float(spec.get("timeout", 90)) + float(spec.get("seconds", 0))
    return Plan(script_of(spec), user, timeout, guest_shell=check.kind == "command")


def _judge(check: CheckSpec, spec: dict, res: CommandResult | None, timeout: float, route: str,
           duration: float, why: str = "") -> CheckResult:
    """A check's verdict from what its script printed; ``unknown`` whenever there is no honest one."""
    _, verdict_of = KINDS[check.kind]
    try:
        if res is None:
            raise NoVerdict(why or "no answer")
        if res.timed_out:
            raise NoVerdict(f"timed out after {timeout:.0f} s")
        # A kind's script ends with its own report; killed or not run, it has none. (A command
        # check's status is its verdict: command_verdict applies the rule, with the spec's rc.)
        if check.kind != "command" and killed_or_missing(res.rc):
            raise NoVerdict(f"the check's script {why_no_answer(res.rc)}: {res.stderr.strip()[-160:]}")
        ok, observed, expected = verdict_of(spec, res)
        status = PASS if ok else FAIL
    except (NoVerdict, LabError) as exc:
        status, observed, expected = UNKNOWN, f"no verdict: {exc}", ""
    return CheckResult(check.id, check.group, check.title, status, observed, expected, route=route,
                       duration=duration)


def run_check(chan: Channel, check: CheckSpec, spec: dict) -> CheckResult:
    """Run one check through a channel; never raises for a guest problem (that is ``unknown``)."""
    script, user, timeout, _ = _plan(check, spec)
    start = time.monotonic()
    try:
        res: CommandResult | None = chan.sh(script, user=user, timeout=timeout)
        why = ""
    except LabError as exc:
        res, why = None, str(exc)
    return _judge(check, spec, res, timeout, chan.name, time.monotonic() - start, why)


def run_checks(chan: Channel, fault: Fault, d: Draw, snapshot: dict | None = None, *,
               offline_only: bool = False, seat_ctx: dict | None = None,
               company: Channel | None = None, company_why: str = "", programs: dict | None = None) -> CheckReport:
    """Run every check of the fault's variant, and the baseline, in one guest command.

    ``offline_only``: the channel reaches the seat's disk, not the running machine
    (labctl.rescue); checks not marked ``offline`` are ``unknown`` without running.
    ``company``: the company server's channel, for checks with ``on: company`` (one
    more command, there); without it they are ``unknown`` (``company_why`` says why).
    """
    start = time.monotonic()
    todo = checks_for(fault, d, snapshot, seat_ctx, programs=programs)
    roads = {"seat": chan, "company": company}
    results: dict[int, CheckResult] = {}
    for where, road in roads.items():
        mine = [i for i, (c, _) in enumerate(todo) if c.on == where]
        if not mine:
            continue
        if road is None:
            for i in mine:
                c = todo[i][0]
                results[i] = CheckResult(c.id, c.group, c.title, UNKNOWN,
                                         f"no verdict: {company_why or 'no road to the company server'}", "",
                                         route="none")
            continue
        runnable = [i for i in mine if todo[i][0].offline or not offline_only or where != "seat"]
        for i in mine:
            if i not in runnable:
                c = todo[i][0]
                results[i] = CheckResult(c.id, c.group, c.title, UNKNOWN,
                                         "no verdict: needs the running machine, which did not answer "
                                         "(only its disk was read)", "", route=road.name)
        plans = [_plan(*todo[i]) for i in runnable]
        # Checks that run the very same script (the baseline's fs_walk checks share one walk
        # of the disk) run it once; each reads its own verdict from the one answer.
        once: dict[Plan, int] = {}
        for p in plans:
            once.setdefault(p, len(once))
        got, why = _run_batch(road, list(once))
        label = _route_label(where, road)
        for k, i in enumerate(runnable):
            c, spec = todo[i]
            r, dur = got.get(once[plans[k]], (None, 0.0))
            results[i] = _judge(c, spec, r, plans[k][2], label, dur, why or "the check gave no answer")
    used = tuple(_route_label(w, r) for w, r in roads.items() if r is not None and any(c.on == w for c, _ in todo))
    return CheckReport(fault.id, d.variant, tuple(results[i] for i in range(len(todo))),
                       time.monotonic() - start, routes=used or (chan.name,))


def _route_label(where: str, road: Channel) -> str:
    return road.name if where == "seat" else f"company server ({road.name})"


def _run_batch(chan: Channel, plans: list) -> tuple[dict[int, tuple[CommandResult, float]], str]:
    """One guest command for many checks: their answers by index, or why there are none.

    Through a channel that can bring the checks' own busybox (the guest agent), the run uses
    it; if the guest refuses it or changes it, there is no verdict at all (never the guest's
    programs instead). A channel that cannot (SSH, the rescue machine's chroot) uses the guest's.
    """
    if not plans:
        return {}, ""
    # Lanes run their checks one after another: the run may take the sum of a lane's timeouts.
    budget = max(sum(plans[i][2] for i in lane) for lane in lanes(plans)) + 30
    tools = None
    try:
        with timing.phase("checks: bring the tools"):
            tools = chan.stage_tools(toolbox.host_busybox)
        if tools:
            res = chan.run_staged([tools, "timeout", "-k", "5", str(int(budget)), "sh", "-c",
                                   batch_script(plans, tools=tools)], timeout=budget + 10)
        else:
            res = chan.run(["/bin/bash", "-c", batch_script(plans)], timeout=budget)
    except LabError as exc:
        return {}, str(exc)
    if res.timed_out:
        return {}, "the check run did not finish in time"
    got = parse_batch(res.stdout, plans)
    if not got:
        return {}, f"the check run gave no answer (rc={res.rc}: {res.stderr.strip()[:160]})"
    return got, ""


def unreachable_report(fault: Fault, d: Draw, why: str) -> CheckReport:
    """Every check ``unknown``: no road to the guest. Never a pass."""
    results = tuple(CheckResult(c.id, c.group, c.title, UNKNOWN, f"no verdict: {why}", "", route="none")
                    for c, _ in checks_for(fault, d))
    return CheckReport(fault.id, d.variant, results, 0.0, routes=(f"none ({why})",))


def describe_kind_fields() -> dict[str, Any]:
    """For docs and `fault new`: the kinds and their fields."""
    from ..manifest import schema

    props = schema()["$defs"]["check"]["properties"]
    return {k: sorted(props[k]["properties"]) for k in KINDS if k in props}
