"""Entry point: the root ``labctl`` group and the error edge."""

from __future__ import annotations

import importlib
import sys
import time

import click

from .. import __version__, timing
from ..errors import LabError

# Command groups (and single commands), one module each under labctl.cli; one is added by listing it here.
GROUPS = ("image", "cache", "seat", "server", "fault", "session", "ticket", "serve", "doctor")


class LabGroup(click.Group):
    """Turns library errors into one clean line and an exit code (tracebacks with --debug)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LabError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.secho(f"error: {exc.message}", fg="red", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=LabGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="labctl")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="LABCTL_CONFIG",
              help="Config file (default /etc/labctl/config.toml).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option("-v", "--verbose", is_flag=True,
              help="At the end, print where the time went (boot, personalise, playbooks, checks...).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool, verbose: bool) -> None:
    """labctl - a classroom of real, broken workstations for helpdesk training."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["debug"] = debug
    if verbose:
        started = time.monotonic()
        timing.clear()
        # On the way out, whether the command succeeded or not: a slow failure is
        # exactly when the breakdown is wanted.
        ctx.call_on_close(lambda: click.echo(timing.render(time.monotonic() - started), err=True))


for _name in GROUPS:
    _mod = importlib.import_module(f"labctl.cli.{_name}")
    cli.add_command(_mod.command)


def main() -> None:
    cli(prog_name="labctl")


if __name__ == "__main__":
    sys.exit(main())
