"""Define a throwaway machine, boot it and wait for its guest agent.

Used by an image's warm state (labctl.seats) and the rescue machine
(labctl.rescue), which each boot a machine once, use it and remove it.
The company server defines a lasting machine and boots it the same way
(start, then wait for the agent), but keeps its domain across starts.
"""

from __future__ import annotations

import contextlib

from ..errors import LabError


def boot(backend, xml: str, *, timeout: float):
    """Define a machine from its domain XML, start it and wait for its agent; its domain.

    If it does not come up, its domain is removed before the error is raised, so
    the caller only ever cleans up a machine it was handed.
    """
    dom = backend.define(xml)
    try:
        backend.start(dom)
        backend.wait_for_agent(dom, timeout)
    except BaseException:
        with contextlib.suppress(LabError):
            backend.undefine(dom)
        raise
    return dom
