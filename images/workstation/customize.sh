#!/bin/sh
# Runs on the host with the image's root folder as $1 (mmdebstrap customize hook).
set -eu
root="$1"
in_root() { chroot "$root" "$@"; }

echo workstation > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tworkstation\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
echo '/dev/vda / ext4 errors=remount-ro 0 1' > "$root/etc/fstab"

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
install -d "$root/home/alex/Downloads" "$root/home/alex/Desktop"
in_root chown -R alex:alex /home/alex

# Network by match-all DHCP (the NIC's name depends on its PCI slot).
in_root systemctl enable systemd-networkd.service
in_root systemctl disable systemd-networkd-wait-online.service 2>/dev/null || true
in_root systemctl mask systemd-networkd-wait-online.service
echo 'nameserver 10.0.2.3' > "$root/etc/resolv.conf"

# Every seat gets its own SSH host keys and machine id on first boot.
rm -f "$root"/etc/ssh/ssh_host_*
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
in_root systemctl enable labctl-firstboot.service

# No clock sync from the internet (there is none); labctl sets the clock.
in_root systemctl mask systemd-timesyncd.service 2>/dev/null || true
# Faster boots under software emulation.
in_root systemctl mask apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer 2>/dev/null || true

# Keep the image small.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/*
