"""Where a recipe came from: shipped with labctl, modified since, or added; and ``fault import``.

``faults/SHIPPED`` lists the recipes that ship with labctl, each with the hash of its
folder (every file's path and bytes). A recipe of that id whose folder hashes the same
is ``shipped``; another hash, ``modified``; an id not listed, ``added``. After changing a
shipped recipe, regenerate the list: ``python -m labctl.faults.provenance``
(tests/unit/test_hostside.py fails until then).

``import_recipe`` copies a recipe (a folder or a .tar.gz/.zip archive) into the faults
folder only after it loads: schema, templates and the host-side rules
(:mod:`labctl.faults.hostside`). A refused recipe leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, Callable

from ..errors import AlreadyExistsError, ConfigError, NotFoundError
from .manifest import ID_RE, MANIFEST, Fault, load_fault

SHIPPED_FILE = Path(__file__).resolve().parents[2] / "faults" / "SHIPPED"
ORIGINS = {"shipped": "ships with labctl", "modified": "ships with labctl, modified since",
           "added": "added (not shipped with labctl)"}
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
MAX_ARCHIVE_BYTES = 64 * 2**20  # a recipe is scripts and text: far less than this unpacked
_IGNORED = ("__pycache__",)


def folder_hash(folder: Path) -> str:
    """sha256 over every file's relative path and bytes (a symlink: its target), in path order."""
    folder = Path(folder)
    h = hashlib.sha256()
    paths = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in _IGNORED)
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink() or p.is_file():
                paths.append(p)
    for p in sorted(paths, key=lambda p: p.relative_to(folder).as_posix()):
        rel = p.relative_to(folder).as_posix()
        if p.suffix == ".pyc":
            continue
        h.update(rel.encode() + b"\0")
        h.update(b"-> " + os.readlink(p).encode() if p.is_symlink() else p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def shipped(path: Path = SHIPPED_FILE) -> dict[str, str]:
    """The shipped recipes' ids and folder hashes (``<id> <sha256>`` a line, ``#`` comments)."""
    if not path.is_file():
        return {}
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ConfigError(f"{path}: line {n}: expected '<fault id> <sha256>'")
        out[parts[0]] = parts[1]
    return out


def origin(folder: Path, known: dict[str, str] | None = None) -> str:
    """``shipped``, ``modified`` or ``added`` (see ORIGINS)."""
    known = shipped() if known is None else known
    digest = known.get(Path(folder).name)
    if digest is None:
        return "added"
    return "shipped" if folder_hash(folder) == digest else "modified"


def write_shipped(faults_dir: Path, path: Path = SHIPPED_FILE) -> str:
    """Regenerate the list from the recipes in ``faults_dir``; returns the text written."""
    ids = sorted(p.name for p in Path(faults_dir).iterdir() if (p / MANIFEST).is_file())
    text = ("# The recipes that ship with labctl and their folder hashes (labctl/faults/provenance.py).\n"
            "# Regenerate after changing a recipe: python -m labctl.faults.provenance\n"
            + "".join(f"{i} {folder_hash(Path(faults_dir) / i)}\n" for i in ids))
    path.write_text(text, encoding="utf-8")
    return text


# -- import ----------------------------------------------------------------------------------

def import_recipe(source: Path, faults_dir: Path, *, replace: bool = False) -> Fault:
    """Copy the recipe at ``source`` (folder or archive) into ``faults_dir`` if it loads; else refuse.

    Raises ConfigError (the recipe or the archive is refused), AlreadyExistsError (a recipe
    of that id is there and ``replace`` is false) or NotFoundError. Nothing is left behind
    on refusal; a replaced recipe is swapped in whole.
    """
    source, faults_dir = Path(source), Path(faults_dir)
    if not source.exists():
        raise NotFoundError(f"{source}: no such folder or archive")
    if not faults_dir.is_dir():
        raise NotFoundError(f"faults folder {faults_dir} does not exist", hint="check faults_dir in the config")
    with tempfile.TemporaryDirectory(prefix=".import-", dir=faults_dir) as tmp:
        # Staged inside faults_dir: the last step is one rename on the same file system. The
        # staging folder has no fault.yaml at its top, so the catalogue never lists it.
        staged = _stage(source, Path(tmp))
        fid = staged.name
        dest = faults_dir / fid
        if (dest.exists() or dest.is_symlink()) and not replace:
            raise AlreadyExistsError(f"{dest} exists: a recipe '{fid}' is already in the catalogue",
                                     hint="--replace to overwrite it")
        load_fault(staged)  # schema, templates, host-side rules: ConfigError names file and field
        # Then the whole of `fault lint`: playbook syntax, instructor notes, tickets that render
        # and never name the cause. A recipe that would fail lint is not let in.
        from .lint import lint_fault

        problems = lint_fault(staged)
        if problems:
            raise ConfigError(f"{source}: the recipe '{fid}' fails lint: " + "; ".join(problems[:5])
                              + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
                              hint="labctl fault lint on a copy of it shows everything")
        if dest.exists() or dest.is_symlink():
            old = Path(tmp) / ".replaced"
            os.rename(dest, old)
            try:
                os.rename(staged, dest)
            except OSError:
                os.rename(old, dest)
                raise
        else:
            os.rename(staged, dest)
    return load_fault(dest)


def _stage(source: Path, tmp: Path) -> Path:
    """The recipe copied or unpacked under ``tmp``, in a folder named by its id."""
    if source.is_dir():
        fid = source.resolve().name
        _check_id(fid, source)
        if not (source / MANIFEST).is_file():
            raise ConfigError(f"{source}: no {MANIFEST}: not a recipe folder")
        staged = tmp / fid
        shutil.copytree(source, staged, symlinks=True)  # symlinks kept: the host-side scan judges them
        return staged
    name = source.name.lower()
    if not name.endswith(ARCHIVE_SUFFIXES):
        raise ConfigError(f"{source}: neither a folder nor an archive ({', '.join(ARCHIVE_SUFFIXES)})")
    unpacked = tmp / ".unpacked"
    unpacked.mkdir()
    if name.endswith(".zip"):
        _unzip(source, unpacked)
    else:
        _untar(source, unpacked)
    if (unpacked / MANIFEST).is_file():
        import yaml

        try:
            fid = str((yaml.safe_load((unpacked / MANIFEST).read_text(encoding="utf-8")) or {}).get("id", ""))
        except (yaml.YAMLError, UnicodeDecodeError, AttributeError) as exc:
            raise ConfigError(f"{source}: {MANIFEST}: cannot read its id: {exc}") from None
        _check_id(fid, source)
        staged = tmp / fid
        os.rename(unpacked, staged)
        return staged
    tops = [p for p in unpacked.iterdir()]
    if len(tops) != 1 or not (tops[0] / MANIFEST).is_file():
        raise ConfigError(f"{source}: expected one recipe: {MANIFEST} at the top or in a single top folder")
    _check_id(tops[0].name, source)
    staged = tmp / tops[0].name
    os.rename(tops[0], staged)
    return staged


def _check_id(fid: str, source: Path) -> None:
    if not ID_RE.match(fid):
        raise ConfigError(f"{source}: recipe id {fid!r} is not valid", hint="fault ids are kebab-case, e.g. disk-full")


def _member(source: Path, name: str) -> PurePosixPath:
    """An archive member's path, refused when it is absolute or climbs out (``..``)."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ConfigError(f"{source}: member {name!r}: an archive member must stay inside the recipe "
                          "(no absolute path, no '..')")
    return path


def _unpack(source: Path, dest: Path, entries: list[tuple[str, bool, int, bool, Callable[[], IO[bytes]]]]) -> None:
    """Write an archive's members, each ``(name, is_dir, size, executable, open)``, under ``dest``.

    The caller has checked every name and kind; the total size is checked here before
    anything is written. Modes are normalised: 0755 for executables, 0644 otherwise.
    """
    total = sum(size for _, _, size, _, _ in entries)
    if total > MAX_ARCHIVE_BYTES:
        raise ConfigError(f"{source}: {total} bytes unpacked; a recipe is under {MAX_ARCHIVE_BYTES}")
    for name, is_dir, _size, executable, open_member in entries:
        target = dest / _member(source, name)
        if is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with open_member() as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out)
        os.chmod(target, 0o755 if executable else 0o644)


def _untar(source: Path, dest: Path) -> None:
    try:
        with tarfile.open(source) as tar:
            members = tar.getmembers()
            for m in members:
                _member(source, m.name)
                if not (m.isfile() or m.isdir()):
                    raise ConfigError(f"{source}: member {m.name!r}: an archive holds files and folders only "
                                      "(no links, devices or fifos)")
            _unpack(source, dest, [(m.name, m.isdir(), m.size, bool(m.mode & 0o111),
                                    lambda m=m: tar.extractfile(m)) for m in members])
    except (tarfile.TarError, OSError) as exc:
        raise ConfigError(f"{source}: not a readable archive: {exc}") from None


def _unzip(source: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(source) as z:
            infos = z.infolist()
            for i in infos:
                _member(source, i.filename)
                if stat.S_ISLNK(i.external_attr >> 16):
                    raise ConfigError(f"{source}: member {i.filename!r}: an archive holds files and folders only "
                                      "(no links)")
            _unpack(source, dest, [(i.filename, i.is_dir(), i.file_size, bool((i.external_attr >> 16) & 0o111),
                                    lambda i=i: z.open(i)) for i in infos])
    except (zipfile.BadZipFile, OSError) as exc:
        raise ConfigError(f"{source}: not a readable archive: {exc}") from None


if __name__ == "__main__":
    print(write_shipped(SHIPPED_FILE.parent), end="")
