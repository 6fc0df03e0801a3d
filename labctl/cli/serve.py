"""labctl serve: the web app - trainees' portal, instructor's dashboard, seats' screens in the browser."""

from __future__ import annotations

import click

from .common import get_config


def urls(listen: str, port: int, secret: str, session: str | None) -> tuple[str, str]:
    host = f"[{listen}]" if ":" in listen else listen
    if listen in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    base = f"http://{host}:{port}"
    trainee = base + "/" + (f"?session={session}" if session else "")
    return trainee, f"{base}/instructor/login#{secret}"


@click.command("serve")
@click.option("--listen", default="127.0.0.1", show_default=True,
              help="Address to listen on; another than loopback makes the app reachable from the network.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="TCP port.")
@click.option("--session", help="The session trainees log in to by default, and the dashboard opens on.")
@click.option("--new-secret", is_flag=True, help="Make a new instructor secret (the old one stops working).")
@click.option("--print-urls", is_flag=True, help="Print the trainees' and the instructor's URLs, and exit.")
@click.pass_context
def command(ctx, listen, port, session, new_secret, print_urls) -> None:
    """Serve the web app: trainees log in with their access code; the instructor with the lab's secret."""
    from ..web.app import is_loopback
    from ..web.auth import WebSecrets

    cfg = get_config(ctx)
    secrets = WebSecrets.load(cfg.state_dir, renew=new_secret)
    trainee_url, instructor_url = urls(listen, port, secrets.instructor, session)
    click.echo(f"trainees:   {trainee_url}")
    click.echo(f"instructor: {instructor_url}")
    click.echo(f"            (secret in {secrets.folder / 'instructor.secret'})")
    if print_urls:
        return
    try:
        from aiohttp import web
    except ImportError:
        from ..errors import HostError

        raise HostError("labctl serve needs aiohttp", hint="pip install aiohttp (scripts/setup.sh installs it)") from None
    from ..sessions import Sessions
    from ..web.app import make_app

    if not is_loopback(listen):
        click.secho(f"warning: listening on {listen}: anyone who reaches this address can try the login pages; "
                    "use a classroom network you trust (there is no TLS)", fg="yellow", err=True)
    lib = Sessions(cfg)
    if session:
        lib.get(session)  # a clear error now rather than on the first page
    app = make_app(lib, secrets, default_session=session)
    web.run_app(app, host=listen, port=port, print=lambda m: click.echo(m, err=True), access_log=None,
                handle_signals=True)
