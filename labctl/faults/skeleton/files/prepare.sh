#!/bin/sh
# The healthy stage the fault needs. Usage: prepare.sh USER TOKEN
set -eu
user="$1"; token="$2"
home=$(getent passwd "$user" | cut -d: -f6)
install -d -m 0700 -o "$user" -g "$user" "$home/Documents"
f="$home/Documents/marker-$token.txt"
[ -f "$f" ] || { echo "marker $token" > "$f"; chown "$user:$user" "$f"; }
