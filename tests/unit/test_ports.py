import socket

import pytest

from labctl.errors import HostError
from labctl.ports import allocate, port_is_free


def test_allocate_skips_used_and_busy_ports():
    busy = {50002}
    got = allocate(["ssh", "rdp"], used={50000}, first=50000, last=50010, is_free=lambda p: p not in busy)
    assert got == {"ssh": 50001, "rdp": 50003}


def test_allocate_never_repeats_a_port():
    got = allocate(["a", "b", "c"], used=set(), first=50000, last=50002, is_free=lambda p: True)
    assert sorted(got.values()) == [50000, 50001, 50002]


def test_allocate_exhausted_range_is_a_clear_error():
    with pytest.raises(HostError, match="no free host port left in 50000-50001"):
        allocate(["a", "b", "c"], used=set(), first=50000, last=50001, is_free=lambda p: True)


def test_port_is_free_sees_a_listener():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert port_is_free("127.0.0.1", port) is False
    assert port_is_free("127.0.0.1", port) is True
