"""The facts labctl keeps with a machine: ``<labctl:seat>`` and ``<labctl:server>`` in its domain metadata.

Seats, the image's warm-state machine (``state="golden"``) and rescue machines
(``state="rescue"``) carry a :class:`SeatRecord`; the company server a
:class:`ServerRecord`. Both live in one namespace, :data:`META_URI`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from ..hypervisor.libvirt_backend import META_URI


@dataclass(frozen=True)
class SeatRecord:
    """The facts about a seat kept in its domain metadata."""

    name: str
    state: str  # "creating" until the pristine state is saved, then "ready"
    image: str
    image_digest: str
    listen: str
    ports: dict[str, int]
    pristine: str = ""
    fault: str = ""
    created: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    company: bool = False  # wired to the lab's company server (labctl.server)
    # Made from a fault's prepared state (labctl.faults.prepared): its key, fault, variant and
    # the digest of the values its prepare stage had. Empty for a seat made from the warm state.
    base: dict[str, str] = field(default_factory=dict)

    def to_xml(self, namespaced: bool = False) -> str:
        """The ``<seat>`` element; ``namespaced`` gives ``<labctl:seat xmlns:labctl=...>``.

        libvirt's setMetadata wants the bare element and adds the namespace itself;
        a domain XML document needs it spelled out.
        """
        ET.register_namespace("labctl", META_URI)
        ns = "{" + META_URI + "}" if namespaced else ""
        root = ET.Element(ns + "seat", {"name": self.name, "state": self.state, "created": self.created})
        ET.SubElement(root, ns + "image", {"name": self.image, "digest": self.image_digest})
        ET.SubElement(root, ns + "network", {"listen": self.listen, **({"company": "yes"} if self.company else {})})
        ET.SubElement(root, ns + "ports", {k: str(v) for k, v in sorted(self.ports.items())})
        ET.SubElement(root, ns + "pristine", {"taken": self.pristine})
        ET.SubElement(root, ns + "fault", {"id": self.fault})
        if self.extra:
            ET.SubElement(root, ns + "extra", dict(sorted(self.extra.items())))
        if self.base:
            ET.SubElement(root, ns + "base", dict(sorted(self.base.items())))
        return ET.tostring(root, encoding="unicode")

    @classmethod
    def from_xml(cls, xml: str) -> "SeatRecord":
        root = ET.fromstring(xml)
        for el in root.iter():
            el.tag = el.tag.rsplit("}", 1)[-1]  # libvirt may hand it back with or without the prefix

        def attrs(tag: str) -> dict[str, str]:
            el = root.find(tag)
            return dict(el.attrib) if el is not None else {}

        return cls(
            name=root.get("name", ""),
            state=root.get("state", ""),
            created=root.get("created", ""),
            image=attrs("image").get("name", ""),
            image_digest=attrs("image").get("digest", ""),
            listen=attrs("network").get("listen", "127.0.0.1"),
            ports={k: int(v) for k, v in attrs("ports").items()},
            pristine=attrs("pristine").get("taken", ""),
            fault=attrs("fault").get("id", ""),
            extra=attrs("extra"),
            company=attrs("network").get("company") == "yes",
            base=attrs("base"),
        )


@dataclass(frozen=True)
class ServerRecord:
    """What labctl keeps in the server domain's metadata."""

    state: str  # "creating" until provisioned once, then "ready"
    image: str
    image_digest: str
    ports: dict[str, int]
    created: str = ""

    def to_xml(self, namespaced: bool = False) -> str:
        ET.register_namespace("labctl", META_URI)
        ns = "{" + META_URI + "}" if namespaced else ""
        root = ET.Element(ns + "server", {"state": self.state, "created": self.created})
        ET.SubElement(root, ns + "image", {"name": self.image, "digest": self.image_digest})
        ET.SubElement(root, ns + "ports", {k: str(v) for k, v in sorted(self.ports.items())})
        return ET.tostring(root, encoding="unicode")

    @classmethod
    def from_xml(cls, xml: str) -> "ServerRecord | None":
        try:
            root = ET.fromstring(xml)
        except ET.ParseError:
            return None
        for el in root.iter():
            el.tag = el.tag.rsplit("}", 1)[-1]
        if root.tag != "server":
            return None
        img = root.find("image")
        ports = root.find("ports")
        return cls(state=root.get("state", ""), created=root.get("created", ""),
                   image=img.get("name", "") if img is not None else "",
                   image_digest=img.get("digest", "") if img is not None else "",
                   ports={k: int(v) for k, v in (ports.attrib if ports is not None else {}).items()})
