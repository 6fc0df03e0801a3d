"""The desktop image on a real seat: the user's live XFCE session on the seat's screen, RDP and SSH,
and the trainee driving that desktop from a browser.

One desktop seat for the module, started from the image's warm state; tests
that change it reset it. A second one, made beside it, shows that each seat has its
own RDP key and certificate (pinned on the host, served on its port) and is then
destroyed.

In the browser (headless Chromium through Selenium, as in test_web_vm.py, whose helpers
it imports): a class of one trainee is made on the module's seat (the session adopts
the running machine, so no other one boots, and injects deleted-files), `labctl serve`
runs, the trainee logs in with the access code, reads the ticket and opens the seat's
screen; the noVNC canvas is the XFCE desktop (thousands of colours, the same pixels as
libvirt's screenshot of the guest); a right-click in the browser opens XFCE's desktop
menu on the guest, its corner at the pointer; its "Open Terminal Here" starts a terminal
as alex; the repair typed there (today's items back from the trash) makes the fault's
checks pass. The seat is reset to pristine after.

Screenshots (PNG: libvirt's, the canvas, the browser page) and the measurements
(web-measure.json) are kept under <state_dir>/artifacts/desktop/ for a person (or CI)
to look at. In CI a missing Chromium, driver, Selenium or noVNC is a failure.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time

import pytest

from tests.conftest import IN_CI, _unavailable

pytestmark = pytest.mark.vm

IMAGE = "desktop"
# A VGA text console shows at most 16 colours; XFCE's wallpaper, icons and anti-aliased text thousands.
MIN_DESKTOP_COLOURS = 1000


@pytest.fixture(scope="module")
def desk(lab_cfg, vm_ready):
    """Two desktop seats made side by side (warm start). The first serves the whole module;
    the second only shows that seats get their own RDP identity, and is destroyed after that."""
    from labctl import images
    from labctl.errors import LabError
    from labctl.seats import SeatManager

    try:
        images.find_built(lab_cfg, IMAGE)
    except LabError:
        if not IN_CI:
            _unavailable(f"{IMAGE} image not built (labctl image build {IMAGE})")
        images.build(lab_cfg, IMAGE)
    mgr = SeatManager(lab_cfg)
    mgr.warm_up(IMAGE)
    tag = secrets.token_hex(2)
    # The first one is named as the first seat of session desk<tag> (<session>-01): the class of
    # desk_class adopts it, running, instead of booting a machine of its own.
    names = [f"desk{tag}-01", f"desk2-{tag}"]
    started = time.monotonic()
    made, errors = mgr.create_many(names, IMAGE, parallel=2)
    print(f"desktop seats {', '.join(names)} created side by side (warm start) in {time.monotonic() - started:.1f} s")
    try:
        assert not errors, {n: e.message for n, e in errors.items()}
        yield mgr, names[0], names[1]
    finally:
        for name in names:
            try:
                mgr.destroy(name)
            except LabError:
                pass


@pytest.fixture(scope="module")
def shots(lab_cfg):
    folder = lab_cfg.state_dir / "artifacts" / "desktop"
    folder.mkdir(parents=True, exist_ok=True)

    def keep(name: str, screen) -> None:
        (folder / f"{name}.png").write_bytes(screen.png())

    keep.folder = folder
    return keep


DESK_SCENARIO = """\
title: The desktop in the browser
mode: remote
language: en
time_limit_min: 60
image: desktop
pool: {faults: [deleted-files]}
sla: {P1: 15, P2: 30, P3: 45, P4: 60, P5: 120}
"""


@pytest.fixture(scope="module")
def desk_class(desk, lab_cfg, tmp_path_factory):
    """A class of one trainee whose seat is the module's desktop seat, for `labctl serve`.

    The session's first seat is the running desk seat (same name): creating the session
    adopts it, injects its fault (deleted-files, the trash variant with this seed) and
    issues the ticket and the access code; no other machine boots. At the end of the
    module the session is destroyed with its seat and its records are purged.
    """
    from labctl.errors import LabError
    from labctl.sessions import Sessions
    from tests.vm.test_web_vm import chromium_or_fail

    browser = chromium_or_fail()  # before the fault goes in: a missing browser costs nothing
    mgr, seat, _ = desk
    name = seat.rsplit("-", 1)[0]
    folder = tmp_path_factory.mktemp("deskclass")
    (folder / "desk-web.yaml").write_text(DESK_SCENARIO)
    (folder / "class.csv").write_text("name,email\nAnn Lee,ann@example.org\n")
    lib = Sessions(lab_cfg, seats=mgr)
    started = time.monotonic()
    try:
        res = lib.create(name, folder / "class.csv", str(folder / "desk-web.yaml"), seed=4, parallel=1)
        assert res.complete, res.errors
        assert [(s.seat, s.machine) for s in res.seats] == [(seat, "running")]
        print(f"session {name}: seat {seat} adopted, {res.seats[0].fault}/{res.seats[0].variant} injected "
              f"in {time.monotonic() - started:.1f} s")
        yield {"lib": lib, "name": name, "code": res.codes["Ann Lee"], "browser": browser,
               "create_s": round(time.monotonic() - started, 1)}
    finally:
        try:
            lib.destroy(name, purge=True)
        except LabError:
            pass


def settled(mgr, seat, *, timeout=90.0, differs_from=None, min_change=1):
    """The screen once it stops changing (two equal screenshots 2 s apart), and at least
    ``min_change`` pixels away from ``differs_from``; the last one seen after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = mgr.screen(seat)
    while time.monotonic() < deadline:
        time.sleep(2)
        now = mgr.screen(seat)
        if now.rgb == last.rgb and (differs_from is None or now.differing_pixels(differs_from) >= min_change):
            return now
        last = now
    return last


