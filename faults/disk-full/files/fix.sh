#!/bin/sh
# The reference repair: remove the cause, the proper way for each variant.
# Usage: fix.sh VARIANT USER NAME
set -eu
variant="$1"; user="$2"; name="$3"
home=$(getent passwd "$user" | cut -d: -f6)
case "$variant" in
  runaway-log)
    sed -i 's/^LOG_LEVEL=.*/LOG_LEVEL=info/' /etc/syncagent/agent.conf
    systemctl restart syncagent.service
    [ ! -e /var/log/syncagent/debug.log ] || : > /var/log/syncagent/debug.log
    ;;
  trash)
    rm -rf "$home/.local/share/Trash/files/"* "$home/.local/share/Trash/info/"*
    ;;
  cache)
    rm -rf "$home/.cache/$name"
    ;;
  download)
    rm -f "$home/Downloads/$name"
    ;;
esac
sync
