#!/bin/sh
# Break the machine, per variant. Idempotent. Usage: inject.sh VARIANT USER TOKEN
set -eu
variant="$1"; user="$2"; token="$3"
home=$(getent passwd "$user" | cut -d: -f6)
install -d -m 0700 /var/backups/lab
[ ! -f "$home/Documents/marker-$token.txt" ] || mv "$home/Documents/marker-$token.txt" /var/backups/lab/
