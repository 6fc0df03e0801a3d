#!/bin/sh
# The healthy stage: the user's project folder, a little trash history and,
# depending on the machine, the nightly backups or snapshots it keeps.
# Usage: prepare.sh VARIANT USER PROJECT TOKEN LOST...
set -eu
variant="$1"; user="$2"; project="$3"; token="$4"; shift 4
first_lost="$1"
home=$(getent passwd "$user" | cut -d: -f6)
proj="$home/Documents/$project"
title=$(printf '%s' "$project" | tr '-' ' ')
day() { date -d "$1 days ago" +%F; }

doc() { # the full, current text of one of the project's files
  case "$1" in
    budget.csv)
      printf 'line;item;supplier;amount_eur\n1;Venue hire;Quayside Events;4200\n2;Catering;Green Table;2875\n'
      printf '3;Printing;Imprimerie Duval;640\n4;Travel;Northwind Travel;1930\n5;Contingency;-;800\n'
      printf 'total;;;10445\nref;%s-%s;;\n' "$project" "$token" ;;
    minutes.txt)
      printf 'Minutes - %s steering meeting\n\nPresent: A. Martin, J. Okafor, L. Berger, S. Haddad\n\n' "$title"
      printf '1. Budget reviewed, contingency kept at 800 EUR.\n2. Supplier shortlist agreed (see quotes).\n'
      printf '3. Next meeting: Thursday 10:00, room 2.14.\n\nref %s\n' "$token" ;;
    contacts.csv)
      printf 'name;role;phone;email\nJane Okafor;sponsor;+33 1 84 60 21 17;j.okafor@northwind.example\n'
      printf 'Luc Berger;finance;+33 1 84 60 21 40;l.berger@northwind.example\n'
      printf 'Samir Haddad;supplier liaison;+33 6 12 44 80 93;s.haddad@quayside.example\n'
      printf 'Ines Moreau;venue;+33 4 91 55 02 36;ines@quayside.example\nref;%s;;\n' "$token" ;;
    proposal.md)
      printf '# %s - proposal\n\n## Goal\n\nDeliver the project on time and within the agreed budget.\n\n' "$title"
      printf '## Scope\n\n- venue and catering\n- printed material\n- travel for 14 people\n\n'
      printf '## Decision needed\n\nApproval of the budget by the sponsor.\n\n<!-- %s -->\n' "$token" ;;
    timeline.txt)
      printf '%s - timeline\n\nweek 1  kick-off, budget draft\nweek 2  supplier quotes\n' "$title"
      printf 'week 4  sponsor approval\nweek 6  bookings confirmed\nweek 9  delivery\n\nref %s\n' "$token" ;;
    supplier-quotes.csv)
      printf 'supplier;service;quote_eur;valid_until\nQuayside Events;venue;4200;end of month\n'
      printf 'Green Table;catering;2875;end of month\nImprimerie Duval;printing;640;60 days\n'
      printf 'Northwind Travel;travel;1930;30 days\nref;%s;;\n' "$token" ;;
    status-report.md)
      printf '# %s - status report\n\n## Last week\n\n- budget drafted and sent to finance\n' "$title"
      printf '%s\n' '- three supplier quotes received' '' '## Risks' '' '- venue availability' '' "ref $token" ;;
    draft-v1.md)
      printf '# %s - first draft\n\nIdeas, to be sorted:\n- venue by the harbour?\n- ask for two catering quotes\n' "$title" ;;
  esac
}
older() { doc "$1" | sed '$d'; } # the file as it was before its last change

put() { # put NAME MODE AGE [old]: write a project file with its owner, mode and time
  if [ "${4:-}" = old ]; then older "$1" > "$proj/$1"; else doc "$1" > "$proj/$1"; fi
  chown "$user:$user" "$proj/$1"
  chmod "$2" "$proj/$1"
  touch -d "$3" "$proj/$1"
}

install -d -m 0700 -o "$user" -g "$user" "$proj"
put budget.csv 0640 '12 days ago'
put minutes.txt 0644 '9 days ago'
put contacts.csv 0600 '30 days ago'
put proposal.md 0644 '16 days ago'
put timeline.txt 0640 '6 days ago'
put supplier-quotes.csv 0600 '4 days ago'
put status-report.md 0600 '5 days ago' old
# The most recently edited of the files that will go missing: an earlier version until two days ago.
mode=$(stat -c %a "$proj/$first_lost")
put "$first_lost" "$mode" "$(day 5) 11:20" old

