"""labctl fault: the catalogue of fault recipes, and putting faults on seats."""

from __future__ import annotations

import json
import secrets as _secrets
from pathlib import Path

import click

from .. import timing
from ..errors import ConfigError, LabError
from .common import echo_json, get_config, json_option, progress, table

# `fault test` exit codes: the recipe behaved / the recipe is wrong / the lab could not run it.
EXIT_TEST = {"pass": 0, "fail": 10, "error": 11}


@click.group("fault")
def command() -> None:
    """The fault catalogue: list, show, inject, check, fix and test recipes."""


def _engine(ctx):
    from ..faults.engine import FaultEngine

    return FaultEngine(get_config(ctx))


def _catalog(ctx):
    from ..faults.manifest import Catalog

    return Catalog(get_config(ctx).faults_dir)


@command.command("list")
@click.option("--family", help="Only faults of this family (e.g. T2-DISK).")
@click.option("--competency", help="Only faults training this competency (e.g. CP4).")
@click.option("--os", "os_", type=click.Choice(["linux", "windows"]), help="Only faults for this OS.")
@json_option
@click.pass_context
def list_(ctx, family, competency, os_, as_json) -> None:
    """List the fault recipes in the catalogue (a recipe that does not load is reported, exit 2)."""
    from ..faults.provenance import origin, shipped

    broken: dict[str, LabError] = {}
    faults = _catalog(ctx).select(family=family, competency=competency, os=os_, broken=broken)
    known = shipped()
    if as_json:
        echo_json([{**f.as_dict(), "origin": origin(f.folder, known)} for f in faults])
    elif not faults:
        click.echo("no faults match" if not broken else "no recipe that loads matches")
    else:
        click.echo(table([[f.id, ",".join(f.families), ",".join(f.competencies), f.os, str(f.difficulty),
                           f"L{f.level}", str(len(f.variants)), origin(f.folder, known), f.title] for f in faults],
                         ["FAULT", "FAMILIES", "COMPETENCIES", "OS", "DIFF", "LEVEL", "VARIANTS", "ORIGIN",
                          "TITLE"]))
    # The good recipes are listed; each bad one is named with its file and field, and the exit
    # code says the catalogue is not clean.
    for fid, exc in sorted(broken.items()):
        click.secho(f"error: {fid}: {exc.message}", fg="red", err=True)
        if exc.hint:
            click.echo(f"  hint: {exc.hint}", err=True)
    if broken:
        click.echo(f"{len(broken)} recipe(s) not loaded: `labctl fault lint ID` says more", err=True)
        ctx.exit(ConfigError.exit_code)


@command.command("show")
@click.argument("fault_id")
@click.option("--notes", is_flag=True, help="Print the instructor notes (README.md) too.")
@json_option
@click.pass_context
def show(ctx, fault_id, notes, as_json) -> None:
    """Show a recipe: variants, checks, repairs (instructor view)."""
    from ..faults.provenance import ORIGINS, origin

    f = _catalog(ctx).get(fault_id)
    if as_json:
        d = {**f.as_dict(), "origin": origin(f.folder)}
        if notes:
            d["notes"] = f.notes()
        echo_json(d)
        return
    click.echo(f"{f.id}: {f.title}")
    click.echo(f"  {f.summary}")
    click.echo(f"  families {', '.join(f.families)}; competencies {', '.join(f.competencies)}; os {f.os}; "
               f"image {f.image}; difficulty {f.difficulty}; level {f.level}; budget {f.time_budget_min} min")
    click.echo(f"  ticket: impact {f.ticket.impact}, urgency {f.ticket.urgency}")
    click.echo(f"  origin: {ORIGINS[origin(f.folder)]} ({f.folder})")
    click.echo("  variants:")
    for v in f.variants:
        click.echo(f"    {v.id:16} {v.summary}")
    click.echo("  checks:")
    for c in f.checks:
        only = f" (only {', '.join(c.variants)})" if c.variants else ""
        click.echo(f"    {c.group:10} {c.id:24} {c.title}{only}")
    if f.protect:
        click.echo(f"    integrity  user-data-intact         files under {', '.join(f.protect)} unchanged")
    click.echo("    security   baseline-*               the security baseline (docs/faults.md)")
    if f.repairs:
        click.echo("  repairs proven by `fault test`:")
        for r in f.repairs:
            click.echo(f"    {'legit' if r.expect == 'pass' else 'decoy':6} {r.id:24} {r.title}")
            if r.caught_by:
                click.echo(f"{'':36}caught by {', '.join(r.caught_by)}"
                           + (f"; no progress: {r.no_progress}" if r.no_progress else ""))
    if notes:
        click.echo("\n" + f.notes())


