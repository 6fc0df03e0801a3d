#!/bin/sh
# The reference repair: the nightly backup scheduled and working again, to the backup
# drive, and one backup made now (the user asked for it).
# Usage: fix.sh VARIANT USER
set -eu
variant="$1"; user="$2"
dest=/srv/backup/$user
case "$variant" in
  timer-disabled) systemctl enable --now nwbackup.timer ;;
  wrong-destination) sed -i "s|^BACKUP_DIR=.*|BACKUP_DIR=$dest|" /etc/nwbackup/nwbackup.conf ;;
  destination-permissions) chown "$user:$user" "$dest"; chmod 0700 "$dest" ;;
esac
systemctl start nwbackup.service
