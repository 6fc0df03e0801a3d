#!/bin/sh
# inject.sh VARIANT WRONG_PORT
set -eu
conf=/etc/openvpn/client/corp.conf
case "$1" in
wrong-port)
    sed -i "s/^remote vpn.corp.lab 1194\$/remote vpn.corp.lab $2/" "$conf"
    systemctl restart openvpn-client@corp
    ;;
service-disabled)
    systemctl disable --now openvpn-client@corp 2>/dev/null
    ;;
wrong-ca)
    # Another authority's certificate (made here, its key thrown away) in place of the lab CA.
    tmp=$(mktemp -d)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/k" -out "$tmp/c" \
        -subj "/O=corp.lab/CN=corp.lab lab CA" -days 3650 2>/dev/null
    install -m 644 -o root -g root "$tmp/c" /etc/openvpn/client/corp-ca.crt
    rm -rf "$tmp"
    systemctl restart openvpn-client@corp
    ;;
*) echo "unknown variant $1" >&2; exit 2 ;;
esac
ip link set tun0 down 2>/dev/null || true
