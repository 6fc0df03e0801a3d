#!/bin/sh
# fix.sh VARIANT OLD_BUNDLE - the reference repair.
set -eu
case "$1" in
ca-removed|ca-replaced)
    install -m 644 /etc/openvpn/client/corp-ca.crt /usr/local/share/ca-certificates/corp-lab-ca.crt
    update-ca-certificates >/dev/null 2>&1
    ;;
old-bundle)
    rm -f /etc/profile.d/legacy-certs.sh "$2" "$(dirname "$2")/.curlrc"
    ;;
*) echo "unknown variant $1" >&2; exit 2 ;;
esac
