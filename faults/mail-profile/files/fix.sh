#!/bin/sh
# The reference repair: the profile opens again, with the user's settings and mail.
# Usage: fix.sh VARIANT USER
set -eu
variant="$1"; user="$2"
cfg=/home/$user/.config/nwmail
case "$variant" in
  stale-lock)
    # Only a lock whose process is gone.
    pid=$(cat "$cfg/lock" 2>/dev/null || true)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then rm -f "$cfg/lock"; fi
    ;;
  corrupt-settings)
    cp -p "$cfg/settings.conf.bak" "$cfg/settings.conf"
    ;;
  profile-root-owned)
    chown -R "$user:$user" "$cfg"
    ;;
esac
