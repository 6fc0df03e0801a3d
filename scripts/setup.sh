#!/usr/bin/env bash
# Set up a lab host and start a small class: the README's first command.
#   sudo bash scripts/setup.sh [ROSTER.csv [SCENARIO [SESSION]]]
#        (default: examples/class.csv, scenario practice, session demo)
# Safe to run again: what exists is kept, what is missing is made.
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_root
ROSTER=$(realpath "${1:-examples/class.csv}")
SCENARIO=${2:-practice}
SESSION=${3:-demo}

install_packages "${HOST_PACKAGES[@]}"
install_python ""
start_daemons

log "checking the host"
labctl doctor || true
log "building the workstation and company server images (cached after the first time)"
labctl image build workstation
labctl image build server

# The main job: a class on the scenario. Each trainee (or pair) gets a seat with a
# fault drawn from the catalogue, a ticket and an access code. A rerun finishes
# what is missing (session resume) and keeps what exists.
if labctl session status "$SESSION" >/dev/null 2>&1; then
    log "session $SESSION exists; finishing whatever is missing"
    labctl session resume "$SESSION" >/dev/null
else
    log "creating session $SESSION for $ROSTER (scenario $SCENARIO)"
    labctl session create "$SESSION" --roster "$ROSTER" --scenario "$SCENARIO"
fi

log "the class"
labctl session status "$SESSION"
echo
mapfile -t SEATS < <(labctl session status --json "$SESSION" | "$LABCTL_VENV/bin/python" -c \
    'import json,sys; print("\n".join(s["seat"] for s in json.load(sys.stdin)["seats"]))')
for seat in "${SEATS[@]}"; do
    labctl seat info "$seat"
    echo
done
echo "Instructor: labctl session status $SESSION; labctl session check $SESSION; labctl session report $SESSION"
echo "Tickets:    labctl ticket show $SESSION SEAT (the user's words); repair the seat over VNC or SSH"
