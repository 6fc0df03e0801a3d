"""labctl server: the lab's company server (corp.lab: VPN, files, intranet, DNS)."""

from __future__ import annotations

import click

from ..server import ServerManager, ServerStatus
from .common import echo_json, get_config, json_option, progress


@click.group("server")
def command() -> None:
    """Start, stop and inspect the company server the seats' company network runs on."""


def _mgr(ctx: click.Context) -> ServerManager:
    return ServerManager(get_config(ctx))


def status_text(st: ServerStatus) -> str:
    if not st.exists:
        return f"company server {st.domain}: not made (labctl server start)"
    rec = st.record
    lines = [f"company server {st.domain}: {'running' if st.running else 'stopped'}"
             + (f", image {rec.image} {rec.image_digest}" if rec else "")]
    if rec:
        for svc, port in sorted(rec.ports.items()):
            state = "" if not st.running else ("  answers" if st.answering.get(svc) else "  NOT answering")
            lines.append(f"  {svc:<4} 127.0.0.1:{port}{state}")
    for svc, state in st.services.items():
        lines.append(f"  service {svc}: {state}")
    return "\n".join(lines)


@command.command("start")
@json_option
@click.pass_context
def start(ctx, as_json) -> None:
    """Start the company server (made on first use; starting it again is harmless)."""
    st = _mgr(ctx).start(progress=progress)
    echo_json(st.as_dict()) if as_json else click.echo(status_text(st))


@command.command("stop")
@click.pass_context
def stop(ctx) -> None:
    """Shut the company server down (its disk and the lab's CA stay)."""
    click.echo(status_text(_mgr(ctx).stop()))


@command.command("status")
@json_option
@click.pass_context
def status(ctx, as_json) -> None:
    """Whether the server runs, its ports answer and its services are up."""
    st = _mgr(ctx).status()
    echo_json(st.as_dict()) if as_json else click.echo(status_text(st))


@command.command("destroy")
@click.confirmation_option(prompt="Remove the company server, its disk (network folders) and the lab's CA?")
@click.pass_context
def destroy(ctx) -> None:
    """Remove the company server, its disk and the lab's CA."""
    _mgr(ctx).destroy()
    click.echo("company server removed")
