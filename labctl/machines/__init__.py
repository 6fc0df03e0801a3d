"""Machines: what every labctl guest is made of, whatever it is for.

The low layer under seats, the company server (``labctl.server``), the rescue
machine (``labctl.rescue``) and an image's warm state: domain XML and names
(:mod:`.spec`), the ``<labctl:...>`` metadata records (:mod:`.record`), which
machines on the host are seats (:mod:`.inventory`), disk layers (:mod:`.disks`),
where every saved state lives (:mod:`.states`) and "define it, boot it, wait for
its agent" (:mod:`.throwaway`).

Nothing here imports seats, the server, rescue, faults or sessions: they build
on this package, never the other way round (docs/architecture.md).
"""
