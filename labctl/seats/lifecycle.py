"""A seat's life after creation: start, reboot, stop, its saved states (pristine, checkpoints), destroy."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

from .. import timing
from ..errors import GuestError, LabError, NotFoundError
from ..guest.ssh import wait_for_ssh
from ..machines.disks import qemu_img_overlay
from ..machines.record import SeatRecord
from ..machines.spec import domain_name
from ..machines.states import StateStore
from ..ports import state_lock
from .info import SeatInfo, validate_seat_name


class Lifecycle:
    """Running, resetting and removing seats; part of :class:`labctl.seats.SeatManager` (needs ``cfg``, ``backend``)."""

    def start(self, seat: str, *, wait: bool = True) -> SeatInfo:
        dom = self._domain(seat)
        self.backend.start(dom)
        if wait:
            self.backend.wait_for_agent(dom, self.cfg.boot_timeout)
            self._after_restore(dom)
            wait_for_ssh(self._ssh_host(), self._record(dom).ports["ssh"], timeout=60)
        return self.info(seat)

    @timing.timed("seat: reboot")
    def reboot(self, seat: str, *, timeout: float | None = None) -> float:
        """Restart the guest the way a user would, and wait until it answers again; returns seconds.

        Through the guest agent (systemctl reboot) when it answers, else an ACPI
        reboot request; done when the guest's boot id has changed.
        """
        started = time.monotonic()
        dom = self._domain(seat)
        agent = self.backend.agent(dom)
        old = agent.read_file("/proc/sys/kernel/random/boot_id", timeout=10) if agent.ping() else None
        try:
            if old is None:
                raise GuestError("no agent")
            agent.run(["/bin/systemctl", "--no-block", "reboot"], timeout=10)
        except GuestError:
            self.backend.reboot(dom)
        # A reboot is a whole boot, plus the shutdown; on a loaded host under emulation it
        # can take several times the usual boot.
        timeout = timeout or 2.5 * self.cfg.boot_timeout
        deadline = started + timeout
        while time.monotonic() < deadline:
            time.sleep(1)
            if not dom.isActive():
                raise GuestError(f"seat {seat} powered off instead of rebooting",
                                 hint=f"see its console log: {self.folder(seat) / 'console.log'}")
            if agent.ping(timeout=2):
                try:
                    new = agent.read_file("/proc/sys/kernel/random/boot_id", timeout=10)
                except GuestError:
                    continue
                if new and new != old:
                    self._after_restore(dom)
                    # Services the user relies on are up only once the boot is over.
                    agent.run(["/bin/systemctl", "is-system-running", "--wait"],
                              timeout=max(30.0, deadline - time.monotonic()))
                    wait_for_ssh(self._ssh_host(), self._record(dom).ports["ssh"], timeout=60)
                    return time.monotonic() - started
        raise GuestError(f"seat {seat} did not come back within {timeout:.0f} s of a reboot",
                         hint=f"see its console log: {self.folder(seat) / 'console.log'}")

    def stop(self, seat: str, *, force: bool = False, timeout: float = 60.0) -> SeatInfo:
        dom = self._domain(seat)
        if force:
            self.backend.poweroff(dom)
        else:
            self.backend.shutdown(dom, timeout=timeout)
        return self.info(seat)

    def _save_pristine(self, seat: str, dom, record: SeatRecord) -> None:
        """Freeze the seat's current state as pristine and keep it running.

        The memory goes to ``pristine.save`` and the disk written so far
        (``pristine.qcow2``) becomes read-only; the seat then runs on a fresh
        overlay ``disk.qcow2``. A reset is a new overlay plus a restore of the
        saved memory: about as fast as an internal-snapshot revert here and far
        faster than a boot (bench/seat_reset.py), it keeps the pristine disk
        read-only, and the same saved state can seed other seats.
        """
        states = StateStore(self.folder(seat))
        live = states.live
        # The seat stays "creating" until it runs on its overlay: a process killed
        # half-way (libvirt finishes a save on its own) leaves a seat that the next
        # create or session resume clears and makes again, never a "ready" one
        # that would boot on, and so write to, its frozen pristine disk.
        self.backend.set_metadata(dom, dataclasses.replace(record, state="creating").to_xml())
        # The persistent definition boots from the live overlay from now on.
        xml = self.backend.xml(dom, secure=True, inactive=True).replace(str(states.pristine.disk), str(live))
        self.backend.save(dom, str(states.pristine.save))
        qemu_img_overlay(states.pristine.disk, live)
        self.backend.define(xml)
        self.backend.restore(str(states.pristine.save), xml)
        dom = self.backend.get(dom.name())
        self.backend.set_metadata(dom, record.to_xml())
        self._after_restore(dom)
        self._reconnect_company(dom)

    @timing.timed("seat: reset to pristine")
    def reset(self, seat: str, *, wait: bool = True) -> float:
        """Bring a seat back to its pristine state, running; returns seconds taken."""
        started = time.monotonic()
        dom = self._domain(seat)
        rec = self._record(dom)
        states = StateStore(self.folder(seat))
        if rec.state != "ready" or not states.pristine.save.is_file():
            raise LabError(f"seat '{seat}' has no pristine state to return to",
                           hint=f"destroy and recreate it: labctl seat destroy {seat} && labctl seat create {seat}")
        rec = dataclasses.replace(rec, fault="", extra={})
        self.backend.set_metadata(dom, rec.to_xml())
        xml = self.backend.xml(dom, secure=True, inactive=True)
        if dom.isActive():
            self.backend.poweroff(dom)
        live = states.live
        live.unlink(missing_ok=True)
        self._drop_checkpoints(seat)
        qemu_img_overlay(states.pristine.disk, live)
        self.backend.restore(str(states.pristine.save), xml)
        dom = self._domain(seat)
        if wait:
            self.backend.wait_for_agent(dom, 60)
            # The restored sshd is already listening: wait for its banner while the
            # agent sets the clock (each takes a few tenths of a second under emulation).
            with ThreadPoolExecutor(1) as pool:
                ssh_up = pool.submit(wait_for_ssh, self._ssh_host(), rec.ports["ssh"], timeout=60)
                self._after_restore(dom)
                self._reconnect_company(dom)
                ssh_up.result()
        return time.monotonic() - started

    @timing.timed("seat: checkpoint (save memory, freeze disk)")
    def checkpoint(self, seat: str, name: str = "staged") -> float:
        """Freeze the seat as it is now (memory and disk) so that :meth:`rollback` returns to it.

        Like the pristine state, one level above it: the live overlay becomes the
        frozen ``<name>.qcow2`` and the seat runs on a new overlay on top. A reset
        to pristine drops the checkpoint.
        """
        started = time.monotonic()
        dom = self._domain(seat)
        states = StateStore(self.folder(seat))
        frozen, save, live = states.state(name).disk, states.state(name).save, states.live
        if frozen.exists():
            raise LabError(f"seat '{seat}' already has a checkpoint '{name}'",
                           hint=f"reset the seat first: labctl seat reset {seat}")
        xml = self.backend.xml(dom, secure=True, inactive=True)
        self.backend.save(dom, str(save))
        try:
            os.rename(live, frozen)
            qemu_img_overlay(frozen, live)
        except BaseException:
            # Put the disk back as it was and resume the saved memory on it: nothing lost.
            if frozen.exists():
                live.unlink(missing_ok=True)
                os.rename(frozen, live)
            self.backend.restore(str(save), xml)
            save.unlink(missing_ok=True)
            raise
        self.backend.restore(str(save), xml)
        self._after_restore(self.backend.get(dom.name()))
        self._reconnect_company(self.backend.get(dom.name()))
        return time.monotonic() - started

    def has_checkpoint(self, seat: str, name: str = "staged") -> bool:
        return StateStore(self.folder(seat)).has(name)

    @timing.timed("seat: roll back to a checkpoint")
    def rollback(self, seat: str, name: str = "staged") -> float:
        """Return a seat to a checkpoint, running; seconds taken."""
        started = time.monotonic()
        dom = self._domain(seat)
        states = StateStore(self.folder(seat))
        if not self.has_checkpoint(seat, name):
            raise LabError(f"seat '{seat}' has no checkpoint '{name}'")
        xml = self.backend.xml(dom, secure=True, inactive=True)
        if dom.isActive():
            self.backend.poweroff(dom)
        live = states.live
        live.unlink(missing_ok=True)
        qemu_img_overlay(states.state(name).disk, live)
        self.backend.restore(str(states.state(name).save), xml)
        dom = self._domain(seat)
        self.backend.wait_for_agent(dom, 60)
        self._after_restore(dom)
        self._reconnect_company(dom)
        return time.monotonic() - started

    def _drop_checkpoints(self, seat: str) -> None:
        StateStore(self.folder(seat)).drop_checkpoints()

    def destroy(self, seat: str) -> None:
        validate_seat_name(seat)
        dom = self.backend.lookup(domain_name(seat))
        if dom is None and not self.folder(seat).exists():
            raise NotFoundError(f"no seat named '{seat}'", hint="`labctl seat list` shows the seats")
        if dom is not None and self._record(dom) is None:
            raise NotFoundError(f"domain {domain_name(seat)} is not a labctl seat; not touching it")
        company = dom is not None and self._record(dom).company
        with state_lock(self.cfg.state_dir):
            self._purge(seat, dom)
        if company:
            self._remove_server_user(seat)
            self._stop_idle_server()

    def _remove_server_user(self, seat: str) -> None:
        """The seat's account, folders and copies on the company server go with it.

        Best effort, like stopping the idle server: with the server stopped they stay,
        and the next seat of that name starts without them anyway (create clears them).
        """
        from ..server import ServerManager, company_user

        try:
            server = ServerManager(self.cfg, self.backend)
            if server.status(probe=False).running:
                server.remove_user(company_user(seat))
        except Exception:  # noqa: BLE001 - see the docstring
            pass

    def _stop_idle_server(self) -> None:
        """The company server runs while this lab has company seats: stop it after the last one goes.

        Best effort: a seat is gone either way; `labctl server status` shows what is left.
        """
        from ..server import ServerManager

        if any(s.record.company for s in self.list()):  # this lab's seats only
            return
        try:
            server = ServerManager(self.cfg, self.backend)
            if server.status(probe=False).running:
                server.stop()
        except Exception:  # noqa: BLE001 - see the docstring
            pass

    def _purge(self, seat: str, dom) -> None:
        from .. import rescue

        if dom is not None:
            self.backend.undefine(dom)
        rescue.clear(self, seat)
        folder = self.folder(seat)
        if folder.exists():
            shutil.rmtree(folder)
