"""What a seat's screen shows: libvirt screenshots (PPM from QEMU) read and written as PNG.

Pure Python (zlib), so that tests and the CLI need no imaging library.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from ..errors import HostError


@dataclass(frozen=True)
class Screen:
    width: int
    height: int
    rgb: bytes  # width * height * 3 bytes, rows top to bottom

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
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
