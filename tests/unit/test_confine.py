"""Recipe playbooks run in a bubblewrap sandbox (labctl/faults/confine.py, issue 19).

The argv is checked as data; then a real ansible-playbook runs through the same
wrapper labctl uses, with a local inventory (which only a test may give it), and
tries to read what a recipe must never see. bwrap missing skips these outside CI
and fails them in CI, where scripts/lib.sh installs it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess

import pytest

from labctl.errors import HostError
from labctl.faults import confine
from labctl.faults.confine import Sandbox

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def bwrap():
    exe = shutil.which("bwrap")
    if not exe:
        if IN_CI:
            pytest.fail("bwrap is missing in CI (scripts/lib.sh HOST_PACKAGES installs bubblewrap)", pytrace=False)
        pytest.skip("bwrap is not installed (apt-get install bubblewrap)")
    return exe


def _sandbox(**kw) -> Sandbox:
    return Sandbox(**{"bwrap": "/usr/bin/bwrap", "executable": "/venv/bin/ansible-playbook",
                      "read_only": ("/venv", "/venv/bin", "/srv/faults/x"), "writable": ("/var/lib/labctl/runs/r1",),
                      **kw})


def _pairs(argv: list[str], option: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a == option]


def test_the_argv_unshares_everything_and_runs_unprivileged():
    argv = _sandbox().argv(["-i", "inv", "book.yml"], cwd="/srv/faults/x")
    assert argv[0] == "/usr/bin/bwrap"
    for flag in ("--unshare-all", "--unshare-user", "--die-with-parent", "--new-session"):
        assert flag in argv
    assert "--share-net" not in argv, "the guest agent needs no network; the host's loopback services stay closed"
    assert argv[argv.index("--uid") + 1] == argv[argv.index("--gid") + 1] == "65534"
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    sep = argv.index("--")
    assert argv[sep + 1:] == ["/venv/bin/ansible-playbook", "-i", "inv", "book.yml"]
    assert argv[argv.index("--chdir") + 1] == "/srv/faults/x"


def test_the_argv_shows_only_what_it_is_told():
    argv = _sandbox().argv()
    ro = dict(_pairs(argv, "--ro-bind"))
    rw = dict(_pairs(argv, "--bind"))
    assert rw == {"/var/lib/labctl/runs/r1": "/var/lib/labctl/runs/r1"}, "the run's folder is the only writable bind"
    assert "/srv/faults/x" in ro and "/venv" in ro
    assert "/venv/bin" not in ro, "a folder inside one already shown is not bound twice"
    sources = {src for src, _ in _pairs(argv, "--ro-bind") + _pairs(argv, "--ro-bind-try") + _pairs(argv, "--bind")}
    for secret in ("/", "/etc", "/etc/shadow", "/etc/ssh", "/etc/libvirt", "/root", "/home", "/var", "/var/lib",
                   "/var/lib/labctl", "/var/lib/libvirt", "/run", "/run/libvirt"):
        assert secret not in sources, secret
    assert ("/etc/passwd", "/etc/passwd") in _pairs(argv, "--ro-bind-try")
    assert ("/run/libvirt/libvirt-sock", "/run/libvirt/libvirt-sock") in _pairs(argv, "--ro-bind-try")


def test_the_private_tmp_is_mounted_before_binds_beneath_it():
    argv = _sandbox(writable=("/tmp/state/runs/r1",)).argv()
    assert argv.index("--tmpfs") < argv.index("/tmp/state/runs/r1")


def test_masked_files_are_covered_after_the_writable_binds():
    argv = _sandbox(masked=("/var/lib/labctl/runs/r1/artifacts/i/command",)).argv()
    cover = argv.index("/var/lib/labctl/runs/r1/artifacts/i/command")
    assert argv[cover - 2:cover] == ["--ro-bind", "/dev/null"]
    assert cover > argv.index("--bind")


def test_the_sandbox_is_saved_with_the_run_and_read_back(tmp_path):
    sb = _sandbox(masked=("/x",))
    sb.save(tmp_path / "confine.json")
    assert Sandbox.load(tmp_path / "confine.json") == sb
    assert (tmp_path / "confine.json").stat().st_mode & 0o077 == 0


def test_the_environment_keeps_ansible_and_drops_the_rest():
    env = confine.environment({"ANSIBLE_ROLES_PATH": "/r", "AWX_ISOLATED_DATA_DIR": "/a", "RUNNER_OMIT_EVENTS": "False",
                               "PATH": "/usr/bin", "LC_ALL": "C.UTF-8", "LABCTL_STATE_DIR": "/var/lib/labctl",
                               "SSH_AUTH_SOCK": "/run/agent", "GITHUB_TOKEN": "t", "HOME": "/root"})
    assert env == {"ANSIBLE_ROLES_PATH": "/r", "AWX_ISOLATED_DATA_DIR": "/a", "RUNNER_OMIT_EVENTS": "False",
                   "PATH": "/usr/bin", "LC_ALL": "C.UTF-8", "HOME": confine.HOME, "TMPDIR": "/tmp"}


def test_without_bwrap_no_playbook_runs(tmp_path, monkeypatch):
    """No silent fallback: the run stops before ansible-runner is called, naming the package."""
    import ansible_runner

    from labctl.faults.playbook import run_playbook

    monkeypatch.setattr(confine, "BWRAP", "labctl-test-no-such-bwrap")
    monkeypatch.setattr(ansible_runner, "run", lambda **_kw: pytest.fail("ran without the sandbox"))
    book = tmp_path / "p.yml"
    book.write_text("- hosts: seat\n  tasks: []\n")
    with pytest.raises(HostError) as e:
        run_playbook(playbook=book, domain="labctl-ws", libvirt_uri="qemu:///system", extravars={},
                     run_dir=tmp_path / "run")
    assert "bwrap" in e.value.message and "apt-get install bubblewrap" in e.value.hint


def test_a_remote_libvirt_uri_is_refused(tmp_path):
    with pytest.raises(HostError, match="local socket"):
        confine.sandbox_for(executable=shutil.which("true") or "/bin/true", read_only=(), writable=(tmp_path,),
                            libvirt_uri="qemu+ssh://host/system")


BOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: harmless
      ansible.builtin.command: cat {{ playbook_dir }}/visible.txt
    - name: whoami
      ansible.builtin.command: id -u
    - name: environment
      ansible.builtin.command: env
    - name: read shadow
      ansible.builtin.command: cat /etc/shadow
      ignore_errors: true
    - name: read state secret
      ansible.builtin.command: cat {{ secret_path }}
      ignore_errors: true
    - name: slurp state secret
      ansible.builtin.slurp: {src: "{{ secret_path }}"}
      ignore_errors: true
    - name: lookup state secret
      ansible.builtin.debug: {msg: "{{ lookup('ansible.builtin.file', secret_path) }}"}
      ignore_errors: true
    - name: list root
      ansible.builtin.command: ls /root
      ignore_errors: true
    - name: read runner command file
      ansible.builtin.shell: cat {{ run_dir }}/artifacts/*/command | grep .
      ignore_errors: true
    - name: write recipe
      ansible.builtin.command: touch {{ playbook_dir }}/written
      ignore_errors: true
    - name: host loopback
      ansible.builtin.command: python3 -c "import socket; socket.create_connection(('127.0.0.1', {{ port }}), 3)"
      ignore_errors: true
"""

