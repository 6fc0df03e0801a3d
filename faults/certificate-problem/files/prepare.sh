#!/bin/sh
# The healthy stage: the VPN is up and the intranet answers (a seat just reset reconnects).
for i in $(seq 1 60); do
    curl -s --max-time 5 -o /dev/null https://intranet.corp.lab/ && exit 0
    sleep 1
done
echo "the intranet does not answer on the healthy seat" >&2
exit 1
