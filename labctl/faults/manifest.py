"""Fault recipes: ``faults/<id>/`` folders, validated on load, turned into frozen dataclasses.

A recipe folder holds ``fault.yaml`` (the manifest, checked against
``labctl/schemas/fault.schema.json``), ``inject.yml`` and ``fix.yml`` (Ansible
playbooks), optionally ``prepare.yml`` (sets the healthy stage the fault needs),
``ticket.en.md.j2`` and ``ticket.fr.md.j2`` (the user's words) and ``README.md``
(instructor notes). The code finds recipes by folder name: adding a fault never
means editing a registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import validation
from ..curriculum import COMPETENCIES, FAMILIES
from ..errors import ConfigError, NotFoundError

MANIFEST = "fault.yaml"
CHECK_KINDS = ("file", "files", "command", "free_space", "url", "not_growing", "service", "groups", "sudo")
CHECK_GROUPS = ("functional", "integrity", "security")
PLAYBOOKS = ("prepare.yml", "inject.yml", "fix.yml")
REQUIRED_FILES = ("inject.yml", "fix.yml", "README.md", "ticket.en.md.j2", "ticket.fr.md.j2")
LANGS = ("en", "fr")


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    kind: str  # choice | int | sample | token
    values: tuple[Any, ...] = ()
    k: int = 1
    length: int = 8


@dataclass(frozen=True)
class VariantSpec:
    id: str
    summary: str
    params: dict[str, Any] = field(default_factory=dict)
    survives_reboot: bool = True


@dataclass(frozen=True)
class CheckSpec:
    id: str
    group: str
    title: str
    kind: str
    spec: dict[str, Any]
    variants: tuple[str, ...] = ()
    offline: bool = True
    on: str = "seat"  # "company": runs on the company server (recipes with company_server)

    def applies_to(self, variant: str) -> bool:
        return not self.variants or variant in self.variants


@dataclass(frozen=True)
class RepairSpec:
    id: str
    title: str
    playbook: Path
    expect: str  # "pass" (a legitimate repair) or "fail" (a harmful or wrong one: a decoy)
    variants: tuple[str, ...] = ()

    def applies_to(self, variant: str) -> bool:
        return not self.variants or variant in self.variants


@dataclass(frozen=True)
class TicketSpec:
    impact: str
    urgency: str
    subject: dict[str, str]


@dataclass(frozen=True)
class Fault:
    id: str
    title: str
    summary: str
    folder: Path
    families: tuple[str, ...]
    competencies: tuple[str, ...]
    os: str
    image: str
    difficulty: int
    level: int
    time_budget_min: int
    hints: tuple[str, ...]
    ticket: TicketSpec
    parameters: tuple[ParameterSpec, ...]
    variants: tuple[VariantSpec, ...]
    checks: tuple[CheckSpec, ...]
    repairs: tuple[RepairSpec, ...]
    protect: tuple[str, ...] = ()
    network: str = "isolated"  # "company": needs a seat wired to the company server
    company_server: bool = False  # its playbooks and checks also work on the company server

    @property
    def needs_company(self) -> bool:
        return self.network == "company"

    @property
    def manifest(self) -> Path:
        return self.folder / MANIFEST

    def playbook(self, step: str) -> Path | None:
        path = self.folder / f"{step}.yml"
        return path if path.is_file() else None

    def variant(self, vid: str) -> VariantSpec:
        for v in self.variants:
            if v.id == vid:
                return v
        raise NotFoundError(f"fault {self.id} has no variant '{vid}'",
                            hint="variants: " + ", ".join(v.id for v in self.variants))

    def notes(self) -> str:
        return (self.folder / "README.md").read_text(encoding="utf-8")

    def as_dict(self) -> dict:
        return {
            "id": self.id, "title": self.title, "summary": self.summary, "families": list(self.families),
            "competencies": list(self.competencies), "os": self.os, "image": self.image, "network": self.network,
            "company_server": self.company_server,
            "difficulty": self.difficulty, "level": self.level, "time_budget_min": self.time_budget_min,
            "variants": [{"id": v.id, "summary": v.summary} for v in self.variants],
            "checks": [{"id": c.id, "group": c.group, "title": c.title, "kind": c.kind,
                        "variants": list(c.variants)} for c in self.checks],
            "repairs": [{"id": r.id, "title": r.title, "expect": r.expect, "variants": list(r.variants)}
                        for r in self.repairs],
            "ticket": {"impact": self.ticket.impact, "urgency": self.ticket.urgency},
            "folder": str(self.folder),
        }


def schema() -> dict:
    return validation.schema("fault")


def _param(name: str, raw: dict, file: Path) -> ParameterSpec:
    if "choice" in raw:
        return ParameterSpec(name, "choice", tuple(raw["choice"]))
    if "int" in raw:
        lo, hi = raw["int"]
        if lo > hi:
            raise ConfigError(f"{file}: field 'parameters.{name}.int': the first bound is above the second")
        return ParameterSpec(name, "int", (lo, hi))
    if "sample" in raw:
        k = raw.get("k", 1)
        if k > len(raw["sample"]):
            raise ConfigError(f"{file}: field 'parameters.{name}.k': {k} is more than the {len(raw['sample'])} values")
        return ParameterSpec(name, "sample", tuple(raw["sample"]), k=k)
    if "token" in raw:
        return ParameterSpec(name, "token", length=raw["token"])
    raise ConfigError(f"{file}: field 'parameters.{name}': give one of choice, int, sample or token")


# Kinds that only read what is stored on the disk: judged from the disk alone when the
# running seat answers nothing (labctl.rescue). Other checks say ``offline: true`` if so.
OFFLINE_KINDS = ("file", "files", "groups", "sudo", "protected")


def _check(i: int, raw: dict, file: Path, variant_ids: set[str]) -> CheckSpec:
    kinds = [k for k in CHECK_KINDS if k in raw]
    if len(kinds) != 1:
        raise ConfigError(f"{file}: field 'checks[{i}]' ({raw.get('id', '?')}): give exactly one check kind, got "
                          f"{', '.join(kinds) or 'none'}", hint="kinds: " + ", ".join(CHECK_KINDS))
    for v in raw.get("variants", []):
        if v not in variant_ids:
            raise ConfigError(f"{file}: field 'checks[{i}].variants': unknown variant '{v}'")
    kind = kinds[0]
    return CheckSpec(id=raw["id"], group=raw["group"], title=raw["title"], kind=kind, spec=dict(raw[kind]),
                     variants=tuple(raw.get("variants", [])),
                     offline=raw.get("offline", kind in OFFLINE_KINDS), on=raw.get("on", "seat"))


def load_fault(folder: Path) -> Fault:
    """Load and validate one recipe folder; a problem raises ConfigError naming file and field."""
    folder = Path(folder)
    file = folder / MANIFEST
    if not file.is_file():
        raise ConfigError(f"{folder}: no {MANIFEST}", hint="a fault is a folder with fault.yaml; see docs/faults.md")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a mapping at the top level")
    validation.validate(data, "fault", file)

    if data["id"] != folder.name:
        raise ConfigError(f"{file}: field 'id': must be the folder name {folder.name!r} (got {data['id']!r})")
    for key, known in (("families", FAMILIES), ("competencies", COMPETENCIES)):
        for i, value in enumerate(data[key]):
            if value not in known:
                raise ConfigError(f"{file}: field '{key}[{i}]': unknown ID {value!r}",
                                  hint="IDs from shared/CURRICULUM.md: " + ", ".join(known))
    for name in REQUIRED_FILES:
        if not (folder / name).is_file():
            raise ConfigError(f"{file}: the recipe has no {name} beside it",
                              hint="a recipe needs inject.yml, fix.yml, README.md and ticket.{en,fr}.md.j2")

    params = tuple(_param(n, raw, file) for n, raw in (data.get("parameters") or {}).items())
    variant_ids: set[str] = set()
    variants = []
    for i, v in enumerate(data["variants"]):
        if v["id"] in variant_ids:
            raise ConfigError(f"{file}: field 'variants[{i}].id': {v['id']!r} is given twice")
        variant_ids.add(v["id"])
        variants.append(VariantSpec(v["id"], v["summary"], dict(v.get("params") or {}),
                                    survives_reboot=v.get("survives_reboot", data.get("survives_reboot", True))))

    check_ids: set[str] = set()
    checks = []
    for i, raw in enumerate(data["checks"]):
        if raw["id"] in check_ids:
            raise ConfigError(f"{file}: field 'checks[{i}].id': {raw['id']!r} is given twice")
        check_ids.add(raw["id"])
        checks.append(_check(i, raw, file, variant_ids))

    repairs = []
    for i, raw in enumerate(data.get("repairs") or []):
        pb = folder / raw["playbook"]
        if not pb.is_file():
            raise ConfigError(f"{file}: field 'repairs[{i}].playbook': {raw['playbook']} does not exist")
        for v in raw.get("variants", []):
            if v not in variant_ids:
                raise ConfigError(f"{file}: field 'repairs[{i}].variants': unknown variant '{v}'")
        repairs.append(RepairSpec(raw["id"], raw["title"], pb, raw["expect"], tuple(raw.get("variants", []))))

    company_server = bool(data.get("company_server", False))
    if company_server and data.get("network") != "company":
        raise ConfigError(f"{file}: field 'company_server': needs network: company",
                          hint="the company server is only there for seats wired to it")
    for i, c in enumerate(checks):
        if c.on == "company" and not company_server:
            raise ConfigError(f"{file}: field 'checks[{i}].on': company needs company_server: true")
    if company_server:
        books = [folder / n for n in ("prepare.yml", "inject.yml", "fix.yml") if (folder / n).is_file()]
        for book in books + [r.playbook for r in repairs]:
            _company_hosts(book)

    t = data["ticket"]
    return Fault(
        id=data["id"], title=data["title"], summary=data["summary"], folder=folder,
        families=tuple(data["families"]), competencies=tuple(data["competencies"]), os=data["os"],
        image=data.get("image", "workstation"), difficulty=data["difficulty"], level=data["level"],
        time_budget_min=data["time_budget_min"], hints=tuple(data.get("hints") or ()),
        ticket=TicketSpec(t["impact"], t["urgency"], dict(t["subject"])),
        parameters=params, variants=tuple(variants), checks=tuple(checks), repairs=tuple(repairs),
        protect=tuple(data.get("protect") or ()),
        network=data.get("network", "isolated"), company_server=company_server,
    )


def _company_hosts(book: Path) -> None:
    """A recipe that also works on the company server names its hosts: ``seat`` or ``company``.

    Its inventory holds both, so ``hosts: all`` would run the seat's tasks on the server.
    """
    try:
        plays = yaml.safe_load(book.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{book}: cannot be read as YAML: {exc}") from None
    for i, play in enumerate(plays if isinstance(plays, list) else []):
        hosts = play.get("hosts") if isinstance(play, dict) else None
        if hosts is None and isinstance(play, dict) and "import_playbook" in play:
            continue
        if hosts not in ("seat", "company"):
            raise ConfigError(f"{book}: field '[{i}].hosts': {hosts!r}; a recipe with company_server: true "
                              "names seat or company in each play",
                              hint="the inventory holds the seat and the company server: hosts: all means both")


ID_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class Catalog:
    """The fault recipes under a folder (``faults/``), found by name."""

    def __init__(self, faults_dir: Path):
        self.dir = Path(faults_dir)

    def ids(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.name for p in self.dir.iterdir() if (p / MANIFEST).is_file())

    def get(self, fault_id: str) -> Fault:
        if not ID_RE.match(fault_id or ""):
            raise ConfigError(f"fault id {fault_id!r} is not valid", hint="fault ids are kebab-case, e.g. disk-full")
        folder = self.dir / fault_id
        if not (folder / MANIFEST).is_file():
            raise NotFoundError(f"unknown fault '{fault_id}' (no {folder / MANIFEST})",
                                hint="known faults: " + (", ".join(self.ids()) or "none"))
        return load_fault(folder)

    def all(self) -> list[Fault]:
        return [self.get(i) for i in self.ids()]

    def select(self, *, family: str | None = None, competency: str | None = None, os: str | None = None,
               difficulty: int | None = None) -> list[Fault]:
        out = []
        for f in self.all():
            if family and family not in f.families:
                continue
            if competency and competency not in f.competencies:
                continue
            if os and f.os != os:
                continue
            if difficulty and f.difficulty != difficulty:
                continue
            out.append(f)
        return out
