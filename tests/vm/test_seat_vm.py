"""Seats on real virtual machines, booted from the project's own image under libvirt."""

from __future__ import annotations

import subprocess

import pytest

from labctl.guest.ssh import ssh_banner

pytestmark = pytest.mark.vm


def test_seat_boots_and_agent_runs_a_command(seat_manager, vm_seat):
    info = seat_manager.info(vm_seat)
    assert info.status == "running" and info.record.state == "ready"
    res = seat_manager.agent(vm_seat).run(["/bin/sh", "-c", "hostname; id -un; echo err >&2; exit 3"])
    assert res.rc == 3
    assert res.stdout.split() == [f"ws-{vm_seat}", "root"]
    assert res.stderr.strip() == "err"
    assert res.channel == "agent"


def test_agent_runs_as_the_desktop_user(seat_manager, vm_seat):
    res = seat_manager.agent(vm_seat).run(["id", "-un"], user="alex")
    assert res.ok and res.stdout.strip() == "alex"


def test_ssh_answers_with_the_seats_key_and_pinned_host_key(seat_manager, vm_seat):
    info = seat_manager.info(vm_seat)
    assert ssh_banner("127.0.0.1", info.record.ports["ssh"]).startswith("SSH-2.0-OpenSSH")
    res = seat_manager.ssh(vm_seat).run(["id", "-un"])
    assert res.ok, res.stderr
    assert res.stdout.strip() == "support"
    # Another key is refused: the access is per seat.
    other = subprocess.run(
        ["ssh", "-p", str(info.record.ports["ssh"]), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-i", "/dev/null",
         "support@127.0.0.1", "true"], capture_output=True, timeout=30)
    assert other.returncode != 0


def test_consoles_listen_on_loopback_with_a_password(seat_manager, vm_seat):
    info = seat_manager.info(vm_seat)
    xml = seat_manager.backend.xml(seat_manager.backend.get(info.domain), secure=True)
    assert "listen='127.0.0.1'" in xml or 'address="127.0.0.1"' in xml or "address='127.0.0.1'" in xml
    assert info.credentials and len(info.credentials.vnc_password) == 8
    assert f"passwd='{info.credentials.vnc_password}'" in xml
    assert info.vnc_port and info.vnc_port >= 5900


def test_reset_removes_a_file_and_seat_answers_right_after(seat_manager, vm_seat):
    agent = seat_manager.agent(vm_seat)
    assert agent.sh("echo broken > /home/alex/Documents/marker && sync").ok
    assert agent.sh("test -e /home/alex/Documents/marker").rc == 0
    seconds = seat_manager.reset(vm_seat)
    res = seat_manager.agent(vm_seat).sh("test -e /home/alex/Documents/marker")
    assert res.rc == 1, "the file written before the reset is still there"
    assert seat_manager.ssh(vm_seat).run(["true"]).ok
    assert seat_manager.info(vm_seat).record.state == "ready"
    print(f"reset took {seconds:.1f} s")


def test_reset_clears_the_fault_marker_in_metadata(seat_manager, vm_seat):
    seat_manager.update_record(vm_seat, fault="disk-full")
    assert seat_manager.info(vm_seat).record.fault == "disk-full"
    seat_manager.reset(vm_seat)
    assert seat_manager.info(vm_seat).record.fault == ""


def test_checkpoint_rollback_and_reset_drops_it(seat_manager, vm_seat):
    agent = seat_manager.agent(vm_seat)
    agent.sh("echo before > /root/before")
    seat_manager.checkpoint(vm_seat)
    agent.sh("echo after > /root/after; rm /root/before")
    seat_manager.rollback(vm_seat)
    agent = seat_manager.agent(vm_seat)
    assert agent.sh("cat /root/before").stdout.strip() == "before"
    assert agent.run(["test", "-e", "/root/after"]).rc == 1
    assert seat_manager.has_checkpoint(vm_seat)
    seat_manager.reset(vm_seat)
    assert not seat_manager.has_checkpoint(vm_seat)
    assert seat_manager.agent(vm_seat).run(["test", "-e", "/root/before"]).rc == 1


def test_journal_works_on_a_warm_started_seat(seat_manager, vm_seat):
    """The seat's new machine id must not hide the journal from the trainee."""
    agent = seat_manager.agent(vm_seat)
    # In a unit of its own: the agent's own children log only warnings (the agent is kept quiet).
    agent.run(["systemd-run", "--wait", "--quiet", "logger", "-t", "labtest", "hello journal"])
    res = agent.sh("sleep 1; journalctl -t labtest -o cat --no-pager")
    assert "hello journal" in res.stdout


