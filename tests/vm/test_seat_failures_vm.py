"""Failures halfway through creation leave nothing behind, and a rerun converges."""

from __future__ import annotations

import socket

import pytest

from labctl.errors import AlreadyExistsError, GuestError
from labctl.seats import domain_name

pytestmark = pytest.mark.vm


def _leftovers(mgr, name):
    return mgr.backend.lookup(domain_name(name)) is not None, mgr.folder(name).exists()


def test_boot_failure_rolls_back_and_rerun_succeeds(seat_manager, lab_cfg, monkeypatch):
    name = "t-fail"
    calls = {"n": 0}
    real = seat_manager.backend.wait_for_agent

    def failing(dom, timeout):
        calls["n"] += 1
        raise GuestError("simulated: guest agent did not answer")

    monkeypatch.setattr(seat_manager.backend, "wait_for_agent", failing)
    with pytest.raises(GuestError):
        seat_manager.create(name)
    assert calls["n"] == 1
    assert _leftovers(seat_manager, name) == (False, False)
    monkeypatch.setattr(seat_manager.backend, "wait_for_agent", real)
    try:
        info = seat_manager.create(name)
        assert info.status == "running"
        with pytest.raises(AlreadyExistsError):
            seat_manager.create(name)
    finally:
        seat_manager.destroy(name)
    assert _leftovers(seat_manager, name) == (False, False)


def test_port_taken_by_another_program_is_skipped(seat_manager, lab_cfg):
    # Occupy the next port labctl would pick; allocation must step over it.
    used = {p for s in seat_manager.list() for p in s.record.ports.values()}
    port = next(p for p in range(lab_cfg.port_min, lab_cfg.port_max) if p not in used)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        name = "t-port"
        try:
            info = seat_manager.create(name)
            assert port not in info.record.ports.values()
        finally:
            seat_manager.destroy(name)


def test_interrupted_creation_is_cleared_by_the_next_create(seat_manager, lab_cfg, monkeypatch):
    """A process killed mid-creation leaves state='creating'; the next create clears it."""
    name = "t-killed"

    class Killed(BaseException):
        pass

    def killed(*a, **kw):
        raise Killed()

    # Simulate the kill after the domain exists, skipping the rollback (as SIGKILL would).
    monkeypatch.setattr(seat_manager, "_purge", lambda *a, **kw: None)
    monkeypatch.setattr(seat_manager.backend, "wait_for_agent", killed)
    with pytest.raises(Killed):
        seat_manager.create(name)
    monkeypatch.undo()
    assert _leftovers(seat_manager, name) == (True, True)
    assert seat_manager.info(name).record.state == "creating"
    try:
        info = seat_manager.create(name)
        assert info.record.state == "ready"
    finally:
        seat_manager.destroy(name)
