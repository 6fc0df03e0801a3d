#!/bin/sh
# Repairs and decoys run as root on the company server (a technician with a server
# login), from the user's nightly copies in /srv/backup/USER/<day>/.
#   server-restore.sh HOW USER PROJECT SUBDIR LOST...
# HOW:
#   cp-a            the files from last night's copy, cp -a (owner, mode, times kept)   - legitimate
#   whole-folder    rsync -a --delete last night's copy over the whole folder           - loses newer work
#   older-copy      cp -a the files from the oldest copy                                - wrong content
#   root-copy       cp -r the files from last night's copy (owner root, mode 644)       - user cannot save them
#   everyone        rsync -a --ignore-existing last night's copy of every folder of the team - brings back
#                   what the colleague deleted on purpose
#   move-out        mv the files out of last night's copy                               - the copies are gone
set -eu
how=$1 u=$2 p=$3 sub=$4
shift 4
rel="Projects/$p${sub:+/$sub}"
last=$(ls -1d /srv/backup/"$u"/????-??-?? | sort | tail -n 1)
first=$(ls -1d /srv/backup/"$u"/????-??-?? | sort | head -n 1)
dest="/srv/shares/$u/$rel"
case "$how" in
    cp-a)
        # A whole folder gone comes back whole (it held only these files); else file by file.
        if [ -d "$dest" ]; then
            for f; do cp -a "$last/$rel/$f" "$dest/$f"; done
        else
            cp -a "$last/$rel" "$dest"
        fi ;;
    whole-folder) rsync -a --delete "$last/" "/srv/shares/$u/" ;;
    older-copy) install -d -o "$u" -g "$u" -m 750 "$dest"; for f; do cp -a "$first/$rel/$f" "$dest/$f"; done ;;
    root-copy) mkdir -p "$dest"; for f; do cp -r "$last/$rel/$f" "$dest/$f"; done ;;
    everyone)
        for who in "$u" "$u.sam"; do
            l=$(ls -1d /srv/backup/"$who"/????-??-?? | sort | tail -n 1)
            rsync -a --ignore-existing "$l/" "/srv/shares/$who/"
        done ;;
    move-out) install -d -o "$u" -g "$u" -m 750 "$dest"; for f; do mv "$last/$rel/$f" "$dest/$f"; done ;;
    *) echo "unknown way $how" >&2; exit 2 ;;
esac
