#!/bin/sh
# The reference repair: end the conflict the right way for each variant, both programs usable.
# Usage: fix.sh VARIANT TIMESHEET_PORT PHOTO_PORT
set -eu
variant="$1"; tport="$2"; pport="$3"

case "$variant" in
  port)
    # Photo Sync back on its own port, then the timesheet can take its own.
    sed -i "s/^PORT=.*/PORT=$pport/" /etc/photo-sync/photo-sync.conf
    systemctl restart photo-sync.service
    ;;
  legacy)
    # The old version off for good; the current one on.
    systemctl disable --now timesheet-legacy.service >/dev/null 2>&1
    ;;
  lock)
    # End the stuck export and clear the transfer it waits for; the nightly timer stays.
    systemctl stop timesheet-export.service
    rm -f /run/timesheet-export/transfer.inprogress
    ;;
  *) echo "unknown variant $variant" >&2; exit 2 ;;
esac
systemctl enable timesheet.service photo-sync.service timesheet-export.timer >/dev/null 2>&1
systemctl start timesheet-export.timer
systemctl restart timesheet.service
# Both answer before we leave.
i=0
until curl -fsS --max-time 3 -o /dev/null "http://127.0.0.1:$tport/" && \
      curl -fsS --max-time 3 -o /dev/null "http://127.0.0.1:$pport/"; do
  i=$((i + 1))
  [ "$i" -le 30 ] || { echo "the programs do not answer" >&2; exit 1; }
  sleep 1
done
