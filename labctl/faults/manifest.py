"""Fault recipes: ``faults/<id>/`` folders, validated on load, turned into frozen dataclasses.

A recipe folder holds ``fault.yaml`` (the manifest, checked against
``labctl/schemas/fault.schema.json``), ``inject.yml`` and ``fix.yml`` (Ansible
playbooks), optionally ``prepare.yml`` (sets the healthy stage the fault needs),
``ticket.en.md.j2`` and ``ticket.fr.md.j2`` (the user's words) and ``README.md``
(instructor notes). The code finds recipes by folder name: adding a fault never
means editing a registry.
"""

from __future__ import annotations

import dataclasses

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import validation
from . import hostside
from .layout import MANIFEST, PLAYBOOKS
from .templating import ENV, is_template
from ..curriculum import COMPETENCIES, FAMILIES
from ..errors import ConfigError, LabError, NotFoundError

CHECK_KINDS = ("file", "files", "command", "free_space", "url", "not_growing", "service", "groups", "sudo",
               "pam_faillock", "image_programs", "fs_walk")
CHECK_GROUPS = ("functional", "integrity", "security")
REQUIRED_FILES = ("inject.yml", "fix.yml", "README.md", "ticket.en.md.j2", "ticket.fr.md.j2")
LANGS = ("en", "fr")
# The security baseline, appended to every recipe's checks (labctl.faults.checks), and the
# id of the protected-data check: the loader validates the checks recipes name against both.
BASELINE_FILE = Path(__file__).with_name("baseline.yaml")
PROTECT_CHECK_ID = "user-data-intact"


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    kind: str  # choice | int | sample | token
    values: tuple[Any, ...] = ()
    k: int = 1
    length: int = 8
    # Shapes the prepared (healthy) stage: drawn from the variant's small pool, not per seat,
    # so that seats can share one prepared state (labctl/faults/prepared.py).
    prepare: bool = False


@dataclass(frozen=True)
class VariantSpec:
    id: str
    summary: str
    params: dict[str, Any] = field(default_factory=dict)
    survives_reboot: bool = True
    # Checks the inject must make fail, each of them; empty: any of the recipe's own functional checks.
    breaks: tuple[str, ...] = ()


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
    caught_by: tuple[str, ...] = ()  # decoys: the checks that fail after it, on every variant it fits
    no_progress: str = ""  # decoys: why no check failing on the broken machine passes after it

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
            "variants": [{"id": v.id, "summary": v.summary, "breaks": list(v.breaks)} for v in self.variants],
            "checks": [{"id": c.id, "group": c.group, "title": c.title, "kind": c.kind,
                        "variants": list(c.variants)} for c in self.checks],
            "repairs": [{"id": r.id, "title": r.title, "expect": r.expect, "variants": list(r.variants),
                         "caught_by": list(r.caught_by), "no_progress": r.no_progress} for r in self.repairs],
            "ticket": {"impact": self.ticket.impact, "urgency": self.ticket.urgency},
            "folder": str(self.folder),
        }


def schema() -> dict:
    return validation.schema("fault")


def _param(name: str, raw: dict, file: Path) -> ParameterSpec:
    spec = _param_kind(name, raw, file)
    return dataclasses.replace(spec, prepare=bool(raw.get("prepare", False)))


def _param_kind(name: str, raw: dict, file: Path) -> ParameterSpec:
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
OFFLINE_KINDS = ("file", "files", "groups", "sudo", "pam_faillock", "protected")


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
    validation.validate(data, "fault", file, special=_decoy_fields(file, data))

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
                                    survives_reboot=v.get("survives_reboot", data.get("survives_reboot", True)),
                                    breaks=tuple(v.get("breaks") or ())))

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
        repairs.append(RepairSpec(raw["id"], raw["title"], pb, raw["expect"], tuple(raw.get("variants", [])),
                                  caught_by=tuple(raw.get("caught_by") or ()), no_progress=raw.get("no_progress", "")))
    _named_checks(file, variants, checks, repairs, protect=bool(data.get("protect")))

    company_server = bool(data.get("company_server", False))
    if company_server and data.get("network") != "company":
        raise ConfigError(f"{file}: field 'company_server': needs network: company",
                          hint="the company server is only there for seats wired to it")
    for i, c in enumerate(checks):
        if c.on == "company" and not company_server:
            raise ConfigError(f"{file}: field 'checks[{i}].on': company needs company_server: true")
    books = [folder / n for n in PLAYBOOKS if (folder / n).is_file()] + [r.playbook for r in repairs]
    if company_server:
        for book in books:
            _company_hosts(book)

    _parse_templates(folder, file, data)
    findings = hostside.scan_recipe(folder, books)
    if findings:
        more = f" (and {len(findings) - 1} more: `labctl fault lint {folder.name}` lists them)" \
            if len(findings) > 1 else ""
        raise ConfigError(f"{findings[0]}{more}", hint="a recipe runs on its seat, never on the lab host; "
                          "see 'What a recipe may not do' in docs/faults.md")

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


