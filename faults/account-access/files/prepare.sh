#!/bin/sh
# prepare.sh USER - the company's account policy: passwords last 90 days, 7 days' warning,
# the account locked 14 days after the password expired; and an account locked for
# 15 minutes after 5 failed logins in a row (pam_faillock, through Debian's pam-auth-update).
set -eu
user=$1
chage -M 90 -W 7 -I 14 -d "$(date +%F)" "$user"

cat > /usr/share/pam-configs/faillock-preauth <<'EOF'
Name: Refuse logins to an account locked after failed logins (company policy)
Default: yes
Priority: 1024
Auth-Type: Primary
Auth:
	requisite	pam_faillock.so preauth
EOF
cat > /usr/share/pam-configs/faillock <<'EOF'
Name: Lock an account after repeated failed logins (company policy)
Default: yes
Priority: 0
Auth-Type: Primary
Auth:
	[default=die]	pam_faillock.so authfail
Account-Type: Additional
Account:
	required	pam_faillock.so
EOF
conf=/etc/security/faillock.conf
sed -i -e 's/^[#[:space:]]*deny[[:space:]]*=.*/deny = 5/' \
       -e 's/^[#[:space:]]*unlock_time[[:space:]]*=.*/unlock_time = 900/' "$conf"
pam-auth-update --package --enable faillock-preauth faillock
# Installed with the image, as far as the trainee can tell.
touch -r /usr/share/pam-configs/unix /usr/share/pam-configs/faillock /usr/share/pam-configs/faillock-preauth \
    "$conf" /etc/pam.d/common-auth /etc/pam.d/common-account
