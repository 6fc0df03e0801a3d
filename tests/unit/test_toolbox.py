"""The checks' own tools (labctl/guest/toolbox.py) and the image-programs rule (issue 15, point 4).

Here, on the host: the kinds' scripts give the same verdicts under the host's static busybox
(what a check run brings into the guest) as under the GNU tools; a whole check run works
under busybox and leaves the busybox it was given for the next run; the agent's staging
proves the copy unchanged at every run. tests/vm/test_tamper_vm.py does it on a real seat with liars in place.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from labctl.errors import GuestError, HostError
from labctl.faults import checks as C
from labctl.faults.checks import programs as P
from labctl.faults.manifest import CheckSpec
from labctl.guest import CommandResult, programs, toolbox
from labctl.guest.agent import AgentChannel


@pytest.fixture(scope="module")
def busybox() -> str:
    path = str(toolbox.host_busybox_path())
    if not os.path.exists(path):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing in CI (scripts/lib.sh HOST_PACKAGES installs busybox-static)",
                        pytrace=False)
        pytest.skip("busybox-static is not installed")
    return path


def _judge(kind: str, spec: dict, argv: list[str]) -> tuple[str, str]:
    script = C._plan(CheckSpec("c", "security", "t", kind, {}), spec).script
    p = subprocess.run([*argv, script], capture_output=True, text=True, timeout=120)
    res = CommandResult(tuple(argv), p.returncode, p.stdout, p.stderr, 0.0, "here")
    r = C._judge(CheckSpec("c", "security", "t", kind, {}), spec, res, 90.0, "here", 0.0)
    return r.status, r.observed


def test_the_host_busybox_is_static_and_a_dynamic_program_is_refused(busybox, tmp_path, monkeypatch):
    assert toolbox.is_static_elf(toolbox.host_busybox())
    assert not toolbox.is_static_elf(Path(shutil.which("ls")).read_bytes())
    assert not toolbox.is_static_elf(b"#!/bin/sh\necho hi\n")
    fake = tmp_path / "busybox"
    fake.write_bytes(Path(shutil.which("ls")).read_bytes())
    monkeypatch.setenv("LABCTL_BUSYBOX", str(fake))
    with pytest.raises(HostError) as e:
        toolbox.host_busybox()
    assert "not a statically linked program" in e.value.message and "busybox-static" in e.value.hint
    monkeypatch.setenv("LABCTL_BUSYBOX", str(tmp_path / "absent"))
    with pytest.raises(HostError):
        toolbox.host_busybox()


@pytest.mark.parametrize("kind,spec", [
    ("file", {"path": "/etc/passwd", "owner": "root", "mode": "0644"}),
    ("file", {"path": "/etc", "type": "directory"}),
    ("file", {"path": "/nonexistent-x", "exists": False}),
    ("files", {"paths": ["/etc/passwd", "/etc/group"], "owner": "root"}),
    ("free_space", {"path": "/", "min_mib": 1}),
    ("free_space", {"path": "/", "min_mib": 10**9}),
    ("not_growing", {"path": "/etc", "seconds": 1}),
    ("groups", {"user": "root", "has": ["root"]}),
    ("groups", {"user": "root", "lacks": ["root"]}),
    ("pam_faillock", {}),
])
def test_kind_scripts_judge_the_same_under_busybox_and_gnu(busybox, kind, spec):
    gnu = _judge(kind, spec, ["/bin/sh", "-c"])
    ours = _judge(kind, spec, [busybox, "sh", "-c"])
    assert gnu[0] != "unknown", gnu
    assert ours[0] == gnu[0], (gnu, ours)
    if kind not in ("free_space", "not_growing"):  # their figures move between two looks
        assert ours[1] == gnu[1]


def test_the_protected_snapshot_reads_the_same_under_busybox_and_gnu(busybox, tmp_path):
    (tmp_path / "a b").mkdir()
    (tmp_path / "a b" / "report v2.md").write_text("x")
    (tmp_path / "notes.txt").write_text("y")
    (tmp_path / "notes.txt").chmod(0o640)
    script = C.snapshot_script([str(tmp_path)])
    gnu = C.parse_snapshot(subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True).stdout)
    ours = C.parse_snapshot(subprocess.run([busybox, "sh", "-c", script], capture_output=True, text=True).stdout)
    assert ours == gnu and set(gnu) == {str(tmp_path / "a b" / "report v2.md"), str(tmp_path / "notes.txt")}
    assert gnu[str(tmp_path / "notes.txt")]["mode"] == "640"


def test_a_record_taken_with_find_printf_still_reads():
    old = "M\t/home/alex/Documents/a.md\talex\talex\t644\nS " + "0" * 64 + "  /home/alex/Documents/a.md\nEND\n"
    assert C.parse_snapshot(old) == {"/home/alex/Documents/a.md": {"owner": "alex", "group": "alex", "mode": "644",
                                                                   "sha256": "0" * 64}}


def test_a_whole_check_run_works_under_busybox_and_keeps_its_busybox(busybox, tmp_path):
    staged = tmp_path / "busybox.lc-test"
    shutil.copy(busybox, staged)
    plans = [C._plan(CheckSpec("a", "security", "t", "file", {}), {"path": "/etc/passwd", "owner": "root"}),
             C._plan(CheckSpec("b", "functional", "t", "command", {}), {"run": "echo hi; exit 3", "rc": 3}),
             C._plan(CheckSpec("c", "functional", "t", "command", {}), {"run": "sleep 5", "timeout": 1}),
             C._plan(CheckSpec("d", "functional", "t", "command", {}), {"run": 'echo "$PATH"'})]
    p = subprocess.run([str(staged), "sh", "-c", C.batch_script(plans, tools=str(staged))],
                       capture_output=True, text=True, timeout=60)
    got = C.parse_batch(p.stdout, plans)
    assert set(got) == {0, 1, 2, 3}, p.stderr
    assert "owner=root" in got[0][0].stdout
    assert got[1][0].rc == 3 and got[1][0].stdout == "hi\n"
    assert got[2][0].timed_out, got[2][0]  # busybox's timeout: killed at the limit, told as a time-out
    # A recipe's commands find what recipes install in /usr/local, after the image's programs.
    assert got[3][0].stdout.strip().split(":")[-2:] == ["/usr/local/sbin", "/usr/local/bin"]
    assert "/usr/local" not in C.batch_script(plans, tools="/x").split("\n", 1)[0]
    assert staged.read_bytes() == Path(busybox).read_bytes(), "the tools stay for the next run"


def test_the_programs_listing_reads_under_busybox_and_a_rewrite_is_caught(busybox, tmp_path, monkeypatch):
    script = programs.walk_script()
    listing = programs.parse_listing(subprocess.run([busybox, "sh", "-c", script], capture_output=True,
                                                    text=True, timeout=300).stdout)
    assert "/usr/bin/ls" in listing and listing["@@preload"]
    assert programs.load(programs.dump(listing)) == listing

    def verdict(now: dict[str, str]):
        text = "\n".join(f"755 {v} regular file|{k}" for k, v in now.items() if k != "@@preload")
        raw = f"@@preload {now['@@preload']}\n{text}\n@@rc 0\n"
        import gzip

        out = base64.b64encode(gzip.compress(raw.encode())).decode() + "\n@@end\n"
        res = CommandResult(("sh",), 0, out, "", 0.0, "here")
        return P.programs_verdict({"record": listing}, res)

    assert verdict(dict(listing))[0] is True
    added = {**listing, "/usr/bin/technicians-tool": "1 2 3 4"}
    assert verdict(added)[0] is True, "a program a technician adds is fine"
    removed = {k: v for k, v in listing.items() if k != "/usr/bin/ls"}
    assert verdict(removed)[0] is True, "an uninstalled program is fine"
    ino, size, mtime, ctime = listing["/usr/bin/ls"].split()
    rewritten = {**listing, "/usr/bin/ls": f"{ino} {size} {mtime} {int(ctime) + 1}"}
    ok, observed, _ = verdict(rewritten)
    assert not ok and "1 replaced or rewritten: /usr/bin/ls" in observed
    preload = {**listing, "@@preload": "5 20 1 1"}
    ok, observed, _ = verdict(preload)
    assert not ok and "/etc/ld.so.preload appeared" in observed
    with pytest.raises(C.NoVerdict):
        P.programs_verdict({"record": None}, CommandResult(("sh",), 0, "", "", 0.0, "here"))


class _FakeAgent(AgentChannel):
    """A guest agent in memory: files by path. ``tamper``: the guest's ``chmod``/``mv`` rewrites
    what it is given (a liar); ``place_ok``: what the guest's ``stat`` says of the kept folder."""

    def __init__(self, tamper: bool = False):
        super().__init__(domain=type("Dom", (), {"name": lambda self: "labctl-fake"})())
        self.files: dict[str, bytearray] = {}
        self.handles: dict[int, str] = {}
        self.writes = 0
        self.reads = 0
        self.tamper = tamper
        self.place_ok = True
        self.removed: list[str] = []

    def command(self, execute, arguments=None, timeout=10):
        a = arguments or {}
        if execute == "guest-file-open":
            h = len(self.handles) + 1
            self.handles[h] = a["path"]
            if a["mode"] == "w":
                self.files[a["path"]] = bytearray()
            elif a["path"] not in self.files:
                raise GuestError(f"no such file {a['path']}")
            self._pos = 0
            return h
        if execute == "guest-file-write":
            self.writes += 1
            chunk = base64.b64decode(a["buf-b64"])
            assert len(chunk) <= toolbox.CHUNK
            self.files[self.handles[a["handle"]]] += chunk
            return {"count": len(chunk)}
        if execute == "guest-file-read":
            self.reads += 1
            data = self.files[self.handles[a["handle"]]]
            part = bytes(data[self._pos:self._pos + a["count"]])
            self._pos += len(part)
            return {"count": len(part), "buf-b64": base64.b64encode(part).decode(), "eof": self._pos >= len(data)}
        if execute == "guest-file-close":
            return {}
        raise AssertionError(execute)

    def _exec(self, spawn, argv, *, input, timeout):
        rc = 0
        if argv[:2] == ("sh", "tools-in-place?"):
            rc = 0 if self.place_ok and toolbox.KEPT_TOOLS in self.files else 1
        elif argv[:2] == ("sh", "tools-in-place"):
            src, dst = spawn[-3], spawn[-2]
            self.files.pop(dst, None)
            self.files[dst] = self.files.pop(src)
            if self.tamper:
                self.files[dst][100:104] = b"EVIL"
        elif spawn[0] == "/bin/rm":
            self.removed.append(spawn[-1])
            self.files.pop(spawn[-1], None)
        return CommandResult(tuple(argv), rc, "", "", 0.0, "agent")


