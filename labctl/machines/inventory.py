"""Which machines on the host are labctl's seats, read from their domain metadata."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Iterator

from .record import SeatRecord
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
        if rec is not None and rec.state not in ("golden", "rescue"):
            yield dom, rec
