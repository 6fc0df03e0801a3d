"""labctl image: build and list workstation images."""

from __future__ import annotations

import click

from .. import images
from .common import echo_json, get_config, json_option, progress, table


@click.group("image")
def command() -> None:
    """Build and list the images seats boot from."""


@command.command("build")
@click.argument("name", required=False)
@click.option("--force", is_flag=True, help="Rebuild even if the cache holds this recipe.")
@click.pass_context
def build(ctx: click.Context, name: str | None, force: bool) -> None:
    """Build image NAME (default: the default image) unless already cached."""
    cfg = get_config(ctx)
    name = name or cfg.default_image
    if force:
        from ..errors import LabError
        from ..hypervisor.libvirt_backend import LibvirtBackend
        from ..machines.inventory import image_users

        digest = images.load_recipe(cfg.images_dir, name).digest()
        # The image cache is shared by every lab on the host: count their machines too.
        users = [u.machine for u in image_users(LibvirtBackend(cfg.libvirt_uri))
                 if u.image == name and u.digest == digest]
        if users:
            raise LabError(f"machines {', '.join(users)} run on image {name} {digest}; rebuilding it under them would "
                           "corrupt their disks", hint="destroy those seats first, or change the recipe (a new hash "
                           "builds beside the old one)")
    img = images.build(cfg, name, force=force, progress=progress)
    click.echo(f"{img.name} {img.digest} {img.folder}")


@command.command("list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """Show recipes and the images built from them."""
    cfg = get_config(ctx)
    built = images.list_built(cfg)
    rows = []
    for name in images.list_recipes(cfg.images_dir):
        digest = images.load_recipe(cfg.images_dir, name).digest()
        mine = [b for b in built if b.name == name]
        current = next((b for b in mine if b.digest == digest), None)
        rows.append({
            "name": name,
            "recipe_digest": digest,
            "built": current is not None,
            "built_at": current.built_at if current else None,
            "size_mib": current.size_bytes // 1024**2 if current else None,
            "path": str(current.folder) if current else None,
            "stale_builds": [b.digest for b in mine if b.digest != digest],
        })
    if as_json:
        echo_json(rows)
        return
    click.echo(table([[r["name"], r["recipe_digest"], "yes" if r["built"] else "no  (labctl image build " + r["name"] + ")",
                       r["built_at"] or "-", r["size_mib"] if r["size_mib"] is not None else "-"] for r in rows],
                     ["IMAGE", "RECIPE", "BUILT", "BUILT AT", "MIB"]))


@command.command("rm")
@click.argument("name")
@click.option("--digest", help="Remove only this build.")
@click.pass_context
def rm(ctx: click.Context, name: str, digest: str | None) -> None:
    """Remove built images of NAME from the cache."""
    for path in images.remove(get_config(ctx), name, digest):
        click.echo(f"removed {path}")
