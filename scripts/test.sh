#!/usr/bin/env bash
# Install what the tests need and run the whole suite: the README's second command.
#   sudo bash scripts/test.sh [pytest args]
# With CI=true the tests that boot virtual machines must run: a missing libvirt or
# image is a failure there, not a skip.
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_root

install_packages "${HOST_PACKAGES[@]}" vagrant vagrant-libvirt
install_python "[test]"
start_daemons

log "building the workstation and company server images (cached after the first time)"
labctl image build workstation
labctl image build server

log "running the tests"
set +e
"$LABCTL_VENV/bin/python" -m pytest "$@"
rc=$?
set -e
exit $rc
