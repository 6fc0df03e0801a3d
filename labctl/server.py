"""The company server: one guest per lab that plays corp.lab for its seats.

It runs the VPN gateway (OpenVPN over TCP), the file server (Samba), the
intranet (HTTPS) and the company's DNS, from the ``server`` image. Seats reach
it only through QEMU user-mode networking (docs/network.md): in a seat,
``guestfwd`` maps a company address to a relay that connects to the host's
loopback, where the server's ``hostfwd`` ports listen. No host bridge and no
host-side private address is ever made.

The server is a libvirt domain like a seat, named after the lab's state
folder (``labctl.server-<id>``, a name no seat can take), with its disk,
ports and the lab's CA in ``<state>/server/``. Secrets never live in the image:
:class:`labctl.pki.LabPki` makes them on the host, and :meth:`ServerManager.start`
pushes them in through the guest agent.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shlex
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import images
from .config import Config
from .errors import GuestError, LabError, NotFoundError
from .guest.agent import AgentChannel
from .hypervisor.accel import choose_accel, host_facts
from .hypervisor.libvirt_backend import LibvirtBackend
from .machines.disks import qemu_img_overlay
from .machines.inventory import seat_machines
from .machines.record import ServerRecord
from .machines.spec import random_mac, render_domain_xml
from .machines.states import StateStore
from .pki import LabPki
from .ports import allocate, port_is_free, state_lock

SERVER_IMAGE = "server"
SERVER_MEMORY_MIB = 512
# Inside a seat: the company's addresses on the seat's own user-mode network
# (QEMU's guestfwd needs an address of that network, not the gateway or its DNS).
SEAT_SIDE = {"dns": ("10.0.2.53", 53), "vpn": ("10.0.2.100", 1194)}
# On the server: the service ports the host forwards to.
GUEST_PORTS = {"dns": 53, "vpn": 1194}
VPN_SERVER_ADDRESS = "10.8.0.1"
INTRANET_URL = "https://intranet.corp.lab/"
SERVICES = ("dnsmasq", "smbd", "nginx", "openvpn-server@corp")
TLS_DIR = "/etc/corp/tls"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ServerStatus:
    exists: bool
    running: bool
    domain: str
    record: ServerRecord | None
    answering: dict[str, bool] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"exists": self.exists, "running": self.running, "domain": self.domain,
                "state": self.record.state if self.record else "",
                "image": self.record.image if self.record else "",
                "image_digest": self.record.image_digest if self.record else "",
                "ports": dict(self.record.ports) if self.record else {},
                "answering": dict(self.answering), "services": dict(self.services)}


def server_domain_name(cfg: Config) -> str:
    """One server per lab (state folder); a '.' keeps it apart from every seat's ``labctl-<seat>``."""
    return "labctl.server-" + hashlib.sha256(str(cfg.state_dir.resolve()).encode()).hexdigest()[:8]


