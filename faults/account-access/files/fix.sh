#!/bin/sh
# fix.sh VARIANT USER - the reference repair: the account works again, the policy stays,
# and the user sets their own password at the next login.
set -eu
variant=$1 user=$2
case "$variant" in
locked|password-expired)
    usermod -U "$user" 2>/dev/null || true
    printf '%s:%s\n' "$user" "$(head -c 12 /dev/urandom | base64)" | chpasswd
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
