#!/bin/sh
# The healthy stage: the company's nightly backup (Northwind Backup) copies the user's
# Documents to the backup drive (/srv/backup/USER) every evening, and has done so for
# two weeks; the newest archive, last night's, holds every document as it is now.
# Usage: prepare.sh USER DOC_TOKEN
set -eu
user="$1"; token="$2"
home=$(getent passwd "$user" | cut -d: -f6)
dest=/srv/backup/$user
install -d -m 0755 /etc/nwbackup /srv/backup
install -d -m 0700 -o "$user" -g "$user" "$dest"
install -d -m 0755 -o "$user" -g "$user" /var/lib/nwbackup
cat > /etc/nwbackup/nwbackup.conf <<CONF
# Northwind Backup - settings (read by /usr/local/bin/nwbackup)
# Where the archives go: the backup drive, one folder per user
BACKUP_DIR=$dest
# How many archives to keep
KEEP=30
CONF
touch -d '60 days ago' /etc/nwbackup/nwbackup.conf
cat > /usr/local/bin/nwbackup <<'PROG'
#!/bin/sh
# Northwind Backup (lab stand-in): one archive of ~/Documents in BACKUP_DIR, the newest
# KEEP kept. Run by nwbackup.service (nwbackup.timer, every evening) as the user; can be
# run by hand as the user. Settings: /etc/nwbackup/nwbackup.conf. Last result:
# /var/lib/nwbackup/status (shown at login by /etc/profile.d/nwbackup.sh).
set -u
CONF=/etc/nwbackup/nwbackup.conf
STATUS=/var/lib/nwbackup/status
BACKUP_DIR=
KEEP=30
[ -r "$CONF" ] && . "$CONF"
now=$(date +%s)
me=$(id -un)
home=$(getent passwd "$me" | cut -d: -f6)
status() {  # KEY=VALUE lines replace those keys in the status file
  { grep -v -e "^last_try=" -e "^last_error=" $(for kv; do printf -- '-e ^%s= ' "${kv%%=*}"; done) "$STATUS" 2>/dev/null
    echo "last_try=$now"; for kv; do echo "$kv"; done; } > "$STATUS.new" 2>/dev/null && mv -f "$STATUS.new" "$STATUS"
}
fail() { echo "nwbackup: backup failed: $*" >&2; status "last_error=$*"; exit 1; }
[ -d "$home/Documents" ] || fail "no Documents folder in $home"
[ -n "$BACKUP_DIR" ] || fail "BACKUP_DIR is not set in $CONF"
[ -d "$BACKUP_DIR" ] || fail "backup folder $BACKUP_DIR: no such folder"
name="documents-$(date +%Y%m%d-%H%M%S).tar.gz"
part="$BACKUP_DIR/.$name.part"
if ! err=$(umask 077; tar -czf "$part" -C "$home" Documents 2>&1); then
  rm -f "$part" 2>/dev/null
  fail "$(printf '%s' "$err" | head -n 1)"
fi
mv -f "$part" "$BACKUP_DIR/$name" || fail "cannot name the archive in $BACKUP_DIR"
ls -1 "$BACKUP_DIR"/documents-*.tar.gz | sort -r | tail -n +"$((KEEP + 1))" | while read -r old; do rm -f "$old"; done
status "last_ok=$now" "last_archive=$BACKUP_DIR/$name" "last_error="
echo "nwbackup: $BACKUP_DIR/$name"
PROG
chmod 0755 /usr/local/bin/nwbackup
cat > /etc/profile.d/nwbackup.sh <<'PROFILE'
# Northwind Backup: say at login when the user's documents were last backed up.
if [ -r /var/lib/nwbackup/status ] && [ "$(stat -c %U /var/lib/nwbackup/status)" = "$(id -un)" ]; then
  _nwb_ok=$(sed -n 's/^last_ok=//p' /var/lib/nwbackup/status)
  _nwb_days=$(( ($(date +%s) - ${_nwb_ok:-0}) / 86400 ))
  if [ "$_nwb_days" -ge 2 ]; then
    echo "Northwind Backup: your documents were last backed up $_nwb_days days ago. Contact the helpdesk."
  fi
  unset _nwb_ok _nwb_days
fi
PROFILE
cat > /etc/systemd/system/nwbackup.service <<UNIT
[Unit]
Description=Northwind Backup of $user's documents

[Service]
Type=oneshot
User=$user
Group=$user
ExecStart=/usr/local/bin/nwbackup
UNIT
cat > /etc/systemd/system/nwbackup.timer <<'UNIT'
[Unit]
Description=Northwind Backup, every evening

[Timer]
OnCalendar=*-*-* 19:00

[Install]
WantedBy=timers.target
UNIT
install -d -m 0750 -o "$user" -g "$user" "$home/Documents"
for doc in "contacts-$token.csv:30" "budget-$token.ods:20" "report-$token.odt:3"; do
  f="$home/Documents/${doc%%:*}"
  [ -f "$f" ] || { printf 'Northwind - %s\nref %s\n' "${doc%%:*}" "$token" > "$f"; chown "$user:$user" "$f"; chmod 0640 "$f"; touch -d "${doc#*:} days ago" "$f"; }
  case "$f" in */budget-*) touch -d '5 days ago' "$f" ;; esac
done
# Two weeks of nightly archives, each with the documents that existed that evening.
if ! ls "$dest"/documents-*.tar.gz >/dev/null 2>&1; then
  for n in 14 13 12 11 10 9 8 7 6 5 4 3 2 1; do
    when="$n days ago 19:00"
    a="$dest/documents-$(date -d "$when" +%Y%m%d-%H%M%S).tar.gz"
    # The image's documents are older than the history; the recipe's came 30, 20 and 3 days
    # ago, and the budget was edited 5 days ago: the archives before hold its first version.
    rm -rf /tmp/nwbackup-stage; install -d -m 0700 /tmp/nwbackup-stage/Documents
    for f in "$home"/Documents/*; do
      [ -f "$f" ] || continue
      b=${f##*/}
      case "$b" in budget-"$token".ods) age=20 ;; report-"$token".odt) age=3 ;; *) age=30 ;; esac
      [ "$age" -ge "$n" ] || continue
      cp -p "$f" "/tmp/nwbackup-stage/Documents/$b"
      if [ "$b" = "budget-$token.ods" ] && [ "$n" -gt 5 ]; then
        printf 'Northwind - %s\nref %s\nfirst draft\n' "$b" "$token" > "/tmp/nwbackup-stage/Documents/$b"
      fi
      printf 'Documents/%s\n' "$b"
    done > /tmp/nwbackup-members
    (umask 077; tar -czf "$a" -C /tmp/nwbackup-stage -T /tmp/nwbackup-members)
    chown "$user:$user" "$a"; touch -d "$when" "$a"
  done
  rm -rf /tmp/nwbackup-members /tmp/nwbackup-stage
  last=$(ls -1 "$dest"/documents-*.tar.gz | sort | tail -n 1)
  printf 'last_ok=%s\nlast_archive=%s\nlast_try=%s\nlast_error=\n' "$(stat -c %Y "$last")" "$last" "$(stat -c %Y "$last")" \
    > /var/lib/nwbackup/status
  chown "$user:$user" /var/lib/nwbackup/status
fi
systemctl daemon-reload
systemctl enable --now nwbackup.timer >/dev/null 2>&1
