#!/bin/sh
# The healthy stage: two company web tools the user opens in the browser, both local services.
# - Timesheet 3.4 (timesheet.service) on 127.0.0.1:TIMESHEET_PORT, with its nightly payroll
#   export (timesheet-export.timer) that shares the application's data lock;
# - Photo Sync (photo-sync.service) on 127.0.0.1:PHOTO_PORT;
# - the previous Timesheet 2.9, left installed but disabled when 3.4 was deployed.
# Usage: prepare.sh USER TIMESHEET_PORT PHOTO_PORT
set -eu
user="$1"; tport="$2"; pport="$3"
full=$(getent passwd "$user" | cut -d: -f5 | cut -d, -f1)
[ -n "$full" ] || full="$user"

id timesheet >/dev/null 2>&1 || useradd --system --home-dir /var/lib/timesheet --no-create-home \
  --shell /usr/sbin/nologin timesheet
id photosync >/dev/null 2>&1 || useradd --system --home-dir /var/lib/photo-sync --no-create-home \
  --shell /usr/sbin/nologin photosync

install -d -m 0755 /usr/local/lib/timesheet /usr/local/lib/photo-sync /etc/timesheet /etc/photo-sync \
  /opt/timesheet-legacy
install -d -m 0750 -o timesheet -g timesheet /var/lib/timesheet /var/lib/timesheet/data \
  /var/lib/timesheet/exports /var/lib/timesheet/outbox
install -d -m 0750 -o photosync -g photosync /var/lib/photo-sync /var/lib/photo-sync/library

# -- configuration ------------------------------------------------------------------------
cat > /etc/timesheet/timesheet.conf <<EOF
# Northwind Timesheet - local web application
LISTEN=127.0.0.1
PORT=$tport
DATA=/var/lib/timesheet/data
LOCK=/var/lib/timesheet/app.lock
EOF
cat > /etc/photo-sync/photo-sync.conf <<EOF
# Northwind Photo Sync - site photo upload page
LISTEN=127.0.0.1
PORT=$pport
LIBRARY=/var/lib/photo-sync/library
SERVER=photos.northwind.lan
EOF
cat > /etc/timesheet/export.conf <<'EOF'
# Nightly export of the timesheets to payroll
EXPORTS=/var/lib/timesheet/exports
OUTBOX=/var/lib/timesheet/outbox
EOF
chmod 0644 /etc/timesheet/timesheet.conf /etc/photo-sync/photo-sync.conf /etc/timesheet/export.conf
touch -d '41 days ago' /etc/timesheet/timesheet.conf /etc/timesheet/export.conf
touch -d '63 days ago' /etc/photo-sync/photo-sync.conf

# -- the user's data --------------------------------------------------------------------
if [ ! -f "/var/lib/timesheet/data/$user.json" ]; then
  weeks=""
  for n in 5 4 3 2 1; do
    w=$(date -d "$n weeks ago" +%G-W%V)
    h=$(( 35 + (n * 7) % 5 )).$(( (n * 3) % 2 * 5 ))
    weeks="$weeks${weeks:+, }[\"$w\", $h]"
  done
  printf '{"user": "%s", "name": "%s", "weeks": [%s]}\n' "$user" "$full" "$weeks" \
    > "/var/lib/timesheet/data/$user.json"
  chown timesheet:timesheet "/var/lib/timesheet/data/$user.json"
  chmod 0640 "/var/lib/timesheet/data/$user.json"
  touch -d '6 days ago' "/var/lib/timesheet/data/$user.json"
fi
[ -e /var/lib/timesheet/app.lock ] || install -o timesheet -g timesheet -m 0640 /dev/null /var/lib/timesheet/app.lock
for n in 3 2 1; do
  f="/var/lib/photo-sync/library/site-$(date -d "$n days ago" +%Y%m%d)-$n.jpg"
  [ -f "$f" ] || { head -c $((20000 + n * 1000)) /dev/urandom > "$f"; chown photosync:photosync "$f"; chmod 0640 "$f"; touch -d "$n days ago" "$f"; }
