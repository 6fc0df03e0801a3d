#!/bin/sh
# The healthy stage: the company's sync agent runs, the user has documents.
# Usage: prepare.sh USER DOC_TOKEN
set -eu
user="$1"; token="$2"
home=$(getent passwd "$user" | cut -d: -f6)
id syncagent >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin syncagent
install -d -m 0755 /usr/local/lib/syncagent /etc/syncagent
install -d -m 0755 -o syncagent -g syncagent /var/log/syncagent
[ -f /etc/syncagent/agent.conf ] || printf '# Northwind sync agent\nSHARE=//files.northwind.lan/%s\nLOG_LEVEL=info\n' "$user" > /etc/syncagent/agent.conf
cat > /usr/local/lib/syncagent/syncagent.py <<'PY'
#!/usr/bin/python3
"""Northwind file sync agent (lab stand-in): keeps a heartbeat log; in debug mode it logs a lot."""
import os
import time

CONF = "/etc/syncagent/agent.conf"
LOG_DIR = "/var/log/syncagent"


def level():
    try:
        for line in open(CONF, encoding="utf-8"):
            key, _, value = line.partition("=")
            if key.strip() == "LOG_LEVEL":
                return value.strip().lower()
    except OSError:
        pass
    return "info"


def main():
    debug = level() == "debug"
    out = open(os.path.join(LOG_DIR, "agent.log"), "a", buffering=1)
    out.write(f"{time.strftime('%F %T')} INFO sync agent started (level {'debug' if debug else 'info'})\n")
    dbg = open(os.path.join(LOG_DIR, "debug.log"), "a") if debug else None
    chunk = "".join(f"DEBUG sync: scanning share chunk {i:05d} state=pending retry=0 etag=0x7f3a\n"
                    for i in range(900))
    last = 0.0
    while True:
        now = time.time()
        if now - last >= 30:
            out.write(f"{time.strftime('%F %T')} INFO sync cycle complete\n")
            last = now
        if dbg:
            try:
                dbg.write(chunk)
                dbg.flush()
            except OSError:
                time.sleep(1)
        time.sleep(0.5)


if __name__ == "__main__":
    main()
PY
chmod 0755 /usr/local/lib/syncagent/syncagent.py
cat > /etc/systemd/system/syncagent.service <<'UNIT'
[Unit]
Description=Northwind file sync agent
After=network.target

[Service]
User=syncagent
ExecStart=/usr/local/lib/syncagent/syncagent.py
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now syncagent.service >/dev/null 2>&1
install -d -m 0700 -o "$user" -g "$user" "$home/Documents"
for name in "budget-$token.txt" "minutes-$token.txt" "contacts-$token.csv"; do
  f="$home/Documents/$name"
  [ -f "$f" ] || { printf 'Northwind - %s\nref %s\n' "$name" "$token" > "$f"; chown "$user:$user" "$f"; chmod 0640 "$f"; }
done
