"""Static checks of a recipe folder: what can be proven without a virtual machine."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import LabError
from .checks import checks_for
from .draw import draw, render_ticket
from .hostside import scan_folder
from .manifest import load_fault
from .playbook import syntax_check

NOTES_SECTIONS = ("## What the user sees", "## Variants", "## A diagnosis path", "## The fix",
                  "## Wrong fixes", "## What the checks look at")


def lint_fault(folder: Path) -> list[str]:
    """Problems found in a recipe folder; an empty list means it passed."""
    # Every host-side finding, not only the first that load_fault reports; and before anything
    # runs Ansible on the recipe (the syntax check would read an ansible.cfg or plugins beside it).
    findings = scan_folder(folder)
    if findings:
        return [str(f) for f in findings]
    try:
        fault = load_fault(folder)
    except LabError as exc:
        return [exc.message]
    problems = []
    books = [p for p in (fault.playbook(s) for s in ("prepare", "inject", "fix")) if p]
    books += [r.playbook for r in fault.repairs]
    ok, out = syntax_check(*books)  # one ansible-playbook start for the whole recipe
    if not ok:
        problems.append(f"ansible-playbook --syntax-check failed: {out[-500:]}")
    notes = fault.notes()
    for section in NOTES_SECTIONS:
        if section not in notes:
            problems.append(f"README.md: no section '{section}' in the instructor notes")
    for v in fault.variants:
        d = draw(fault, 1, v.id)
        try:
            for lang in ("en", "fr"):
                t = render_ticket(fault, d, lang, seat="ws")
                if fault.id in t.body or fault.id in t.subject:
                    problems.append(f"ticket.{lang}.md.j2: names the fault ({fault.id}); "
                                    "a ticket says the symptom, never the cause")
            checks_for(fault, d)
        except LabError as exc:
            problems.append(f"variant {v.id}: {exc.message}")
    if not any(r.expect == "pass" for r in fault.repairs):
        problems.append("fault.yaml: no legitimate repair besides fix.yml (repairs with expect: pass)")
    if not any(r.expect == "fail" for r in fault.repairs):
        problems.append("fault.yaml: no decoy (a harmful repair with expect: fail)")
    for i, c in enumerate(fault.checks):
        problems += [f"fault.yaml: field 'checks[{i}].command.describe' ({c.id}): {p}" for p in describe_mismatches(c)]
    return problems


# -- a command check's describe names only what its run script looks at ------------------------
# The describe is what a report shows as "expected": naming a path, a URL, a port or a unit the
# script never touches promises a test that is not there. Compared as raw texts, templates
# ({{ home }}) as written; "<user>" or "~" in a describe stands for a templated part.

_TEMPLATE = re.compile(r"\{\{.*?\}\}")
_URL = re.compile(r"https?://[^\s,;()'\"]+")
# "port 8080", "8080/tcp", "vpn.corp.lab 1194" (a host name, then its port)
_PORT = re.compile(r"\bports?\s+(\d{1,5})\b|\b(\d{1,5})/(?:tcp|udp)\b|"
                   r"\b[a-z][\w-]*(?:\.[a-z][\w-]*)+\s+(\d{2,5})\b", re.I)
_UNIT = re.compile(r"(?<![\w/.-])([\w@-][\w@.-]*\.(?:service|timer|socket|mount|target|path|slice))\b")
_TOKEN = re.compile(r"[^\s,;()'\"`]+")


def _squash(text: str) -> str:
    """Templates without their inner spaces, so that they are single words on both sides."""
    return _TEMPLATE.sub(lambda m: "{{" + "".join(m.group(0)[2:-2].split()) + "}}", text)


def _literal(thing: str) -> str:
    """The part of a named thing that the script must contain: up to a placeholder, no ~."""
    thing = thing.split("<", 1)[0].rstrip(".:")
    return thing[1:] if thing.startswith("~/") else thing


def describe_mismatches(check) -> list[str]:
    """What a ``command`` check's describe names and its ``run`` does not have."""
    if check.kind != "command" or not check.spec.get("describe"):
        return []
    text, run = _squash(str(check.spec["describe"])), _squash(str(check.spec["run"]))
    named: list[tuple[str, str]] = []
    urls = _URL.findall(text)
    named += [("URL", u) for u in urls]
    rest = _URL.sub(" ", text)
    for tok in _TOKEN.findall(rest):
        if tok.startswith(("/", "~/")) or (tok.startswith("{{") and "/" in tok):
            named.append(("path", tok))
    missing = []
    for what, thing in named:
        needle = _literal(thing)
        if needle.strip("/") and needle not in run:
            missing.append(f"names the {what} {thing}, which its run script does not have")
    for m in _PORT.finditer(text):
        port = m.group(1) or m.group(2) or m.group(3)
        if not re.search(rf"(?<!\d){port}(?!\d)", run):
            missing.append(f"names port {port}, which its run script does not have")
    for unit in _UNIT.findall(rest):
        if unit not in run and unit.removesuffix(".service") not in run:
            missing.append(f"names the unit {unit}, which its run script does not have")
    return missing
