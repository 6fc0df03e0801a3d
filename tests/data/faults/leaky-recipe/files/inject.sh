#!/bin/sh
set -eu
touch /etc/lab-marker; echo "# made by the leaky-recipe fault, token $1" > /etc/lab-note.conf
