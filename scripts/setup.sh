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
    # Its table of codes is not shown here: fresh codes are printed at the end, once.
    labctl session create "$SESSION" --roster "$ROSTER" --scenario "$SCENARIO" >/dev/null
fi

# The web app: trainees' portal and instructor's dashboard. Restarted on every run so
# that it serves this checkout's code; LABCTL_WEB_LISTEN=<the host's classroom address>
# makes it reachable from the trainees' machines (default: this host only).
WEB_LISTEN=${LABCTL_WEB_LISTEN:-127.0.0.1}
WEB_PORT=${LABCTL_WEB_PORT:-8080}
STATE_DIR=$("$LABCTL_VENV/bin/python" -c 'from labctl.config import load_config; print(load_config().state_dir)')
PIDFILE="$STATE_DIR/web/serve.pid"
mkdir -p "$STATE_DIR/web"
if [ -f "$PIDFILE" ] && grep -qa "serve" "/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null; then
    log "stopping the web app started by an earlier run (pid $(cat "$PIDFILE"))"
    kill "$(cat "$PIDFILE")" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 0.1; done
fi
log "starting the web app on $WEB_LISTEN:$WEB_PORT (log: $STATE_DIR/web/serve.log)"
setsid nohup labctl serve --listen "$WEB_LISTEN" --port "$WEB_PORT" --session "$SESSION" \
    >"$STATE_DIR/web/serve.log" 2>&1 < /dev/null &
echo $! > "$PIDFILE"
for _ in $(seq 1 100); do
    "$LABCTL_VENV/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
        "http://127.0.0.1:$WEB_PORT/" 2>/dev/null && break
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { cat "$STATE_DIR/web/serve.log" >&2; exit 1; }
    sleep 0.2
done

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
echo
log "in the browser (the web app runs in the background; stop it with: kill \$(cat $PIDFILE))"
labctl serve --print-urls --listen "$WEB_LISTEN" --port "$WEB_PORT" --session "$SESSION"
echo
echo "Access codes for the trainees (new ones at each run of this script; the old ones stop working):"
labctl session codes "$SESSION"
