#!/bin/sh
# Files of the user's project folder go missing: to the trash, or deleted for good.
# Usage: inject.sh VARIANT USER PROJECT LOST...
set -eu
variant="$1"; user="$2"; project="$3"; shift 3
home=$(getent passwd "$user" | cut -d: -f6)
proj="$home/Documents/$project"
trash="$home/.local/share/Trash"
when=$(date -d '25 minutes ago' +%Y-%m-%dT%H:%M:%S)
for f in "$@"; do
  [ -e "$proj/$f" ] || continue
  case "$variant" in
    trash)
      # The name the file manager gives in the trash: name.ext, or name.2.ext when taken.
      name="$f"; n=2
      while [ -e "$trash/files/$name" ] || [ -e "$trash/info/$name.trashinfo" ]; do
        case "$f" in
          *.*) name="${f%.*}.$n.${f##*.}" ;;
          *) name="$f.$n" ;;
        esac
        n=$((n + 1))
      done
      printf '[Trash Info]\nPath=%s\nDeletionDate=%s\n' "$proj/$f" "$when" > "$trash/info/$name.trashinfo"
      chown "$user:$user" "$trash/info/$name.trashinfo"
      chmod 0600 "$trash/info/$name.trashinfo"
      mv "$proj/$f" "$trash/files/$name"
      ;;
    *)
      rm -f "$proj/$f"
      ;;
  esac
done
sync
