"""Which machines on the host are labctl's seats, read from their domain metadata."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Iterator

from .record import SeatRecord, ServerRecord
from .spec import DOMAIN_PREFIX


def read_seat_record(backend, dom) -> SeatRecord | None:
    """A domain's :class:`SeatRecord`; None if it has none (not labctl's, or unreadable)."""
    xml = backend.get_metadata(dom)
    if not xml:
        return None
    try:
        return SeatRecord.from_xml(xml)
    except ET.ParseError:
        return None


def seat_machines(backend) -> Iterator[tuple[object, SeatRecord]]:
    """Every labctl seat on the host, of every lab: (domain, record).

    The warm-state and rescue machines are left out (they hold no ports and are
    nobody's seat); so is the company server, whose name has no ``labctl-`` prefix.
    """
    for dom in backend.list_domains():
        if not dom.name().startswith(DOMAIN_PREFIX):
            continue
        rec = read_seat_record(backend, dom)
        if rec is not None and rec.state not in ("golden", "rescue", "prepared"):
            yield dom, rec


@dataclass(frozen=True)
class ImageUser:
    """A machine on this host whose disk is a layer on a built image (and so on that build's warm states)."""

    machine: str  # the seat's name, or the domain's for a company server
    image: str
    digest: str
    prepared: str = ""  # the key of the fault's prepared state it was made from, if any


def image_users(backend) -> list[ImageUser]:
    """Every labctl machine on the host, of every lab, with the image build it runs on.

    Seats in any state, the warm-state and rescue machines and company servers are
    all overlays on a built image: removing or rebuilding that build under them
    would corrupt their disks (``image build --force``, ``cache prune``).
    """
    out = []
    for dom in backend.list_domains():
        xml = backend.get_metadata(dom)
        if not xml:
            continue
        server = ServerRecord.from_xml(xml)
        if server is not None:
            if server.image:
                out.append(ImageUser(dom.name(), server.image, server.image_digest))
            continue
        try:
            rec = SeatRecord.from_xml(xml)
        except ET.ParseError:
            continue
        if rec.image:
            out.append(ImageUser(rec.name or dom.name(), rec.image, rec.image_digest, rec.base.get("key", "")))
    return sorted(out, key=lambda u: u.machine)