def seat_guestfwd(ports: dict[str, int]) -> tuple[str, ...]:
    """The netdev ``guestfwd`` entries that wire a seat to the server's host ports.

    ``cmd:`` starts one relay per connection; the other form (a ``tcp:``
    character device) opens a single connection when QEMU starts and carries
    every later guest connection over it, which breaks DNS and VPN reconnects.
    """
    out = []
    for svc, (addr, port) in sorted(SEAT_SIDE.items()):
        out.append(f"guestfwd=tcp:{addr}:{port}-cmd:nc -N 127.0.0.1 {ports[svc]}")
    return tuple(out)


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class ServerManager:
    """Start, stop, inspect and destroy the lab's company server; provision seat accounts on it."""

    def __init__(self, cfg: Config, backend: LibvirtBackend | None = None):
        self.cfg = cfg
        self.backend = backend or LibvirtBackend(cfg.libvirt_uri)

    @property
    def folder(self) -> Path:
        return self.cfg.state_dir / "server"

    @property
    def pki(self) -> LabPki:
        return LabPki(self.folder / "pki")

    @property
    def domain_name(self) -> str:
        return server_domain_name(self.cfg)

    def _dom(self):
        return self.backend.lookup(self.domain_name)

    def _record(self, dom) -> ServerRecord | None:
        xml = self.backend.get_metadata(dom)
        return ServerRecord.from_xml(xml) if xml else None

    def agent(self) -> AgentChannel:
        dom = self._dom()
        if dom is None or not dom.isActive():
            raise NotFoundError("the company server is not running", hint="labctl server start")
        return self.backend.agent(dom)

    def ports(self) -> dict[str, int]:
        dom = self._dom()
        rec = self._record(dom) if dom is not None else None
        if rec is None:
            raise NotFoundError("the lab has no company server", hint="labctl server start")
        return dict(rec.ports)

    # -- status ------------------------------------------------------------------
    def status(self, *, probe: bool = True) -> ServerStatus:
        dom = self._dom()
        if dom is None:
            return ServerStatus(False, False, self.domain_name, None)
        rec = self._record(dom)
        running = bool(dom.isActive())
        answering: dict[str, bool] = {}
        services: dict[str, str] = {}
        if probe and running and rec:
            answering = {svc: port_answers(p) for svc, p in sorted(rec.ports.items())}
            try:
                res = self.backend.agent(dom).run(["/bin/systemctl", "is-active", *SERVICES], timeout=20)
                services = dict(zip(SERVICES, res.stdout.split()))
            except GuestError:
                services = {}
        return ServerStatus(True, running, self.domain_name, rec, answering, services)

    # -- start / stop ------------------------------------------------------------
    def start(self, *, progress: Progress | None = None) -> ServerStatus:
        """Make sure the server runs with the lab's keys in and its services up; idempotent.

        The first start makes everything (CA, disk, ports, domain); a failure
        then removes what it made. Later starts boot the existing server.
        """
        say = progress or (lambda _m: None)
        started = time.monotonic()
        with state_lock(self.cfg.state_dir):
            dom = self._dom()
            fresh = dom is None or (self._record(dom) or ServerRecord("", "", "", {})).state != "ready"
            if fresh:
                if dom is not None:
                    say("company server: clearing an unfinished earlier start")
                self._purge(keep_pki=True)
                dom = self._define(say)
            try:
                if not dom.isActive():
                    say("company server: booting")
                    self.backend.start(dom)
                waited = self.backend.wait_for_agent(dom, self.cfg.boot_timeout)
                self._provision(dom, say)
                if fresh:
                    rec = self._record(dom)
                    self.backend.set_metadata(dom, ServerRecord(
                        "ready", rec.image, rec.image_digest, rec.ports, rec.created).to_xml())
            except BaseException:
                if fresh:
                    say("company server: start failed, removing what was made")
                    self._purge(keep_pki=True)
                raise
        say(f"company server: ready in {time.monotonic() - started:.1f} s (agent after {waited:.1f} s)")
        return self.status()

    def _define(self, say: Progress):
        built = images.find_built(self.cfg, SERVER_IMAGE)
        self.pki.ensure()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o711)
        # Every labctl seat on the host, other labs' too, holds ports.
        used = {p for _dom, rec in seat_machines(self.backend) for p in rec.ports.values()}
        ports = allocate(GUEST_PORTS, used, self.cfg.port_min, self.cfg.port_max,
                         lambda p: port_is_free("127.0.0.1", p))
        disk = StateStore(self.folder).live
        qemu_img_overlay(built.disk, disk)
        accel = choose_accel(self.cfg.accel, domain_types=self.backend.domain_types(), **host_facts())
        rec = ServerRecord("creating", built.name, built.digest, ports,
                           time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        # Server ports listen on loopback only, whatever the consoles' listen address:
        # only the seats' relays on this host talk to them.
        xml = render_domain_xml(seat="server", name=self.domain_name, title="labctl company server (corp.lab)",
                                accel=accel.accel, image=built, disk=disk, console_log=self.folder / "console.log",
                                listen="127.0.0.1", ports=ports, guest_ports=GUEST_PORTS,
                                vnc_password=secrets.token_hex(4), mac=random_mac(), memory_mib=SERVER_MEMORY_MIB,
                                vcpus=1, metadata_xml=rec.to_xml(namespaced=True))
        say(f"company server: defining {self.domain_name} from image {built.name} {built.digest} "
            f"(DNS on 127.0.0.1:{ports['dns']}, VPN on 127.0.0.1:{ports['vpn']})")
        return self.backend.define(xml)

    def _provision(self, dom, say: Progress) -> None:
        """Push the lab's keys in and (re)start the services that need them; safe to repeat."""
        agent = self.backend.agent(dom)
        agent.run(["/bin/date", "-u", "-s", f"@{time.time():.3f}"], timeout=10)
        server = self.pki.server()
        files = {
            "ca.crt": (self.pki.ca_cert.read_bytes(), 0o644),
            "server.crt": (server.cert, 0o644),
            "server.key": (server.key, 0o600),
            "crl.pem": (self.pki.crl.read_bytes(), 0o644),
        }
        changed = False
        agent.run(["/usr/bin/install", "-d", "-m", "755", TLS_DIR], timeout=10)
        for name, (data, mode) in files.items():
            path = f"{TLS_DIR}/{name}"
            if agent.read_file(path, timeout=10) != data:
                res = agent.write_file(path, data, mode=mode, timeout=20)
                if not res.ok:
                    raise GuestError(f"company server: cannot write {path}: {res.stderr.strip()}")
                changed = True
        verb = "restart" if changed else "start"
        say(f"company server: services {verb}")
        res = agent.run(["/bin/systemctl", verb, *SERVICES], timeout=120)
        if not res.ok:
            raise GuestError(f"company server: services did not start: {res.stderr.strip()}",
                             hint=f"see {self.folder / 'console.log'}; `labctl server status` lists them")
        ports = self._record(dom).ports
        deadline = time.monotonic() + 60
        while not all(port_answers(p) for p in ports.values()):
            if time.monotonic() > deadline:
                raise GuestError("company server: its DNS and VPN ports do not answer on the host's loopback")
            time.sleep(0.5)

    def stop(self, *, timeout: float = 60.0) -> ServerStatus:
        dom = self._dom()
        if dom is None:
            raise NotFoundError("the lab has no company server")
        if dom.isActive():
            self.backend.shutdown(dom, timeout=timeout)
        return self.status(probe=False)

    def destroy(self) -> None:
        """Remove the server, its disk and the lab's CA (seats wired to it lose their company)."""
        with state_lock(self.cfg.state_dir):
            if self._dom() is None and not self.folder.exists():
                raise NotFoundError("the lab has no company server")
            self._purge(keep_pki=False)

    def _purge(self, *, keep_pki: bool) -> None:
        dom = self._dom()
        if dom is not None:
            self.backend.undefine(dom)
        if self.folder.exists():
            for p in self.folder.iterdir():
                if keep_pki and p.name == "pki":
                    continue
                if p.is_dir():
                    shutil.rmtree(p)
                else:
                    p.unlink()
            if not keep_pki:
                shutil.rmtree(self.folder, ignore_errors=True)

    # -- accounts ----------------------------------------------------------------
    @staticmethod
    def _quoted_user(user: str) -> str:
        from .pki import CLIENT_RE

        if not CLIENT_RE.match(user):
            raise LabError(f"server user name {user!r} is not valid")
        return shlex.quote(user)

    def add_user(self, user: str, password: str) -> None:
        """The network-folder account of one seat's user: Unix user, Samba password, folder; idempotent."""
        q = self._quoted_user(user)
        script = (
            f"id -u {q} >/dev/null 2>&1 || useradd --no-create-home --home-dir /srv/shares/{q} "
            f"--shell /usr/sbin/nologin {q}; "
            f"install -d -m 700 -o {q} -g {q} /srv/shares/{q}; "
            # smbpasswd -s reads the new password twice.
            f"pw=$(cat); printf '%s\\n%s\\n' \"$pw\" \"$pw\" | smbpasswd -s -a {q} >/dev/null && smbpasswd -e {q} >/dev/null"
        )
        res = self.agent().sh(script, input=(password + "\n").encode(), timeout=60)
        if not res.ok:
            raise GuestError(f"company server: cannot make the account of {user}: {res.stderr.strip()}")

    def remove_user(self, user: str) -> None:
        """Remove what a seat's user has on the server; idempotent.

        The accounts ``user`` and ``user.<name>`` (the colleagues a recipe makes beside
        the user), Unix and Samba; their parts of the server (:func:`user_parts`); and what
        labctl keeps for them under /var/lib/labctl (fault test's checkpoints
        ``<user>.<name>.tar``, a recipe's reference digests ``<recipe>/<user>``).
        """
        q = self._quoted_user(user)
        script = (
            f"for u in $(getent passwd | cut -d: -f1 | grep -xE {q}'([.][a-z0-9-]+)?'); do "
            # The seat's network folder may still be held by an smbd serving that user:
            # userdel refuses a user with processes.
            "smbpasswd -x \"$u\" >/dev/null 2>&1; pkill -KILL -u \"$u\" 2>/dev/null; "
            "userdel -f \"$u\" 2>/dev/null; done; "
            f"rm -rf {' '.join(user_parts(q, root='/srv/'))} /var/lib/labctl/*/{q} /var/lib/labctl/*/{q}.*; "
            f"! id -u {q} >/dev/null 2>&1"
        )
        res = self.agent().sh(script, timeout=60)
        if not res.ok:
            raise GuestError(f"company server: cannot remove the account of {user}: "
                             f"{res.stderr.strip() or 'it is still there'}")


# Where a user's data lives on the server, below /srv: the network folder and its nightly copies.
USER_DATA = ("shares", "backup")


def user_parts(user: str, root: str = "") -> list[str]:
    """Shell globs of a user's data on the server, and of the accounts a recipe makes
    beside the user, named ``<user>.<name>``: no seat name has a dot, so no other
    seat's folder matches. ``user`` is used as given (quote it first)."""
    return [f"{root}{d}/{u}" for d in USER_DATA for u in (user, f"{user}.*")]


def company_user(seat: str) -> str:
    """A seat's account on the company server: its network folder is ``/srv/shares/<account>``."""
    return seat


def company_client_files(pki: LabPki, seat: str, smb_user: str, smb_password: str) -> dict[str, tuple[bytes, int]]:
    """What a seat needs to be a company laptop: path -> (content, mode). All root-owned."""
    client = pki.client(seat)
    ca = pki.ca_cert.read_bytes()
    creds = f"username={smb_user}\npassword={smb_password}\ndomain=CORP\n".encode()
    return {
        "/usr/local/share/ca-certificates/corp-lab-ca.crt": (ca, 0o644),
        "/etc/openvpn/client/corp-ca.crt": (ca, 0o644),
        "/etc/openvpn/client/corp.crt": (client.cert, 0o600),
        "/etc/openvpn/client/corp.key": (client.key, 0o600),
        "/etc/corp/smb-credentials": (creds, 0o600),
    }


def fstab_line(smb_user: str) -> str:
    return (f"//files.corp.lab/{smb_user} /home/alex/Network cifs credentials=/etc/corp/smb-credentials,"
            "uid=alex,gid=alex,file_mode=0600,dir_mode=0700,vers=3.0,_netdev,nofail,x-systemd.automount,"
            "x-systemd.idle-timeout=60,x-systemd.mount-timeout=30 0 0")


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data))
    os.chmod(path, 0o600)
