"""Static checks of a recipe folder: what can be proven without a virtual machine."""

from __future__ import annotations

from pathlib import Path

from ..errors import LabError
from .checks import checks_for
from .draw import draw, render_ticket
from .manifest import load_fault
from .playbook import syntax_check

NOTES_SECTIONS = ("## What the user sees", "## Variants", "## A diagnosis path", "## The fix",
                  "## Wrong fixes", "## What the checks look at")


def lint_fault(folder: Path) -> list[str]:
    """Problems found in a recipe folder; an empty list means it passed."""
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
    return problems
