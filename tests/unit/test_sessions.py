"""Sessions logic (fake seats and engine), grading, the database, reports and the CLI's error paths."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from labctl.cli.main import cli
from labctl.errors import AlreadyExistsError, ConfigError, NotFoundError
from labctl.sessions import SessionError
from labctl.sessions.db import LATEST, Database
from labctl.sessions.grading import FAIL, NOT_JUDGED, PASS, PENDING, GradeInput, grade
from labctl.sessions.report import to_csv, to_html, to_json, write_report

from tests.unit.session_fakes import make_sessions

SCENARIO = """\
title: Test class
mode: {mode}
language: en
time_limit_min: 60
pool: {{faults: [disk-full, licence-expired]}}
sla: {{P1: 15, P2: 30, P3: 45, P4: 60, P5: 120}}
"""


@pytest.fixture
def lab(tmp_path):
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "t.yaml").write_text(SCENARIO.format(mode="remote"))
    (tmp_path / "scenarios" / "ph.yaml").write_text(SCENARIO.format(mode="phone"))
    (tmp_path / "class.csv").write_text("name,email\nAnn Lee,ann@x.org\nBob Roy,\nChloé Dia,\n")
    lib, seats, engine = make_sessions(tmp_path)
    return lib, seats, engine, tmp_path


def made(lab, name="c1", scenario="t", seed=7):
    lib, seats, engine, tmp = lab
    res = lib.create(name, tmp / "class.csv", scenario, seed=seed, parallel=3)
    assert res.complete, res.errors
    by_fault = {}
    for st in res.seats:
        by_fault.setdefault(st.fault, []).append(st.seat)
    return res, by_fault


# -- creation ----------------------------------------------------------------------------
def test_create_makes_seats_faults_tickets_and_codes(lab):
    lib, seats, engine, tmp = lab
    res, by_fault = made(lab)
    assert [s.seat for s in res.seats] == ["c1-01", "c1-02", "c1-03"]
    assert {s.progress for s in res.seats} == {"ticket-issued"}
    assert len({(s.fault, s.variant) for s in res.seats}) == 3
    assert res.session.state == "open" and res.session.started
    assert set(res.codes) == {"Ann Lee", "Bob Roy", "Chloé Dia"}
    code = res.codes["Bob Roy"]
    trainee, seat = lib.verify_code("c1", code.upper())
    assert trainee.name == "Bob Roy" and seat == "c1-02"
    assert lib.verify_code("c1", "aaaa-bbbb-cccc") is None
    with sqlite3.connect(tmp / "state" / "sessions.db") as conn:
        hashes = [r[0] for r in conn.execute("SELECT code_hash FROM trainees")]
    assert all(h.startswith("scrypt$") and code not in h for h in hashes)
    view = lib.ticket("c1", "Bob Roy")
    assert view.ticket.priority == "P2" and view.due is not None
    assert view.due - datetime.fromisoformat(view.ticket.opened) == timedelta(minutes=30)
    assert view.ticket.asset["host"] == "ws-c1-02" and view.ticket.asset["image"] == "workstation"
    assert [e.kind for e in view.events] == ["opened"]
    # remote mode hands out access; a new set of codes invalidates the old one
    assert lib.access("c1", "1")["vnc"] == "127.0.0.1:5901"
    new = lib.issue_codes("c1", "Bob Roy")
    assert lib.verify_code("c1", code) is None and lib.verify_code("c1", new["Bob Roy"])[1] == "c1-02"


def test_scenario_image_is_the_seats_image(lab):
    lib, seats, engine, tmp = lab
    (tmp / "scenarios" / "desk.yaml").write_text(SCENARIO.format(mode="remote") + "image: desktop\n")
    res, _ = made(lab, "dk", "desk")
    assert res.session.scenario.image == "desktop"
    assert set(seats.images.values()) == {"desktop"} and seats.warmed == ["desktop"]
    # the default scenario leaves the image to the lab's config
    made(lab, "ws", "t")
    assert seats.images["ws-01"] is None


@pytest.mark.parametrize("extra,needle", [
    ("image: nosuchimage\n", "field 'image'"),
    ("image: Desk Top\n", "image"),
])
def test_scenario_with_a_bad_image_names_the_field(lab, extra, needle):
    lib, seats, engine, tmp = lab
    (tmp / "scenarios" / "bad.yaml").write_text(SCENARIO.format(mode="remote") + extra)
    with pytest.raises((ConfigError, NotFoundError)) as exc:
        lib.create("bad", tmp / "class.csv", "bad", seed=1)
    assert needle in exc.value.message and "bad.yaml" in exc.value.message
    assert seats.created == []


def test_faults_for_another_image_are_refused_by_name(lab):
    lib, seats, engine, tmp = lab
    engine.catalog.faults["disk-full"].image = "kiosk"
    (tmp / "scenarios" / "desk.yaml").write_text(SCENARIO.format(mode="remote") + "image: desktop\n")
    with pytest.raises(ConfigError) as exc:
        lib.create("dk", tmp / "class.csv", "desk", seed=1)
    assert "pool.faults" in exc.value.message and "disk-full" in exc.value.message


def test_phone_mode_gives_no_access(lab):
    lib, seats, engine, tmp = lab
    res, _ = made(lab, "ph1", "ph")
    acc = res.access["ph1-01"]
    assert acc["mode"] == "phone" and "vnc" not in acc and "account" not in acc and "vnc_password" not in acc
    assert lib.ticket("ph1", "1").mode == "phone"


def test_interrupted_creation_converges_without_losing_work(lab):
    lib, seats, engine, tmp = lab
    seats.fail_create.add("c1-02")
    res = lib.create("c1", tmp / "class.csv", "t", seed=7)
    assert set(res.errors) == {"c1-02"} and res.session.state == "creating" and not res.codes
    assert [s.progress for s in res.seats] == ["ticket-issued", "planned", "ticket-issued"]
    with pytest.raises(SessionError, match="still being created"):
        lib.acknowledge("c1", "1")
    seats.fail_create.clear()
    # the same create again converges; seat 1 keeps its ticket, nothing is injected twice
    injected_before = list(engine.injected)
    res = lib.create("c1", tmp / "class.csv", "t", seed=7)
    assert res.complete and res.session.state == "open"
    assert [x[0] for x in engine.injected[len(injected_before):]] == ["c1-02"]
    assert len(res.codes) == 3
    lib.acknowledge("c1", "1")
    lib.note("c1", "1", "diagnosis", "looked at it")
    # a machine vanishes; resume makes it again and keeps the ticket and its notes
    seats.destroy("c1-01")
    res = lib.resume("c1")
    assert res.complete and not res.codes
    kinds = [e.kind for e in lib.ticket("c1", "1").events]
    assert kinds == ["opened", "acknowledged", "note"]
    # another roster under the same name is refused
    (tmp / "other.csv").write_text("name\nZed\n")
    with pytest.raises(AlreadyExistsError, match="another roster"):
        lib.create("c1", tmp / "other.csv", "t")
    with pytest.raises(AlreadyExistsError, match="seed 7"):
        lib.create("c1", tmp / "class.csv", "t", seed=8)


def test_resume_starts_a_seat_stopped_before_its_fault(lab):
    # labctl killed while the machine was saved or stopped, before the injection
    lib, seats, engine, tmp = lab
    engine.fail_inject.add("c1-03")
    res = lib.create("c1", tmp / "class.csv", "t", seed=7)
    assert [s.progress for s in res.seats] == ["ticket-issued", "ticket-issued", "seat-created"]
    engine.fail_inject.clear()
    seats.machines["c1-03"] = "shut off"
    res = lib.resume("c1")
    assert res.complete, res.errors
    assert seats.machines["c1-03"] == "running" and engine.state["c1-03"].state == "injected"


def test_bad_names_and_unknowns(lab):
    lib, seats, engine, tmp = lab
    with pytest.raises(ConfigError, match="session name"):
        lib.create("Bad_Name", tmp / "class.csv", "t")
    with pytest.raises(NotFoundError, match="unknown scenario 'nope'"):
        lib.create("c2", tmp / "class.csv", "nope")
    with pytest.raises(NotFoundError, match="no session named 'zz'"):
        lib.status("zz")
    made(lab)
    with pytest.raises(NotFoundError, match="has no seat 'c1-09'"):
        lib.ticket("c1", "c1-09")


def test_powered_off_seat_is_reported_and_reset(lab):
    lib, seats, engine, tmp = lab
    made(lab)
    lib.acknowledge("c1", "2")
    seats.machines["c1-02"] = "shut off"
    st = {s.seat: s for s in lib.status("c1")}
    assert st["c1-02"].machine == "shut off"
    assert "reset-seat c1 c1-02" in st["c1-02"].problem
    assert lib.check("c1", ["2"])["c1-02"] == "the machine is shut off"
    with pytest.raises(SessionError, match="shut off"):
        lib.resolve("c1", "2", resolution="done")
    assert lib.ticket("c1", "2").ticket.state == "acknowledged"
    lib.reset_seat("c1", "2")
    assert seats.machines["c1-02"] == "running"
    assert [e.kind for e in lib.ticket("c1", "2").events][-1] == "seat-reset"
    assert not {s.seat: s for s in lib.status("c1")}["c1-02"].problem


# -- tickets -----------------------------------------------------------------------------
def test_ticket_lifecycle_and_grades(lab):
    lib, seats, engine, tmp = lab
    res, by_fault = made(lab)
    fixed, untouched = by_fault["disk-full"][0], by_fault["licence-expired"][0]
    other = next(s.seat for s in res.seats if s.seat not in (fixed, untouched))
    # a proper repair, documented
    lib.acknowledge("c1", fixed)
    lib.note("c1", fixed, "diagnosis", "df -h: / at 100 %")
    lib.note("c1", fixed, "action", "emptied the trash with the user's agreement")
    engine.fix(fixed)
    v = lib.resolve("c1", fixed, resolution="freed 3 GB; user saved a file")
    assert v.ticket.state == "resolved" and v.ticket.outcome == "passed"
    with pytest.raises(SessionError, match="already resolved"):
        lib.resolve("c1", fixed, resolution="again")
    g = lib.grade("c1", fixed)
    assert (g.c1.status, g.c2.status, g.c3.status, g.c4.status, g.overall) == (PASS, PASS, PASS, PENDING, PENDING)
    # the level-2 fault, escalated with what level 2 needs
    with pytest.raises(ConfigError, match="missing: tried, reason"):
        lib.escalate("c1", untouched, observed="licence expired message", tried="", reason="")
    lib.acknowledge("c1", untouched)
    v = lib.escalate("c1", untouched, observed="the app says its licence expired", tried="restarted the app",
                     reason="only the vendor issues keys")
    assert v.ticket.state == "escalated" and v.ticket.escalation["tried"] == "restarted the app"
    assert lib.grade("c1", untouched).result.status == PASS
    # an untouched seat resolved: failed
    v = lib.resolve("c1", other, resolution="rebooted")
    assert v.ticket.outcome == "failed"
    g = lib.grade("c1", other)
    assert g.result.status == FAIL and g.c2.status == FAIL and "no diagnosis note" in g.c2.reasons
    # reopen keeps what it was in the history, then it can be resolved again
    v = lib.reopen("c1", other, reason="checks fail; try again")
    assert v.ticket.state == "reopened" and v.events[-1].data["outcome"] == "failed"
    # instructor inputs
    g = lib.set_grade("c1", fixed, c4="pass", comment="clear and polite")
    assert g.c4.status == PASS and g.c4.by == "instructor" and g.overall == PASS
    g = lib.set_grade("c1", other, c1="pass", comment="partial credit")
    assert g.c1.status == PASS and g.c1.by == "instructor" and any("labctl said" in r for r in g.c1.reasons)
    lib.close("c1")
    with pytest.raises(SessionError, match="closed"):
        lib.note("c1", fixed, "communication", "called back")
    g = lib.grade("c1", other)
    assert g.result.status == FAIL and g.c4.status == NOT_JUDGED


def test_escalating_a_level1_fault_is_not_c1(lab):
    lib, seats, engine, tmp = lab
    res, by_fault = made(lab)
    seat = by_fault["disk-full"][0]
    lib.escalate("c1", seat, observed="disk full", tried="nothing", reason="not my job")
    g = lib.grade("c1", seat)
    assert g.result.status == FAIL and g.c1.status == FAIL and "level 1 should fix" in g.result.reasons[0]


# -- grading table -----------------------------------------------------------------------
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)


def gi(**kw):
    base = dict(fault_level=1, ticket_state="resolved", acknowledged=True, note_kinds=("diagnosis", "action"),
                resolution="done", escalation={}, closed_at=T0 + timedelta(minutes=20),
                due=T0 + timedelta(minutes=30), deadline=T0 + timedelta(minutes=60), check_status="pass",
                groups={"functional": "pass", "integrity": "pass", "security": "pass"}, session_open=False,
                instructor={"c4": "pass"})
    base.update(kw)
    return GradeInput(**base)


ESC = {"observed": "error", "tried": "restart", "reason": "vendor key"}


@pytest.mark.parametrize("kw,c1,c2,c3,overall", [
    ({}, PASS, PASS, PASS, PASS),
    ({"check_status": "fail", "groups": {"functional": "fail", "integrity": "pass", "security": "pass"}},
     FAIL, PASS, PASS, FAIL),
    ({"check_status": "unknown", "groups": {"functional": "unknown", "integrity": "unknown", "security": "pass"}},
     NOT_JUDGED, PASS, NOT_JUDGED, NOT_JUDGED),
    ({"groups": {"functional": "pass", "integrity": "pass", "security": "fail"}, "check_status": "fail"},
     FAIL, PASS, FAIL, FAIL),
    ({"fault_level": 2, "ticket_state": "escalated", "escalation": ESC, "resolution": "", "check_status": "fail",
      "groups": {"functional": "fail", "integrity": "pass", "security": "pass"}}, PASS, PASS, PASS, PASS),
    ({"fault_level": 1, "ticket_state": "escalated", "escalation": ESC, "resolution": ""}, FAIL, PASS, PASS, FAIL),
    ({"closed_at": T0 + timedelta(minutes=45)}, FAIL, PASS, PASS, FAIL),  # past the SLA
    ({"closed_at": T0 + timedelta(minutes=61), "due": None}, FAIL, PASS, PASS, FAIL),  # past the time limit
    ({"acknowledged": False}, PASS, FAIL, PASS, FAIL),
    ({"note_kinds": ("communication",)}, PASS, FAIL, PASS, FAIL),
    ({"ticket_state": "acknowledged", "closed_at": None, "check_status": "", "groups": {}}, FAIL, FAIL, NOT_JUDGED, FAIL),
    ({"ticket_state": "acknowledged", "closed_at": None, "check_status": "", "groups": {}, "session_open": True,
      "instructor": {}}, PENDING, PENDING, PENDING, PENDING),
    ({"instructor": {}}, PASS, PASS, PASS, NOT_JUDGED),
    ({"instructor": {"c4": "pass", "c3": "fail", "comment": "shared the password"}}, PASS, PASS, FAIL, FAIL),
])
def test_grading_table(kw, c1, c2, c3, overall):
    g = grade(gi(**kw))
    assert (g.c1.status, g.c2.status, g.c3.status, g.overall) == (c1, c2, c3, overall), g.as_dict()
    json.dumps(g.as_dict())


def test_unknown_never_passes():
    for groups in ({"integrity": "unknown", "security": "pass"}, {"integrity": "pass"}, {}):
        g = grade(gi(check_status="unknown", groups=groups))
        assert g.result.status != PASS and g.c3.status != PASS and g.overall != PASS


# -- database ----------------------------------------------------------------------------
def test_migrations_from_an_empty_database(tmp_path):
    db = Database(tmp_path / "s.db")
    assert db.version() == LATEST
    with db.read() as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"schema_version", "sessions", "seats", "trainees", "tickets", "ticket_events", "check_results",
                "grades", "events"} <= tables
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert Database(tmp_path / "s.db").migrate() == LATEST  # again: nothing to do
    with db.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == LATEST
    with db.write() as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 'x')", (LATEST + 1,))
    from labctl.errors import HostError

    with pytest.raises(HostError, match="newer than this labctl"):
        Database(tmp_path / "s.db").migrate()


def test_a_failed_transaction_leaves_nothing(tmp_path):
    db = Database(tmp_path / "s.db")
    with pytest.raises(sqlite3.IntegrityError):
        with db.write() as conn:
            conn.execute("INSERT INTO sessions (name, scenario, scenario_json, mode, lang, seed, roster_file, "
                         "state, created) VALUES ('a', 's', '{}', 'remote', 'en', 1, 'r', 'open', 'now')")
            conn.execute("INSERT INTO seats (session_id, name, idx, fault, variant, seed, progress, updated) "
                         "VALUES (999, 'x', 1, 'f', 'v', 1, 'planned', 'now')")  # no such session
    with db.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


def _resolve_in_a_process(tmp: str, seat: str, start, out) -> None:
    from tests.unit.session_fakes import make_sessions as mk

    lib, seats, engine = mk(Path(tmp))
    for s in ("c1-01", "c1-02", "c1-03"):
        seats.machines[s] = "running"
        engine.state[s] = _state(lib, s)
        engine.fixed.add(s)
    start.wait()
    try:
        for i in range(20):
            lib.note("c1", seat, "action", f"step {i}")
        lib.resolve("c1", seat, resolution=f"fixed {seat}")
        out.put((seat, "ok"))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        out.put((seat, repr(exc)))


def _state(lib, seat):
    from labctl.faults.engine import SeatFault

    with lib.db.read() as conn:
        r = conn.execute("SELECT fault, variant, seed FROM seats WHERE name = ?", (seat,)).fetchone()
    return SeatFault(r[0], r[1], r[2], "injected")


def test_two_processes_resolving_at_once_both_land(lab):
    lib, seats, engine, tmp = lab
    made(lab)
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_resolve_in_a_process, args=(str(tmp), s, start, out)) for s in ("c1-01", "c1-02")]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
    results = dict(out.get(timeout=5) for _ in procs)
    assert results == {"c1-01": "ok", "c1-02": "ok"}
    for s in ("c1-01", "c1-02"):
        v = lib.ticket("c1", s)
        assert v.ticket.state == "resolved" and v.ticket.outcome == "passed"
        assert sum(1 for e in v.events if e.kind == "note") == 20


# -- reports -----------------------------------------------------------------------------
def test_report_html_csv_json(lab):
    lib, seats, engine, tmp = lab
    res, by_fault = made(lab)
    seat = by_fault["disk-full"][0]
    lib.acknowledge("c1", seat)
    lib.note("c1", seat, "diagnosis", "<script>alert(1)</script> df -h")
    engine.fix(seat)
    lib.resolve("c1", seat, resolution="freed space")
    lib.set_grade("c1", seat, c4="pass", comment="good call")
    s, rows = lib.report("c1")
    html = to_html(s, rows)
    for name in ("Ann Lee", "Bob Roy", "Chloé Dia", "c1-01", "c1-02", "c1-03", "CP4", "CP8", "good call"):
        assert name in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "@media print" in html
    table = list(csv.DictReader(io.StringIO(to_csv(s, rows))))
    assert [r["trainee"] for r in table] == ["Ann Lee", "Bob Roy", "Chloé Dia"]
    assert {r["seat"]: r["C4"] for r in table}[seat] == "pass"
    data = json.loads(to_json(s, rows))
    assert len(data["seats"]) == 3 and data["session"]["name"] == "c1"
    cps = {c["id"]: c for c in data["competencies"]}
    assert cps["CP4"]["seats"] == len(by_fault["disk-full"]) and cps["CP8"]["seats"] == len(by_fault["licence-expired"])
    paths = write_report(s, rows, tmp / "out")
    assert sorted(p.name for p in paths) == ["c1-report.csv", "c1-report.html", "c1-report.json"]


# -- CLI error paths -----------------------------------------------------------------------
@pytest.fixture
def runner(tmp_path):
    (tmp_path / "scenarios").mkdir()
    env = {"LABCTL_STATE_DIR": str(tmp_path / "state"), "LABCTL_SCENARIOS_DIR": str(tmp_path / "scenarios"),
           "LABCTL_CONFIG": ""}
    return CliRunner(env=env), tmp_path


def test_cli_bad_roster_names_file_and_line(runner):
    r, tmp = runner
    (tmp / "scenarios" / "t.yaml").write_text(SCENARIO.format(mode="remote").replace("licence-expired", "disk-full")
                                              .replace("[disk-full, disk-full]", "[disk-full]"))
    (tmp / "class.csv").write_text("name\nAnn\nann\n")
    res = r.invoke(cli, ["session", "create", "c1", "--roster", str(tmp / "class.csv"), "--scenario", "t"])
    assert res.exit_code == 2, res.output
    assert f"{tmp / 'class.csv'}: line 3: field 'name'" in res.output


def test_cli_unknown_scenario_session_and_bad_scenario(runner):
    r, tmp = runner
    (tmp / "class.csv").write_text("name\nAnn\n")
    res = r.invoke(cli, ["session", "create", "c1", "--roster", str(tmp / "class.csv"), "--scenario", "nope"])
    assert res.exit_code == 3 and "unknown scenario 'nope'" in res.output
    (tmp / "scenarios" / "bad.yaml").write_text(SCENARIO.format(mode="radio"))
    res = r.invoke(cli, ["session", "create", "c1", "--roster", str(tmp / "class.csv"), "--scenario", "bad"])
    assert res.exit_code == 2 and "bad.yaml: field 'mode'" in res.output
    res = r.invoke(cli, ["ticket", "show", "nosuch", "1"])
    assert res.exit_code == 3 and "no session named 'nosuch'" in res.output
    res = r.invoke(cli, ["session", "list"])
    assert res.exit_code == 0 and "no sessions" in res.output
    res = r.invoke(cli, ["ticket", "escalate", "nosuch", "1", "--observed", "x"])
    assert res.exit_code == 2 and "--tried" in res.output


# -- what the web app needs from the library ------------------------------------------------
def test_reset_seat_with_a_new_fault_replaces_the_ticket_and_keeps_its_history(lab):
    lib, seats, engine, tmp = lab
    res, _ = made(lab)
    before = {st.seat: (st.fault, st.variant) for st in res.seats}
    lib.acknowledge("c1", "c1-01")
    lib.note("c1", "c1-01", "diagnosis", "looked at it")
    engine.fix("c1-01")
    lib.resolve("c1", "c1-01", resolution="done")
    old = lib.ticket("c1", "c1-01")
    st = lib.reset_seat("c1", "c1-01", new_fault=True)
    assert (st.fault, st.variant) != before["c1-01"]
    assert (st.fault, st.variant) not in {before["c1-02"], before["c1-03"]}  # the pool has unused ones
    assert engine.state["c1-01"].fault == st.fault and engine.state["c1-01"].variant == st.variant
    view = lib.ticket("c1", "c1-01")
    t = view.ticket
    assert t.number == old.ticket.number and t.state == "new" and t.outcome == "" and t.resolution == ""
    assert t.subject == f"{st.fault} trouble (en)" and t.opened > old.ticket.opened
    assert [e.kind for e in view.events][:len(old.events)] == [e.kind for e in old.events]
    assert view.events[-1].kind == "new-problem" and st.fault not in view.events[-1].text.replace(t.subject, "")
    assert lib.grade("c1", "c1-01").c1.status != "pass"  # the new problem is not solved yet
    # reproducible: the same session seed and count of redraws give the same draw
    with lib.db.read() as conn:
        s = lib.get("c1", conn)
        seat = lib._seat(conn, s, "c1-02")
    assert lib._redraw(s, seat, set(), 0) == lib._redraw(s, seat, set(), 0)
    # a closed session keeps its faults
    lib.close("c1")
    with pytest.raises(SessionError):
        lib.reset_seat("c1", "c1-02", new_fault=True)


def test_seats_start_from_their_draws_prepared_state_and_a_new_fault_remakes_the_seat(lab):
    lib, seats, engine, tmp = lab
    res, _ = made(lab)
    # Every seat was made from the prepared state of its own draw, made before the seats.
    assert {n: seats.bases[n] for n in seats.created} == {
        st.seat: ("prepared", st.fault, st.variant) for st in res.seats}
    assert sorted(engine.made_bases) == sorted((st.fault, st.variant) for st in res.seats)
    # A new fault: the seat's pristine state holds the old healthy stage, so it is made again.
    created = len(seats.created)
    st = lib.reset_seat("c1", "c1-01", new_fault=True)
    assert seats.created[created:] == ["c1-01"]
    assert seats.bases["c1-01"] == ("prepared", st.fault, st.variant)
    # The same fault again: a reset, no new machine.
    lib.reset_seat("c1", "c1-01")
    assert seats.created[created:] == ["c1-01"]


def test_prepare_only_makes_the_prepared_states_and_no_seat_then_create_uses_them(lab):
    lib, seats, engine, tmp = lab
    res = lib.prepare("c1", tmp / "class.csv", "t", seed=7, parallel=2)
    assert seats.created == [] and res.errors == {}
    assert sorted(engine.made_bases) == sorted((v["fault"], v["variant"]) for v in res.states.values())
    assert len(res.states) == 3
    assert lib.get("c1").state == "creating"
    made(lab)  # the same create, at class time: same plan, seats from those states
    assert {n: seats.bases[n] for n in seats.created} == {
        seat: ("prepared", v["fault"], v["variant"]) for seat, v in res.states.items()}


def test_prepare_only_from_the_cli_lists_each_seats_state(lab, monkeypatch):
    from labctl.cli import session as cli_session

    lib, seats, engine, tmp = lab
    monkeypatch.setattr(cli_session, "sessions", lambda ctx: lib)
    out = CliRunner().invoke(cli, ["session", "create", "c2", "--roster", str(tmp / "class.csv"), "--scenario", "t",
                                   "--prepare-only", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["session"] == "c2" and len(data["states"]) == 3 and seats.created == []


def test_status_tells_time_left_and_when_the_last_check_ran(lab):
    lib, seats, engine, tmp = lab
    made(lab)
    st = lib.status("c1")
    assert all(r.deadline and r.last_check == "" and r.last_check_at == "" for r in st)
    lib.extend("c1", 15, "c1-02")
    lib.check("c1", ["c1-02"])
    st = {r.seat: r for r in lib.status("c1")}
    assert datetime.fromisoformat(st["c1-02"].deadline) - datetime.fromisoformat(st["c1-01"].deadline) \
        == timedelta(minutes=15)
    assert st["c1-02"].last_check == "fail" and st["c1-02"].last_check_at
    assert st["c1-02"].as_dict()["mode"] == "remote"


def test_trainee_lookup_and_console(lab):
    lib, seats, engine, tmp = lab
    res, _ = made(lab)
    tr, seat = lib.trainee("c1", "Bob Roy")
    assert seat == "c1-02" and tr.code_set
    assert lib.verify_code("c1", res.codes["Bob Roy"])[0].code_set == tr.code_set
    lib.issue_codes("c1", "Bob Roy")
    assert lib.trainee("c1", "Bob Roy")[0].code_set != tr.code_set
    assert lib.trainee("c1", "Nobody") is None
    con = lib.console("c1", "2")
    assert con == {"seat": "c1-02", "mode": "remote", "host": "127.0.0.1", "port": 5901, "password": "vncpw123"}
    seats.machines["c1-02"] = "shut off"
    with pytest.raises(SessionError):
        lib.console("c1", "2")


@pytest.mark.parametrize("port, real, fake", [
    ("SeatService", "labctl.seats:SeatManager", "tests.unit.session_fakes:FakeSeats"),
    ("FaultService", "labctl.faults.engine:FaultEngine", "tests.unit.session_fakes:FakeEngine"),
    ("FaultCatalog", "labctl.faults.manifest:Catalog", "tests.unit.session_fakes:FakeCatalog"),
])
def test_ports_name_what_the_real_collaborators_and_the_fakes_both_have(port, real, fake):
    """Sessions call a collaborator only through its port: each method the port lists, with its keywords,
    must exist on the real class and on the unit tests' stand-in (no hasattr probing left to hide a gap)."""
    import importlib
    import inspect

    from labctl.sessions import ports

    def load(ref):
        mod, name = ref.split(":")
        return getattr(importlib.import_module(mod), name)

    proto = getattr(ports, port)
    methods = {k: v for k, v in vars(proto).items() if inspect.isfunction(v) and not k.startswith("_")}
    assert methods, f"{port} lists no method"
    for cls in (load(real), load(fake)):
        for name, fn in methods.items():
            assert callable(getattr(cls, name, None)), f"{cls.__name__} has no {name}() ({port})"
            want = inspect.signature(fn).parameters.values()
            have = inspect.signature(getattr(cls, name)).parameters
            for p in want:
                if p.kind is p.KEYWORD_ONLY:
                    assert p.name in have, f"{cls.__name__}.{name}() takes no {p.name}= ({port})"
            n_pos = sum(p.kind is p.POSITIONAL_OR_KEYWORD for p in want)
            n_have = sum(p.kind is p.POSITIONAL_OR_KEYWORD for p in have.values())
            assert n_have >= n_pos, f"{cls.__name__}.{name}() takes fewer arguments than {port} says"


def test_sql_lives_only_in_the_repository():
    import re

    import labctl.sessions

    folder = Path(labctl.sessions.__file__).parent
    sql = re.compile(r"""["'](SELECT|INSERT|UPDATE|DELETE)\b|\.execute\(""")
    found = [f"{p.name}:{n}" for p in sorted(folder.glob("*.py")) if p.name not in ("repo.py", "db.py")
             for n, line in enumerate(p.read_text().splitlines(), 1) if sql.search(line)]
    assert found == [], "SQL outside labctl/sessions/repo.py: " + ", ".join(found)
