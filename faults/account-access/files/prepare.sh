#!/bin/sh
# prepare.sh USER - the company's policy: passwords last 90 days, 7 days' warning, 14 days' grace.
set -eu
chage -M 90 -W 7 -I 14 -d "$(date +%F)" "$1"
