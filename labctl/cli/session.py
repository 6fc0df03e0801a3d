"""labctl session: run a class - roster in, broken seats and tickets out, graded results back."""

from __future__ import annotations

import click

from .common import echo_json, get_config, json_option, progress, table


@click.group("session")
def command() -> None:
    """Class sessions: create, follow, grade and report a class running a scenario."""


def sessions(ctx):
    from ..sessions import Sessions

    return Sessions(get_config(ctx))


def _print_create(res) -> None:
    s = res.session
    click.echo(f"session {s.name}: scenario {s.scenario.name} ({s.mode}), seed {s.seed}, state {s.state}")
    _print_status(res.seats)
    if res.codes:
        click.echo("\nAccess codes (shown once; `labctl session codes` makes new ones):")
        by_seat = {t: st.seat for st in res.seats for t in st.trainees}
        rows = []
        for name, code in res.codes.items():
            seat = by_seat.get(name, "-")
            acc = res.access.get(seat, {})
            if acc.get("mode") == "phone":
                how = "phone only (no access to the machine)"
            else:
                how = " ".join(x for x in (f"vnc {acc['vnc']} pw {acc.get('vnc_password', '')}" if acc.get("vnc") else "",
                                           f"support/{acc['account']['password']}" if acc.get("account") else "") if x)
            rows.append([name, seat, code, how])
        click.echo(table(rows, ["TRAINEE", "SEAT", "CODE", "ACCESS"]))
    for seat, why in res.errors.items():
        click.secho(f"{seat}: not ready: {why}", fg="red", err=True)
    if res.errors:
        click.echo(f"finish with: labctl session resume {s.name}", err=True)


def _print_status(rows) -> None:
    click.echo(table([[r.seat, ", ".join(r.trainees), f"{r.fault} ({r.variant})", r.progress, r.machine,
                       r.ticket_state, r.priority, (r.due or "-")[11:16] or "-", r.outcome or "-", r.last_check or "-"]
                      for r in rows],
                     ["SEAT", "TRAINEES", "FAULT", "PROGRESS", "MACHINE", "TICKET", "PRIO", "DUE", "OUTCOME", "CHECK"]))
    for r in rows:
        if r.problem:
            click.secho(f"{r.seat}: {r.problem}", fg="yellow")


@command.command("create")
@click.argument("name")
@click.option("--roster", "roster", required=True, type=click.Path(dir_okay=False),
              help="CSV of trainees: name[,email[,pair]].")
@click.option("--scenario", required=True, help="Scenario name (scenarios/NAME.yaml) or a YAML file.")
@click.option("--seed", type=int, help="Seed for the draw of faults and variants (default: random, recorded).")
@click.option("--parallel", type=click.IntRange(1, 32), default=None, show_default="one per host core",
              help="Seats made and broken at the same time.")
@click.option("--prepare-only", is_flag=True,
              help="Plan the session and make its faults' prepared states now (before class); make no seat. "
                   "Run the same create without it (or `session resume`) when the class starts.")
@json_option
@click.pass_context
def create(ctx, name, roster, scenario, seed, parallel, prepare_only, as_json) -> None:
    """Create session NAME: a seat per trainee (or pair), its fault, its ticket, access codes."""
    if prepare_only:
        res = sessions(ctx).prepare(name, roster, scenario, seed=seed, parallel=parallel, progress=progress)
        if as_json:
            echo_json(res.as_dict())
        else:
            click.echo(f"session {res.session.name}: planned (seed {res.session.seed}); prepared states:")
            click.echo(table([[seat, f"{v['fault']} ({v['variant']})", v["state"] or
                               ("-" if seat in res.errors else "none: its prepare stage runs on the seat")]
                              for seat, v in res.states.items()], ["SEAT", "FAULT", "PREPARED STATE"]))
            for seat, why in res.errors.items():
                click.secho(f"{seat}: {why}", fg="red", err=True)
            click.echo(f"when the class starts: labctl session resume {res.session.name}")
        if res.errors:
            ctx.exit(13)
        return
    res = sessions(ctx).create(name, roster, scenario, seed=seed, parallel=parallel, progress=progress)
    _done(ctx, res, as_json)


