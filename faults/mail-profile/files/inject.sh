#!/bin/sh
# The mail client stops opening, the variant's way. Idempotent.
# Usage: inject.sh VARIANT USER
set -eu
variant="$1"; user="$2"
cfg=/home/$user/.config/nwmail
case "$variant" in
  stale-lock)
    # The machine was switched off while mail was open: the lock stayed, its process is long gone.
    printf '%s\n' 4242 > "$cfg/lock"
    chown "$user:$user" "$cfg/lock"; chmod 0600 "$cfg/lock"
    touch -d '2 days ago' "$cfg/lock"
    ;;
  corrupt-settings)
    # Saved while the disk was full: the settings file cut in the middle.
    if grep -q '^end=1$' "$cfg/settings.conf"; then
      head -c 52 "$cfg/settings.conf.bak" > "$cfg/settings.conf"
    fi
    touch -d '2 days ago' "$cfg/settings.conf"
    ;;
  profile-root-owned)
    # "sudo nwmail" to get past an error: the profile is root's now.
    chown -R root:root "$cfg"
    ;;
  *) echo "unknown variant $variant" >&2; exit 2 ;;
esac
