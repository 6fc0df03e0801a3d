"""Prepared states' logic: one per key however many ask at once, checked before use, never half-made.

The hypervisor side (making one on a real machine, seats made from it) is proven on a
real seat in tests/vm/test_prepared_vm.py; here ``_make`` writes files like a real one.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from pathlib import Path

import pytest

from labctl.config import Config
from labctl.faults.draw import draw
from labctl.faults.manifest import Catalog
from labctl.faults.prepared import PreparedStates, values_digest
from labctl.machines.states import Prepared, prepared_folder

FAULTS = Path(__file__).resolve().parents[2] / "faults"


@pytest.fixture
def states(tmp_path, monkeypatch):
    cfg = Config(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", faults_dir=FAULTS)
    ps = PreparedStates(cfg, seats=None)
    monkeypatch.setattr(PreparedStates, "_verified", set())
    monkeypatch.setattr(ps, "key", lambda image, fault, d, progress=None: ("ws", "k" * 16))
    made = []

    def make(image, name, key, final, fault, d, say):
        made.append(key)
        time.sleep(0.3)  # long enough for the other threads to queue on the lock
        work = final.parent / f".{final.name}.part"
        shutil.rmtree(work, ignore_errors=True)  # as the real one: a leftover is never used
        work.mkdir(parents=True)
        (work / "prepared.qcow2").write_bytes(b"disk" * 1000)
        (work / "prepared.save").write_bytes(b"memory" * 1000)
        Prepared.write_meta(work, key=key, fault=fault.id, variant=d.variant, values=values_digest(fault, d))
        work.rename(final)
        return Prepared.load(final)

    monkeypatch.setattr(ps, "_make", make)
    ps.made = made
    return ps


def fault_and_draw(fid="disk-full", variant="trash"):
    f = Catalog(FAULTS).get(fid)
    return f, draw(f, 3, variant)


def test_many_asking_at_once_make_it_once(states):
    f, d = fault_and_draw()
    got = []
    threads = [threading.Thread(target=lambda: got.append(states.get("ws", f, d))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert states.made == ["k" * 16]
    assert len(got) == 4 and len({g.folder for g in got}) == 1 and all(g.problem() == "" for g in got)


def test_a_state_that_does_not_match_its_checksum_is_made_again_never_restored(states):
    f, d = fault_and_draw()
    first = states.get("ws", f, d)
    PreparedStates._verified.clear()  # another process
    with open(first.save, "r+b") as fh:
        fh.write(b"XX")
    said = []
    again = states.get("ws", f, d, progress=said.append)
    assert states.made == ["k" * 16, "k" * 16]
    assert again.problem() == "" and any("does not match its checksum" in m for m in said)


def test_a_half_made_state_is_never_loaded(states, tmp_path):
    f, d = fault_and_draw()
    final = prepared_folder(states.cfg.cache_dir, "ws", "k" * 16)
    part = final.parent / f".{final.name}.part"
    part.mkdir(parents=True)
    (part / "prepared.save").write_bytes(b"half")
    got = states.get("ws", f, d)
    assert states.made == ["k" * 16] and got.folder == final


def test_which_faults_have_prepared_states(tmp_path):
    cfg = Config(state_dir=tmp_path, cache_dir=tmp_path, faults_dir=FAULTS)
    cat = Catalog(FAULTS)
    ps = PreparedStates(cfg, seats=None)
    assert ps.why_not(cat.get("disk-full")) == ""
    assert "company server" in ps.why_not(cat.get("broken-vpn"))
    assert "turned off" in PreparedStates(dataclasses.replace(cfg, prepared_states=False), None).why_not(
        cat.get("disk-full"))
    assert PreparedStates(dataclasses.replace(cfg, prepared_states=False), None).get("ws", *fault_and_draw()) is None


def test_a_seat_holds_a_draws_healthy_stage_only_for_the_same_variant_and_pooled_values(tmp_path):
    ps = PreparedStates(Config(state_dir=tmp_path, cache_dir=tmp_path, faults_dir=FAULTS), seats=None)
    f, d = fault_and_draw()
    base = {"key": "k", "fault": f.id, "variant": d.variant, "values": values_digest(f, d)}
    assert ps.matches(base, f, d)
    same_pool = next(draw(f, s, "trash") for s in range(50)
                     if s != d.seed and draw(f, s, "trash").params["doc_token"] == d.params["doc_token"])
    assert ps.matches(base, f, same_pool), "seats of one pooled draw share the prepared state"
    other_pool = next(draw(f, s, "trash") for s in range(50)
                      if draw(f, s, "trash").params["doc_token"] != d.params["doc_token"])
    assert not ps.matches(base, f, other_pool)
    assert not ps.matches(base, f, draw(f, d.seed, "cache"))
    assert not ps.matches({}, f, d)


def test_states_of_other_days_that_no_machine_uses_are_tidied_away(tmp_path):
    from types import SimpleNamespace

    from labctl.machines.record import SeatRecord

    cfg = Config(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", faults_dir=FAULTS)
    root = cfg.cache_dir / "prepared" / "ws"

    def state(key, day):
        folder = root / key
        folder.mkdir(parents=True)
        for n in ("prepared.qcow2", "prepared.save"):
            (folder / n).write_bytes(b"x")
        Prepared.write_meta(folder, key=key, day=day)
        (root / f".{key}.lock").touch()
        return folder

    old, used, fresh = state("o" * 16, "2020-01-01"), state("u" * 16, "2020-01-01"), state("t" * 16, "2999-01-01")
    from labctl.faults import prepared as mod

    fresh_meta = Prepared.load(fresh).meta
    fresh_meta["day"] = mod.today()
    (fresh / "prepared.json").write_text(__import__("json").dumps(fresh_meta))
    rec = SeatRecord(name="s1", state="ready", image="ws", image_digest="d", listen="127.0.0.1", ports={},
                     base={"key": "u" * 16})
    dom = SimpleNamespace(name=lambda: "labctl-s1")
    backend = SimpleNamespace(list_domains=lambda: [dom], get_metadata=lambda _d: rec.to_xml())
    said = []
    PreparedStates(cfg, seats=SimpleNamespace(backend=backend))._tidy(root, said.append)
    assert not old.exists() and not (root / f".{'o' * 16}.lock").exists()
    assert used.is_dir() and fresh.is_dir()
    assert said == [f"removed the prepared state {'o' * 16} of 2020-01-01 (no machine was made from it)"]


def test_a_machine_left_making_a_state_by_a_killed_labctl_is_removed_one_being_made_is_not(tmp_path):
    from types import SimpleNamespace

    from labctl.machines.record import SeatRecord
    from labctl.ports import state_lock

    cfg = Config(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", faults_dir=FAULTS)
    root = cfg.cache_dir / "prepared" / "ws"
    root.mkdir(parents=True)
    doms = {}
    for key in ("a" * 16, "b" * 16):
        (root / f".{key}.lock").touch()
        (root / f".{key}.part").mkdir()
        rec = SeatRecord(name=f"prep-{key[:8]}", state="prepared", image="ws", image_digest="d",
                         listen="127.0.0.1", ports={})
        doms[f"labctl-prep-{key[:8]}"] = rec.to_xml()
    undefined = []
    backend = SimpleNamespace(
        list_domains=lambda: [SimpleNamespace(name=(lambda n=n: n)) for n in doms],
        get_metadata=lambda d: doms[d.name()], undefine=lambda d: undefined.append(d.name()))
    ps = PreparedStates(cfg, seats=SimpleNamespace(backend=backend))
    held = threading.Event()
    done = threading.Event()

    def maker():  # another labctl, still making "b"
        with state_lock(root, f".{'b' * 16}.lock"):
            held.set()
            done.wait(10)

    t = threading.Thread(target=maker)
    t.start()
    held.wait(10)
    try:
        said = []
        ps._orphans(root, "c" * 16, said.append)
    finally:
        done.set()
        t.join()
    assert undefined == [f"labctl-prep-{'a' * 8}"]
    assert not (root / f".{'a' * 16}.part").exists() and (root / f".{'b' * 16}.part").is_dir()
    assert said and "left making a prepared state" in said[0]
