"""The company network's logic: lab CA, wiring, server record, company seats' XML, manifests."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from labctl.config import load_config
from labctl.errors import ConfigError
from labctl.faults.manifest import Catalog, load_fault
from labctl.pki import LabPki
from labctl.seats import SeatRecord, render_domain_xml
from labctl.server import (SEAT_SIDE, ServerRecord, company_client_files, fstab_line, seat_guestfwd,
                           server_domain_name)

from .test_domain_xml import IMAGE

ROOT = Path(__file__).resolve().parents[2]
QEMU = "{http://libvirt.org/schemas/domain/qemu/1.0}"


def test_pki_makes_a_ca_server_and_client_certs_root_only_and_revokes(tmp_path):
    pki = LabPki(tmp_path / "pki")
    pki.ensure()
    first = pki.client("ws1")
    assert pki.client("ws1") == first  # issued once, kept
    for p in (tmp_path / "pki").rglob("*.key"):
        assert p.stat().st_mode & 0o077 == 0, p
    assert (tmp_path / "pki").stat().st_mode & 0o077 == 0
    ca = str(pki.ca_cert)
    for crt in ("server.crt", "clients/ws1.crt"):
        out = subprocess.run(["openssl", "verify", "-CAfile", ca, str(tmp_path / "pki" / crt)],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    san = subprocess.run(["openssl", "x509", "-in", str(tmp_path / "pki/server.crt"), "-noout", "-ext",
                          "subjectAltName"], capture_output=True, text=True).stdout
    assert "DNS:intranet.corp.lab" in san and "DNS:vpn.corp.lab" in san
    crt = tmp_path / "pki/clients/ws1.crt"
    kept = crt.read_bytes()
    pki.revoke("ws1")
    (tmp_path / "old.crt").write_bytes(kept)
    out = subprocess.run(["openssl", "verify", "-crl_check", "-CRLfile", str(pki.crl), "-CAfile", ca,
                          str(tmp_path / "old.crt")], capture_output=True, text=True)
    assert out.returncode != 0 and "revoked" in (out.stdout + out.stderr)
    assert pki.client("ws1").cert != kept  # a new identity after a revocation


def test_pki_refuses_bad_client_names(tmp_path):
    with pytest.raises(ConfigError):
        LabPki(tmp_path / "pki").client("../etc")


def test_seat_guestfwd_relays_each_company_address_to_the_servers_loopback_port():
    fwd = seat_guestfwd({"dns": 45000, "vpn": 45001})
    assert fwd == ("guestfwd=tcp:10.0.2.53:53-cmd:nc -N 127.0.0.1 45000",
                   "guestfwd=tcp:10.0.2.100:1194-cmd:nc -N 127.0.0.1 45001")
    for addr, _port in SEAT_SIDE.values():
        assert addr.startswith("10.0.2.") and addr not in ("10.0.2.2", "10.0.2.3", "10.0.2.15")


def _render(guestfwd=()):
    rec = SeatRecord(name="desk1", state="creating", image="workstation", image_digest="0123456789abcdef",
                     listen="127.0.0.1", ports={"ssh": 42000, "rdp": 42001}, company=bool(guestfwd))
    return render_domain_xml(seat="desk1", accel="qemu", image=IMAGE, disk=Path("/d.qcow2"),
                             console_log=Path("/c.log"), listen="127.0.0.1", ports=rec.ports, vnc_password="x",
                             mac="52:54:00:aa:bb:cc", memory_mib=1024, vcpus=1, record=rec, guestfwd=guestfwd)


def test_company_seat_xml_has_relays_and_its_own_sandbox_without_spawn_deny():
    root = ET.fromstring(_render(seat_guestfwd({"dns": 45000, "vpn": 45001})))
    args = [a.get("value") for a in root.iter(QEMU + "arg")]
    netdev = args[args.index("-netdev") + 1]
    assert "restrict=on" in netdev and "guestfwd=tcp:10.0.2.100:1194-cmd:nc -N 127.0.0.1 45001" in netdev
    sandbox = args[args.index("-sandbox") + 1]
    assert sandbox == "on,obsolete=deny,resourcecontrol=deny"
    dropped = [c.get("capability") for c in root.iter(QEMU + "del")]
    assert dropped == ["seccomp-sandbox"]
    seat = root.find("./metadata/{https://labctl.dev/xmlns/seat/1}seat")
    assert SeatRecord.from_xml(ET.tostring(seat, encoding="unicode")).company is True


def test_plain_seat_keeps_libvirts_sandbox():
    xml = _render()
    assert "-sandbox" not in xml and "qemu:capabilities" not in xml and "guestfwd" not in xml


def test_server_record_round_trip_and_is_not_a_seat():
    rec = ServerRecord("ready", "server", "abc", {"dns": 45000, "vpn": 45001}, "2026-01-01T00:00:00Z")
    assert ServerRecord.from_xml(rec.to_xml()) == rec
    assert ServerRecord.from_xml(SeatRecord("s", "ready", "w", "d", "127.0.0.1", {}).to_xml()) is None


def test_server_domain_name_is_per_lab_and_never_a_seats():
    a = server_domain_name(load_config(env={}, state_dir="/var/lib/labctl-a"))
    b = server_domain_name(load_config(env={}, state_dir="/var/lib/labctl-b"))
    assert a != b and a.startswith("labctl.server-")


def test_company_files_are_root_only_where_secret(tmp_path):
    files = company_client_files(LabPki(tmp_path / "pki"), "ws1", "ws1", "pw")
    assert files["/etc/openvpn/client/corp.key"][1] == 0o600
    assert files["/etc/corp/smb-credentials"][1] == 0o600
    assert b"password=pw" in files["/etc/corp/smb-credentials"][0]
    assert fstab_line("ws1").startswith("//files.corp.lab/ws1 /home/alex/Network cifs ")


def test_manifest_network_field(tmp_path):
    assert Catalog(ROOT / "faults").get("no-intranet").needs_company
    assert not Catalog(ROOT / "faults").get("disk-full").needs_company
    import shutil

    bad = tmp_path / "no-intranet"
    shutil.copytree(ROOT / "faults" / "no-intranet", bad)
    text = (bad / "fault.yaml").read_text().replace("network: company", "network: office")
    (bad / "fault.yaml").write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_fault(bad)
    assert "fault.yaml" in str(exc.value) and "network" in str(exc.value)
