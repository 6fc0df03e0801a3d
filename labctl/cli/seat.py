"""labctl seat: the virtual workstations."""

from __future__ import annotations

import click

from ..seats import SeatInfo, SeatManager
from .common import echo_json, get_config, json_option, progress, table


@click.group("seat")
def command() -> None:
    """Create, inspect, reset and destroy seats (virtual workstations)."""


def _mgr(ctx: click.Context, **overrides) -> SeatManager:
    return SeatManager(get_config(ctx, **overrides))


def connect_text(info: SeatInfo) -> str:
    """How to reach a seat, for the instructor's screen."""
    r = info.record
    c = info.credentials
    host = r.listen
    lines = [f"seat {info.name}  ({info.status}, image {r.image} {r.image_digest}, domain {info.domain})"]
    if info.vnc_port:
        screen = "the user's live desktop" if r.ports.get("rdp") else "the machine's console"
        lines.append(f"  VNC console : {host}:{info.vnc_port}" + (f"   password {c.vnc_password}" if c else "")
                     + f"   ({screen})")
        lines.append(f"                e.g. vncviewer {host}::{info.vnc_port}")
    lines.append(f"  SSH         : ssh -i {info.folder}/id_ed25519 -o UserKnownHostsFile={info.folder}/known_hosts "
                 f"-p {r.ports['ssh']} support@{host}")
    if c:
        lines.append(f"  accounts    : alex (the user) / {c.user_password}    support (technician, sudo) / {c.support_password}")
    if r.ports.get("rdp"):
        lines.append(f"  RDP         : {host}:{r.ports['rdp']}   (a session of its own, as support or alex)")
        fp = info.rdp_fingerprint
        if fp:
            lines.append(f"                certificate SHA-256 {fp}")
            lines.append(f"                e.g. xfreerdp /v:{host}:{r.ports['rdp']} /u:support /cert:fingerprint:sha256:{fp}")
        else:
            lines.append(f"                e.g. xfreerdp /v:{host}:{r.ports['rdp']} /u:support")
    if r.company:
        lines.append(f"  company     : corp.lab (VPN, network folder //files.corp.lab/{info.name}, "
                     "https://intranet.corp.lab/)")
    if r.fault:
        lines.append(f"  fault       : {r.fault}")
    return "\n".join(lines)


@command.command("create")
@click.argument("names", nargs=-1, required=True)
@click.option("--image", help="Image to boot (default from config).")
@click.option("--accel", type=click.Choice(["auto", "kvm", "qemu"]), help="Override acceleration.")
@click.option("--listen", help="Address consoles listen on (default 127.0.0.1).")
@click.option("--parallel", type=click.IntRange(1, 32), default=None, show_default="one per host core",
              help="Seats created at the same time.")
@click.option("--cold", is_flag=True, help="Boot each seat instead of starting it from the image's warm state.")
@click.option("--company", is_flag=True,
              help="Wire the seats to the lab's company server (started if needed): VPN, network folder, intranet.")
@json_option
@click.pass_context
def create(ctx, names, image, accel, listen, parallel, cold, company, as_json) -> None:
    """Create and boot seats NAMES from an image, each with its saved pristine state."""
    mgr = _mgr(ctx, accel=accel, listen=listen, warm_start=False if cold else None)
    if len(names) == 1:
        made, errors = [mgr.create(names[0], image, company=company, progress=progress)], {}
    else:
        made, errors = mgr.create_many(list(names), image, parallel=parallel, company=company, progress=progress)
    if as_json:
        echo_json([m.as_dict(secrets_too=True) for m in made])
    elif made:
        click.echo("\n\n".join(connect_text(m) for m in made))
    for name, exc in errors.items():
        click.secho(f"error: seat {name}: {exc.message}", fg="red", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
    if errors:
        ctx.exit(max(e.exit_code for e in errors.values()))


@command.command("list")
@json_option
@click.pass_context
def list_(ctx, as_json) -> None:
    """List seats and their state."""
    seats = _mgr(ctx).list()
    if as_json:
        echo_json([s.as_dict() for s in seats])
        return
    if not seats:
        click.echo("no seats (create one: labctl seat create NAME)")
        return
    click.echo(table([[s.name, s.status, s.record.image, s.record.listen, s.record.ports.get("ssh", "-"),
                       s.vnc_port or "-", s.record.fault or "-"] for s in seats],
                     ["SEAT", "STATUS", "IMAGE", "LISTEN", "SSH", "VNC", "FAULT"]))


@command.command("info")
@click.argument("name")
@json_option
@click.option("--secrets/--no-secrets", default=True, help="Include passwords (default yes).")
@click.pass_context
def info(ctx, name, as_json, secrets) -> None:
    """Show how to connect to seat NAME."""
    i = _mgr(ctx).info(name)
    if as_json:
        echo_json(i.as_dict(secrets_too=secrets))
    else:
        click.echo(connect_text(i) if secrets else connect_text(i.__class__(**{**i.__dict__, "credentials": None})))


@command.command("screenshot")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.pass_context
def screenshot(ctx, name, file) -> None:
    """Save what seat NAME's screen shows now (the VNC console's picture) as a PNG FILE."""
    scr = _mgr(ctx).screen(name)
    with open(file, "wb") as fh:
        fh.write(scr.png())
    click.echo(f"{file}: {scr.width}x{scr.height}, {scr.colours()} colours")


@command.command("start")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def start(ctx, names) -> None:
    """Boot stopped seats and wait until they answer."""
    mgr = _mgr(ctx)
    for name in names:
        i = mgr.start(name)
        click.echo(f"{name}: {i.status}")


@command.command("stop")
@click.argument("names", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Power off at once instead of a clean shutdown.")
@click.pass_context
def stop(ctx, names, force) -> None:
    """Shut seats down (their disks and pristine state are kept)."""
    mgr = _mgr(ctx)
    for name in names:
        i = mgr.stop(name, force=force)
        click.echo(f"{name}: {i.status}")


@command.command("reset")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def reset(ctx, names) -> None:
    """Return seats to their pristine state, running and reachable."""
    mgr = _mgr(ctx)
    for name in names:
        secs = mgr.reset(name)
        click.echo(f"{name}: pristine again in {secs:.1f} s")


@command.command("destroy")
@click.argument("names", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@click.pass_context
def destroy(ctx, names, yes) -> None:
    """Remove seats: domain, disks, pristine state, keys and ports."""
    if not yes:
        click.confirm(f"Destroy {', '.join(names)}? Their disks are deleted", abort=True)
    mgr = _mgr(ctx)
    for name in names:
        mgr.destroy(name)
        click.echo(f"{name}: destroyed")
