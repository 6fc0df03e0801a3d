"""Session reports: HTML (readable, printable), CSV (one row per trainee) and JSON (everything)."""

from __future__ import annotations

import csv
import io
import json
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from ..curriculum import COMPETENCIES, CRITERIA, FAMILIES
from .grading import FAIL, NOT_JUDGED, PASS, PENDING
from .manager import SeatReport
from .model import SessionRow

FORMATS = ("html", "csv", "json")
CSV_COLUMNS = ("session", "seat", "trainee", "email", "fault", "variant", "level", "priority", "ticket_state",
               "outcome", "result", "time", "C1", "C2", "C3", "C4", "overall", "comment")


def competency_view(seats: list[SeatReport]) -> list[dict[str, Any]]:
    """Per competency (CP id) the faults in the class train: how many seats, and how many pass each criterion."""
    rows: "OrderedDict[str, dict[str, Any]]" = OrderedDict()
    for cp in COMPETENCIES:
        rows[cp] = {"id": cp, "title": COMPETENCIES[cp], "seats": 0, "faults": set(),
                    **{c: {PASS: 0, FAIL: 0, "other": 0} for c in ("C1", "C2", "C3", "C4", "overall")}}
    for s in seats:
        crit = {k: v.status for k, v in s.grade.criteria().items()}
        crit["overall"] = s.grade.overall
        for cp in s.competencies:
            row = rows.setdefault(cp, {"id": cp, "title": cp, "seats": 0, "faults": set(),
                                       **{c: {PASS: 0, FAIL: 0, "other": 0} for c in ("C1", "C2", "C3", "C4", "overall")}})
            row["seats"] += 1
            row["faults"].add(s.fault)
            for c, st in crit.items():
                row[c][st if st in (PASS, FAIL) else "other"] += 1
    return [{**r, "faults": sorted(r["faults"])} for r in rows.values() if r["seats"]]


def as_data(session: SessionRow, seats: list[SeatReport]) -> dict[str, Any]:
    return {"session": session.as_dict(), "scenario": session.scenario.as_dict(),
            "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "criteria": CRITERIA, "seats": [s.as_dict() for s in seats], "competencies": competency_view(seats),
            "summary": summary(seats)}


def summary(seats: list[SeatReport]) -> dict[str, int]:
    out = {PASS: 0, FAIL: 0, NOT_JUDGED: 0, PENDING: 0}
    for s in seats:
        out[s.grade.overall] = out.get(s.grade.overall, 0) + 1
    return out


def to_json(session: SessionRow, seats: list[SeatReport]) -> str:
    return json.dumps(as_data(session, seats), indent=2, ensure_ascii=False) + "\n"


def to_csv(session: SessionRow, seats: list[SeatReport]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for s in seats:
        g = s.grade
        for t in s.trainees or ({"name": "", "email": ""},):
            w.writerow([session.name, s.seat, t["name"], t["email"], s.fault, s.variant, s.level,
                        s.ticket.get("priority", ""), s.ticket.get("state", ""), s.ticket.get("outcome", ""),
                        g.result.status, g.time.status, g.c1.status, g.c2.status, g.c3.status, g.c4.status,
                        g.overall, g.comment])
    return buf.getvalue()


def to_html(session: SessionRow, seats: list[SeatReport]) -> str:
    env = Environment(loader=PackageLoader("labctl", "templates"), undefined=StrictUndefined, autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    return env.get_template("session_report.html.j2").render(
        data=as_data(session, seats), seats=seats, families=FAMILIES, criteria=CRITERIA)


def write_report(session: SessionRow, seats: list[SeatReport], out_dir: Path | str,
                 formats: tuple[str, ...] = FORMATS) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    render = {"html": to_html, "csv": to_csv, "json": to_json}
    written = []
    for fmt in formats:
        path = out / f"{session.name}-report.{fmt}"
        path.write_text(render[fmt](session, seats), encoding="utf-8")
        written.append(path)
    return written
