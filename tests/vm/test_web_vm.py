"""The web app in a real browser against a real class: `labctl serve` over a session of two real seats.

Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium:
a trainee logs in with their access code, reads the ticket, opens the seat's screen
through noVNC and labctl's websocket proxy (the canvas is compared with libvirt's own
screenshot of the guest, and typing in the browser reaches the guest), repairs the
seat by typing at its console in the browser (log in, delete the forgotten download),
writes notes and resolves; the outcome 'passed' appears. The trainee's login opens nothing of the other
seat (page, ticket API, screen page, VNC websocket) nor the instructor's side; with
no instructor secret the dashboard and every action are refused. The instructor's
dashboard lists both seats with live thumbnails, runs a check and a reset with a new
fault, and shows the results without reloading.

Screenshots and measurements are kept in ``$LABCTL_TEST_STATE/web-artifacts/``.
In CI a missing Chromium or driver is a failure, like a missing libvirt.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import TEST_STATE, _unavailable

pytestmark = pytest.mark.vm

ARTIFACTS = TEST_STATE / "web-artifacts"
SCENARIO = """\
title: Web test class
mode: remote
language: en
time_limit_min: 60
pool: {faults: [disk-full]}
sla: {P1: 15, P2: 30, P3: 45, P4: 60, P5: 120}
"""
TRAINEE_COOKIE = "labctl_trainee"
SHIFTED = dict(zip('~!@#$%^&*()_+{}|:"<>?', "`1234567890-=[]\\;',./"))


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chrome_paths():
    chromium, driver = chromium_or_fail()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*"):
        if old.is_file():
            old.unlink()
    return chromium, driver


@pytest.fixture(scope="module")
def browsers(chrome_paths):
    """new() -> a fresh headless Chromium (its own cookies); all quit at the end."""
    made = []

    def new():
        made.append(new_chrome(*chrome_paths))
        return made[-1]

    yield new
    for i, d in enumerate(made):
        quit_chrome(d, ARTIFACTS / f"browser-console-{i}.json")


@pytest.fixture(scope="module")
def web_class(lab_cfg, seat_manager, tmp_path_factory, chrome_paths):
    """A real session: two trainees, two seats, disk-full variants (after the browser is known to be there)."""
    from labctl.sessions import Sessions

    folder = tmp_path_factory.mktemp("webclass")
    (folder / "web.yaml").write_text(SCENARIO)
    (folder / "class.csv").write_text("name,email\nAnn Lee,ann@example.org\nBob Roy,\n")
    name = f"web{secrets.token_hex(2)}"
    lib = Sessions(lab_cfg, seats=seat_manager)
    t0 = time.monotonic()
    try:
        res = lib.create(name, folder / "class.csv", str(folder / "web.yaml"), seed=5, parallel=2)
        assert res.complete, res.errors
        timing(f"session create (2 seats): {time.monotonic() - t0:.1f} s\n")
        yield lib, name, res.codes, [s.seat for s in res.seats]
    finally:
        try:
            lib.destroy(name)
        except Exception:  # noqa: BLE001 - then each seat
            pass
        for i in (1, 2):
            try:
                seat_manager.destroy(f"{name}-0{i}")
            except Exception:  # noqa: BLE001
                pass


@pytest.fixture(scope="module")
def server(lab_cfg, web_class):
    """`labctl serve` in its own process, as an instructor would start it."""
    lib, name, codes, seats = web_class
    with serving(lab_cfg, name, ARTIFACTS / "serve.log") as srv:
        srv.update({"lib": lib, "name": name, "codes": codes, "seats": seats})
        yield srv


# -- helpers (tests/vm/test_desktop_vm.py uses them too) -------------------------------------
def chromium_or_fail() -> tuple[str, str]:
    """Chromium and its driver (paths), Selenium and noVNC; a missing one fails in CI, skips elsewhere."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        _unavailable("Chromium and its driver are needed (apt-get install chromium chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        _unavailable("selenium is needed (pip install selenium; scripts/test.sh installs it)")
    if not Path("/usr/share/novnc/core/rfb.js").is_file():
        _unavailable("noVNC is needed (apt-get install novnc)")
    return chromium, driver


def new_chrome(chromium: str, driver: str):
    """A fresh headless Chromium with a profile of its own (its own cookies), removed when it quits."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="labctl-web-test-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1500", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(driver), options=opts)
    d.labctl_profile = profile
    d.set_page_load_timeout(60)
    d.set_script_timeout(60)
    return d


def quit_chrome(d, console_log: Path) -> None:
    """Keep the browser's console log, quit, remove its profile."""
    try:
        console_log.write_text(json.dumps(d.get_log("browser"), indent=1))
    except Exception:  # noqa: BLE001 - artefacts are best effort
        pass
    d.quit()
    shutil.rmtree(d.labctl_profile, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(lab_cfg, session: str, log_file: Path):
    """`labctl serve --session SESSION` in its own process on a free port, as an instructor starts it.

    Yields {"base", "secret", "env"}; stopped on leaving."""
    port = _free_port()
    env = dict(os.environ)
    env.update({"LABCTL_STATE_DIR": str(lab_cfg.state_dir), "LABCTL_PORT_MIN": str(lab_cfg.port_min),
                "LABCTL_PORT_MAX": str(lab_cfg.port_max), "LABCTL_CONFIG": ""})
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log = log_file.open("w")
    proc = subprocess.Popen([sys.executable, "-m", "labctl.cli.main", "serve", "--port", str(port),
                             "--session", session], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, log_file.read_text()
                time.sleep(0.2)
        secret = (lab_cfg.state_dir / "web" / "instructor.secret").read_text().strip()
        assert f"{base}/instructor/login#{secret}" in log_file.read_text()
        yield {"base": base, "secret": secret, "env": env}
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def timing(line: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (ARTIFACTS / "timings.txt").open("a") as fh:
        fh.write(line)


def wait(driver, cond, timeout=30.0, what=""):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.3).until(lambda d: cond(d), message=what)


def by_id(driver, id_):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, id_)


def shot(driver, name):
    driver.save_screenshot(str(ARTIFACTS / name))


def png_image(data: bytes):
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    img.load()
    return img.convert("RGB")


def canvas_image(driver):
    import base64

    url = driver.execute_script("const c = document.querySelector('#screen canvas'); "
                                "return c && c.width > 0 ? c.toDataURL('image/png') : null;")
    return png_image(base64.b64decode(url.split(",", 1)[1])) if url else None


def measure(img) -> dict:
    """How much is on an image: distinct values, and the share of pixels that are not its commonest."""
    colours = img.getcolors(maxcolors=1 << 24)
    top = max(n for n, _c in colours)
    total = img.width * img.height
    return {"size": list(img.size), "distinct": len(colours), "not_background": round(1 - top / total, 5)}


def agreement(a, b) -> float:
    """Share of pixels equal (within a small tolerance) in two same-size images."""
    from PIL import ImageChops

    if a.size != b.size:
        return 0.0
    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 24 else 0)
    return 1 - diff.histogram()[255] / (a.width * a.height)


def changed_pixels(a, b) -> int:
    from PIL import ImageChops

    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 24 else 0)
    return diff.histogram()[255]


