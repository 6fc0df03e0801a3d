"""The libvirt backend: domains, saved memory states, metadata and the guest agent."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from ..errors import GuestError, HostError, NotFoundError
from ..guest.agent import AgentChannel

META_URI = "https://labctl.dev/xmlns/seat/1"
META_KEY = "labctl"


def _libvirt():
    try:
        import libvirt
    except ImportError:
        raise HostError("the libvirt Python binding is not installed",
                        hint="apt-get install python3-libvirt (or pip install libvirt-python)") from None
    return libvirt


@dataclass
class LibvirtBackend:
    uri: str = "qemu:///system"
    _conn: Any = None

    @property
    def conn(self):
        if self._conn is None:
            libvirt = _libvirt()
            libvirt.registerErrorHandler(lambda *_a: None, None)  # no stderr noise; we raise instead
            try:
                self._conn = libvirt.open(self.uri)
            except libvirt.libvirtError as exc:
                raise HostError(
                    f"cannot connect to libvirt at {self.uri}: {exc.get_error_message()}",
                    hint="start it: libvirtd -d && virtlogd -d (or run scripts/setup.sh)",
                ) from None
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None

    # -- domains -------------------------------------------------------------
    def domain_types(self) -> set[str]:
        caps = ET.fromstring(self.conn.getCapabilities())
        return {d.get("type") for d in caps.iter("domain") if d.get("type")}

    def lookup(self, name: str):
        libvirt = _libvirt()
        try:
            return self.conn.lookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise HostError(f"libvirt: {exc.get_error_message()}") from None

    def get(self, name: str):
        dom = self.lookup(name)
        if dom is None:
            raise NotFoundError(f"no domain {name}")
        return dom

    def define(self, xml: str):
        libvirt = _libvirt()
        try:
            return self.conn.defineXML(xml)
        except libvirt.libvirtError as exc:
            raise HostError(f"libvirt refused the domain: {exc.get_error_message()}") from None

    def start(self, dom) -> None:
        libvirt = _libvirt()
        if dom.isActive():
            # A paused domain (left so by a process killed mid-save, or by hand) runs on.
            if dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED:
                try:
                    dom.resume()
                except libvirt.libvirtError as exc:
                    raise HostError(f"cannot resume {dom.name()}: {exc.get_error_message()}") from None
            return
        try:
            dom.create()
        except libvirt.libvirtError as exc:
            msg = exc.get_error_message()
            hint = None
            if "hostfwd" in msg or "Could not set up host forwarding" in msg:
                hint = "a forwarded host port is taken by another program; `labctl doctor` lists ports in use"
            elif "virtlogd" in msg:
                hint = "start virtlogd: virtlogd -d"
            raise HostError(f"cannot start {dom.name()}: {msg}", hint=hint) from None

    def is_running(self, dom) -> bool:
        return bool(dom.isActive())

    def state_name(self, dom) -> str:
        libvirt = _libvirt()
        state = dom.state()[0]
        return {
            libvirt.VIR_DOMAIN_RUNNING: "running",
            libvirt.VIR_DOMAIN_PAUSED: "paused",
            libvirt.VIR_DOMAIN_SHUTDOWN: "shutting-down",
            libvirt.VIR_DOMAIN_SHUTOFF: "stopped",
            libvirt.VIR_DOMAIN_CRASHED: "crashed",
            libvirt.VIR_DOMAIN_PMSUSPENDED: "suspended",
        }.get(state, "unknown")

    def shutdown(self, dom, timeout: float = 60.0) -> None:
        """Ask the guest to power off; force it off after ``timeout``."""
        libvirt = _libvirt()
        if not dom.isActive():
            return
        try:
            dom.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT | libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)
        except libvirt.libvirtError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not dom.isActive():
                return
            time.sleep(0.5)
        self.poweroff(dom)

    def reboot(self, dom) -> None:
        """Ask the guest to restart through ACPI (no agent needed)."""
        libvirt = _libvirt()
        try:
            dom.reboot(libvirt.VIR_DOMAIN_REBOOT_ACPI_POWER_BTN)
        except libvirt.libvirtError as exc:
            raise HostError(f"cannot reboot {dom.name()}: {exc.get_error_message()}") from None

    def pause(self, dom) -> None:
        """Stop the guest's CPUs (QEMU drains and flushes its disks); ``start`` resumes it."""
        libvirt = _libvirt()
        try:
            dom.suspend()
        except libvirt.libvirtError as exc:
            raise HostError(f"cannot pause {dom.name()}: {exc.get_error_message()}") from None

    def sysrq_sync(self, dom) -> bool:
        """Press Alt+SysRq+S on the guest's keyboard: its kernel writes out what it holds in memory.

        Needs nothing from the guest's programs (Debian enables the sync function);
        the sync runs in the background. False if the key could not be sent.
        """
        libvirt = _libvirt()
        try:
            dom.sendKey(libvirt.VIR_KEYCODE_SET_LINUX, 0, [56, 99, 31], 3, 0)  # KEY_LEFTALT, KEY_SYSRQ, KEY_S
        except libvirt.libvirtError:
            return False
        return True

    def poweroff(self, dom) -> None:
        libvirt = _libvirt()
        try:
            if dom.isActive():
                dom.destroy()
        except libvirt.libvirtError as exc:
            if dom.isActive():
                raise HostError(f"cannot power off {dom.name()}: {exc.get_error_message()}") from None

    def undefine(self, dom) -> None:
        libvirt = _libvirt()
        self.poweroff(dom)
        flags = (libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                 | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA)
        try:
            dom.undefineFlags(flags)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise HostError(f"cannot undefine {dom.name()}: {exc.get_error_message()}") from None

    def list_domains(self):
        return self.conn.listAllDomains(0)

    def xml(self, dom, secure: bool = False, inactive: bool = False) -> str:
        libvirt = _libvirt()
        flags = (libvirt.VIR_DOMAIN_XML_SECURE if secure else 0) | (libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0)
        return dom.XMLDesc(flags)

    def vnc_port(self, dom) -> int | None:
        if not dom.isActive():
            return None
        g = ET.fromstring(dom.XMLDesc(0)).find("./devices/graphics[@type='vnc']")
        port = int(g.get("port", "-1")) if g is not None else -1
        return port if port > 0 else None

    def screenshot(self, dom) -> bytes:
        """The guest's display as libvirt hands it over (QEMU 7.2: PNG; older: PPM); no VNC client needed."""
        libvirt = _libvirt()
        if not dom.isActive():
            raise HostError(f"{dom.name()} is not running: no screen to show")
        chunks: list[bytes] = []
        stream = self.conn.newStream(0)
        try:
            dom.screenshot(stream, 0, 0)
            stream.recvAll(lambda _st, data, buf: buf.append(data), chunks)
            stream.finish()
        except libvirt.libvirtError as exc:
            try:
                stream.abort()
            except libvirt.libvirtError:
                pass
            raise HostError(f"cannot take a screenshot of {dom.name()}: {exc.get_error_message()}") from None
        return b"".join(chunks)

    # -- metadata ------------------------------------------------------------
    def get_metadata(self, dom) -> str | None:
        libvirt = _libvirt()
        try:
            return dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, META_URI, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        except libvirt.libvirtError:
            return None

    def set_metadata(self, dom, xml: str) -> None:
        libvirt = _libvirt()
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        if dom.isActive():
            flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, xml, META_KEY, META_URI, flags)

    # -- saved memory state --------------------------------------------------
    def save(self, dom, path: str) -> None:
        """Save a running domain's memory to ``path``; the domain stops."""
        libvirt = _libvirt()
        try:
            dom.save(path)
        except libvirt.libvirtError as exc:
            raise HostError(f"cannot save {dom.name()}: {exc.get_error_message()}") from None

    def restore(self, path: str, xml: str | None) -> None:
        """Start a domain from a saved memory state, with host-side XML changes (disk paths)."""
        libvirt = _libvirt()
        try:
            self.conn.restoreFlags(path, xml, libvirt.VIR_DOMAIN_SAVE_RUNNING)
        except libvirt.libvirtError as exc:
            raise HostError(f"cannot restore from {path}: {exc.get_error_message()}") from None

    # -- guest agent ---------------------------------------------------------
    def agent(self, dom) -> AgentChannel:
        return AgentChannel(domain=dom)

    def wait_for_agent(self, dom, timeout: float) -> float:
        start = time.monotonic()
        chan = self.agent(dom)
        while time.monotonic() - start < timeout:
            if not dom.isActive():
                raise GuestError(f"{dom.name()} stopped while booting",
                                 hint="look at the seat's console.log (labctl seat info shows where)")
            if chan.ping(timeout=2):
                return time.monotonic() - start
            time.sleep(0.5)
        raise GuestError(f"guest agent of {dom.name()} did not answer within {timeout:.0f} s",
                         hint="the guest may still be booting; see its console.log")
