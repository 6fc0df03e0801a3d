"""The fault framework without a VM: recipes, draws, tickets, check verdicts, reports."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from labctl.errors import ConfigError, GuestError, NotFoundError
from labctl.faults import checks
from labctl.faults.checks import CheckReport, CheckResult, run_check, run_checks
from labctl.faults.draw import PREPARED_POOL, draw, pool_index, prepare_values, priority, render_ticket
from labctl.faults.manifest import Catalog, CheckSpec, load_fault
from labctl.faults.testing import FaultTestReport, StepResult, junit_xml
from labctl.guest import Channel, CommandResult

ROOT = Path(__file__).resolve().parents[2]
FAULTS = ROOT / "faults"


@pytest.fixture
def recipe(tmp_path):
    """A copy of disk-full to break in various ways."""
    dst = tmp_path / "disk-full"
    shutil.copytree(FAULTS / "disk-full", dst)
    return dst


def _edit(folder: Path, fn) -> None:
    path = folder / "fault.yaml"
    data = yaml.safe_load(path.read_text())
    fn(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


# -- loading ----------------------------------------------------------------------------

def test_catalogue_lists_recipes_by_folder():
    cat = Catalog(FAULTS)
    assert "disk-full" in cat.ids()
    f = cat.get("disk-full")
    assert f.families == ("T2-DISK",) and len(f.variants) >= 3


def test_unknown_fault_names_the_known_ones():
    with pytest.raises(NotFoundError) as e:
        Catalog(FAULTS).get("no-such-fault")
    assert "disk-full" in e.value.hint


def test_bad_yaml_names_the_file(recipe):
    (recipe / "fault.yaml").write_text("id: disk-full\n  title: [unclosed\n")
    with pytest.raises(ConfigError) as e:
        load_fault(recipe)
    assert str(recipe / "fault.yaml") in e.value.message and "YAML" in e.value.message


def test_unknown_field_is_named(recipe):
    _edit(recipe, lambda d: d.update(colour="blue"))
    with pytest.raises(ConfigError) as e:
        load_fault(recipe)
    assert "fault.yaml" in e.value.message and "colour" in e.value.message


def test_unknown_field_in_a_check_names_its_path(recipe):
    _edit(recipe, lambda d: d["checks"][0]["free_space"].update(minimum=3))
    with pytest.raises(ConfigError) as e:
        load_fault(recipe)
    assert "checks[0].free_space" in e.value.message and "minimum" in e.value.message


def test_unknown_family_id_is_refused(recipe):
    _edit(recipe, lambda d: d.update(families=["T2-DISKS"]))
    with pytest.raises(ConfigError) as e:
        load_fault(recipe)
    assert "families[0]" in e.value.message and "T2-DISKS" in e.value.message


def test_missing_playbook_is_refused(recipe):
    (recipe / "fix.yml").unlink()
    with pytest.raises(ConfigError) as e:
        load_fault(recipe)
    assert "fix.yml" in e.value.message


def test_missing_repair_playbook_is_named(recipe):
    (recipe / "repairs" / "empty-home.yml").unlink()
    with pytest.raises(ConfigError) as e:
        load_fault(recipe)
    assert "repairs[" in e.value.message and "empty-home.yml" in e.value.message


def test_check_with_two_kinds_is_refused(recipe):
    _edit(recipe, lambda d: d["checks"][0].update(service={"unit": "x"}))
    with pytest.raises(ConfigError) as e:
        load_fault(recipe)
    assert "checks[0]" in e.value.message and "exactly one check kind" in e.value.message


def test_id_must_match_folder(recipe):
    _edit(recipe, lambda d: d.update(id="disk-fulll"))
    with pytest.raises(ConfigError, match="folder name"):
        load_fault(recipe)


def test_check_restricted_to_unknown_variant_is_refused(recipe):
    _edit(recipe, lambda d: d["checks"][2].update(variants=["nope"]))
    with pytest.raises(ConfigError, match=r"checks\[2\].variants"):
        load_fault(recipe)


# -- drawing -----------------------------------------------------------------------------

def test_draw_is_reproducible_and_seeds_differ():
    f = Catalog(FAULTS).get("disk-full")
    assert draw(f, 5) == draw(f, 5)
    draws = [draw(f, s) for s in range(40)]
    assert {d.variant for d in draws} == {v.id for v in f.variants}, "every variant comes up over 40 seeds"
    per_seat = {(d.params["download_name"], d.params["trash_name"], d.params["cache_app"]) for d in draws}
    assert len(per_seat) > 15, "per-seat parameters differ from seed to seed"
    # doc_token is `prepare: true`: drawn from the variant's pool, shared by the seats of one prepared state.
    pooled = {(d.variant, d.params["doc_token"]) for d in draws}
    assert len(pooled) == len(f.variants) * PREPARED_POOL
    assert len({t for _, t in pooled}) == len(pooled), "each pooled draw has its own token"


def test_prepare_values_hold_only_what_shapes_the_prepared_stage():
    f = Catalog(FAULTS).get("disk-full")
    d = draw(f, 7, "trash")
    got = prepare_values(f, d)
    assert got == {"doc_token": d.params["doc_token"], "variant": "trash"}, \
        "filler_name refers to trash_name, a per-seat value: not the prepare stage's"
    d = draw(f, 7, "runaway-log")
    assert prepare_values(f, d)["filler_name"] == "debug.log"  # a variant's own constant is
    seeds = {pool_index(f, s) for s in range(20)}
    assert seeds == set(range(PREPARED_POOL))


def test_forced_variant_and_templated_variant_params():
    f = Catalog(FAULTS).get("disk-full")
    d = draw(f, 3, "download")
    assert d.variant == "download"
    assert d.params["filler_name"] == d.params["download_name"]


def test_forced_unknown_variant():
    f = Catalog(FAULTS).get("disk-full")
    with pytest.raises(NotFoundError):
        draw(f, 1, "nope")


def test_priority_matrix():
    assert priority("high", "high") == "P1"
    assert priority("medium", "high") == priority("high", "medium") == "P2"
    assert priority("low", "low") == "P5"


@pytest.mark.parametrize("fault_id", Catalog(FAULTS).ids())
def test_tickets_render_in_both_languages_without_the_cause(fault_id):
    f = Catalog(FAULTS).get(fault_id)
    for v in f.variants:
        d = draw(f, 11, v.id)
        for lang in ("en", "fr"):
            t = render_ticket(f, d, lang, seat="desk9")
            assert t.body.strip() and t.subject
            assert fault_id not in t.body
            # Drawn values that name the culprit (file names, units) are not in the user's words.
            for key in ("filler_name",):
                if key in d.params:
                    assert str(d.params[key]) not in t.body


def test_unknown_ticket_language():
    f = Catalog(FAULTS).get("disk-full")
    with pytest.raises(ConfigError):
        render_ticket(f, draw(f, 1), "de")


# -- check verdicts ------------------------------------------------------------------------

class FakeChannel(Channel):
    """Answers scripts from a table; raises GuestError when told the guest is gone."""

    def __init__(self, answers=None, gone=False):
        self.answers = answers or {}
        self.gone = gone
        self.name = "fake"

    def run(self, argv, *, input=None, timeout=60.0, user=None):
        if self.gone:
            raise GuestError("guest agent did not answer")
        script = argv[-1]
        for needle, (rc, out) in self.answers.items():
            if needle in script:
                return CommandResult(tuple(argv), rc, out, "", 0.01, "fake")
        return CommandResult(tuple(argv), 0, "", "", 0.01, "fake")


def _spec(kind, **spec):
    return CheckSpec("c", "functional", "t", kind, spec)


def test_file_check_reports_observed_and_expected():
    chan = FakeChannel({"stat": (0, "exists=1\nowner=root\ngroup=root\nmode=644\ntype=regular file\nsha256=ab\n")})
    r = run_check(chan, _spec("file", path="/x"), {"path": "/x", "owner": "alex", "mode": "0644"})
    assert r.status == "fail"
    assert "owner=root" in r.observed and "owner=alex" in r.expected


def test_file_mode_not():
    chan = FakeChannel({"stat": (0, "exists=1\nowner=root\ngroup=root\nmode=777\ntype=directory\n")})
    assert run_check(chan, _spec("file"), {"path": "/srv", "mode_not": "0002"}).status == "fail"
    chan = FakeChannel({"stat": (0, "exists=1\nowner=root\ngroup=root\nmode=2770\ntype=directory\n")})
    assert run_check(chan, _spec("file"), {"path": "/srv", "mode_not": "0007"}).status == "pass"


def test_free_space_and_garbled_answer_is_unknown():
    chan = FakeChannel({"df -Pm": (0, "df_rc=0\navail=12\n")})
    r = run_check(chan, _spec("free_space"), {"path": "/home", "min_mib": 500})
    assert r.status == "fail" and "12 MiB" in r.observed
    chan = FakeChannel({"df -Pm": (1, "")})
    assert run_check(chan, _spec("free_space"), {"path": "/home", "min_mib": 500}).status == "unknown"


def test_lost_guest_gives_unknown_never_pass():
    f = Catalog(FAULTS).get("disk-full")
    report = run_checks(FakeChannel(gone=True), f, draw(f, 1, "trash"), snapshot={})
    assert {r.status for r in report.results} == {"unknown"}
    assert report.status == "unknown"


def test_url_check():
    chan = FakeChannel({"curl": (0, "<h1>Timesheet v2</h1>\n@@code=200\n@@rc=0\n")})
    assert run_check(chan, _spec("url"), {"url": "http://x", "contains": "v2"}).status == "pass"
    assert run_check(chan, _spec("url"), {"url": "http://x", "contains": "v3"}).status == "fail"
    chan = FakeChannel({"curl": (0, "curl: (7) Failed to connect\n@@code=000\n@@rc=7\n")})
    r = run_check(chan, _spec("url"), {"url": "http://x"})
    assert r.status == "fail" and "rc=7" in r.observed


def test_sudo_check_catches_too_much():
    chan = FakeChannel({"sudo": (0, "may0=0\nmaynot0=0\n")})
    r = run_check(chan, _spec("sudo"), {"user": "alex", "may": ["/usr/bin/systemctl restart x"],
                                        "may_not": ["/bin/bash"]})
    assert r.status == "fail" and "granted too much: /bin/bash" in r.observed


def test_sudo_check_user_without_any_rule():
    chan = FakeChannel({"sudo": (0, "none=1\n")})
    spec = {"user": "alex", "may_not": ["/bin/bash", "/usr/bin/su"]}
    assert run_check(chan, _spec("sudo"), spec).status == "pass"
    r = run_check(chan, _spec("sudo"), {**spec, "may": ["/usr/bin/systemctl restart x"]})
    assert r.status == "fail" and "refused: /usr/bin/systemctl restart x" in r.observed
    chan = FakeChannel({"sudo": (0, "")})  # no answer at all is no verdict
    assert run_check(chan, _spec("sudo"), spec).status == "unknown"


def test_groups_check():
    chan = FakeChannel({"id -nG": (0, "id_rc=0\ngroups=alex users sudo\n")})
    r = run_check(chan, _spec("groups"), {"user": "alex", "lacks": ["sudo"]})
    assert r.status == "fail" and "sudo" in r.observed


def test_protected_data_compares_with_snapshot():
    listing = ("M\t/home/alex/Documents/a.txt\talex\talex\t640\n"
               "S 1111  /home/alex/Documents/a.txt\nEND\n")
    snap = checks.parse_snapshot(listing)
    spec = {"paths": ["/home/alex/Documents"], "snapshot": snap}
    same = FakeChannel({"find": (0, listing)})
    assert run_check(same, _spec("protected"), spec).status == "pass"
    changed = FakeChannel({"find": (0, listing.replace("alex\talex\t640", "root\troot\t640"))})
    r = run_check(changed, _spec("protected"), spec)
    assert r.status == "fail" and "owner" in r.observed
    gone = FakeChannel({"find": (0, "END\n")})
    r = run_check(gone, _spec("protected"), spec)
    assert r.status == "fail" and "1 missing" in r.observed
    no_snapshot = run_check(same, _spec("protected"), {"paths": ["/x"], "snapshot": None})
    assert no_snapshot.status == "unknown"


def test_cut_short_listing_is_unknown():
    spec = {"paths": ["/d"], "snapshot": {}}
    assert run_check(FakeChannel({"find": (0, "M\t/d/a\talex\talex\t600\n")}), _spec("protected"),
                     spec).status == "unknown"


def test_report_status():
    mk = lambda s: CheckResult("x", "functional", "t", s, "", "")  # noqa: E731
    assert CheckReport("f", "v", (mk("pass"), mk("pass"))).status == "pass"
    assert CheckReport("f", "v", (mk("pass"), mk("unknown"))).status == "unknown"
    assert CheckReport("f", "v", (mk("fail"), mk("unknown"))).status == "fail"
    assert CheckReport("f", "v", ()).status == "unknown"


def test_baseline_is_in_every_fault_and_all_security():
    base = checks.baseline_checks()
    assert base and all(c.group == "security" for c in base)
    f = Catalog(FAULTS).get("disk-full")
    ids = {c.id for c, _ in checks.checks_for(f, draw(f, 1))}
    assert {c.id for c in base} <= ids


def test_checks_get_the_seats_user_password_and_empty_without_it():
    f = Catalog(FAULTS).get("account-access")
    d = draw(f, 1, "locked")

    def login(seat_ctx):
        return next(spec["run"] for c, spec in checks.checks_for(f, d, None, seat_ctx) if c.id == "user-logs-in")

    assert '"ab12-cd34-ef56"' in login({"user_password": "ab12-cd34-ef56"})
    # lint and seats without credentials still render; the check then fails in the guest (no login possible)
    assert 'USER, HOME, PW = "alex", "/home/alex", ""\n' in login(None)


# -- test reports ----------------------------------------------------------------------------

def test_fault_test_outcome_and_junit():
    rep = FaultTestReport("disk-full", "s", 1, [StepResult("trash", "inject", "pass", "", 1.0),
                                                 StepResult("trash", "checks fail", "fail", "every check passed", 1.0)])
    assert rep.outcome == "fail"
    rep2 = FaultTestReport("x", "s", 1, [StepResult("v", "prepare", "error", "agent lost", 1.0)])
    assert rep2.outcome == "error"
    assert FaultTestReport("y", "s", 1, []).outcome == "error", "a test that ran nothing is not a pass"
    root = ET.fromstring(junit_xml([rep, rep2]))
    suites = root.findall("testsuite")
    assert suites[0].get("failures") == "1" and suites[1].get("errors") == "1"


def test_a_seat_is_changed_by_one_labctl_at_a_time(tmp_path):
    import subprocess
    import sys

    from labctl.faults.engine import seat_lock

    other = ("from pathlib import Path\nfrom labctl.faults.engine import seat_lock\n"
             f"with seat_lock(Path({str(tmp_path)!r}), 'desk1'): pass\n")
    with seat_lock(tmp_path, "desk1"):
        with seat_lock(tmp_path, "desk1"):  # re-entrant in the same thread
            pass
        proc = subprocess.run([sys.executable, "-c", other], capture_output=True, text=True)
        assert proc.returncode != 0 and "seat 'desk1' is busy" in proc.stderr
    assert subprocess.run([sys.executable, "-c", other]).returncode == 0


# -- residue scan -------------------------------------------------------------------------------

def test_residue_scan_looks_for_the_fault_scripts_and_drawn_values():
    from labctl.faults import residue

    f = Catalog(FAULTS).get("disk-full")
    d = draw(f, 4, "download")
    script = residue.scan_script(f, d, 1700000000)
    for needle in ("disk-full", "AnsiballZ", "guest-exec", "inject.sh", d.params["download_name"]):
        assert needle in script
    assert "--since @1700000000" in script and "journalctl -m" in script


def test_residue_parse_and_ignored_places():
    from labctl.faults import residue

    out = ("R ansible-leftover /var/tmp/.lab-ansible\nR file /var/lib/dpkg/info/x.list\n"
           "R journal disk-full injected\nR history /root/.bash_history\nEND\n")
    found, complete = residue.parse(out)
    assert complete
    assert [r.where for r in found] == ["ansible-leftover", "journal", "history"]
    assert residue.parse("R file /etc/x\n")[1] is False, "a scan cut short is not a clean scan"


def test_residue_file_scan_reads_var_lib_and_var_log_but_not_the_package_database(tmp_path):
    """The files part, run here on a tree that stands in for the guest's /var: a trace is found in
    /var/lib and /var/log, the package database and the binary journal are not read, and a
    symbolic link in /var/lib is not followed (as grep -r does not inside a folder)."""
    from labctl.faults import residue

    f = Catalog(FAULTS).get("disk-full")
    var = tmp_path / "var"
    for rel in ("lib/app/state", "lib/dpkg/info/x.list", "lib/apt/lists/y", "log/journal/z", "log/app.log",
                "lib/.hidden/a", "outside/b"):
        (var / rel).parent.mkdir(parents=True, exist_ok=True)
        (var / rel).write_text("ran inject.sh here\n")
    (var / "lib" / "link").symlink_to(var / "outside")
    script = residue.scan_script(f, draw(f, 1), 0)
    files = "\n".join(line for line in script.splitlines() if "grep -rIl" in line or line.startswith("set -- "))
    files = files.replace("/var/lib", f"{var}/lib").replace("/var/log", f"{var}/log")
    files = files.replace("set -- /etc /home /root /srv /opt /usr/local /var/tmp /tmp /var/backups /var/spool",
                          "set --")
    assert files.count("set --") == 2
    out = subprocess.run(["/bin/sh", "-c", files], capture_output=True, text=True, timeout=60).stdout
    found, _ = residue.parse(out + "END\n")
    assert sorted(r.what for r in found) == sorted(str(var / p) for p in ("lib/app/state", "log/app.log",
                                                                          "lib/.hidden/a"))


def test_residue_scan_cut_short_is_an_error_not_clean():
    from labctl.faults import residue

    f = Catalog(FAULTS).get("disk-full")
    chan = FakeChannel({"ansible-leftover": (137, "R history /root/.bash_history\n")})
    with pytest.raises(GuestError):
        residue.scan(chan, f, draw(f, 1), 0)


class LocalChannel(Channel):
    """Runs the script on this host: the batch script is real bash, so test it with real bash."""

    def __init__(self):
        self.name = "local"
        self.calls = 0

    def run(self, argv, *, input=None, timeout=60.0, user=None):
        import subprocess

        self.calls += 1
        p = subprocess.run(list(argv), capture_output=True, timeout=timeout)
        return CommandResult(tuple(argv), p.returncode, p.stdout.decode(), p.stderr.decode(), 0.0, self.name)


@pytest.mark.skipif(os.geteuid() != 0, reason="the batch runs checks as other users with runuser (root only)")
def test_a_check_run_is_one_command_with_each_checks_own_user_timeout_and_verdict(tmp_path, monkeypatch):
    from labctl.faults import checks as checks_mod
    from labctl.faults.manifest import CheckSpec as CS

    (tmp_path / "f").write_text("hello\n")
    os.chmod(tmp_path / "f", 0o640)
    specs = [
        (CS("who", "functional", "t", "command", {}), {"run": "id -un", "as": "nobody", "stdout_regex": "^nobody$"}),
        (CS("file", "integrity", "t", "file", {}), {"path": str(tmp_path / "f"), "mode": "0640"}),
        (CS("file-bad", "integrity", "t", "file", {}), {"path": str(tmp_path / "f"), "mode": "0600"}),
        (CS("slow", "functional", "t", "command", {}), {"run": "sleep 5", "timeout": 1}),
        (CS("stderr", "functional", "t", "command", {}), {"run": "echo out; echo err >&2; exit 3", "rc": 3,
                                                          "stdout_regex": r"\Aout\n\Z"}),
        (CS("quotes", "functional", "t", "command", {}), {"run": "printf '%s' \"it's\" | grep -q \"it's\""}),
    ]
    monkeypatch.setattr(checks_mod, "checks_for", lambda fault, d, snap=None, seat_ctx=None, programs=None: specs)
    chan = LocalChannel()
    f = Catalog(FAULTS).get("disk-full")
    before = set(os.listdir("/run"))
    report = checks_mod.run_checks(chan, f, draw(f, 1, "trash"))
    by = {r.id: r for r in report.results}
    assert chan.calls == 1
    assert {k: v.status for k, v in by.items()} == {"who": "pass", "file": "pass", "file-bad": "fail",
                                                     "slow": "unknown", "stderr": "pass", "quotes": "pass"}
    assert "timed out" in by["slow"].observed
    assert "mode=640" in by["file-bad"].observed
    assert all(r.route == "local" for r in report.results)
    assert 0.5 < by["slow"].duration < 5  # the check's own time in the guest, not the run's
    assert set(os.listdir("/run")) <= before  # the private folder is gone


def test_a_garbled_or_cut_check_run_is_unknown_never_pass():
    from labctl.faults import checks as checks_mod

    f = Catalog(FAULTS).get("disk-full")
    d = draw(f, 1, "trash")
    n = len(checks_mod.checks_for(f, d, {}))
    # the run answers, but only with noise: every check is unknown
    report = run_checks(FakeChannel({"": (0, "@@0 x\n@@zz 0 1 2 3 4\nnot base64\n")}), f, d, snapshot={})
    assert len(report.results) == n and {r.status for r in report.results} == {"unknown"}
    assert all("no answer" in r.observed for r in report.results)


def test_a_cut_tar_answer_gives_no_result_and_a_whole_one_every_result():
    import base64
    import io
    import tarfile

    from labctl.faults.checks import parse_batch

    plans = [("true", None, 90.0), ("false", None, 90.0)]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:") as tar:
        for name, data in (("./0.r", b"0 10.0 10.5\n"), ("./0.o", b"hello\n"), ("./0.e", b""),
                           ("./1.r", b"1 10.0 12.0\n"), ("./1.o", b""), ("./1.e", b"\xffbad\n"),
                           ("./../9.r", b"0 1 2\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    whole = base64.b64encode(buf.getvalue()).decode()
    got = parse_batch(f"noise\n@@tar {whole}\n", plans)
    assert sorted(got) == [0, 1]
    assert got[0][0].rc == 0 and got[0][0].stdout == "hello\n" and abs(got[0][1] - 0.5) < 1e-6
    assert got[1][0].rc == 1 and got[1][0].stderr.endswith("bad\n")
    # cut anywhere: nothing, so every check of the run is unknown
    for cut in (len(whole) // 2, len(whole) // 4 * 4 - 1376, 700):
        assert parse_batch(f"@@tar {whole[:cut]}\n", plans) == {}, cut
    assert parse_batch("@@tar !!!\n", plans) == {}


@pytest.mark.skipif(os.geteuid() != 0, reason="the batch runs checks as other users with runuser (root only)")
def test_from_the_disk_only_offline_checks_run_and_the_rest_is_unknown(tmp_path, monkeypatch):
    from labctl.faults import checks as checks_mod
    from labctl.faults.manifest import CheckSpec as CS

    ran = tmp_path / "ran"
    specs = [
        (CS("file", "integrity", "t", "file", {}), {"path": str(tmp_path), "type": "directory"}),
        (CS("offline-cmd", "security", "t", "command", {}, offline=True), {"run": "true"}),
        (CS("live-cmd", "functional", "t", "command", {}, offline=False), {"run": f"touch {ran}"}),
    ]
    monkeypatch.setattr(checks_mod, "checks_for", lambda fault, d, snap=None, seat_ctx=None, programs=None: specs)
    f = Catalog(FAULTS).get("disk-full")
    report = checks_mod.run_checks(LocalChannel(), f, draw(f, 1, "trash"), offline_only=True)
    by = {r.id: r for r in report.results}
    assert {k: v.status for k, v in by.items()} == {"file": "pass", "offline-cmd": "pass", "live-cmd": "unknown"}
    assert "running machine" in by["live-cmd"].observed
    assert not ran.exists(), "a check that needs the running machine ran against the disk"
    assert report.status == "unknown"


def test_offline_defaults_by_kind():
    from labctl.faults.manifest import _check

    f = Path("fault.yaml")
    assert _check(0, {"id": "a", "group": "functional", "title": "abc", "file": {"path": "/x"}}, f, set()).offline
    assert _check(0, {"id": "a", "group": "functional", "title": "abc", "sudo": {"user": "u"}}, f, set()).offline
    assert not _check(0, {"id": "a", "group": "functional", "title": "abc", "command": {"run": "true"}}, f, set()).offline
    assert not _check(0, {"id": "a", "group": "functional", "title": "abc", "url": {"url": "http://x"}}, f, set()).offline
    assert _check(0, {"id": "a", "group": "functional", "title": "abc", "offline": True,
                      "command": {"run": "true"}}, f, set()).offline
    base = {c.id: c.offline for c in checks.baseline_checks()}
    assert base["baseline-one-root"] and base["baseline-password-store-private"] and base["baseline-user-not-admin"]


class _CycleEngine:
    """Just enough of FaultEngine for the order of `fault test`'s steps (logic only, no guest)."""

    def __init__(self):
        import contextlib
        import types

        self.broken = False
        self.decoyed = False  # a decoy repaired the symptom and weakened the machine
        self.lock = lambda seat: contextlib.nullcontext()
        self.seats = types.SimpleNamespace(reboot=lambda seat: 1.0, reset=lambda seat: None,
                                           info=lambda seat: types.SimpleNamespace(
                                               record=types.SimpleNamespace(image="workstation", base={})))

    def stage(self, *a, **k):
        self.broken = self.decoyed = False

    def break_staged(self, seat):
        self.broken = True

    def checkpoint_broken(self, seat):
        return 1.0

    def restage(self, seat, checkpoint="staged"):
        self.broken, self.decoyed = checkpoint == "broken", False
        return 1.0

    def fix(self, seat):
        self.broken = False
        return types_ok()

    def repair(self, seat, repair_id):
        self.broken, self.decoyed = False, repair_id.startswith("decoy")
        return types_ok()

    def check(self, seat):
        from labctl.faults.checks import CheckReport, CheckResult

        return CheckReport("f", "v", (CheckResult("c", "functional", "t", "fail" if self.broken else "pass", "", ""),
                                      CheckResult("s", "security", "t", "fail" if self.decoyed else "pass", "", "")))


