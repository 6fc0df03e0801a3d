#!/bin/sh
# Take one right away from the user, the way it happens in real life.
# Usage: inject.sh VARIANT USER TEAM PROJECT
set -eu
variant="$1"; user="$2"; team="$3"; project="$4"
home=$(getent passwd "$user" | cut -d: -f6)
share="/srv/$team"
proj="$home/Projects/$project"
rule=/etc/sudoers.d/labelprinter

case "$variant" in
  left-team-group)
    # Taken out of the team's group (a clean-up of group members went too far).
    # Edited the way the shadow tools do it (previous file kept as FILE-), but without
    # them: gpasswd would write the change and the drawn group's name to the journal.
    if id -nG "$user" | grep -qw "$team"; then
      umask 077
      for f in /etc/group /etc/gshadow; do
        cp -p "$f" "$f-"
        awk -F: -v OFS=: -v g="$team" -v u="$user" '$1 == g {
              n = split($4, m, ","); out = ""
              for (i = 1; i <= n; i++) if (m[i] != u && m[i] != "") out = out (out == "" ? "" : ",") m[i]
              $4 = out
            } { print }' "$f-" > "$f.edit"
        cat "$f.edit" > "$f"
        rm -f "$f.edit"
      done
    fi
    ;;
  share-read-only)
    # Someone "tightened" the share: the team can still read, no longer write.
    chmod -R g-w "$share"
    ;;
  project-owned-by-root)
    # The folder was put back from a backup by an administrator, as root.
    chown -R root:root "$proj"
    ;;
  sudo-rule-deleted)
    rm -f "$rule"
    ;;
  sudo-rule-ignored)
    # Re-deployed under a new name: sudo skips files in sudoers.d whose name holds a dot.
    if [ -f "$rule" ]; then
      mv -f "$rule" "$rule.conf"
    fi
    ;;
  *) echo "unknown variant $variant" >&2; exit 2 ;;
esac
