#!/bin/sh
# The reference repair: put back exactly the files that went missing, from the
# machine's own copy, with their owner, mode and content.
# Usage: fix.sh VARIANT USER PROJECT LOST...
set -eu
variant="$1"; user="$2"; project="$3"; shift 3
home=$(getent passwd "$user" | cut -d: -f6)
proj="$home/Documents/$project"
rel="${proj#/}"
case "$variant" in
  trash)
    # Restore what was thrown away from the project folder today, to the Path
    # its .trashinfo gives; older items stay in the trash.
    trash="$home/.local/share/Trash"
    today=$(date +%F)
    for info in "$trash"/info/*.trashinfo; do
      [ -f "$info" ] || continue
      name=$(basename "$info" .trashinfo)
      path=$(sed -n 's/^Path=//p' "$info")
      deleted=$(sed -n 's/^DeletionDate=//p' "$info")
      case "$path" in "$proj"/*) ;; *) continue ;; esac
      [ "${deleted%%T*}" = "$today" ] || [ "${deleted%%T*}" = "$(date -d yesterday +%F)" ] || continue
      [ -e "$path" ] && continue
      [ -e "$trash/files/$name" ] || continue
      mv "$trash/files/$name" "$path"
      rm -f "$info"
    done
    ;;
  backup)
    # The newest archive that holds the files; tar run as root keeps owner and mode.
    for f in "$@"; do
      [ -e "$proj/$f" ] && continue
      for a in $(ls -1 /var/backups/home/"$user"-*.tar.gz | sort -r); do
        if tar -xzf "$a" -C / "$rel/$f" 2>/dev/null; then break; fi
      done
    done
    ;;
  snapshot)
    for f in "$@"; do
      [ -e "$proj/$f" ] && continue
      for i in 0 1 2 3 4 5 6; do
        s="/srv/snapshots/daily.$i/$user/Documents/$project/$f"
        if [ -f "$s" ]; then cp -a "$s" "$proj/$f"; break; fi
      done
    done
    ;;
esac
sync