def types_ok():
    import types

    return types.SimpleNamespace(ok=True, summary=lambda: "")


@pytest.mark.parametrize("reboots,repeats", [("all", "all"), ("first", "all"), ("first-broken", "first"),
                                             ("none", "first"), ("first-broken", "none")])
def test_fault_test_policies_choose_which_variants_reboot_and_repeat(reboots, repeats):
    import types

    from labctl.faults.testing import FaultTester

    variants = [types.SimpleNamespace(id=v, survives_reboot=True, breaks=()) for v in ("a", "b")]
    rep = types.SimpleNamespace(id="decoy-x", expect="fail", applies_to=lambda v: True, caught_by=("s",),
                                no_progress="")
    fault = types.SimpleNamespace(id="f", variants=variants, repairs=[rep],
                                  variant=lambda v: next(x for x in variants if x.id == v))
    report = FaultTester(_CycleEngine(), "s", reboots=reboots, repeats=repeats, residue=False).run(fault)
    assert report.outcome == "pass", [(s.step, s.detail) for s in report.steps]
    steps = {v: [s.step for s in report.steps if s.variant == v] for v in ("a", "b")}
    for v in ("a", "b"):
        first = v == "a"
        assert ("reboot the broken machine" in steps[v]) == (reboots == "all" or (reboots != "none" and first))
        assert ("reboot the repaired machine" in steps[v]) == (reboots == "all" or (reboots == "first" and first))
        assert ("inject again" in steps[v]) == (repeats == "all" or (repeats == "first" and first))
        assert ("fix again" in steps[v]) == (repeats == "all" or (repeats == "first" and first))
        assert {"checks fail after inject", "checks pass after fix", "decoy decoy-x: checks fail"} <= set(steps[v])
    with pytest.raises(ValueError):
        FaultTester(_CycleEngine(), "s", repeats="some")


