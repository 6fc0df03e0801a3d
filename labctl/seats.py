"""Seats: one libvirt domain per trainee workstation.

What labctl knows about a seat's machine lives with the machine, in the domain's
metadata (image, ports, listen address, pristine marker, injected fault). Secrets
(VNC and account passwords, the SSH key) live in the seat's folder under the
state directory, readable by root only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from . import images, timing
from .config import Config, default_parallel
from .errors import AlreadyExistsError, ConfigError, GuestError, HostError, LabError, NotFoundError
from .guest.agent import AgentChannel
from .guest.ssh import SshChannel, wait_for_ssh
from .hypervisor import saveimage
from .hypervisor.accel import AccelChoice, choose_accel, host_facts
from .hypervisor.libvirt_backend import META_URI, LibvirtBackend
from .ports import allocate, port_is_free, state_lock

GOLDEN_VERSION = "2"
SEAT_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
DOMAIN_PREFIX = "labctl-"
# Services reached through a forwarded host port, when the image has them (image.yaml
# `services`); the VNC console is QEMU's own display and gets its port from libvirt.
FORWARDED = ("ssh", "rdp")
GUEST_PORTS = {"ssh": 22, "rdp": 3389}
DESKTOP_USER = "alex"
# The seat's own xrdp certificate, as pinned on the host at creation (in the seat's folder).
RDP_CERT = "rdp_cert.pem"
# xrdp.ini's certificate= and key_file= are empty in Debian's file: these are the paths it uses.
XRDP_CERT, XRDP_KEY = "/etc/xrdp/cert.pem", "/etc/xrdp/key.pem"
SUPPORT_USER = "support"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SeatRecord:
    """The facts about a seat kept in its domain metadata."""

    name: str
    state: str  # "creating" until the pristine state is saved, then "ready"
    image: str
    image_digest: str
    listen: str
    ports: dict[str, int]
    pristine: str = ""
    fault: str = ""
    created: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    company: bool = False  # wired to the lab's company server (labctl.server)

    def to_xml(self, namespaced: bool = False) -> str:
        """The ``<seat>`` element; ``namespaced`` gives ``<labctl:seat xmlns:labctl=...>``.

        libvirt's setMetadata wants the bare element and adds the namespace itself;
        a domain XML document needs it spelled out.
        """
        ET.register_namespace("labctl", META_URI)
        ns = "{" + META_URI + "}" if namespaced else ""
        root = ET.Element(ns + "seat", {"name": self.name, "state": self.state, "created": self.created})
        ET.SubElement(root, ns + "image", {"name": self.image, "digest": self.image_digest})
        ET.SubElement(root, ns + "network", {"listen": self.listen, **({"company": "yes"} if self.company else {})})
        ET.SubElement(root, ns + "ports", {k: str(v) for k, v in sorted(self.ports.items())})
        ET.SubElement(root, ns + "pristine", {"taken": self.pristine})
        ET.SubElement(root, ns + "fault", {"id": self.fault})
        if self.extra:
            ET.SubElement(root, ns + "extra", dict(sorted(self.extra.items())))
        return ET.tostring(root, encoding="unicode")

    @classmethod
    def from_xml(cls, xml: str) -> "SeatRecord":
        root = ET.fromstring(xml)
        for el in root.iter():
            el.tag = el.tag.rsplit("}", 1)[-1]  # libvirt may hand it back with or without the prefix

        def attrs(tag: str) -> dict[str, str]:
            el = root.find(tag)
            return dict(el.attrib) if el is not None else {}

        return cls(
            name=root.get("name", ""),
            state=root.get("state", ""),
            created=root.get("created", ""),
            image=attrs("image").get("name", ""),
            image_digest=attrs("image").get("digest", ""),
            listen=attrs("network").get("listen", "127.0.0.1"),
            ports={k: int(v) for k, v in attrs("ports").items()},
            pristine=attrs("pristine").get("taken", ""),
            fault=attrs("fault").get("id", ""),
            extra=attrs("extra"),
            company=attrs("network").get("company") == "yes",
        )


@dataclass(frozen=True)
class Credentials:
    vnc_password: str
    user_password: str
    support_password: str
    smb_password: str = ""  # the user's network-folder password on the company server

    @classmethod
    def generate(cls) -> "Credentials":
        # VNC passwords are at most 8 characters (RFB DES); use all 8.
        alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
        return cls(
            vnc_password="".join(secrets.choice(alphabet) for _ in range(8)),
            user_password="-".join(secrets.token_hex(2) for _ in range(3)),
            support_password=secrets.token_urlsafe(12),
            smb_password=secrets.token_urlsafe(12),
        )


@dataclass(frozen=True)
class SeatInfo:
    record: SeatRecord
    domain: str
    status: str
    vnc_port: int | None
    folder: Path
    credentials: Credentials | None

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def rdp_fingerprint(self) -> str | None:
        """SHA-256 of the seat's own xrdp certificate, as FreeRDP writes it (aa:bb:...); None without RDP."""
        return rdp_fingerprint(self.folder / RDP_CERT) if self.record.ports.get("rdp") else None

    def as_dict(self, secrets_too: bool = False) -> dict:
        d = {
            "name": self.name,
            "domain": self.domain,
            "status": self.status,
            "state": self.record.state,
            "image": self.record.image,
            "image_digest": self.record.image_digest,
            "listen": self.record.listen,
            "ports": dict(self.record.ports),
            "vnc_port": self.vnc_port,
            "fault": self.record.fault,
            "pristine": self.record.pristine,
            "company": self.record.company,
            "ssh_key": str(self.folder / "id_ed25519"),
            "known_hosts": str(self.folder / "known_hosts"),
            "console_log": str(self.folder / "console.log"),
        }
        if self.record.ports.get("rdp"):
            d["rdp_cert"] = str(self.folder / RDP_CERT)
            d["rdp_fingerprint"] = self.rdp_fingerprint
        if secrets_too and self.credentials:
            d["credentials"] = dataclasses.asdict(self.credentials)
        return d


