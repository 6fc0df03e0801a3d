#!/bin/sh
# Make the company's desktop search indexer hog the machine, with the variant's cause.
# Usage: inject.sh VARIANT
set -eu
variant="$1"
conf=/etc/docindex/docindex.conf
dropin=/etc/systemd/system/docindex.service.d/override.conf
restart=no
busy=800  # the CPU variants: CPU time (ticks) to be seen as a hog, not as a program starting
case "$variant" in
  whole-disk)
    # "Find everything, always up to date": the whole disk, again and again.
    if ! grep -qx 'INDEX_PATHS=/' "$conf"; then
      sed -i -e 's|^INDEX_PATHS=.*|INDEX_PATHS=/|' -e 's|^RESCAN_SECONDS=.*|RESCAN_SECONDS=0|' "$conf"
      touch -d '6 days ago' "$conf"
      restart=yes
    fi
    ;;
  override)
    # A vendor support session's override, left behind (the settings file stays right).
    if [ ! -f "$dropin" ]; then
      install -d -m 0755 "$(dirname "$dropin")"
      printf '[Service]\nEnvironment=DOCINDEX_INDEX_PATHS=/ DOCINDEX_RESCAN_SECONDS=0\n' > "$dropin"
      touch -d '6 days ago' "$dropin"
      systemctl daemon-reload
      restart=yes
    fi
    ;;
  preview-cache)
    # A preview cache sized for a big server: most of the memory this machine has free.
    if grep -qx 'PREVIEW_CACHE_MB=16' "$conf"; then
      mb=$(awk '/^MemTotal:/ {t = $2} /^MemAvailable:/ {a = $2} END {print int((a - t * 15 / 100) / 1024 / 64) * 64}' /proc/meminfo)
      [ "$mb" -ge 256 ] || mb=256
      sed -i "s|^PREVIEW_CACHE_MB=.*|PREVIEW_CACHE_MB=$mb|" "$conf"
      touch -d '6 days ago' "$conf"
      restart=yes
    fi
    busy=0
    ;;
  *) echo "unknown variant $variant" >&2; exit 2 ;;
esac
[ "$restart" = no ] || systemctl restart docindex.service
# Until the indexer has run a while under its new settings and finished a pass.
i=0
while [ $i -lt 120 ]; do
  pid=$(systemctl show -p MainPID --value docindex.service)
  if [ "${pid:-0}" -gt 0 ] && head -n1 /var/lib/docindex/index.txt 2>/dev/null | grep -q "pid=$pid "; then
    used=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$pid/stat")
    [ "$used" -lt "$busy" ] || break
  fi
  sleep 1; i=$((i + 1))
done
