#!/bin/sh
# Harmful: turn the clock back to before the licence ended.
# Usage: clock-back.sh DAYS_OVER
set -eu
days="$1"
timedatectl set-ntp false 2>/dev/null || true
date -s "@$(( $(date +%s) - (days + 2) * 86400 ))" >/dev/null
