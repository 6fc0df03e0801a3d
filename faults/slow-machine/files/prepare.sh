#!/bin/sh
# The healthy stage: the company's desktop search indexer keeps an index of the
# user's documents (cheap: one pass every few minutes), the user has documents.
# Usage: prepare.sh USER DOC_TOKEN
set -eu
user="$1"; token="$2"
home=$(getent passwd "$user" | cut -d: -f6)
id docindex >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin docindex
install -d -m 0755 /usr/local/lib/docindex /etc/docindex
install -d -m 0755 -o docindex -g docindex /var/lib/docindex
cat > /etc/docindex/docindex.conf <<CONF
# Northwind Desktop Search - indexer settings
# Folders to index (space-separated)
INDEX_PATHS=$home/Documents
# Seconds between two passes
RESCAN_SECONDS=300
# Memory kept for document previews (MB)
PREVIEW_CACHE_MB=16
CONF
touch -d '40 days ago' /etc/docindex/docindex.conf
cat > /usr/local/lib/docindex/docindex.py <<'PY'
#!/usr/bin/python3
"""Northwind Desktop Search indexer (lab stand-in).

Lists the documents under INDEX_PATHS in /var/lib/docindex/index.txt for the
search box, one pass every RESCAN_SECONDS, and keeps PREVIEW_CACHE_MB of memory
for previews. Settings: /etc/docindex/docindex.conf; DOCINDEX_<SETTING> in the
environment overrides the file.
"""
import os
import sys
import time

CONF = "/etc/docindex/docindex.conf"
INDEX = "/var/lib/docindex/index.txt"
SKIP = {"/proc", "/sys", "/dev", "/run"}
KINDS = (".txt", ".csv", ".md", ".odt", ".ods", ".pdf", ".docx", ".xlsx", ".conf", ".html")


def settings():
    conf = {"INDEX_PATHS": "", "RESCAN_SECONDS": "300", "PREVIEW_CACHE_MB": "16"}
    try:
        with open(CONF, encoding="utf-8") as fh:
            for line in fh:
                key, sep, value = line.strip().partition("=")
                if sep and not key.startswith("#"):
                    conf[key.strip()] = value.strip()
    except OSError:
        pass
    for key in conf:
        if "DOCINDEX_" + key in os.environ:
            conf[key] = os.environ["DOCINDEX_" + key]
    return conf


def scan(paths):
    found = []
    for top in paths:
        for folder, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if os.path.join(folder, d) not in SKIP]
            for name in files:
                if name.lower().endswith(KINDS):
                    path = os.path.join(folder, name)
                    try:
                        st = os.stat(path)
                    except OSError:
                        continue
                    found.append(f"{path}\t{st.st_size}\t{int(st.st_mtime)}\n")
    return found


def main():
    conf = settings()
    paths = conf["INDEX_PATHS"].split()
    rescan = max(0, int(conf["RESCAN_SECONDS"] or 0))
    cache_mb = max(0, int(conf["PREVIEW_CACHE_MB"] or 0))
    print(f"docindex: indexing {' '.join(paths) or '(nothing)'} every {rescan}s, preview cache {cache_mb} MB", flush=True)
    cache = [b"\x01" * (1 << 20) for _ in range(cache_mb)]  # the preview cache, allocated up front
    last_note = 0.0
    while True:
        began = time.time()
        found = scan(paths)
        with open(INDEX + ".new", "w", encoding="utf-8") as out:
            out.write(f"# docindex pid={os.getpid()} documents={len(found)} previews={len(cache)}\n")
            out.writelines(found)
        os.replace(INDEX + ".new", INDEX)
        if time.time() - last_note > 600:
            print(f"docindex: {len(found)} documents indexed in {time.time() - began:.1f}s", flush=True)
            last_note = time.time()
        time.sleep(rescan)


if __name__ == "__main__":
    sys.exit(main())
PY
chmod 0755 /usr/local/lib/docindex/docindex.py
cat > /etc/systemd/system/docindex.service <<UNIT
[Unit]
Description=Northwind Desktop Search indexer
After=local-fs.target

[Service]
User=docindex
Group=docindex
SupplementaryGroups=$user
ExecStart=/usr/local/lib/docindex/docindex.py
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT
install -d -m 0750 -o "$user" -g "$user" "$home/Documents"
for doc in "budget-$token.ods:50 days ago" "minutes-$token.txt:35 days ago" "contacts-$token.csv:2 days ago"; do
  f="$home/Documents/${doc%%:*}"
  [ -f "$f" ] || { printf 'Northwind - %s\nref %s\n' "${doc%%:*}" "$token" > "$f"; chown "$user:$user" "$f"; chmod 0640 "$f"; touch -d "${doc#*:}" "$f"; }
done
systemctl daemon-reload
systemctl enable docindex.service >/dev/null 2>&1
systemctl restart docindex.service
# The first pass (the index the search box reads) before the state is kept.
i=0
while [ $i -lt 60 ] && ! head -n1 /var/lib/docindex/index.txt 2>/dev/null | grep -q "pid=$(systemctl show -p MainPID --value docindex.service) "; do
  sleep 1; i=$((i + 1))
done
