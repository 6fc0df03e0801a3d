"""`labctl doctor`: what a lab host needs, checked one by one, each with a fix."""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass

from . import images
from .config import Config
from .errors import LabError
from .hypervisor.accel import choose_accel, host_facts
from .ports import port_is_free


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    severity: str = "error"  # "error" fails the doctor, "warning" does not

    def as_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix, "severity": self.severity}


VIRTLOGD_SOCK = "/run/libvirt/virtlogd-sock"


def _virtlogd(path: str = VIRTLOGD_SOCK) -> Finding:
    """virtlogd must answer on its socket; a leftover socket file of a dead daemon is not enough."""
    fix = "start it: virtlogd -d (or systemctl start virtlogd)"
    if not os.path.exists(path):
        return Finding("virtlogd", False, f"{path} missing", fix)
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    try:
        s.connect(path)
    except OSError as exc:
        return Finding("virtlogd", False, f"{path} exists but nothing answers ({exc.strerror or exc})",
                       "remove the stale socket and start it: rm " + path + " && virtlogd -d")
    finally:
        s.close()
    return Finding("virtlogd", True, f"{path} answers")


def _sandbox() -> Finding:
    """Recipe playbooks run only in bubblewrap's sandbox (labctl/faults/confine.py)."""
    from .faults import confine

    try:
        why = confine.probe()
    except LabError as exc:
        return Finding("playbook sandbox (bwrap)", False, exc.message, f"apt-get install {confine.BWRAP_PACKAGE}")
    if why:
        return Finding("playbook sandbox (bwrap)", False, f"bwrap cannot make the sandbox: {why[:200]}",
                       "allow user namespaces (sysctl kernel.unprivileged_userns_clone=1; in a container, "
                       "run it privileged)")
    return Finding("playbook sandbox (bwrap)", True, "recipe playbooks run confined")


def _checks_tools() -> Finding:
    """The checks bring a static busybox into each guest (labctl/guest/toolbox.py)."""
    from .guest import toolbox

    try:
        data = toolbox.host_busybox()
    except LabError as exc:
        return Finding("checks' own tools (busybox)", False, exc.message, "apt-get install busybox-static")
    return Finding("checks' own tools (busybox)", True,
                   f"{toolbox.host_busybox_path()} (static, {len(data) // 1024} KiB)")