def test_the_agent_writes_the_tools_once_and_reads_them_back_at_every_run():
    data = os.urandom(toolbox.CHUNK * 3 + 17)
    agent = _FakeAgent()
    path = agent.stage_tools(lambda: data)
    assert path == toolbox.KEPT_TOOLS == "/dev/shm/.labctl-tools/busybox" and bytes(agent.files[path]) == data
    assert agent.writes == 4 and list(agent.files) == [path], "written under a fresh name, then moved in place"
    reads = agent.reads
    assert agent.stage_tools(lambda: data) == path
    assert agent.writes == 4 and agent.reads > reads, "the next run reads the kept copy back, writes nothing"


def test_a_kept_copy_that_changed_or_whose_folder_is_not_roots_is_written_again():
    data = os.urandom(5000)
    agent = _FakeAgent()
    path = agent.stage_tools(lambda: data)
    agent.files[path][10:14] = b"LIAR"  # root in the guest rewrote the kept busybox
    assert agent.stage_tools(lambda: data) == path and bytes(agent.files[path]) == data
    assert agent.writes == 2
    agent.place_ok = False  # a user made the folder (or the file) before labctl did
    assert agent.stage_tools(lambda: data) == path and agent.writes == 3
    agent.files.clear()  # a restore to a state saved before the tools came
    assert agent.stage_tools(lambda: data) == path and agent.writes == 4