def _parse_templates(folder: Path, file: Path, data: dict) -> None:
    """Every templated string of the recipe is parsed now, so a Jinja syntax error names its field at load.

    Parse only: rendering needs a draw. The whole manifest is walked, not only the fields
    labctl renders today (check specs, variant params, protect, ticket subjects): a broken
    template in a repair or a hint is an authoring mistake all the same.
    """
    from jinja2 import TemplateSyntaxError

    def walk(value: Any, where: str) -> None:
        if isinstance(value, str):
            if not is_template(value):  # what render_value renders
                return
            try:
                ENV.parse(value)
            except TemplateSyntaxError as exc:
                raise ConfigError(f"{file}: field '{where}': template syntax error: {exc.message}") from None
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{where}[{i}]")
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{where}.{k}" if where else str(k))

    walk(data, "")
    for lang in LANGS:
        path = folder / f"ticket.{lang}.md.j2"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot be read: {exc}") from None
        try:
            if is_template(text):
                ENV.parse(text)
        except TemplateSyntaxError as exc:
            raise ConfigError(f"{path}: line {exc.lineno}: template syntax error: {exc.message}") from None


def _decoy_fields(file: Path, data: dict):
    """Word the schema's decoy rules (``caught_by``/``no_progress``) with the field they are about."""

    def special(err, field: str) -> ConfigError | None:
        where = list(err.absolute_path)
        rule = list(err.absolute_schema_path)[-2:]
        if len(where) != 2 or where[0] != "repairs" or rule not in (["then", "required"], ["else", "properties"]):
            return None
        if rule[0] == "then":
            return ConfigError(f"{file}: field '{field}.caught_by': required for a decoy (expect: fail)",
                               hint="name the checks that fail after it, e.g. caught_by: [baseline-no-world-writable]")
        raw = data["repairs"][where[1]]
        key = "caught_by" if "caught_by" in raw else "no_progress"
        return ConfigError(f"{file}: field '{field}.{key}': only for decoys (expect: fail); "
                           "a legitimate repair passes every check")

    return special


def _named_checks(file: Path, variants: list[VariantSpec], checks: list[CheckSpec], repairs: list[RepairSpec],
                  protect: bool) -> None:
    """``breaks`` and ``caught_by`` name checks that exist and run on the variants concerned."""
    own = {c.id: c for c in checks}
    baseline = {c.id for c in baseline_checks()}
    extra = {PROTECT_CHECK_ID} if protect else set()
    known = sorted(own) + sorted(extra) + sorted(baseline)

    def check(where: str, cid: str, on: list[str], allow_baseline: bool = True) -> None:
        if cid in baseline and not allow_baseline:
            raise ConfigError(f"{file}: field '{where}': {cid!r} is a baseline check; an inject that breaks the "
                              "baseline is a recipe error", hint="name the recipe's own checks")
        if cid == PROTECT_CHECK_ID and not protect:
            raise ConfigError(f"{file}: field '{where}': {cid!r} exists only with protect: set")
        if cid not in own and cid not in baseline and cid not in extra:
            raise ConfigError(f"{file}: field '{where}': unknown check {cid!r}", hint="checks: " + ", ".join(known))
        spec = own.get(cid)
        missing = [v for v in on if spec is not None and not spec.applies_to(v)]
        if missing:
            raise ConfigError(f"{file}: field '{where}': check {cid!r} does not run on variant(s) "
                              f"{', '.join(missing)} (only {', '.join(spec.variants)})")

    all_ids = [v.id for v in variants]
    for i, v in enumerate(variants):
        for cid in v.breaks:
            check(f"variants[{i}].breaks", cid, [v.id], allow_baseline=False)
    for i, r in enumerate(repairs):
        on = [v for v in all_ids if r.applies_to(v)]
        for cid in r.caught_by:
            check(f"repairs[{i}].caught_by", cid, on)


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
        """Every recipe; the first that does not load raises (``load`` keeps going)."""
        return [self.get(i) for i in self.ids()]

    def load(self) -> tuple[list[Fault], dict[str, LabError]]:
        """The recipes that load, and why each other one does not (by id).

        One malformed recipe must not hide the others: listings show the good ones and
        report the bad ones; ``get`` stays strict for whoever asks for a bad one by name.
        """
        good, bad = [], {}
        for fid in self.ids():
            try:
                good.append(self.get(fid))
            except LabError as exc:
                bad[fid] = exc
        return good, bad

    def select(self, *, family: str | None = None, competency: str | None = None, os: str | None = None,
               difficulty: int | None = None, broken: dict[str, LabError] | None = None) -> list[Fault]:
        """The recipes that match; with ``broken``, those that do not load go there instead of raising."""
        if broken is None:
            faults = self.all()
        else:
            faults, bad = self.load()
            broken.update(bad)
        out = []
        for f in faults:
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


@functools.cache
def baseline_checks() -> tuple[CheckSpec, ...]:
    """The security baseline's checks (``baseline.yaml`` beside this module).

    Read once per process: every check run and every recipe load asks for them, and the
    file is part of the package. Callers render a check's spec into a new dict, never in place.
    """
    data = yaml.safe_load(BASELINE_FILE.read_text())
    return tuple(_check(i, raw, BASELINE_FILE, set()) for i, raw in enumerate(data["checks"]))
