"""A recipe reaches its seat, never the lab host: the static scan of its playbooks.

Ansible runs a recipe's playbooks on the lab host (the controller) and most of
what a play says then happens in the seat, through the guest agent. Some forms
run on the controller instead: delegation, ``connection: local``, a play for
``localhost``, lookups (they always run on the controller), ``fetch``, plugins
shipped beside a playbook, files read from anywhere on the host. A recipe has no
business there: labctl imports recipes written by others, and the controller
runs as root with every seat's secrets.

The scan walks the YAML of every playbook a recipe runs (prepare, inject, fix,
repairs) and of what they include, import or name as a role, against the tables
below; each finding names the file, the play and the task. It is static: it
cannot prove a recipe harmless, it refuses the forms that reach the controller.
Run-time confinement is another matter (issue 19).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

import yaml

from .layout import MANIFEST, PLAYBOOKS

# Every recipe load scans its playbooks: libyaml's safe loader where there is one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The roles every recipe may name (labctl/faults/playbook.py sets ANSIBLE_ROLES_PATH there).
ROLES_DIR = Path(__file__).resolve().parents[2] / "ansible" / "roles"

# The inventory labctl gives a recipe's playbooks (labctl/faults/playbook.py): the seat,
# and the company server for recipes with company_server: true. ``all`` means those two:
# Ansible's implicit localhost is never part of ``all``, only named (localhost, 127.0.0.1).
HOST_PATTERNS = ("all", "seat", "company")

# Keywords, wherever a play, block or task gives them: each moves work to the controller.
# (``run_once`` alone is harmless; with delegate_to it is delegation, refused here.)
FORBIDDEN_KEYWORDS = {
    "delegate_to": "delegates to another host (a recipe runs on its seat, never elsewhere)",
    "local_action": "runs on the lab host (local_action)",
    "connection": "chooses its connection (the inventory decides how a recipe reaches its seat; "
                  "connection: local would run on the lab host)",
}

# Variables that would point the connection elsewhere (vars:, set_fact, role parameters,
# vars files: any mapping key of that name in a playbook or what it includes).
FORBIDDEN_VARS = re.compile(r"^ansible_(connection|host|port|user|password|libvirt_uri|private_key_file"
                            r"|(ssh|scp|sftp|paramiko|docker|psrp|winrm)_\w+)$")

# Modules whose work happens on the controller, refused outright.
REFUSED_MODULES = {
    "fetch": "writes files on the lab host (fetch)",
    "add_host": "adds a host to the run (add_host), with a connection of its choosing",
    "synchronize": "runs rsync on the lab host (synchronize)",
}

# Modules that read a file on the controller: the argument naming it, and the argument
# that, when true, means the path is on the seat instead. The path must be a literal in
# the recipe folder (or the role) and is checked where Ansible would look for it.
SOURCE_MODULES: dict[str, tuple[str, str | None]] = {
    "copy": ("src", "remote_src"),
    "template": ("src", None),
    "assemble": ("src", "remote_src"),
    "unarchive": ("src", "remote_src"),
    "patch": ("src", "remote_src"),
    "uri": ("src", "remote_src"),  # a request body read from a file
    "script": ("cmd", None),  # the first word of cmd (or of the free form)
    "win_copy": ("src", "remote_src"),
    "win_template": ("src", None),
}

# Includes and imports: the argument naming the file, and how the file is read.
INCLUDE_MODULES: dict[str, tuple[str, str]] = {
    "include_tasks": ("file", "tasks"),
    "import_tasks": ("file", "tasks"),
    "include_vars": ("file", "vars"),
    "include": ("file", "tasks"),
}
ROLE_MODULES = ("include_role", "import_role")

# Lookups run on the controller. These compute from their arguments alone; every other
# (pipe, file, fileglob, template, env, password, ini, csvfile, first_found, lines, url,
# config, unvault, any collection's) reads the host's files or runs something there.
PURE_LOOKUPS = frozenset({"items", "list", "dict", "indexed_items", "nested", "together", "subelements",
                          "sequence", "random_choice", "cartesian", "flattened", "vars", "varnames"})
LOOKUP_RE = re.compile(r"\b(lookup|query|q)\s*\(\s*(?:(['\"])([\w.]+)\2)?")
# Filters that read the controller's files or environment.
FILTER_RE = re.compile(r"\|\s*(?:ansible\.builtin\.)?(fileglob|expandvars|expanduser|realpath|unvault)\b")
# Jinja reaching Python internals escapes to the controller's interpreter.
DUNDER_RE = re.compile(r"__\w+__|\[\s*['\"]__")
JINJA_RE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
# Keys whose value is a bare Jinja expression, without {{ }}.
BARE_JINJA_KEYS = frozenset({"when", "changed_when", "failed_when", "until", "that", "loop", "with_items"})

# Files and folders Ansible loads code or variables from when they sit beside a playbook
# (plugins run on the controller; group_vars/host_vars could set ansible_connection).
FORBIDDEN_NAMES = re.compile(r"^(ansible\.cfg|library|module_utils|collections|group_vars|host_vars|"
                             r"\w+_plugins)$")

PLAY_KEYS_WITH_TASKS = ("pre_tasks", "tasks", "post_tasks", "handlers")
BLOCK_KEYS = ("block", "rescue", "always")
# Task keywords (everything else in a task is its module).
TASK_KEYWORDS = frozenset({
    "name", "when", "register", "vars", "tags", "become", "become_user", "become_method", "become_flags",
    "become_exe", "changed_when", "failed_when", "ignore_errors", "ignore_unreachable", "loop", "loop_control",
    "until", "retries", "delay", "notify", "listen", "args", "environment", "no_log", "check_mode", "diff",
    "delegate_to", "delegate_facts", "local_action", "action", "run_once", "connection", "any_errors_fatal",
    "throttle", "timeout", "debugger", "module_defaults", "collections", "port", "remote_user", "async", "poll",
    "block", "rescue", "always", "apply",
})


@dataclass(frozen=True)
class Finding:
    """One form that would reach the controller, where it is."""

    file: Path
    play: str
    task: str
    problem: str

    def __str__(self) -> str:
        where = ", ".join(p for p in (self.play, self.task) if p)
        return f"{self.file}: {where + ': ' if where else ''}{self.problem}"


def _short(module: str) -> str:
    for prefix in ("ansible.builtin.", "ansible.legacy.", "ansible.posix.", "ansible.windows.",
                   "community.windows."):
        if module.startswith(prefix):
            return module[len(prefix):]
    return module


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    real = path.resolve()
    return any(real == r or r in real.parents for r in roots)


class _Scan:
    """One recipe's scan: the files seen, the findings so far."""

    def __init__(self, folder: Path, roles_dir: Path):
        self.given = folder
        self.folder = folder.resolve()
        self.roles_dir = roles_dir.resolve()
        self.roots = (self.folder, self.roles_dir)
        self.findings: list[Finding] = []
        self.seen: set[Path] = set()

    def add(self, file: Path, play: str, task: str, problem: str) -> None:
        self.findings.append(Finding(self._show(file), play, task, problem))

    def _show(self, file: Path) -> Path:
        """Paths as the caller gave the recipe (``faults/x/inject.yml``), shared roles as ``ansible/roles/...``."""
        real = file.parent.resolve() / file.name  # a symlink itself is the finding: not followed
        for root, shown in ((self.folder, self.given), (self.roles_dir, Path("ansible") / "roles")):
            try:
                return shown / real.relative_to(root)
            except ValueError:
                continue
        return file

    def load(self, file: Path, play: str, task: str) -> Any:
        try:
            return yaml.load(file.read_text(encoding="utf-8"), Loader=_LOADER)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            self.add(file, play, task, f"cannot be read as YAML: {exc}")
            return None

    # -- files -------------------------------------------------------------------------

    def tree(self) -> None:
        """Symlinks that leave the recipe folder, and files Ansible would load code from."""
        for dirpath, dirnames, filenames in os.walk(self.folder):
            for name in dirnames + filenames:
                path = Path(dirpath) / name
                if path.is_symlink() and not _inside(path, (self.folder,)):
                    self.add(path, "", "", f"a symlink that leaves the recipe folder (to {os.readlink(path)})")
                if FORBIDDEN_NAMES.match(name):
                    self.add(path, "", "", f"{name}: Ansible loads plugins, settings or variables from it on "
                                           "the lab host; a recipe ships playbooks, files and templates only")

    def playbook(self, file: Path) -> None:
        file = Path(file)
        if file.resolve() in self.seen:
            return
        self.seen.add(file.resolve())
        plays = self.load(file, "", "")
        if plays is None:
            return
        if not isinstance(plays, list):
            self.add(file, "", "", "a playbook is a list of plays")
            return
        for i, play in enumerate(plays):
            if isinstance(play, dict):
                self.play(file, i, play)

    def play(self, file: Path, i: int, play: dict) -> None:
        label = f"play {i + 1} {play['name']!r}" if play.get("name") else f"play {i + 1}"
        if "import_playbook" in play or "ansible.builtin.import_playbook" in play:
            target = play.get("import_playbook", play.get("ansible.builtin.import_playbook"))
            path = self.path(file, label, "", "import_playbook", target, file.parent)
            if path is not None:
                self.playbook(path)
            return
        self.hosts(file, label, play.get("hosts"))
        self.keywords(file, label, "", play)
        self.values(file, label, "", {k: v for k, v in play.items() if k not in PLAY_KEYS_WITH_TASKS + ("roles",)})
        for j, vf in enumerate(play.get("vars_files") or []):
            path = self.path(file, label, "", f"vars_files[{j}]", vf, file.parent)
            if path is not None:
                self.vars_file(path, label)
        for j, role in enumerate(play.get("roles") or []):
            name = role if isinstance(role, str) else (role.get("role") or role.get("name")) \
                if isinstance(role, dict) else None
            if isinstance(role, dict):
                self.keywords(file, label, f"roles[{j}]", role)
                self.values(file, label, f"roles[{j}]", role)
            self.role(file, label, f"roles[{j}]", name, file.parent)
        for key in PLAY_KEYS_WITH_TASKS:
            self.tasks(file, label, key, play.get(key), file.parent)

    def hosts(self, file: Path, label: str, hosts: Any) -> None:
        patterns = hosts if isinstance(hosts, list) else [hosts]
        for pattern in patterns:
            words = [w.strip().lstrip("!&") for w in re.split(r"[,:]", str(pattern))] if pattern is not None else []
            bad = [w for w in words if w not in HOST_PATTERNS]
            if pattern is None or bad or not words:
                self.add(file, label, "", f"hosts: {hosts!r}; a recipe's plays name "
                         f"{', '.join(HOST_PATTERNS)} (the inventory labctl gives it), never the lab host "
                         "(localhost, 127.0.0.1) nor a pattern")
                return

    def tasks(self, file: Path, label: str, where: str, tasks: Any, base: Path) -> None:
        if tasks is None:
            return
        if not isinstance(tasks, list):
            self.add(file, label, where, "expected a list of tasks")
            return
        for k, task in enumerate(tasks):
            if isinstance(task, dict):
                self.task(file, label, f"{where}[{k}]", task, base)

    def task(self, file: Path, label: str, where: str, task: dict, base: Path) -> None:
        tlabel = f"task {task['name']!r} ({where})" if task.get("name") else f"task {where}"
        self.keywords(file, label, tlabel, task)
        if any(k in task for k in BLOCK_KEYS):
            self.values(file, label, tlabel, {k: v for k, v in task.items() if k not in BLOCK_KEYS})
            for key in BLOCK_KEYS:
                self.tasks(file, label, f"{where}.{key}", task.get(key), base)
            return
        for key in task:
            if key.startswith("with_") and key[5:] not in PURE_LOOKUPS:
                self.add(file, label, tlabel, f"{key}: the {key[5:]} lookup runs on the lab host "
                         f"(loops may use {', '.join('with_' + n for n in sorted(PURE_LOOKUPS))} or loop:)")
        module, args, free = self.module(task)
        self.module_rules(file, label, tlabel, module, args, free, base)
        self.values(file, label, tlabel, task)

    def module_rules(self, file: Path, label: str, tlabel: str, module: str | None, args: dict, free: str | None,
                     base: Path) -> None:
        if module is None:
            return
        short = _short(module)
        if short in REFUSED_MODULES:
            self.add(file, label, tlabel, f"{module}: {REFUSED_MODULES[short]}")
        elif short in SOURCE_MODULES:
            self.source(file, label, tlabel, short, args, free, base)
        elif short in INCLUDE_MODULES:
            key, kind = INCLUDE_MODULES[short]
            target = args.get(key) or args.get("dir") or free
            path = self.path(file, label, tlabel, f"{module}", target, base)
            if path is not None and path.is_dir():
                for p in sorted(path.rglob("*.y*ml")):
                    self.vars_file(p, label)
                return
            if path is not None:
                (self.vars_file(path, label) if kind == "vars" else self.task_file(path, label))
        elif short in ROLE_MODULES:
            self.role(file, label, tlabel, args.get("name"), base)
        elif short == "import_playbook":
            path = self.path(file, label, tlabel, module, args.get("file", free), base)
            if path is not None:
                self.playbook(path)

    @staticmethod
    def module(task: dict) -> tuple[str | None, dict, str | None]:
        """The task's module, its arguments (``args:`` merged in) and its free-form text."""
        action = task.get("action")
        candidates = [k for k in task if k not in TASK_KEYWORDS and not k.startswith("with_")]
        if action is not None:
            if isinstance(action, dict):
                module, raw = action.get("module"), {k: v for k, v in action.items() if k != "module"}
            else:
                module, _, raw = str(action).partition(" ")
        elif candidates:
            module, raw = candidates[0], task[candidates[0]]
        else:
            return None, {}, None
        args = dict(task["args"]) if isinstance(task.get("args"), dict) else {}
        free = None
        if isinstance(raw, dict):
            args.update(raw)
            free = raw.get("_raw_params")
        elif isinstance(raw, str):
            free = raw
            for m in re.finditer(r"(\w+)=(\"[^\"]*\"|'[^']*'|\S+)", raw):
                args.setdefault(m.group(1), m.group(2).strip("'\""))
        return module, args, free

    def source(self, file: Path, label: str, tlabel: str, module: str, args: dict, free: str | None,
               base: Path) -> None:
        key, remote = SOURCE_MODULES[module]
        if remote and str(args.get(remote, "")).lower() in ("true", "yes", "1"):
            return
        if module == "script":
            text = free if isinstance(free, str) and free.strip() else args.get("cmd") or ""
            target = str(text).split()[0] if str(text).split() else None
        else:
            target = args.get(key)
            if target is None:  # content:, or a uri call without a body file: nothing read on the host
                return
        path = self.path(file, label, tlabel, f"{module} {key}", target, base, subdirs=("files", "templates"))
        if path is not None and module in ("template", "win_template") and path.is_file():
            self.template_file(path, label)

    # -- paths, roles and included files ----------------------------------------------------

    def path(self, file: Path, label: str, tlabel: str, what: str, target: Any, base: Path,
             subdirs: tuple[str, ...] = ()) -> Path | None:
        """The file a recipe names on the controller: a literal relative path inside the recipe or a role."""
        if not isinstance(target, str) or not target.strip():
            self.add(file, label, tlabel, f"{what}: {target!r} is not a file name")
            return None
        if "{{" in target or "{%" in target:
            self.add(file, label, tlabel, f"{what}: {target!r}; a file the lab host reads is named literally "
                     "(a template could name any file on the host)")
            return None
        candidates = [base / s / target for s in subdirs] + [base / target]
        # Lexically first (``../files/x.sh`` from repairs/ is the recipe's own), then through symlinks.
        lexical = [Path(os.path.normpath(base.resolve() / s / target)) for s in subdirs + ("",)]
        if PurePosixPath(target).is_absolute() or target.startswith("~") or not all(
                any(p == r or r in p.parents for r in self.roots) for p in lexical):
            self.add(file, label, tlabel, f"{what}: {target!r} is outside the recipe folder; a recipe reads "
                     "only its own files (and ansible/roles)")
            return None
        found = [c for c in candidates if c.exists() or c.is_symlink()]
        for c in found:
            if not _inside(c, self.roots):
                self.add(file, label, tlabel, f"{what}: {target!r} leads outside the recipe folder (a symlink)")
                return None
        return found[0] if found else None

    def role(self, file: Path, label: str, tlabel: str, name: Any, base: Path) -> None:
        if not isinstance(name, str) or not re.fullmatch(r"[\w-]+", name):
            self.add(file, label, tlabel, f"role {name!r}: a recipe names a role of ansible/roles (or of its own "
                     "roles/ folder) by its folder name")
            return
        for folder in (base / "roles" / name, self.roles_dir / name):
            if folder.is_dir():
                if not _inside(folder, self.roots):
                    self.add(file, label, tlabel, f"role {name!r} leads outside the recipe folder (a symlink)")
                    return
                self.role_folder(folder, label)
                return
        self.add(file, label, tlabel, f"role {name!r} is neither in ansible/roles nor in the recipe's roles/")

    def role_folder(self, folder: Path, label: str) -> None:
        if folder.resolve() in self.seen:
            return
        self.seen.add(folder.resolve())
        for path in sorted(folder.rglob("*")):
            if path.is_symlink() and not _inside(path, self.roots):
                self.add(path, label, "", f"a symlink that leaves the role (to {os.readlink(path)})")
            if FORBIDDEN_NAMES.match(path.name):
                self.add(path, label, "", f"{path.name}: Ansible loads plugins from it on the lab host")
        for sub in ("tasks", "handlers"):
            for path in sorted((folder / sub).glob("*.y*ml")):
                self.task_file(path, label)
        for sub in ("vars", "defaults"):
            for path in sorted((folder / sub).glob("*.y*ml")):
                self.vars_file(path, label)
        meta = folder / "meta" / "main.yml"
        if meta.is_file():
            data = self.load(meta, label, "") or {}
            for j, dep in enumerate(data.get("dependencies") or [] if isinstance(data, dict) else []):
                name = dep if isinstance(dep, str) else (dep.get("role") or dep.get("name")) \
                    if isinstance(dep, dict) else None
                self.role(meta, label, f"dependencies[{j}]", name, folder.parent.parent)
        for path in sorted((folder / "templates").rglob("*")) if (folder / "templates").is_dir() else []:
            if path.is_file():
                self.template_file(path, label)

    def task_file(self, path: Path, label: str) -> None:
        if path.resolve() in self.seen:
            return
        self.seen.add(path.resolve())
        data = self.load(path, label, "")
        # Relative paths in a role's task file are looked up from the role (files/, templates/).
        base = path.parent.parent if path.parent.name in ("tasks", "handlers") else path.parent
        self.tasks(path, label, "tasks", data, base)

    def vars_file(self, path: Path, label: str) -> None:
        if path.resolve() in self.seen:
            return
        self.seen.add(path.resolve())
        data = self.load(path, label, "")
        self.values(path, label, "", data)

    def template_file(self, path: Path, label: str) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return  # not text: Ansible's template module fails on it in the seat's run, not here
        for problem in string_problems(text, bare=False):
            self.add(path, label, "", problem)

    # -- keywords and values ------------------------------------------------------------------

    def keywords(self, file: Path, label: str, tlabel: str, item: dict) -> None:
        for key, why in FORBIDDEN_KEYWORDS.items():
            if key in item:
                self.add(file, label, tlabel, f"{key}: {item[key]!r} {why}")

    def values(self, file: Path, label: str, tlabel: str, value: Any, key: str = "") -> None:
        """Every string (lookups, filters, Python internals) and mapping key (connection variables)."""
        for k, s in _strings(value, key):
            if s is None and FORBIDDEN_VARS.match(k):
                self.add(file, label, tlabel, f"sets {k}: the inventory decides how a recipe reaches its seat")
            for problem in string_problems(s, bare=k in BARE_JINJA_KEYS) if isinstance(s, str) else ():
                self.add(file, label, tlabel, f"{k + ': ' if k else ''}{problem}")


