import struct
import zlib

import pytest

from labctl.errors import HostError
from labctl.hypervisor.screen import Screen


def ppm(width, height, pixels, comment=b""):
    return b"P6\n" + comment + f"{width} {height}\n255\n".encode() + pixels


def test_reads_qemu_ppm_counts_colours_and_differences():
    a = Screen.from_ppm(ppm(2, 2, bytes([0, 0, 0, 255, 0, 0, 0, 0, 0, 1, 2, 3]), b"# qemu\n"))
    assert (a.width, a.height) == (2, 2)
    assert a.colours() == 3
    b = Screen.from_ppm(ppm(2, 2, bytes([0, 0, 0, 255, 0, 0, 9, 9, 9, 1, 2, 3])))
    assert a.differing_pixels(b) == 1
    assert a.differing_pixels(a) == 0
    assert a.differing_pixels(Screen.from_ppm(ppm(1, 1, b"\0\0\0"))) == 4


def test_png_round_trips_the_pixels():
    s = Screen(3, 2, bytes(range(18)))
    data = s.png()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, idat, ihdr = 8, b"", b""
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body)
        if kind == b"IHDR":
            ihdr = body
        if kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert struct.unpack(">II", ihdr[:8]) == (3, 2)
    raw = zlib.decompress(idat)
    assert raw == b"\0" + bytes(range(9)) + b"\0" + bytes(range(9, 18))


@pytest.mark.parametrize("data", [b"P5\n1 1\n255\n\0", b"P6\n2 2\n255\n\0\0\0", b"P6\n"])
def test_bad_ppm_is_a_clear_error(data):
    with pytest.raises(HostError):
        Screen.from_ppm(data)


def _png(width, height, rows, colour=2):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")


def _filter(ftype, line, prev, bpp):
    out = bytearray()
    for i, x in enumerate(line):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if ftype == 0:
            pred = 0
        elif ftype == 1:
            pred = a
        elif ftype == 2:
            pred = b
        elif ftype == 3:
            pred = (a + b) >> 1
        else:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
        out.append((x - pred) & 0xFF)
    return bytes([ftype]) + bytes(out)


@pytest.mark.parametrize("colour,bpp", [(2, 3), (6, 4)])
def test_reads_qemu_png_with_every_row_filter(colour, bpp):
    width, height = 4, 5
    lines = [bytes((7 * x + 31 * y + 5 * k) % 256 for x in range(width) for k in range(bpp)) for y in range(height)]
    prev, rows = bytes(width * bpp), []
    for y, line in enumerate(lines):
        rows.append(_filter(y % 5, line, prev, bpp))
        prev = line
    s = Screen.from_bytes(_png(width, height, rows, colour))
    want = b"".join(line[i:i + 3] for line in lines for i in range(0, len(line), bpp))
    assert (s.width, s.height, s.rgb) == (width, height, want)
    assert Screen.from_bytes(s.png()).rgb == want  # what we write, we read


def test_png_of_another_kind_is_a_clear_error():
    with pytest.raises(HostError):
        Screen.from_bytes(_png(1, 1, [b"\0\0"], colour=0))
