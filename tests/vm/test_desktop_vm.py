"""The desktop image on a real seat: the user's live XFCE session on the seat's screen, RDP and SSH.

One desktop seat for the module, started from the image's warm state; tests
that change it reset it. A second one, made beside it, shows that each seat has its
own RDP key and certificate (pinned on the host, served on its port) and is then
destroyed. Screenshots (PNG) are kept under
<state_dir>/artifacts/desktop/ for a person (or CI) to look at.
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
    names = [f"desk-{tag}", f"desk2-{tag}"]
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

    return keep


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