def _spread_fault():
    import types

    variants = [types.SimpleNamespace(id=v, survives_reboot=True, breaks=()) for v in ("a", "b", "c")]

    def rep(rid, expect, on):
        return types.SimpleNamespace(id=rid, expect=expect, applies_to=lambda v: v in on,
                                     caught_by=("s",) if expect == "fail" else (), no_progress="")

    repairs = [rep("fix-any", "pass", "abc"), rep("decoy-any", "fail", "abc"), rep("fix-bc", "pass", "bc"),
               rep("decoy-a", "fail", "a"), rep("decoy-c", "fail", "c"), rep("decoy-none", "fail", "")]
    return types.SimpleNamespace(id="f", variants=variants, repairs=repairs,
                                 variant=lambda v: next(x for x in variants if x.id == v))


def test_repair_plan_all_runs_each_repair_on_every_variant_it_fits():
    from labctl.faults.testing import repair_plan

    plan = repair_plan(_spread_fault(), ["a", "b", "c"], "all")
    assert {v: [r.id for r in rs] for v, rs in plan.items()} == {
        "a": ["fix-any", "decoy-any", "decoy-a"], "b": ["fix-any", "decoy-any", "fix-bc"],
        "c": ["fix-any", "decoy-any", "fix-bc", "decoy-c"]}


