#!/bin/sh
# Runs on the host with the image's root folder as $1 (mmdebstrap customize hook),
# before the hooks of the image that extends base.
set -eu
root="$1"
in_root() { chroot "$root" "$@"; }

echo '/dev/vda / ext4 errors=remount-ro 0 1' > "$root/etc/fstab"

# Network by match-all DHCP (the NIC's name depends on its PCI slot).
in_root systemctl enable systemd-networkd.service
in_root systemctl disable systemd-networkd-wait-online.service 2>/dev/null || true
in_root systemctl mask systemd-networkd-wait-online.service

# Every guest gets its own SSH host keys and machine id on first boot.
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