@command.command("inject")
@click.argument("seat")
@click.argument("fault_id")
@click.option("--seed", type=int, help="Seed for the variant and its parameters (default: random).")
@click.option("--variant", help="Force this variant instead of drawing one.")
@json_option
@click.pass_context
def inject(ctx, seat, fault_id, seed, variant, as_json) -> None:
    """Break SEAT with FAULT_ID (the seat is reset to pristine first if it carries a fault)."""
    d, results = _engine(ctx).inject(seat, fault_id, seed=seed, variant=variant, progress=progress)
    if as_json:
        echo_json({"seat": seat, **d.as_dict(), "runs": [r.as_dict() for r in results]})
        return
    click.echo(f"{seat}: {fault_id} injected (variant {d.variant}, seed {d.seed}) in "
               f"{sum(r.duration for r in results):.1f} s")


def _print_checks(report) -> None:
    click.echo(table([[r.status.upper() if r.status != "pass" else "pass", r.group, r.id, r.observed[:70],
                       r.expected[:50]] for r in report.results],
                     ["RESULT", "GROUP", "CHECK", "OBSERVED", "EXPECTED"]))
    click.echo(f"{report.fault} ({report.variant}): {report.status} in {report.duration:.1f} s "
               f"(route: {', '.join(report.routes)})")


@command.command("check")
@click.argument("seats", nargs=-1, required=True)
@json_option
@click.pass_context
def check(ctx, seats, as_json) -> None:
    """Run the post-checks of the fault each SEAT carries; exit 0 only if all pass."""
    engine = _engine(ctx)
    reports = {s: engine.check(s) for s in seats}
    if as_json:
        echo_json({s: r.as_dict() for s, r in reports.items()})
    else:
        for s, r in reports.items():
            click.echo(f"== {s}")
            _print_checks(r)
    statuses = {r.status for r in reports.values()}
    if statuses != {"pass"}:
        ctx.exit(11 if "unknown" in statuses and "fail" not in statuses else 1)


@command.command("fix")
@click.argument("seat")
@click.pass_context
def fix(ctx, seat) -> None:
    """Apply the reference repair of the fault SEAT carries (for instructors and CI)."""
    res = _engine(ctx).fix(seat)
    click.echo(res.summary())
    if not res.ok:
        click.echo(f"artefacts: {res.artifacts}", err=True)
        ctx.exit(1)


@command.command("repair")
@click.argument("seat")
@click.argument("repair_id")
@click.pass_context
def repair(ctx, seat, repair_id) -> None:
    """Apply one of the recipe's declared repairs or decoys to SEAT (to see what the checks say)."""
    res = _engine(ctx).repair(seat, repair_id)
    click.echo(res.summary())
    if not res.ok:
        ctx.exit(1)


@command.command("ticket")
@click.argument("seat")
@click.option("--lang", type=click.Choice(["en", "fr"]), default="en", show_default=True)
@json_option
@click.pass_context
def ticket(ctx, seat, lang, as_json) -> None:
    """Print the ticket for the fault SEAT carries, in the user's words."""
    t = _engine(ctx).ticket(seat, lang)
    if as_json:
        echo_json(t.as_dict())
        return
    click.echo(f"Subject: {t.subject}\nPriority: {t.priority} (impact {t.impact}, urgency {t.urgency})\n")
    click.echo(t.body)


@command.command("test")
@click.argument("fault_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Test every recipe in the catalogue.")
@click.option("--variant", "variants", multiple=True, help="Only this variant (repeatable).")
@click.option("--seat", help="Use this existing seat (it is reset); default: a temporary seat.")
@click.option("--image", help="Image of the temporary seat (default from config; e.g. desktop).")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed for the drawn parameters.")
@click.option("--no-repairs", is_flag=True, help="Skip the declared repairs and decoys.")
@click.option("--reboots", type=click.Choice(["all", "first", "first-broken", "none"]), default="all",
              show_default=True,
              help="Which variants prove reboot persistence (a reboot costs tens of seconds when emulated); "
                   "first-broken: only the first variant's broken machine.")
@click.option("--repeats", type=click.Choice(["all", "first", "none"]), default="all", show_default=True,
              help="Which variants prove that a second inject and a second fix change nothing.")
@click.option("--repairs", "repair_policy", type=click.Choice(["all", "spread"]), default="all", show_default=True,
              help="all: each repair and decoy on every variant it applies to; spread: each once, "
                   "dealt over the variants it applies to.")
@click.option("--quick", is_flag=True, help="Same as --reboots none (for authoring).")
@click.option("--prepared", is_flag=True,
              help="Start each variant from its prepared state, as a session's seats do (made if needed), "
                   "instead of running prepare on the seat.")
