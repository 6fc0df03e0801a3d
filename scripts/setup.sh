#!/usr/bin/env bash
# Set up a lab host and start a small class: the README's first command.
#   sudo bash scripts/setup.sh [ROSTER.csv [SCENARIO [SESSION]]]
#        (default: examples/class.csv, scenario practice-desktop, session demo)
# Safe to run again: what exists is kept, what is missing is made.
# The lab's settings come from /etc/labctl/config.toml if it exists; LABCTL_CONFIG=FILE
# (state_dir, port_min/port_max...: README, "Configuration") runs a second lab beside it,
# and LABCTL_VENV=DIR LABCTL_LINK= keep the machine's own labctl untouched.
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_root
ROSTER=$(realpath "${1:-examples/class.csv}")
SCENARIO=${2:-practice-desktop}
SESSION=${3:-demo}

install_packages "${HOST_PACKAGES[@]}"
install_python ""
start_daemons

log "checking the host"
labctl doctor || true
# The scenario names the image its seats boot (practice-desktop: the XFCE desktop,
# the user logged in on screen); company seats (a fault with network: company) also
# need the company server's image.
IMAGE=$("$LABCTL_VENV/bin/python" - "$SCENARIO" <<'PY'
import sys
from labctl.config import load_config
from labctl.errors import LabError
from labctl.sessions.scenario import load_scenario
try:
    cfg = load_config()
    print(load_scenario(sys.argv[1], cfg.scenarios_dir).image or cfg.default_image)
except LabError as exc:
    sys.exit(f"error: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else ""))
PY
)
log "building the $IMAGE image and the company server image (cached after the first time)"
labctl image build "$IMAGE"
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
setsid nohup "$LABCTL_VENV/bin/labctl" serve --listen "$WEB_LISTEN" --port "$WEB_PORT" --session "$SESSION" \
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
echo "Tickets:    labctl ticket show $SESSION SEAT (the user's words); repair the seat over VNC (the user's screen), RDP or SSH"
echo
log "in the browser (the web app runs in the background; stop it with: kill \$(cat $PIDFILE))"
labctl serve --print-urls --listen "$WEB_LISTEN" --port "$WEB_PORT" --session "$SESSION"
echo
echo "Access codes for the trainees (new ones at each run of this script; the old ones stop working):"
labctl session codes "$SESSION"
