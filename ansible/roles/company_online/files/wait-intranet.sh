#!/bin/sh
# Wait until https://intranet.corp.lab/ answers (the VPN is up, names resolve): TRIES x ~1 s.
tries=${1:-60}
for i in $(seq 1 "$tries"); do
    curl -s --max-time 5 -o /dev/null https://intranet.corp.lab/ && exit 0
    sleep 1
done
echo "the intranet does not answer on this seat (is the VPN up? ip addr show tun0)" >&2
exit 1
