"""labctl cache: what labctl keeps outside seats (built images, warm states), and pruning it."""

from __future__ import annotations

import sys

import click

from .. import cache
from ..errors import LabError
from .common import echo_json, get_config, json_option, table

@click.group("cache")
def command() -> None:
    """Show and prune built images, warm states and faults' prepared states kept in the cache."""


def _host(cfg):
    """The machines on this host with their builds, and the acceleration seats get today."""
    from ..hypervisor.accel import choose_accel, host_facts
    from ..hypervisor.libvirt_backend import LibvirtBackend
    from ..machines.inventory import image_users

    backend = LibvirtBackend(cfg.libvirt_uri)
    accel = choose_accel(cfg.accel, domain_types=backend.domain_types(), **host_facts()).accel
    return image_users(backend), accel


def _mib(n: int) -> str:
    return f"{n / 1024**2:.0f}"


@command.command("list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """Show every cached image build, warm state and prepared state: size, status, which machines use it."""
    cfg = get_config(ctx)
    users, accel = _host(cfg)
    entries = cache.inspect(cfg, users, accel=accel)
    if as_json:
        echo_json({"cache_dir": str(cfg.cache_dir),
                   "images": [e.as_dict() for e in entries if e.kind == cache.IMAGE],
                   "warm_states": [e.as_dict() for e in entries if e.kind == cache.WARM],
                   "prepared_states": [e.as_dict() for e in entries if e.kind == cache.PREPARED]})
        return
    if not entries:
        click.echo(f"the cache ({cfg.cache_dir}) is empty")
    else:
        click.echo(table([[e.kind, e.image + (f" {e.what}" if e.what else ""), e.key or "-", _mib(e.size_bytes),
                           e.made_at or "-",
                           e.status + (f" ({e.problem})" if e.problem else ""),
                           ", ".join(e.users) or "-"] for e in entries],
                         ["KIND", "IMAGE", "KEY", "MIB", "MADE", "STATUS", "IN USE BY"]))
        total = sum(e.size_bytes for e in entries)
        click.echo(f"\n{len(entries)} entries, {_mib(total)} MiB on disk under {cfg.cache_dir}")


@command.command("prune")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option("--all-stale", is_flag=True, help="Also remove each image's previous build and its warm states.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@click.pass_context
def prune(ctx: click.Context, dry_run: bool, all_stale: bool, yes: bool) -> None:
    """Remove stale and broken cache entries that no machine on this host uses."""
    cfg = get_config(ctx)
    users, accel = _host(cfg)
    if not dry_run and not yes:
        if not sys.stdin.isatty():
            raise LabError("labctl cache prune deletes files and there is no terminal to ask on",
                           hint="add --yes to prune without asking, or --dry-run to see what would go")
        preview = cache.prune(cfg, users, accel=accel, all_stale=all_stale, dry_run=True)
        if not any(d.remove for d in preview.decisions):
            _report(preview)
            return
        for d in preview.decisions:
            if d.remove:
                click.echo(f"would remove {d.entry.kind} {d.entry.image} {d.entry.key}: {d.reason}")
        click.confirm(f"Remove these ({_mib(preview.freed_bytes)} MiB)?", abort=True)
    result = cache.prune(cfg, users, accel=accel, all_stale=all_stale, dry_run=dry_run)
    _report(result)
    if any(r.error for r in result.removals):
        ctx.exit(1)


def _report(result: cache.PruneResult) -> None:
    verb = "would remove" if result.dry_run else "removed"
    for d in result.decisions:
        if not d.remove and d.entry.status != cache.CURRENT:
            click.echo(f"kept {d.entry.kind} {d.entry.image} {d.entry.key or d.entry.folder.name}: {d.reason}")
    if result.dry_run:
        for d in result.decisions:
            if d.remove:
                click.echo(f"{verb} {d.entry.kind} {d.entry.image} {d.entry.key or d.entry.folder.name} "
                           f"({_mib(d.entry.size_bytes)} MiB): {d.reason}")
    for r in result.removals:
        name = f"{r.entry.kind} {r.entry.image} {r.entry.key or r.entry.folder.name}"
        if r.error:
            click.secho(f"partly removed {name} ({_mib(r.freed_bytes)} MiB freed): {r.error}", fg="red", err=True)
        else:
            click.echo(f"{verb} {name} ({_mib(r.freed_bytes)} MiB)")
    n = sum(1 for d in result.decisions if d.remove)
    click.echo(f"{verb} {n} entr{'y' if n == 1 else 'ies'}, {_mib(result.freed_bytes)} MiB "
               + ("would be freed" if result.dry_run else "freed"))
