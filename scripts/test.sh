#!/usr/bin/env bash
# Install what the tests need and run the whole suite: the README's second command.
#   sudo bash scripts/test.sh [pytest args]
# With CI=true the tests that boot virtual machines must run: a missing libvirt or
# image is a failure there, not a skip.
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_root

# freerdp2-x11 and xvfb: the desktop VM tests log in over RDP from the host (xfreerdp under Xvfb).
install_packages "${HOST_PACKAGES[@]}" "${TEST_PACKAGES[@]}" vagrant vagrant-libvirt freerdp2-x11 xvfb xauth
install_python "[test]"
start_daemons

log "building the workstation, desktop and company server images (cached by recipe hash after the first time)"
labctl image build workstation
labctl image build desktop
labctl image build server

log "running the tests"
set +e
"$LABCTL_VENV/bin/python" -m pytest "$@"
rc=$?
set -e
exit $rc