ATTACKS = ("read shadow", "read state secret", "slurp state secret", "lookup state secret", "list root",
           "read runner command file", "write recipe", "host loopback")


def test_a_confined_playbook_cannot_read_the_hosts_secrets(bwrap, tmp_path, monkeypatch):
    from labctl.faults.playbook import run_confined

    token = secrets.token_hex(16)
    state = tmp_path / "state"  # a stand-in for the lab's state dir
    (state / "runs").mkdir(parents=True)
    secret = state / "instructor.secret"
    secret.write_text(token)
    recipe = tmp_path / "recipe"
    recipe.mkdir()
    (recipe / "visible.txt").write_text("the recipe's own file\n")
    (recipe / "book.yml").write_text(BOOK)
    run_dir = state / "runs" / "r1"
    monkeypatch.setenv("LABCTL_TEST_SECRET", token)  # labctl's environment stays outside too
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    events: list[dict] = []
    try:
        res = run_confined(playbook=recipe / "book.yml",
                           inventory={"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                                      "ansible_python_interpreter": "/usr/bin/python3"}}}},
                           extravars={"secret_path": str(secret), "run_dir": str(run_dir),
                                      "port": listener.getsockname()[1]},
                           run_dir=run_dir, recipe_dir=recipe, libvirt_uri="qemu:///system", on_event=events.append)
    finally:
        listener.close()
    outcome = {e["event_data"]["task"]: (e["event"], e["event_data"].get("res", {}))
               for e in events if e.get("event") in ("runner_on_ok", "runner_on_failed")}
    assert res.ok, res.summary()  # the attacks are ignore_errors; everything else must work
    assert outcome["harmless"][0] == "runner_on_ok" and outcome["harmless"][1]["stdout"] == "the recipe's own file"
    assert outcome["whoami"][1]["stdout"] == "65534"
    assert "LABCTL_TEST_SECRET" not in outcome["environment"][1]["stdout"]
    for task in ATTACKS:
        assert outcome[task][0] == "runner_on_failed", f"{task} succeeded inside the sandbox: {outcome[task][1]}"
    assert not (recipe / "written").exists()
    # ansible-runner's own record of labctl's environment (root-only, never shown to the playbook) aside:
    leaks = [p for p in run_dir.rglob("*")
             if p.is_file() and p.name != "command" and token in p.read_text(errors="replace")]
    assert leaks == [], f"the secret reached the run's artefacts: {leaks}"
    # The control: outside the sandbox, the same secret is there to be read.
    assert secret.read_text() == token


def test_ansible_playbook_starts_through_the_shim(bwrap, tmp_path):
    from labctl.faults.playbook import _ansible_bin

    sb = confine.sandbox_for(executable=_ansible_bin("ansible-playbook"), read_only=(), writable=(tmp_path,))
    shim = confine.install(sb, tmp_path)
    proc = subprocess.run([str(shim), "--version"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ansible-playbook [core ")
    assert f"{confine.HOME}/.ansible" in proc.stdout, "HOME is the sandbox's own"


def test_the_doctor_reports_the_sandbox(bwrap, monkeypatch):
    from labctl.doctor import _sandbox

    assert _sandbox().ok, _sandbox().detail
    monkeypatch.setattr(confine, "BWRAP", "labctl-test-no-such-bwrap")
    missing = _sandbox()
    assert not missing.ok and missing.fix == "apt-get install bubblewrap"
