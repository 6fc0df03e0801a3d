#!/bin/sh
# The nightly backup stopped working eight days ago, the variant's way: the archives of
# the last eight evenings never came, the status says so, and (where the job still runs)
# the last run's failure is in the journal.
# Usage: inject.sh VARIANT USER
set -eu
variant="$1"; user="$2"
dest=/srv/backup/$user
conf=/etc/nwbackup/nwbackup.conf
# The evenings the backup missed (idempotent: only archives newer than 8.5 days go).
find "$dest" -maxdepth 1 -name 'documents-*.tar.gz' -newermt '8 days ago 12:00' -delete
last=$(ls -1 "$dest"/documents-*.tar.gz | sort | tail -n 1)
printf 'last_ok=%s\nlast_archive=%s\nlast_try=%s\nlast_error=\n' "$(stat -c %Y "$last")" "$last" "$(stat -c %Y "$last")" \
  > /var/lib/nwbackup/status
chown "$user:$user" /var/lib/nwbackup/status
case "$variant" in
  timer-disabled)
    # "It kept slowing me down in the evening": the schedule turned off.
    systemctl disable --now nwbackup.timer >/dev/null 2>&1
    ;;
  wrong-destination)
    # The backup drive's folder renamed in the settings during a "clean-up": one letter more.
    sed -i "s|^BACKUP_DIR=.*|BACKUP_DIR=/srv/backups/$user|" "$conf"
    touch -d '9 days ago' "$conf"
    ;;
  destination-permissions)
    # A restore done as root left the user's backup folder root's own.
    chown root:root "$dest"; chmod 0755 "$dest"
    ;;
  *) echo "unknown variant $variant" >&2; exit 2 ;;
esac
# The job that still runs fails as it did every evening since (its error in the journal and the status).
if [ "$variant" != timer-disabled ]; then
  if systemctl start nwbackup.service 2>/dev/null; then echo "the backup should have failed" >&2; exit 1; fi
fi
exit 0