def on_screen(agent) -> str:
    """Who owns the graphical session on the machine's screen (display :0), as the guest sees it."""
    res = agent.sh("for pid in $(pgrep -x xfce4-session); do "
                   "tr '\\0' '\\n' < /proc/$pid/environ | grep -qx 'DISPLAY=:0' && ps -o user= -p $pid; done",
                   timeout=30)
    return res.stdout.strip()


def as_alex_on_screen(agent, command: str):
    """Start a program in the user's session on the seat's screen, as the user would."""
    script = ("uid=$(id -u alex); exec runuser -u alex -- env DISPLAY=:0 XDG_RUNTIME_DIR=/run/user/$uid "
              "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$uid/bus setsid -f " + command + " >/dev/null 2>&1")
    res = agent.sh(script, timeout=30)
    assert res.ok, res.stderr


def test_user_is_logged_in_to_xfce_on_the_seat_screen(desk):
    mgr, seat, _ = desk
    agent = mgr.agent(seat)
    assert on_screen(agent) == "alex"
    # The screen the session draws on is the machine's own (lightdm's X server on a VT), not a virtual one.
    res = agent.sh("ps -o args= -C Xorg", timeout=30)
    assert any(line.split()[1:2] == [":0"] and " vt7" in line for line in res.stdout.splitlines()), res.stdout
    info = mgr.info(seat)
    assert set(info.record.ports) == {"ssh", "rdp"} and info.vnc_port


def rdp_negotiate(port: int, protocols: int):
    """Open an RDP connection from the host asking for ``protocols`` (1: TLS, 0: classic RDP security).

    Returns the server's answer type (2: accepted, 3: refused) and, when TLS was accepted,
    the SHA-256 fingerprint (aa:bb:...) of the certificate the seat serves.
    """
    import hashlib
    import socket
    import ssl
    import struct

    neg = struct.pack("<BBHI", 1, 0, 8, protocols)  # RDP_NEG_REQ
    x224 = bytes([6 + len(neg), 0xE0, 0, 0, 0, 0, 0]) + neg  # X.224 Connection Request
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(struct.pack(">BBH", 3, 0, 4 + len(x224)) + x224)  # TPKT
        head = sock.recv(4)
        body = sock.recv(struct.unpack(">H", head[2:4])[0] - 4)
        answer = body[7]
        if answer != 2 or protocols != 1:
            return answer, None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # what is checked is the fingerprint, against the host's pin
        with ctx.wrap_socket(sock) as tls:
            der = tls.getpeercert(binary_form=True)
    return answer, ":".join(f"{b:02x}" for b in hashlib.sha256(der).digest())


def public_key(pem_file) -> str:
    res = subprocess.run(["openssl", "x509", "-in", str(pem_file), "-noout", "-pubkey"],
                         capture_output=True, text=True, check=True)
    return res.stdout