def _done(ctx, res, as_json) -> None:
    if as_json:
        echo_json({"session": res.session.as_dict(), "seats": [s.as_dict() for s in res.seats],
                   "codes": res.codes, "access": res.access, "errors": res.errors})
    else:
        _print_create(res)
    if res.errors:
        ctx.exit(13)


@command.command("resume")
@click.argument("name")
@click.option("--parallel", type=click.IntRange(1, 32), default=None, show_default="one per host core",
              help="Seats worked on at the same time.")
@json_option
@click.pass_context
def resume(ctx, name, parallel, as_json) -> None:
    """Finish what a killed `session create` (or a host restart) left undone; keeps every note and result."""
    res = sessions(ctx).resume(name, parallel=parallel, progress=progress)
    _done(ctx, res, as_json)


@command.command("list")
@json_option
@click.pass_context
def list_(ctx, as_json) -> None:
    """List the sessions."""
    rows = sessions(ctx).list()
    if as_json:
        echo_json([{**s.as_dict(), "seats": n, "trainees": t} for s, n, t in rows])
        return
    if not rows:
        click.echo("no sessions")
        return
    click.echo(table([[s.name, s.scenario.name, s.mode, s.state, str(n), str(t), s.created[:16]] for s, n, t in rows],
                     ["SESSION", "SCENARIO", "MODE", "STATE", "SEATS", "TRAINEES", "CREATED"]))


@command.command("status")
@click.argument("name")
@json_option
@click.pass_context
def status(ctx, name, as_json) -> None:
    """Each seat: trainees, fault, progress, machine state, ticket, SLA due time, last check."""
    lib = sessions(ctx)
    s = lib.get(name)
    rows = lib.status(name)
    if as_json:
        echo_json({"session": s.as_dict(), "seats": [r.as_dict() for r in rows]})
        return
    d = s.deadline()
    click.echo(f"session {s.name}: {s.scenario.title}; {s.mode}; {s.state}; "
               f"time limit {d.isoformat(timespec='minutes') if d else '-'} (UTC)")
    _print_status(rows)


@command.command("check")
@click.argument("name")
@click.argument("seats", nargs=-1)
@click.option("--parallel", type=click.IntRange(1, 32), default=None, show_default="one per host core", help="Seats checked at once.")
@json_option
@click.pass_context
def check(ctx, name, seats, parallel, as_json) -> None:
    """Run the post-checks on the session's seats now (or on SEATS); grades use those run at resolve."""
    out = sessions(ctx).check(name, list(seats) or None, parallel=parallel)
    statuses = {v.status if hasattr(v, "as_dict") else "unknown" for v in out.values()}
    # Three outcomes, as with `fault check`: 0 all pass, 1 a repair is not there (yet), 11 the lab
    # could not reach a verdict on some seat (a machine down, an agent and SSH both gone).
    code = 11 if "unknown" in statuses else (1 if "fail" in statuses else 0)
    if as_json:
        echo_json({k: (v.as_dict() if hasattr(v, "as_dict") else {"status": "unknown", "why": v}) for k, v in out.items()})
        ctx.exit(code)
    rows = []
    for seat, rep in out.items():
        if hasattr(rep, "as_dict"):
            g = rep.as_dict()["groups"]
            failed = ", ".join(r.id for r in rep.results if r.status != "pass")
            rows.append([seat, rep.status, g["functional"], g["integrity"], g["security"], failed or "-"])
        else:
            rows.append([seat, "unknown", "-", "-", "-", f"no verdict: {rep}"])
    click.echo(table(rows, ["SEAT", "STATUS", "FUNCTIONAL", "INTEGRITY", "SECURITY", "NOT PASSING / WHY"]))
    ctx.exit(code)


@command.command("reset-seat")
@click.argument("name")
@click.argument("seat")
@click.option("--new-fault", is_flag=True,
              help="Give the seat another fault or variant from the scenario's pool, with a new ticket.")
@json_option
@click.pass_context
def reset_seat(ctx, name, seat, new_fault, as_json) -> None:
    """Give SEAT its broken machine back (crashed, powered off, wrecked); its ticket and notes stay."""
    st = sessions(ctx).reset_seat(name, seat, new_fault=new_fault, progress=progress)
    if as_json:
        echo_json(st.as_dict())
        return
    click.echo(f"{st.seat}: {st.fault} ({st.variant}) injected" + (" (a new fault; new ticket)" if new_fault else " again")
               + f"; machine {st.machine}; ticket {st.ticket_state}")
    click.echo(f"give time back if needed: labctl session extend {name} MINUTES --seat {st.seat}")


