"""Stand-ins for the seat manager, the fault engine and the catalogue: for session *logic* tests only.

The real thing is exercised on real VMs by tests/vm/test_sessions_vm.py.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

from labctl.errors import NotFoundError
from labctl.faults.checks import CheckReport, CheckResult
from labctl.faults.draw import Draw, Ticket, priority
from labctl.faults.engine import SeatFault


def fake_fault(fid: str, families=("T2-DISK",), level: int = 1, variants=("a", "b", "c"), cps=("CP4",),
               difficulty: int = 1, impact: str = "medium", urgency: str = "high", image: str = "workstation"):
    return SimpleNamespace(id=fid, families=tuple(families), competencies=tuple(cps), level=level, os="linux",
                           image=image, needs_company=False,
                           difficulty=difficulty, variants=tuple(SimpleNamespace(id=v) for v in variants),
                           ticket=SimpleNamespace(impact=impact, urgency=urgency), title=fid)


class FakeCatalog:
    def __init__(self, faults, folder: Path = Path("/nonexistent/faults")):
        self.faults = {f.id: f for f in faults}
        self.dir = folder

    def ids(self):
        return sorted(self.faults)

    def get(self, fid):
        if fid not in self.faults:
            raise NotFoundError(f"unknown fault '{fid}'", hint="known faults: " + ", ".join(self.ids()))
        return self.faults[fid]

    def all(self):
        return [self.faults[k] for k in self.ids()]


class FakeSeats:
    def __init__(self):
        self.machines: dict[str, str] = {}  # name -> status
        self.created: list[str] = []
        self.lock = threading.Lock()
        self.fail_create: set[str] = set()
        self.vnc_port = 5901
        self.screenshots: list[str] = []
        self.images: dict[str, str | None] = {}  # name -> image asked for
        self.warmed: list[str | None] = []
        self.bases: dict[str, object] = {}  # name -> prepared state it was made from

    def warm_up(self, image=None, *, progress=None):
        self.warmed.append(image)
        return None

    def create(self, name, image=None, *, company=False, base=None, progress=None):
        self.images[name] = image
        self.bases[name] = base
        if name in self.fail_create:
            from labctl.errors import HostError

            raise HostError(f"seat {name}: creation failed: simulated")
        with self.lock:
            self.machines[name] = "running"
            self.created.append(name)
        return self.info(name)

    def info(self, name):
        if name not in self.machines:
            raise NotFoundError(f"no seat named '{name}'")
        creds = SimpleNamespace(vnc_password="vncpw123", user_password="u-p-w", support_password="supportpw")
        rec = SimpleNamespace(state="ready", image="workstation", image_digest="d1g3st", listen="127.0.0.1",
                              ports={"ssh": 43022})
        return SimpleNamespace(name=name, status=self.machines[name], record=rec,
                               vnc_port=self.vnc_port if self.machines[name] == "running" else None, credentials=creds)

    def screenshot(self, name, *, max_width=None):
        self.info(name)
        self.screenshots.append(name)
        return b"\x89PNG\r\n\x1a\n" + name.encode()  # enough for routing tests; real ones: tests/vm/test_web_vm.py

    def list(self, *, all_labs=False):
        return [self.info(n) for n in sorted(self.machines)]

    def reset(self, name, *, wait=True):
        self.info(name)
        self.machines[name] = "running"
        return 1.0

    def start(self, name, *, wait=True):
        self.machines[name] = "running"

    def destroy(self, name):
        self.info(name)
        del self.machines[name]


class FakeEngine:
    """Seats start broken (functional checks fail); fix() makes them pass; groups can be forced."""

    def __init__(self, seats: FakeSeats, catalog: FakeCatalog):
        self.seats = seats
        self.catalog = catalog
        self.state: dict[str, SeatFault] = {}
        self.fixed: set[str] = set()
        self.groups: dict[str, dict[str, str]] = {}
        self.injected: list[tuple[str, str, str]] = []
        self.fail_inject: set[str] = set()
        self.made_bases: list[tuple[str, str]] = []

    def inject(self, seat, fault_id, *, seed=None, variant=None, progress=None):
        info = self.seats.info(seat)
        if info.status != "running":
            from labctl.errors import LabError

            raise LabError(f"seat '{seat}' is {info.status}")
        if seat in self.fail_inject:
            from labctl.faults.engine import FaultError

            raise FaultError(f"seat {seat}: {fault_id} inject failed: simulated")
        self.state[seat] = SeatFault(fault_id, variant or "a", seed or 0, "injected")
        self.fixed.discard(seat)
        self.injected.append((seat, fault_id, variant))
        return Draw(fault_id, variant or "a", seed or 0, {}), []

    def current(self, seat):
        self.seats.info(seat)
        return self.state.get(seat)

    def prepared_base(self, image, fault_id, *, seed, variant, progress=None):
        """A stand-in for a prepared state: which draw it was made for."""
        self.made_bases.append((fault_id, variant))
        return ("prepared", fault_id, variant)

    def holds_other_preparation(self, seat, fault_id, *, seed, variant):
        base = self.seats.bases.get(seat)
        return base is not None and base != ("prepared", fault_id, variant)

    def fix(self, seat):
        self.fixed.add(seat)

    def check(self, seat):
        cur = self.state[seat]
        g = {"functional": "pass" if seat in self.fixed else "fail", "integrity": "pass", "security": "pass"}
        g.update(self.groups.get(seat, {}))
        results = tuple(CheckResult(f"{k}-1", k, k, v, "observed", "expected") for k, v in g.items())
        return CheckReport(cur.fault, cur.variant, results, 0.1)

    def ticket(self, seat, lang="en"):
        cur = self.state[seat]
        f = self.catalog.get(cur.fault)
        return Ticket(fault=f.id, lang=lang, subject=f"{f.id} trouble ({lang})", body="It does not work.\n",
                      impact=f.ticket.impact, urgency=f.ticket.urgency,
                      priority=priority(f.ticket.impact, f.ticket.urgency))


def make_sessions(tmp_path: Path, faults=None, scenarios_dir: Path | None = None):
    from labctl.config import load_config
    from labctl.sessions import Sessions

    cfg = load_config(env={}, state_dir=str(tmp_path / "state"), faults_dir=str(tmp_path / "faults"),
                      scenarios_dir=str(scenarios_dir or tmp_path / "scenarios"))
    catalog = FakeCatalog(faults or [fake_fault("disk-full", ("T2-DISK",), 1, ("log", "trash", "cache", "dl")),
                                     fake_fault("licence-expired", ("T2-SOFT",), 2, ("x", "y", "z"),
                                                cps=("CP3", "CP8"))])
    seats = FakeSeats()
    engine = FakeEngine(seats, catalog)
    return Sessions(cfg, seats=seats, engine=engine, catalog=catalog), seats, engine