def test_each_desktop_seat_has_its_own_rdp_certificate(desk, tmp_path):
    from labctl.seats import RDP_CERT, rdp_fingerprint

    mgr, seat, other = desk
    try:
        infos = [mgr.info(s) for s in (seat, other)]
        pins = [i.rdp_fingerprint for i in infos]
        assert all(pins), pins
        # What each seat's xrdp serves on its forwarded port is the certificate pinned on the host.
        for info, pin in zip(infos, pins):
            assert rdp_negotiate(info.record.ports["rdp"], 1) == (2, pin), info.name
            # Classic RDP security (the image's shared RSA key) is refused: TLS only.
            assert rdp_negotiate(info.record.ports["rdp"], 0)[0] == 3, info.name
        # Two seats restored from the same saved memory made different keys (not only different names).
        keys = [public_key(i.folder / RDP_CERT) for i in infos]
        assert keys[0] != keys[1]
        # And neither serves the image's own certificate, the one every warm seat starts with.
        image_cert = tmp_path / "image.pem"
        image_cert.write_bytes(mgr.agent(seat).read_file("/etc/ssl/certs/ssl-cert-snakeoil.pem") or b"")
        assert rdp_fingerprint(image_cert) not in (None, *pins)
        assert public_key(image_cert) not in keys
    finally:
        mgr.destroy(other)


def test_screenshot_shows_the_desktop_not_a_console(desk, shots):
    mgr, seat, _ = desk
    agent = mgr.agent(seat)
    desktop = settled(mgr, seat)
    shots("01-desktop", desktop)
    assert desktop.colours() >= MIN_DESKTOP_COLOURS, f"{desktop.colours()} colours: blank or text screen"
    # The same machine switched to its text console (what the workstation image shows): a few colours only.
    vt = ("import fcntl, os, struct, sys; fd = os.open('/dev/tty0', os.O_RDWR); "
          "active = struct.unpack('HHH', fcntl.ioctl(fd, 0x5603, bytes(6)))[0]; "  # VT_GETSTATE
          "target = int(sys.argv[1]) or active; fcntl.ioctl(fd, 0x5606, target); fcntl.ioctl(fd, 0x5607, target); "
          "print(active)")
    res = agent.run(["/usr/bin/python3", "-c", vt, "1"], timeout=30)
    assert res.ok, res.stderr
    graphical_vt = res.stdout.strip()
    try:
        console = settled(mgr, seat, timeout=30, differs_from=desktop)
        shots("02-text-console", console)
    finally:
        back = agent.run(["/usr/bin/python3", "-c", vt, graphical_vt], timeout=30)
    assert back.ok, back.stderr
    assert console.colours() <= 16, f"text console shows {console.colours()} colours"
    assert desktop.differing_pixels(console) > desktop.width * desktop.height // 4
    again = settled(mgr, seat, differs_from=console)
    assert again.colours() >= MIN_DESKTOP_COLOURS


SESMAN_LOG = "/var/log/xrdp-sesman.log"


