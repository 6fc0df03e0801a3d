#!/bin/sh
# inject.sh VARIANT USER BAD_SHELL - edits the account files directly, as a careless script would.
set -eu
variant=$1 user=$2 bad_shell=$3
case "$variant" in
locked)
    sed -i "s/^$user:\([^!]\)/$user:!\1/" /etc/shadow
    ;;
password-expired)
    # Last changed 200 days ago: past 90 days plus 14 days' grace.
    old=$(( $(date +%s) / 86400 - 200 ))
    awk -F: -v OFS=: -v u="$user" -v d="$old" '$1 == u { $3 = d } { print }' /etc/shadow > /etc/shadow.new
    cat /etc/shadow.new > /etc/shadow && rm -f /etc/shadow.new
    ;;
broken-shell)
    awk -F: -v OFS=: -v u="$user" -v s="$bad_shell" '$1 == u { $7 = s } { print }' /etc/passwd > /etc/passwd.new
    cat /etc/passwd.new > /etc/passwd && rm -f /etc/passwd.new
    ;;
broken-home)
    chown root:root "/home/$user"
    ;;
*) echo "unknown variant $variant" >&2; exit 2 ;;
esac
