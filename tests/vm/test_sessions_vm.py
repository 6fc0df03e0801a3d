"""A class on real seats: one session, three trainees, three seats made in parallel.

Kill `session create` after the first seat exists, finish with `session resume`;
different variants; tickets that name symptoms, not causes; a real repair resolves
as passed, an untouched seat as failed, an escalated level-2 fault is a correct
result; the report lists all three; every seat is destroyed at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.vm

SCENARIO = """\
title: VM test class
mode: remote
language: en
time_limit_min: 60
pool: {faults: [disk-full, licence-expired]}
sla: {P1: 15, P2: 30, P3: 45, P4: 60, P5: 120}
"""


def _env(cfg) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"LABCTL_STATE_DIR": str(cfg.state_dir), "LABCTL_PORT_MIN": str(cfg.port_min),
                "LABCTL_PORT_MAX": str(cfg.port_max), "LABCTL_CONFIG": ""})
    return env


def _progress(db: Path, name: str) -> list[str]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return [r[0] for r in conn.execute("SELECT seats.progress FROM seats JOIN sessions ON sessions.id = "
                                               "seats.session_id WHERE sessions.name = ?", (name,))]
    except sqlite3.Error:
        return []


def test_a_class_from_roster_to_report(lab_cfg, seat_manager, tmp_path):
    from labctl.sessions import Sessions
    from labctl.sessions.report import write_report

    name = f"vmc{secrets.token_hex(2)}"
    scen = tmp_path / "vmclass.yaml"
    scen.write_text(SCENARIO)
    roster = tmp_path / "class.csv"
    roster.write_text("name,email\nAnn Lee,ann@example.org\nBob Roy,\nChloé Dia,\n", encoding="utf-8")
    lib = Sessions(lab_cfg, seats=seat_manager)
    seats = [f"{name}-0{i}" for i in (1, 2, 3)]
    try:
        # labctl killed during creation, once the first seat exists
        proc = subprocess.Popen([sys.executable, "-m", "labctl.cli.main", "session", "create", name,
                                 "--roster", str(roster), "--scenario", str(scen), "--seed", "11", "--parallel", "3"],
                                env=_env(lab_cfg), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        db = lab_cfg.state_dir / "sessions.db"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if any(p != "planned" for p in _progress(db, name)):
                break
            time.sleep(0.5)
        assert proc.poll() is None, proc.stdout.read().decode()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        before = _progress(db, name)
        assert before and before != ["ticket-issued"] * 3, before  # killed with work left

        res = lib.resume(name, parallel=3)
        assert res.complete, res.errors
        assert res.session.state == "open"
        assert [s.progress for s in res.seats] == ["ticket-issued"] * 3
        assert all(s.machine == "running" for s in res.seats)
        assert len({(s.fault, s.variant) for s in res.seats}) == 3, res.seats
        assert set(res.codes) == {"Ann Lee", "Bob Roy", "Chloé Dia"}

        # tickets name the symptom, never the cause (no drawn value, no variant id in the user's words)
        for st in res.seats:
            fault, d = lib.engine.current_draw(st.seat)
            body = lib.ticket(name, st.seat).ticket.body
            leaks = [str(v) for v in [d.variant, *d.params.values()] if isinstance(v, str) and len(v) > 3
                     and str(v).lower() in body.lower()]
            assert not leaks, (st.seat, leaks, body)

        by_fault: dict[str, list[str]] = {}
        for st in res.seats:
            by_fault.setdefault(st.fault, []).append(st.seat)
        escalated = by_fault["licence-expired"][0]
        fixed = (by_fault.get("disk-full") or [s for s in by_fault["licence-expired"] if s != escalated])[0]
        untouched = next(s for s in seats if s not in (fixed, escalated))

        # a real repair, documented, then resolve: passed
        lib.acknowledge(name, fixed, by="Ann")
        lib.note(name, fixed, "diagnosis", "reproduced; found the cause")
        assert lib.engine.fix(fixed).ok
        lib.note(name, fixed, "action", "repaired it the proper way")
        v = lib.resolve(name, fixed, resolution="repaired and verified with the user")
        assert v.ticket.outcome == "passed", lib.report(name)[1]
        # untouched, resolved anyway: failed
        v = lib.resolve(name, untouched, resolution="it works now (it does not)")
        assert v.ticket.outcome == "failed"
        # the level-2 fault escalated with what level 2 needs: a correct result
        lib.acknowledge(name, escalated)
        lib.note(name, escalated, "diagnosis", "planner says the licence is over; planner --status")
        lib.note(name, escalated, "action", "checked the clock and the licence file")
        lib.escalate(name, escalated, observed="licence message at start", tried="checked clock and licence file",
                     reason="a new key comes from the vendor")
        assert lib.grade(name, escalated).result.status == "pass"
        assert lib.grade(name, fixed).c1.status == "pass"
        assert lib.grade(name, untouched).c1.status == "fail"

        lib.close(name)
        s, rows = lib.report(name)
        paths = write_report(s, rows, tmp_path / "report")
        html = (tmp_path / "report" / f"{name}-report.html").read_text()
        for who in ("Ann Lee", "Bob Roy", "Chloé Dia", *seats):
            assert who in html
        data = json.loads((tmp_path / "report" / f"{name}-report.json").read_text())
        assert len(data["seats"]) == 3 and len(paths) == 3
    finally:
        try:
            lib.destroy(name)
        except Exception:  # noqa: BLE001 - best effort; then each seat
            pass
        for seat in seats:
            try:
                seat_manager.destroy(seat)
            except Exception:  # noqa: BLE001
                pass
