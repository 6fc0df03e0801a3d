#!/bin/sh
# fix.sh VARIANT USER - the reference repair: the account works again with the user's own
# password, and the company's policy (90 / 7 / 14 days) stays on it.
set -eu
variant=$1 user=$2
case "$variant" in
locked)
    # The user's own password comes back: the lock only prefixed its hash with "!".
    usermod -U "$user"
    ;;
password-expired)
    # The user logs in with the password they know and must choose a new one at once.
    chage -d 0 "$user"
    ;;
broken-shell)
    usermod -s /bin/bash "$user"
    ;;
broken-home)
    chown "$user:$user" "/home/$user"
    ;;
*) echo "unknown variant $variant" >&2; exit 2 ;;
esac
