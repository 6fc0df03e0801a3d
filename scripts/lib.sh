# Shared by setup.sh and test.sh: install what a lab host needs, idempotently.
# shellcheck shell=bash
set -euo pipefail

LABCTL_VENV=${LABCTL_VENV:-/opt/labctl/venv}
# Where the `labctl` command is linked for everyone; set it empty to leave the
# machine's command alone (a second checkout tried beside an installed one).
LABCTL_LINK=${LABCTL_LINK-/usr/local/bin/labctl}
export DEBIAN_FRONTEND=noninteractive
HOST_PACKAGES=(qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients python3-libvirt
               python3-venv python3-pip mmdebstrap e2fsprogs openssh-client ca-certificates
               novnc openssl netcat-openbsd tini bubblewrap busybox-static)
# The web app's tests drive a real browser: Debian's Chromium and its WebDriver.
TEST_PACKAGES=(chromium chromium-driver)

# The scripts run the labctl of the environment they installed, whatever PATH holds.
labctl() { "$LABCTL_VENV/bin/labctl" "$@"; }

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "error: run this as root (it installs packages and starts libvirt)" >&2
        exit 1
    fi
}

install_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing Debian packages: ${missing[*]}"
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

install_python() {
    local extras=${1:-}
    # Debian's own Python, so the packaged libvirt binding needs no compiler.
    if [ ! -x "$LABCTL_VENV/bin/python" ]; then
        log "creating $LABCTL_VENV"
        /usr/bin/python3 -m venv --system-site-packages "$LABCTL_VENV"
    fi
    log "installing labctl$extras into $LABCTL_VENV"
    "$LABCTL_VENV/bin/pip" install -q --disable-pip-version-check -e ".$extras" 2>&1 \
        | grep -v -e "^WARNING: Location 'file:" || true
    "$LABCTL_VENV/bin/python" -c "import labctl, libvirt, ansible_runner, aiohttp, PIL" \
        || { echo "error: the Python environment is incomplete" >&2; exit 1; }
    if [ -n "$LABCTL_LINK" ]; then ln -sf "$LABCTL_VENV/bin/labctl" "$LABCTL_LINK"; fi
}

fix_kvm_device() {
    # Without udev nobody gives /dev/kvm its usual group; libvirt then finds KVM
    # "available at probe time but not now" and re-probes QEMU on every call
    # (seconds each). Do what Debian's udev rule does.
    if [ -c /dev/kvm ] && getent group kvm >/dev/null; then
        if [ "$(stat -c %G:%a /dev/kvm)" != "kvm:660" ]; then
            log "giving /dev/kvm its usual group (kvm, 0660)"
            chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
        fi
    fi
}

# True when libvirtd's QEMU processes are reaped as soon as they exit: under
# systemd, or when libvirtd runs under tini as a subreaper (start_daemons).
libvirtd_reaped_promptly() {
    [ -d /run/systemd/system ] && return 0
    local pid parent
    pid=$(pgrep -o -x libvirtd) || return 1
    parent=$(ps -o comm= -p "$(ps -o ppid= -p "$pid" | tr -d ' ')" 2>/dev/null || true)
    [ "$parent" = tini ]
}

socket_answers() {
    python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])' "$1" 2>/dev/null
}

start_daemons() {
    fix_kvm_device
    if [ -d /run/systemd/system ]; then
        systemctl start virtlogd.socket libvirtd.socket libvirtd.service 2>/dev/null || true
    fi
    # A socket file can outlive its daemon (a machine handed over with /run
    # kept, a killed session): test that something answers, not that it exists.
    if ! socket_answers /run/libvirt/virtlogd-sock; then
        log "starting virtlogd"
        pkill -x virtlogd 2>/dev/null || true
        rm -f /run/libvirt/virtlogd-sock /run/libvirt/virtlogd-admin-sock /run/virtlogd.pid
        virtlogd -d
        for _ in $(seq 1 50); do
            socket_answers /run/libvirt/virtlogd-sock && break
            sleep 0.1
        done
        socket_answers /run/libvirt/virtlogd-sock || { echo "error: virtlogd did not start" >&2; exit 1; }
    fi
    # Without systemd (a container), libvirtd is started by hand, under tini as
    # a subreaper. QEMU daemonises, so when it exits it is reaped by whoever
    # adopted it, and libvirt's destroy waits until it is gone. Under systemd
    # that is at once; some containers' init reaps about every 1.7 s, which every
    # power-off, reset and rollback would pay (bench/seat_reset.py, 2026-11-25).
    if ! virsh -c qemu:///system version >/dev/null 2>&1 || ! libvirtd_reaped_promptly; then
        log "starting libvirtd (under tini, which reaps the QEMU processes it adopts)"
        command -v tini >/dev/null || install_packages tini
        pkill -x libvirtd 2>/dev/null || true
        for _ in $(seq 1 50); do pgrep -x libvirtd >/dev/null || break; sleep 0.2; done
        rm -f /run/libvirtd.pid
        setsid tini -s -- libvirtd </dev/null >>/var/log/libvirt/libvirtd-console.log 2>&1 &
        for _ in $(seq 1 50); do
            virsh -c qemu:///system version >/dev/null 2>&1 && break
            sleep 0.2
        done
    fi
    virsh -c qemu:///system version >/dev/null
}
