#!/bin/sh
# The healthy stage: the planning application with a valid annual licence, the user's projects.
# Usage: prepare.sh USER LICENCE_ID PROJECT_TOKEN
set -eu
user="$1"; lid="$2"; token="$3"
home=$(getent passwd "$user" | cut -d: -f6)
install -d -m 0755 /opt/planner /etc/planner /var/lib/planner
cat > /opt/planner/planner <<'PY'
#!/usr/bin/python3
"""Northwind Planner (lab stand-in): a licensed planning tool."""
import datetime
import hashlib
import hmac
import os
import sys

LICENCE = "/etc/planner/licence.key"
VENDOR = b"vendor:northwind-planner:2f8c1e"


def sign(lid, edition, expires):
    return hmac.new(VENDOR, f"{lid}|{edition}|{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def read(path):
    lic = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            k, _, v = line.strip().partition("=")
            lic[k] = v
    return lic


def verdict(lic):
    key_ok = hmac.compare_digest(lic.get("key", ""), sign(lic.get("id", ""), lic.get("edition", ""), lic.get("expires", "")))
    try:
        end = datetime.date.fromisoformat(lic.get("expires", ""))
    except ValueError:
        end = datetime.date.min
    return key_ok, end


def check():
    try:
        lic = read(LICENCE)
    except OSError:
        return 4, "Planner: no licence found. Contact your administrator."
    key_ok, end = verdict(lic)
    if not key_ok:
        return 3, "Planner: the licence key is not valid for this product. Contact your vendor."
    if end < datetime.date.today():
        if lic.get("edition") == "trial":
            return 3, f"Planner: your trial period ended on {end}. Contact your vendor to buy a licence."
        return 3, f"Planner: your licence expired on {end}. Contact your vendor to renew it."
    return 0, f"Planner: licence ok ({lic.get('edition')}, until {end})"


def main(argv):
    if argv[:1] == ["--status"]:
        try:
            lic = read(LICENCE)
        except OSError:
            print("no licence")
            return 4
        key_ok, end = verdict(lic)
        print(f"id={lic.get('id')} edition={lic.get('edition')} expires={end} key={'valid' if key_ok else 'invalid'}")
        return 0
    if argv[:1] == ["--import"] and len(argv) == 2:
        if os.geteuid() != 0:
            print("Planner: importing a licence needs administrator rights", file=sys.stderr)
            return 1
        lic = read(argv[1])
        key_ok, end = verdict(lic)
        if not key_ok or end < datetime.date.today():
            print("Planner: this licence is not valid", file=sys.stderr)
            return 2
        with open(LICENCE + ".new", "w", encoding="utf-8") as fh:
            fh.write("".join(f"{k}={lic[k]}\n" for k in ("product", "id", "edition", "expires", "key")))
        os.chmod(LICENCE + ".new", 0o644)
        os.replace(LICENCE + ".new", LICENCE)
        print(f"Planner: licence imported (until {end})")
        return 0
    rc, msg = check()
    if argv[:1] == ["--check"]:
        print(msg.replace("Planner: licence ok", "licence ok"))
        return rc
    print(msg, file=sys.stderr if rc else sys.stdout)
    if rc == 0:
        print("Planner: projects in ~/Planner")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
PY
chmod 0755 /opt/planner/planner
ln -sf /opt/planner/planner /usr/local/bin/planner
[ -s /var/lib/planner/installed ] || date +%s > /var/lib/planner/installed
python3 - "$lid" <<'PY'
import datetime, hashlib, hmac, sys
lid = sys.argv[1]
exp = (datetime.date.today() + datetime.timedelta(days=200)).isoformat()
key = hmac.new(b"vendor:northwind-planner:2f8c1e", f"{lid}|annual|{exp}".encode(), hashlib.sha256).hexdigest()[:32]
open("/etc/planner/licence.key", "w").write(f"product=Northwind Planner\nid={lid}\nedition=annual\nexpires={exp}\nkey={key}\n")
PY
chmod 0644 /etc/planner/licence.key
touch -d '160 days ago' /etc/planner/licence.key
install -d -o "$user" -g "$user" "$home/Planner"
for p in rollout-q3 office-move budget-review; do
  f="$home/Planner/$p.plan"
  [ -e "$f" ] || { printf 'project=%s\nref=%s\n' "$p" "$token" > "$f"; chown "$user:$user" "$f"; }
done
