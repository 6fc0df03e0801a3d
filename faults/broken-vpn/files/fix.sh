#!/bin/sh
# fix.sh VARIANT - the reference repair, then wait until the intranet answers through the VPN.
set -eu
conf=/etc/openvpn/client/corp.conf
case "$1" in
wrong-port)
    sed -i 's/^remote vpn.corp.lab .*/remote vpn.corp.lab 1194/' "$conf"
    systemctl restart openvpn-client@corp
    ;;
service-disabled)
    systemctl enable --now openvpn-client@corp 2>/dev/null
    ;;
wrong-ca)
    install -m 644 -o root -g root /usr/local/share/ca-certificates/corp-lab-ca.crt /etc/openvpn/client/corp-ca.crt
    systemctl restart openvpn-client@corp
    ;;
*) echo "unknown variant $1" >&2; exit 2 ;;
esac
for i in $(seq 1 60); do
    curl -s --max-time 5 -o /dev/null https://intranet.corp.lab/ && exit 0
    sleep 1
done
echo "the intranet does not answer after the fix" >&2
exit 1
