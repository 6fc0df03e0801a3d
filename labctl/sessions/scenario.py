"""Scenarios: ``scenarios/<name>.yaml``, checked against ``labctl/schemas/scenario.schema.json``.

A scenario says what a class gets: the pool of faults to draw from (explicit ids
and/or whole families, narrowed by difficulty or level), how many faults a seat
carries, the time limit, the SLA targets by priority, the mode (``remote`` or
``phone``), the language of the tickets and the image the seats boot (``image``,
e.g. ``desktop``; the lab's default image when left out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import validation
from ..curriculum import FAMILIES
from ..errors import ConfigError, NotFoundError
from ..faults.manifest import Catalog, Fault

PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Pool:
    faults: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    difficulty: tuple[int, ...] = ()
    level: tuple[int, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    file: Path
    title: str
    description: str
    mode: str  # remote | phone
    language: str  # en | fr
    time_limit_min: int
    faults_per_seat: int
    pool: Pool
    sla_min: dict[str, int]
    image: str | None = None  # the seats' image; None: the lab's default_image

    @property
    def phone(self) -> bool:
        return self.mode == "phone"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "file": str(self.file), "title": self.title, "description": self.description,
                "mode": self.mode, "language": self.language, "time_limit_min": self.time_limit_min,
                "faults_per_seat": self.faults_per_seat,
                "pool": {"faults": list(self.pool.faults), "families": list(self.pool.families),
                         "difficulty": list(self.pool.difficulty), "level": list(self.pool.level)},
                "sla_min": dict(self.sla_min), "image": self.image}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Scenario":
        """Back from ``as_dict`` (what a session stores, so a later edit of the file changes nothing)."""
        p = d["pool"]
        return cls(name=d["name"], file=Path(d["file"]), title=d["title"], description=d["description"],
                   mode=d["mode"], language=d["language"], time_limit_min=d["time_limit_min"],
                   faults_per_seat=d["faults_per_seat"],
                   pool=Pool(tuple(p["faults"]), tuple(p["families"]), tuple(p["difficulty"]), tuple(p["level"])),
                   sla_min=dict(d["sla_min"]), image=d.get("image"))

    def resolve_pool(self, catalog: Catalog, skipped: dict[str, str] | None = None) -> list[Fault]:
        """The faults this scenario draws from, in id order; unknown ids or an empty pool are errors.

        A recipe that does not load is an error when named in ``pool.faults``; when
        only its family matches, it is left out (and put in ``skipped`` with why):
        one half-written recipe in the catalogue must not stop a class.
        """
        chosen: dict[str, Fault] = {}
        for i, fid in enumerate(self.pool.faults):
            try:
                chosen[fid] = catalog.get(fid)
            except NotFoundError as exc:
                raise NotFoundError(f"{self.file}: field 'pool.faults[{i}]': unknown fault '{fid}'",
                                    hint=exc.hint) from None
        if self.pool.families:
            faults = []
            for fid in catalog.ids():
                try:
                    faults.append(catalog.get(fid))
                except ConfigError as exc:
                    if skipped is not None:
                        skipped[fid] = exc.message
            for f in faults:
                if not set(f.families) & set(self.pool.families):
                    continue
                if self.pool.difficulty and f.difficulty not in self.pool.difficulty:
                    continue
                if self.pool.level and f.level not in self.pool.level:
                    continue
                chosen.setdefault(f.id, f)
        if not chosen:
            raise ConfigError(f"{self.file}: field 'pool': no fault in {catalog.dir} matches "
                              f"(families {', '.join(self.pool.families) or '-'}, "
                              f"difficulty {', '.join(map(str, self.pool.difficulty)) or 'any'}, "
                              f"level {', '.join(map(str, self.pool.level)) or 'any'})",
                              hint="`labctl fault list` shows the catalogue; widen the pool or add faults to it")
        return [chosen[k] for k in sorted(chosen)]


def _pool_message(file: Path):
    def special(err, field: str) -> ConfigError | None:
        if err.validator == "anyOf" and field == "pool":
            return ConfigError(f"{file}: field 'pool': give 'faults' (fault ids) and/or 'families' (e.g. T2-DISK)")
        return None
    return special


def _validate(data: Any, file: Path) -> None:
    validation.validate(data, "scenario", file, special=_pool_message(file))


def load_scenario_file(file: Path) -> Scenario:
    file = Path(file)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NotFoundError(f"{file}: cannot read the scenario: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a mapping at the top level")
    _validate(data, file)
    pool = data["pool"]
    for i, fam in enumerate(pool.get("families", [])):
        if fam not in FAMILIES:
            raise ConfigError(f"{file}: field 'pool.families[{i}]': unknown family {fam!r}",
                              hint="families from shared/CURRICULUM.md: " + ", ".join(FAMILIES))
    sla = data["sla"]
    for a, b in zip(PRIORITIES, PRIORITIES[1:]):
        if sla[a] > sla[b]:
            raise ConfigError(f"{file}: field 'sla.{a}': {sla[a]} min is longer than {b}'s {sla[b]} min",
                              hint="a more urgent priority gets a shorter (or equal) target")
    name = file.stem
    return Scenario(
        name=name, file=file.resolve(), title=data["title"], description=data.get("description", "").strip(),
        mode=data["mode"], language=data["language"], time_limit_min=data["time_limit_min"],
        faults_per_seat=data.get("faults_per_seat", 1),
        pool=Pool(tuple(pool.get("faults", ())), tuple(pool.get("families", ())),
                  tuple(pool.get("difficulty", ())), tuple(pool.get("level", ()))),
        sla_min={p: int(sla[p]) for p in PRIORITIES},
        image=data.get("image"),
    )


def scenario_names(folder: Path) -> list[str]:
    folder = Path(folder)
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def load_scenario(name_or_path: str, folder: Path) -> Scenario:
    """A scenario by name (``scenarios/<name>.yaml``) or by the path of a YAML file."""
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        return load_scenario_file(Path(name_or_path))
    if not NAME_RE.match(name_or_path):
        raise ConfigError(f"scenario name {name_or_path!r} is not valid", hint="names are kebab-case, e.g. exam-task2")
    file = Path(folder) / f"{name_or_path}.yaml"
    if not file.is_file():
        raise NotFoundError(f"unknown scenario '{name_or_path}' (no {file})",
                            hint="scenarios: " + (", ".join(scenario_names(folder)) or "none"))
    return load_scenario_file(file)