def test_guest_agent_commands_leave_no_journal_lines(seat_manager, vm_seat):
    agent = seat_manager.agent(vm_seat)
    agent.sh("echo secret-command-line-7f3a > /dev/null")
    res = agent.sh("journalctl -m --since -2min -o cat --no-pager | grep -c secret-command-line || true")
    assert res.stdout.strip().splitlines()[-1] == "0", "the agent logged a command line it ran"


def test_clock_is_current_after_reset(seat_manager, vm_seat):
    import time

    seat_manager.reset(vm_seat)
    guest = int(seat_manager.agent(vm_seat).run(["date", "+%s"]).stdout)
    assert abs(guest - time.time()) < 30


def test_each_reset_gives_the_guest_fresh_randomness(seat_manager, vm_seat):
    # A restore brings back the kernel's random state too; without a reseed two
    # resets (or two warm seats) draw the same "random" bytes.
    draws = set()
    for _ in range(2):
        seat_manager.reset(vm_seat)
        draws.add(seat_manager.agent(vm_seat).run(["od", "-An", "-tx1", "-N16", "/dev/urandom"]).stdout)
    assert len(draws) == 2, "two resets drew the same bytes from /dev/urandom"


def test_two_seats_side_by_side_then_destroy_leaves_nothing(seat_manager, vm_seat, make_seat):
    second = make_seat("t2")
    a, b = seat_manager.info(vm_seat), seat_manager.info(second)
    assert a.domain != b.domain
    assert not set(a.record.ports.values()) & set(b.record.ports.values())
    assert a.vnc_port != b.vnc_port
    assert seat_manager.agent(second).run(["hostname"]).stdout.strip() == f"ws-{second}"
    a_key = seat_manager.agent(vm_seat).read_file("/etc/ssh/ssh_host_ed25519_key.pub")
    b_key = seat_manager.agent(second).read_file("/etc/ssh/ssh_host_ed25519_key.pub")
    assert a_key != b_key, "two seats share SSH host keys"
    a_id = seat_manager.agent(vm_seat).read_file("/etc/machine-id")
    b_id = seat_manager.agent(second).read_file("/etc/machine-id")
    assert a_id and b_id and a_id != b_id, "two seats share a machine id"
    assert (a.credentials.vnc_password, a.credentials.user_password) != (b.credentials.vnc_password, b.credentials.user_password)

    folder = b.folder
    seat_manager.destroy(second)
    assert seat_manager.backend.lookup(b.domain) is None
    assert not folder.exists()
    assert not (folder / "disk.qcow2").exists()
    assert second not in [s.name for s in seat_manager.list()]


def test_stop_and_start_keep_the_seat(seat_manager, vm_seat):
    seat_manager.stop(vm_seat, force=True)
    assert seat_manager.info(vm_seat).status == "stopped"
    # Reset works from a stopped seat too and brings it back running.
    seat_manager.reset(vm_seat)
    assert seat_manager.info(vm_seat).status == "running"
    assert seat_manager.agent(vm_seat).run(["true"]).ok


def test_seats_created_in_parallel_are_all_ready_and_distinct(seat_manager):
    import secrets

    names = [f"tp-{secrets.token_hex(2)}" for _ in range(2)]
    try:
        made, errors = seat_manager.create_many(names, parallel=2)
        assert errors == {}
        assert sorted(m.name for m in made) == sorted(names)
        infos = [seat_manager.info(n) for n in names]
        assert all(i.status == "running" and i.record.state == "ready" for i in infos)
        ports = [p for i in infos for p in i.record.ports.values()]
        assert len(ports) == len(set(ports))
        ids = {seat_manager.agent(n).read_file("/etc/machine-id") for n in names}
        assert len(ids) == 2
    finally:
        for n in names:
            try:
                seat_manager.destroy(n)
            except Exception:  # noqa: BLE001
                pass


def test_another_lab_on_the_host_neither_lists_nor_takes_this_labs_seat(lab_cfg, seat_manager, vm_seat, tmp_path):
    """Two labs (two state dirs) on one host: each lists its own seats; a name taken is refused, not cleared."""
    import dataclasses

    from labctl.errors import AlreadyExistsError
    from labctl.seats import SeatManager

    other = SeatManager(dataclasses.replace(lab_cfg, state_dir=tmp_path / "other-lab", warm_start=False))
    assert vm_seat not in [s.name for s in other.list()]
    assert vm_seat in [s.name for s in other.list(all_labs=True)]
    assert vm_seat in [s.name for s in seat_manager.list()]
    with pytest.raises(AlreadyExistsError, match="another lab"):
        other.create(vm_seat)
    # this lab's seat is untouched
    assert seat_manager.info(vm_seat).status == "running"
    assert seat_manager.agent(vm_seat).sh("true", timeout=30).ok
