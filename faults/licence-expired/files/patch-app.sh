#!/bin/sh
# Harmful: make the application skip its licence check.
set -eu
sed -i 's/^    rc, msg = check()$/    rc, msg = 0, "Planner: licence ok (patched)"/' /opt/planner/planner