@command.command("extend")
@click.argument("name")
@click.argument("minutes", type=int)
@click.option("--seat", help="Only this seat (default: the whole session).")
@click.pass_context
def extend(ctx, name, minutes, seat) -> None:
    """Move the time limit and the SLA due times by MINUTES."""
    s = sessions(ctx).extend(name, minutes, seat)
    d = s.deadline()
    click.echo(f"session {s.name}: +{minutes} min for {seat or 'everyone'}; "
               f"time limit now {d.isoformat(timespec='minutes') if d else '-'} (UTC, before per-seat extensions)")


@command.command("close")
@click.argument("name")
@click.pass_context
def close(ctx, name) -> None:
    """End the session: tickets freeze; open tickets count as not done."""
    s = sessions(ctx).close(name)
    click.echo(f"session {s.name} closed at {s.closed}; report: labctl session report {s.name}")


@command.command("codes")
@click.argument("name")
@click.option("--trainee", help="Only this trainee (default: everyone).")
@click.pass_context
def codes(ctx, name, trainee) -> None:
    """Make new access codes (the old ones stop working) and show them once."""
    new = sessions(ctx).issue_codes(name, trainee)
    click.echo(table([[k, v] for k, v in new.items()], ["TRAINEE", "CODE"]))


@command.command("grade")
@click.argument("name")
@click.argument("seat")
@click.option("--c1", type=click.Choice(["pass", "fail", "clear"]), help="Override C1 (result).")
@click.option("--c2", type=click.Choice(["pass", "fail", "clear"]), help="Override C2 (approach).")
@click.option("--c3", type=click.Choice(["pass", "fail", "clear"]), help="Override C3 (rules).")
@click.option("--c4", type=click.Choice(["pass", "fail", "clear"]), help="C4 (communication): the instructor's call.")
@click.option("--comment", help="The instructor's comment (shown in the report).")
@click.option("--by", default="instructor", show_default=True, help="Who grades.")
@json_option
@click.pass_context
def grade_(ctx, name, seat, c1, c2, c3, c4, comment, by, as_json) -> None:
    """Record the instructor's grading of SEAT (C4, overrides); without options, show the grade."""
    lib = sessions(ctx)
    if any(v is not None for v in (c1, c2, c3, c4, comment)):
        g = lib.set_grade(name, seat, by=by, comment=comment, c1=c1, c2=c2, c3=c3, c4=c4)
    else:
        g = lib.grade(name, seat)
    if as_json:
        echo_json(g.as_dict())
        return
    for item in (g.result, g.time, g.c1, g.c2, g.c3, g.c4):
        click.echo(f"{item.id:7} {item.status:10} {'; '.join(item.reasons)}" + (f"  [{item.by}]" if item.by != "labctl" else ""))
    click.echo(f"overall {g.overall}" + (f"  - {g.comment}" if g.comment else ""))


@command.command("report")
@click.argument("name")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Folder the report files go to.")
@click.option("--format", "formats", type=click.Choice(["html", "csv", "json"]), multiple=True,
              help="Only these formats (repeat; default: all three).")
@click.pass_context
def report(ctx, name, out_dir, formats) -> None:
    """Write the session's report: NAME-report.html (printable), .csv (a row per trainee), .json."""
    from ..sessions.report import FORMATS, write_report

    s, seats = sessions(ctx).report(name)
    for path in write_report(s, seats, out_dir, tuple(formats) or FORMATS):
        click.echo(str(path))


@command.command("destroy")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@click.option("--purge", is_flag=True, help="Also delete the session's records (tickets, notes, grades).")
@click.pass_context
def destroy(ctx, name, yes, purge) -> None:
    """Destroy the session's seats; records stay (for reports) unless --purge."""
    if not yes:
        click.confirm(f"Destroy every seat of session {name}" + (" and its records" if purge else "") + "?", abort=True)
    gone = sessions(ctx).destroy(name, purge=purge, progress=progress)
    click.echo(f"session {name}: {len(gone)} seat(s) destroyed" + ("; records purged" if purge else "; records kept"))
