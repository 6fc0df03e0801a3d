"""A recipe reaches its seat, never the lab host (issue 19): each refused form, and the catalogue passes.

Each hostile recipe is the skeleton (labctl/faults/skeleton) with one playbook replaced;
the loader (Catalog.get) and `fault lint` refuse it naming the file, the play and the task.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from labctl.errors import ConfigError
from labctl.faults.hostside import ROLES_DIR, scan_folder
from labctl.faults.lint import lint_fault
from labctl.faults.manifest import Catalog
from labctl.faults.scaffold import scaffold

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_IDS = Catalog(ROOT / "faults").ids()


def _play(tasks: str, *, play: str = "", hosts: str = "all") -> str:
    return textwrap.dedent("""\
        ---
        - name: Bad play
          hosts: {hosts}
          gather_facts: false
        {play}  tasks:
        {tasks}""").format(hosts=hosts, play=textwrap.indent(textwrap.dedent(play), "  "),
                           tasks=textwrap.indent(textwrap.dedent(tasks), "    "))


def _task(body: str, name: str = "Bad task") -> str:
    return f"- name: {name}\n" + textwrap.indent(textwrap.dedent(body), "  ")


def _recipe(tmp_path: Path, inject: str, files: dict[str, str] | None = None) -> Path:
    folder = scaffold(tmp_path, "hostile", ["T1-HW"])
    (folder / "inject.yml").write_text(inject, encoding="utf-8")
    for rel, text in (files or {}).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    return folder


# (case id, inject.yml, extra files, words the message holds besides file/play/task)
CASES = [
    ("delegate-localhost", _play(_task("ansible.builtin.command: id\ndelegate_to: localhost\n")), {},
     ["delegate_to", "localhost"]),
    ("delegate-loopback", _play(_task("ansible.builtin.command: id\ndelegate_to: 127.0.0.1\n")), {},
     ["delegate_to", "127.0.0.1"]),
    ("delegate-anywhere", _play(_task("ansible.builtin.command: id\ndelegate_to: company\n")), {},
     ["delegate_to", "company"]),
    ("run-once-delegated",
     _play(_task("ansible.builtin.shell: id\nrun_once: true\ndelegate_to: localhost\n")), {}, ["delegate_to"]),
    ("local-action", _play(_task("local_action: ansible.builtin.command id\n")), {}, ["local_action"]),
    ("connection-local-task", _play(_task("ansible.builtin.command: id\nconnection: local\n")), {},
     ["connection", "local"]),
    ("connection-var", _play(_task("ansible.builtin.command: id\nvars:\n  ansible_connection: local\n")), {},
     ["ansible_connection"]),
    ("connection-set-fact", _play(_task("ansible.builtin.set_fact:\n  ansible_host: 10.0.0.1\n")), {},
     ["ansible_host"]),
    ("lookup-pipe", _play(_task("ansible.builtin.debug:\n  msg: \"{{ lookup('pipe', 'id') }}\"\n")), {},
     ["lookup('pipe')"]),
    ("lookup-file", _play(_task("ansible.builtin.raw: echo {{ lookup('ansible.builtin.file', '/etc/shadow') }}\n")),
     {}, ["lookup('ansible.builtin.file')"]),
    ("query-fileglob", _play(_task("ansible.builtin.debug:\n  msg: \"{{ query('fileglob', '/root/*') }}\"\n")), {},
     ["query('fileglob')"]),
    ("q-env", _play(_task("ansible.builtin.debug:\n  msg: \"{{ q('env', 'HOME') }}\"\n")), {}, ["q('env')"]),
    ("lookup-in-when", _play(_task("ansible.builtin.command: id\nwhen: lookup('password', '/tmp/x') != ''\n")), {},
     ["lookup('password')"]),
    ("lookup-dynamic-name", _play(_task("ansible.builtin.debug:\n  msg: \"{{ lookup(kind, 'x') }}\"\n")), {},
     ["not a literal"]),
    ("with-file", _play(_task("ansible.builtin.debug:\n  msg: \"{{ item }}\"\nwith_file: [/etc/passwd]\n")), {},
     ["with_file"]),
    ("with-fileglob", _play(_task("ansible.builtin.debug:\n  msg: x\nwith_fileglob: [/root/*]\n")), {},
     ["with_fileglob"]),
    ("with-lines", _play(_task("ansible.builtin.debug:\n  msg: x\nwith_lines: [cat /etc/shadow]\n")), {},
     ["with_lines"]),
    ("with-pipe", _play(_task("ansible.builtin.debug:\n  msg: x\nwith_pipe: [id]\n")), {}, ["with_pipe"]),
    ("filter-expandvars", _play(_task("ansible.builtin.debug:\n  msg: \"{{ '$HOME' | expandvars }}\"\n")), {},
     ["expandvars"]),
    ("jinja-internals", _play(_task("ansible.builtin.debug:\n  msg: \"{{ ''.__class__.__mro__ }}\"\n")), {},
     ["Python internals"]),
    ("copy-src-host-file", _play(_task("ansible.builtin.copy:\n  src: /etc/shadow\n  dest: /tmp/x\n")), {},
     ["copy src", "/etc/shadow", "outside the recipe folder"]),
    ("template-src-climbs", _play(_task("ansible.builtin.template:\n  src: ../../x.j2\n  dest: /tmp/x\n")), {},
     ["template src", "outside the recipe folder"]),
    ("copy-src-templated", _play(_task("ansible.builtin.copy:\n  src: \"{{ where }}\"\n  dest: /tmp/x\n")), {},
     ["copy src", "named literally"]),
    ("copy-free-form", _play(_task("ansible.builtin.copy: src=/root/.ssh/id_rsa dest=/tmp/k\n")), {},
     ["copy src", "/root/.ssh/id_rsa"]),
    ("script-outside", _play(_task("ansible.builtin.script: /usr/local/bin/x.sh arg\n")), {},
     ["script cmd", "/usr/local/bin/x.sh"]),
    ("fetch", _play(_task("ansible.builtin.fetch:\n  src: /etc/shadow\n  dest: /tmp/\n")), {}, ["fetch"]),
    ("action-fetch", _play(_task("action: fetch src=/etc/shadow dest=/tmp/\n")), {}, ["fetch"]),
    ("add-host", _play(_task("ansible.builtin.add_host:\n  name: lab\n  ansible_connection: local\n")), {},
     ["add_host"]),
    ("synchronize", _play(_task("ansible.posix.synchronize:\n  src: /srv\n  dest: /tmp\n")), {},
     ["synchronize"]),
    ("include-vars-outside", _play(_task("ansible.builtin.include_vars: /etc/labctl/secrets.yml\n")), {},
     ["include_vars", "outside the recipe folder"]),
    ("include-tasks-outside", _play(_task("ansible.builtin.include_tasks: ../../elsewhere.yml\n")), {},
     ["include_tasks", "outside the recipe folder"]),
    ("include-role-unknown", _play(_task("ansible.builtin.include_role:\n  name: ../evil\n")), {},
     ["role '../evil'"]),
    ("block-delegation",
     _play("- name: Outer block\n  block:\n" + textwrap.indent(
         _task("ansible.builtin.command: id\ndelegate_to: localhost\n"), "    ")), {}, ["delegate_to"]),
]


@pytest.mark.parametrize("inject,files,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_hostile_form_is_refused_naming_file_play_and_task(tmp_path, inject, files, words):
    folder = _recipe(tmp_path, inject, files)
    with pytest.raises(ConfigError) as err:
        Catalog(tmp_path).get("hostile")
    msg = err.value.message
    for word in ["hostile/inject.yml", "play 1 'Bad play'", "task 'Bad task'", *words]:
        assert word in msg, f"{word!r} not in: {msg}"
    problems = lint_fault(folder)
    assert problems and all("hostile/inject.yml" in p for p in problems), problems


PLAY_CASES = [
    ("hosts-localhost", _play(_task("ansible.builtin.command: id\n"), hosts="localhost"), ["hosts: 'localhost'"]),
    ("hosts-with-loopback", _play(_task("ansible.builtin.command: id\n"), hosts="all:127.0.0.1"),
     ["hosts: 'all:127.0.0.1'"]),
    ("hosts-templated", _play(_task("ansible.builtin.command: id\n"), hosts="\"{{ target }}\""), ["hosts:"]),
    ("connection-local-play", _play(_task("ansible.builtin.command: id\n"), play="connection: local\n"),
     ["connection", "local"]),
    ("vars-files-outside", _play(_task("ansible.builtin.command: id\n"), play="vars_files: [/etc/labctl/x.yml]\n"),
     ["vars_files[0]", "outside the recipe folder"]),
    ("import-playbook-outside", "---\n- name: Bad play\n  ansible.builtin.import_playbook: /tmp/x.yml\n",
     ["import_playbook", "outside the recipe folder"]),
]


@pytest.mark.parametrize("inject,words", [c[1:] for c in PLAY_CASES], ids=[c[0] for c in PLAY_CASES])
def test_each_hostile_play_is_refused_naming_file_and_play(tmp_path, inject, words):
    _recipe(tmp_path, inject)
    with pytest.raises(ConfigError) as err:
        Catalog(tmp_path).get("hostile")
    for word in ["hostile/inject.yml", "play 1 'Bad play'", *words]:
        assert word in err.value.message, f"{word!r} not in: {err.value.message}"


def test_an_included_task_file_is_scanned_and_named(tmp_path):
    inject = _play(_task("ansible.builtin.include_tasks: tasks/more.yml\n", name="Include"))
    _recipe(tmp_path, inject, {"tasks/more.yml": _task("ansible.builtin.command: id\ndelegate_to: localhost\n",
                                                       name="Hidden")})
    with pytest.raises(ConfigError) as err:
        Catalog(tmp_path).get("hostile")
    msg = err.value.message
    assert "hostile/tasks/more.yml" in msg and "play 1 'Bad play'" in msg and "task 'Hidden'" in msg, msg


def test_a_role_of_the_recipe_is_scanned_and_named(tmp_path):
    inject = "---\n- name: Bad play\n  hosts: seat\n  roles:\n    - helper\n"
    _recipe(tmp_path, inject, {"roles/helper/tasks/main.yml": _task("ansible.builtin.fetch:\n  src: /etc/x\n"
                                                                   "  dest: /tmp/\n", name="Grab")})
    with pytest.raises(ConfigError) as err:
        Catalog(tmp_path).get("hostile")
    msg = err.value.message
    assert "hostile/roles/helper/tasks/main.yml" in msg and "play 1 'Bad play'" in msg and "task 'Grab'" in msg
    assert "fetch" in msg


def test_a_template_reading_the_host_is_refused(tmp_path):
    inject = _play(_task("ansible.builtin.template:\n  src: motd.j2\n  dest: /etc/motd\n"))
    _recipe(tmp_path, inject, {"templates/motd.j2": "{{ lookup('file', '/etc/shadow') }}\n"})
    with pytest.raises(ConfigError) as err:
        Catalog(tmp_path).get("hostile")
    assert "hostile/templates/motd.j2" in err.value.message and "lookup('file')" in err.value.message


def test_a_repair_playbook_is_scanned_too(tmp_path):
    folder = scaffold(tmp_path, "hostile", ["T1-HW"])
    (folder / "repairs" / "harmful.yml").write_text(
        _play(_task("ansible.builtin.command: id\ndelegate_to: localhost\n")), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        Catalog(tmp_path).get("hostile")
    assert "hostile/repairs/harmful.yml" in err.value.message and "task 'Bad task'" in err.value.message


def test_a_symlink_leaving_the_recipe_is_refused(tmp_path):
    folder = scaffold(tmp_path, "hostile", ["T1-HW"])
    os.symlink("/etc", folder / "files" / "etc")
    with pytest.raises(ConfigError) as err:
        Catalog(tmp_path).get("hostile")
    assert "hostile/files/etc" in err.value.message and "symlink" in err.value.message


def test_a_script_through_a_symlink_out_of_the_recipe_is_refused(tmp_path):
    folder = scaffold(tmp_path, "hostile", ["T1-HW"])
    (folder / "files" / "inject.sh").unlink()
    os.symlink("/bin/true", folder / "files" / "inject.sh")
    problems = [str(f) for f in scan_folder(folder)]
    assert any("hostile/files/inject.sh" in p and "symlink" in p for p in problems), problems
    assert any("hostile/inject.yml" in p and "task 'Run the inject script'" in p for p in problems), problems


@pytest.mark.parametrize("name", ["ansible.cfg", "filter_plugins/evil.py", "library/evil.py", "group_vars/all.yml"])
def test_plugins_and_settings_beside_the_playbooks_are_refused(tmp_path, name):
    folder = scaffold(tmp_path, "hostile", ["T1-HW"])
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("x = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        Catalog(tmp_path).get("hostile")
    assert name.split("/")[0] in err.value.message


def test_lint_lists_every_finding_the_loader_reports_the_first(tmp_path):
    inject = _play(_task("ansible.builtin.command: id\ndelegate_to: localhost\n", name="One")
                   + _task("ansible.builtin.fetch:\n  src: /etc/x\n  dest: /tmp/\n", name="Two"))
    folder = _recipe(tmp_path, inject)
    problems = lint_fault(folder)
    assert len(problems) == 2 and "task 'One'" in problems[0] and "task 'Two'" in problems[1], problems
    with pytest.raises(ConfigError) as err:
        Catalog(tmp_path).get("hostile")
    assert "task 'One'" in err.value.message and "and 1 more" in err.value.message


def test_what_a_recipe_may_do_passes(tmp_path):
    """Hosts of the inventory, its own files (also ../files from repairs/), pure lookups, shared roles."""
    inject = textwrap.dedent("""\
        ---
        - name: Fine play
          hosts: seat
          gather_facts: false
          vars_files: [vars/extra.yml]
          roles:
            - company_online
          tasks:
            - name: Copy a file of the recipe
              ansible.builtin.copy:
                src: marker.txt
                dest: /tmp/marker.txt
                mode: "0644"
            - name: Copy a file already on the seat
              ansible.builtin.copy:
                src: /etc/hostname
                dest: /tmp/hostname
                remote_src: true
                mode: "0644"
            - name: Loop with pure lookups
              ansible.builtin.debug:
                msg: "{{ item }} {{ lookup('items', [1, 2]) }} {{ query('sequence', 'start=1 end=3') }}"
              loop: [1, 2]
            - name: Included tasks of the recipe
              ansible.builtin.include_tasks: tasks/more.yml
        """)
    folder = _recipe(tmp_path, inject, {"files/marker.txt": "x\n", "vars/extra.yml": "colour: blue\n",
                                        "tasks/more.yml": _task("ansible.builtin.raw: id\n", name="More")})
    (folder / "repairs" / "harmful.yml").write_text(
        _play(_task("ansible.builtin.script: ../files/fix.sh arg\n")), encoding="utf-8")
    assert [str(f) for f in scan_folder(folder)] == []
    assert Catalog(tmp_path).get("hostile").id == "hostile"


@pytest.mark.parametrize("fault_id", SHIPPED_IDS)
def test_every_shipped_recipe_reaches_only_its_seat(fault_id):
    """The shipped catalogue (and the roles of ansible/roles it uses) passes the host-side rules."""
    assert [str(f) for f in scan_folder(ROOT / "faults" / fault_id)] == []


def test_the_shared_roles_are_scanned_when_used():
    from labctl.faults.hostside import _Scan

    scan = _Scan(ROOT / "faults" / "broken-vpn", ROLES_DIR)
    scan.playbook(ROOT / "faults" / "broken-vpn" / "prepare.yml")
    assert (ROLES_DIR / "company_online").resolve() in scan.seen and scan.findings == []


def test_the_skeleton_and_test_recipes_pass():
    for folder in [ROOT / "labctl" / "faults" / "skeleton", *sorted((ROOT / "tests" / "data" / "faults").iterdir())]:
        assert [str(f) for f in scan_folder(folder)] == [], folder


def test_a_uri_call_without_a_body_file_passes_and_with_a_host_file_is_refused(tmp_path):
    ok = _play(_task("ansible.builtin.uri:\n  url: https://intranet.corp.lab/\n", name="Ask"))
    folder = _recipe(tmp_path, ok)
    assert [str(f) for f in scan_folder(folder)] == []
    (folder / "inject.yml").write_text(_play(_task("ansible.builtin.uri:\n  url: https://x/\n  src: /etc/shadow\n")),
                                       encoding="utf-8")
    assert any("uri src" in str(f) and "/etc/shadow" in str(f) for f in scan_folder(folder))
