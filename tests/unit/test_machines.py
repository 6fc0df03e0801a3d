"""The machine layer: saved-state names, the seat inventory, throwaway boots, and the layering rule."""

import ast
import json
from pathlib import Path

import pytest

import labctl
from labctl.errors import GuestError, HostError
from labctl.machines import throwaway
from labctl.machines.inventory import seat_machines
from labctl.machines.record import SeatRecord, ServerRecord
from labctl.machines.states import Golden, StateStore, warm_folder, warm_key, warm_work_folder


def test_state_store_keeps_the_file_names_seats_and_caches_already_have(tmp_path):
    st = StateStore(tmp_path)
    assert st.live == tmp_path / "disk.qcow2"
    assert st.warm_boot == tmp_path / "warm.save"
    assert (st.pristine.save, st.pristine.disk) == (tmp_path / "pristine.save", tmp_path / "pristine.qcow2")
    assert (st.state("staged").save, st.state("broken").disk) == (tmp_path / "staged.save", tmp_path / "broken.qcow2")
    assert warm_folder(tmp_path, "desktop", "abc") == tmp_path / "warm" / "desktop" / "abc"
    assert warm_work_folder(tmp_path / "warm" / "desktop" / "abc") == tmp_path / "warm" / "desktop" / ".abc.part"


def test_a_checkpoint_exists_only_with_both_files_and_dropping_keeps_pristine(tmp_path):
    st = StateStore(tmp_path)
    for name in ("pristine.save", "pristine.qcow2", "staged.save", "staged.qcow2", "broken.save", "disk.qcow2"):
        (tmp_path / name).write_bytes(b"x")
    assert st.has("staged") and not st.has("broken")  # broken.qcow2 is missing
    st.drop_checkpoints()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk.qcow2", "pristine.qcow2", "pristine.save"]
    assert st.pristine.exists()


def test_warm_state_loads_only_when_whole_and_its_key_follows_what_shapes_it(tmp_path):
    Golden.write_meta(tmp_path, mac="52:54:00:01:02:03", image="ws", digest="d", key="k")
    assert json.loads((tmp_path / "golden.json").read_text())["mac"] == "52:54:00:01:02:03"
    assert Golden.load(tmp_path) is None  # no saved memory or disk yet
    (tmp_path / "golden.save").write_bytes(b"m")
    (tmp_path / "golden.qcow2").write_bytes(b"d")
    assert Golden.load(tmp_path) == Golden(folder=tmp_path, mac="52:54:00:01:02:03")
    base = dict(digest="d", template=b"t", accel="qemu", memory_mib=1024, vcpus=1)
    assert warm_key(**base) == warm_key(**base) and len(warm_key(**base)) == 12
    assert warm_key(**base) != warm_key(**{**base, "memory_mib": 2048})
    assert warm_key(**base) != warm_key(**{**base, "template": b"t2"})


class _Dom:
    def __init__(self, name, meta):
        self._name, self.meta = name, meta

    def name(self):
        return self._name


class _Backend:
    def __init__(self, doms=(), fail_agent=False):
        self.doms, self.fail_agent = list(doms), fail_agent
        self.defined, self.undefined, self.started = [], [], []

    def list_domains(self):
        return self.doms

    def get_metadata(self, dom):
        return dom.meta

    def define(self, xml):
        dom = _Dom(xml, None)
        self.defined.append(dom)
        return dom

    def start(self, dom):
        self.started.append(dom)

    def wait_for_agent(self, dom, timeout):
        if self.fail_agent:
            raise GuestError("guest agent did not answer")
        return 0.1

    def undefine(self, dom):
        self.undefined.append(dom)


def _seat(name, state="ready", ports=None):
    return SeatRecord(name=name, state=state, image="ws", image_digest="d", listen="127.0.0.1",
                      ports=ports or {}).to_xml()


def test_the_inventory_lists_seats_of_every_lab_but_no_warm_rescue_server_or_foreign_domain():
    backend = _Backend([
        _Dom("labctl-a", _seat("a", ports={"ssh": 42000})),
        _Dom("labctl-golden-1234", _seat("golden-1234", state="golden")),
        _Dom("labctl-rescue.a", _seat("rescue.a", state="rescue")),
        _Dom("labctl.server-0001", ServerRecord("ready", "server", "d", {"dns": 42010}).to_xml()),
        _Dom("labctl-broken", "<seat"),  # unreadable metadata
        _Dom("other-vm", _seat("x")),
    ])
    got = [(d.name(), r.ports) for d, r in seat_machines(backend)]
    assert got == [("labctl-a", {"ssh": 42000})]


def test_a_throwaway_machine_that_does_not_come_up_is_removed_before_the_error():
    backend = _Backend(fail_agent=True)
    with pytest.raises(GuestError):
        throwaway.boot(backend, "<domain/>", timeout=1)
    assert backend.undefined == backend.defined and len(backend.defined) == 1


def test_a_throwaway_machine_that_comes_up_is_handed_over_running():
    backend = _Backend()
    dom = throwaway.boot(backend, "<domain/>", timeout=1)
    assert backend.started == [dom] and backend.undefined == []


def test_the_machine_layer_and_the_server_and_rescue_never_import_the_layers_above():
    root = Path(labctl.__file__).parent
    above = ("labctl.seats", "labctl.server", "labctl.rescue", "labctl.faults", "labctl.sessions", "labctl.cli",
             "labctl.web")
    files = {f: above for f in (root / "machines").glob("*.py")}
    files.update({root / "server.py": ("labctl.seats",), root / "rescue.py": ("labctl.seats", "labctl.server")})
    for path, banned in files.items():
        pkg = "labctl.machines" if path.parent.name == "machines" else "labctl"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)] if node.level else []
                names = [".".join(base + ([node.module] if node.module else []) + [a.name]) for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            bad = [n for n in names if any(n == b or n.startswith(b + ".") for b in banned)]
            assert not bad, f"{path.relative_to(root)} imports {bad}"


def test_the_seat_package_still_exports_what_other_code_imports():
    import labctl.seats as seats

    for name in ("SeatManager", "SeatInfo", "SeatRecord", "Credentials", "Golden", "domain_name", "render_domain_xml",
                 "random_mac", "rdp_fingerprint", "wait_for_desktop", "validate_seat_name", "RDP_CERT",
                 "SUPPORT_USER", "DESKTOP_USER", "_qemu_img_overlay", "_ssh_keygen"):
        assert hasattr(seats, name), name
    with pytest.raises(HostError, match="qemu-img|could not make"):
        seats._qemu_img_overlay(Path("/nonexistent/base.qcow2"), Path("/nonexistent/dir/overlay.qcow2"))


def test_the_warm_key_is_computed_as_before_so_existing_warm_states_are_found():
    import hashlib

    legacy = hashlib.sha256(b"\0".join([b"2", b"abc123", b"<domain/>", b"qemu", b"1536", b"2"])).hexdigest()[:12]
    assert warm_key(digest="abc123", template=b"<domain/>", accel="qemu", memory_mib=1536, vcpus=2) == legacy
