#!/bin/sh
# The reference repair: give back the one right the user lost, and nothing more.
# Usage: fix.sh VARIANT USER TEAM PROJECT
set -eu
variant="$1"; user="$2"; team="$3"; project="$4"
home=$(getent passwd "$user" | cut -d: -f6)
share="/srv/$team"
proj="$home/Projects/$project"
rule=/etc/sudoers.d/labelprinter

case "$variant" in
  left-team-group)
    gpasswd -a "$user" "$team" >/dev/null
    ;;
  share-read-only)
    find "$share" -type d -exec chmod 2770 {} +
    find "$share" -type f -exec chmod 0660 {} +
    ;;
  project-owned-by-root)
    chown -R "$user:$user" "$proj"
    ;;
  sudo-rule-ignored)
    # Give the rule back a name sudo reads (no dot), once it is proven valid.
    if [ -f "$rule.conf" ] && [ ! -e "$rule" ]; then
      visudo -cqf "$rule.conf"
      mv "$rule.conf" "$rule"
    fi
    visudo -cq
    ;;
  sudo-rule-deleted)
    # Write the rule again, validate it, then install it root-only.
    if [ ! -f "$rule" ]; then
      tmp=$(mktemp)
      cat > "$tmp" <<RULE
# Shipping desk: the label printer's spooler jams now and then.
# $user may restart it, and nothing else.
Cmnd_Alias LABELS_RESTART = /usr/bin/systemctl restart labelspool, /usr/bin/systemctl restart labelspool.service
$user ALL=(root) NOPASSWD: LABELS_RESTART
RULE
      visudo -cqf "$tmp"
      install -m 0440 -o root -g root "$tmp" "$rule"
      rm -f "$tmp"
    fi
    visudo -cq
    ;;
  *) echo "unknown variant $variant" >&2; exit 2 ;;
esac