done
for n in 3 2 1; do
  d=$(date -d "$n days ago" +%F)
  for dir in exports outbox; do
    f="/var/lib/timesheet/$dir/timesheet-$d.csv"
    [ -f "$f" ] || { printf 'user;week;hours\n' > "$f"; chown timesheet:timesheet "$f"; chmod 0640 "$f"; touch -d "$d 01:30" "$f"; }
  done
done

# -- the programs ---------------------------------------------------------------------------
cat > /usr/local/lib/timesheet/timesheet.py <<'PY'
#!/usr/bin/python3
"""Northwind Timesheet: the team's time-entry web application, served on the workstation."""
import fcntl
import html
import json
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "3.4.2"
CONF = "/etc/timesheet/timesheet.conf"


def settings():
    conf = {"LISTEN": "127.0.0.1", "PORT": "8080", "DATA": "/var/lib/timesheet/data",
            "LOCK": "/var/lib/timesheet/app.lock"}
    with open(CONF, encoding="utf-8") as fh:
        for line in fh:
            key, sep, value = line.partition("=")
            if sep and not key.strip().startswith("#"):
                conf[key.strip()] = value.strip()
    return conf


def say(msg):
    print(f"timesheet: {msg}", file=sys.stderr, flush=True)


def notify(state):
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(addr)
        s.sendall(state.encode())


def sheets(folder):
    out = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                out.append(json.load(fh))
    return out


class Handler(BaseHTTPRequestHandler):
    conf = {}

    def do_GET(self):
        if self.path not in ("/", "/index.html"):
            self.send_error(404)
            return
        try:
            rows = []
            for sheet in sheets(self.conf["DATA"]):
                for week, hours in sheet.get("weeks", []):
                    rows.append(f"<tr><td>{html.escape(sheet.get('name', ''))}</td><td>{html.escape(week)}</td>"
                                f"<td>{hours}</td></tr>")
            body = (f"<!doctype html><html><head><title>Northwind Timesheet {VERSION[:3]}</title></head><body>"
                    f"<h1>Northwind Timesheet {VERSION[:3]}</h1><table><tr><th>Name</th><th>Week</th>"
                    f"<th>Hours</th></tr>{''.join(rows)}</table><p>Timesheet {VERSION}</p></body></html>\n")
            code = 200
        except (OSError, ValueError) as exc:
            body, code = f"<html><body><h1>Timesheet error</h1><p>{html.escape(str(exc))}</p></body></html>\n", 500
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    conf = settings()
    # The data lock: maintenance jobs (the payroll export) hold it while they work.
    try:
        lock = open(conf["LOCK"], "a")
    except OSError as exc:
        say(f"cannot open the data lock {conf['LOCK']}: {exc.strerror}")
        return 1
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say(f"the data lock {conf['LOCK']} is held by another process; not starting")
        return 1
    fcntl.flock(lock, fcntl.LOCK_UN)
    lock.close()
    Handler.conf = conf
    try:
        server = ThreadingHTTPServer((conf["LISTEN"], int(conf["PORT"])), Handler)
    except OSError as exc:
        say(f"cannot listen on {conf['LISTEN']}:{conf['PORT']}: {exc.strerror}")
        return 1
    say(f"Northwind Timesheet {VERSION} listening on http://{conf['LISTEN']}:{conf['PORT']}/")
    notify("READY=1")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
PY

cat > /usr/local/lib/timesheet/export.py <<'PY'
#!/usr/bin/python3
"""Nightly export of the timesheets to payroll: a CSV handed to the payroll transfer outbox."""
import fcntl
import json
import os
import shutil
import sys
import time

CONF = "/etc/timesheet/timesheet.conf"
EXPORT_CONF = "/etc/timesheet/export.conf"
TRANSFER_FLAG = "/run/timesheet-export/transfer.inprogress"