def test_repair_plan_spread_proves_each_repair_once_and_shares_them_out():
    from labctl.faults.testing import repair_plan

    fault = _spread_fault()
    plan = repair_plan(fault, ["a", "b", "c"], "spread")
    ids = {v: [r.id for r in rs] for v, rs in plan.items()}
    assert ids == {"a": ["fix-any", "decoy-a"], "b": ["decoy-any"], "c": ["fix-bc", "decoy-c"]}
    # Each repair that fits a chosen variant runs exactly once, on a variant it fits.
    ran = [r for rs in plan.values() for r in rs]
    assert sorted(r.id for r in ran) == sorted(r.id for r in fault.repairs if r.id != "decoy-none")
    assert all(r.applies_to(v) for v, rs in plan.items() for r in rs)
    # Only some variants chosen: the repairs go to those.
    assert {v: [r.id for r in rs] for v, rs in repair_plan(fault, ["c"], "spread").items()} == {
        "c": ["fix-any", "decoy-any", "fix-bc", "decoy-c"]}


def test_fault_test_spread_runs_each_repair_once_and_freezes_only_where_needed():
    from labctl.faults.testing import FaultTester

    fault = _spread_fault()
    fault.repairs.append(type(fault.repairs[0])(id="fix-a", expect="pass", applies_to=lambda v: v == "a",
                                                caught_by=(), no_progress=""))
    report = FaultTester(_CycleEngine(), "s", reboots="none", repeats="none", repairs="spread",
                         residue=False).run(fault)
    assert report.outcome == "pass", [(s.step, s.detail) for s in report.steps]
    applied = [(s.variant, s.step) for s in report.steps if s.step.endswith(": apply")]
    assert sorted(step for _, step in applied) == sorted(
        f"{'legitimate repair' if r.expect == 'pass' else 'decoy'} {r.id}: apply"
        for r in fault.repairs if r.id != "decoy-none")
    frozen = {s.variant for s in report.steps if s.step == "freeze the broken machine"}
    assert frozen == {v for v, _ in applied}
    with pytest.raises(ValueError):
        FaultTester(_CycleEngine(), "s", repairs="some")


