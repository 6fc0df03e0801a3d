#!/bin/sh
# The healthy stage, on the company server. USER's network folder holds a project;
# the nightly copies of the last two nights hold it too; a colleague's folder sits
# beside it. Starts from nothing each time, so a rerun converges.
#   server-prepare.sh USER PROJECT TOKEN SUBDIR LOST...
set -eu
u=$1 p=$2 token=$3 sub=$4
shift 4
# The colleague is <user>.sam: a dot, which no seat name has, so fault test saves and
# restores his folder with the user's (labctl/faults/engine.py).
sam="$u.sam"
state="/var/lib/labctl/nfdl/$u"
d2=$(date -d '2 days ago' +%F)
d1=$(date -d yesterday +%F)

id -u "$sam" >/dev/null 2>&1 || useradd --no-create-home --home-dir "/srv/shares/$sam" --shell /usr/sbin/nologin "$sam"
rm -rf "/srv/shares/$u" "/srv/shares/$sam" "/srv/backup/$u" "/srv/backup/$sam" "$state"
install -d -m 700 -o "$u" -g "$u" "/srv/shares/$u"
install -d -m 700 -o "$sam" -g "$sam" "/srv/shares/$sam"
install -d -m 700 "$state"

proj="/srv/shares/$u/Projects/$p"
lostdir="$proj${sub:+/$sub}"
# put OWNER FILE: standard input into FILE, written by its owner the way Samba writes
# (umask 027: files 0640, folders 0750).
put() { runuser -u "$1" -- sh -c 'umask 027; mkdir -p "$(dirname "$1")" && cat > "$1"' put "$2"; }
is_lost() { for l in "$@"; do [ "$l" = "$f" ] && return 0; done; return 1; }

for f in budget.csv minutes.txt contacts.csv proposal.md timeline.txt supplier-quotes.csv; do
    dest="$proj/$f"
    is_lost "$@" && dest="$lostdir/$f"
    printf '%s - %s\nref %s\nversion 1 (%s)\n' "$p" "$f" "$token" "$d2" | put "$u" "$dest"
done
printf '%s - status report\nref %s\nweek plan, version 1\n' "$p" "$token" | put "$u" "$proj/status-report.md"
printf '%s - first draft, superseded by proposal.md\n' "$p" | put "$u" "$proj/old-draft.txt"
printf 'Dear ...,\n\nKind regards,\nAlex Martin\n' | put "$u" "/srv/shares/$u/Templates/letter.txt"
printf '%s - planning (Sam)\nversion 1\n' "$p" | put "$sam" "/srv/shares/$sam/Projects/$p/planning.txt"
printf 'notes Sam no longer needs\n' | put "$sam" "/srv/shares/$sam/old-notes.txt"
find "/srv/shares/$u" "/srv/shares/$sam" -exec touch -h -d "$d2 17:30" {} +
corp-backup "$d2" "$u" "$sam"

# Yesterday the first of the files was revised: the older copy holds version 1.
printf '%s - %s\nref %s\nversion 2 (%s, revised)\n' "$p" "$1" "$token" "$d1" | put "$u" "$lostdir/$1"
touch -d "$d1 16:10" "$lostdir/$1"
corp-backup "$d1" "$u" "$sam"

# This morning, after the last copy: the user's status report moved on and the old
# draft was deleted on purpose; Sam worked too and deleted his old notes.
printf '%s - status report\nref %s\nweek plan, version 2 (this morning)\n' "$p" "$token" | put "$u" "$proj/status-report.md"
rm "$proj/old-draft.txt"
printf '%s - planning (Sam)\nversion 2 (this morning)\n' "$p" | put "$sam" "/srv/shares/$sam/Projects/$p/planning.txt"
rm "/srv/shares/$sam/old-notes.txt"

# What the checks compare with (root only, on the server; the trainee has no way in).
tree_sum() { (cd "$1" && { find . -printf '%P %y %m %u %g %s\n' | sort; find . -type f -exec sha256sum {} + | sort; } | sha256sum | cut -d' ' -f1); }
(cd "$lostdir" && sha256sum "$@") > "$state/lost.sha256"
(cd "$proj" && sha256sum status-report.md) > "$state/newer.sha256"
tree_sum "/srv/shares/$sam" > "$state/colleague.sum"
tree_sum "/srv/backup/$u" > "$state/backup.sum"
chmod 600 "$state"/*
