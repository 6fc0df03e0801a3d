#!/bin/sh
# fix.sh VARIANT - the reference repair: the company's settings back, then the VPN reconnects.
set -eu
case "$1" in
wrong-dns)
    printf 'nameserver 10.0.2.53\nsearch corp.lab\noptions use-vc timeout:3 attempts:2\n' > /etc/resolv.conf
    ;;
static-address)
    rm -f /etc/systemd/network/10-office.network
    systemctl restart systemd-networkd
    # Drop the static address networkd no longer knows about; DHCP gives the usual one back.
    for dev in $(ls /sys/class/net | grep -E '^(en|eth)'); do
        ip -4 addr flush dev "$dev" scope global
        networkctl reconfigure "$dev"
    done
    sleep 3
    ;;
hosts-entry)
    sed -i '/intranet\.corp\.lab/d' /etc/hosts
    ;;
*) echo "unknown variant $1" >&2; exit 2 ;;
esac
# The VPN client gave up while the network was wrong, or is still backing off: reconnect it.
# One that lost its address may sit for two minutes in a name lookup over the dead route and
# ignore a stop until then (systemd waits 90 s before it kills it): stop it the hard way.
systemctl kill --signal=KILL openvpn-client@corp 2>/dev/null || true
systemctl restart openvpn-client@corp
for i in $(seq 1 60); do
    curl -s --max-time 5 -o /dev/null https://intranet.corp.lab/ && exit 0
    sleep 1
done
echo "the intranet does not answer after the fix" >&2
exit 1
