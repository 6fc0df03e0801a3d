"""Creating seats: the image's warm state (made once per image), then each seat up to its pristine state."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Callable

from .. import images, timing
from ..config import default_parallel
from ..errors import AlreadyExistsError, ConfigError, GuestError, HostError, LabError
from ..guest import programs
from ..guest.ssh import wait_for_ssh
from ..hypervisor import saveimage
from ..machines import throwaway
from ..machines.disks import qemu_img_overlay
from ..machines.record import SeatRecord
from ..machines.spec import DOMAIN_TEMPLATE, domain_name, random_mac, render_domain_xml
from ..machines.states import Golden, Prepared, StateStore, warm_folder, warm_key, warm_work_folder
from ..ports import allocate, port_is_free, state_lock
from .credentials import Credentials, _ssh_keygen
from .info import PROGRAMS_FILE, SeatInfo, validate_seat_name
from .personalise import wait_for_desktop

FORWARDED = ("ssh", "rdp")


Progress = Callable[[str], None]


def base_record(base: Prepared | None) -> dict[str, str]:
    """What a seat's record keeps of the prepared state it was made from."""
    if base is None:
        return {}
    return {"key": base.key, "fault": str(base.meta.get("fault", "")), "variant": str(base.meta.get("variant", "")),
            "values": str(base.meta.get("values", ""))}