# -- recipes that also work on the company server -------------------------------------

def _company_recipe(recipe: Path) -> None:
    """disk-full made into a company_server recipe: plays name seat or company."""
    for book in [recipe / n for n in ("prepare.yml", "inject.yml", "fix.yml")] + list(recipe.glob("repairs/*.yml")):
        if book.is_file():
            plays = yaml.safe_load(book.read_text())
            for play in plays:
                play["hosts"] = "seat"
            book.write_text(yaml.safe_dump(plays, sort_keys=False))

    def edit(data):
        data["network"] = "company"
        data["company_server"] = True
        data["checks"].append({"id": "folder-on-server", "group": "integrity", "title": "On the server", "on": "company",
                               "command": {"run": "test -d /srv/shares/{{ company_user }}"}})
    _edit(recipe, edit)


def test_a_company_server_recipe_loads_with_its_server_checks(recipe):
    _company_recipe(recipe)
    f = load_fault(recipe)
    assert f.company_server and f.needs_company and f.as_dict()["company_server"] is True
    assert {c.id: c.on for c in f.checks}["folder-on-server"] == "company"
    rendered = {c.id: spec for c, spec in checks.checks_for(f, draw(f, 1), {}, {"company_user": "ws-01"})}
    assert rendered["folder-on-server"]["run"] == "test -d /srv/shares/ws-01"


