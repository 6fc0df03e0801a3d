"""The CLI's error paths, through click's CliRunner."""

import pytest
from click.testing import CliRunner

from labctl.cli.main import cli


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LABCTL_CACHE_DIR", str(tmp_path / "cache"))

    def _run(*args):
        return CliRunner().invoke(cli, list(args))

    return _run


def test_help_lists_the_groups(run):
    res = run("--help")
    assert res.exit_code == 0
    for group in ("image", "seat", "doctor"):
        assert group in res.output


def test_unknown_image_is_one_clear_line(run):
    res = run("image", "build", "no-such-image")
    assert res.exit_code == 3
    assert "unknown image 'no-such-image'" in res.output
    assert "Traceback" not in res.output


def test_invalid_seat_name_is_refused(run):
    res = run("seat", "create", "Bad_Name!")
    assert res.exit_code == 2
    assert "seat name 'Bad_Name!' is not valid" in res.output


def test_create_without_built_image_says_how_to_build(run):
    res = run("seat", "create", "desk9")
    assert res.exit_code == 3
    assert "labctl image build workstation" in res.output


def test_stopped_libvirt_is_a_clear_error(run, monkeypatch):
    monkeypatch.setenv("LABCTL_LIBVIRT_URI", "qemu+unix:///system?socket=/nonexistent/sock")
    res = run("seat", "list")
    assert res.exit_code == 5
    assert "cannot connect to libvirt" in res.output
    assert "libvirtd -d" in res.output


def test_bad_config_file_names_file_and_field(run, tmp_path):
    cfg = tmp_path / "lab.toml"
    cfg.write_text('listen = "everywhere"\n')
    res = run("--config", str(cfg), "seat", "list")
    assert res.exit_code == 2
    assert "lab.toml" in res.output and "'listen'" in res.output


def test_unknown_seat_on_test_driver(run, monkeypatch):
    monkeypatch.setenv("LABCTL_LIBVIRT_URI", "test:///default")
    for cmd in (["seat", "info", "ghost"], ["seat", "reset", "ghost"], ["seat", "destroy", "--yes", "ghost"],
                ["seat", "destroy", "-y", "ghost"]):
        res = run(*cmd)
        assert res.exit_code == 3, (cmd, res.output)
        assert "no seat named 'ghost'" in res.output


def test_debug_shows_the_traceback(run, tmp_path):
    """--debug lets the library error through to Python, which prints its traceback; without it, one line."""
    import os
    import subprocess
    import sys

    def labctl(*args):
        return subprocess.run([sys.executable, "-m", "labctl.cli.main", *args], capture_output=True, text=True,
                              cwd=tmp_path, env=dict(os.environ), timeout=120)

    debug = labctl("--debug", "image", "build", "no-such-image")
    assert debug.returncode == 1  # Python's own exit status for an uncaught exception
    assert "Traceback (most recent call last)" in debug.stderr
    assert "labctl.errors.NotFoundError: unknown image 'no-such-image'" in debug.stderr
    assert "raise NotFoundError" in debug.stderr, "the frames down to where the error was raised"
    plain = labctl("image", "build", "no-such-image")
    assert plain.returncode == 3
    assert "Traceback" not in plain.stderr + plain.stdout
    assert plain.stderr.startswith("error: unknown image 'no-such-image'")


def test_force_rebuild_refuses_under_running_seats(run, monkeypatch):
    from labctl import images
    from labctl.machines import inventory

    digest = images.load_recipe(images.Path(__file__).resolve().parents[2] / "images", "workstation").digest()
    monkeypatch.setattr(inventory, "image_users", lambda backend: [
        inventory.ImageUser("desk1", "workstation", digest), inventory.ImageUser("old", "workstation", "0" * 16)])
    monkeypatch.setattr(images, "build", lambda *a, **k: pytest.fail("must not build"))
    res = run("image", "build", "--force", "workstation")
    assert res.exit_code == 1
    assert "machines desk1 run on image workstation" in res.output


# -- fault ---------------------------------------------------------------------------------

def test_fault_list_and_filters(run):
    res = run("fault", "list")
    assert res.exit_code == 0 and "disk-full" in res.output
    res = run("fault", "list", "--family", "T2-DISK", "--json")
    assert res.exit_code == 0
    import json
    assert [f["id"] for f in json.loads(res.output)] == ["disk-full"]
    res = run("fault", "list", "--competency", "CP99")
    assert res.exit_code == 0 and "no faults match" in res.output


def test_fault_show_has_variants_checks_and_repairs(run):
    res = run("fault", "show", "disk-full")
    assert res.exit_code == 0
    for word in ("runaway-log", "space-for-user", "decoy", "legit"):
        assert word in res.output


