#!/bin/sh
# Break the timesheet with the variant's conflict. Running it twice gives the same machine.
# Usage: inject.sh VARIANT TIMESHEET_PORT
set -eu
variant="$1"; tport="$2"

held() { ! flock -n /var/lib/timesheet/app.lock true; }

case "$variant" in
  port)
    # Photo Sync was set to the timesheet's port and starts first.
    conf=/etc/photo-sync/photo-sync.conf
    systemctl stop timesheet.service
    if ! grep -qx "PORT=$tport" "$conf"; then
      sed -i "s/^PORT=.*/PORT=$tport/" "$conf"
      touch -d '15 hours ago' "$conf"
    fi
    systemctl restart photo-sync.service
    ;;
  legacy)
    # The previous version is enabled again and holds the port with its old page.
    systemctl stop timesheet.service
    systemctl enable timesheet-legacy.service >/dev/null 2>&1
    touch -h -d '15 hours ago' /etc/systemd/system/multi-user.target.wants/timesheet-legacy.service
    systemctl start timesheet-legacy.service
    ;;
  lock)
    # The payroll export hangs on a transfer left marked in progress, holding the data lock.
    systemctl stop timesheet.service
    flag=/run/timesheet-export/transfer.inprogress
    install -d -o timesheet -g timesheet -m 0755 /run/timesheet-export
    if [ ! -e "$flag" ]; then
      printf '4316\n' > "$flag"
      chown timesheet:timesheet "$flag"
      chmod 0644 "$flag"
      touch -d "$(date -d yesterday +%F) 01:30:04" "$flag"
    fi
    systemctl start --no-block timesheet-export.service
    i=0
    until held; do
      i=$((i + 1))
      [ "$i" -le 120 ] || { echo "the export did not take the lock" >&2; exit 1; }
      sleep 0.5
    done
    ;;
  *) echo "unknown variant $variant" >&2; exit 2 ;;
esac
systemctl start --no-block timesheet.service
# Let the timesheet fail its start before we leave.
i=0
while [ "$i" -lt 60 ]; do
  state=$(systemctl show -p ActiveState --value timesheet.service)
  sub=$(systemctl show -p SubState --value timesheet.service)
  [ "$state" = activating ] && [ "$sub" = auto-restart ] && break
  [ "$state" = failed ] && break
  i=$((i + 1))
  sleep 0.5
done
