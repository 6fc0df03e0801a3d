from collections import namedtuple
from pathlib import Path

import pytest

from labctl import images
from labctl.config import load_config
from labctl.errors import ConfigError, HostError, NotFoundError

ROOT = Path(__file__).resolve().parents[2]


def recipe(tmp_path, name="ws", text=None, files=None):
    folder = tmp_path / name
    folder.mkdir(parents=True)
    (folder / "image.yaml").write_text(text if text is not None else f"name: {name}\ndescription: test\n")
    for rel, content in (files or {}).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(content)
    return folder


def test_shipped_workstation_recipe_loads():
    r = images.load_recipe(ROOT / "images", "workstation")
    for pkg in ("linux-image-amd64", "qemu-guest-agent", "openssh-server", "python3", "sudo", "systemd-sysv"):
        assert pkg in r.packages
    assert len(r.digest()) == 16


def test_digest_changes_with_any_file_and_is_stable(tmp_path):
    folder = recipe(tmp_path, files={"files/etc/motd": "hello\n"})
    d1 = images.load_recipe(tmp_path, "ws").digest()
    assert images.load_recipe(tmp_path, "ws").digest() == d1
    (folder / "files/etc/motd").write_text("changed\n")
    assert images.load_recipe(tmp_path, "ws").digest() != d1


def test_shipped_desktop_recipe_extends_the_workstation():
    r = images.load_recipe(ROOT / "images", "desktop")
    ws = images.load_recipe(ROOT / "images", "workstation")
    assert r.packages[:len(ws.packages)] == ws.packages
    for pkg in ("xfce4-session", "lightdm", "thunar", "mousepad", "atril", "firefox-esr", "xrdp", "xorgxrdp"):
        assert pkg in r.packages
    assert r.hooks[:len(ws.hooks)] == ws.hooks and len(r.hooks) > len(ws.hooks)
    assert r.services == ("ssh", "vnc", "rdp") and r.graphical and not ws.graphical
    assert ws.services == ("ssh", "vnc") and ws.min_memory_mib == 0
    assert r.min_memory_mib > 1024
    assert images.lineage(ROOT / "images", "desktop") == ("desktop", "workstation", "base")
    assert images.lineage(ROOT / "images", "workstation") == ("workstation", "base")


def test_services_and_memory_are_inherited_unless_overridden(tmp_path):
    recipe(tmp_path, "base", "name: base\ndescription: b\nservices: [ssh, vnc, rdp]\nmin_memory_mib: 1536\n")
    recipe(tmp_path, "kid", "name: kid\ndescription: k\nextends: base\n")
    recipe(tmp_path, "lean", "name: lean\ndescription: l\nextends: base\nservices: [ssh, vnc]\nmin_memory_mib: 0\n")
    kid, lean = images.load_recipe(tmp_path, "kid"), images.load_recipe(tmp_path, "lean")
    assert (kid.services, kid.min_memory_mib) == (("ssh", "vnc", "rdp"), 1536)
    assert (lean.services, lean.min_memory_mib) == (("ssh", "vnc"), 0)


def test_extends_inherits_packages_and_parent_changes_the_hash(tmp_path):
    recipe(tmp_path, "base", "name: base\ndescription: b\npackages: [a, b]\n")
    recipe(tmp_path, "desk", "name: desk\ndescription: d\nextends: base\npackages: [c]\n")
    r = images.load_recipe(tmp_path, "desk")
    assert r.packages == ("a", "b", "c")
    before = r.digest()
    (tmp_path / "base" / "image.yaml").write_text("name: base\ndescription: b\npackages: [a, b, z]\n")
    assert images.load_recipe(tmp_path, "desk").digest() != before


@pytest.mark.parametrize("text,needle", [
    ("name: ws\ndescription: x\npackges: [a]\n", "unknown field 'packges'"),
    ("name: ws\n", "missing field 'description'"),
    ("name: other\ndescription: x\n", "field 'name'"),
    ("name: ws\ndescription: x\ndisk_size_mib: big\n", "field 'disk_size_mib'"),
    ("name: ws\ndescription: x\nhooks: [nope.sh]\n", "field 'hooks'"),
    ("name: ws\ndescription: x\npackages: [a, 3]\n", "field 'packages'"),
    ("name: ws\ndescription: [\n", "not valid YAML"),
    ("name: ws\ndescription: x\nextends: ws\n", "extends itself"),
    ("name: ws\ndescription: x\nservices: [ssh, vnc, telnet]\n", "field 'services[2]'"),
    ("name: ws\ndescription: x\nservices: [rdp]\n", "field 'services'"),
    ("name: ws\ndescription: x\nmin_memory_mib: -5\n", "field 'min_memory_mib'"),
])
def test_bad_recipe_names_file_and_field(tmp_path, text, needle):
    recipe(tmp_path, text=text)
    with pytest.raises(ConfigError) as exc:
        images.load_recipe(tmp_path, "ws")
    assert needle in exc.value.message
    if "extends itself" not in needle:
        assert "image.yaml" in exc.value.message


def test_unknown_image_lists_known_ones(tmp_path):
    recipe(tmp_path, "ws")
    with pytest.raises(NotFoundError) as exc:
        images.load_recipe(tmp_path, "nope")
    assert "known images: ws" in exc.value.hint


def test_not_built_says_how_to_build(tmp_path):
    recipe(tmp_path, "ws")
    cfg = load_config(env={}, images_dir=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(NotFoundError) as exc:
        images.find_built(cfg, "ws")
    assert exc.value.hint == "run: labctl image build ws"


def test_build_refuses_on_a_full_disk(tmp_path, monkeypatch):
    recipe(tmp_path, "ws")
    cfg = load_config(env={}, images_dir=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(images.shutil, "disk_usage", lambda p: Usage(10, 10, 100 * 1024**2))
    with pytest.raises(HostError, match="only 100 MiB free"):
        images.build(cfg, "ws")
    assert not any((tmp_path / "cache" / "images" / "ws").glob(".build-*"))


def test_failed_build_leaves_nothing(tmp_path, monkeypatch):
    recipe(tmp_path, "ws")
    cfg = load_config(env={}, images_dir=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(HostError, match="'mmdebstrap' is not installed"):
        images.build(cfg, "ws")
    assert list((tmp_path / "cache" / "images" / "ws").iterdir()) == []


def test_seat_creation_refuses_on_a_full_disk(tmp_path, monkeypatch):
    from labctl import seats
    from labctl.seats import create as seat_create

    cfg = load_config(env={}, state_dir=str(tmp_path / "state"), libvirt_uri="test:///default")
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(seat_create.shutil, "disk_usage", lambda p: Usage(10, 10, 50 * 1024**2))
    with pytest.raises(HostError, match="a seat needs about"):
        seats.SeatManager(cfg)._check_disk_space()
