"""labctl doctor: check the lab host."""

from __future__ import annotations

import click

from ..doctor import run_doctor
from .common import echo_json, get_config, json_option


@click.command("doctor")
@json_option
@click.pass_context
def command(ctx: click.Context, as_json: bool) -> None:
    """Check what this host needs to run a lab, and say how to fix each problem."""
    findings = run_doctor(get_config(ctx))
    failed = [f for f in findings if not f.ok and f.severity == "error"]
    if as_json:
        echo_json([f.as_dict() for f in findings])
    else:
        for f in findings:
            mark = click.style("ok  ", fg="green") if f.ok else (
                click.style("FAIL", fg="red") if f.severity == "error" else click.style("warn", fg="yellow"))
            click.echo(f"{mark} {f.name}: {f.detail}")
            if not f.ok and f.fix:
                click.echo(f"     fix: {f.fix}")
        click.echo(f"\n{len(failed)} problem(s)" if failed else "\nthis host is ready")
    ctx.exit(1 if failed else 0)