@dataclass(frozen=True)
class Golden:
    """An image's warm state: saved memory plus the disk it was saved with."""

    folder: Path
    mac: str

    @property
    def save(self) -> Path:
        return self.folder / "golden.save"

    @property
    def disk(self) -> Path:
        return self.folder / "golden.qcow2"

    @classmethod
    def load(cls, folder: Path) -> "Golden | None":
        try:
            meta = json.loads((folder / "golden.json").read_text())
        except (OSError, ValueError):
            return None
        g = cls(folder=folder, mac=meta["mac"])
        return g if g.save.is_file() and g.disk.is_file() else None


def domain_name(seat: str) -> str:
    return DOMAIN_PREFIX + seat


def validate_seat_name(name: str) -> str:
    if not SEAT_RE.match(name or ""):
        raise ConfigError(f"seat name {name!r} is not valid",
                          hint="use 1-31 lower-case letters, digits or '-', starting with a letter")
    return name


def _template_env() -> Environment:
    return Environment(loader=PackageLoader("labctl", "templates"), undefined=StrictUndefined,
                       autoescape=True, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render_domain_xml(*, seat: str, accel: str, image: images.BuiltImage, disk: Path, console_log: Path,
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


DESKTOP_READY = (
    # The user's XFCE session runs on the machine's screen (lightdm autologin on :0),
    # its desktop is drawn, and xrdp accepts RDP connections.
    "pid=$(pgrep -u alex -x xfce4-session | head -n1); [ -n \"$pid\" ] || exit 1; "
    "tr '\\0' '\\n' < /proc/$pid/environ | grep -qx 'DISPLAY=:0' || exit 2; "
    "pgrep -u alex -x xfdesktop >/dev/null || exit 3; pgrep -u alex -x xfce4-panel >/dev/null || exit 4; "
    "systemctl is-active --quiet xrdp || exit 5"
)


def wait_for_desktop(agent, *, deadline: float, what: str) -> None:
    """Wait until the user's graphical session is up (desktop images)."""
    waited = False
    while True:
        res = agent.sh(DESKTOP_READY, timeout=20)
        if res.ok:
            if waited:
                time.sleep(5)  # xfdesktop draws the wallpaper and icons a moment after it starts
            return
        waited = True
        if time.monotonic() > deadline:
            raise GuestError(f"{what}: the user's desktop session did not start (step {res.rc})",
                             hint="see /var/log/lightdm/ and ~alex/.xsession-errors in the guest")
        time.sleep(2)


def rdp_fingerprint(pem_file: Path) -> str | None:
    """The SHA-256 fingerprint of a PEM certificate file, lower-case hex pairs joined by ':'; None if missing."""
    import ssl

    try:
        der = ssl.PEM_cert_to_DER_cert(pem_file.read_text())
    except (OSError, ValueError):
        return None
    return ":".join(f"{b:02x}" for b in hashlib.sha256(der).digest())


def random_mac() -> str:
    return "52:54:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))


class SeatManager:
    """Create, inspect, reset and destroy seats."""

    def __init__(self, cfg: Config, backend: LibvirtBackend | None = None):
        self.cfg = cfg
        self.backend = backend or LibvirtBackend(cfg.libvirt_uri)

    # -- lookup ----------------------------------------------------------------
    def folder(self, seat: str) -> Path:
        return self.cfg.seats_dir / seat

    def accel(self) -> AccelChoice:
        return choose_accel(self.cfg.accel, domain_types=self.backend.domain_types(), **host_facts())

    def _record(self, dom) -> SeatRecord | None:
        xml = self.backend.get_metadata(dom)
        if not xml:
            return None
        try:
            return SeatRecord.from_xml(xml)
        except ET.ParseError:
            return None

    def _domain(self, seat: str):
        validate_seat_name(seat)
        dom = self.backend.lookup(domain_name(seat))
        if dom is None or self._record(dom) is None:
            raise NotFoundError(f"no seat named '{seat}'", hint="`labctl seat list` shows the seats")
        return dom

    def credentials(self, seat: str) -> Credentials | None:
        path = self.folder(seat) / "credentials.json"
        try:
            return Credentials(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def info(self, seat: str) -> SeatInfo:
        dom = self._domain(seat)
        return self._info(dom, self._record(dom))

    def _info(self, dom, rec: SeatRecord) -> SeatInfo:
        return SeatInfo(record=rec, domain=dom.name(), status=self.backend.state_name(dom),
                        vnc_port=self.backend.vnc_port(dom), folder=self.folder(rec.name),
                        credentials=self.credentials(rec.name))

    def list(self, *, all_labs: bool = False) -> list[SeatInfo]:
        """This lab's seats: those with a folder in this state directory.

        ``all_labs``: every labctl seat on the host, other labs' too (another
        ``state_dir``): what shares the host's ports, memory and image cache.
        """
        out = []
        for dom in self.backend.list_domains():
            if not dom.name().startswith(DOMAIN_PREFIX):
                continue
            rec = self._record(dom)
            if rec is not None and rec.state not in ("golden", "rescue") and \
                    (all_labs or self.folder(rec.name).is_dir()):
                out.append(self._info(dom, rec))
        return sorted(out, key=lambda s: s.name)

    def agent(self, seat: str) -> AgentChannel:
        return self.backend.agent(self._domain(seat))

    def ssh(self, seat: str, user: str = SUPPORT_USER) -> SshChannel:
        info = self.info(seat)
        host = "127.0.0.1" if info.record.listen in ("0.0.0.0", "::") else info.record.listen
        return SshChannel(host=host, port=info.record.ports["ssh"], user=user,
                          key=info.folder / "id_ed25519", known_hosts=info.folder / "known_hosts")

    def screenshot(self, seat: str, *, max_width: int | None = None) -> bytes:
        """The seat's screen as PNG (scaled down to ``max_width``), from libvirt, without VNC."""
        raw = self.backend.screenshot(self._domain(seat))
        try:
            from PIL import Image
        except ImportError:
            raise HostError("screenshots need Pillow", hint="pip install pillow (scripts/setup.sh installs it)") from None
        import io

        img = Image.open(io.BytesIO(raw))
        img.load()
        if max_width and img.width > max_width:
            img = img.resize((max_width, max(1, img.height * max_width // img.width)))
        out = io.BytesIO()
        img.convert("RGB").save(out, "PNG")
        return out.getvalue()

    def _restart_desktop(self, dom, *, deadline: float, what: str) -> None:
        """A new graphical session for the user (desktop images, after the host name changed).

        The session saved in the warm state was started under the image's host name;
        once the seat has its own, the window manager loses its X and session-manager
        connections and the screen stays black (measured: 1 colour after a warm start,
        a drawn desktop after this). Restarting lightdm logs the user in afresh.
        """
        agent = self.backend.agent(dom)
        old = agent.sh("pgrep -u alex -x xfce4-session | head -n1", timeout=20).stdout.strip()
        agent.run(["/bin/systemctl", "restart", "lightdm"], timeout=90)
        while True:
            now = agent.sh("pgrep -u alex -x xfce4-session | head -n1", timeout=20).stdout.strip()
            if now and now != old:
                return
            if time.monotonic() > deadline:
                raise GuestError(f"{what}: the user's desktop session did not start again after lightdm restarted",
                                 hint="see /var/log/lightdm/ in the guest")
            time.sleep(2)

    def _wait_for_drawn_screen(self, dom, *, deadline: float, what: str, min_colours: int = 256) -> None:
        """Wait until the screen shows a drawn desktop (many colours), not a black or text screen."""
        from .hypervisor.screen import Screen

        while True:
            colours = Screen.from_bytes(self.backend.screenshot(dom)).colours()
            if colours >= min_colours:
                return
            if time.monotonic() > deadline:
                raise GuestError(f"{what}: the desktop is not drawn on the screen ({colours} colours)",
                                 hint="see ~alex/.xsession-errors in the guest")
            time.sleep(2)

    def screen(self, seat: str):
        """The seat's screen as the user (and the VNC console) sees it now: a :class:`Screen`."""
        from .hypervisor.screen import Screen

        dom = self._domain(seat)
        if not dom.isActive():
            raise LabError(f"seat '{seat}' is not running; it has no screen to show",
                           hint=f"labctl seat start {seat}")
        return Screen.from_bytes(self.backend.screenshot(dom))

    def update_record(self, seat: str, **changes) -> SeatRecord:
        dom = self._domain(seat)
        rec = dataclasses.replace(self._record(dom), **changes)
        self.backend.set_metadata(dom, rec.to_xml())
        return rec

    # -- create ----------------------------------------------------------------
    def create(self, seat: str, image: str | None = None, *, company: bool = False,
               progress: Progress | None = None) -> SeatInfo:
        """Create a seat, boot it, personalise it and save its pristine state.

        ``company``: wire the seat to the lab's company server (started if it is
        not running) and make it a company laptop: VPN identity, lab CA, network
        folder (labctl.server, docs/network.md).

        All or nothing: on any failure the domain, its disk and its ports are
        released, and the error is raised. A seat left half-made by a killed
        process (metadata state "creating") is cleared and made again.
        """
        say = progress or (lambda _m: None)
        validate_seat_name(seat)
        image = image or self.cfg.default_image
        built = images.find_built(self.cfg, image)
        recipe = images.load_recipe(self.cfg.images_dir, image)
        memory = self.memory_mib(image)
        accel = self.accel()
        folder = self.folder(seat)
        started = time.monotonic()
        golden = self._golden(built, accel.accel, say) if self.cfg.warm_start else None
        guestfwd: tuple[str, ...] = ()
        server = None
        if company:
            from .server import ServerManager, seat_guestfwd

            server = ServerManager(self.cfg, self.backend)
            guestfwd = seat_guestfwd(server.start(progress=say).record.ports)

        with state_lock(self.cfg.state_dir):
            existing = self.backend.lookup(domain_name(seat))
            if existing is not None:
                rec = self._record(existing)
                if rec is None:
                    raise AlreadyExistsError(f"a libvirt domain named {domain_name(seat)} exists and is not labctl's",
                                             hint="pick another seat name")
                if not folder.is_dir():
                    raise AlreadyExistsError(f"seat name '{seat}' is taken by another lab on this host "
                                             f"(domain {domain_name(seat)}, no folder in {self.cfg.seats_dir})",
                                             hint="pick another seat name; seat names are unique per host")
                if rec.state == "ready":
                    raise AlreadyExistsError(f"seat '{seat}' already exists",
                                             hint=f"use `labctl seat reset {seat}`, or destroy it first")
                say(f"seat {seat}: clearing an unfinished earlier creation")
                self._purge(seat, existing)
            elif folder.exists():
                shutil.rmtree(folder)
            self._check_disk_space()
            used = {p for s in self.list(all_labs=True) for p in s.record.ports.values()}
            ports = allocate([s for s in FORWARDED if s in recipe.services], used, self.cfg.port_min, self.cfg.port_max,
                             lambda p: port_is_free(self.cfg.listen, p))
            creds = Credentials.generate()
            record = SeatRecord(name=seat, state="creating", image=built.name, image_digest=built.digest,
                                listen=self.cfg.listen, ports=ports, company=company,
                                created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            try:
                # QEMU runs as its own user and must reach the disk; secrets in here are 0600.
                folder.mkdir(parents=True)
                folder.chmod(0o711)
                (folder / "credentials.json").write_text(json.dumps(dataclasses.asdict(creds)))
                os.chmod(folder / "credentials.json", 0o600)
                # The first boot writes to pristine.qcow2; once the pristine state is
                # saved it is frozen, and the seat runs on disk.qcow2 on top of it.
                disk = folder / "pristine.qcow2"
                _qemu_img_overlay(golden.disk if golden else built.disk, disk)
                _ssh_keygen(folder / "id_ed25519", comment=f"labctl-{seat}")
                xml = render_domain_xml(seat=seat, accel=accel.accel, image=built, disk=disk,
                                        console_log=folder / "console.log", listen=self.cfg.listen,
                                        ports=ports, vnc_password=creds.vnc_password,
                                        mac=golden.mac if golden else random_mac(),
                                        memory_mib=memory, vcpus=self.cfg.seat_vcpus,
                                        record=record, guestfwd=guestfwd)
                dom = self.backend.define(xml)
            except BaseException:
                self._purge(seat, self.backend.lookup(domain_name(seat)))
                raise

        try:
            if golden:
                say(f"seat {seat}: starting from the warm state of image {built.name} {built.digest}")
                with timing.phase("seat: warm start (restore the image's saved guest)"):
                    boot = folder / "warm.save"
                    saveimage.clone_with_xml(golden.save, boot, self.backend.xml(dom, secure=True, inactive=True))
                    self.backend.restore(str(boot), None)
                    boot.unlink()
                    dom = self.backend.get(domain_name(seat))
                    self._after_restore(dom, strict=True)
            else:
                say(f"seat {seat}: booting ({accel.accel}) from image {built.name} {built.digest}")
                with timing.phase("seat: cold boot"):
                    self.backend.start(dom)
            with timing.phase("seat: wait for the guest agent"):
                waited = self.backend.wait_for_agent(dom, self.cfg.boot_timeout)
            say(f"seat {seat}: guest agent up after {waited:.1f} s; personalising")
            with timing.phase("seat: personalise (name, passwords, keys)"):
                self._personalise(seat, dom, creds, new_identity=golden is not None)
            if server is not None:
                say(f"seat {seat}: making it a company laptop (VPN identity, lab CA, network folder)")
                with timing.phase("seat: company laptop (VPN, CA, network folder)"):
                    self._personalise_company(seat, dom, creds, server)
            with timing.phase("seat: wait for SSH"):
                wait_for_ssh(self._ssh_host(), ports["ssh"], timeout=60)
            if recipe.graphical:
                with timing.phase("seat: desktop session"):
                    if golden:
                        say(f"seat {seat}: starting the user's session again under the seat's own host name")
                        self._restart_desktop(dom, deadline=time.monotonic() + self.cfg.boot_timeout + 60,
                                              what=f"seat {seat}")
                    wait_for_desktop(self.backend.agent(dom),
                                     deadline=time.monotonic() + self.cfg.boot_timeout + 60, what=f"seat {seat}")
                    self._wait_for_drawn_screen(dom, deadline=time.monotonic() + 120, what=f"seat {seat}")
            say(f"seat {seat}: saving the pristine state")
            with timing.phase("seat: save the pristine state"):
                self._save_pristine(seat, dom, dataclasses.replace(
                    record, state="ready", pristine=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
        except BaseException as exc:
            say(f"seat {seat}: creation failed, removing what was made")
            self._purge(seat, self.backend.lookup(domain_name(seat)))
            if isinstance(exc, LabError):
                raise
            if isinstance(exc, Exception):
                raise HostError(f"seat {seat}: creation failed: {exc}") from exc
            raise
        say(f"seat {seat}: ready in {time.monotonic() - started:.1f} s")
        return self.info(seat)

    def memory_mib(self, image: str | None = None) -> int:
        """A seat's memory: the configured size, or more if the image needs it (image.yaml min_memory_mib)."""
        recipe = images.load_recipe(self.cfg.images_dir, image or self.cfg.default_image)
        return max(self.cfg.seat_memory_mib, recipe.min_memory_mib)

    def warm_up(self, image: str | None = None, *, progress: Progress | None = None) -> "Golden | None":
        """Make sure the image's warm state exists (seat create does this on first use)."""
        if not self.cfg.warm_start:
            return None
        built = images.find_built(self.cfg, image or self.cfg.default_image)
        return self._golden(built, self.accel().accel, progress or (lambda _m: None))

    def _golden(self, built: images.BuiltImage, accel: str, say: Progress) -> "Golden":
        """The image's warm state: a guest booted once and saved, for seats to start from.

        Kept in the cache, keyed by everything that shapes the saved machine (image
        hash, domain template, memory, vCPUs, acceleration); made on first use.
        """
        tmpl = (Path(__file__).parent / "templates" / "domain.xml.j2").read_bytes()
        memory = self.memory_mib(built.name)
        recipe = images.load_recipe(self.cfg.images_dir, built.name)
        key = hashlib.sha256(b"\0".join([GOLDEN_VERSION.encode(), built.digest.encode(), tmpl, accel.encode(),
                                         str(memory).encode(), str(self.cfg.seat_vcpus).encode()])
                             ).hexdigest()[:12]
        final = self.cfg.cache_dir / "warm" / built.name / key
        golden = Golden.load(final)
        if golden:
            return golden
        with state_lock(self.cfg.cache_dir):
            golden = Golden.load(final)
            if golden:
                return golden
            say(f"making the warm state of image {built.name} (once per image; boots it cold)")
            started = time.monotonic()
            final.parent.mkdir(parents=True, exist_ok=True)
            work = final.parent / f".{key}.part"
            if work.exists():
                shutil.rmtree(work)
            work.mkdir()
            work.chmod(0o755)
            name = f"golden-{key[:8]}"
            mac = random_mac()
            dom = None
            try:
                _qemu_img_overlay(built.disk, work / "golden.qcow2")
                record = SeatRecord(name=name, state="golden", image=built.name, image_digest=built.digest,
                                    listen="127.0.0.1", ports={})
                xml = render_domain_xml(seat=name, accel=accel, image=built, disk=work / "golden.qcow2",
                                        console_log=work / "console.log", listen="127.0.0.1", ports={},
                                        vnc_password=secrets.token_hex(4), mac=mac,
                                        memory_mib=memory, vcpus=self.cfg.seat_vcpus, record=record)
                old = self.backend.lookup(domain_name(name))
                if old is not None:
                    self.backend.undefine(old)
                dom = self.backend.define(xml)
                self.backend.start(dom)
                self.backend.wait_for_agent(dom, self.cfg.boot_timeout)
                agent = self.backend.agent(dom)
                deadline = time.monotonic() + 120
                while agent.run(["systemctl", "is-active", "--quiet", "ssh"], timeout=10).rc != 0:
                    if time.monotonic() > deadline:
                        raise GuestError(f"image {built.name}: sshd did not start in its warm state")
                    time.sleep(0.5)
                # Walk the file system once, so that every seat starts with the inodes in
                # memory: the security baseline's scans (set-uid, world-writable) then take
                # about a second instead of ten under emulation, after every reset too.
                agent.run(["/bin/sh", "-c", "find / -xdev -printf '' 2>/dev/null"], timeout=600)
                if recipe.graphical:
                    # A desktop image is saved with the user's session on screen and xrdp
                    # listening, so that every warm seat starts logged in.
                    wait_for_desktop(agent, deadline=time.monotonic() + self.cfg.boot_timeout,
                                     what=f"image {built.name}")
                agent.run(["sync"], timeout=30)
                self.backend.save(dom, str(work / "golden.save"))
                self.backend.undefine(dom)
                dom = None
                (work / "golden.json").write_text(json.dumps({"mac": mac, "image": built.name,
                                                              "digest": built.digest, "key": key}))
                for f in work.iterdir():
                    f.chmod(0o644)
                if final.exists():
                    shutil.rmtree(final)
                # The saved XML names the work folder, but seats never boot from that XML,
                # only from their own; their overlays point at the final path.
                os.rename(work, final)
            except BaseException:
                if dom is not None:
                    self.backend.undefine(dom)
                shutil.rmtree(work, ignore_errors=True)
                raise
            timing.record(f"image: make the warm state of {built.name} (once)", time.monotonic() - started)
            say(f"warm state of image {built.name} ready in {time.monotonic() - started:.1f} s")
            golden = Golden.load(final)
            assert golden is not None
            return golden

    def create_many(self, names: list[str], image: str | None = None, *, parallel: int | None = None,
                    company: bool = False, progress: Progress | None = None) -> tuple[list[SeatInfo], dict[str, LabError]]:
        """Create several seats at once; returns the seats made and the errors by name.

        Each creation is all-or-nothing on its own, so one failure leaves the
        others standing; rerunning with the failed names converges.
        """
        for name in names:
            validate_seat_name(name)
        if len(set(names)) != len(names):
            raise ConfigError("a seat name is given twice: " + ", ".join(sorted({n for n in names if names.count(n) > 1})))
        self.warm_up(image, progress=progress)
        if company:
            from .server import ServerManager

            ServerManager(self.cfg, self.backend).start(progress=progress)
        made: list[SeatInfo] = []
        errors: dict[str, LabError] = {}
        tally = timing.Tally(len(names), "seats ready", progress)
        with ThreadPoolExecutor(max_workers=max(1, parallel or default_parallel())) as pool:
            futures = {pool.submit(self.create, name, image, company=company, progress=progress): name
                       for name in names}
            for fut in as_completed(futures):
                try:
                    made.append(fut.result())
                    tally.step()
                except LabError as exc:
                    errors[futures[fut]] = exc
                    tally.step(ok=False)
        made.sort(key=lambda info: names.index(info.name))
        return made, errors

    def _ssh_host(self) -> str:
        return "127.0.0.1" if self.cfg.listen in ("0.0.0.0", "::") else self.cfg.listen

    def _check_disk_space(self) -> None:
        self.cfg.state_dir.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.cfg.state_dir).free
        need = (self.cfg.seat_memory_mib + 512) * 1024**2  # about; the memory is saved with the seat
        if free < need:
            raise HostError(f"only {free // 1024**2} MiB free under {self.cfg.state_dir}; a seat needs about "
                            f"{need // 1024**2} MiB", hint="free some disk space or destroy unused seats")

    def _personalise(self, seat: str, dom, creds: Credentials, new_identity: bool = False) -> None:
        """Give the clone its own name, passwords and SSH trust.

        ``new_identity``: the guest was restored from the image's warm state, so
        it shares machine id and SSH host keys with every other warm seat; make
        new ones.
        """
        agent = self.backend.agent(dom)
        pub = (self.folder(seat) / "id_ed25519.pub").read_bytes()
        hostname = f"ws-{seat}"
        # One guest command for all of it: under software emulation each command the
        # agent starts costs 0.2-0.3 s, systemctl and hostnamectl about a second each
        # (measured 2026-11-25). The passwords come in on standard input (never in an
        # argument list a `ps` would show), two lines before the SSH key; chpasswd
        # also clears the image's lock on both accounts (images/workstation).
        identity = (
            "systemd-id128 new > /etc/machine-id.new && mv /etc/machine-id.new /etc/machine-id; "
            # journald files its logs under the machine id it started with; without a
            # restart `journalctl` on the seat shows nothing at all.
            "systemctl --no-block restart systemd-journald; "
            "rm -f /etc/ssh/ssh_host_*; ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key; "
            # What `systemctl reload ssh` does, without systemctl's own second.
            "kill -HUP \"$(cat /run/sshd.pid)\"; "
        ) if new_identity else ""
        script = (
            "set -e; { read -r u; read -r s; printf '%s\\n%s\\n' \"$u\" \"$s\"; } | chpasswd; "
            + identity
            + f"echo {hostname} > /etc/hostname; hostname {hostname}; "
            f"sed -i 's/^127.0.1.1.*/127.0.1.1\\t{hostname}/' /etc/hosts; "
            "install -d -m 700 -o support -g support /home/support/.ssh; "
            "install -m 600 -o support -g support /dev/stdin /home/support/.ssh/authorized_keys; "
            "for i in $(seq 1 100); do [ -s /etc/ssh/ssh_host_ed25519_key.pub ] && break; sleep 0.2; done; "
            "sync"
        )
        secrets_in = f"{DESKTOP_USER}:{creds.user_password}\n{SUPPORT_USER}:{creds.support_password}\n".encode()
        # A few seconds on a quiet host; a desktop guest on a host running eight other
        # emulated guests took over a minute (measured 2026-11-25, load 8).
        res = agent.sh(script, input=secrets_in + pub, timeout=240)
        if not res.ok:
            raise GuestError(f"seat {seat}: personalising failed: "
                             + ("timed out after 240 s" if res.timed_out else res.stderr.strip() or str(res.rc)))
        hostkey = agent.read_file("/etc/ssh/ssh_host_ed25519_key.pub")
        if not hostkey:
            raise GuestError(f"seat {seat}: the guest has no SSH host key")
        host = self._ssh_host()
        ports = self._record(dom).ports
        port = ports["ssh"]
        key_type, key_b64 = hostkey.decode().split()[:2]
        (self.folder(seat) / "known_hosts").write_text(f"[{host}]:{port} {key_type} {key_b64}\n")
        if ports.get("rdp"):
            self._personalise_rdp(seat, agent, hostname)

    def _personalise_rdp(self, seat: str, agent, hostname: str) -> None:
        """Give the seat's xrdp a TLS key and certificate of its own, and pin the certificate on the host.

        The image (and so every warm seat) comes with one key: anyone with the image
        could pose as any seat's RDP service. The new certificate is kept in the seat's
        folder; `seat info` shows its fingerprint for the RDP client to check. Classic
        RDP security, whose RSA key (rsakeys.ini) is the image's too, is turned off:
        TLS only. xrdp reads both files at each connection, so no restart is needed.
        """
        script = (
            "set -e; umask 077; cd /etc/xrdp; "
            # ECDSA P-256: under a second even under emulation (RSA 2048: about 5 s there).
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 "
            f"-subj /CN={hostname} -addext subjectAltName=DNS:{hostname} "
            "-keyout key.pem.new -out cert.pem.new 2>/dev/null; "
            # xrdp reads its key through the ssl-cert group (images/desktop/customize.sh).
            "chgrp ssl-cert key.pem.new; chmod 640 key.pem.new; chmod 644 cert.pem.new; "
            f"mv -f key.pem.new {XRDP_KEY}; mv -f cert.pem.new {XRDP_CERT}; "
            "sed -i 's/^security_layer=.*/security_layer=tls/' xrdp.ini; grep -qx 'security_layer=tls' xrdp.ini; "
            "sync"
        )
        res = agent.sh(script, timeout=60)
        if not res.ok:
            raise GuestError(f"seat {seat}: making the RDP certificate failed: {res.stderr.strip() or res.rc}")
        pinned = self.folder(seat) / RDP_CERT
        pinned.write_bytes(agent.read_file(XRDP_CERT) or b"")
        if rdp_fingerprint(pinned) is None:
            raise GuestError(f"seat {seat}: the guest's RDP certificate ({XRDP_CERT}) cannot be read")

    def _personalise_company(self, seat: str, dom, creds: Credentials, server) -> None:
        """Put the seat's VPN identity, the lab CA and its network-folder account in; connect the VPN."""
        from .server import company_client_files, company_user, fstab_line

        user = company_user(seat)
        # A new seat starts with an empty network folder, even if a seat of the same name
        # was destroyed while the server was stopped (its account stayed then).
        server.remove_user(user)
        server.add_user(user, creds.smb_password)
        agent = self.backend.agent(dom)
        for path, (data, mode) in company_client_files(server.pki, seat, user, creds.smb_password).items():
            res = agent.write_file(path, data, mode=mode, timeout=30)
            if not res.ok:
                raise GuestError(f"seat {seat}: cannot write {path}: {res.stderr.strip()}")
        script = (
            "grep -v ' /home/alex/Network cifs ' /etc/fstab > /etc/fstab.new; cat >> /etc/fstab.new; "
            "mv /etc/fstab.new /etc/fstab; "
            "update-ca-certificates >/dev/null 2>&1; "
            "systemctl daemon-reload; systemctl start home-alex-Network.automount; "
            "systemctl restart openvpn-client@corp; "
            # Up before the pristine state is saved, so that every reset finds it up.
            "for i in $(seq 1 120); do ip -4 addr show dev tun0 2>/dev/null | grep -q 'inet ' && exit 0; sleep 0.5; done; "
            "echo 'the VPN did not come up' >&2; exit 1"
        )
        # update-ca-certificates alone takes 45 s on a desktop seat under emulation (one process per
        # CA certificate); with seats and the server starting beside it, 120 s was not enough.
        res = agent.sh(script, input=(fstab_line(user) + "\n").encode(), timeout=300)
        if not res.ok:
            raise GuestError(f"seat {seat}: company setup failed: {res.stderr.strip() or res.rc}",
                             hint="`labctl server status` shows whether the company server answers")

    def _reconnect_company(self, dom) -> None:
        """After a restore the VPN's TCP connection is gone (its relay died with the old QEMU).

        Restart the client only if it was running when the state was saved: a
        fault that stopped it stays stopped.
        """
        rec = self._record(dom)
        if rec is None or not rec.company:
            return
        # Wait (bounded) until it is connected again, so that what runs next after a
        # restore (checks, a fault's step) finds the VPN as it was when the state was saved.
        try:
            self.backend.agent(dom).sh(
                "umount -l -t cifs -a 2>/dev/null; "
                "systemctl is-active -q openvpn-client@corp || exit 0; "
                "systemctl --no-block restart openvpn-client@corp; "
                "for i in $(seq 1 90); do systemctl is-active -q openvpn-client@corp && exit 0; sleep 0.5; done",
                timeout=60)
        except GuestError:
            pass

    # -- lifecycle ---------------------------------------------------------------
    def start(self, seat: str, *, wait: bool = True) -> SeatInfo:
        dom = self._domain(seat)
        self.backend.start(dom)
        if wait:
            self.backend.wait_for_agent(dom, self.cfg.boot_timeout)
            self._after_restore(dom)
            wait_for_ssh(self._ssh_host(), self._record(dom).ports["ssh"], timeout=60)
        return self.info(seat)

    @timing.timed("seat: reboot")
    def reboot(self, seat: str, *, timeout: float | None = None) -> float:
        """Restart the guest the way a user would, and wait until it answers again; returns seconds.

        Through the guest agent (systemctl reboot) when it answers, else an ACPI
        reboot request; done when the guest's boot id has changed.
        """
        started = time.monotonic()
        dom = self._domain(seat)
        agent = self.backend.agent(dom)
        old = agent.read_file("/proc/sys/kernel/random/boot_id", timeout=10) if agent.ping() else None
        try:
            if old is None:
                raise GuestError("no agent")
            agent.run(["/bin/systemctl", "--no-block", "reboot"], timeout=10)
        except GuestError:
            self.backend.reboot(dom)
        # A reboot is a whole boot, plus the shutdown; on a loaded host under emulation it
        # can take several times the usual boot.
        timeout = timeout or 2.5 * self.cfg.boot_timeout
        deadline = started + timeout
        while time.monotonic() < deadline:
            time.sleep(1)
            if not dom.isActive():
                raise GuestError(f"seat {seat} powered off instead of rebooting",
                                 hint=f"see its console log: {self.folder(seat) / 'console.log'}")
            if agent.ping(timeout=2):
                try:
                    new = agent.read_file("/proc/sys/kernel/random/boot_id", timeout=10)
                except GuestError:
                    continue
                if new and new != old:
                    self._after_restore(dom)
                    # Services the user relies on are up only once the boot is over.
                    agent.run(["/bin/systemctl", "is-system-running", "--wait"],
                              timeout=max(30.0, deadline - time.monotonic()))
                    wait_for_ssh(self._ssh_host(), self._record(dom).ports["ssh"], timeout=60)
                    return time.monotonic() - started
        raise GuestError(f"seat {seat} did not come back within {timeout:.0f} s of a reboot",
                         hint=f"see its console log: {self.folder(seat) / 'console.log'}")

    def root_ssh(self, seat: str):
        """SSH as the technician account with sudo: the checks' route when the guest agent is gone."""
        from .guest.ssh import SudoSshChannel

        info = self.info(seat)
        creds = info.credentials
        host = "127.0.0.1" if info.record.listen in ("0.0.0.0", "::") else info.record.listen
        return SudoSshChannel(host=host, port=info.record.ports["ssh"], user=SUPPORT_USER,
                              key=info.folder / "id_ed25519", known_hosts=info.folder / "known_hosts",
                              password=creds.support_password if creds else "")

    def stop(self, seat: str, *, force: bool = False, timeout: float = 60.0) -> SeatInfo:
        dom = self._domain(seat)
        if force:
            self.backend.poweroff(dom)
        else:
            self.backend.shutdown(dom, timeout=timeout)
        return self.info(seat)

    def _save_pristine(self, seat: str, dom, record: SeatRecord) -> None:
        """Freeze the seat's current state as pristine and keep it running.

        The memory goes to ``pristine.save`` and the disk written so far
        (``pristine.qcow2``) becomes read-only; the seat then runs on a fresh
        overlay ``disk.qcow2``. A reset is a new overlay plus a restore of the
        saved memory: about as fast as an internal-snapshot revert here and far
        faster than a boot (bench/seat_reset.py), it keeps the pristine disk
        read-only, and the same saved state can seed other seats.
        """
        folder = self.folder(seat)
        live = folder / "disk.qcow2"
        # The seat stays "creating" until it runs on its overlay: a process killed
        # half-way (libvirt finishes a save on its own) leaves a seat that the next
        # create or session resume clears and makes again, never a "ready" one
        # that would boot on, and so write to, its frozen pristine disk.
        self.backend.set_metadata(dom, dataclasses.replace(record, state="creating").to_xml())
        # The persistent definition boots from the live overlay from now on.
        xml = self.backend.xml(dom, secure=True, inactive=True).replace(str(folder / "pristine.qcow2"), str(live))
        self.backend.save(dom, str(folder / "pristine.save"))
        _qemu_img_overlay(folder / "pristine.qcow2", live)
        self.backend.define(xml)
        self.backend.restore(str(folder / "pristine.save"), xml)
        dom = self.backend.get(dom.name())
        self.backend.set_metadata(dom, record.to_xml())
        self._after_restore(dom)
        self._reconnect_company(dom)

    @timing.timed("seat: reset to pristine")
    def reset(self, seat: str, *, wait: bool = True) -> float:
        """Bring a seat back to its pristine state, running; returns seconds taken."""
        started = time.monotonic()
        dom = self._domain(seat)
        rec = self._record(dom)
        folder = self.folder(seat)
        if rec.state != "ready" or not (folder / "pristine.save").is_file():
            raise LabError(f"seat '{seat}' has no pristine state to return to",
                           hint=f"destroy and recreate it: labctl seat destroy {seat} && labctl seat create {seat}")
        rec = dataclasses.replace(rec, fault="", extra={})
        self.backend.set_metadata(dom, rec.to_xml())
        xml = self.backend.xml(dom, secure=True, inactive=True)
        if dom.isActive():
            self.backend.poweroff(dom)
        live = folder / "disk.qcow2"
        live.unlink(missing_ok=True)
        self._drop_checkpoints(seat)
        _qemu_img_overlay(folder / "pristine.qcow2", live)
        self.backend.restore(str(folder / "pristine.save"), xml)
        dom = self._domain(seat)
        if wait:
            self.backend.wait_for_agent(dom, 60)
            # The restored sshd is already listening: wait for its banner while the
            # agent sets the clock (each takes a few tenths of a second under emulation).
            with ThreadPoolExecutor(1) as pool:
                ssh_up = pool.submit(wait_for_ssh, self._ssh_host(), rec.ports["ssh"], timeout=60)
                self._after_restore(dom)
                self._reconnect_company(dom)
                ssh_up.result()
        return time.monotonic() - started

    @timing.timed("seat: checkpoint (save memory, freeze disk)")
    def checkpoint(self, seat: str, name: str = "staged") -> float:
        """Freeze the seat as it is now (memory and disk) so that :meth:`rollback` returns to it.

        Like the pristine state, one level above it: the live overlay becomes the
        frozen ``<name>.qcow2`` and the seat runs on a new overlay on top. A reset
        to pristine drops the checkpoint.
        """
        started = time.monotonic()
        dom = self._domain(seat)
        folder = self.folder(seat)
        frozen, save, live = folder / f"{name}.qcow2", folder / f"{name}.save", folder / "disk.qcow2"
        if frozen.exists():
            raise LabError(f"seat '{seat}' already has a checkpoint '{name}'",
                           hint=f"reset the seat first: labctl seat reset {seat}")
        xml = self.backend.xml(dom, secure=True, inactive=True)
        self.backend.save(dom, str(save))
        try:
            os.rename(live, frozen)
            _qemu_img_overlay(frozen, live)
        except BaseException:
            # Put the disk back as it was and resume the saved memory on it: nothing lost.
            if frozen.exists():
                live.unlink(missing_ok=True)
                os.rename(frozen, live)
            self.backend.restore(str(save), xml)
            save.unlink(missing_ok=True)
            raise
        self.backend.restore(str(save), xml)
        self._after_restore(self.backend.get(dom.name()))
        self._reconnect_company(self.backend.get(dom.name()))
        return time.monotonic() - started

    def has_checkpoint(self, seat: str, name: str = "staged") -> bool:
        folder = self.folder(seat)
        return (folder / f"{name}.qcow2").is_file() and (folder / f"{name}.save").is_file()

    @timing.timed("seat: roll back to a checkpoint")
    def rollback(self, seat: str, name: str = "staged") -> float:
        """Return a seat to a checkpoint, running; seconds taken."""
        started = time.monotonic()
        dom = self._domain(seat)
        folder = self.folder(seat)
        if not self.has_checkpoint(seat, name):
            raise LabError(f"seat '{seat}' has no checkpoint '{name}'")
        xml = self.backend.xml(dom, secure=True, inactive=True)
        if dom.isActive():
            self.backend.poweroff(dom)
        live = folder / "disk.qcow2"
        live.unlink(missing_ok=True)
        _qemu_img_overlay(folder / f"{name}.qcow2", live)
        self.backend.restore(str(folder / f"{name}.save"), xml)
        dom = self._domain(seat)
        self.backend.wait_for_agent(dom, 60)
        self._after_restore(dom)
        self._reconnect_company(dom)
        return time.monotonic() - started

    def _drop_checkpoints(self, seat: str) -> None:
        for p in self.folder(seat).glob("*.save"):
            if p.name != "pristine.save":
                p.unlink(missing_ok=True)
                p.with_suffix(".qcow2").unlink(missing_ok=True)

    def _after_restore(self, dom, *, strict: bool = False) -> None:
        """After a restore: set the guest's clock to now and reseed its random generator.

        The clock of a restored guest is in the past. ``date -s`` through the
        agent rather than guest-set-time, which also writes the RTC with hwclock:
        about a second under software emulation.

        Every seat restored from the same saved memory (the image's warm state,
        or a seat's own pristine state at each reset) starts with the same kernel
        random state, and Linux reseeds on its own only about once a minute: two
        warm seats would make the same SSH host keys and machine id. Host
        randomness goes in, and the kernel is told to reseed now (RNDRESEEDCRNG).

        ``strict``: raise when the guest did not take it (at creation, where the
        seat's identity depends on it); resets carry on.
        """
        script = (
            f"/bin/date -u -s @{time.time():.3f} >/dev/null; "
            "exec perl -e 'binmode STDIN; local $/; my $d = <STDIN>; "
            "open(my $f, \">\", \"/dev/urandom\") or die \"urandom: $!\\n\"; "
            "syswrite($f, $d) == length($d) or die \"write: $!\\n\"; "
            "ioctl($f, 0x5207, 0) or die \"reseed: $!\\n\"'"
        )
        try:
            res = self.backend.agent(dom).sh(script, input=secrets.token_bytes(64), timeout=10)
        except GuestError:
            if strict:
                raise
            return
        if strict and not res.ok:
            raise GuestError(f"domain {dom.name()}: cannot reseed the guest's random generator: "
                             f"{res.stderr.strip() or res.rc}")

    def destroy(self, seat: str) -> None:
        validate_seat_name(seat)
        dom = self.backend.lookup(domain_name(seat))
        if dom is None and not self.folder(seat).exists():
            raise NotFoundError(f"no seat named '{seat}'", hint="`labctl seat list` shows the seats")
        if dom is not None and self._record(dom) is None:
            raise NotFoundError(f"domain {domain_name(seat)} is not a labctl seat; not touching it")
        company = dom is not None and self._record(dom).company
        with state_lock(self.cfg.state_dir):
            self._purge(seat, dom)
        if company:
            self._remove_server_user(seat)
            self._stop_idle_server()

    def _remove_server_user(self, seat: str) -> None:
        """The seat's account, folders and copies on the company server go with it.

        Best effort, like stopping the idle server: with the server stopped they stay,
        and the next seat of that name starts without them anyway (create clears them).
        """
        from .server import ServerManager, company_user

        try:
            server = ServerManager(self.cfg, self.backend)
            if server.status(probe=False).running:
                server.remove_user(company_user(seat))
        except Exception:  # noqa: BLE001 - see the docstring
            pass

    def _stop_idle_server(self) -> None:
        """The company server runs while this lab has company seats: stop it after the last one goes.

        Best effort: a seat is gone either way; `labctl server status` shows what is left.
        """
        from .server import ServerManager

        if any(s.record.company for s in self.list()):  # this lab's seats only
            return
        try:
            server = ServerManager(self.cfg, self.backend)
            if server.status(probe=False).running:
                server.stop()
        except Exception:  # noqa: BLE001 - see the docstring
            pass

    def _purge(self, seat: str, dom) -> None:
        from . import rescue

        if dom is not None:
            self.backend.undefine(dom)
        rescue.clear(self, seat)
        folder = self.folder(seat)
        if folder.exists():
            shutil.rmtree(folder)


def _qemu_img_overlay(base: Path, overlay: Path) -> None:
    try:
        proc = subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2",
                               str(overlay)], capture_output=True, text=True)
    except FileNotFoundError:
        raise HostError("qemu-img is not installed", hint="apt-get install qemu-utils") from None
    if proc.returncode != 0:
        msg = proc.stderr.strip()
        if "No space left" in msg:
            raise HostError(f"disk full making {overlay}", hint="free some disk space")
        raise HostError(f"qemu-img could not make {overlay}: {msg}")


def _ssh_keygen(path: Path, comment: str) -> None:
    try:
        proc = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                              capture_output=True, text=True)
    except FileNotFoundError:
        raise HostError("ssh-keygen is not installed", hint="apt-get install openssh-client") from None
    if proc.returncode != 0:
        raise HostError(f"ssh-keygen failed: {proc.stderr.strip()}")
