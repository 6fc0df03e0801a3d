"""Making a guest one particular seat, and keeping it so after every restore.

Its host name, passwords, SSH host key and trust, RDP certificate, company-laptop
identity; the clock and random generator after a restore; the user's desktop
session. This is Debian's shell, spoken through the guest agent: what a guest-OS
profile would take over (docs/architecture.md).
"""

from __future__ import annotations

import secrets
import time

from ..errors import GuestError
from .credentials import DESKTOP_USER, RDP_CERT, SUPPORT_USER, Credentials, rdp_fingerprint

# xrdp.ini's certificate= and key_file= are empty in Debian's file: these are the paths it uses.
XRDP_CERT, XRDP_KEY = "/etc/xrdp/cert.pem", "/etc/xrdp/key.pem"

DESKTOP_READY = (
    # The user's XFCE session runs on the machine's screen (lightdm autologin on :0),
    # its desktop is drawn, and xrdp accepts RDP connections.
    "pid=$(pgrep -u alex -x xfce4-session | head -n1); [ -n \"$pid\" ] || exit 1; "
    "tr '\\0' '\\n' < /proc/$pid/environ | grep -qx 'DISPLAY=:0' || exit 2; "
    "pgrep -u alex -x xfdesktop >/dev/null || exit 3; pgrep -u alex -x xfce4-panel >/dev/null || exit 4; "
    "systemctl is-active --quiet xrdp || exit 5"
)


def wait_for_desktop(agent, *, deadline: float, what: str) -> None:
    """Wait until the user's graphical session is up (desktop images)."""
    waited = False
    while True:
        res = agent.sh(DESKTOP_READY, timeout=20)
        if res.ok:
            if waited:
                time.sleep(5)  # xfdesktop draws the wallpaper and icons a moment after it starts
            return
        waited = True
        if time.monotonic() > deadline:
            raise GuestError(f"{what}: the user's desktop session did not start (step {res.rc})",
                             hint="see /var/log/lightdm/ and ~alex/.xsession-errors in the guest")
        time.sleep(2)


