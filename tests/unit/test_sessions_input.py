"""Rosters, scenarios and the draw: bad input gets a message naming the file, the line or field."""

from __future__ import annotations

from pathlib import Path

import pytest

from labctl.errors import ConfigError, NotFoundError
from labctl.sessions.planning import plan_faults
from labctl.sessions.roster import host_capacity, parse_roster
from labctl.sessions.scenario import load_scenario, load_scenario_file

from tests.unit.session_fakes import FakeCatalog, fake_fault

ROOT = Path(__file__).resolve().parents[2]

GOOD_SCENARIO = """\
title: T
mode: remote
language: en
time_limit_min: 60
pool: {faults: [disk-full]}
sla: {P1: 15, P2: 30, P3: 45, P4: 60, P5: 120}
"""


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return p


# -- roster -------------------------------------------------------------------------------
def test_roster_with_header_bom_blank_lines_and_pairs(tmp_path):
    p = write(tmp_path, "r.csv", b"\xef\xbb\xbfname,email,pair\n\nAnn Lee,ann@x.org,\n  \nBob,,p1\nChlo\xc3\xa9,,P1\n")
    r = parse_roster(p)
    assert r.encoding == "utf-8"
    assert [t.name for t in r.trainees] == ["Ann Lee", "Bob", "Chloé"]
    assert [t.line for t in r.trainees] == [3, 5, 6]
    assert [[t.name for t in g] for g in r.groups()] == [["Ann Lee"], ["Bob", "Chloé"]]


def test_roster_latin1_semicolons_no_header(tmp_path):
    p = write(tmp_path, "r.csv", "Zoé Faure;zoe@x.org\nJérôme;\n".encode("latin-1"))
    r = parse_roster(p)
    assert r.encoding in ("cp1252", "latin-1")
    assert [t.name for t in r.trainees] == ["Zoé Faure", "Jérôme"]
    assert r.trainees[0].email == "zoe@x.org"


@pytest.mark.parametrize("text,needle", [
    ("name\nAnn\nBob\n ann \n", "line 4: field 'name': 'ann' is already on line 2"),
    ("name,email\nAnn,\n,bob@x.org\n", "line 3: field 'name' is empty"),
    ("name,email\nAnn,not-an-address\n", "line 2: field 'email'"),
    ("name,pair\nA,x\nB,x\nC,x\n", "line 4: field 'pair'"),
    ("name,phone\nAnn,123\n", "line 1: unknown column(s) phone"),
    ("name\n\n\n", "no trainees"),
    ("name,email\nAnn,a@x.org,extra,more\n", "line 2: 4 fields"),
])
def test_roster_errors_name_file_line_field(tmp_path, text, needle):
    p = write(tmp_path, "class.csv", text)
    with pytest.raises(ConfigError) as exc:
        parse_roster(p)
    assert str(p) in exc.value.message
    assert needle in exc.value.message


def test_roster_more_trainees_than_the_host_holds(tmp_path):
    p = write(tmp_path, "class.csv", "name\n" + "".join(f"T{i}\n" for i in range(5)))
    with pytest.raises(ConfigError) as exc:
        parse_roster(p, max_seats=3, seat_memory_mib=1024)
    assert "line 5: field 'name'" in exc.value.message and "holds 3 seat(s)" in exc.value.message
    # pairs make it fit
    p2 = write(tmp_path, "pairs.csv", "name,pair\n" + "".join(f"T{i},p{i // 2}\n" for i in range(5)))
    assert len(parse_roster(p2, max_seats=3).groups()) == 3


def test_host_capacity_from_meminfo(tmp_path):
    mi = write(tmp_path, "meminfo", "MemTotal:       8388608 kB\nMemFree: 1 kB\n")
    assert host_capacity(1024, mi) == 6  # 8 GiB less 2 GiB reserve
    assert host_capacity(1024, tmp_path / "none") > 1000


