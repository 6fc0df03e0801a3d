#!/bin/sh
# The reference repair. Idempotent. Usage: fix.sh VARIANT USER TOKEN
set -eu
variant="$1"; user="$2"; token="$3"
home=$(getent passwd "$user" | cut -d: -f6)
[ ! -f "/var/backups/lab/marker-$token.txt" ] || mv "/var/backups/lab/marker-$token.txt" "$home/Documents/"
