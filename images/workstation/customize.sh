#!/bin/sh
# Runs on the host with the image's root folder as $1 (mmdebstrap customize hook),
# after images/base/base.sh.
set -eu
root="$1"
in_root() { chroot "$root" "$@"; }

echo workstation > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tworkstation\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"

# The caller: an ordinary user with no admin rights.
in_root useradd --create-home --shell /bin/bash --comment "Alex Martin" --groups users alex
# The technician's account: admin rights through sudo, with a password.
in_root useradd --create-home --shell /bin/bash --comment "Helpdesk support" --groups sudo support
# Passwords are set per seat by labctl; until then both accounts are locked.
in_root passwd -l alex >/dev/null
in_root passwd -l support >/dev/null
install -d -m 700 -o "$(in_root id -u support)" -g "$(in_root id -g support)" "$root/home/support/.ssh"

# A few everyday documents the user cares about.
docs="$root/home/alex/Documents"
install -d "$docs"
printf 'Quarterly report - draft\n\nSales are up 4%% on last quarter.\n' > "$docs/quarterly-report.txt"
printf 'Meeting notes\n- order new toner\n- book room 2.14\n' > "$docs/meeting-notes.txt"
install -d "$root/home/alex/Downloads" "$root/home/alex/Desktop" "$root/home/alex/Network"
# The intranet is the user's home page (desktop link; text browsers read WWW_HOME).
printf '[Desktop Entry]\nType=Link\nName=Intranet\nURL=https://intranet.corp.lab/\nIcon=web-browser\n' \
    > "$root/home/alex/Desktop/Intranet.desktop"
in_root chown -R alex:alex /home/alex

# The company's DNS (corp.lab), asked over TCP: the seat reaches the company
# through QEMU guestfwd, which carries TCP only (docs/network.md).
printf 'nameserver 10.0.2.53\nsearch corp.lab\noptions use-vc timeout:3 attempts:2\n' > "$root/etc/resolv.conf"

# The company VPN starts at boot once labctl has put the seat's key in
# (unit drop-in: ConditionPathExists); a seat without the company never tries.
in_root systemctl enable openvpn-client@corp.service
in_root systemctl mask openvpn.service 2>/dev/null || true
chmod 700 "$root/etc/openvpn/client"
# The network folder is mounted by systemd (fstab automount), as root: mount.cifs
# needs no set-uid bit, and the security baseline allows only Debian's usual ones.
in_root dpkg-statoverride --update --add root root 0755 /sbin/mount.cifs