# The trash: a first draft the user threw away weeks ago.
trash="$home/.local/share/Trash"
install -d -m 0700 -o "$user" -g "$user" "$home/.local" "$home/.local/share" "$trash" "$trash/files" "$trash/info"
trashed() { # trashed NAME ORIGINAL-PATH AGE: a file in the trash, with its .trashinfo
  printf '[Trash Info]\nPath=%s\nDeletionDate=%s\n' "$2" "$(date -d "$3" +%Y-%m-%dT%H:%M:%S)" > "$trash/info/$1.trashinfo"
  chown "$user:$user" "$trash/files/$1" "$trash/info/$1.trashinfo"
  chmod 0600 "$trash/info/$1.trashinfo"
  touch -d "$3" "$trash/info/$1.trashinfo"
}
doc draft-v1.md > "$trash/files/draft-v1.md"
chmod 0644 "$trash/files/draft-v1.md"
touch -d '41 days ago' "$trash/files/draft-v1.md"
trashed draft-v1.md "$proj/draft-v1.md" '35 days ago'
last_trashed='35 days ago'
if [ "$variant" = trash ]; then
  # An older copy of one of the files, thrown away weeks ago from the same folder.
  doc "$first_lost" | sed '$d' | sed '$d' > "$trash/files/$first_lost"
  chmod "$mode" "$trash/files/$first_lost"
  touch -d '24 days ago' "$trash/files/$first_lost"
  trashed "$first_lost" "$proj/$first_lost" '19 days ago'
  last_trashed='19 days ago'
fi
touch -d "$last_trashed" "$trash/files" "$trash/info"
# Nothing in the home looks newer than the nightly copies made below.
find "$home" -newermt "$(day 4) 10:00" -exec touch -h -d "$(day 4) 10:00" {} +

case "$variant" in
  backup)
    cat > /usr/local/sbin/backup-homes <<'SH'
#!/bin/sh
# Nightly archive of every home folder, kept a week. The network folder
# (~/Network, mounted on demand) is backed up on the file server, not here.
set -eu
dest=/var/backups/home
install -d -m 0700 "$dest"
umask 077
for h in /home/*/; do
  u=$(basename "$h")
  tar -czf "$dest/$u-$(date +%F).tar.gz" -C / --exclude="home/$u/.cache" --exclude="home/$u/Network" "home/$u"
done
find "$dest" -name '*.tar.gz' -mtime +7 -delete
SH
    chmod 0755 /usr/local/sbin/backup-homes
    printf 'MAILTO=""\n30 1 * * * root /usr/local/sbin/backup-homes\n' > /etc/cron.d/backup-homes
    touch -d '200 days ago' /usr/local/sbin/backup-homes /etc/cron.d/backup-homes
    install -d -m 0700 /var/backups/home
    night() { # night N: the archive made N nights ago
      f="/var/backups/home/$user-$(day "$1").tar.gz"
      # Once more if tar saw a folder change under it (exit 1): the archive must be whole.
      (umask 077; set -- -czf "$f" -C / --exclude="${home#/}/.cache" --exclude="${home#/}/Network" "${home#/}"
       tar "$@" || tar "$@")
      touch -d "$(day "$1") 01:30" "$f"
    }
    night 3
    night 2
    put "$first_lost" "$mode" "$(day 2) 15:40"
    night 1
    touch -d "$(day 1) 01:30" /var/backups/home
    ;;
  snapshot)
    cat > /usr/local/sbin/snapshot-homes <<'SH'
#!/bin/sh
# Nightly snapshot of the home folders: daily.0 is last night, daily.6 a week ago.
set -eu
base=/srv/snapshots
install -d -m 0700 "$base"
rm -rf "$base/daily.6"
for i in 5 4 3 2 1 0; do
  [ ! -d "$base/daily.$i" ] || mv "$base/daily.$i" "$base/daily.$((i + 1))"
done
rsync -a --delete --link-dest="$base/daily.1" /home/ "$base/daily.0/"
touch "$base/daily.0"
SH
    chmod 0755 /usr/local/sbin/snapshot-homes
    printf 'MAILTO=""\n15 2 * * * root /usr/local/sbin/snapshot-homes\n' > /etc/cron.d/snapshot-homes
    touch -d '200 days ago' /usr/local/sbin/snapshot-homes /etc/cron.d/snapshot-homes
    rm -rf /srv/snapshots
    /usr/local/sbin/snapshot-homes
    /usr/local/sbin/snapshot-homes
    put "$first_lost" "$mode" "$(day 2) 15:40"
    /usr/local/sbin/snapshot-homes
    touch -d "$(day 3) 02:15" /srv/snapshots/daily.2
    touch -d "$(day 2) 02:15" /srv/snapshots/daily.1
    touch -d "$(day 1) 02:15" /srv/snapshots/daily.0 /srv/snapshots
    ;;
  *)
    put "$first_lost" "$mode" "$(day 2) 15:40"
    ;;
esac

# This morning's work on the status report, after the last nightly copy.
put status-report.md 0600 '50 minutes ago'
printf '\n## This week\n\n- sponsor approval expected Thursday\n- bookings to confirm\n' >> "$proj/status-report.md"
touch -d '50 minutes ago' "$proj/status-report.md"
touch -d '50 minutes ago' "$proj"
sync
