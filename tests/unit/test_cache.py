"""labctl cache list|prune: a cache populated by hand, machines in use given directly (no libvirt)."""

import json
import os
import time

import pytest
from click.testing import CliRunner

from labctl import cache, images
from labctl.config import Config
from labctl.machines.inventory import ImageUser, image_users
from labctl.machines.record import SeatRecord, ServerRecord
from labctl.machines.spec import DOMAIN_TEMPLATE
from labctl.machines.states import warm_key

MIB = 1024**2


@pytest.fixture
def cfg(tmp_path):
    (tmp_path / "images" / "ws").mkdir(parents=True)
    (tmp_path / "images" / "ws" / "image.yaml").write_text("name: ws\ndescription: test\n")
    return Config(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", images_dir=tmp_path / "images")


def digest(cfg, name="ws"):
    return images.load_recipe(cfg.images_dir, name).digest()


def current_warm_key(cfg, accel="qemu"):
    return warm_key(digest=digest(cfg), template=DOMAIN_TEMPLATE.read_bytes(), accel=accel,
                    memory_mib=cfg.seat_memory_mib, vcpus=cfg.seat_vcpus)


def sparse(path, apparent=64 * MIB, written=MIB):
    with open(path, "wb") as fh:
        fh.write(b"x" * written)
        fh.truncate(apparent)


def build(cfg, key, name="ws", *, built_at="2026-01-01T00:00:00Z", skip=()):
    folder = cfg.image_cache / name / key
    folder.mkdir(parents=True)
    for f in ("vmlinuz", "initrd.img"):
        if f not in skip:
            (folder / f).write_bytes(b"k" * 4096)
    if "disk.qcow2" not in skip:
        sparse(folder / "disk.qcow2")
    if "image.json" not in skip:
        (folder / "image.json").write_text(json.dumps({"name": name, "digest": key, "built_at": built_at,
                                                       "size_bytes": 1, "kernel_cmdline": "x"}))
    return folder


def warm(cfg, key, build_digest, name="ws", *, skip=(), folder_name=None):
    folder = cfg.cache_dir / "warm" / name / (folder_name or key)
    folder.mkdir(parents=True)
    if "golden.qcow2" not in skip:
        sparse(folder / "golden.qcow2", written=2 * MIB)
    if "golden.save" not in skip:
        (folder / "golden.save").write_bytes(b"m" * 8192)
    if "golden.json" not in skip:
        (folder / "golden.json").write_text(json.dumps({"mac": "52:54:00:00:00:01", "image": name,
                                                        "digest": build_digest, "key": key}))
    return folder


def by_folder(entries):
    return {e.folder.name: e for e in entries}


def test_list_tells_current_stale_and_broken_apart(cfg):
    cur = digest(cfg)
    build(cfg, cur, built_at="2026-03-01T10:00:00Z")
    build(cfg, "0" * 16)
    build(cfg, "1" * 16, skip=("image.json",))
    build(cfg, "2" * 16, skip=("vmlinuz",))
    (cfg.image_cache / "ws" / ".build-ws-abc").mkdir()
    wkey = current_warm_key(cfg)
    warm(cfg, wkey, cur)
    warm(cfg, "a" * 12, cur)  # same build, another template or seat size
    warm(cfg, "b" * 12, cur, skip=("golden.save",))
    warm(cfg, "c" * 12, cur, folder_name=".cccccccccccc.part", skip=("golden.json",))

    e = by_folder(cache.inspect(cfg, [], accel="qemu"))
    assert (e[cur].kind, e[cur].status, e[cur].made_at) == (cache.IMAGE, cache.CURRENT, "2026-03-01T10:00:00Z")
    assert e["0" * 16].status == cache.STALE
    assert e["1" * 16].status == cache.BROKEN and "image.json" in e["1" * 16].problem
    assert e["2" * 16].status == cache.BROKEN and "vmlinuz" in e["2" * 16].problem
    assert e[".build-ws-abc"].status == cache.BROKEN and "unfinished build" in e[".build-ws-abc"].problem
    assert (e[wkey].kind, e[wkey].status, e[wkey].digest) == (cache.WARM, cache.CURRENT, cur)
    assert e["a" * 12].status == cache.STALE
    assert e["b" * 12].status == cache.BROKEN and "golden.save" in e["b" * 12].problem
    part = e[".cccccccccccc.part"]
    assert (part.status, part.key) == (cache.BROKEN, "c" * 12) and "unfinished" in part.problem
    assert not any(x.in_use for x in e.values())


def test_warm_state_of_another_acceleration_is_stale_unless_it_is_unknown(cfg):
    warm(cfg, current_warm_key(cfg, accel="kvm"), digest(cfg))
    [entry] = cache.inspect(cfg, [], accel="qemu")
    assert entry.status == cache.STALE
    [entry] = cache.inspect(cfg, [], accel=None)
    assert entry.status == cache.CURRENT


def test_a_recipe_that_is_gone_makes_its_builds_stale(cfg):
    build(cfg, "0" * 16, name="gone")
    [entry] = cache.inspect(cfg, [], accel="qemu")
    assert (entry.image, entry.status) == ("gone", cache.STALE)


def test_warm_state_whose_record_names_another_folder_is_broken(cfg):
    folder = warm(cfg, "d" * 12, digest(cfg))
    (folder / "golden.json").write_text(json.dumps({"mac": "m", "image": "ws", "digest": digest(cfg),
                                                    "key": "e" * 12}))
    [entry] = cache.inspect(cfg, [], accel="qemu")
    assert entry.status == cache.BROKEN and "not its folder" in entry.problem


def test_sizes_are_allocated_blocks_so_sparse_files_count_what_they_hold(cfg):
    folder = build(cfg, digest(cfg))
    os.link(folder / "disk.qcow2", folder / "hardlink.qcow2")
    [entry] = cache.inspect(cfg, [], accel="qemu")
    apparent = sum(p.stat().st_size for p in folder.iterdir())
    assert apparent > 128 * MIB  # two names for a 64 MiB sparse disk
    assert MIB <= entry.size_bytes < 2 * MIB  # 1 MiB written, counted once


def test_machines_in_use_protect_their_build_and_its_warm_states(cfg):
    old = "0" * 16
    build(cfg, digest(cfg))
    build(cfg, old)
    warm(cfg, "a" * 12, old)
    users = [ImageUser("desk1", "ws", old), ImageUser("other-lab-desk", "ws", old)]
    entries = by_folder(cache.inspect(cfg, users, accel="qemu"))
    assert entries[old].users == ("desk1", "other-lab-desk") and entries["a" * 12].in_use
    result = cache.prune(cfg, users, accel="qemu", all_stale=True)
    assert result.removals == ()
    assert (cfg.image_cache / "ws" / old / "disk.qcow2").is_file()
    assert (cfg.cache_dir / "warm" / "ws" / ("a" * 12) / "golden.save").is_file()
    reasons = {d.entry.folder.name: d.reason for d in result.decisions}
    assert reasons[old] == "in use by desk1, other-lab-desk"
    assert reasons["a" * 12] == "in use by desk1, other-lab-desk"


def test_prune_removes_stale_and_broken_and_counts_what_it_freed(cfg):
    cur, old = digest(cfg), "0" * 16
    build(cfg, cur)
    stale = build(cfg, old)
    broken = build(cfg, "1" * 16, skip=("image.json",))
    wcur = warm(cfg, current_warm_key(cfg), cur)
    wstale = warm(cfg, "a" * 12, cur)
    wbroken = warm(cfg, "b" * 12, cur, skip=("golden.qcow2",))
    doomed = [stale, broken, wstale, wbroken]
    sizes = sum(cache.allocated_bytes(f) for f in doomed)

    result = cache.prune(cfg, [], accel="qemu", all_stale=True)
    assert not any(f.exists() for f in doomed)
    assert (cfg.image_cache / "ws" / cur / "disk.qcow2").is_file() and (wcur / "golden.save").is_file()
    assert {r.entry.folder for r in result.removals} == set(doomed)
    assert all(not r.error for r in result.removals)
    assert result.freed_bytes == sizes > 0
    # Warm states go before the builds they are layers on.
    kinds = [r.entry.kind for r in result.removals]
    assert kinds == sorted(kinds, key=lambda k: k != cache.WARM)


def test_dry_run_removes_nothing_and_says_what_would_go(cfg):
    build(cfg, digest(cfg))
    stale = build(cfg, "0" * 16)
    result = cache.prune(cfg, [], accel="qemu", all_stale=True, dry_run=True)
    assert stale.is_dir() and (stale / "disk.qcow2").is_file()
    assert result.removals == ()
    assert [d.entry.folder for d in result.decisions if d.remove] == [stale]
    assert result.freed_bytes == cache.allocated_bytes(stale)


def test_previous_build_and_its_warm_states_are_kept_unless_all_stale(cfg):
    build(cfg, digest(cfg))
    older = build(cfg, "0" * 16, built_at="2026-01-01T00:00:00Z")
    previous = build(cfg, "1" * 16, built_at="2026-02-01T00:00:00Z")
    wprev = warm(cfg, "a" * 12, "1" * 16)
    cache.prune(cfg, [], accel="qemu")
    assert not older.exists()
    assert previous.is_dir() and wprev.is_dir()
    cache.prune(cfg, [], accel="qemu", all_stale=True)
    assert not previous.exists() and not wprev.exists()


def test_a_build_folder_touched_lately_may_be_building_and_is_kept(cfg):
    work = cfg.image_cache / "ws" / ".build-ws-x1"
    work.mkdir(parents=True)
    (work / "build.log").write_text("I: installing\n")
    result = cache.prune(cfg, [], accel="qemu")
    assert work.is_dir()
    [d] = result.decisions
    assert not d.remove and "building now" in d.reason
    hours_ago = time.time() - 3 * 3600
    for p in (work / "build.log", work):
        os.utime(p, (hours_ago, hours_ago))
    cache.prune(cfg, [], accel="qemu")
    assert not work.exists()


def test_half_made_warm_state_is_kept_only_while_its_machine_exists(cfg):
    part = warm(cfg, "c" * 12, "", folder_name=".cccccccccccc.part", skip=("golden.json",))
    seat = [ImageUser("desk1", "ws", digest(cfg))]
    entry = by_folder(cache.inspect(cfg, seat + [ImageUser("golden-cccccccc", "ws", digest(cfg))], accel="qemu"))
    assert entry[part.name].users == ("golden-cccccccc",)
    cache.prune(cfg, seat, accel="qemu")  # a seat of the image does not run on a half-made warm state
    assert not part.exists()


def test_a_partly_removable_entry_is_reported(cfg, monkeypatch):
    stale = build(cfg, "0" * 16)
    real_unlink = os.unlink

    def unlink(path, *a, **kw):
        if os.fspath(path).endswith("vmlinuz"):
            raise PermissionError(13, "Operation not permitted")
        return real_unlink(path, *a, **kw)

    monkeypatch.setattr(os, "unlink", unlink)
    result = cache.prune(cfg, [], accel="qemu", all_stale=True)
    [r] = result.removals
    assert "removed in part" in r.error and "vmlinuz" in r.error
    assert (stale / "vmlinuz").is_file() and not (stale / "disk.qcow2").exists()
    assert 0 < r.freed_bytes < r.entry.size_bytes


def test_prune_of_a_missing_cache_does_nothing(cfg):
    result = cache.prune(cfg, [], accel="qemu")
    assert result.decisions == () and not cfg.cache_dir.exists()


# -- who uses which build ---------------------------------------------------------------

class FakeDom:
    def __init__(self, name, meta):
        self._name, self.meta = name, meta

    def name(self):
        return self._name


class FakeBackend:
    def __init__(self, doms):
        self.doms = doms

    def list_domains(self):
        return self.doms

    def get_metadata(self, dom):
        return dom.meta


def test_image_users_reads_seats_warm_machines_and_servers_from_metadata():
    seat = SeatRecord(name="desk1", state="ready", image="ws", image_digest="d1", listen="127.0.0.1", ports={})
    golden = SeatRecord(name="golden-abcd1234", state="golden", image="ws", image_digest="d2", listen="127.0.0.1",
                        ports={})
    server = ServerRecord(state="ready", image="server", image_digest="d3", ports={})
    backend = FakeBackend([FakeDom("labctl-desk1", seat.to_xml()), FakeDom("labctl-golden-abcd1234", golden.to_xml()),
                           FakeDom("labctl-server-lab", server.to_xml()), FakeDom("someone-elses", None),
                           FakeDom("broken", "<seat")])
    assert image_users(backend) == [ImageUser("desk1", "ws", "d1"), ImageUser("golden-abcd1234", "ws", "d2"),
                                    ImageUser("labctl-server-lab", "server", "d3")]


# -- the CLI ----------------------------------------------------------------------------

@pytest.fixture
def run(cfg, monkeypatch):
    from labctl.cli import cache as cli_cache
    from labctl.cli.main import cli

    monkeypatch.setenv("LABCTL_CACHE_DIR", str(cfg.cache_dir))
    monkeypatch.setenv("LABCTL_STATE_DIR", str(cfg.state_dir))
    monkeypatch.setenv("LABCTL_IMAGES_DIR", str(cfg.images_dir))
    users: list[ImageUser] = []
    monkeypatch.setattr(cli_cache, "_host", lambda _cfg: (users, "qemu"))

    def _run(*args):
        return CliRunner().invoke(cli, ["cache", *args])

    _run.users = users
    return _run


def test_cli_list_json_has_every_kind(cfg, run):
    build(cfg, digest(cfg))
    warm(cfg, "a" * 12, digest(cfg))
    run.users.append(ImageUser("desk1", "ws", digest(cfg)))
    res = run("list", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert [(i["status"], i["users"]) for i in data["images"]] == [("current", ["desk1"])]
    assert [(w["status"], w["in_use"]) for w in data["warm_states"]] == [("stale", True)]
    assert data["prepared_states"] == []
    text = run("list").output
    assert "desk1" in text and "warm state" in text


def test_cli_prune_without_yes_and_without_a_terminal_refuses(cfg, run):
    stale = build(cfg, "0" * 16)
    res = run("prune", "--all-stale")
    assert res.exit_code == 1
    assert "no terminal to ask on" in res.output and "hint: add --yes" in res.output
    assert stale.is_dir()


def test_cli_prune_dry_run_then_yes(cfg, run):
    cur = build(cfg, digest(cfg))
    stale = build(cfg, "0" * 16)
    dry = run("prune", "--dry-run", "--all-stale")
    assert dry.exit_code == 0 and f"would remove image ws {'0' * 16}" in dry.output and stale.is_dir()
    res = run("prune", "--all-stale", "--yes")
    assert res.exit_code == 0, res.output
    assert f"removed image ws {'0' * 16}" in res.output and "removed 1 entry" in res.output
    assert not stale.exists() and cur.is_dir()


def test_broken_warm_state_with_a_readable_record_is_kept_only_for_its_own_build(cfg):
    lost = warm(cfg, "b" * 12, "0" * 16, skip=("golden.save",))
    other_build = [ImageUser("desk1", "ws", digest(cfg))]
    [entry] = cache.inspect(cfg, other_build, accel="qemu")
    assert (entry.status, entry.digest, entry.users) == (cache.BROKEN, "0" * 16, ())
    [entry] = cache.inspect(cfg, [ImageUser("desk2", "ws", "0" * 16)], accel="qemu")
    assert entry.users == ("desk2",)
    cache.prune(cfg, other_build, accel="qemu")
    assert not lost.exists()


# -- prepared states (labctl/faults/prepared.py) ------------------------------------------------------

def prepared(cfg, key, *, warm_key_, fault="disk-full", day=None, recipe=None, contract=None, folder_name=None,
             skip=()):
    from labctl.faults.prepared import contract_hash, today
    from labctl.faults.provenance import folder_hash
    from labctl.machines.states import Prepared

    folder = cfg.cache_dir / "prepared" / "ws" / (folder_name or key)
    folder.mkdir(parents=True)
    sparse(folder / "prepared.qcow2", written=MIB)
    (folder / "prepared.save").write_bytes(b"p" * 8192)
    if "prepared.json" not in skip:
        Prepared.write_meta(folder, key=key, image="ws", warm=warm_key_, mac="52:54:00:00:00:01", fault=fault,
                            variant="trash", values="v", day=day or today(),
                            recipe=recipe or folder_hash(cfg.faults_dir / fault), contract=contract or contract_hash())
    return folder


@pytest.fixture
def pcfg(cfg):
    import dataclasses
    from pathlib import Path

    return dataclasses.replace(cfg, faults_dir=Path(__file__).resolve().parents[2] / "faults")


def test_prepared_states_are_current_only_today_for_todays_recipe_and_warm_state(pcfg):
    wk = current_warm_key(pcfg)
    prepared(pcfg, "p" * 16, warm_key_=wk)
    prepared(pcfg, "y" * 16, warm_key_=wk, day="2020-01-01")
    prepared(pcfg, "r" * 16, warm_key_=wk, recipe="0" * 64)
    prepared(pcfg, "w" * 16, warm_key_="0" * 12)
    prepared(pcfg, "c" * 16, warm_key_=wk, contract="old")
    prepared(pcfg, "h" * 16, warm_key_=wk, folder_name="." + "h" * 16 + ".part", skip=("prepared.json",))
    got = {e.key: e for e in cache.inspect(pcfg, [], accel="qemu") if e.kind == cache.PREPARED}
    assert {k[0]: e.status for k, e in got.items()} == {"p": "current", "y": "stale", "r": "stale", "w": "stale",
                                                        "c": "stale", "h": "broken"}
    assert got["p" * 16].what == "disk-full/trash"
    assert "unfinished" in got["h" * 16].problem


def test_prune_keeps_prepared_states_in_use_and_removes_them_first(pcfg):
    wk = current_warm_key(pcfg)
    used = prepared(pcfg, "u" * 16, warm_key_=wk, day="2020-01-01")
    old = prepared(pcfg, "o" * 16, warm_key_=wk, day="2020-01-01")
    today_ = prepared(pcfg, "t" * 16, warm_key_=wk)
    users = [ImageUser("cls-01", "ws", digest(pcfg), prepared="u" * 16)]
    res = cache.prune(pcfg, users, accel="qemu")
    assert used.is_dir() and today_.is_dir() and not old.exists()
    kept = {d.entry.key: d.reason for d in res.decisions if not d.remove}
    assert kept["u" * 16] == "in use by cls-01" and kept["t" * 16] == "current"


def test_a_prepared_state_is_checked_against_its_sizes_and_checksums(pcfg):
    from labctl.machines.states import Prepared

    folder = prepared(pcfg, "k" * 16, warm_key_=current_warm_key(pcfg))
    p = Prepared.load(folder)
    assert p is not None and p.problem() == ""
    with open(folder / "prepared.save", "r+b") as fh:
        fh.write(b"X")  # same size, other bytes
    assert "checksum" in p.problem()
    with open(folder / "prepared.save", "ab") as fh:
        fh.truncate(100)
    assert "truncated" in p.problem()
    (folder / "prepared.qcow2").unlink()
    assert Prepared.load(folder) is None


def test_image_users_name_the_prepared_state_a_seat_was_made_from():
    class Dom:
        def __init__(self, name):
            self._n = name

        def name(self):
            return self._n

    rec = SeatRecord(name="cls-01", state="ready", image="ws", image_digest="d", listen="127.0.0.1", ports={},
                     base={"key": "k" * 16, "fault": "disk-full", "variant": "trash", "values": "v"})
    back = SeatRecord.from_xml(rec.to_xml())
    assert back.base == rec.base

    class Backend:
        def list_domains(self):
            return [Dom("labctl-cls-01")]

        def get_metadata(self, dom):
            return rec.to_xml()

    assert image_users(Backend()) == [ImageUser("cls-01", "ws", "d", prepared="k" * 16)]
