"""A machine's libvirt domain XML and its name, from the one domain template."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

if TYPE_CHECKING:
    from ..images import BuiltImage
    from .record import SeatRecord

DOMAIN_PREFIX = "labctl-"
# A seat's services and the guest ports they listen on; the company server passes its own.
GUEST_PORTS = {"ssh": 22, "rdp": 3389}
# The template itself: part of what shapes a saved guest (an image's warm state is keyed by it).
DOMAIN_TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "domain.xml.j2"


def domain_name(seat: str) -> str:
    return DOMAIN_PREFIX + seat


def _template_env() -> Environment:
    return Environment(loader=PackageLoader("labctl", "templates"), undefined=StrictUndefined,
                       autoescape=True, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render_domain_xml(*, seat: str, accel: str, image: BuiltImage, disk: Path, console_log: Path,
                      listen: str, ports: dict[str, int], vnc_password: str, mac: str, memory_mib: int,
                      vcpus: int, record: SeatRecord | None = None, guestfwd: tuple[str, ...] = (),
                      name: str | None = None, title: str | None = None, guest_ports: dict[str, int] | None = None,
                      metadata_xml: str | None = None, extra_disks: tuple[Path, ...] = (),
                      cmdline_extra: str = "") -> str:
    """A guest's libvirt domain XML, from the one domain template.

    Seats by default; the company server (labctl.server) passes its own
    ``name``, ``title``, ``guest_ports`` and metadata. ``guestfwd`` entries that
    run a relay command (``cmd:``) switch to a QEMU sandbox that allows it.
    """
    guest_ports = guest_ports or GUEST_PORTS
    fwds = [f"hostfwd=tcp:{listen}:{port}-:{guest_ports[svc]}" for svc, port in sorted(ports.items())]
    netdev = ",".join(["user", "id=labnet0", "restrict=on", *fwds, *guestfwd])
    meta = metadata_xml if metadata_xml is not None else record.to_xml(namespaced=True)
    return _template_env().get_template("domain.xml.j2").render(
        seat=seat, domain_name=name or domain_name(seat), title=title or f"labctl seat {seat}", accel=accel,
        image=image, disk=disk, console_log=console_log, listen=listen, vnc_password=vnc_password, mac=mac,
        memory_mib=memory_mib, vcpus=vcpus, netdev=netdev, metadata_xml=Markup(meta),
        guest_spawns=any("-cmd:" in g for g in guestfwd), extra_disks=extra_disks, cmdline_extra=cmdline_extra,
    )


def random_mac() -> str:
    return "52:54:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))
