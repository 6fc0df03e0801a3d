"""Lab configuration: one frozen dataclass, loaded from TOML and the environment.

Order of precedence (last wins): built-in defaults, the config file
(``/etc/labctl/config.toml`` or ``$LABCTL_CONFIG``), ``LABCTL_*`` environment
variables, then explicit keyword overrides from the caller (CLI options).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

DEFAULT_CONFIG_FILE = Path("/etc/labctl/config.toml")
ACCEL_CHOICES = ("auto", "kvm", "qemu")


def default_parallel() -> int:
    """How many seats are made, broken or checked at once unless told: one per host core.

    Under software emulation a busy seat keeps a host core busy, and more seats than
    cores only share them worse: eight seats made and broken on a 2-core host took
    161 s two at a time and 195 s four at a time (bench/class_ready.py, 2026-11-25).
    """
    return max(1, min(os.cpu_count() or 1, 32))


def _project_root() -> Path:
    """The checkout that holds images/ and faults/ (the package's parent)."""
    return Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Config:
    state_dir: Path = Path("/var/lib/labctl")
    cache_dir: Path = Path("/var/cache/labctl")
    libvirt_uri: str = "qemu:///system"
    accel: str = "auto"
    listen: str = "127.0.0.1"
    port_min: int = 42000
    port_max: int = 42999
    seat_memory_mib: int = 1024
    seat_vcpus: int = 2
    default_image: str = "workstation"
    boot_timeout: float = 240.0
    warm_start: bool = True
    # Seats of a session start from their fault's prepared state (labctl/faults/prepared.py).
    prepared_states: bool = True
    images_dir: Path = field(default_factory=lambda: _project_root() / "images")
    faults_dir: Path = field(default_factory=lambda: _project_root() / "faults")
    scenarios_dir: Path = field(default_factory=lambda: _project_root() / "scenarios")
    source: str = "defaults"

    @property
    def seats_dir(self) -> Path:
        return self.state_dir / "seats"

    @property
    def image_cache(self) -> Path:
        return self.cache_dir / "images"

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "runs"


_FIELDS = {f.name: f for f in dataclasses.fields(Config) if f.name != "source"}
_PATH_FIELDS = {"state_dir", "cache_dir", "images_dir", "faults_dir", "scenarios_dir"}
_INT_FIELDS = {"port_min", "port_max", "seat_memory_mib", "seat_vcpus"}
_FLOAT_FIELDS = {"boot_timeout"}
_BOOL_FIELDS = {"warm_start", "prepared_states"}


def _coerce(name: str, value: Any, where: str) -> Any:
    try:
        if name in _PATH_FIELDS:
            if not isinstance(value, str) or not value:
                raise ValueError("expected a path")
            return Path(value)
        if name in _INT_FIELDS:
            if isinstance(value, bool):
                raise ValueError("expected an integer")
            return int(value)
        if name in _FLOAT_FIELDS:
            return float(value)
        if name in _BOOL_FIELDS:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                return value.lower() in ("1", "true", "yes", "on")
            raise ValueError("expected true or false")
        if not isinstance(value, str):
            raise ValueError("expected a string")
        return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: field '{name}': {exc} (got {value!r})") from None


def _validate(cfg: Config, origin: dict[str, str]) -> None:
    def where(*names: str) -> str:
        return next((origin[n] for n in names if n in origin), "defaults")

    if cfg.accel not in ACCEL_CHOICES:
        raise ConfigError(
            f"{where('accel')}: field 'accel': must be one of {', '.join(ACCEL_CHOICES)} (got {cfg.accel!r})"
        )
    try:
        ipaddress.ip_address(cfg.listen)
    except ValueError:
        raise ConfigError(
            f"{where('listen')}: field 'listen': not an IP address (got {cfg.listen!r})",
            hint="use 127.0.0.1 (default) or the lab host's LAN address",
        ) from None
    if not (1024 <= cfg.port_min <= cfg.port_max <= 65535):
        raise ConfigError(
            f"{where('port_min', 'port_max')}: fields 'port_min'/'port_max': need 1024 <= port_min <= port_max"
            f" <= 65535 (got {cfg.port_min}-{cfg.port_max})"
        )
    if cfg.seat_memory_mib < 256:
        raise ConfigError(f"{where('seat_memory_mib')}: field 'seat_memory_mib': at least 256 (got {cfg.seat_memory_mib})")
    if not 1 <= cfg.seat_vcpus <= 16:
        raise ConfigError(f"{where('seat_vcpus')}: field 'seat_vcpus': between 1 and 16 (got {cfg.seat_vcpus})")


def load_config(path: Path | str | None = None, env: dict[str, str] | None = None, **overrides: Any) -> Config:
    """Load the configuration; a bad file or value raises ConfigError naming it."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    sources = ["defaults"]

    explicit = path or env.get("LABCTL_CONFIG")
    cfg_path = Path(explicit) if explicit else DEFAULT_CONFIG_FILE
    if cfg_path.exists():
        try:
            data = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{cfg_path}: not valid TOML: {exc}") from None
        for key, value in data.items():
            if key not in _FIELDS:
                raise ConfigError(
                    f"{cfg_path}: unknown field '{key}'",
                    hint="known fields: " + ", ".join(sorted(_FIELDS)),
                )
            values[key] = _coerce(key, value, str(cfg_path))
            origin[key] = str(cfg_path)
        sources.append(str(cfg_path))
    elif explicit:
        raise ConfigError(f"{cfg_path}: config file not found")

    for key in _FIELDS:
        env_key = "LABCTL_" + key.upper()
        if env_key in env and env[env_key] != "":
            values[key] = _coerce(key, env[env_key], f"environment {env_key}")
            origin[key] = f"environment {env_key}"
            sources.append(env_key)

    for key, value in overrides.items():
        if value is None:
            continue
        if key not in _FIELDS:
            raise ConfigError(f"unknown setting '{key}'")
        values[key] = _coerce(key, value, f"option --{key.replace('_', '-')}")
        origin[key] = f"option --{key.replace('_', '-')}"
        sources.append(f"--{key}")

    cfg = Config(**values, source=", ".join(sources))
    _validate(cfg, origin)
    return cfg
