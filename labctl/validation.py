"""Validate a loaded YAML/TOML document against a JSON Schema shipped in labctl/schemas/.

One readable error, naming the file and the field (``checks[2].file``), for the
deepest problem found: the most specific one is the most useful to the author.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError


@lru_cache(maxsize=None)
def schema(name: str) -> dict:
    return json.loads(resources.files("labctl").joinpath(f"schemas/{name}.schema.json").read_text())


def where(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validate(data: Any, schema_name: str, file: Path,
             special: Callable[[Any, str], ConfigError | None] | None = None) -> None:
    """Raise ConfigError for the first (deepest) schema violation; ``special`` may word one better."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema(schema_name))
    errors = sorted(validator.iter_errors(data), key=lambda e: (-len(e.absolute_path), list(map(str, e.absolute_path))))
    if not errors:
        return
    err = errors[0]
    field = where(err.absolute_path)
    if special is not None:
        better = special(err, field)
        if better is not None:
            raise better
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        raise ConfigError(f"{file}: field '{field}': unknown field(s) {', '.join(extra)}",
                          hint="known fields: " + ", ".join(sorted(allowed)))
    raise ConfigError(f"{file}: field '{field}': {err.message}")