# -- scenarios ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["exam-task1", "exam-task2", "practice"])
def test_shipped_scenarios_are_valid(name):
    s = load_scenario(name, ROOT / "scenarios")
    assert s.name == name
    assert s.mode == ("phone" if name == "exam-task1" else "remote")


@pytest.mark.parametrize("change,needle", [
    (("mode: remote", "mode: video"), "field 'mode'"),
    (("language: en", "language: de"), "field 'language'"),
    (("time_limit_min: 60", "time_limit_min: 60\ncolour: red"), "unknown field(s) colour"),
    (("pool: {faults: [disk-full]}", "pool: {families: [T9-NOPE]}"), "field 'pool.families[0]'"),
    (("pool: {faults: [disk-full]}", "pool: {families: [T2-NOPE]}"), "unknown family 'T2-NOPE'"),
    (("pool: {faults: [disk-full]}", "pool: {difficulty: [1]}"), "field 'pool'"),
    (("P1: 15", "P1: 50"), "field 'sla.P1'"),
    (("P5: 120", "P5: -1"), "field 'sla.P5'"),
    (("title: T\n", ""), "'title' is a required property"),
])
def test_scenario_errors_name_file_and_field(tmp_path, change, needle):
    p = write(tmp_path, "bad.yaml", GOOD_SCENARIO.replace(*change))
    with pytest.raises(ConfigError) as exc:
        load_scenario_file(p)
    assert str(p) in exc.value.message
    assert needle in exc.value.message


def test_unknown_scenario_and_unknown_fault(tmp_path):
    write(tmp_path, "one.yaml", GOOD_SCENARIO.replace("[disk-full]", "[disk-full, no-such-fault]"))
    with pytest.raises(NotFoundError) as exc:
        load_scenario("nope", tmp_path)
    assert "unknown scenario 'nope'" in exc.value.message and "one" in exc.value.hint
    s = load_scenario("one", tmp_path)
    with pytest.raises(NotFoundError) as exc:
        s.resolve_pool(FakeCatalog([fake_fault("disk-full")]))
    assert "field 'pool.faults[1]': unknown fault 'no-such-fault'" in exc.value.message


def test_pool_by_family_difficulty_and_level(tmp_path):
    cat = FakeCatalog([fake_fault("a", ("T2-DISK",)), fake_fault("b", ("T2-SOFT",), level=2),
                       fake_fault("c", ("T2-SOFT",), difficulty=3), fake_fault("d", ("T1-NET",))])
    p = write(tmp_path, "s.yaml", GOOD_SCENARIO.replace("pool: {faults: [disk-full]}",
                                                       "pool: {families: [T2-SOFT, T2-DISK], difficulty: [1]}"))
    assert [f.id for f in load_scenario_file(p).resolve_pool(cat)] == ["a", "b"]
    p = write(tmp_path, "s2.yaml", GOOD_SCENARIO.replace("pool: {faults: [disk-full]}",
                                                        "pool: {families: [T1-HW]}"))
    with pytest.raises(ConfigError, match="field 'pool': no fault"):
        load_scenario_file(p).resolve_pool(cat)


# -- the draw ----------------------------------------------------------------------------
def test_draw_is_reproducible_and_varied():
    pool = [fake_fault("disk-full", variants=("log", "trash", "cache", "dl")), fake_fault("lic", variants=("x", "y", "z"))]
    a = plan_faults(pool, 6, seed=42)
    assert a == plan_faults(pool, 6, seed=42)
    assert len({(d.fault, d.variant) for d in a}) == 6  # seven combos: six seats all differ
    assert len({d.fault for d in a[:2]}) == 2  # neighbours get different faults
    assert len({d.seed for d in a}) == 6
    assert plan_faults(pool, 6, seed=43) != a
    one = plan_faults([pool[0]], 3, seed=1)
    assert len({d.variant for d in one}) == 3  # three trainees, four variants: all different
    many = plan_faults([pool[0]], 10, seed=1)
    assert len({d.seed for d in many}) == 10  # repeated variants still get their own values
