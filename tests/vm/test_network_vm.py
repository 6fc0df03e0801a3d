"""The company network on real guests: one company server and one company seat per module.

Proves the wiring of docs/network.md end to end: names resolve in the seat, the
VPN connects and carries the traffic to the intranet (which answers nowhere
else), the network folder really lives on the server's disk, a seat reset
reconnects, and doctor reports the server. No host network interface is made.
"""

from __future__ import annotations

import secrets
import subprocess

import pytest

from labctl.server import VPN_SERVER_ADDRESS, ServerManager

pytestmark = pytest.mark.vm
WAIT_VPN = ("for i in $(seq 1 120); do ip -4 addr show dev tun0 2>/dev/null | grep -q 'inet 10.8.0.' && exit 0; "
            "sleep 0.5; done; exit 1")


@pytest.fixture(scope="module")
def server(lab_cfg, vm_ready):
    from labctl import images
    from labctl.errors import LabError

    from ..conftest import IN_CI, _unavailable

    try:
        images.find_built(lab_cfg, "server")
    except LabError:
        if not IN_CI:
            _unavailable("server image not built (labctl image build server)")
        images.build(lab_cfg, "server")
    mgr = ServerManager(lab_cfg)
    mgr.start()
    yield mgr
    mgr.destroy()


@pytest.fixture(scope="module")
def company_seat(seat_manager, server):
    from labctl.errors import NotFoundError

    name = f"net-{secrets.token_hex(2)}"
    seat_manager.create(name, company=True)
    yield name
    try:
        seat_manager.destroy(name)
    except NotFoundError:
        pass  # the last test destroys it


def _links() -> set[str]:
    return set(subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout.split("\n"))


def test_server_start_is_idempotent_and_listens_on_loopback_only(server):
    before = server.status()
    again = server.start()
    assert again.running and again.record.ports == before.record.ports
    assert all(again.answering.values()) and set(again.answering) == {"dns", "vpn"}
    assert set(again.services.values()) == {"active"}, again.services
    xml = server.backend.xml(server.backend.get(server.domain_name))
    for port in again.record.ports.values():
        assert f"hostfwd=tcp:127.0.0.1:{port}-" in xml


def test_names_resolve_in_the_seat_through_the_company_dns(seat_manager, company_seat):
    res = seat_manager.agent(company_seat).sh("getent hosts intranet.corp.lab vpn.corp.lab files.corp.lab")
    assert res.ok, res.stderr
    got = {line.split()[1]: line.split()[0] for line in res.stdout.splitlines()}
    assert got == {"intranet.corp.lab": VPN_SERVER_ADDRESS, "vpn.corp.lab": "10.0.2.100",
                   "files.corp.lab": VPN_SERVER_ADDRESS}


def test_the_vpn_carries_the_intranet_and_nothing_else_reaches_it(seat_manager, company_seat):
    agent = seat_manager.agent(company_seat)
    # The VPN reconnects after every restore (the pristine state was just restored).
    assert agent.sh(WAIT_VPN, timeout=90).ok, "the VPN did not come up"
    # As the user, by name, verified against the lab CA (system trust store), through tun0.
    res = agent.run(["curl", "-sS", "--max-time", "30", "-w", "\n%{local_ip}", "https://intranet.corp.lab/"],
                    user="alex", timeout=60)
    assert res.ok, res.stderr
    body, local_ip = res.stdout.rsplit("\n", 1)
    assert "corp.lab intranet" in body
    assert local_ip.startswith("10.8.0."), local_ip  # the VPN address, not the seat's 10.0.2.15
    tun = agent.sh("ip -4 -o addr show dev tun0")
    assert local_ip in tun.stdout
    # With the VPN down the intranet does not answer at all.
    assert agent.sh("systemctl stop openvpn-client@corp").ok
    down = agent.run(["curl", "-sS", "--max-time", "8", "https://intranet.corp.lab/"], timeout=30)
    assert not down.ok
    assert agent.sh("systemctl start openvpn-client@corp && " + WAIT_VPN, timeout=90).ok
    # The server saw the seat's VPN identity (its certificate's CN is the seat's name).
    status = server_status_file(seat_manager, company_seat)
    assert f"CLIENT_LIST,{company_seat}," in status


def server_status_file(seat_manager, seat) -> str:
    """The VPN gateway's list of connected clients (rewritten every 60 s by openvpn)."""
    srv = ServerManager(seat_manager.cfg)
    return srv.agent().sh(
        f"for i in $(seq 1 75); do grep -q '^CLIENT_LIST,{seat},' /run/openvpn-server/status-corp.log && break; "
        "sleep 1; done; cat /run/openvpn-server/status-corp.log", timeout=100).stdout