def test_tools_changed_in_the_guest_are_never_run():
    agent = _FakeAgent(tamper=True)
    with pytest.raises(GuestError) as e:
        agent.stage_tools(lambda: os.urandom(5000))
    assert "changed in the guest" in e.value.message
    assert agent.removed == [toolbox.KEPT_TOOLS] and not agent.files


def test_a_check_run_whose_tools_cannot_come_is_unknown_never_the_guests_programs(monkeypatch):
    from labctl.faults.draw import draw
    from labctl.faults.manifest import load_fault

    f = load_fault(Path(__file__).resolve().parents[2] / "faults" / "disk-full")
    agent = _FakeAgent(tamper=True)
    report = C.run_checks(agent, f, draw(f, 1, "trash"), snapshot={})
    assert report.status == "unknown" and {r.status for r in report.results} == {"unknown"}
    assert all("changed in the guest" in r.observed for r in report.results)


# -- the baseline's one walk (kind fs_walk) ---------------------------------------------------

def _walk_answer(lines: list[str], rc: int = 0, more: int = 0) -> CommandResult:
    """The walk's answer (labctl/guest/programs.py) for lines written "<mode> <type>|<path>"."""
    import gzip
    import re

    full = [re.sub(r"^([0-7]+) ([a-z ]+)\|", r"\1 1 2 3 4 \2|", line) for line in lines]
    raw = "\n".join(["@@preload none", *full, f"@@rc {rc}"] + ([f"@@more {more}"] if more else [])) + "\n"
    out = base64.b64encode(gzip.compress(raw.encode())).decode() + "\n@@end\n"
    return CommandResult(("sh",), 0, out, "", 0.0, "here")


