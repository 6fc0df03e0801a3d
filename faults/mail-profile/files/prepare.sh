#!/bin/sh
# The healthy stage: the company's mail client (Northwind Mail, a command-line stand-in)
# and the user's profile: settings (account, signature) with the copy the client keeps
# of them, and a mail folder with a few messages.
# Usage: prepare.sh USER TOKEN
set -eu
user="$1"; token="$2"
home=/home/$user
cat > /usr/local/bin/nwmail <<'SH'
#!/bin/sh
# Northwind Mail: the user's mail, from the profile in ~/.config/nwmail (settings) and
# ~/.local/share/nwmail (the mail). "nwmail" opens the inbox and says what is in it.
set -u
cfg="$HOME/.config/nwmail"; data="$HOME/.local/share/nwmail"; lock="$cfg/lock"
die() { echo "nwmail: $*" >&2; exit 1; }
if [ ! -e "$cfg/settings.conf" ]; then
  # First start: a new, empty profile.
  mkdir -p "$cfg" "$data/inbox" 2>/dev/null && printf 'account=\nsignature=\nend=1\n' > "$cfg/settings.conf" \
    || die "cannot create a profile in $cfg: Permission denied"
fi
[ -r "$cfg/settings.conf" ] && [ -w "$cfg" ] || die "cannot open the profile $cfg: Permission denied"
grep -q '^end=1$' "$cfg/settings.conf" || die "the settings file is damaged: $cfg/settings.conf"
[ ! -e "$lock" ] || die "Northwind Mail is already running (pid $(cat "$lock" 2>/dev/null))"
echo $$ > "$lock" 2>/dev/null || die "cannot write $lock: Permission denied"
trap 'rm -f "$lock"' EXIT
acc=$(sed -n 's/^account=//p' "$cfg/settings.conf")
echo "Northwind Mail: ${acc:-no account set up}, inbox: $(ls "$data/inbox" 2>/dev/null | wc -l) messages"
SH
chmod 0755 /usr/local/bin/nwmail
install -d -o "$user" -g "$user" -m 0700 "$home/.config" "$home/.config/nwmail" "$home/.local" "$home/.local/share" \
  "$home/.local/share/nwmail" "$home/.local/share/nwmail/inbox"
printf 'account=alex.martin@northwind.example\nserver=mail.northwind.lan\nsignature=Alex Martin - Purchasing - ext. 4417 - %s\nend=1\n' \
  "$token" > "$home/.config/nwmail/settings.conf"
cp "$home/.config/nwmail/settings.conf" "$home/.config/nwmail/settings.conf.bak"
i=0
for subject in "Order 2291 confirmed" "Budget review on Thursday" "Supplier visit" "Your expense claim" "Re: delivery dates"; do
  i=$((i + 1))
  printf 'From: purchasing@northwind.example\nSubject: %s\n\nRef %s-%s\n' "$subject" "$token" "$i" \
    > "$home/.local/share/nwmail/inbox/$i.eml"
done
chown -R "$user:$user" "$home/.config/nwmail" "$home/.local/share/nwmail"
chmod 0600 "$home/.config/nwmail/"* "$home/.local/share/nwmail/inbox/"*
find "$home/.config/nwmail" "$home/.local/share/nwmail" -exec touch -d '3 days ago' {} +