def test_fault_show_unknown_is_one_line(run):
    res = run("fault", "show", "nope")
    assert res.exit_code == 3 and "unknown fault 'nope'" in res.output and "Traceback" not in res.output


def test_fault_test_needs_ids_or_all(run):
    res = run("fault", "test")
    assert res.exit_code == 2 and "give fault ids or --all" in res.output


def test_fault_new_scaffolds_and_refuses_twice(run, tmp_path, monkeypatch):
    monkeypatch.setenv("LABCTL_FAULTS_DIR", str(tmp_path / "faults"))
    (tmp_path / "faults").mkdir()
    res = run("fault", "new", "printer-offline", "--family", "T1-HW")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "faults" / "printer-offline" / "fault.yaml").is_file()
    res = run("fault", "list")
    assert "printer-offline" in res.output
    res = run("fault", "new", "printer-offline")
    assert res.exit_code == 4
    res = run("fault", "new", "bad", "--family", "T9-NOPE")
    assert res.exit_code == 2 and "unknown family" in res.output


def test_server_group_on_test_driver(run, monkeypatch):
    monkeypatch.setenv("LABCTL_LIBVIRT_URI", "test:///default")
    res = run("server", "status")
    assert res.exit_code == 0 and "not made" in res.output
    res = run("server", "stop")
    assert res.exit_code == 3 and "no company server" in res.output
    res = run("server", "destroy", "--yes")
    assert res.exit_code == 3 and "no company server" in res.output
    res = run("server", "start")  # no server image built in this cache: a clear error, nothing made
    assert res.exit_code != 0 and "image 'server' is not built" in res.output
    assert "not made" in run("server", "status").output


def test_seat_info_pins_the_rdp_certificate_of_a_desktop_seat(tmp_path):
    import subprocess

    from labctl.cli.seat import connect_text
    from labctl.seats import RDP_CERT, Credentials, SeatInfo, SeatRecord

    rec = SeatRecord(name="desk1", state="ready", image="desktop", image_digest="abc", listen="127.0.0.1",
                     ports={"ssh": 42000, "rdp": 42001})
    info = SeatInfo(rec, "labctl-desk1", "running", 5900, tmp_path, Credentials.generate())
    # No pinned certificate (a seat made before labctl pinned them): no fingerprint, no false promise.
    assert info.rdp_fingerprint is None and "/cert:fingerprint" not in connect_text(info)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-subj", "/CN=ws-desk1", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / RDP_CERT)], check=True, capture_output=True)
    out = subprocess.run(["openssl", "x509", "-in", str(tmp_path / RDP_CERT), "-noout", "-fingerprint", "-sha256"],
                         check=True, capture_output=True, text=True).stdout
    expected = out.strip().split("=", 1)[1].lower()
    assert info.rdp_fingerprint == expected and len(expected) == 95
    text = connect_text(info)
    assert f"/cert:fingerprint:sha256:{expected}" in text and "/cert:ignore" not in text
    assert info.as_dict()["rdp_fingerprint"] == expected
    # A seat without RDP (the workstation) says nothing about RDP.
    plain = SeatInfo(SeatRecord(name="ws1", state="ready", image="workstation", image_digest="abc",
                                listen="127.0.0.1", ports={"ssh": 42002}), "labctl-ws1", "running", 5901,
                     tmp_path, None)
    assert plain.rdp_fingerprint is None and "RDP" not in connect_text(plain)
    assert "rdp_fingerprint" not in plain.as_dict()


def test_fault_test_passes_the_reboot_and_repeat_policies_on(run, monkeypatch):
    from labctl.faults import testing

    seen = {}

    class Tester:
        def __init__(self, engine, seat, **kw):
            seen.update(kw, seat=seat)

        def run(self, fault, variants=None, repairs=True):
            return testing.FaultTestReport(fault.id, seen["seat"], 1,
                                           [testing.StepResult("log", "checks fail after inject", "pass", "", 0.1)])

    monkeypatch.setattr(testing, "FaultTester", Tester)
    res = run("fault", "test", "disk-full", "--seat", "s1", "--reboots", "first-broken", "--repeats", "none",
              "--repairs", "spread")
    assert res.exit_code == 0, res.output
    assert (seen["seat"], seen["reboots"], seen["repeats"], seen["repairs"]) == ("s1", "first-broken", "none", "spread")
    res = run("fault", "test", "disk-full", "--seat", "s1", "--repeats", "some")
    assert res.exit_code == 2 and "'some' is not one of" in res.output
