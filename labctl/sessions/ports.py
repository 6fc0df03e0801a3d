"""What a session needs from the layers below it, as Protocols.

``Sessions`` drives seats (``labctl.seats.SeatManager``), the fault engine
(``labctl.faults.engine.FaultEngine``) and the fault catalogue
(``labctl.faults.manifest.Catalog``); the unit tests drive it with the stand-ins of
``tests/unit/session_fakes.py``. Both sides meet here: a method a session calls is
listed, so no caller asks a collaborator whether it happens to have one.

The company server has no port of its own: a session never talks to it. A seat whose
fault needs it is created with ``company=True`` and the seat service starts the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence

if TYPE_CHECKING:
    from ..faults.checks import CheckReport
    from ..faults.draw import Ticket
    from ..faults.engine import SeatFault

Progress = Callable[[str], None]


class SeatRecordView(Protocol):
    """The parts of a seat's metadata record a session reads."""

    state: str  # creating | ready ...
    image: str
    image_digest: str
    listen: str
    ports: Mapping[str, int] | None


class SeatCredentialsView(Protocol):
    vnc_password: str
    support_password: str


class SeatView(Protocol):
    """A seat as ``SeatService.info`` describes it."""

    @property
    def name(self) -> str: ...

    status: str  # libvirt's: running | shut off | crashed | paused ...
    record: SeatRecordView
    vnc_port: int | None
    credentials: SeatCredentialsView | None


class SeatService(Protocol):
    """The seat service, as far as sessions use it."""

    def info(self, seat: str) -> SeatView: ...  # NotFoundError when there is no such machine

    def list(self, *, all_labs: bool = False) -> Sequence[SeatView]: ...

    def warm_up(self, image: str | None = None, *, progress: Progress | None = None) -> Any: ...

    def create(self, seat: str, image: str | None = None, *, company: bool = False, base: Any = None,
               progress: Progress | None = None) -> Any: ...

    def start(self, seat: str, *, wait: bool = True) -> Any: ...

    def reset(self, seat: str, *, wait: bool = True) -> float: ...

    def destroy(self, seat: str) -> None: ...

    def screenshot(self, seat: str, *, max_width: int | None = None) -> bytes: ...  # the web's thumbnails


class FaultInfo(Protocol):
    """A fault recipe, as far as sessions read it."""

    id: str
    image: str
    os: str
    level: int
    families: tuple[str, ...]
    competencies: tuple[str, ...]
    variants: Sequence[Any]  # each with an ``id``

    @property
    def needs_company(self) -> bool: ...


class FaultCatalog(Protocol):
    def get(self, fault_id: str) -> FaultInfo: ...  # NotFoundError for an unknown fault

    def ids(self) -> list[str]: ...


class FaultService(Protocol):
    """The fault engine, as far as sessions use it."""

    catalog: FaultCatalog

    def current(self, seat: str) -> SeatFault | None: ...

    def inject(self, seat: str, fault_id: str, *, seed: int | None = None, variant: str | None = None,
               progress: Progress | None = None) -> Any: ...

    def check(self, seat: str) -> CheckReport: ...

    # A new seat starts from its fault's prepared state (None: from the image's warm state).
    def prepared_base(self, image: str, fault_id: str, *, seed: int, variant: str | None,
                      progress: Progress | None = None) -> Any: ...

    def holds_other_preparation(self, seat: str, fault_id: str, *, seed: int, variant: str | None) -> bool: ...

    def ticket(self, seat: str, lang: str = "en") -> Ticket: ...