class Creation:
    """Making seats; part of :class:`labctl.seats.SeatManager` (needs ``cfg``, ``backend``)."""

    def create(self, seat: str, image: str | None = None, *, company: bool = False,
               base: Prepared | None = None, progress: Progress | None = None) -> SeatInfo:
        """Create a seat, boot it, personalise it and save its pristine state.

        ``company``: wire the seat to the lab's company server (started if it is
        not running) and make it a company laptop: VPN identity, lab CA, network
        folder (labctl.server, docs/network.md).

        ``base``: start from a fault's prepared state (labctl.faults.prepared, a
        layer on the image's warm state) instead of the warm state itself; the
        seat's pristine state then holds that recipe's healthy stage.

        All or nothing: on any failure the domain, its disk and its ports are
        released, and the error is raised. A seat left half-made by a killed
        process (metadata state "creating") is cleared and made again.
        """
        say = progress or (lambda _m: None)
        validate_seat_name(seat)
        image = image or self.cfg.default_image
        built = images.find_built(self.cfg, image)
        recipe = images.load_recipe(self.cfg.images_dir, image)
        memory = self.memory_mib(image)
        accel = self.accel()
        folder = self.folder(seat)
        started = time.monotonic()
        golden = self._golden(built, accel.accel, say) if self.cfg.warm_start else None
        if base is not None and golden is None:
            raise ConfigError("a seat made from a prepared state needs warm_start: true")
        start_disk, start_save = (base.disk, base.save) if base else (golden.disk, golden.save) if golden else (None, None)
        guestfwd: tuple[str, ...] = ()
        server = None
        if company:
            from ..server import ServerManager, seat_guestfwd

            server = ServerManager(self.cfg, self.backend)
            guestfwd = seat_guestfwd(server.start(progress=say).record.ports)

        with state_lock(self.cfg.state_dir):
            existing = self.backend.lookup(domain_name(seat))
            if existing is not None:
                rec = self._record(existing)
                if rec is None:
                    raise AlreadyExistsError(f"a libvirt domain named {domain_name(seat)} exists and is not labctl's",
                                             hint="pick another seat name")
                if not folder.is_dir():
                    raise AlreadyExistsError(f"seat name '{seat}' is taken by another lab on this host "
                                             f"(domain {domain_name(seat)}, no folder in {self.cfg.seats_dir})",
                                             hint="pick another seat name; seat names are unique per host")
                if rec.state == "ready":
                    raise AlreadyExistsError(f"seat '{seat}' already exists",
                                             hint=f"use `labctl seat reset {seat}`, or destroy it first")
                say(f"seat {seat}: clearing an unfinished earlier creation")
                self._purge(seat, existing)
            elif folder.exists():
                shutil.rmtree(folder)
            self._check_disk_space()
            used = {p for s in self.list(all_labs=True) for p in s.record.ports.values()}
            ports = allocate([s for s in FORWARDED if s in recipe.services], used, self.cfg.port_min, self.cfg.port_max,
                             lambda p: port_is_free(self.cfg.listen, p))
            creds = Credentials.generate()
            record = SeatRecord(name=seat, state="creating", image=built.name, image_digest=built.digest,
                                listen=self.cfg.listen, ports=ports, company=company,
                                created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                base=base_record(base))
            try:
                # QEMU runs as its own user and must reach the disk; secrets in here are 0600.
                folder.mkdir(parents=True)
                folder.chmod(0o711)
                (folder / "credentials.json").write_text(json.dumps(dataclasses.asdict(creds)))
                os.chmod(folder / "credentials.json", 0o600)
                # The first boot writes to pristine.qcow2; once the pristine state is
                # saved it is frozen, and the seat runs on disk.qcow2 on top of it.
                disk = StateStore(folder).pristine.disk
                qemu_img_overlay(start_disk or built.disk, disk)
                _ssh_keygen(folder / "id_ed25519", comment=f"labctl-{seat}")
                xml = render_domain_xml(seat=seat, accel=accel.accel, image=built, disk=disk,
                                        console_log=folder / "console.log", listen=self.cfg.listen,
                                        ports=ports, vnc_password=creds.vnc_password,
                                        mac=golden.mac if golden else random_mac(),
                                        memory_mib=memory, vcpus=self.cfg.seat_vcpus,
                                        record=record, guestfwd=guestfwd)
                dom = self.backend.define(xml)
            except BaseException:
                self._purge(seat, self.backend.lookup(domain_name(seat)))
                raise

        try:
            self._bring_up(seat, dom, golden=golden, start_save=start_save, base=base, built=built,
                           graphical=recipe.graphical, creds=creds, ssh_port=ports["ssh"], server=server,
                           record=record, say=say)
        except BaseException as exc:
            say(f"seat {seat}: creation failed, removing what was made")
            self._purge(seat, self.backend.lookup(domain_name(seat)))
            if isinstance(exc, LabError):
                raise
            if isinstance(exc, Exception):
                raise HostError(f"seat {seat}: creation failed: {exc}") from exc
            raise
        say(f"seat {seat}: ready in {time.monotonic() - started:.1f} s")
        return self.info(seat)

    def _bring_up(self, seat: str, dom, *, golden: "Golden | None", start_save, base: Prepared | None,
                  built: images.BuiltImage, graphical: bool, creds: Credentials, ssh_port: int, server,
                  record: SeatRecord, say: Progress) -> None:
        """A defined seat, from its start (a saved state restored, or a cold boot) to its saved pristine
        state: agent, program list, personalisation, company laptop, SSH, desktop. What ``create``
        and ``rebase`` share; the caller removes or marks the seat if it raises."""
        folder = self.folder(seat)
        if golden:
            say(f"seat {seat}: starting from the "
                + (f"prepared state of {base.meta.get('fault')} ({base.meta.get('variant')})" if base else
                   "warm state") + f" of image {built.name} {built.digest}")
            with timing.phase("seat: warm start (restore the image's saved guest)"):
                boot = StateStore(folder).warm_boot
                saveimage.clone_with_xml(start_save, boot, self.backend.xml(dom, secure=True, inactive=True))
                self.backend.restore(str(boot), None)
                boot.unlink()
                dom = self.backend.get(domain_name(seat))
                # The agent first: right after a restore on a loaded host it may take longer than
                # the reseed's own 10 s to answer (pinging it runs nothing in the guest).
                self.backend.wait_for_agent(dom, self.cfg.boot_timeout)
                self._after_restore(dom, strict=True)
        else:
            say(f"seat {seat}: booting ({self.accel().accel}) from image {built.name} {built.digest}")
            with timing.phase("seat: cold boot"):
                self.backend.start(dom)
        with timing.phase("seat: wait for the guest agent"):
            waited = self.backend.wait_for_agent(dom, self.cfg.boot_timeout)
        with timing.phase("seat: list the image's programs"):
            # Before anything else runs on it: what the security baseline's
            # baseline-image-programs rule compares with (labctl/guest/programs.py).
            listing = self._programs_listing(golden, dom)
            (folder / PROGRAMS_FILE).write_bytes(programs.dump(listing))
        say(f"seat {seat}: guest agent up after {waited:.1f} s; personalising")
        with timing.phase("seat: personalise (name, passwords, keys)"):
            self._personalise(seat, dom, creds, new_identity=golden is not None)
        if server is not None:
            say(f"seat {seat}: making it a company laptop (VPN identity, lab CA, network folder)")
            with timing.phase("seat: company laptop (VPN, CA, network folder)"):
                self._personalise_company(seat, dom, creds, server)
        with timing.phase("seat: wait for SSH"):
            wait_for_ssh(self._ssh_host(), ssh_port, timeout=60)
        if graphical:
            with timing.phase("seat: desktop session"):
                if golden:
                    say(f"seat {seat}: starting the user's session again under the seat's own host name")
                    self._restart_desktop(dom, deadline=time.monotonic() + self.cfg.boot_timeout + 60,
                                          what=f"seat {seat}")
                wait_for_desktop(self.backend.agent(dom),
                                 deadline=time.monotonic() + self.cfg.boot_timeout + 60, what=f"seat {seat}")
                self._wait_for_drawn_screen(dom, deadline=time.monotonic() + 120, what=f"seat {seat}")
        say(f"seat {seat}: saving the pristine state")
        with timing.phase("seat: save the pristine state"):
            self._save_pristine(seat, dom, dataclasses.replace(
                record, state="ready", pristine=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))

    def scratch(self, image: str, name: str, disk, *, progress: Progress | None = None) -> tuple[object, Golden]:
        """A machine restored from the image's warm state onto a new layer ``disk``, running, clock set
        and random generator reseeded: what a fault's prepared state is made on (labctl.faults.prepared).

        No ports, no seat identity (it keeps the warm state's); the caller saves or removes it.
        If it does not come up, its domain is removed before the error is raised.
        """
        built = images.find_built(self.cfg, image)
        accel = self.accel().accel
        golden = self._golden(built, accel, progress or (lambda _m: None))
        qemu_img_overlay(golden.disk, disk)
        record = SeatRecord(name=name, state="prepared", image=built.name, image_digest=built.digest,
                            listen="127.0.0.1", ports={})
        xml = render_domain_xml(seat=name, accel=accel, image=built, disk=disk, console_log=disk.parent / "console.log",
                                listen="127.0.0.1", ports={}, vnc_password=secrets.token_hex(4), mac=golden.mac,
                                memory_mib=self.memory_mib(built.name), vcpus=self.cfg.seat_vcpus, record=record)
        old = self.backend.lookup(domain_name(name))
        if old is not None:
            self.backend.undefine(old)
        dom = self.backend.define(xml)
        try:
            boot = disk.parent / "warm.save"
            saveimage.clone_with_xml(golden.save, boot, self.backend.xml(dom, secure=True, inactive=True))
            self.backend.restore(str(boot), None)
            boot.unlink()
            dom = self.backend.get(domain_name(name))
            self.backend.wait_for_agent(dom, self.cfg.boot_timeout)
            self._after_restore(dom, strict=True)
        except BaseException:
            self.backend.undefine(self.backend.lookup(domain_name(name)) or dom)
            raise
        return dom, golden

    def _programs_listing(self, golden: "Golden | None", dom) -> dict[str, str]:
        """The image's programs as a new seat has them: listed once per warm state and kept beside
        it (every seat restored from it starts with the very same files), or on this seat when it
        booted cold."""
        kept = golden.folder / PROGRAMS_FILE if golden else None
        if kept is not None:
            try:
                return programs.load(kept.read_bytes())
            except (OSError, ValueError):
                pass  # not listed yet (a warm state made before labctl kept one), or unreadable
        listing = programs.take_listing(self.backend.agent(dom))
        if kept is not None:
            tmp = kept.with_name(f".{kept.name}.{os.getpid()}.{secrets.token_hex(4)}")
            tmp.write_bytes(programs.dump(listing))
            os.replace(tmp, kept)  # whole or absent, whoever writes it first
        return listing

    def memory_mib(self, image: str | None = None) -> int:
        """A seat's memory: the configured size, or more if the image needs it (image.yaml min_memory_mib)."""
        recipe = images.load_recipe(self.cfg.images_dir, image or self.cfg.default_image)
        return recipe.seat_memory_mib(self.cfg.seat_memory_mib)

    def warm_up(self, image: str | None = None, *, progress: Progress | None = None) -> "Golden | None":
        """Make sure the image's warm state exists (seat create does this on first use)."""
        if not self.cfg.warm_start:
            return None
        built = images.find_built(self.cfg, image or self.cfg.default_image)
        return self._golden(built, self.accel().accel, progress or (lambda _m: None))

    def _golden(self, built: images.BuiltImage, accel: str, say: Progress) -> "Golden":
        """The image's warm state: a guest booted once and saved, for seats to start from.

        Kept in the cache, keyed by everything that shapes the saved machine (image
        hash, domain template, memory, vCPUs, acceleration); made on first use.
        """
        tmpl = DOMAIN_TEMPLATE.read_bytes()
        memory = self.memory_mib(built.name)
        recipe = images.load_recipe(self.cfg.images_dir, built.name)
        key = warm_key(digest=built.digest, template=tmpl, accel=accel, memory_mib=memory,
                       vcpus=self.cfg.seat_vcpus)
        final = warm_folder(self.cfg.cache_dir, built.name, key)
        golden = Golden.load(final)
        if golden:
            return golden
        with state_lock(self.cfg.cache_dir):
            golden = Golden.load(final)
            if golden:
                return golden
            say(f"making the warm state of image {built.name} (once per image; boots it cold)")
            started = time.monotonic()
            final.parent.mkdir(parents=True, exist_ok=True)
            work = warm_work_folder(final)
            if work.exists():
                shutil.rmtree(work)
            work.mkdir()
            work.chmod(0o755)
            name = f"golden-{key[:8]}"
            mac = random_mac()
            made = Golden(folder=work, mac=mac)
            dom = None
            try:
                qemu_img_overlay(built.disk, made.disk)
                record = SeatRecord(name=name, state="golden", image=built.name, image_digest=built.digest,
                                    listen="127.0.0.1", ports={})
                xml = render_domain_xml(seat=name, accel=accel, image=built, disk=made.disk,
                                        console_log=work / "console.log", listen="127.0.0.1", ports={},
                                        vnc_password=secrets.token_hex(4), mac=mac,
                                        memory_mib=memory, vcpus=self.cfg.seat_vcpus, record=record)
                old = self.backend.lookup(domain_name(name))
                if old is not None:
                    self.backend.undefine(old)
                dom = throwaway.boot(self.backend, xml, timeout=self.cfg.boot_timeout)
                agent = self.backend.agent(dom)
                deadline = time.monotonic() + 120
                while agent.run(["systemctl", "is-active", "--quiet", "ssh"], timeout=10).rc != 0:
                    if time.monotonic() > deadline:
                        raise GuestError(f"image {built.name}: sshd did not start in its warm state")
                    time.sleep(0.5)
                # Walk the file system once, so that every seat starts with the inodes in
                # memory: the security baseline's scans (set-uid, world-writable) then take
                # about a second instead of ten under emulation, after every reset too.
                agent.run(["/bin/sh", "-c", "find / -xdev -printf '' 2>/dev/null"], timeout=600)
                if recipe.graphical:
                    # A desktop image is saved with the user's session on screen and xrdp
                    # listening, so that every warm seat starts logged in.
                    wait_for_desktop(agent, deadline=time.monotonic() + self.cfg.boot_timeout,
                                     what=f"image {built.name}")
                agent.run(["sync"], timeout=30)
                self.backend.save(dom, str(made.save))
                self.backend.undefine(dom)
                dom = None
                Golden.write_meta(work, mac=mac, image=built.name, digest=built.digest, key=key)
                for f in work.iterdir():
                    f.chmod(0o644)
                if final.exists():
                    shutil.rmtree(final)
                # The saved XML names the work folder, but seats never boot from that XML,
                # only from their own; their overlays point at the final path.
                os.rename(work, final)
            except BaseException:
                if dom is not None:
                    self.backend.undefine(dom)
                shutil.rmtree(work, ignore_errors=True)
                raise
            timing.record(f"image: make the warm state of {built.name} (once)", time.monotonic() - started)
            say(f"warm state of image {built.name} ready in {time.monotonic() - started:.1f} s")
            golden = Golden.load(final)
            assert golden is not None
            return golden

    def create_many(self, names: list[str], image: str | None = None, *, parallel: int | None = None,
                    company: bool = False, progress: Progress | None = None) -> tuple[list[SeatInfo], dict[str, LabError]]:
        """Create several seats at once; returns the seats made and the errors by name.

        Each creation is all-or-nothing on its own, so one failure leaves the
        others standing; rerunning with the failed names converges.
        """
        for name in names:
            validate_seat_name(name)
        if len(set(names)) != len(names):
            raise ConfigError("a seat name is given twice: " + ", ".join(sorted({n for n in names if names.count(n) > 1})))
        self.warm_up(image, progress=progress)
        if company:
            from ..server import ServerManager

            ServerManager(self.cfg, self.backend).start(progress=progress)
        made: list[SeatInfo] = []
        errors: dict[str, LabError] = {}
        tally = timing.Tally(len(names), "seats ready", progress)
        with ThreadPoolExecutor(max_workers=max(1, parallel or default_parallel())) as pool:
            futures = {pool.submit(self.create, name, image, company=company, progress=progress): name
                       for name in names}
            for fut in as_completed(futures):
                try:
                    made.append(fut.result())
                    tally.step()
                except LabError as exc:
                    errors[futures[fut]] = exc
                    tally.step(ok=False)
        made.sort(key=lambda info: names.index(info.name))
        return made, errors

    def _check_disk_space(self) -> None:
        self.cfg.state_dir.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.cfg.state_dir).free
        need = (self.cfg.seat_memory_mib + 512) * 1024**2  # about; the memory is saved with the seat
        if free < need:
            raise HostError(f"only {free // 1024**2} MiB free under {self.cfg.state_dir}; a seat needs about "
                            f"{need // 1024**2} MiB", hint="free some disk space or destroy unused seats")
