"""The rendered domain XML is locked by reference files and accepted by libvirt.

Regenerate the reference after an intended template change with
``LABCTL_REGENERATE=1 pytest tests/unit/test_domain_xml.py``.
"""

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from labctl.images import BuiltImage
from labctl.seats import SeatRecord, render_domain_xml

DATA = Path(__file__).parent.parent / "data"
IMAGE = BuiltImage(name="workstation", digest="0123456789abcdef", folder=Path("/var/cache/labctl/images/workstation/0123456789abcdef"),
                   built_at="2026-01-01T00:00:00Z", size_bytes=1, kernel_cmdline="root=/dev/vda rw console=ttyS0")


def render(accel="qemu", listen="127.0.0.1"):
    rec = SeatRecord(name="desk1", state="creating", image="workstation", image_digest="0123456789abcdef",
                     listen=listen, ports={"ssh": 42000, "rdp": 42001}, pristine="pristine", created="2026-01-01T00:00:00Z")
    return render_domain_xml(seat="desk1", accel=accel, image=IMAGE, disk=Path("/var/lib/labctl/seats/desk1/disk.qcow2"),
                             console_log=Path("/var/lib/labctl/seats/desk1/console.log"), listen=listen,
                             ports=rec.ports, vnc_password="Ab3&<de'", mac="52:54:00:aa:bb:cc", memory_mib=1024,
                             vcpus=2, record=rec)


@pytest.mark.parametrize("accel", ["qemu", "kvm"])
def test_domain_xml_matches_reference(accel):
    ref = DATA / f"domain-{accel}.xml"
    got = render(accel)
    if os.environ.get("LABCTL_REGENERATE"):
        ref.write_text(got)
    assert got == ref.read_text(), f"domain XML changed; if intended, regenerate {ref.name} (see module docstring)"


def test_domain_xml_escapes_secrets_and_keeps_metadata_namespaced():
    root = ET.fromstring(render())
    g = root.find("./devices/graphics")
    assert g.get("passwd") == "Ab3&<de'"
    assert g.find("listen").get("address") == "127.0.0.1"
    seat = root.find("./metadata/{https://labctl.dev/xmlns/seat/1}seat")
    assert seat is not None and seat.get("name") == "desk1"
    args = [a.get("value") for a in root.iter("{http://libvirt.org/schemas/domain/qemu/1.0}arg")]
    netdev = args[args.index("-netdev") + 1]
    assert "restrict=on" in netdev
    assert "hostfwd=tcp:127.0.0.1:42000-:22" in netdev and "hostfwd=tcp:127.0.0.1:42001-:3389" in netdev


def test_listen_address_reaches_every_forward_and_console():
    xml = render(listen="192.0.2.5")
    assert "hostfwd=tcp:192.0.2.5:42000-:22" in xml
    assert "address='192.0.2.5'" in xml
    assert "127.0.0.1" not in xml


@pytest.mark.parametrize("accel", ["qemu", "kvm"])
def test_libvirt_test_driver_accepts_the_xml(accel):
    libvirt = pytest.importorskip("libvirt")
    libvirt.registerErrorHandler(lambda *a: None, None)
    conn = libvirt.open("test:///default")
    try:
        dom = conn.defineXML(render(accel))
        meta = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, "https://labctl.dev/xmlns/seat/1", 0)
        assert SeatRecord.from_xml(meta).ports == {"ssh": 42000, "rdp": 42001}
        dom.undefine()
    finally:
        conn.close()


def test_seat_record_round_trips_through_libvirt_metadata():
    libvirt = pytest.importorskip("libvirt")
    from labctl.hypervisor.libvirt_backend import LibvirtBackend

    backend = LibvirtBackend("test:///default")
    dom = backend.define(render())
    try:
        rec = SeatRecord.from_xml(backend.get_metadata(dom))
        changed = SeatRecord(**{**rec.__dict__, "fault": "disk-full", "extra": {"variant": "3"}})
        backend.set_metadata(dom, changed.to_xml())
        assert SeatRecord.from_xml(backend.get_metadata(dom)) == changed
    finally:
        dom.undefine()
        backend.close()