def settings():
    conf = {"DATA": "/var/lib/timesheet/data", "LOCK": "/var/lib/timesheet/app.lock",
            "EXPORTS": "/var/lib/timesheet/exports", "OUTBOX": "/var/lib/timesheet/outbox"}
    for path in (CONF, EXPORT_CONF):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                key, sep, value = line.partition("=")
                if sep and not key.strip().startswith("#"):
                    conf[key.strip()] = value.strip()
    return conf


def say(msg):
    print(f"timesheet-export: {msg}", file=sys.stderr, flush=True)


def main():
    conf = settings()
    lock = open(conf["LOCK"], "a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    out = os.path.join(conf["EXPORTS"], f"timesheet-{time.strftime('%Y-%m-%d')}.csv")
    lines = ["user;week;hours"]
    for name in sorted(os.listdir(conf["DATA"])):
        if name.endswith(".json"):
            with open(os.path.join(conf["DATA"], name), encoding="utf-8") as fh:
                sheet = json.load(fh)
            lines += [f"{sheet.get('user', '')};{week};{hours}" for week, hours in sheet.get("weeks", [])]
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    say(f"wrote {out}")
    waited = 0
    while os.path.exists(TRANSFER_FLAG):
        if waited % 600 == 0:
            say(f"waiting for the previous payroll transfer to finish ({TRANSFER_FLAG})")
        time.sleep(5)
        waited += 5
    with open(TRANSFER_FLAG, "w", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n")
    try:
        shutil.copy2(out, conf["OUTBOX"])
    finally:
        os.unlink(TRANSFER_FLAG)
    say(f"handed {os.path.basename(out)} to the payroll transfer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
PY

cat > /usr/local/lib/photo-sync/photo-sync.py <<'PY'
#!/usr/bin/python3
"""Northwind Photo Sync: the page where site photos are uploaded and synced to the photo server."""
import html
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "1.8.0"
CONF = "/etc/photo-sync/photo-sync.conf"


def settings():
    conf = {"LISTEN": "127.0.0.1", "PORT": "8081", "LIBRARY": "/var/lib/photo-sync/library"}
    with open(CONF, encoding="utf-8") as fh:
        for line in fh:
            key, sep, value = line.partition("=")
            if sep and not key.strip().startswith("#"):
                conf[key.strip()] = value.strip()
    return conf


def notify(state):
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(addr)
        s.sendall(state.encode())


class Handler(BaseHTTPRequestHandler):
    conf = {}

    def do_GET(self):
        if self.path not in ("/", "/index.html"):
            self.send_error(404)
            return
        try:
            photos = sorted(os.listdir(self.conf["LIBRARY"]))
        except OSError:
            photos = []
        items = "".join(f"<li>{html.escape(p)}</li>" for p in photos[-20:])
        body = (f"<!doctype html><html><head><title>Northwind Photo Sync</title></head><body>"
                f"<h1>Northwind Photo Sync</h1><p>{len(photos)} photos in the library, synced with "
                f"{html.escape(self.conf.get('SERVER', ''))}</p><ul>{items}</ul>"
                f"<p>Photo Sync {VERSION}</p></body></html>\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    conf = settings()
    Handler.conf = conf
    try:
        server = ThreadingHTTPServer((conf["LISTEN"], int(conf["PORT"])), Handler)
    except OSError as exc:
        print(f"photo-sync: cannot listen on {conf['LISTEN']}:{conf['PORT']}: {exc.strerror}",
              file=sys.stderr, flush=True)
        return 1
    print(f"photo-sync: listening on http://{conf['LISTEN']}:{conf['PORT']}/", file=sys.stderr, flush=True)
    notify("READY=1")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
PY

cat > /opt/timesheet-legacy/timesheet.py <<'PY'
#!/usr/bin/python3
"""Northwind Timesheet 2 (web front)."""
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

VERSION = "2.9.1"
CONF = "/etc/timesheet/timesheet.conf"


def settings():
    conf = {"LISTEN": "127.0.0.1", "PORT": "8080"}
    with open(CONF, encoding="utf-8") as fh:
        for line in fh:
            key, sep, value = line.partition("=")
            if sep and not key.strip().startswith("#"):
                conf[key.strip()] = value.strip()
    return conf


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (f"<html><head><title>Northwind Timesheet {VERSION[:3]}</title></head><body>"
                f"<h1>Northwind Timesheet {VERSION[:3]}</h1><p>No entries found for this period.</p>"
                f"<p>Timesheet {VERSION}</p></body></html>\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    conf = settings()
    try:
        server = HTTPServer((conf["LISTEN"], int(conf["PORT"])), Handler)
    except OSError as exc:
        print(f"cannot bind port {conf['PORT']}: {exc.strerror}", file=sys.stderr, flush=True)
        return 1
    addr = os.environ.get("NOTIFY_SOCKET")
    if addr:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect("\0" + addr[1:] if addr.startswith("@") else addr)
            s.sendall(b"READY=1")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
PY
chmod 0755 /usr/local/lib/timesheet/timesheet.py /usr/local/lib/timesheet/export.py \
  /usr/local/lib/photo-sync/photo-sync.py /opt/timesheet-legacy/timesheet.py
touch -d '41 days ago' /usr/local/lib/timesheet/timesheet.py /usr/local/lib/timesheet/export.py
touch -d '63 days ago' /usr/local/lib/photo-sync/photo-sync.py
touch -d '2023-11-30 10:12' /opt/timesheet-legacy/timesheet.py /opt/timesheet-legacy

# -- the services ---------------------------------------------------------------------------
cat > /etc/systemd/system/timesheet.service <<'UNIT'
[Unit]
Description=Northwind Timesheet 3 (web application)
After=network.target photo-sync.service

[Service]
Type=notify
User=timesheet
Group=timesheet
ExecStart=/usr/local/lib/timesheet/timesheet.py
Restart=on-failure
RestartSec=20

[Install]
WantedBy=multi-user.target
UNIT
cat > /etc/systemd/system/timesheet-export.service <<'UNIT'
[Unit]
Description=Northwind Timesheet export to payroll

[Service]
Type=oneshot
User=timesheet
Group=timesheet
ExecStart=/usr/local/lib/timesheet/export.py
UNIT
cat > /etc/systemd/system/timesheet-export.timer <<'UNIT'
[Unit]
Description=Nightly Northwind Timesheet export to payroll

[Timer]
OnCalendar=*-*-* 01:30:00

[Install]
WantedBy=timers.target
UNIT
cat > /etc/systemd/system/photo-sync.service <<'UNIT'
[Unit]
Description=Northwind Photo Sync (site photo upload page)
After=network.target

[Service]
Type=notify
User=photosync
Group=photosync
ExecStart=/usr/local/lib/photo-sync/photo-sync.py
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT
cat > /etc/systemd/system/timesheet-legacy.service <<'UNIT'
[Unit]
Description=Northwind Timesheet 2 (web front)
After=network.target
Before=timesheet.service

[Service]
Type=notify
User=timesheet
Group=timesheet
ExecStart=/usr/bin/python3 /opt/timesheet-legacy/timesheet.py
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT
printf 'd /run/timesheet-export 0755 timesheet timesheet -\n' > /etc/tmpfiles.d/timesheet.conf
touch -d '41 days ago' /etc/systemd/system/timesheet.service /etc/systemd/system/timesheet-export.service \
  /etc/systemd/system/timesheet-export.timer /etc/tmpfiles.d/timesheet.conf
touch -d '63 days ago' /etc/systemd/system/photo-sync.service
touch -d '2023-11-30 10:12' /etc/systemd/system/timesheet-legacy.service
systemd-tmpfiles --create /etc/tmpfiles.d/timesheet.conf
systemctl daemon-reload
systemctl enable --now photo-sync.service >/dev/null 2>&1
systemctl enable --now timesheet.service >/dev/null 2>&1
systemctl enable --now timesheet-export.timer >/dev/null 2>&1
for link in /etc/systemd/system/multi-user.target.wants/timesheet.service \
    /etc/systemd/system/multi-user.target.wants/photo-sync.service \
    /etc/systemd/system/timers.target.wants/timesheet-export.timer; do
  touch -h -d '41 days ago' "$link"
done
