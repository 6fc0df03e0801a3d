"""The desktop image on a real seat: the user's live XFCE session on the seat's screen, RDP and SSH.

One desktop seat for the module, started from the image's warm state; tests
that change it reset it. Screenshots (PNG) are kept under
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
    """A desktop seat (warm start); destroyed at the end of the module."""
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
    name = f"desk-{secrets.token_hex(2)}"
    started = time.monotonic()
    mgr.create(name, IMAGE)
    print(f"desktop seat {name} created (warm start) in {time.monotonic() - started:.1f} s")
    yield mgr, name
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


def settled(mgr, seat, *, timeout=90.0, differs_from=None):
    """The screen once it stops changing (two equal screenshots 2 s apart), and different from ``differs_from``."""
    deadline = time.monotonic() + timeout
    last = mgr.screenshot(seat)
    while time.monotonic() < deadline:
        time.sleep(2)
        now = mgr.screenshot(seat)
        if now.rgb == last.rgb and (differs_from is None or now.differing_pixels(differs_from) > 0):
            return now
        last = now
    return last


def desktop_session(agent) -> dict:
    """The user's graphical session as the guest sees it: owner and display of xfce4-session."""
    res = agent.sh("pid=$(pgrep -x xfce4-session | head -n1) && ps -o user= -p $pid && "
                   "tr '\\0' '\\n' < /proc/$pid/environ | grep '^DISPLAY='", timeout=30)
    lines = res.stdout.split()
    return {"ok": res.ok, "user": lines[0] if lines else "", "display": lines[1] if len(lines) > 1 else ""}


def as_alex_on_screen(agent, command: str):
    """Start a program in the user's session on the seat's screen, as the user would."""
    script = ("uid=$(id -u alex); exec runuser -u alex -- env DISPLAY=:0 XDG_RUNTIME_DIR=/run/user/$uid "
              "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$uid/bus setsid -f " + command + " >/dev/null 2>&1")
    res = agent.sh(script, timeout=30)
    assert res.ok, res.stderr


def test_user_is_logged_in_to_xfce_on_the_seat_screen(desk):
    mgr, seat = desk
    agent = mgr.agent(seat)
    assert desktop_session(agent) == {"ok": True, "user": "alex", "display": "DISPLAY=:0"}
    # The screen the session draws on is the machine's own (lightdm's X server on a VT), not a virtual one.
    res = agent.sh("ps -o args= -C Xorg", timeout=30)
    assert res.ok and ":0" in res.stdout and "vt" in res.stdout, res.stdout
    info = mgr.info(seat)
    assert set(info.record.ports) == {"ssh", "rdp"} and info.vnc_port


def test_screenshot_shows_the_desktop_not_a_console(desk, shots):
    mgr, seat = desk
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


def rdp(host: str, port: int, user: str, password: str) -> subprocess.CompletedProcess:
    """An RDP login from the host with FreeRDP, authentication only (no session window)."""
    return subprocess.run(["xfreerdp", "/auth-only", f"/v:{host}:{port}", f"/u:{user}", f"/p:{password}",
                           "/cert:ignore", "/sec:tls", "/log-level:ERROR"],
                          capture_output=True, text=True, timeout=120)


def test_rdp_login_with_the_seat_credentials(desk):
    mgr, seat = desk
    if shutil.which("xfreerdp") is None:
        if IN_CI:
            pytest.fail("xfreerdp is not installed (scripts/test.sh installs freerdp2-x11)")
        pytest.skip("xfreerdp is not installed (apt-get install freerdp2-x11)")
    info = mgr.info(seat)
    creds = info.credentials
    port = info.record.ports["rdp"]
    good = rdp("127.0.0.1", port, "support", creds.support_password)
    assert good.returncode == 0, good.stdout + good.stderr
    wrong = rdp("127.0.0.1", port, "support", creds.support_password + "x")
    assert wrong.returncode != 0, wrong.stdout + wrong.stderr
    # Another seat's password is another wrong one: the accounts are per seat.
    assert rdp("127.0.0.1", port, "alex", creds.user_password).returncode == 0


def test_ssh_as_support_with_the_seat_key(desk):
    mgr, seat = desk
    res = mgr.ssh(seat).run(["id", "-un"], timeout=60)
    assert res.ok and res.stdout.strip() == "support", res.stderr


def test_fault_shows_on_the_user_screen_and_reset_clears_it(desk, lab_cfg, shots):
    from pathlib import Path

    from labctl.faults.engine import FaultEngine
    from labctl.faults.manifest import Catalog

    mgr, seat = desk
    root = Path(__file__).resolve().parents[2]
    engine = FaultEngine(lab_cfg, mgr, Catalog(root / "faults"))
    agent = mgr.agent(seat)
    d, _ = engine.stage(seat, "deleted-files", seed=7, variant="trash")
    folder = f"/home/alex/Documents/{d.params['project']}"
    # The user has the project folder open in the file manager, as when they call the helpdesk.
    before_window = mgr.screenshot(seat)
    as_alex_on_screen(agent, f"thunar {folder}")
    healthy = settled(mgr, seat, differs_from=before_window)
    shots("03-project-folder-healthy", healthy)
    engine.break_staged(seat)
    broken = settled(mgr, seat, differs_from=healthy)
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
    assert desktop_session(agent)["user"] == "alex"
    assert agent.sh(f"test -e {folder}", timeout=30).rc != 0  # pristine: the recipe's folder does not exist
    pristine = settled(mgr, seat)
    shots("05-after-reset", pristine)
    assert pristine.colours() >= MIN_DESKTOP_COLOURS
