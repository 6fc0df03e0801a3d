"""Shared fixtures.

VM tests (marker ``vm``) boot real seats from the project's own image under
libvirt. Outside CI they skip when libvirt or the image is missing; with
``CI=true`` that is a failure, because the VM layer is not optional there.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from labctl.config import load_config

IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_STATE = Path(os.environ.get("LABCTL_TEST_STATE", "/var/lib/labctl-test"))


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"VM tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def lab_cfg():
    """Config for VM tests: own state dir and port range, the shared image cache."""
    # One vCPU per seat: the VM tests run two or more emulated guests on a 2-core machine, and
    # 2-vCPU guests there spend boots in soft lockups (a vCPU spinning on a lock whose holder's
    # vCPU thread is not running). Nothing the tests prove depends on a second vCPU.
    # LABCTL_TEST_PORTS=min-max keeps test runs side by side (several checkouts) out of each other's ports.
    lo, hi = os.environ.get("LABCTL_TEST_PORTS", "43000-43999").split("-")
    return load_config(env={}, state_dir=str(TEST_STATE), port_min=int(lo), port_max=int(hi), seat_vcpus=1)


@pytest.fixture(scope="session")
def vm_ready(lab_cfg):
    """libvirt reachable and the workstation image built (built here if missing)."""
    try:
        from labctl.hypervisor.libvirt_backend import LibvirtBackend

        LibvirtBackend(lab_cfg.libvirt_uri).conn.getLibVersion()
    except Exception as exc:  # noqa: BLE001 - any reason is a reason to fail/skip
        _unavailable(f"libvirt not usable: {exc}")
    from labctl import images
    from labctl.errors import LabError

    try:
        return images.find_built(lab_cfg, "workstation")
    except LabError:
        if not IN_CI and not os.environ.get("LABCTL_BUILD_IN_TESTS"):
            _unavailable("workstation image not built (labctl image build workstation)")
        return images.build(lab_cfg, "workstation")


@pytest.fixture(scope="session")
def seat_manager(lab_cfg, vm_ready):
    from labctl.seats import SeatManager

    mgr = SeatManager(lab_cfg)
    mgr.warm_up()  # once per image; the tests then time seat starts, not the first boot
    return mgr


@pytest.fixture(scope="session")
def make_seat(seat_manager):
    """Create seats on demand; all of them are destroyed at the end of the session."""
    made: list[str] = []

    def _make(prefix: str = "t") -> str:
        name = f"{prefix}-{secrets.token_hex(2)}"
        seat_manager.create(name)
        made.append(name)
        return name

    yield _make
    for name in made:
        try:
            seat_manager.destroy(name)
        except Exception:  # noqa: BLE001 - best effort cleanup
            pass


@pytest.fixture(scope="module")
def vm_seat(make_seat):
    """One running seat per test module; tests reset it when they need pristine."""
    return make_seat("t")
