#!/bin/sh
# Lose the files from USER's network folder, on the company server (as the user's own
# client would have: the folder and files keep their owner).
#   server-inject.sh VARIANT USER PROJECT SUBDIR LOST...
set -eu
variant=$1 u=$2 p=$3 sub=$4
shift 4
lostdir="/srv/shares/$u/Projects/$p${sub:+/$sub}"
case "$variant" in
    deleted) for f; do rm -f "$lostdir/$f"; done ;;
    folder-deleted) rm -rf "$lostdir" ;;
    # A sync client that lost its cache wrote empty copies over the files.
    overwritten) for f; do runuser -u "$u" -- sh -c ': > "$1"' w "$lostdir/$f"; done ;;
    *) echo "unknown variant $variant" >&2; exit 2 ;;
esac
