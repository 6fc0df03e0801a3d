#!/bin/sh
# inject.sh VARIANT BOGUS_DNS STATIC_NET STALE_IP
set -eu
variant=$1 bogus_dns=$2 static_net=$3 stale_ip=$4
case "$variant" in
wrong-dns)
    # Someone "fixed the internet" with a public DNS server.
    printf 'nameserver %s\n' "$bogus_dns" > /etc/resolv.conf
    ;;
static-address)
    addr=${static_net% *} gw=${static_net#* }
    # Sorted before 80-dhcp.network, so it wins for the NIC.
    cat > /etc/systemd/network/10-office.network <<NET
# Typed in by hand on the test bench
[Match]
Name=en* eth*

[Network]
DHCP=no
Address=$addr
Gateway=$gw
DNS=${gw}
NET
    systemctl restart systemd-networkd
    # networkd keeps the old DHCP lease's address until it expires; drop it as a reconfigure would.
    for dev in $(ls /sys/class/net | grep -E '^(en|eth)'); do
        ip -4 addr flush dev "$dev" scope global
        networkctl reconfigure "$dev" 2>/dev/null || true
    done
    ;;
hosts-entry)
    grep -q 'intranet\.corp\.lab' /etc/hosts || printf '%s\tintranet.corp.lab intranet\n' "$stale_ip" >> /etc/hosts
    ;;
*) echo "unknown variant $variant" >&2; exit 2 ;;
esac
