#!/bin/sh
# The healthy stage: the company's presentation helper, installed as IT ships it (started
# by hand for a presentation, never at boot), with the user's own settings file.
# Usage: prepare.sh USER
set -eu
user="$1"
cat > /usr/local/bin/nwpresent <<'SH'
#!/bin/sh
# Northwind Present: while a presentation runs, a stray press on the power or suspend
# key, or a closed lid, does not end it. "nwpresent on" before presenting, "nwpresent off"
# after (the service holds the lock; a presentation lasts at most three hours).
case "${1:-status}" in
  on) exec systemctl start nwpresent.service ;;
  off) exec systemctl stop nwpresent.service ;;
  status) systemctl is-active nwpresent.service ;;
  *) echo "usage: nwpresent on|off|status" >&2; exit 2 ;;
esac
SH
chmod 0755 /usr/local/bin/nwpresent
cat > /etc/systemd/system/nwpresent.service <<'UNIT'
[Unit]
Description=Northwind Present - keeps the keys and the lid from ending a presentation

[Service]
ExecStart=/usr/bin/systemd-inhibit --what=handle-power-key:handle-suspend-key:handle-lid-switch --who="Northwind Present" --why="A presentation is running" --mode=block /bin/sleep 3h

[Install]
WantedBy=multi-user.target
UNIT
chmod 0644 /etc/systemd/system/nwpresent.service
mkdir -p "/home/$user/.config/nwpresent"
printf 'slides_dir=/home/%s/Documents\nremote=off\n' "$user" > "/home/$user/.config/nwpresent/settings"
chown -R "$user:$user" "/home/$user/.config"
touch -d '40 days ago' /usr/local/bin/nwpresent /etc/systemd/system/nwpresent.service
systemctl daemon-reload
