"""SeatManager: the seat service, one object over the parts of this package."""

from __future__ import annotations

from ..config import Config
from ..hypervisor.libvirt_backend import LibvirtBackend
from .create import Creation
from .info import SeatLookup
from .lifecycle import Lifecycle
from .personalise import Personalisation
from .rebase import Rebasing


class SeatManager(SeatLookup, Creation, Personalisation, Lifecycle, Rebasing):
    """Create, inspect, reset and destroy seats.

    Each responsibility is its own module (``info``, ``create``, ``personalise``,
    ``lifecycle``, ``rebase``); they share ``cfg`` and ``backend`` and call each other through
    ``self``, so every method keeps the name it always had.
    """

    def __init__(self, cfg: Config, backend: LibvirtBackend | None = None):
        self.cfg = cfg
        self.backend = backend or LibvirtBackend(cfg.libvirt_uri)
