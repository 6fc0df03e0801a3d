"""``fault new``: a recipe folder from the skeleton, ready to edit and test."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..curriculum import FAMILIES
from ..errors import AlreadyExistsError, ConfigError
from .manifest import ID_RE

SKELETON = Path(__file__).with_name("skeleton")


def scaffold(faults_dir: Path, fault_id: str, families: list[str]) -> Path:
    if not ID_RE.match(fault_id):
        raise ConfigError(f"fault id {fault_id!r} is not valid", hint="kebab-case, e.g. printer-offline")
    for fam in families:
        if fam not in FAMILIES:
            raise ConfigError(f"unknown family {fam!r}", hint="families: " + ", ".join(FAMILIES))
    folder = Path(faults_dir) / fault_id
    if folder.exists():
        raise AlreadyExistsError(f"{folder} exists", hint="pick another id or edit that recipe")
    shutil.copytree(SKELETON, folder)
    title = fault_id.replace("-", " ").capitalize()
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            text = text.replace("__ID__", fault_id).replace("__TITLE__", title)
            text = text.replace("__FAMILIES__", ", ".join(families))
            path.write_text(text, encoding="utf-8")
            if path.suffix == ".sh":
                path.chmod(0o755)
    return folder