def run_doctor(cfg: Config) -> list[Finding]:
    out: list[Finding] = []
    for tool, pkg in (("qemu-system-x86_64", "qemu-system-x86"), ("qemu-img", "qemu-utils"),
                      ("mmdebstrap", "mmdebstrap"), ("mkfs.ext4", "e2fsprogs"), ("ssh", "openssh-client"),
                      ("ssh-keygen", "openssh-client"), ("openssl", "openssl"), ("nc", "netcat-openbsd")):
        path = shutil.which(tool)
        out.append(Finding(f"tool {tool}", bool(path), path or "not found", f"apt-get install {pkg}"))
    out.append(_checks_tools())

    # labctl serve: noVNC from Debian's package (served by labctl itself), aiohttp and Pillow from PyPI.
    rfb = "/usr/share/novnc/core/rfb.js"
    out.append(Finding("noVNC (web screens)", os.path.exists(rfb), rfb if os.path.exists(rfb) else f"{rfb} missing",
                       "apt-get install novnc", severity="warning"))
    for mod, pkg in (("aiohttp", "aiohttp"), ("PIL", "pillow")):
        try:
            __import__(mod)
            out.append(Finding(f"python {pkg} (labctl serve)", True, "importable"))
        except ImportError:
            out.append(Finding(f"python {pkg} (labctl serve)", False, "not installed",
                               f"pip install {pkg} (scripts/setup.sh installs it)", severity="warning"))

    out.append(_sandbox())
    out.append(_virtlogd())
    domain_types = None
    try:
        import libvirt  # noqa: F401
        from .hypervisor.libvirt_backend import LibvirtBackend

        backend = LibvirtBackend(cfg.libvirt_uri)
        version = backend.conn.getLibVersion()
        domain_types = backend.domain_types()
        out.append(Finding("libvirt", True, f"{cfg.libvirt_uri} answers (libvirt {version // 1000000}.{version // 1000 % 1000})"))
        backend.close()
    except ImportError:
        out.append(Finding("libvirt", False, "Python binding missing", "apt-get install python3-libvirt"))
    except LabError as exc:
        out.append(Finding("libvirt", False, exc.message, "start it: libvirtd -d (or systemctl start libvirtd)"))

    if os.path.exists("/dev/kvm"):
        import grp
        st = os.stat("/dev/kvm")
        try:
            group = grp.getgrgid(st.st_gid).gr_name
        except KeyError:
            group = str(st.st_gid)
        ok = group == "kvm" and (st.st_mode & 0o060) == 0o060
        out.append(Finding("/dev/kvm permissions", ok, f"group {group}, mode {st.st_mode & 0o777:o}",
                           "chgrp kvm /dev/kvm && chmod 0660 /dev/kvm (else libvirt re-probes QEMU on every call)"))

    facts = host_facts()
    try:
        choice = choose_accel(cfg.accel, domain_types=domain_types, **facts)
        ok = domain_types is None or choice.accel in domain_types
        out.append(Finding("acceleration", ok, f"{choice.accel}: {choice.reason}",
                           "" if ok else "install qemu-system-x86", severity="error"))
        if choice.accel == "qemu":
            out.append(Finding("speed", True, "software emulation is 5-20x slower than KVM; seats still work",
                               "use a host with VT-x/AMD-V for big classes", severity="warning"))
    except LabError as exc:
        out.append(Finding("acceleration", False, exc.message, exc.hint or ""))

    recipes = images.list_recipes(cfg.images_dir)
    for name in recipes:
        if name in _extended_only(cfg, recipes):
            continue  # a shared base (e.g. images/base) is built as part of the images that extend it
        try:
            img = images.find_built(cfg, name)
            out.append(Finding(f"image {name}", True, f"built ({img.digest}, {img.size_bytes // 1024**2} MiB)"))
        except LabError as exc:
            sev = "error" if name == cfg.default_image else "warning"
            out.append(Finding(f"image {name}", False, exc.message, exc.hint or "", severity=sev))

    for label, path in (("state dir", cfg.state_dir), ("image cache", cfg.cache_dir)):
        probe = path
        while not probe.exists():
            probe = probe.parent
        free = shutil.disk_usage(probe).free
        out.append(Finding(f"disk space ({label})", free > 5 * 1024**3, f"{free // 1024**3} GiB free at {probe}",
                           "free space or move state_dir/cache_dir to a bigger disk"))

    total = cfg.port_max - cfg.port_min + 1
    sample = range(cfg.port_min, min(cfg.port_max, cfg.port_min + 199) + 1)
    busy = [p for p in sample if not port_is_free(cfg.listen, p)]
    out.append(Finding("ports", len(busy) < len(sample) // 2,
                       f"{cfg.port_min}-{cfg.port_max} on {cfg.listen}: {total} ports, "
                       f"{len(busy)} of the first {len(sample)} in use" + (f" ({', '.join(map(str, busy[:8]))}...)" if busy else ""),
                       "widen port_min/port_max or free the ports", severity="warning" if busy else "error"))
    if domain_types is not None:
        out.extend(_server_findings(cfg))
    try:
        socket.getaddrinfo(cfg.listen, None)
        out.append(Finding("listen address", True, f"{cfg.listen}" + (" (loopback only)" if cfg.listen.startswith("127.") else " (reachable from the LAN)")))
    except OSError as exc:
        out.append(Finding("listen address", False, f"{cfg.listen}: {exc}", "set listen in the config"))
    return out


def _extended_only(cfg: Config, recipes: list[str]) -> set[str]:
    parents: set[str] = set()
    for name in recipes:
        try:
            parents.update(f.name for f in images.load_recipe(cfg.images_dir, name).folders[:-1])
        except LabError:
            pass
    return parents


def _server_findings(cfg: Config) -> list[Finding]:
    """The company server, if the lab has one: running, its ports answering, its services up."""
    from .server import ServerManager

    try:
        st = ServerManager(cfg).status()
    except LabError as exc:
        return [Finding("company server", False, exc.message, exc.hint or "", severity="warning")]
    if not st.exists:
        return [Finding("company server", True, "not made (seats created with --company start it)",
                        severity="warning")]
    if not st.running:
        return [Finding("company server", False, f"{st.domain} is stopped", "labctl server start",
                        severity="warning")]
    out = [Finding("company server", True, f"{st.domain} running")]
    for svc, ok in st.answering.items():
        port = st.record.ports[svc] if st.record else "?"
        out.append(Finding(f"company server {svc} port", ok, f"127.0.0.1:{port} " + ("answers" if ok else "does not answer"),
                           "labctl server start (restarts its services)"))
    down = [svc for svc, state in st.services.items() if state != "active"]
    out.append(Finding("company server services", bool(st.services) and not down,
                       "all active" if st.services and not down else
                       ("guest agent did not answer" if not st.services else "not active: " + ", ".join(down)),
                       "labctl server start (restarts its services)"))
    return out
