"""Image recipes (``images/<name>/image.yaml``) and the cache of built images.

A built image is a folder ``<cache>/images/<name>/<hash>/`` holding ``disk.qcow2``,
``vmlinuz``, ``initrd.img`` and ``image.json``. The hash covers every file of the
recipe folder (and of the recipe it extends), so editing a recipe means a new
build, and an unchanged recipe is never built twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from .config import Config
from .errors import BuildError, ConfigError, HostError, NotFoundError

BUILDER_VERSION = "1"
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
RECIPE_FIELDS = {
    "name": str,
    "description": str,
    "suite": str,
    "disk_size_mib": int,
    "kernel_cmdline": str,
    "packages": list,
    "hooks": list,
    "overlay": str,
    "extends": str,
    "services": list,
    "min_memory_mib": int,
}
# What a seat of the image can be reached by; every image has SSH and the VNC console.
SERVICES = ("ssh", "vnc", "rdp")
DEFAULT_SERVICES = ("ssh", "vnc")
REQUIRED = ("name", "description")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    folder: Path
    suite: str
    disk_size_mib: int
    kernel_cmdline: str
    packages: tuple[str, ...]
    hooks: tuple[Path, ...]
    overlays: tuple[Path, ...]
    folders: tuple[Path, ...]
    services: tuple[str, ...] = DEFAULT_SERVICES
    min_memory_mib: int = 0

    @property
    def graphical(self) -> bool:
        """A desktop image: the user is logged in on screen and RDP opens sessions."""
        return "rdp" in self.services

    def seat_memory_mib(self, configured: int) -> int:
        """A seat's memory on this image: the configured size, or more if the image needs it.

        Part of a warm state's key: seat creation and the cache's "current" both use this.
        """
        return max(configured, self.min_memory_mib)

    def digest(self) -> str:
        """Hash of everything that decides the image's content."""
        h = hashlib.sha256(f"labctl-image-builder/{BUILDER_VERSION}\n".encode())
        for folder in self.folders:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                rel = path.relative_to(folder.parent).as_posix()
                h.update(f"{rel}\0{oct(path.stat().st_mode & 0o777)}\0".encode())
                h.update(path.read_bytes())
        return h.hexdigest()[:16]


@dataclass(frozen=True)
class BuiltImage:
    name: str
    digest: str
    folder: Path
    built_at: str
    size_bytes: int
    kernel_cmdline: str

    @property
    def disk(self) -> Path:
        return self.folder / "disk.qcow2"

    @property
    def kernel(self) -> Path:
        return self.folder / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.folder / "initrd.img"