def test_a_company_server_recipe_must_name_its_hosts(recipe):
    _company_recipe(recipe)
    plays = yaml.safe_load((recipe / "inject.yml").read_text())
    plays[0]["hosts"] = "all"
    (recipe / "inject.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
    with pytest.raises(ConfigError) as e:
        load_fault(recipe)
    assert str(recipe / "inject.yml") in e.value.message and "[0].hosts" in e.value.message


def test_company_server_needs_the_company_network_and_server_checks_need_company_server(recipe):
    _company_recipe(recipe)
    _edit(recipe, lambda data: data.update(network="isolated"))
    with pytest.raises(ConfigError) as e:
        load_fault(recipe)
    assert "'company_server'" in e.value.message and str(recipe / "fault.yaml") in e.value.message
    _edit(recipe, lambda data: data.update(network="company", company_server=False))
    with pytest.raises(ConfigError) as e:
        load_fault(recipe)
    assert "checks[" in e.value.message and ".on'" in e.value.message


def test_server_checks_run_on_the_server_in_one_more_command_and_are_unknown_without_it(recipe):
    _company_recipe(recipe)
    f = load_fault(recipe)
    d = draw(f, 1)
    seat_chan = FakeChannel({"": (0, "")})
    server_chan = FakeChannel({"": (0, "")})
    server_chan.name = "agent"
    ran = {}

    def fake_batch(chan, plans):
        ran.setdefault(id(chan), []).append(len(plans))
        return {k: (CommandResult(("x",), 0, "", "", 0.0, chan.name), 0.1) for k in range(len(plans))}, ""

    import labctl.faults.checks as checks_mod
    orig = checks_mod._run_batch
    checks_mod._run_batch = fake_batch
    try:
        report = run_checks(seat_chan, f, d, {}, seat_ctx={"company_user": "ws-01"}, company=server_chan)
        by = {r.id: r for r in report.results}
        assert by["folder-on-server"].route == "company server (agent)"
        # (the seat's two baseline walks and the image-programs rule share one run of their
        # script: two plans fewer; the server's check runs there)
        assert ran[id(server_chan)] == [1] and ran[id(seat_chan)] == [len(report.results) - 3]
        assert "company server (agent)" in report.routes
        # No road to the server: its checks have no verdict, the seat's are judged as ever.
        report = run_checks(seat_chan, f, d, {}, company_why="the company server is not running")
        by = {r.id: r for r in report.results}
        assert by["folder-on-server"].status == "unknown" and "not running" in by["folder-on-server"].observed
        assert report.status != "pass"
    finally:
        checks_mod._run_batch = orig


def test_the_inventory_holds_the_company_server_only_when_asked(tmp_path, monkeypatch):
    import types

    import ansible_runner

    from labctl.faults.playbook import run_playbook

    seen = []

    def fake_run(**kw):
        seen.append(kw["inventory"]["all"]["hosts"])
        return types.SimpleNamespace(status="successful", rc=0, stats={}, stdout=types.SimpleNamespace(read=lambda: ""))

    monkeypatch.setattr(ansible_runner, "run", fake_run)
    book = tmp_path / "p.yml"
    book.write_text("- hosts: seat\n  tasks: []\n")
    run_playbook(playbook=book, domain="labctl-ws", libvirt_uri="qemu:///system", extravars={}, run_dir=tmp_path / "a")
    run_playbook(playbook=book, domain="labctl-ws", libvirt_uri="qemu:///system", extravars={}, run_dir=tmp_path / "b",
                 company_domain="labctl.server-x")
    assert list(seen[0]) == ["seat"] and seen[0]["seat"]["ansible_host"] == "labctl-ws"
    assert list(seen[1]) == ["seat", "company"] and seen[1]["company"]["ansible_host"] == "labctl.server-x"
    assert seen[1]["company"]["ansible_connection"] == "labctl_qemu"
