#!/bin/sh
# End the licence the way the variant says (idempotent: the same dates on a rerun, from the install date).
# Usage: inject.sh VARIANT LICENCE_ID DAYS_OVER
set -eu
variant="$1"; lid="$2"; days="$3"
python3 - "$variant" "$lid" "$days" <<'PY'
import datetime, hashlib, hmac, sys
variant, lid, days = sys.argv[1], sys.argv[2], int(sys.argv[3])
inst = datetime.date.fromtimestamp(int(open("/var/lib/planner/installed").read().strip()))
V = b"vendor:northwind-planner:2f8c1e"
sign = lambda e, x: hmac.new(V, f"{lid}|{e}|{x}".encode(), hashlib.sha256).hexdigest()[:32]
if variant == "annual":
    edition, exp = "annual", (inst - datetime.timedelta(days=days)).isoformat()
    key = sign(edition, exp)
elif variant == "trial":
    edition, exp = "trial", (inst - datetime.timedelta(days=days)).isoformat()
    key = sign(edition, exp)
elif variant == "wrong-key":
    edition, exp = "annual", (inst + datetime.timedelta(days=365 - days)).isoformat()
    key = sign(edition, (inst + datetime.timedelta(days=days)).isoformat())
else:
    sys.exit(f"unknown variant {variant}")
open("/etc/planner/licence.key", "w").write(
    f"product=Northwind Planner\nid={lid}\nedition={edition}\nexpires={exp}\nkey={key}\n")
PY
chmod 0644 /etc/planner/licence.key
touch -d "$((days + 30)) days ago" /etc/planner/licence.key