WW = {"report": "world_writable", "dirs": ["/etc", "/home"]}
SUID = {"report": "setuid", "allow": "/usr/bin/(su|sudo)"}


def test_one_walk_answers_both_baseline_rules():
    from labctl.faults.checks.walk import walk_verdict

    healthy = _walk_answer(["4755 regular file|/usr/bin/su", "4755 regular file|/usr/bin/sudo",
                            "1777 directory|/tmp", "777 directory|/var/tmp/cache"])  # /var/tmp: not asked
    assert walk_verdict(WW, healthy)[:2] == (True, "none found")
    assert walk_verdict(SUID, healthy)[:2] == (True, "none found")
    harmed = _walk_answer(["4755 regular file|/usr/bin/su", "4755 regular file|/usr/bin/vim.basic",
                           "666 regular empty file|/etc/shadow", "2755 directory|/home/alex/share",
                           "find: /proc/1/x: No such file or directory"], rc=1)
    ok, observed, _ = walk_verdict(WW, harmed)
    assert not ok and observed == "1 found: /etc/shadow"
    ok, observed, _ = walk_verdict(SUID, harmed)
    assert not ok and observed == "1 found: /usr/bin/vim.basic", "a set-gid folder is not a program"


def test_a_walk_cut_short_or_failed_is_no_verdict_and_too_many_is_no_pass():
    from labctl.faults.checks.walk import walk_verdict

    with pytest.raises(C.NoVerdict):
        walk_verdict(WW, CommandResult(("sh",), 0, "777 directory|/etc/x\n", "", 0.0, "here"))
    cut = _walk_answer(["777 directory|/etc/x"]).stdout.splitlines()[0][:-8] + "\n@@end\n"
    with pytest.raises(C.NoVerdict):
        walk_verdict(WW, CommandResult(("sh",), 0, cut, "", 0.0, "here"))
    with pytest.raises(C.NoVerdict):
        walk_verdict(WW, _walk_answer(["find: /: Input/output error"], rc=1))
    with pytest.raises(C.NoVerdict):
        walk_verdict(SUID, _walk_answer(["777 directory|/srv/x"], more=40000))
    assert walk_verdict(WW, _walk_answer(["777 directory|/home/alex"], more=40000))[0] is False
    with pytest.raises(C.NoVerdict):
        walk_verdict({"report": "nonsense"}, _walk_answer([]))


def test_checks_that_share_a_script_share_one_run(monkeypatch):
    """The two baseline walks run once per check run, and both get their verdict from it."""
    from labctl.faults.draw import draw
    from labctl.faults.manifest import load_fault

    f = load_fault(Path(__file__).resolve().parents[2] / "faults" / "disk-full")
    sent = []

    def fake_batch(chan, plans):
        sent.append(plans)
        return {i: (_walk_answer(["4755 regular file|/usr/bin/su"]) if "find / -xdev" in p.script else
                    CommandResult(("sh",), 125, "", "", 0.0, "x"), 0.0) for i, p in enumerate(plans)}, ""

    monkeypatch.setattr(C, "_run_batch", fake_batch)
    report = C.run_checks(_FakeAgent(), f, draw(f, 1, "trash"), snapshot={})
    walks = [p for p in sent[0] if "find / -xdev" in p.script]
    assert len(walks) == 1
    by_id = {r.id: r for r in report.results}
    assert by_id["baseline-no-world-writable"].status == "pass"
    assert by_id["baseline-no-new-setuid"].status == "pass"


def test_the_walk_runs_under_busybox_and_gnu_alike(busybox, tmp_path):
    from labctl.faults.checks.walk import WALK_SCRIPT, walk_verdict

    (tmp_path / "open").mkdir()
    (tmp_path / "open").chmod(0o777)
    (tmp_path / "prog").write_text("x")
    (tmp_path / "prog").chmod(0o4755)
    (tmp_path / "empty").touch()
    (tmp_path / "empty").chmod(0o666)
    script = WALK_SCRIPT.replace("find / ", f"find {tmp_path} ")
    answers = []
    for argv in (["/bin/sh", "-c"], [busybox, "sh", "-c"]):
        p = subprocess.run([*argv, script], capture_output=True, text=True, timeout=60)
        res = CommandResult(tuple(argv), p.returncode, p.stdout, p.stderr, 0.0, "here")
        answers.append((walk_verdict({"report": "world_writable", "dirs": [str(tmp_path)]}, res),
                        walk_verdict({"report": "setuid"}, res)))
    assert answers[0] == answers[1]
    (ww, suid) = answers[0]
    assert ww[1] == f"2 found: {tmp_path}/empty, {tmp_path}/open"
    assert suid[1] == f"1 found: {tmp_path}/prog"