@click.option("--junit", type=click.Path(dir_okay=False), help="Write a JUnit XML report here.")
@click.option("--json-out", type=click.Path(dir_okay=False), help="Write a JSON report here.")
@json_option
@click.pass_context
def test(ctx, fault_ids, all_, variants, seat, image, seed, no_repairs, reboots, repeats, repair_policy, quick,
         prepared, junit, json_out, as_json) -> None:
    """Prove recipes on a real seat: healthy, inject, checks fail, fix, checks pass, repairs and decoys.

    Exit 0 when every recipe behaved, 10 when a recipe is wrong, 11 when the lab
    could not run the test (seat, agent, timeout).
    """
    from ..faults.testing import FaultTester, junit_xml

    engine = _engine(ctx)
    if all_ == bool(fault_ids):
        raise ConfigError("give fault ids or --all, not both and not neither")
    faults = engine.catalog.all() if all_ else [engine.catalog.get(f) for f in fault_ids]
    if seat is not None and image is not None:
        raise ConfigError("give --seat or --image, not both", hint="an existing seat keeps the image it was made from")
    temp = None
    if seat is None:
        temp = seat = f"ft-{_secrets.token_hex(2)}"
        progress(f"creating the test seat {seat}" + (f" from image {image}" if image else ""))
        engine.seats.create(seat, image, company=any(f.needs_company for f in faults), progress=progress)
    reports = []
    tally = timing.Tally(len(faults), "faults tested", progress)
    try:
        for f in faults:
            progress(f"testing {f.id} on {seat}")
            tester = FaultTester(engine, seat, seed=seed, progress=progress, reboots="none" if quick else reboots,
                                 repeats=repeats, repairs=repair_policy, prepared=prepared)
            with timing.phase("fault test: one recipe"):
                reports.append(tester.run(f, list(variants) or None, repairs=not no_repairs))
            tally.step(ok=reports[-1].outcome == "pass")
    finally:
        if temp:
            try:
                engine.seats.destroy(temp)
            except LabError as exc:
                progress(f"could not remove the test seat {temp}: {exc.message}")
    data = [r.as_dict() for r in reports]
    if json_out:
        Path(json_out).write_text(json.dumps(data, indent=2))
    if junit:
        Path(junit).write_text(junit_xml(reports))
    if as_json:
        echo_json(data)
    else:
        rows = []
        for r in reports:
            by_variant: dict[str, list] = {}
            for s in r.steps:
                by_variant.setdefault(s.variant, []).append(s)
            for v, steps in by_variant.items():
                outcome = "error" if any(s.outcome == "error" for s in steps) else (
                    "fail" if any(s.outcome == "fail" for s in steps) else "pass")
                bad = next((s for s in steps if s.outcome != "pass"), None)
                rows.append([r.fault, v, outcome.upper() if outcome != "pass" else "pass",
                             str(len(steps)), f"{sum(s.duration for s in steps):.0f}s",
                             (f"{bad.step}: {bad.detail}"[:90]) if bad else ""])
        click.echo(table(rows, ["FAULT", "VARIANT", "OUTCOME", "STEPS", "TIME", "FIRST PROBLEM"]))
    worst = "error" if any(r.outcome == "error" for r in reports) else (
        "fail" if any(r.outcome == "fail" for r in reports) else "pass")
    if worst != "pass":
        what = "a recipe is wrong" if worst == "fail" else "the lab could not run the test (infrastructure)"
        click.secho(f"fault test: {worst}: {what}", fg="red", err=True)
    ctx.exit(EXIT_TEST[worst])


@command.command("lint")
@click.argument("fault_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Lint every recipe.")
@click.pass_context
def lint(ctx, fault_ids, all_) -> None:
    """Static checks of recipes: manifest schema, playbook syntax, notes and tickets present."""
    from ..faults.lint import lint_fault

    cat = _catalog(ctx)
    ids = cat.ids() if all_ or not fault_ids else list(fault_ids)
    bad = 0
    for fid in ids:
        problems = lint_fault(cat.dir / fid)
        if problems:
            bad += 1
            for p in problems:
                click.echo(f"{fid}: {p}")
        else:
            click.echo(f"{fid}: ok")
    if bad:
        ctx.exit(1)


@command.command("import")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--replace", is_flag=True, help="Overwrite a recipe of the same id already in the catalogue.")
@click.pass_context
def import_(ctx, source, replace) -> None:
    """Add the recipe in SOURCE (a folder, .tar.gz or .zip) to the catalogue, once it passes the checks.

    Refused, with the file and the field, when its manifest is malformed or its playbooks
    would run anything on the lab host; nothing is copied then.
    """
    from ..faults.provenance import import_recipe

    f = import_recipe(source, get_config(ctx).faults_dir, replace=replace)
    click.echo(f"{f.id}: imported into {f.folder}; prove it on a seat: labctl fault test {f.id}")


@command.command("new")
@click.argument("fault_id")
@click.option("--family", "families", multiple=True, default=["T2-SOFT"], show_default=True,
              help="Fault family ID (repeatable).")
@click.pass_context
def new(ctx, fault_id, families) -> None:
    """Scaffold a new recipe folder faults/FAULT_ID from the skeleton, ready to edit."""
    from ..faults.scaffold import scaffold

    folder = scaffold(get_config(ctx).faults_dir, fault_id, list(families))
    click.echo(f"created {folder}; edit fault.yaml, files/*.sh and README.md, then: labctl fault test {fault_id}")
