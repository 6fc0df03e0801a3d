#!/bin/sh
# Runs on the host with the image's root folder as $1 (mmdebstrap customize hook).
set -eu
root="$1"
in_root() { chroot "$root" "$@"; }

echo server > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tserver.corp.lab server\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
# The server answers the company's names itself.
printf 'nameserver 127.0.0.1\nsearch corp.lab\n' > "$root/etc/resolv.conf"

# Network folders: one per user under /srv/shares, copies under /srv/backup.
install -d -m 755 "$root/srv/shares" "$root/srv/backup"
chmod 755 "$root/usr/local/sbin/corp-backup"

# Services: DNS and files run from the first boot; the VPN and the intranet
# need the lab's keys, which labctl pushes in (their units wait for the files).
in_root systemctl enable dnsmasq.service smbd.service nginx.service openvpn-server@corp.service
in_root systemctl mask nmbd.service samba-ad-dc.service openvpn.service 2>/dev/null || true
rm -f "$root/etc/nginx/sites-enabled/default"
ln -sf ../sites-available/intranet "$root/etc/nginx/sites-enabled/intranet"
