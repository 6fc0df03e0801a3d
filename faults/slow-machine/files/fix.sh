#!/bin/sh
# The reference repair: the indexer back to the user's documents, a pass every few
# minutes and a small preview cache; still enabled and running.
# Usage: fix.sh VARIANT USER
set -eu
variant="$1"; user="$2"
home=$(getent passwd "$user" | cut -d: -f6)
conf=/etc/docindex/docindex.conf
case "$variant" in
  whole-disk)
    sed -i -e "s|^INDEX_PATHS=.*|INDEX_PATHS=$home/Documents|" -e 's|^RESCAN_SECONDS=.*|RESCAN_SECONDS=300|' "$conf"
    ;;
  override)
    rm -f /etc/systemd/system/docindex.service.d/override.conf
    rmdir /etc/systemd/system/docindex.service.d 2>/dev/null || true
    systemctl daemon-reload
    ;;
  preview-cache)
    sed -i 's|^PREVIEW_CACHE_MB=.*|PREVIEW_CACHE_MB=16|' "$conf"
    ;;
esac
systemctl restart docindex.service
