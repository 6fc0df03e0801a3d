#!/bin/sh
# The power button stops working, the variant's way. Idempotent: a second run leaves the
# same machine.
# Usage: inject.sh VARIANT NAME   (NAME: the settings file the variant leaves, drawn per seat)
set -eu
variant="$1"; name="$2"
case "$variant" in
  key-ignored)
    # Set up for a meeting-room kiosk once, and never undone.
    mkdir -p /etc/systemd/logind.conf.d
    printf '# Meeting-room kiosk: nobody switches it off by accident.\n[Login]\nHandlePowerKey=ignore\n' \
      > "/etc/systemd/logind.conf.d/$name.conf"
    chmod 0644 "/etc/systemd/logind.conf.d/$name.conf"
    touch -d '6 days ago' "/etc/systemd/logind.conf.d/$name.conf"
    systemctl kill -s HUP systemd-logind  # logind reads its settings again
    ;;
  helper-holds-button)
    # "Presentation mode at every start, so that I never forget it": the lock never ends.
    sed -i 's|/bin/sleep 3h|/bin/sleep infinity|' /etc/systemd/system/nwpresent.service
    touch -d '40 days ago' /etc/systemd/system/nwpresent.service
    systemctl daemon-reload
    systemctl enable nwpresent.service >/dev/null 2>&1
    systemctl restart nwpresent.service
    ;;
  driver-blacklisted)
    # Copied from a lab machine's tuning, where the button was not wanted.
    printf '# lab tuning: no ACPI power button\nblacklist button\n' > "/etc/modprobe.d/$name.conf"
    chmod 0644 "/etc/modprobe.d/$name.conf"
    touch -d '6 days ago' "/etc/modprobe.d/$name.conf"
    if grep -qw '^button' /proc/modules; then modprobe -r button; fi
    ;;
  *) echo "unknown variant $variant" >&2; exit 2 ;;
esac