class Personalisation:
    """A seat's identity in its guest; part of :class:`labctl.seats.SeatManager` (needs ``cfg``, ``backend``)."""

    def _personalise(self, seat: str, dom, creds: Credentials, new_identity: bool = False) -> None:
        """Give the clone its own name, passwords and SSH trust.

        ``new_identity``: the guest was restored from the image's warm state, so
        it shares machine id and SSH host keys with every other warm seat; make
        new ones.
        """
        agent = self.backend.agent(dom)
        pub = (self.folder(seat) / "id_ed25519.pub").read_bytes()
        hostname = f"ws-{seat}"
        # One guest command for all of it: under software emulation each command the
        # agent starts costs 0.2-0.3 s, systemctl and hostnamectl about a second each
        # (measured 2026-11-25). The passwords come in on standard input (never in an
        # argument list a `ps` would show), two lines before the SSH key; chpasswd
        # also clears the image's lock on both accounts (images/workstation).
        identity = (
            "systemd-id128 new > /etc/machine-id.new && mv /etc/machine-id.new /etc/machine-id; "
            # journald files its logs under the machine id it started with; without a
            # restart `journalctl` on the seat shows nothing at all.
            "systemctl --no-block restart systemd-journald; "
            "rm -f /etc/ssh/ssh_host_*; ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key; "
            # What `systemctl reload ssh` does, without systemctl's own second.
            "kill -HUP \"$(cat /run/sshd.pid)\"; "
        ) if new_identity else ""
        script = (
            "set -e; { read -r u; read -r s; printf '%s\\n%s\\n' \"$u\" \"$s\"; } | chpasswd; "
            + identity
            + f"echo {hostname} > /etc/hostname; hostname {hostname}; "
            f"sed -i 's/^127.0.1.1.*/127.0.1.1\\t{hostname}/' /etc/hosts; "
            "install -d -m 700 -o support -g support /home/support/.ssh; "
            "install -m 600 -o support -g support /dev/stdin /home/support/.ssh/authorized_keys; "
            "for i in $(seq 1 100); do [ -s /etc/ssh/ssh_host_ed25519_key.pub ] && break; sleep 0.2; done; "
            "sync"
        )
        secrets_in = f"{DESKTOP_USER}:{creds.user_password}\n{SUPPORT_USER}:{creds.support_password}\n".encode()
        # A few seconds on a quiet host; a desktop guest on a host running eight other
        # emulated guests took over a minute (measured 2026-11-25, load 8).
        res = agent.sh(script, input=secrets_in + pub, timeout=240)
        if not res.ok:
            raise GuestError(f"seat {seat}: personalising failed: "
                             + ("timed out after 240 s" if res.timed_out else res.stderr.strip() or str(res.rc)))
        hostkey = agent.read_file("/etc/ssh/ssh_host_ed25519_key.pub")
        if not hostkey:
            raise GuestError(f"seat {seat}: the guest has no SSH host key")
        host = self._ssh_host()
        ports = self._record(dom).ports
        port = ports["ssh"]
        key_type, key_b64 = hostkey.decode().split()[:2]
        (self.folder(seat) / "known_hosts").write_text(f"[{host}]:{port} {key_type} {key_b64}\n")
        if ports.get("rdp"):
            self._personalise_rdp(seat, agent, hostname)

    def _personalise_rdp(self, seat: str, agent, hostname: str) -> None:
        """Give the seat's xrdp a TLS key and certificate of its own, and pin the certificate on the host.

        The image (and so every warm seat) comes with one key: anyone with the image
        could pose as any seat's RDP service. The new certificate is kept in the seat's
        folder; `seat info` shows its fingerprint for the RDP client to check. Classic
        RDP security, whose RSA key (rsakeys.ini) is the image's too, is turned off:
        TLS only. xrdp reads both files at each connection, so no restart is needed.
        """
        script = (
            "set -e; umask 077; cd /etc/xrdp; "
            # ECDSA P-256: under a second even under emulation (RSA 2048: about 5 s there).
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 "
            f"-subj /CN={hostname} -addext subjectAltName=DNS:{hostname} "
            "-keyout key.pem.new -out cert.pem.new 2>/dev/null; "
            # xrdp reads its key through the ssl-cert group (images/desktop/customize.sh).
            "chgrp ssl-cert key.pem.new; chmod 640 key.pem.new; chmod 644 cert.pem.new; "
            f"mv -f key.pem.new {XRDP_KEY}; mv -f cert.pem.new {XRDP_CERT}; "
            "sed -i 's/^security_layer=.*/security_layer=tls/' xrdp.ini; grep -qx 'security_layer=tls' xrdp.ini; "
            "sync"
        )
        res = agent.sh(script, timeout=60)
        if not res.ok:
            raise GuestError(f"seat {seat}: making the RDP certificate failed: {res.stderr.strip() or res.rc}")
        pinned = self.folder(seat) / RDP_CERT
        pinned.write_bytes(agent.read_file(XRDP_CERT) or b"")
        if rdp_fingerprint(pinned) is None:
            raise GuestError(f"seat {seat}: the guest's RDP certificate ({XRDP_CERT}) cannot be read")

    def _personalise_company(self, seat: str, dom, creds: Credentials, server) -> None:
        """Put the seat's VPN identity, the lab CA and its network-folder account in; connect the VPN."""
        from ..server import company_client_files, company_user, fstab_line

        user = company_user(seat)
        # A new seat starts with an empty network folder, even if a seat of the same name
        # was destroyed while the server was stopped (its account stayed then).
        server.remove_user(user)
        server.add_user(user, creds.smb_password)
        agent = self.backend.agent(dom)
        for path, (data, mode) in company_client_files(server.pki, seat, user, creds.smb_password).items():
            res = agent.write_file(path, data, mode=mode, timeout=30)
            if not res.ok:
                raise GuestError(f"seat {seat}: cannot write {path}: {res.stderr.strip()}")
        script = (
            "grep -v ' /home/alex/Network cifs ' /etc/fstab > /etc/fstab.new; cat >> /etc/fstab.new; "
            "mv /etc/fstab.new /etc/fstab; "
            "update-ca-certificates >/dev/null 2>&1; "
            "systemctl daemon-reload; systemctl start home-alex-Network.automount; "
            "systemctl restart openvpn-client@corp; "
            # Up before the pristine state is saved, so that every reset finds it up.
            "for i in $(seq 1 120); do ip -4 addr show dev tun0 2>/dev/null | grep -q 'inet ' && exit 0; sleep 0.5; done; "
            "echo 'the VPN did not come up' >&2; exit 1"
        )
        # update-ca-certificates alone takes 45 s on a desktop seat under emulation (one process per
        # CA certificate); with seats and the server starting beside it, 120 s was not enough.
        res = agent.sh(script, input=(fstab_line(user) + "\n").encode(), timeout=300)
        if not res.ok:
            raise GuestError(f"seat {seat}: company setup failed: {res.stderr.strip() or res.rc}",
                             hint="`labctl server status` shows whether the company server answers")

    def _reconnect_company(self, dom) -> None:
        """After a restore the VPN's TCP connection is gone (its relay died with the old QEMU).

        Restart the client only if it was running when the state was saved: a
        fault that stopped it stays stopped.
        """
        rec = self._record(dom)
        if rec is None or not rec.company:
            return
        # Wait (bounded) until it is connected again, so that what runs next after a
        # restore (checks, a fault's step) finds the VPN as it was when the state was saved.
        try:
            self.backend.agent(dom).sh(
                "umount -l -t cifs -a 2>/dev/null; "
                "systemctl is-active -q openvpn-client@corp || exit 0; "
                "systemctl --no-block restart openvpn-client@corp; "
                "for i in $(seq 1 90); do systemctl is-active -q openvpn-client@corp && exit 0; sleep 0.5; done",
                timeout=60)
        except GuestError:
            pass

    def _after_restore(self, dom, *, strict: bool = False) -> None:
        """After a restore: set the guest's clock to now and reseed its random generator.

        The clock of a restored guest is in the past. ``date -s`` through the
        agent rather than guest-set-time, which also writes the RTC with hwclock:
        about a second under software emulation.

        Every seat restored from the same saved memory (the image's warm state,
        or a seat's own pristine state at each reset) starts with the same kernel
        random state, and Linux reseeds on its own only about once a minute: two
        warm seats would make the same SSH host keys and machine id. Host
        randomness goes in, and the kernel is told to reseed now (RNDRESEEDCRNG).

        ``strict``: raise when the guest did not take it (at creation, where the
        seat's identity depends on it); resets carry on.
        """
        script = (
            f"/bin/date -u -s @{time.time():.3f} >/dev/null; "
            "exec perl -e 'binmode STDIN; local $/; my $d = <STDIN>; "
            "open(my $f, \">\", \"/dev/urandom\") or die \"urandom: $!\\n\"; "
            "syswrite($f, $d) == length($d) or die \"write: $!\\n\"; "
            "ioctl($f, 0x5207, 0) or die \"reseed: $!\\n\"'"
        )
        try:
            res = self.backend.agent(dom).sh(script, input=secrets.token_bytes(64), timeout=10)
        except GuestError:
            if strict:
                raise
            return
        if strict and not res.ok:
            raise GuestError(f"domain {dom.name()}: cannot reseed the guest's random generator: "
                             f"{res.stderr.strip() or res.rc}")

    def _restart_desktop(self, dom, *, deadline: float, what: str) -> None:
        """A new graphical session for the user (desktop images, after the host name changed).

        The session saved in the warm state was started under the image's host name;
        once the seat has its own, the window manager loses its X and session-manager
        connections and the screen stays black (measured: 1 colour after a warm start,
        a drawn desktop after this). Restarting lightdm logs the user in afresh.
        """
        agent = self.backend.agent(dom)
        old = agent.sh("pgrep -u alex -x xfce4-session | head -n1", timeout=20).stdout.strip()
        agent.run(["/bin/systemctl", "restart", "lightdm"], timeout=90)
        while True:
            now = agent.sh("pgrep -u alex -x xfce4-session | head -n1", timeout=20).stdout.strip()
            if now and now != old:
                return
            if time.monotonic() > deadline:
                raise GuestError(f"{what}: the user's desktop session did not start again after lightdm restarted",
                                 hint="see /var/log/lightdm/ in the guest")
            time.sleep(2)

    def _wait_for_drawn_screen(self, dom, *, deadline: float, what: str, min_colours: int = 256) -> None:
        """Wait until the screen shows a drawn desktop (many colours), not a black or text screen."""
        from ..hypervisor.screen import Screen

        while True:
            colours = Screen.from_bytes(self.backend.screenshot(dom)).colours()
            if colours >= min_colours:
                return
            if time.monotonic() > deadline:
                raise GuestError(f"{what}: the desktop is not drawn on the screen ({colours} colours)",
                                 hint="see ~alex/.xsession-errors in the guest")
            time.sleep(2)
