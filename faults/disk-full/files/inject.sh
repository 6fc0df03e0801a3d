#!/bin/sh
# Fill the disk until users cannot save, with the variant's cause.
# Usage: inject.sh VARIANT USER NAME
set -eu
variant="$1"; user="$2"; name="$3"
home=$(getent passwd "$user" | cut -d: -f6)
# What users may still write (ext4 keeps its reserve for root), less a little.
avail_kib=$(df -Pk / | awk 'NR==2 {print $4}')
fill_kib=$((avail_kib - 16384))
[ "$fill_kib" -gt 0 ] || fill_kib=0

make_file() { # path owner kib age (an existing one is kept: injecting twice changes nothing)
  [ ! -e "$1" ] || return 0
  [ "$3" -gt 0 ] || return 0
  install -d -o "$2" -g "$2" "$(dirname "$1")"
  fallocate -l "$(( $3 * 1024 ))" "$1"
  chown "$2:$2" "$1"
  touch -d "$4" "$1"
}

case "$variant" in
  runaway-log)
    if ! grep -qx 'LOG_LEVEL=debug' /etc/syncagent/agent.conf; then
      sed -i 's/^LOG_LEVEL=.*/LOG_LEVEL=debug/' /etc/syncagent/agent.conf
      touch -d '6 days ago' /etc/syncagent/agent.conf
    fi
    if [ ! -s /var/log/syncagent/debug.log ] && [ "$fill_kib" -gt 0 ]; then
      systemctl stop syncagent.service
      fallocate -l "$(( fill_kib * 1024 ))" /var/log/syncagent/debug.log
      chown syncagent:syncagent /var/log/syncagent/debug.log
    fi
    systemctl restart syncagent.service
    ;;
  trash)
    make_file "$home/.local/share/Trash/files/$name" "$user" "$fill_kib" '12 days ago'
    install -d -o "$user" -g "$user" "$home/.local/share/Trash/info"
    [ ! -e "$home/.local/share/Trash/info/$name.trashinfo" ] || exit 0
    printf '[Trash Info]\nPath=%s\nDeletionDate=%s\n' "$home/Downloads/$name" \
      "$(date -d '12 days ago' +%Y-%m-%dT%H:%M:%S)" > "$home/.local/share/Trash/info/$name.trashinfo"
    chown "$user:$user" "$home/.local/share/Trash/info/$name.trashinfo"
    chown -R "$user:$user" "$home/.local"
    ;;
  cache)
    dir="$home/.cache/$name"
    [ ! -d "$dir" ] || exit 0
    n=24
    i=0
    while [ $i -lt $n ]; do
      make_file "$dir/cache_$(printf '%03d' $i).bin" "$user" $((fill_kib / n)) "$((i + 1)) days ago"
      i=$((i + 1))
    done
    chown -R "$user:$user" "$home/.cache"
    ;;
  download)
    make_file "$home/Downloads/$name" "$user" "$fill_kib" '9 days ago'
    ;;
  *) echo "unknown variant $variant" >&2; exit 2 ;;
esac
sync
