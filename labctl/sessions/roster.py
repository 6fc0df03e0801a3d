"""Rosters: a CSV of trainees (name, optional email and pair), checked on load.

The file may be UTF-8 (with or without a byte-order mark) or Latin-1/Windows-1252,
as spreadsheets export it; comma or semicolon separated; with or without a header
row (``name,email,pair``). Blank lines are skipped. Trainees with the same ``pair``
label share a seat (at most two per seat, as in the exam).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

COLUMNS = ("name", "email", "pair")
MAX_PER_SEAT = 2
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
HOST_RESERVE_MIB = 2048


@dataclass(frozen=True)
class Trainee:
    name: str
    email: str
    pair: str
    line: int


@dataclass(frozen=True)
class Roster:
    file: Path
    encoding: str
    trainees: tuple[Trainee, ...]

    def groups(self) -> list[tuple[Trainee, ...]]:
        """Trainees grouped by seat, in roster order: a pair shares one seat."""
        out: list[list[Trainee]] = []
        by_pair: dict[str, list[Trainee]] = {}
        for t in self.trainees:
            if t.pair:
                key = t.pair.casefold()
                if key in by_pair:
                    by_pair[key].append(t)
                    continue
                by_pair[key] = [t]
                out.append(by_pair[key])
            else:
                out.append([t])
        return [tuple(g) for g in out]


def _decode(raw: bytes, file: Path) -> tuple[str, str]:
    if raw.startswith(b"\xff\xfe") or raw.startswith(b"\xfe\xff"):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def _key(name: str) -> str:
    return unicodedata.normalize("NFC", " ".join(name.split())).casefold()


def host_capacity(seat_memory_mib: int, meminfo: Path = Path("/proc/meminfo")) -> int:
    """How many seats this host's RAM holds (total less a reserve for the host itself)."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                total_mib = int(line.split()[1]) // 1024
                return max(0, (total_mib - HOST_RESERVE_MIB) // seat_memory_mib)
    except (OSError, ValueError, IndexError):
        pass
    return 10**6  # unknown: do not refuse on a guess


def parse_roster(file: Path | str, *, max_seats: int | None = None, seat_memory_mib: int | None = None) -> Roster:
    """Read and check a roster; any problem raises ConfigError naming the file, the line and the field."""
    file = Path(file)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the roster: {exc.strerror}") from None
    text, encoding = _decode(raw, file)
    if "\x00" in text:
        raise ConfigError(f"{file}: not a text file (it holds NUL bytes)", hint="export the roster as CSV")
    sample = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))

    columns = COLUMNS
    trainees: list[Trainee] = []
    seen: dict[str, int] = {}
    header_done = False
    line = 0
    for row in rows:
        line += 1
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if not header_done:
            header_done = True
            lowered = [c.casefold() for c in cells]
            if "name" in lowered:
                unknown = [c for c in lowered if c and c not in COLUMNS]
                if unknown:
                    raise ConfigError(f"{file}: line {line}: unknown column(s) {', '.join(unknown)}",
                                      hint="columns: name (required), email, pair")
                columns = tuple(lowered)
                continue
        if len(cells) > len(columns):
            raise ConfigError(f"{file}: line {line}: {len(cells)} fields, expected at most {len(columns)} "
                              f"({', '.join(columns)})", hint="quote a name that holds a comma")
        rec = dict(zip(columns, cells))
        name = " ".join(rec.get("name", "").split())
        if not name:
            raise ConfigError(f"{file}: line {line}: field 'name' is empty")
        if len(name) > 80:
            raise ConfigError(f"{file}: line {line}: field 'name' is longer than 80 characters")
        if any(unicodedata.category(ch).startswith("C") for ch in name):
            raise ConfigError(f"{file}: line {line}: field 'name' holds control characters")
        email = rec.get("email", "")
        if email and not EMAIL_RE.match(email):
            raise ConfigError(f"{file}: line {line}: field 'email': {email!r} is not an e-mail address")
        key = _key(name)
        if key in seen:
            raise ConfigError(f"{file}: line {line}: field 'name': {name!r} is already on line {seen[key]}",
                              hint="each trainee once; tell namesakes apart (e.g. add an initial)")
        seen[key] = line
        trainees.append(Trainee(name=name, email=email, pair=rec.get("pair", ""), line=line))

    if not trainees:
        raise ConfigError(f"{file}: no trainees in the roster", hint="one trainee a line: name[,email[,pair]]")
    roster = Roster(file=file, encoding=encoding, trainees=tuple(trainees))
    for group in roster.groups():
        if len(group) > MAX_PER_SEAT:
            t = group[MAX_PER_SEAT]
            raise ConfigError(f"{file}: line {t.line}: field 'pair': pair {t.pair!r} would put {len(group)} trainees "
                              f"on one seat (lines {', '.join(str(g.line) for g in group)})",
                              hint=f"at most {MAX_PER_SEAT} trainees share a seat")
    if max_seats is not None:
        groups = roster.groups()
        if len(groups) > max_seats:
            first = groups[max_seats][0]
            why = f" ({seat_memory_mib} MiB each)" if seat_memory_mib else ""
            raise ConfigError(f"{file}: line {first.line}: field 'name': {first.name!r} needs seat {max_seats + 1}, "
                              f"but this host holds {max_seats} seat(s){why}; the roster needs {len(groups)}",
                              hint="split the class into two sessions, pair trainees (column 'pair'), "
                                   "or lower seat_memory_mib in the config")
    return roster
