#!/bin/sh
# The reference repair, what level 2 does: install the vendor's new annual key.
# Usage: fix.sh LICENCE_ID
set -eu
lid="$1"
python3 - "$lid" <<'PY'
import datetime, hashlib, hmac, sys
lid = sys.argv[1]
exp = (datetime.date.today() + datetime.timedelta(days=365)).isoformat()
key = hmac.new(b"vendor:northwind-planner:2f8c1e", f"{lid}|annual|{exp}".encode(), hashlib.sha256).hexdigest()[:32]
open("/etc/planner/licence.key.new", "w").write(
    f"product=Northwind Planner\nid={lid}\nedition=annual\nexpires={exp}\nkey={key}\n")
PY
chmod 0644 /etc/planner/licence.key.new
mv -f /etc/planner/licence.key.new /etc/planner/licence.key
