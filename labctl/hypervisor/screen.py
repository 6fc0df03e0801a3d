"""What a seat's screen shows: libvirt screenshots (PNG or PPM, as QEMU gives them) read and written as PNG.

Pure Python (zlib), so that tests and the CLI need no imaging library.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from ..errors import HostError


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Screen:
    width: int
    height: int
    rgb: bytes  # width * height * 3 bytes, rows top to bottom

    @classmethod
    def from_bytes(cls, data: bytes) -> "Screen":
        """A screenshot as libvirt hands it over: PNG (QEMU 7.2 and later) or binary PPM."""
        if data.startswith(PNG_MAGIC):
            return cls.from_png(data)
        return cls.from_ppm(data)

    @classmethod
    def from_png(cls, data: bytes) -> "Screen":
        """Read an 8-bit, non-interlaced RGB or RGBA PNG (what QEMU's screendump writes)."""
        pos, ihdr, idat = len(PNG_MAGIC), b"", []
        try:
            while pos < len(data):
                (length,) = struct.unpack(">I", data[pos:pos + 4])
                kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
                if kind == b"IHDR":
                    ihdr = body
                elif kind == b"IDAT":
                    idat.append(body)
                elif kind == b"IEND":
                    break
                pos += 12 + length
            width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", ihdr)
            raw = zlib.decompress(b"".join(idat))
        except (struct.error, zlib.error) as exc:
            raise HostError(f"screenshot: not a PNG the lab reads ({exc})") from None
        if depth != 8 or colour not in (2, 6) or interlace:
            raise HostError(f"screenshot: PNG of depth {depth}, colour type {colour}, interlace {interlace}: "
                            "only 8-bit RGB/RGBA without interlace is read")
        bpp = 3 if colour == 2 else 4
        stride = width * bpp
        if len(raw) != height * (stride + 1):
            raise HostError(f"screenshot: {len(raw)} bytes of pixels for {width}x{height}")
        rows, prev = [], bytearray(stride)
        for y in range(height):
            ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
            if ftype == 1:
                for i in range(bpp, stride):
                    line[i] = (line[i] + line[i - bpp]) & 0xFF
            elif ftype == 2:
                line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
            elif ftype == 3:
                for i in range(stride):
                    left = line[i - bpp] if i >= bpp else 0
                    line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
            elif ftype == 4:
                for i in range(stride):
                    a = line[i - bpp] if i >= bpp else 0
                    b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
            elif ftype != 0:
                raise HostError(f"screenshot: PNG row {y} has unknown filter {ftype}")
            rows.append(bytes(line))
            prev = line
        rgb = b"".join(rows)
        if bpp == 4:
            rgb = b"".join(rgb[i:i + 3] for i in range(0, len(rgb), 4))
        return cls(width, height, rgb)

    @classmethod
    def from_ppm(cls, data: bytes) -> "Screen":
        """Read a binary PPM (P6, maxval 255), what QEMU's screendump writes."""
        fields: list[bytes] = []
        pos = 0
        while len(fields) < 4:
            while pos < len(data) and data[pos:pos + 1].isspace():
                pos += 1
            if data[pos:pos + 1] == b"#":
                pos = data.index(b"\n", pos) + 1
                continue
            end = pos
            while end < len(data) and not data[end:end + 1].isspace():
                end += 1
            if end == pos:
                raise HostError("screenshot: truncated PPM header")
            fields.append(data[pos:end])
            pos = end
        if fields[0] != b"P6" or fields[3] != b"255":
            raise HostError(f"screenshot: not a PPM the lab reads (magic {fields[0]!r}, maxval {fields[3]!r})")
        width, height = int(fields[1]), int(fields[2])
        rgb = data[pos + 1:pos + 1 + width * height * 3]
        if len(rgb) != width * height * 3:
            raise HostError(f"screenshot: {len(rgb)} bytes of pixels for {width}x{height}")
        return cls(width, height, rgb)

    def colours(self) -> int:
        """How many distinct colours: a text console has at most 16, a desktop thousands."""
        view = memoryview(self.rgb)
        return len({bytes(view[i:i + 3]) for i in range(0, len(view), 3)})

    def differing_pixels(self, other: "Screen") -> int:
        if (self.width, self.height) != (other.width, other.height):
            return self.width * self.height
        a, b = self.rgb, other.rgb
        return sum(1 for i in range(0, len(a), 3) if a[i:i + 3] != b[i:i + 3])

    def png(self) -> bytes:
        """The screen as a PNG file (8-bit RGB, no filter)."""
        stride = self.width * 3
        raw = b"".join(b"\0" + self.rgb[y * stride:(y + 1) * stride] for y in range(self.height))

        def chunk(kind: bytes, body: bytes) -> bytes:
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

        ihdr = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return PNG_MAGIC + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