def _strings(value: Any, key: str) -> Iterator[tuple[str, Any]]:
    """(key, value) for every mapping key and every string, nested; the key is the nearest one above."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k), None
            yield from _strings(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, key)
    elif isinstance(value, str):
        yield key, value


def string_problems(text: str, *, bare: bool) -> list[str]:
    """What in one string (Jinja in a playbook or a template) would run on the controller."""
    out = []
    for m in LOOKUP_RE.finditer(text):
        plugin = m.group(3)
        if plugin is None:
            out.append(f"{m.group(1)}(...) with a plugin name that is not a literal runs a lookup of its "
                       "choosing on the lab host")
        elif plugin.removeprefix("ansible.builtin.") not in PURE_LOOKUPS:
            out.append(f"{m.group(1)}('{plugin}') runs on the lab host (lookups read the host's files, "
                       f"environment or commands; only {', '.join(sorted(PURE_LOOKUPS))} are allowed)")
    for m in FILTER_RE.finditer(text):
        out.append(f"the {m.group(1)} filter reads the lab host, not the seat")
    jinja = [text] if bare else JINJA_RE.findall(text)
    if any(DUNDER_RE.search(j) for j in jinja):
        out.append("Jinja reaching Python internals (__...__) runs on the lab host")
    return out


def scan_recipe(folder: Path, playbooks: list[Path], roles_dir: Path = ROLES_DIR) -> list[Finding]:
    """Every form in ``playbooks`` (and what they include) that would run on the controller."""
    scan = _Scan(Path(folder), roles_dir)
    scan.tree()
    for book in playbooks:
        if not _inside(Path(book), (scan.folder,)):
            scan.add(Path(book), "", "", "a playbook outside the recipe folder")
            continue
        scan.playbook(Path(book))
    return scan.findings


def scan_folder(folder: Path, roles_dir: Path = ROLES_DIR) -> list[Finding]:
    """``scan_recipe`` on the playbooks a recipe folder names, read leniently (for lint, before the schema)."""
    folder = Path(folder)
    books = [folder / n for n in PLAYBOOKS if (folder / n).is_file()]
    try:
        data = yaml.safe_load((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    repairs = data.get("repairs") if isinstance(data, dict) else None
    for r in repairs if isinstance(repairs, list) else []:
        if isinstance(r, dict) and isinstance(r.get("playbook"), str) and (folder / r["playbook"]).is_file():
            books.append(folder / r["playbook"])
    return scan_recipe(folder, books, roles_dir)
