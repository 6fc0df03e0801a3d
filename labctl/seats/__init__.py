"""Seats: one libvirt domain per trainee workstation.

What labctl knows about a seat's machine lives with the machine, in the domain's
metadata (image, ports, listen address, pristine marker, injected fault). Secrets
(VNC and account passwords, the SSH key) live in the seat's folder under the
state directory, readable by root only.

The seat service, by responsibility: :mod:`.info` (lookup, :class:`SeatInfo`,
endpoints), :mod:`.credentials` (secrets), :mod:`.create` (warm state, creation),
:mod:`.personalise` (the seat's identity in its guest), :mod:`.lifecycle`
(start, stop, reset, checkpoints, destroy), one :class:`SeatManager` over them.
Machine primitives (domain XML, records, disks, saved states) are in
:mod:`labctl.machines`; the names other code imported from here stay importable.
"""

from ..hypervisor.libvirt_backend import META_URI
from ..machines.disks import qemu_img_overlay as _qemu_img_overlay
from ..machines.record import SeatRecord
from ..machines.spec import DOMAIN_PREFIX, GUEST_PORTS, _template_env, domain_name, random_mac, render_domain_xml
from ..machines.states import GOLDEN_VERSION, Golden
from .create import FORWARDED, Progress
from .credentials import DESKTOP_USER, RDP_CERT, SUPPORT_USER, Credentials, _ssh_keygen, rdp_fingerprint
from .info import SEAT_RE, SeatInfo, validate_seat_name
from .manager import SeatManager
from .personalise import DESKTOP_READY, XRDP_CERT, XRDP_KEY, wait_for_desktop

__all__ = [
    "DESKTOP_READY", "DESKTOP_USER", "DOMAIN_PREFIX", "FORWARDED", "GOLDEN_VERSION", "GUEST_PORTS", "META_URI",
    "RDP_CERT", "SEAT_RE", "SUPPORT_USER", "XRDP_CERT", "XRDP_KEY", "Credentials", "Golden", "Progress",
    "SeatInfo", "SeatManager", "SeatRecord", "_qemu_img_overlay", "_ssh_keygen", "_template_env", "domain_name",
    "random_mac", "rdp_fingerprint", "render_domain_xml", "validate_seat_name", "wait_for_desktop",
]