def type_line(driver, text: str, pause: float = 0, *, chunk: int = 0, gap: float = 0.4) -> None:
    """Type a line (and Enter) as a person does at the keyboard, then wait ``pause`` seconds.

    WebDriver sends '+' or '_' without Shift, and noVNC passes on the key's position (QEMU's
    extended key events), so the guest would get '=' or '-': hold Shift as a person does.
    ``chunk``: send that many characters at a time, ``gap`` seconds apart. The guest's PS/2
    keyboard holds 16 bytes; a busy emulated guest (a desktop) reads it slowly, and what does
    not fit is lost - a lost key release leaves the key repeating."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    pieces = [text[i:i + chunk] for i in range(0, len(text), chunk)] if chunk else [text]
    for n, piece in enumerate(pieces):
        chain = ActionChains(driver)
        for ch in piece:
            if ch in SHIFTED:
                chain.key_down(Keys.SHIFT).send_keys(SHIFTED[ch]).key_up(Keys.SHIFT)
            else:
                chain.send_keys(ch)
        if n == len(pieces) - 1:
            chain.send_keys(Keys.ENTER)
        chain.perform()
        if n < len(pieces) - 1:
            time.sleep(gap)
    time.sleep(pause)


def http(srv, method, path, *, cookie=None, bearer=None, body=None, headers=None) -> int:
    h = dict(headers or {})
    if cookie:
        h["Cookie"] = cookie
    if bearer:
        h["Authorization"] = f"Bearer {bearer}"
    data = None
    if method == "POST":
        data = json.dumps(body or {}).encode()
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(srv["base"] + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def ws_status(srv, path, cookie=None) -> int:
    """The HTTP status of a websocket handshake (101 means the proxy opened)."""
    import aiohttp

    async def go():
        async with aiohttp.ClientSession() as s:
            try:
                ws = await s.ws_connect(srv["base"].replace("http", "ws") + path,
                                        headers={"Cookie": cookie} if cookie else {})
                await ws.close()
                return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    return asyncio.run(go())


# -- the trainee -----------------------------------------------------------------------------
def test_trainee_logs_in_sees_the_ticket_uses_the_screen_and_resolves(server, browsers, seat_manager):
    from selenium.webdriver.common.action_chains import ActionChains

    lib, name = server["lib"], server["name"]
    seat = server["seats"][0]
    d = browsers()
    server["ann"] = d
    t0 = time.monotonic()
    d.get(f"{server['base']}/?session={name}")
    by_id(d, "code").send_keys(server["codes"]["Ann Lee"])
    by_id(d, "login").click()
    wait(d, lambda d: d.current_url.endswith(f"/s/{name}/seat/{seat}/"), what="landing on the own ticket")
    assert by_id(d, "t-subject").text == lib.ticket(name, seat).ticket.subject
    assert "disk-full" not in d.page_source  # the cause never shows
    shot(d, "01-trainee-ticket.png")

    # the screen: noVNC from Debian's package over labctl's websocket proxy
    ticket_tab = d.current_window_handle
    by_id(d, "open-screen").click()
    wait(d, lambda d: len(d.window_handles) == 2, what="the screen tab")
    d.switch_to.window([h for h in d.window_handles if h != ticket_tab][0])
    wait(d, lambda d: d.execute_script("return document.body.dataset.vnc") == "connected", 60, "VNC connected")
    wait(d, lambda d: (c := canvas_image(d)) is not None and measure(c)["distinct"] > 1, 30, "a drawn canvas")
    canvas = canvas_image(d)
    guest = png_image(seat_manager.screenshot(seat))
    m = {"canvas": measure(canvas), "libvirt": measure(guest), "agreement": round(agreement(canvas, guest), 5)}
    canvas.save(ARTIFACTS / "02-canvas.png")
    guest.save(ARTIFACTS / "02-libvirt-screenshot.png")
    shot(d, "02-trainee-screen.png")
    # Not blank: several pixel values and a real share of non-background pixels, and the same picture
    # as libvirt's own screenshot of the guest (text console today; a desktop with a desktop image).
    assert m["canvas"]["distinct"] >= 2 and m["canvas"]["not_background"] > 0.001, m
    assert m["agreement"] > 0.97, m

    # typing in the browser reaches the guest (keyboard through the proxy), and the canvas follows
    ActionChains(d).move_to_element(d.find_element("css selector", "#screen canvas")).click().perform()
    typed = "labctl-web-typing-test"
    ActionChains(d).send_keys(typed).perform()
    changed = 0
    for _ in range(30):
        now_guest = png_image(seat_manager.screenshot(seat))
        changed = changed_pixels(now_guest, guest)
        if changed > 150:  # 22 characters change about 300 pixels; a blinking cursor alone about 16
            break
        time.sleep(1)
    now_guest.save(ARTIFACTS / "03-libvirt-after-typing.png")
    assert changed > 150, f"typing in the browser did not reach the guest ({changed} pixels changed)"
    m["after_typing"] = {"pixels_changed_on_guest": changed}
    time.sleep(1.5)
    typed_guest = png_image(seat_manager.screenshot(seat))
    typed_canvas = canvas_image(d)
    m["after_typing"]["canvas_vs_guest"] = round(agreement(typed_canvas, typed_guest), 5)
    typed_canvas.save(ARTIFACTS / "03-canvas-after-typing.png")
    assert m["after_typing"]["canvas_vs_guest"] > 0.97, m
    ActionChains(d).send_keys("\b" * len(typed)).perform()
    (ARTIFACTS / "screen-measure.json").write_text(json.dumps(m, indent=1))

    # The repair, typed by the trainee into the guest through the browser: log in on the console as
    # the support account and delete the forgotten download (one of the recipe's legitimate repairs;
    # this seat's draw is the 'download' variant with this seed).
    assert lib.ticket(name, seat).ticket.state == "new" and lib.engine.check(seat).status == "fail"
    assert "download" in [s.variant for s in lib.status(name) if s.seat == seat]
    password = seat_manager.credentials(seat).support_password

    t_repair = time.monotonic()
    type_line(d, "support", 4)
    type_line(d, password, 10)
    type_line(d, "sudo find /home/alex/Downloads -xdev -type f -size +100M -delete", 5)
    type_line(d, password, 5)
    status = ""
    for _ in range(20):
        status = lib.engine.check(seat).status
        if status == "pass":
            break
        time.sleep(3)
    canvas_image(d).save(ARTIFACTS / "03-canvas-after-repair.png")
    shot(d, "03-trainee-repair-typed.png")
    assert status == "pass", "the repair typed through the browser did not take (see 03-canvas-after-repair.png)"
    m["repair_typed_s"] = round(time.monotonic() - t_repair, 1)
    (ARTIFACTS / "screen-measure.json").write_text(json.dumps(m, indent=1))
    type_line(d, "exit", 1)
    d.close()
    d.switch_to.window(ticket_tab)

    # the ticket: acknowledge, notes, then resolve after the repair; the outcome appears
    by_id(d, "ack").click()
    wait(d, lambda d: by_id(d, "t-state").text.lower() == "acknowledged", what="acknowledged")
    by_id(d, "note-text").send_keys("df -h: / is at 100 %; a big download in ~/Downloads")
    by_id(d, "add-note").click()
    wait(d, lambda d: "a big download" in by_id(d, "history").text, what="the note in the history")
    from selenium.webdriver.support.ui import Select

    Select(by_id(d, "note-kind")).select_by_value("action")
    by_id(d, "note-text").send_keys("moved the download to the share after asking the user")
    by_id(d, "add-note").click()
    wait(d, lambda d: "asking the user" in by_id(d, "history").text, what="the second note")
    # the CLI at the same time as the web app, on the same database: its note shows up in the page
    out = subprocess.run([sys.executable, "-m", "labctl.cli.main", "ticket", "note", name, seat,
                          "called the user back: the report saves again", "--kind", "communication",
                          "--by", "Ann Lee"], env=server["env"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    wait(d, lambda d: "called the user back" in by_id(d, "history").text, 30, "the CLI's note in the page")
    by_id(d, "resolution").send_keys("freed the disk; the user saved the report again")
    by_id(d, "resolve").click()
    wait(d, lambda d: by_id(d, "t-outcome").text == "passed", 240, "the outcome 'passed'")
    assert by_id(d, "t-state").text.lower() == "resolved"
    shot(d, "04-trainee-resolved.png")
    v = lib.ticket(name, seat)
    assert v.ticket.outcome == "passed" and [e.actor for e in v.events if e.kind == "note"] == ["Ann Lee"] * 3
    timing(f"trainee flow: {time.monotonic() - t0:.1f} s\n")


def test_a_trainee_login_opens_nothing_of_another_seat(server):
    d = server["ann"]
    lib, name = server["lib"], server["name"]
    own, other = server["seats"]
    before = [e.kind for e in lib.ticket(name, other).events]
    cookie = f"{TRAINEE_COOKIE}={d.get_cookie(TRAINEE_COOKIE)['value']}"
    assert d.get_cookie(TRAINEE_COOKIE)["httpOnly"] is True
    # in the browser: the page of the other seat, its screen page, its ticket API, its VNC websocket
    d.get(f"{server['base']}/s/{name}/seat/{other}/")
    assert by_id(d, "refused").get_attribute("data-status") == "403"
    shot(d, "05-trainee-refused.png")
    d.get(f"{server['base']}/s/{name}/seat/{other}/screen")
    assert by_id(d, "refused").get_attribute("data-status") == "403"
    d.get(f"{server['base']}/s/{name}/seat/{own}/")
    token = d.find_element("css selector", 'meta[name="csrf-token"]').get_attribute("content")
    got = d.execute_async_script("""
        const [api, wsPath, statusUrl, token, done] = arguments;
        (async () => {
            const out = {};
            out.api = (await fetch(api + '/ticket')).status;
            out.note = (await fetch(api + '/note', {method: 'POST',
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token},
                body: JSON.stringify({kind: 'diagnosis', text: 'not mine'})})).status;
            out.status = (await fetch(statusUrl)).status;
            const ws = new WebSocket('ws://' + location.host + wsPath);
            out.ws = await new Promise((ok) => {
                ws.onopen = () => ok('open'); ws.onclose = (e) => ok('closed ' + e.code); });
            done(out);
        })().catch((e) => done({error: String(e)}));
    """, f"/api/s/{name}/seat/{other}", f"/s/{name}/seat/{other}/vnc", f"/api/instructor/s/{name}/status", token)
    assert got["api"] == 403 and got["note"] == 403 and got["status"] == 403, got
    assert got["ws"] != "open", got
    # the same requests with the same cookie from outside the browser: 403, and the handshake is refused
    assert http(server, "GET", f"/api/s/{name}/seat/{other}/ticket", cookie=cookie) == 403
    assert ws_status(server, f"/s/{name}/seat/{other}/vnc", cookie) == 403
    assert ws_status(server, f"/s/{name}/seat/{own}/vnc", cookie) == 101  # the own one opens
    for path in (f"/instructor/s/{name}", f"/api/instructor/s/{name}/status", f"/instructor/s/{name}/report.html",
                 f"/instructor/s/{name}/seat/{other}/thumb.png"):
        assert http(server, "GET", path, cookie=cookie) == 403, path
    assert http(server, "POST", f"/api/instructor/s/{name}/reset", cookie=cookie, body={"seat": other},
                headers={"X-CSRF-Token": token}) == 403
    assert [e.kind for e in lib.ticket(name, other).events] == before
    (ARTIFACTS / "refusals-trainee.json").write_text(json.dumps(got, indent=1))


def test_without_the_instructor_secret_the_dashboard_and_its_actions_are_refused(server, browsers):
    lib, name = server["lib"], server["name"]
    other = server["seats"][1]
    checks_before = [s.last_check_at for s in lib.status(name)]
    extra_before = lib.get(name).extra_min
    d = browsers()
    d.get(f"{server['base']}/instructor/s/{name}")
    assert by_id(d, "refused").get_attribute("data-status") == "401"
    shot(d, "06-no-secret-refused.png")
    d.get(f"{server['base']}/instructor/login#not-the-secret")
    wait(d, lambda d: "not the instructor" in d.page_source, what="a wrong secret refused")
    codes = {}
    for method, path, body in [
        ("GET", f"/instructor/s/{name}", None), ("GET", f"/api/instructor/s/{name}/status", None),
        ("GET", f"/instructor/s/{name}/seat/{other}/thumb.png", None), ("GET", f"/instructor/s/{name}/report.html", None),
        ("POST", f"/api/instructor/s/{name}/check", {}), ("POST", f"/api/instructor/s/{name}/reset", {"seat": other}),
        ("POST", f"/api/instructor/s/{name}/extend", {"minutes": 30}), ("POST", f"/api/instructor/s/{name}/codes", {}),
        ("POST", f"/api/s/{name}/seat/{other}/reopen", {"reason": "x"}),
    ]:
        for bearer in (None, "wrong", server["secret"][:-1]):
            codes[f"{method} {path} bearer={bool(bearer)}"] = status = http(server, method, path, body=body,
                                                                             bearer=bearer)
            assert status == 401, (method, path, bearer, status)
    (ARTIFACTS / "refusals-no-secret.json").write_text(json.dumps(codes, indent=1))
    assert [s.last_check_at for s in lib.status(name)] == checks_before and lib.get(name).extra_min == extra_before


# -- the instructor ----------------------------------------------------------------------------
def test_dashboard_lists_every_seat_and_follows_a_check_and_a_reset(server, browsers):
    from selenium.webdriver.common.by import By

    lib, name = server["lib"], server["name"]
    own, other = server["seats"]
    d = browsers()
    t0 = time.monotonic()
    d.get(f"{server['base']}/instructor/login#{server['secret']}")
    wait(d, lambda d: d.current_url.endswith(f"/instructor/s/{name}"), what="the dashboard")
    assert "#" not in d.current_url
    wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "article.seat")) == 2, what="both seats")
    wait(d, lambda d: all(e.get_attribute("data-thumb") == "ok" for e in d.find_elements(By.CSS_SELECTOR, "article.seat")),
         60, "both thumbnails")
    card = {s: d.find_element(By.ID, f"seat-{s}") for s in (own, other)}
    assert card[own].get_attribute("data-ticket") == "resolved" and "passed" in card[own].text
    assert "Ann Lee" in card[own].text and "Bob Roy" in card[other].text
    req = urllib.request.Request(f"{server['base']}/instructor/s/{name}/seat/{other}/thumb.png",
                                 headers={"Authorization": f"Bearer {server['secret']}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        thumb = png_image(r.read())
    thumb.save(ARTIFACTS / "07-thumbnail.png")
    tm = measure(thumb)
    assert tm["distinct"] >= 2 and tm["not_background"] > 0.001, tm
    d.execute_script("window.labctlNoReload = 'still here'; window.confirm = () => true;")
    shot(d, "07-dashboard.png")

    # check one seat from the dashboard: the result shows up without reloading
    card[own].find_element(By.CSS_SELECTOR, "button.do-check").click()
    wait(d, lambda d: "last check pass" in d.find_element(By.ID, f"seat-{own}").text, 180, "the check's result")

    # reset the other seat with a new fault: busy while it runs, then the new fault and a new ticket
    old_fault = card[other].get_attribute("data-fault")
    card[other].find_element(By.CSS_SELECTOR, "button.do-reset-new").click()
    wait(d, lambda d: d.find_element(By.ID, f"seat-{other}").get_attribute("data-busy") == "yes", 20, "busy")
    shot(d, "08-dashboard-resetting.png")
    wait(d, lambda d: d.find_element(By.ID, f"seat-{other}").get_attribute("data-busy") == "", 300, "reset done")
    c = d.find_element(By.ID, f"seat-{other}")
    assert c.get_attribute("data-fault") != old_fault and c.get_attribute("data-ticket") == "new"
    assert "done" in by_id(d, "jobs").text
    assert d.execute_script("return window.labctlNoReload") == "still here"  # updated in place
    st = {s.seat: s for s in lib.status(name)}
    assert f"{st[other].fault}/{st[other].variant}" == c.get_attribute("data-fault") and st[other].machine == "running"
    wait(d, lambda d: d.find_element(By.ID, f"seat-{other}").get_attribute("data-thumb") == "ok", 30, "thumbnail")
    shot(d, "09-dashboard-after-reset.png")

    # new access codes from the dashboard: shown once, and the trainee's older login ends
    ann_cookie = f"{TRAINEE_COOKIE}={server['ann'].get_cookie(TRAINEE_COOKIE)['value']}"
    assert http(server, "GET", f"/api/s/{name}/seat/{own}/ticket", cookie=ann_cookie) == 200
    by_id(d, "new-codes").click()
    wait(d, lambda d: by_id(d, "codes-card").is_displayed(), 30, "the new codes")
    rows = [r.text for r in d.find_elements(By.CSS_SELECTOR, "#codes td.code")]
    assert len(rows) == 2 and all(len(c) == 14 for c in rows), rows
    assert http(server, "GET", f"/api/s/{name}/seat/{own}/ticket", cookie=ann_cookie) == 401
    shot(d, "10-dashboard-new-codes.png")

    # the report, from the dashboard's link
    d.get(f"{server['base']}/instructor/s/{name}/report.html")
    assert "Ann Lee" in d.page_source and "Bob Roy" in d.page_source
    shot(d, "11-report.png")
    timing(f"instructor flow: {time.monotonic() - t0:.1f} s\n")
