#!/usr/bin/env bash
# Set up a lab host and start a small classroom: the README's first command.
#   sudo bash scripts/setup.sh [SEAT ...]      (default seats: desk1 desk2)
# Safe to run again: what exists is kept, what is missing is made.
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_root
SEATS=("$@")
[ ${#SEATS[@]} -gt 0 ] || SEATS=(desk1 desk2)

install_packages "${HOST_PACKAGES[@]}"
install_python ""
start_daemons

log "checking the host"
labctl doctor || true
log "building the workstation image (cached after the first time)"
labctl image build workstation
for seat in "${SEATS[@]}"; do
    if labctl seat info "$seat" >/dev/null 2>&1; then
        log "seat $seat exists; starting it if it is stopped"
        labctl seat start "$seat" >/dev/null
    else
        log "creating seat $seat"
        labctl seat create "$seat" >/dev/null
    fi
done

# One fault per seat, taken in turn from the catalogue; a seat that already
# carries one keeps it.
mapfile -t FAULTS < <(labctl fault list --json | "$LABCTL_VENV/bin/python" -c \
    'import json,sys; print("\n".join(f["id"] for f in json.load(sys.stdin) if f["os"] == "linux"))')
i=0
for seat in "${SEATS[@]}"; do
    current=$(labctl seat info --json --no-secrets "$seat" | "$LABCTL_VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["fault"])')
    if [ -n "$current" ]; then
        log "seat $seat already carries a fault"
    else
        fault=${FAULTS[$((i % ${#FAULTS[@]}))]}
        log "injecting $fault into $seat"
        labctl fault inject "$seat" "$fault" >/dev/null
    fi
    i=$((i + 1))
done

log "the classroom"
labctl seat list
echo
for seat in "${SEATS[@]}"; do
    labctl seat info "$seat"
    echo "  ticket      :"
    labctl fault ticket "$seat" | sed 's/^/    /'
    echo
done
echo "Instructor: labctl fault check SEAT shows where a repair stands; labctl seat reset SEAT starts over."