def _raw_recipe(images_dir: Path, name: str) -> tuple[Path, dict]:
    if not NAME_RE.match(name):
        raise ConfigError(f"image name {name!r} is not valid", hint="use lower-case letters, digits and '-'")
    folder = images_dir / name
    path = folder / "image.yaml"
    if not path.is_file():
        known = ", ".join(list_recipes(images_dir)) or "none"
        raise NotFoundError(f"unknown image '{name}' (no {path})", hint=f"known images: {known}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    for key, value in data.items():
        if key not in RECIPE_FIELDS:
            raise ConfigError(f"{path}: unknown field '{key}'", hint="known: " + ", ".join(RECIPE_FIELDS))
        if not isinstance(value, RECIPE_FIELDS[key]) or isinstance(value, bool):
            raise ConfigError(f"{path}: field '{key}': expected {RECIPE_FIELDS[key].__name__}")
    for key in REQUIRED:
        if key not in data:
            raise ConfigError(f"{path}: missing field '{key}'")
    if data["name"] != name:
        raise ConfigError(f"{path}: field 'name': must be the folder name {name!r}")
    for key in ("packages", "hooks", "services"):
        if not all(isinstance(v, str) and v for v in data.get(key, [])):
            raise ConfigError(f"{path}: field '{key}': expected a list of strings")
    for i, svc in enumerate(data.get("services", [])):
        if svc not in SERVICES:
            raise ConfigError(f"{path}: field 'services[{i}]': unknown service {svc!r}",
                              hint="known: " + ", ".join(SERVICES))
    if "services" in data and not {"ssh", "vnc"} <= set(data["services"]):
        raise ConfigError(f"{path}: field 'services': ssh and vnc are always there; list them too",
                          hint="labctl checks seats over SSH and shows their screen over VNC")
    return folder, data


def load_recipe(images_dir: Path, name: str, _seen: tuple[str, ...] = ()) -> Recipe:
    """Load and validate a recipe, following ``extends``."""
    if name in _seen:
        raise ConfigError(f"image recipe '{name}' extends itself through {' -> '.join(_seen)}")
    folder, data = _raw_recipe(images_dir, name)
    path = folder / "image.yaml"
    parent = load_recipe(images_dir, data["extends"], _seen + (name,)) if "extends" in data else None
    hooks = []
    for hook in data.get("hooks", []):
        hp = folder / hook
        if not hp.is_file():
            raise ConfigError(f"{path}: field 'hooks': {hook} not found in {folder}")
        hooks.append(hp)
    overlays = []
    if "overlay" in data:
        op = folder / data["overlay"]
        if not op.is_dir():
            raise ConfigError(f"{path}: field 'overlay': folder {data['overlay']} not found in {folder}")
        overlays.append(op)

    def inherit(key, default):
        if key in data:
            return data[key]
        return getattr(parent, key) if parent else default

    suite = inherit("suite", "bookworm")
    size = inherit("disk_size_mib", 4096)
    if size < 1024:
        raise ConfigError(f"{path}: field 'disk_size_mib': at least 1024 (got {size})")
    min_memory = inherit("min_memory_mib", 0)
    if not 0 <= min_memory <= 65536:
        raise ConfigError(f"{path}: field 'min_memory_mib': between 0 and 65536 (got {min_memory})")
    return Recipe(
        name=name,
        description=data["description"],
        folder=folder,
        suite=suite,
        disk_size_mib=size,
        kernel_cmdline=inherit("kernel_cmdline", "root=/dev/vda rw console=ttyS0"),
        packages=(parent.packages if parent else ()) + tuple(data.get("packages", [])),
        hooks=(parent.hooks if parent else ()) + tuple(hooks),
        overlays=(parent.overlays if parent else ()) + tuple(overlays),
        folders=(parent.folders if parent else ()) + (folder,),
        services=tuple(inherit("services", DEFAULT_SERVICES)),
        min_memory_mib=min_memory,
    )


def lineage(images_dir: Path, name: str) -> tuple[str, ...]:
    """The image and the images it extends, nearest first: ``('desktop', 'workstation')``.

    A fault written for an image runs on every image that extends it.
    """
    return tuple(f.name for f in reversed(load_recipe(images_dir, name).folders))


def list_recipes(images_dir: Path) -> list[str]:
    if not images_dir.is_dir():
        return []
    return sorted(p.parent.name for p in images_dir.glob("*/image.yaml"))


def _read_built(folder: Path) -> BuiltImage | None:
    meta = folder / "image.json"
    try:
        data = json.loads(meta.read_text())
        img = BuiltImage(
            name=data["name"],
            digest=data["digest"],
            folder=folder,
            built_at=data["built_at"],
            size_bytes=int(data["size_bytes"]),
            kernel_cmdline=data["kernel_cmdline"],
        )
    except (OSError, ValueError, KeyError):
        return None
    if not (img.disk.is_file() and img.kernel.is_file() and img.initrd.is_file()):
        return None
    return img


def list_built(cfg: Config) -> list[BuiltImage]:
    out = []
    if cfg.image_cache.is_dir():
        for meta in sorted(cfg.image_cache.glob("*/*/image.json")):
            img = _read_built(meta.parent)
            if img:
                out.append(img)
    return out


def find_built(cfg: Config, name: str) -> BuiltImage:
    """The built image for the recipe as it is now; NotFoundError if not built."""
    recipe = load_recipe(cfg.images_dir, name)
    img = _read_built(cfg.image_cache / name / recipe.digest())
    if img is None:
        raise NotFoundError(
            f"image '{name}' is not built for its current recipe ({recipe.digest()})",
            hint=f"run: labctl image build {name}",
        )
    return img


def _run(cmd: list[str], progress: Progress | None, log) -> None:
    log.write(("$ " + " ".join(cmd) + "\n").encode())
    log.flush()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except FileNotFoundError:
        raise HostError(f"'{cmd[0]}' is not installed", hint="run scripts/setup.sh, or apt-get install mmdebstrap qemu-utils e2fsprogs") from None
    assert proc.stdout is not None
    tail: list[str] = []
    for raw in proc.stdout:
        log.write(raw)
        line = raw.decode(errors="replace").rstrip()
        tail = (tail + [line])[-15:]
        if progress and line.startswith(("I: ", "E: ", "W: ")):
            progress("  " + line)
    if proc.wait() != 0:
        raise BuildError(f"'{cmd[0]}' failed (exit {proc.returncode}):\n" + "\n".join(tail))


def build(cfg: Config, name: str, *, force: bool = False, progress: Progress | None = None) -> BuiltImage:
    """Build an image from its recipe unless the cache already holds it."""
    say = progress or (lambda _m: None)
    recipe = load_recipe(cfg.images_dir, name)
    digest = recipe.digest()
    target = cfg.image_cache / name / digest
    if not force:
        existing = _read_built(target)
        if existing:
            say(f"image {name} {digest} is already built ({target})")
            return existing
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < 3 * 1024**3:
        raise HostError(
            f"only {free // 1024**2} MiB free under {target.parent}; an image build needs about 3 GiB",
            hint="free some space or point cache_dir at a bigger disk",
        )
    work = Path(tempfile.mkdtemp(prefix=f".build-{name}-", dir=target.parent))
    started = time.monotonic()
    try:
        with open(work / "build.log", "wb") as log:
            rootdir = work / "root"
            say(f"[1/4] installing {len(recipe.packages)} packages from Debian {recipe.suite} (mmdebstrap)")
            cmd = [
                "mmdebstrap", "--variant=apt", "--mode=root", "--format=directory",
                "--include=" + ",".join(recipe.packages),
                "--dpkgopt=path-exclude=/usr/share/doc/*",
                "--dpkgopt=path-include=/usr/share/doc/*/copyright",
                "--dpkgopt=path-exclude=/usr/share/locale/*",
            ]
            for overlay in recipe.overlays:
                cmd.append(f"--customize-hook=cp -a {_q(overlay)}/. \"$1\"/")
            for hook in recipe.hooks:
                cmd.append(f"--customize-hook=sh {_q(hook)} \"$1\"")
            cmd += [recipe.suite, str(rootdir)]
            _run(cmd, progress, log)

            say("[2/4] extracting the kernel and initrd for direct boot")
            kernels = sorted((rootdir / "boot").glob("vmlinuz-*"))
            initrds = sorted((rootdir / "boot").glob("initrd.img-*"))
            if not kernels or not initrds:
                raise BuildError(f"image {name}: no kernel or initrd in /boot (is linux-image-amd64 in packages?)")
            shutil.copyfile(kernels[-1], work / "vmlinuz")
            shutil.copyfile(initrds[-1], work / "initrd.img")

            say(f"[3/4] making a {recipe.disk_size_mib} MiB ext4 file system")
            raw = work / "disk.raw"
            _run(["mkfs.ext4", "-q", "-L", "labroot", "-d", str(rootdir), str(raw), f"{recipe.disk_size_mib}M"], None, log)
            shutil.rmtree(rootdir)

            say("[4/4] converting to qcow2")
            _run(["qemu-img", "convert", "-c", "-O", "qcow2", str(raw), str(work / "disk.qcow2")], None, log)
            raw.unlink()
        size = sum(p.stat().st_size for p in work.iterdir() if p.is_file())
        meta = {
            "name": name,
            "digest": digest,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "size_bytes": size,
            "kernel_cmdline": recipe.kernel_cmdline,
            "build_seconds": round(time.monotonic() - started, 1),
        }
        (work / "image.json").write_text(json.dumps(meta, indent=2) + "\n")
        for p in work.iterdir():
            p.chmod(0o644)
        work.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
            _drop_warm_states(cfg, name, digest)
        os.rename(work, target)
    except BaseException:
        _cleanup(work)
        raise
    say(f"built image {name} {digest} in {time.monotonic() - started:.0f} s ({size // 1024**2} MiB) at {target}")
    img = _read_built(target)
    assert img is not None
    return img


def _drop_warm_states(cfg: Config, name: str, digest: str) -> None:
    """Warm states (machines.states.Golden) saved from a build that is being replaced."""
    for meta in (cfg.cache_dir / "warm" / name).glob("*/golden.json"):
        try:
            if json.loads(meta.read_text()).get("digest") == digest:
                shutil.rmtree(meta.parent)
        except (OSError, ValueError):
            pass


def _cleanup(work: Path) -> None:
    root = work / "root"
    # mmdebstrap may leave mounts behind if it was interrupted; never rm across them.
    if root.exists():
        subprocess.run(["umount", "-R", "--lazy", str(root)], capture_output=True)
    shutil.rmtree(work, ignore_errors=True)


def _q(path: Path) -> str:
    return "'" + str(path).replace("'", "'\\''") + "'"


def remove(cfg: Config, name: str, digest: str | None = None) -> list[Path]:
    """Remove built images of a recipe (all, or one digest)."""
    removed = []
    for img in list_built(cfg):
        if img.name == name and (digest is None or img.digest == digest):
            shutil.rmtree(img.folder)
            removed.append(img.folder)
    if not removed:
        raise NotFoundError(f"no built image '{name}'" + (f" with digest {digest}" if digest else ""))
    warm = cfg.cache_dir / "warm" / name
    if digest is None and warm.is_dir():
        shutil.rmtree(warm)  # warm states of the image's seats (see machines.states.Golden)
        removed.append(warm)
    return removed
