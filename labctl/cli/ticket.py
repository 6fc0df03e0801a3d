"""labctl ticket: the simulated ticket tool (the web portal, labctl serve, calls the same library)."""

from __future__ import annotations

import click

from .common import echo_json, json_option
from .session import sessions

by_option = click.option("--by", default="trainee", show_default=True, help="Who acts (name in the history).")


@click.group("ticket")
def command() -> None:
    """A seat's ticket: show, acknowledge, note, escalate, resolve, reopen."""


def _show(view, as_json: bool) -> None:
    if as_json:
        echo_json(view.as_dict())
        return
    t = view.ticket
    click.echo(f"{t.number}  [{t.priority}] {t.subject}")
    click.echo(f"  state {t.state}" + (f" ({t.outcome})" if t.outcome else "") +
               f"; impact {t.impact}, urgency {t.urgency}; opened {t.opened or '-'}; "
               f"due {view.due.isoformat(timespec='seconds') if view.due else '-'}")
    a = t.asset
    click.echo(f"  asset: {a.get('host')} (seat {a.get('seat')}, image {a.get('image')}, {a.get('os')}); "
               f"user {a.get('user')}; {view.mode}" + (" - phone only, no access to the machine" if view.mode == "phone" else ""))
    click.echo(f"  trainees: {', '.join(view.trainees)}")
    click.echo("")
    for line in t.body.rstrip().splitlines():
        click.echo(f"  | {line}")
    if t.resolution:
        click.echo(f"\n  resolution: {t.resolution}")
    if t.escalation:
        click.echo(f"  escalation: observed: {t.escalation.get('observed')}; tried: {t.escalation.get('tried')}; "
                   f"why level 2: {t.escalation.get('reason')}")
    if view.events:
        click.echo("\n  history:")
        for e in view.events:
            kind = e.kind + (f" ({e.note_kind})" if e.note_kind else "")
            click.echo(f"    {e.at[:19]}  {e.actor:10} {kind:22} {e.text}")


@command.command("show")
@click.argument("session")
@click.argument("seat")
@json_option
@click.pass_context
def show(ctx, session, seat, as_json) -> None:
    """Show SEAT's ticket in SESSION: the work order, the SLA clock and the history (SEAT: name, number or trainee)."""
    _show(sessions(ctx).ticket(session, seat), as_json)


@command.command("ack")
@click.argument("session")
@click.argument("seat")
@by_option
@json_option
@click.pass_context
def ack(ctx, session, seat, by, as_json) -> None:
    """Acknowledge the ticket (the trainee takes it)."""
    _show(sessions(ctx).acknowledge(session, seat, by=by), as_json)


@command.command("note")
@click.argument("session")
@click.argument("seat")
@click.argument("text")
@click.option("--kind", type=click.Choice(["diagnosis", "action", "communication"]), required=True,
              help="What the note records.")
@by_option
@json_option
@click.pass_context
def note(ctx, session, seat, text, kind, by, as_json) -> None:
    """Add a timestamped note: a diagnosis, an action, or a communication with the user."""
    _show(sessions(ctx).note(session, seat, kind, text, by=by), as_json)


@command.command("escalate")
@click.argument("session")
@click.argument("seat")
@click.option("--observed", required=True, help="What was observed (symptoms, messages, facts).")
@click.option("--tried", required=True, help="What was tried, and what it gave.")
@click.option("--reason", required=True, help="Why it needs level 2.")
@by_option
@json_option
@click.pass_context
def escalate(ctx, session, seat, observed, tried, reason, by, as_json) -> None:
    """Escalate to level 2 with the information it needs (the post-checks run for the record)."""
    _show(sessions(ctx).escalate(session, seat, observed=observed, tried=tried, reason=reason, by=by), as_json)


@command.command("resolve")
@click.argument("session")
@click.argument("seat")
@click.option("--resolution", required=True, help="What was done and how it was verified.")
@by_option
@json_option
@click.pass_context
def resolve(ctx, session, seat, resolution, by, as_json) -> None:
    """Resolve the ticket: the post-checks run and their outcome is recorded."""
    _show(sessions(ctx).resolve(session, seat, resolution=resolution, by=by), as_json)


@command.command("reopen")
@click.argument("session")
@click.argument("seat")
@click.option("--reason", required=True, help="Why it is reopened.")
@click.option("--by", default="instructor", show_default=True, help="Who reopens.")
@json_option
@click.pass_context
def reopen(ctx, session, seat, reason, by, as_json) -> None:
    """Reopen a resolved or escalated ticket (instructor)."""
    _show(sessions(ctx).reopen(session, seat, reason=reason, by=by), as_json)
