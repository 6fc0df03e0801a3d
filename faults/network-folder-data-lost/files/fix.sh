#!/bin/sh
# The reference repair, on the seat, the way a technician does it from the laptop:
# the user's nightly copies read only from \\files.corp.lab\backup, the newest copy
# that holds the files (non-empty), copied back by the user into ~/Network so that
# the server makes them the user's. Nothing else in the folder is touched.
# (The copies are mounted with writable modes, read only all the same: cp gives a new
# file its source's mode, and a mode without write reaches the server as the DOS
# read-only flag - the user could open the files but not save them.)
#   fix.sh [--read-only-modes] DIR LOST...   DIR: the folder of the files inside the network folder
# --read-only-modes: the decoy copy-read-only, the same copy from a mount whose files
# show mode 0444: the restored files arrive read only.
set -eu
modes="file_mode=0640,dir_mode=0750"
if [ "$1" = --read-only-modes ]; then modes="file_mode=0444,dir_mode=0555"; shift; fi
dir=$1
shift
mnt=$(mktemp -d /run/restore.XXXXXX)
cleanup() { umount "$mnt" 2>/dev/null || true; rmdir "$mnt"; }
trap cleanup EXIT
for i in 1 2 3 4 5 6; do
    mount -t cifs -o ro,credentials=/etc/corp/smb-credentials,uid=alex,gid=alex,$modes,vers=3.0 \
        //files.corp.lab/backup "$mnt" && break
    [ "$i" = 6 ] && { echo "cannot mount the backup share" >&2; exit 1; }
    sleep 5
done
day=""
for d in $(ls -1 "$mnt" | sort -r); do
    ok=1
    for f; do [ -s "$mnt/$d/$dir/$f" ] || ok=0; done
    [ "$ok" = 1 ] && { day=$d; break; }
done
[ -n "$day" ] || { echo "no copy holds the files" >&2; exit 1; }
runuser -u alex -- mkdir -p "/home/alex/Network/$dir"
for f; do runuser -u alex -- cp "$mnt/$day/$dir/$f" "/home/alex/Network/$dir/$f"; done
echo "restored $* from the copy of $day"
