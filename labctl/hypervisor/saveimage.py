"""libvirt's QEMU save-image files: read the domain XML, write a clone with new XML.

libvirt refuses to restore a saved state under another domain's UUID, so a seat
cannot be restored straight from the golden guest's file. A save image is a
92-byte header, a data area (domain XML, NUL, migration cookie, NUL, zero
padding) and QEMU's migration stream; a clone is a copy whose data area carries
the seat's own XML (name, UUID, disks, forwards, console password) while the
guest's state stays byte for byte the same.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

from ..errors import HostError

MAGIC = b"LibvirtQemudSave"
HEADER = struct.Struct("<16s5I14I")


def _read_header(fh, path: Path):
    raw = fh.read(HEADER.size)
    if len(raw) != HEADER.size:
        raise HostError(f"{path}: not a libvirt save image (too short)")
    fields = HEADER.unpack(raw)
    magic, version, data_len, was_running, compressed, cookie_off = fields[:6]
    if magic != MAGIC or version != 2:
        raise HostError(f"{path}: not a complete libvirt save image (magic {magic!r}, version {version})")
    if compressed != 0:
        raise HostError(f"{path}: compressed save images are not supported",
                        hint="set save_image_format = \"raw\" in /etc/libvirt/qemu.conf")
    return fields, data_len, cookie_off


def read_xml(path: Path) -> str:
    with open(path, "rb") as fh:
        _fields, data_len, _cookie = _read_header(fh, path)
        data = fh.read(data_len)
    return data[: data.index(b"\0")].decode()


def clone_with_xml(src: Path, dst: Path, xml: str) -> None:
    """Copy save image ``src`` to ``dst`` with its domain XML replaced by ``xml``."""
    with open(src, "rb") as fh:
        fields, data_len, cookie_off = _read_header(fh, src)
        data = fh.read(data_len)
    cookie = data[cookie_off: data.index(b"\0", cookie_off)] if cookie_off else b""
    new_xml = xml.encode() + b"\0"
    body = new_xml + (cookie + b"\0" if cookie else b"")
    if len(body) > data_len:
        raise HostError(f"{src}: the new domain XML does not fit in the save image ({len(body)} > {data_len} bytes)")
    header = list(fields)
    header[5] = len(new_xml) if cookie else 0
    tmp = dst.with_name(dst.name + ".part")
    try:
        shutil.copyfile(src, tmp)
        with open(tmp, "r+b") as fh:
            fh.write(HEADER.pack(*header))
            fh.write(body + b"\0" * (data_len - len(body)))
        tmp.rename(dst)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise HostError(f"cannot write {dst}: {exc}") from None
