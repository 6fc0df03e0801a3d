"""The web app's routing and refusals (aiohttp test client, fake seats and engine).

What a browser does against real seats, noVNC included, is tests/vm/test_web_vm.py.
"""

from __future__ import annotations

import asyncio
import json
import stat
from http.cookies import SimpleCookie

import pytest
from aiohttp import WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer

from labctl.web.app import make_app
from labctl.web.auth import INSTRUCTOR_COOKIE, TRAINEE_COOKIE, WebSecrets

from tests.unit.session_fakes import make_sessions

SCENARIO = """\
title: Web class
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
    (tmp_path / "class.csv").write_text("name,email\nAnn Lee,ann@x.org\nBob Roy,\n")
    lib, seats, engine = make_sessions(tmp_path)
    res = lib.create("c1", tmp_path / "class.csv", "t", seed=7)
    assert res.complete
    novnc = tmp_path / "novnc"
    (novnc / "core").mkdir(parents=True)
    (novnc / "core" / "rfb.js").write_text("export default class RFB {}\n")
    (novnc / "app").mkdir()
    (novnc / "app" / "secret.js").write_text("not served\n")
    secrets = WebSecrets.load(tmp_path / "state")
    return lib, seats, engine, secrets, res.codes, novnc


def run(lab, scenario, **kwargs):
    """Run ``scenario(client, ctx)`` against the app on a test server."""
    lib, seats, engine, secrets, codes, novnc = lab

    async def main():
        app = make_app(lib, secrets, novnc_dir=novnc, **kwargs)
        async with TestClient(TestServer(app)) as client:
            return await scenario(client)

    return asyncio.run(main())


async def login(client, session, code):
    """A fresh client jar per person: returns the cookies a trainee gets."""
    r = await client.post("/login", data={"session": session, "code": code}, allow_redirects=False)
    client.session.cookie_jar.clear()  # each request names its cookies: no one is logged in by accident
    return r


def as_header(cookies):
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}


def cookie_of(resp, name):
    jar = SimpleCookie()
    for v in resp.headers.getall("Set-Cookie", []):
        jar.load(v)
    return jar[name] if name in jar else None


async def csrf_of(client, path, cookies):
    r = await client.get(path, cookies=cookies)
    assert r.status == 200, await r.text()
    text = await r.text()
    marker = 'name="csrf-token" content="'
    return text.split(marker, 1)[1].split('"', 1)[0]


# -- secrets -----------------------------------------------------------------------------
def test_secrets_are_private_files_and_stable(tmp_path):
    a = WebSecrets.load(tmp_path)
    b = WebSecrets.load(tmp_path)
    assert a.instructor == b.instructor and a.cookie_key == b.cookie_key and len(a.instructor) >= 24
    for f in ("instructor.secret", "cookie.key"):
        assert stat.S_IMODE((tmp_path / "web" / f).stat().st_mode) == 0o600
    c = WebSecrets.load(tmp_path, renew=True)
    assert c.instructor != a.instructor
    token = a.sign({"k": "i"})
    assert a.unsign(token, 60)["k"] == "i"
    assert a.unsign(token[:-2] + "xx", 60) is None
    assert c.unsign(token, 60) is None  # another key
    assert not a.is_instructor_secret("") and not a.is_instructor_secret(a.instructor + "x")


# -- trainees ----------------------------------------------------------------------------
def test_trainee_logs_in_sees_only_their_own_seat(lab):
    lib, seats, engine, secrets, codes, novnc = lab

    async def scenario(client):
        r = await login(client, "c1", codes["Ann Lee"].upper())
        assert r.status == 303 and r.headers["Location"] == "/s/c1/seat/c1-01/"
        raw = [v for v in r.headers.getall("Set-Cookie") if v.startswith(TRAINEE_COOKIE)][0]
        assert "HttpOnly" in raw and "SameSite=Strict" in raw
        ann = {TRAINEE_COOKIE: cookie_of(r, TRAINEE_COOKIE).value}
        page = await client.get("/s/c1/seat/c1-01/", cookies=ann)
        text = await page.text()
        assert page.status == 200 and lib.ticket("c1", "c1-01").ticket.subject in text
        assert "c1-02" not in text and "disk-full" not in text.replace(lib.ticket("c1", "c1-01").ticket.subject, "")
        # Bob's seat: page, ticket API, actions, screen page and VNC proxy are all refused
        for path in ("/s/c1/seat/c1-02/", "/api/s/c1/seat/c1-02/ticket", "/s/c1/seat/c1-02/screen"):
            r = await client.get(path, cookies=ann)
            assert r.status == 403, path
        token = await csrf_of(client, "/s/c1/seat/c1-01/", ann)
        r = await client.post("/api/s/c1/seat/c1-02/note", json={"kind": "diagnosis", "text": "x"},
                              cookies=ann, headers={"X-CSRF-Token": token})
        assert r.status == 403
        with pytest.raises(WSServerHandshakeError) as exc:
            await client.ws_connect("/s/c1/seat/c1-02/vnc", headers=as_header(ann))
        assert exc.value.status == 403
        # a seat of the same number in another session name is not Ann's either
        assert (await client.get("/s/c2/seat/c1-01/", cookies=ann)).status == 403
        # and the instructor's side is closed to her
        for path in ("/instructor/", "/instructor/s/c1", "/api/instructor/s/c1/status",
                     "/instructor/s/c1/seat/c1-01/thumb.png", "/instructor/s/c1/report.html"):
            assert (await client.get(path, cookies=ann)).status == 403, path
        r = await client.post("/api/instructor/s/c1/reset", json={"seat": "c1-01"}, cookies=ann,
                              headers={"X-CSRF-Token": token})
        assert r.status == 403
        assert lib.ticket("c1", "c1-02").events[-1].kind == "opened"  # nothing reached Bob's ticket
        return True

    assert run(lab, scenario)


def test_trainee_works_the_ticket_with_csrf(lab):
    lib, seats, engine, secrets, codes, novnc = lab
    seat = "c1-02"

    async def scenario(client):
        r = await login(client, "c1", codes["Bob Roy"])
        bob = {TRAINEE_COOKIE: cookie_of(r, TRAINEE_COOKIE).value}
        base = f"/api/s/c1/seat/{seat}"
        # no CSRF token, or a wrong one: refused before anything happens
        assert (await client.post(base + "/ack", json={}, cookies=bob)).status == 403
        assert (await client.post(base + "/ack", json={}, cookies=bob, headers={"X-CSRF-Token": "x"})).status == 403
        h = {"X-CSRF-Token": await csrf_of(client, f"/s/c1/seat/{seat}/", bob)}
        # a body that is JSON but not an object is refused as such
        r = await client.post(base + "/note", json=["diagnosis"], cookies=bob, headers=h)
        assert r.status == 400 and (await r.json())["error"] == "send a JSON object"
        r = await client.post(base + "/ack", json={}, cookies=bob, headers=h)
        assert r.status == 200 and (await r.json())["state"] == "acknowledged"
        r = await client.post(base + "/note", json={"kind": "diagnosis", "text": "disk at 100%"}, cookies=bob, headers=h)
        hist = (await r.json())["history"]
        assert hist[-1]["text"] == "disk at 100%" and hist[-1]["actor"] == "Bob Roy"
        r = await client.post(base + "/note", json={"kind": "gossip", "text": "x"}, cookies=bob, headers=h)
        assert r.status == 400 and "kind" in (await r.json())["error"]
        r = await client.post(base + "/reopen", json={"reason": "x"}, cookies=bob, headers=h)
        assert r.status == 403  # reopening is the instructor's
        engine.fix(seat)
        r = await client.post(base + "/resolve", json={"resolution": "freed space, verified"}, cookies=bob, headers=h)
        data = await r.json()
        assert r.status == 200 and data["state"] == "resolved" and data["outcome"] == "passed"
        assert data["history"][-1]["kind"] == "checked" and data["history"][-1]["data"]["functional"] == "pass"
        r = await client.post(base + "/resolve", json={"resolution": "again"}, cookies=bob, headers=h)
        assert r.status == 409  # a closed ticket
        return True

    assert run(lab, scenario)


def test_wrong_codes_are_refused_then_throttled(lab):
    lib, seats, engine, secrets, codes, novnc = lab

    async def scenario(client):
        r = await login(client, "c1", "aaaa-bbbb-cccc")
        assert r.status == 401 and TRAINEE_COOKIE not in r.cookies
        assert (await login(client, "nosuch", codes["Ann Lee"])).status == 401
        for _ in range(8):
            await login(client, "c1", "zzzz-zzzz-zzzz")
        r = await login(client, "c1", codes["Ann Lee"])  # even the right code waits now
        assert r.status == 429
        return True

    assert run(lab, scenario)


def test_new_code_ends_the_old_login_and_tampered_cookies_fail(lab):
    lib, seats, engine, secrets, codes, novnc = lab

    async def scenario(client):
        r = await login(client, "c1", codes["Ann Lee"])
        ann = {TRAINEE_COOKIE: cookie_of(r, TRAINEE_COOKIE).value}
        assert (await client.get("/s/c1/seat/c1-01/", cookies=ann)).status == 200
        # a cookie edited to name Bob's seat does not verify
        forged = secrets.sign({"k": "t", "s": "c1", "seat": "c1-02", "n": "Ann Lee", "cs": "x"})
        assert (await client.get("/s/c1/seat/c1-02/", cookies={TRAINEE_COOKIE: forged})).status == 401
        other = WebSecrets.load(lib.cfg.state_dir / "elsewhere")
        forged = other.sign({"k": "i"})
        assert (await client.get("/instructor/s/c1", cookies={INSTRUCTOR_COOKIE: forged})).status == 401
        await asyncio.get_running_loop().run_in_executor(None, lib.issue_codes, "c1", "Ann Lee")
        assert (await client.get("/s/c1/seat/c1-01/", cookies=ann)).status == 401
        return True

    assert run(lab, scenario)


# -- the screen ----------------------------------------------------------------------------
def test_vnc_proxy_reaches_only_the_seats_own_vnc_server(lab):
    lib, seats, engine, secrets, codes, novnc = lab

    async def scenario(client):
        got = []

        async def vnc(reader, writer):
            writer.write(b"RFB 003.008\n")
            await writer.drain()
            got.append(await reader.readexactly(12))
            writer.close()

        server = await asyncio.start_server(vnc, "127.0.0.1", 0)
        seats.vnc_port = server.sockets[0].getsockname()[1]
        async with server:
            r = await login(client, "c1", codes["Ann Lee"])
            ann = {TRAINEE_COOKIE: cookie_of(r, TRAINEE_COOKIE).value}
            page = await client.get("/s/c1/seat/c1-01/screen", cookies=ann)
            assert page.status == 200 and 'data-password="vncpw123"' in await page.text()
            ws = await client.ws_connect("/s/c1/seat/c1-01/vnc", headers=as_header(ann))
            msg = await ws.receive(timeout=5)
            assert msg.data == b"RFB 003.008\n"
            await ws.send_bytes(b"RFB 003.008\n")
            await asyncio.sleep(0.2)
            await ws.close()
            assert got == [b"RFB 003.008\n"]
            # no login: refused before any connection to the VNC server
            with pytest.raises(WSServerHandshakeError) as exc:
                await client.ws_connect("/s/c1/seat/c1-01/vnc")
            assert exc.value.status == 401
            assert (await client.get("/s/c1/seat/c1-01/screen")).status == 401
        assert len(got) == 1
        return True

    assert run(lab, scenario)


def test_phone_mode_keeps_the_screen_from_the_trainee_not_the_instructor(lab):
    lib, seats, engine, secrets, codes, novnc = lab
    res = lib.create("ph1", lib.cfg.scenarios_dir.parent / "class.csv", "ph", seed=3)
    assert res.complete

    async def scenario(client):
        r = await login(client, "ph1", res.codes["Ann Lee"])
        ann = {TRAINEE_COOKIE: cookie_of(r, TRAINEE_COOKIE).value}
        page = await client.get("/s/ph1/seat/ph1-01/", cookies=ann)
        assert page.status == 200 and "open-screen" not in await page.text()
        assert (await client.get("/s/ph1/seat/ph1-01/screen", cookies=ann)).status == 403
        with pytest.raises(WSServerHandshakeError) as exc:
            await client.ws_connect("/s/ph1/seat/ph1-01/vnc", headers=as_header(ann))
        assert exc.value.status == 403
        boss = {"Authorization": "Bearer " + secrets.instructor}
        r = await client.get("/s/ph1/seat/ph1-01/screen", headers=boss)
        assert r.status == 200 and "vncpw123" in await r.text()
        return True

    assert run(lab, scenario)


def test_novnc_files_are_served_from_core_and_vendor_only(lab):
    async def scenario(client):
        r = await client.get("/novnc/core/rfb.js")
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/javascript")
        for path in ("/novnc/app/secret.js", "/novnc/core/../app/secret.js", "/novnc/core/%2e%2e/app/secret.js",
                     "/novnc/core/nope.js"):
            assert (await client.get(path)).status == 404, path
        assert (await client.get("/static/common.js")).status == 200
        return True

    assert run(lab, scenario)


# -- the instructor -------------------------------------------------------------------------
INSTRUCTOR_REQUESTS = [
    ("GET", "/instructor/", None), ("GET", "/instructor/s/c1", None), ("GET", "/api/instructor/s/c1/status", None),
    ("GET", "/instructor/s/c1/seat/c1-01/thumb.png", None), ("GET", "/instructor/s/c1/report.html", None),
    ("GET", "/instructor/s/c1/report.csv", None), ("GET", "/api/instructor/jobs/j1", None),
    ("POST", "/api/instructor/s/c1/check", {}), ("POST", "/api/instructor/s/c1/reset", {"seat": "c1-01"}),
    ("POST", "/api/instructor/s/c1/extend", {"minutes": 10}), ("POST", "/api/instructor/s/c1/codes", {}),
    ("POST", "/api/s/c1/seat/c1-01/reopen", {"reason": "x"}),
]


def test_without_the_secret_nothing_of_the_instructors_answers(lab):
    lib, seats, engine, secrets, codes, novnc = lab

    async def scenario(client):
        for method, path, body in INSTRUCTOR_REQUESTS:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer " + secrets.instructor[:-1]}):
                r = await client.request(method, path, json=body, headers=headers)
                assert r.status == 401, (method, path, headers, r.status)
        r = await client.post("/instructor/login", data={"secret": "guess"}, allow_redirects=False)
        assert r.status == 401 and INSTRUCTOR_COOKIE not in r.cookies
        return True

    assert run(lab, scenario)
    assert len(engine.injected) == 2  # the two of `session create`: no reset happened
    assert lib.get("c1").extra_min == 0 and seats.screenshots == []


def test_instructor_dashboard_and_actions(lab):
    lib, seats, engine, secrets, codes, novnc = lab

    async def scenario(client):
        r = await client.post("/instructor/login", data={"secret": secrets.instructor}, allow_redirects=False)
        client.session.cookie_jar.clear()
        assert r.status == 303
        raw = [v for v in r.headers.getall("Set-Cookie") if v.startswith(INSTRUCTOR_COOKIE)][0]
        assert "HttpOnly" in raw and "SameSite=Strict" in raw
        boss = {INSTRUCTOR_COOKIE: cookie_of(r, INSTRUCTOR_COOKIE).value}
        r = await client.get("/instructor/", cookies=boss, allow_redirects=False)
        assert r.status == 200 and "/instructor/s/c1" in await r.text()
        h = {"X-CSRF-Token": await csrf_of(client, "/instructor/s/c1", boss)}
        r = await client.post("/api/instructor/s/c1/extend", json=[5], cookies=boss, headers=h)
        assert r.status == 400 and (await r.json())["error"] == "send a JSON object"
        st = await (await client.get("/api/instructor/s/c1/status", cookies=boss)).json()
        assert [s["seat"] for s in st["seats"]] == ["c1-01", "c1-02"]
        assert all(s["deadline"] and s["priority"].startswith("P") for s in st["seats"])
        # actions need the CSRF token with a cookie
        assert (await client.post("/api/instructor/s/c1/extend", json={"minutes": 5}, cookies=boss)).status == 403
        r = await client.post("/api/instructor/s/c1/extend", json={"minutes": 5, "seat": "c1-02"}, cookies=boss,
                              headers=h)
        assert r.status == 200
        assert (await client.post("/api/instructor/s/c1/extend", json={"minutes": "x"}, cookies=boss,
                                  headers=h)).status == 400
        assert (await client.post("/api/instructor/s/c1/reset", json={"seat": "c9-09"}, cookies=boss,
                                  headers=h)).status == 404
        before = lib.status("c1")[0]
        notes_before = len(lib.ticket("c1", "c1-01").events)
        r = await client.post("/api/instructor/s/c1/reset", json={"seat": "c1-01", "new_fault": True},
                              cookies=boss, headers=h)
        assert r.status == 202
        job = await r.json()
        for _ in range(100):
            job = await (await client.get(f"/api/instructor/jobs/{job['id']}", cookies=boss)).json()
            if job["state"] != "running":
                break
            await asyncio.sleep(0.05)
        assert job["state"] == "done", job
        st = await (await client.get("/api/instructor/s/c1/status", cookies=boss)).json()
        one = st["seats"][0]
        assert (one["fault"], one["variant"]) != (before.fault, before.variant) and one["ticket_state"] == "new"
        view = lib.ticket("c1", "c1-01")
        assert view.ticket.subject.startswith(one["fault"]) and view.events[-1].kind == "new-problem"
        assert len(view.events) == notes_before + 1
        # the same fault again on the other seat: its ticket stays as it was
        same = lib.status("c1")[1]
        r = await client.post("/api/instructor/s/c1/reset", json={"seat": "c1-02"}, cookies=boss, headers=h)
        job = await r.json()
        for _ in range(100):
            job = await (await client.get(f"/api/instructor/jobs/{job['id']}", cookies=boss)).json()
            if job["state"] != "running":
                break
            await asyncio.sleep(0.05)
        assert job["state"] == "done" and engine.injected[-1] == ("c1-02", same.fault, same.variant)
        assert lib.ticket("c1", "c1-02").events[-1].kind == "seat-reset"
        r = await client.post("/api/instructor/s/c1/check", json={}, cookies=boss, headers=h)
        assert r.status == 202
        for _ in range(100):
            job = await (await client.get(f"/api/instructor/jobs/{(await r.json())['id']}", cookies=boss)).json()
            if job["state"] != "running":
                break
            await asyncio.sleep(0.05)
        assert job["state"] == "done" and "c1-01: fail" in job["message"]
        st = await (await client.get("/api/instructor/s/c1/status", cookies=boss)).json()
        assert {s["last_check"] for s in st["seats"]} == {"fail"} and all(s["last_check_at"] for s in st["seats"])
        r = await client.get("/instructor/s/c1/seat/c1-02/thumb.png", cookies=boss)
        assert r.status == 200 and r.headers["Content-Type"] == "image/png" and seats.screenshots == ["c1-02"]
        assert (await client.get("/instructor/s/c1/seat/zz-01/thumb.png", cookies=boss)).status == 404
        r = await client.get("/instructor/s/c1/report.html", cookies=boss)
        assert r.status == 200 and "Ann Lee" in await r.text()
        r = await client.get("/instructor/s/c1/report.json", cookies=boss)
        assert json.loads(await r.text())["seats"]
        # the instructor opens any seat's ticket and screen
        assert (await client.get("/s/c1/seat/c1-02/", cookies=boss)).status == 200
        assert (await client.get("/s/c1/seat/c1-02/screen", cookies=boss)).status == 200
        # a Bearer secret works for scripts (no cookie, so no CSRF token needed)
        r = await client.post("/api/instructor/s/c1/codes", json={"trainee": "Bob Roy"},
                              headers={"Authorization": "Bearer " + secrets.instructor})
        assert r.status == 200 and set((await r.json())["codes"]) == {"Bob Roy"}
        return True

    assert run(lab, scenario)
    assert lib.status("c1")[1].deadline > lib.status("c1")[0].deadline  # the +5 min for c1-02


def test_serve_print_urls(tmp_path):
    from click.testing import CliRunner

    from labctl.cli.main import cli

    r = CliRunner().invoke(cli, ["serve", "--print-urls", "--session", "demo", "--port", "8181"],
                           env={"LABCTL_STATE_DIR": str(tmp_path), "LABCTL_CONFIG": ""})
    assert r.exit_code == 0, r.output
    secret = (tmp_path / "web" / "instructor.secret").read_text().strip()
    assert "http://127.0.0.1:8181/?session=demo" in r.output
    assert f"http://127.0.0.1:8181/instructor/login#{secret}" in r.output


def test_a_second_action_on_a_busy_seat_waits_its_turn(lab):
    """Resets run in the background; the server keeps answering, and a seat takes one action at a time."""
    import threading

    lib, seats, engine, secrets, codes, novnc = lab
    gate = threading.Event()
    real_inject = engine.inject

    def slow_inject(*a, **kw):
        gate.wait(10)
        return real_inject(*a, **kw)

    engine.inject = slow_inject
    boss = {"Authorization": "Bearer " + secrets.instructor}

    async def scenario(client):
        r = await client.post("/api/instructor/s/c1/reset", json={"seat": "c1-01"}, headers=boss)
        assert r.status == 202
        job = await r.json()
        st = await (await client.get("/api/instructor/s/c1/status", headers=boss)).json()  # answers meanwhile
        assert st["seats"][0]["job"]["id"] == job["id"] and st["seats"][1]["job"] is None
        r = await client.post("/api/instructor/s/c1/check", json={"seat": "c1-01"}, headers=boss)
        assert r.status == 409 and "still running" in (await r.json())["error"]
        r = await client.post("/api/instructor/s/c1/check", json={}, headers=boss)
        assert r.status == 409  # every seat includes the busy one
        gate.set()
        for _ in range(100):
            job = await (await client.get(f"/api/instructor/jobs/{job['id']}", headers=boss)).json()
            if job["state"] != "running":
                break
            await asyncio.sleep(0.05)
        assert job["state"] == "done"
        assert (await client.post("/api/instructor/s/c1/check", json={"seat": "c1-01"}, headers=boss)).status == 202
        return True

    assert run(lab, scenario)
