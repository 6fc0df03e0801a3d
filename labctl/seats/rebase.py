"""A seat starting over from another saved state: a fault's prepared state, or the image's warm state.

What ``fault test --prepared`` does before each variant: the seat keeps its name,
ports and credentials, and gets a new pristine state made from the saved state
(restore, new identity, save), as if it had been created from it.
"""

from __future__ import annotations

import dataclasses
import time

from .. import images, timing
from ..errors import LabError
from ..machines.disks import qemu_img_overlay
from ..machines.states import Prepared, StateStore
from .create import Progress, base_record


class Rebasing:
    """Part of :class:`labctl.seats.SeatManager` (needs ``cfg``, ``backend`` and the other parts)."""

    @timing.timed("seat: start over from a saved state")
    def rebase(self, seat: str, base: Prepared | None, *, progress: Progress | None = None) -> float:
        """Make ``seat`` start over from ``base`` (a fault's prepared state; None: the image's warm state).

        All or nothing for the caller: the seat is marked ``creating`` until its new
        pristine state is saved, so a failure or a kill leaves a seat that ``seat
        create`` or ``session resume`` makes again, never one that runs on a frozen disk.
        """
        say = progress or (lambda _m: None)
        started = time.monotonic()
        dom = self._domain(seat)
        rec = self._record(dom)
        if rec.company:
            raise LabError(f"seat {seat} is wired to the company server; prepared states are not made for the "
                           "recipes that need it", hint="use a seat that is not a company laptop")
        creds = self.credentials(seat)
        if creds is None:
            raise LabError(f"seat {seat} has no credentials file", hint=f"make it again: labctl seat destroy {seat}")
        built = images.find_built(self.cfg, rec.image)
        recipe = images.load_recipe(self.cfg.images_dir, rec.image)
        golden = self._golden(built, self.accel().accel, say)
        start = base or golden
        states = StateStore(self.folder(seat))
        pristine, live = states.pristine, states.live
        self.backend.set_metadata(dom, dataclasses.replace(rec, state="creating", fault="", extra={},
                                                           base={}).to_xml())
        xml = self.backend.xml(dom, secure=True, inactive=True)
        if str(live) not in xml:
            raise LabError(f"seat {seat}: its definition does not run on {live}",
                           hint=f"make it again: labctl seat destroy {seat} && labctl seat create {seat}")
        if dom.isActive():
            self.backend.poweroff(dom)
        live.unlink(missing_ok=True)
        states.drop_checkpoints()
        pristine.save.unlink(missing_ok=True)
        pristine.disk.unlink(missing_ok=True)
        qemu_img_overlay(start.disk, pristine.disk)
        xml = xml.replace(str(live), str(pristine.disk))
        dom = self.backend.define(xml)
        self._bring_up(seat, dom, golden=golden, start_save=start.save, base=base, built=built,
                       graphical=recipe.graphical, creds=creds, ssh_port=rec.ports["ssh"], server=None,
                       record=dataclasses.replace(rec, fault="", extra={}, base=base_record(base)), say=say)
        (self.folder(seat) / "fault.json").unlink(missing_ok=True)
        return time.monotonic() - started
