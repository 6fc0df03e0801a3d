"""doctor's virtlogd finding: a socket file with no daemon behind it is a failure."""

from __future__ import annotations

import socket

from labctl.doctor import _virtlogd


def test_missing_socket_fails(tmp_path):
    f = _virtlogd(str(tmp_path / "virtlogd-sock"))
    assert not f.ok and "missing" in f.detail


def test_stale_socket_file_fails(tmp_path):
    path = tmp_path / "virtlogd-sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()  # the file stays, nobody listens: what a killed virtlogd leaves behind
    f = _virtlogd(str(path))
    assert not f.ok
    assert "nothing answers" in f.detail and "rm " in f.fix


def test_listening_socket_passes(tmp_path):
    path = tmp_path / "virtlogd-sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.listen(1)
    try:
        assert _virtlogd(str(path)).ok
    finally:
        s.close()
