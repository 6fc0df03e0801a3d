"""Finding seats and reaching them: their records, :class:`SeatInfo`, and their endpoints.

The guest agent, SSH (as the technician, with or without sudo), the screen and
the record in the domain metadata: what every other part of labctl asks a seat for.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, HostError, LabError, NotFoundError
from ..guest.agent import AgentChannel
from ..guest.ssh import SshChannel
from ..hypervisor.accel import AccelChoice, choose_accel, host_facts
from ..machines.inventory import read_seat_record, seat_machines
from ..machines.record import SeatRecord
from ..machines.spec import domain_name
from .credentials import RDP_CERT, SUPPORT_USER, Credentials, rdp_fingerprint, read_credentials

SEAT_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


def validate_seat_name(name: str) -> str:
    if not SEAT_RE.match(name or ""):
        raise ConfigError(f"seat name {name!r} is not valid",
                          hint="use 1-31 lower-case letters, digits or '-', starting with a letter")
    return name


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


PROGRAMS_FILE = "programs.json.gz"


class SeatLookup:
    """Looking seats up and reaching them; part of :class:`labctl.seats.SeatManager` (needs ``cfg``, ``backend``)."""

    def folder(self, seat: str) -> Path:
        return self.cfg.seats_dir / seat

    def accel(self) -> AccelChoice:
        return choose_accel(self.cfg.accel, domain_types=self.backend.domain_types(), **host_facts())

    def _record(self, dom) -> SeatRecord | None:
        return read_seat_record(self.backend, dom)

    def _domain(self, seat: str):
        validate_seat_name(seat)
        dom = self.backend.lookup(domain_name(seat))
        if dom is None or self._record(dom) is None:
            raise NotFoundError(f"no seat named '{seat}'", hint="`labctl seat list` shows the seats")
        return dom

    def credentials(self, seat: str) -> Credentials | None:
        return read_credentials(self.folder(seat))

    def programs_record(self, seat: str) -> dict[str, str] | None:
        """The image's programs as the seat was made with them (labctl/guest/programs.py); None if not kept."""
        from ..guest import programs

        try:
            return programs.load((self.folder(seat) / PROGRAMS_FILE).read_bytes())
        except (OSError, ValueError):
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
        for dom, rec in seat_machines(self.backend):
            if all_labs or self.folder(rec.name).is_dir():
                out.append(self._info(dom, rec))
        return sorted(out, key=lambda s: s.name)

    def agent(self, seat: str) -> AgentChannel:
        return self.backend.agent(self._domain(seat))

    def ssh(self, seat: str, user: str = SUPPORT_USER) -> SshChannel:
        info = self.info(seat)
        host = "127.0.0.1" if info.record.listen in ("0.0.0.0", "::") else info.record.listen
        return SshChannel(host=host, port=info.record.ports["ssh"], user=user,
                          key=info.folder / "id_ed25519", known_hosts=info.folder / "known_hosts")

    def root_ssh(self, seat: str):
        """SSH as the technician account with sudo: the checks' route when the guest agent is gone."""
        from ..guest.ssh import SudoSshChannel

        info = self.info(seat)
        creds = info.credentials
        host = "127.0.0.1" if info.record.listen in ("0.0.0.0", "::") else info.record.listen
        return SudoSshChannel(host=host, port=info.record.ports["ssh"], user=SUPPORT_USER,
                              key=info.folder / "id_ed25519", known_hosts=info.folder / "known_hosts",
                              password=creds.support_password if creds else "")

    def _ssh_host(self) -> str:
        return "127.0.0.1" if self.cfg.listen in ("0.0.0.0", "::") else self.cfg.listen

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

    def screen(self, seat: str):
        """The seat's screen as the user (and the VNC console) sees it now: a :class:`Screen`."""
        from ..hypervisor.screen import Screen

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