def rdp_login(mgr, seat: str, user: str, password: str, timeout: float = 90.0) -> str:
    """Log in over RDP from the host with FreeRDP (under Xvfb); what xrdp's session manager made of it.

    The client accepts only the certificate pinned for the seat (`seat info`'s fingerprint):
    a seat serving another one would get no login at all ("no answer").

    FreeRDP's /auth-only proves nothing against xrdp (no NLA: it exits 0 for any
    password), so a real client connects and the seat's xrdp-sesman log says whether
    PAM accepted the password and a session started: "started" or "refused".
    """
    import os
    import signal

    info = mgr.info(seat)
    agent = mgr.agent(seat)
    seen = int(agent.sh(f"wc -l < {SESMAN_LOG}", timeout=30).stdout.strip() or 0)
    client = subprocess.Popen(
        ["xvfb-run", "-a", "timeout", str(int(timeout)), "xfreerdp", f"/v:127.0.0.1:{info.record.ports['rdp']}",
         f"/u:{user}", f"/p:{password}", f"/cert:fingerprint:sha256:{info.rdp_fingerprint}", "/sec:tls",
         "/log-level:ERROR"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    verdict = "no answer"
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and verdict == "no answer":
            time.sleep(2)
            new = agent.sh(f"tail -n +{seen + 1} {SESMAN_LOG}", timeout=30).stdout
            if f"Session started successfully for user {user} " in new:
                verdict = "started"
            elif f"AUTHFAIL: user={user} " in new:
                verdict = "refused"
    finally:
        try:
            os.killpg(client.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        client.wait(timeout=30)
    return verdict


def test_rdp_login_with_the_seat_credentials(desk):
    mgr, seat, _ = desk
    missing = [t for t in ("xfreerdp", "xvfb-run") if shutil.which(t) is None]
    if missing:
        if IN_CI:
            pytest.fail(f"{', '.join(missing)} not installed (scripts/test.sh installs freerdp2-x11 and xvfb)")
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install freerdp2-x11 xvfb)")
    creds = mgr.info(seat).credentials
    assert rdp_login(mgr, seat, "support", creds.support_password + "x") == "refused"
    # alex's password is not support's: the accounts are separate, each with its own per-seat password.
    assert rdp_login(mgr, seat, "support", creds.user_password) == "refused"
    assert rdp_login(mgr, seat, "support", creds.support_password) == "started"
    # The RDP session is a session of its own: the user's screen still shows alex's desktop.
    assert on_screen(mgr.agent(seat)) == "alex"
    assert mgr.agent(seat).sh("pgrep -u support -x Xorg", timeout=30).ok  # xorgxrdp's X server, as support


def test_ssh_as_support_with_the_seat_key(desk):
    mgr, seat, _ = desk
    res = mgr.ssh(seat).run(["id", "-un"], timeout=60)
    assert res.ok and res.stdout.strip() == "support", res.stderr


def pil(screen):
    from PIL import Image

    return Image.frombytes("RGB", (screen.width, screen.height), screen.rgb)


def changed_box(before, after, box):
    """Where (bounding box, in screen pixels) and how much (pixels) ``after`` differs from ``before`` inside ``box``."""
    from PIL import ImageChops

    diff = ImageChops.difference(before.crop(box), after.crop(box)).convert("L").point(lambda v: 255 if v > 24 else 0)
    inner = diff.getbbox()
    where = None if inner is None else (inner[0] + box[0], inner[1] + box[1], inner[2] + box[0], inner[3] + box[1])
    return where, diff.histogram()[255]


def guest_until(mgr, seat, cond, timeout=60.0):
    """libvirt's screenshots of the seat (PIL images) until cond(image) holds; the last one after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        img = pil(mgr.screen(seat))
        if cond(img) or time.monotonic() > deadline:
            return img
        time.sleep(1)


# Where things are on alex's 1280x800 desktop (images/desktop): launchers in the two left
# columns, nothing but wallpaper on the right half; XFCE's desktop menu opens with its corner at
# the pointer, and "Open Terminal Here" is its 6th row (of 25 pixels), under "Paste".
EMPTY_DESKTOP = (900, 250)
OPEN_TERMINAL = (60, 143)
RESTORE_FROM_TRASH = (
    'cd ~/.local/share/Trash; for i in $(grep -lE "=($(date +%F)|$(date -d yesterday +%F))" info/*); '
    'do n=$(basename $i .trashinfo); mv -n files/$n "$(sed -n s/^Path=//p $i)" && rm $i; done')


def test_trainee_sees_and_drives_the_desktop_in_the_browser(desk, desk_class, lab_cfg, shots):
    """Issue #6 on a desktop seat: the trainee's portal of `labctl serve`, the ticket, the screen
    through noVNC showing the XFCE desktop libvirt sees, the browser's mouse and keyboard driving
    it (each step seen on the guest's own screen, not only on the canvas), and a repair made there."""
    import json

    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    from tests.vm.test_web_vm import (agreement, by_id, canvas_image, new_chrome, quit_chrome, serving,
                                      type_line, wait)

    mgr, seat, _ = desk
    lib, name = desk_class["lib"], desk_class["name"]
    out = shots.folder
    m = {"session_create_s": desk_class["create_s"]}
    t0 = time.monotonic()
    try:
        with serving(lab_cfg, name, out / "web-serve.log") as srv:
            d = new_chrome(*desk_class["browser"])
            try:
                # the trainee logs in with the access code and lands on their ticket
                d.get(f"{srv['base']}/?session={name}")
                by_id(d, "code").send_keys(desk_class["code"])
                by_id(d, "login").click()
                wait(d, lambda d: d.current_url.endswith(f"/s/{name}/seat/{seat}/"), what="the own ticket")
                assert by_id(d, "t-subject").text == lib.ticket(name, seat).ticket.subject
                assert "deleted-files" not in d.page_source  # the cause never shows
                d.save_screenshot(str(out / "web-01-trainee-ticket.png"))

                # the user's screen, in a tab of its own: noVNC connects and draws the desktop
                ticket_tab = d.current_window_handle
                by_id(d, "open-screen").click()
                wait(d, lambda d: len(d.window_handles) == 2, what="the screen tab")
                d.switch_to.window([h for h in d.window_handles if h != ticket_tab][0])
                wait(d, lambda d: d.execute_script("return document.body.dataset.vnc") == "connected", 60,
                     "VNC connected")
                wait(d, lambda d: (c := canvas_image(d)) is not None and len(c.getcolors(1 << 24)) >= MIN_DESKTOP_COLOURS,
                     60, "a desktop drawn on the canvas")
                # The canvas is the picture libvirt takes of the guest's display (the clock may tick between two).
                deadline = time.monotonic() + 30
                while True:
                    canvas, guest = canvas_image(d), pil(mgr.screen(seat))
                    m["canvas_vs_guest"] = round(agreement(canvas, guest), 5)
                    if m["canvas_vs_guest"] > 0.97 or time.monotonic() > deadline:
                        break
                    time.sleep(1)
                m["canvas_colours"] = len(canvas.getcolors(1 << 24))
                canvas.save(out / "web-02-canvas.png")
                guest.save(out / "web-02-libvirt.png")
                d.save_screenshot(str(out / "web-02-trainee-screen.png"))
                assert m["canvas_vs_guest"] > 0.97, m
                assert m["canvas_colours"] >= MIN_DESKTOP_COLOURS, f"{m}: a blank or text screen, not the desktop"

                def point(x, y):
                    """Where the desktop's pixel (x, y) is in the page (noVNC scales the canvas to the window)."""
                    r = d.execute_script("const c = document.querySelector('#screen canvas'); "
                                         "const b = c.getBoundingClientRect(); return [b.left, b.top, b.width / c.width];")
                    return round(r[0] + (x + 0.5) * r[2]), round(r[1] + (y + 0.5) * r[2])

                def mouse(x, y, *then):
                    act = ActionBuilder(d)
                    act.pointer_action.move_to_location(*point(x, y))
                    for what in then:
                        getattr(act.pointer_action, what)()
                    act.perform()

                # A right-click on the wallpaper: XFCE's desktop menu opens on the guest, its corner at the pointer.
                x, y = EMPTY_DESKTOP
                mouse(x, y)
                time.sleep(2)
                before = pil(mgr.screen(seat))
                area = (x - 60, y - 60, min(before.width, x + 500), min(before.height, y + 540))
                mouse(x, y, "context_click")
                menu = guest_until(mgr, seat, lambda i: changed_box(before, i, area)[1] > 20_000, 60)
                box, pixels = changed_box(before, menu, area)
                menu.save(out / "web-03-libvirt-menu.png")
                time.sleep(1.5)
                canvas_image(d).save(out / "web-03-canvas-menu.png")
                m["menu"] = {"click": [x, y], "changed_box": box, "changed_pixels": pixels,
                             "canvas_vs_guest": round(agreement(canvas_image(d), pil(mgr.screen(seat))), 5)}
                assert pixels > 20_000, f"no menu on the guest's screen after a right-click in the browser: {m['menu']}"
                assert abs(box[0] - x) <= 12 and abs(box[1] - y) <= 12, f"the menu is not at the pointer: {m['menu']}"
                assert m["menu"]["canvas_vs_guest"] > 0.97, m

                # Its "Open Terminal Here", clicked in the browser: a terminal window opens, alex's, on the guest.
                agent = mgr.agent(seat)

                def terminals() -> set[str]:
                    return set(agent.sh("pgrep -u alex -x xfce4-terminal || true", timeout=30).stdout.split())

                running = terminals()
                whole = (0, 0, menu.width, menu.height)
                mouse(x + OPEN_TERMINAL[0], y + OPEN_TERMINAL[1], "click")
                window = guest_until(mgr, seat, lambda i: changed_box(menu, i, whole)[1] > 100_000, 60)
                window.save(out / "web-04-libvirt-terminal.png")
                m["terminal"] = {"changed_pixels": changed_box(menu, window, whole)[1],
                                 "new_terminal": sorted(terminals() - running)}
                assert m["terminal"]["changed_pixels"] > 100_000, f"no window opened on the guest: {m['terminal']}"
                assert m["terminal"]["new_terminal"], f"no terminal started for alex: {m['terminal']}"

                # The repair, typed in that terminal from the browser (the recipe's restore-as-user):
                # today's items of alex's trash go back where their .trashinfo says they came from.
                assert lib.engine.check(seat).status == "fail"
                terminal = m["terminal"]["new_terminal"][0]
                for _ in range(30):  # the terminal's shell is up
                    if agent.sh(f"pgrep -u alex -P {terminal} bash", timeout=30).ok:
                        break
                    time.sleep(1)
                time.sleep(1)
                type_line(d, RESTORE_FROM_TRASH, 3, chunk=6)
                status = ""
                for _ in range(5):
                    status = lib.engine.check(seat).status
                    if status == "pass":
                        break
                    time.sleep(3)
                done = pil(mgr.screen(seat))
                done.save(out / "web-05-libvirt-repaired.png")
                canvas_image(d).save(out / "web-05-canvas-repaired.png")
                d.save_screenshot(str(out / "web-05-trainee-screen-repaired.png"))
                m["repair_check"] = status
                m["terminal"]["canvas_vs_guest"] = round(agreement(canvas_image(d), done), 5)
                assert status == "pass", "the repair typed in the browser did not take (see web-05-*.png)"
                assert m["terminal"]["canvas_vs_guest"] > 0.97, m
            finally:
                quit_chrome(d, out / "web-browser-console.json")
    finally:
        m["browser_s"] = round(time.monotonic() - t0, 1)
        # back to pristine for the tests that follow: the session's fault and the open window go
        t1 = time.monotonic()
        mgr.reset(seat)
        m["reset_s"] = round(time.monotonic() - t1, 1)
        (out / "web-measure.json").write_text(json.dumps(m, indent=1))
    assert mgr.info(seat).record.fault == ""
    assert on_screen(mgr.agent(seat)) == "alex"


def test_fault_shows_on_the_user_screen_and_reset_clears_it(desk, lab_cfg, shots):
    from pathlib import Path

    from labctl.faults.engine import FaultEngine
    from labctl.faults.manifest import Catalog

    mgr, seat, _ = desk
    root = Path(__file__).resolve().parents[2]
    engine = FaultEngine(lab_cfg, mgr, Catalog(root / "faults"))
    agent = mgr.agent(seat)
    d, _ = engine.stage(seat, "deleted-files", seed=7, variant="trash")
    folder = f"/home/alex/Documents/{d.params['project']}"
    # The user has the project folder open in the file manager, as when they call the helpdesk.
    before_window = mgr.screen(seat)
    as_alex_on_screen(agent, f"thunar {folder}")
    # A file manager window is hundreds of pixels each way.
    healthy = settled(mgr, seat, differs_from=before_window, min_change=100_000, timeout=120)
    shots("03-project-folder-healthy", healthy)
    assert healthy.differing_pixels(before_window) >= 100_000, "no file manager window on the screen"
    engine.break_staged(seat)
    broken = settled(mgr, seat, differs_from=healthy, min_change=2000)
    shots("04-project-folder-files-gone", broken)
    # Three file icons and their names went from the window: thousands of pixels, not a clock tick.
    assert healthy.differing_pixels(broken) > 2000
    listing = agent.sh(f"ls {folder}", timeout=30).stdout.split()
    assert not set(d.params["lost"]) & set(listing)
    report = engine.check(seat)
    assert report.status == "fail", report
    secs = mgr.reset(seat)
    assert secs < 60
    assert mgr.info(seat).record.fault == ""
    assert on_screen(agent) == "alex"
    assert agent.sh(f"test -e {folder}", timeout=30).rc != 0  # pristine: the recipe's folder does not exist
    pristine = settled(mgr, seat)
    shots("05-after-reset", pristine)
    assert pristine.colours() >= MIN_DESKTOP_COLOURS