def test_the_network_folder_is_on_the_server(seat_manager, company_seat, server):
    agent = seat_manager.agent(company_seat)
    token = secrets.token_hex(8)
    res = agent.run(["/bin/sh", "-c", f"echo {token} > ~/Network/proof.txt && cat ~/Network/proof.txt"],
                    user="alex", timeout=90)
    assert res.ok and res.stdout.strip() == token, res.stderr
    assert "cifs" in agent.sh("findmnt -n -o FSTYPE /home/alex/Network").stdout
    on_server = server.agent().sh(f"cat /srv/shares/{company_seat}/proof.txt; stat -c %U /srv/shares/{company_seat}/proof.txt")
    assert on_server.stdout.split() == [token, company_seat]
    # The user's key and the folder's password are root's alone on the seat.
    perms = agent.sh("stat -c '%a %U' /etc/openvpn/client/corp.key /etc/corp/smb-credentials").stdout.split("\n")
    assert [p for p in perms if p] == ["600 root", "600 root"]
    assert not agent.run(["cat", "/etc/openvpn/client/corp.key"], user="alex").ok


def test_a_reset_seat_reconnects_the_vpn(seat_manager, company_seat):
    seat_manager.reset(company_seat)
    res = seat_manager.agent(company_seat).run(
        ["/bin/sh", "-c", "for i in $(seq 1 90); do curl -s --max-time 5 -o /dev/null https://intranet.corp.lab/ "
         "&& exit 0; sleep 1; done; exit 1"], user="alex", timeout=150)
    assert res.ok, "the intranet did not answer within 90 s of a reset"


def test_doctor_reports_the_server(lab_cfg, server, company_seat):
    from labctl.doctor import run_doctor

    found = {f.name: f for f in run_doctor(lab_cfg)}
    assert found["company server"].ok and "running" in found["company server"].detail
    assert found["company server dns port"].ok and found["company server vpn port"].ok
    assert found["company server services"].ok


def test_no_host_network_interface_was_made(company_seat):
    names = {line.split(":")[1].strip() for line in _links() if line}
    assert not any(n.startswith(("tap", "virbr", "vnet", "br-", "tun")) for n in names), names


def test_removing_a_seats_user_takes_its_accounts_folders_and_copies_and_nothing_else(server, company_seat):
    agent = server.agent()
    for user in ("zz-gone", "zz-gonex"):
        server.add_user(user, secrets.token_urlsafe(12))
    # A colleague beside the user, made the way network-folder-data-lost makes Sam.
    made = agent.sh(
        "set -e; useradd --no-create-home -d /srv/shares/zz-gone.sam -s /usr/sbin/nologin zz-gone.sam; "
        "install -d -o zz-gone.sam /srv/shares/zz-gone.sam; printf 'Pw-1234567\\nPw-1234567\\n' | "
        "smbpasswd -s -a zz-gone.sam >/dev/null; "
        "for u in zz-gone zz-gone.sam zz-gonex; do echo x > /srv/shares/$u/f; "
        "install -d /srv/backup/$u/2026-01-01; done; install -d -m 700 /var/lib/labctl/checkpoints /var/lib/labctl/nfdl; "
        "touch /var/lib/labctl/checkpoints/zz-gone.staged.tar /var/lib/labctl/checkpoints/zz-gonex.staged.tar; "
        "install -d /var/lib/labctl/nfdl/zz-gone")
    assert made.ok, made.stderr
    server.remove_user("zz-gone")
    server.remove_user("zz-gone")  # idempotent
    left = agent.sh(
        "for u in zz-gone zz-gone.sam zz-gonex; do id -u $u >/dev/null 2>&1 && echo user:$u; "
        "pdbedit -u $u >/dev/null 2>&1 && echo samba:$u; done; "
        "ls -d /srv/shares/zz-* /srv/backup/zz-* /var/lib/labctl/*/zz-* 2>/dev/null; "
        f"id -u {company_seat} >/dev/null && echo seat-user-kept").stdout.split()
    assert sorted(left) == sorted(["user:zz-gonex", "samba:zz-gonex", "/srv/shares/zz-gonex", "/srv/backup/zz-gonex",
                                   "/var/lib/labctl/checkpoints/zz-gonex.staged.tar", "seat-user-kept"]), left
    server.remove_user("zz-gonex")


def test_destroying_a_company_seat_removes_its_user_from_the_server(seat_manager, company_seat, server, monkeypatch):
    # Last in the module: the seat goes. The server stays up to be looked at (after the
    # lab's last company seat it would stop).
    monkeypatch.setattr(seat_manager, "_stop_idle_server", lambda: None)
    assert server.agent().sh(f"id -u {company_seat}").ok
    seat_manager.destroy(company_seat)
    left = server.agent().sh(f"id -u {company_seat}; ls -d /srv/shares/{company_seat} /srv/backup/{company_seat}")
    assert not left.stdout.strip(), left.stdout
