"""The catalogue tests itself: every recipe folder passes the static checks.

The VM half (inject, checks fail, fix, checks pass, repairs and decoys on a real
seat) is tests/vm/test_faults_vm.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labctl.faults.lint import lint_fault
from labctl.faults.manifest import Catalog

ROOT = Path(__file__).resolve().parents[2]
IDS = Catalog(ROOT / "faults").ids()


def test_the_catalogue_holds_the_first_four_faults():
    assert {"disk-full", "software-conflict", "deleted-files", "missing-privileges"} <= set(IDS)


@pytest.mark.parametrize("fault_id", IDS)
def test_recipe_passes_static_checks(fault_id):
    """Schema, playbook syntax, notes sections, tickets render, a legit repair and a decoy declared."""
    assert lint_fault(ROOT / "faults" / fault_id) == []


@pytest.mark.parametrize("fault_id", IDS)
def test_recipe_has_three_variants_and_every_check_can_fail(fault_id):
    """Each of the recipe's own checks has a declared way to fail, which `fault test` proves.

    A variant's ``breaks`` (its inject makes the check fail) or a decoy's ``caught_by`` (the
    check fails after the decoy): a check named by neither could be one that never fails.
    The protected-data check a recipe gets from ``protect`` counts as one of its own.
    """
    from labctl.faults.manifest import PROTECT_CHECK_ID

    f = Catalog(ROOT / "faults").get(fault_id)
    assert len(f.variants) >= 3
    assert {c.group for c in f.checks} & {"functional"}, "a recipe checks that the symptom is gone"
    named = {c for v in f.variants for c in v.breaks} | {c for r in f.repairs for c in r.caught_by}
    own = [c.id for c in f.checks] + ([PROTECT_CHECK_ID] if f.protect else [])
    never = [c for c in own if c not in named]
    assert not never, (f"{fault_id}: no variant breaks and no decoy is caught by {', '.join(never)}; "
                       "name each in a variant's breaks or a decoy's caught_by")


def test_ansible_lint_passes_on_the_recipes():
    exe = shutil.which("ansible-lint", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("ansible-lint is not installed (pip install -e '.[test]', as scripts/test.sh does)")
    # The roles recipes share are where labctl's runs find them (labctl/faults/playbook.py).
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(ROOT / "ansible" / "roles"))
    proc = subprocess.run([exe, "--offline", "-q", "--profile", "production", "faults/", "labctl/faults/skeleton/",
                           "ansible/"], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_scaffolded_recipe_passes_static_checks(tmp_path):
    from labctl.faults.scaffold import scaffold

    folder = scaffold(tmp_path, "printer-offline", ["T1-HW"])
    assert lint_fault(folder) == []


def test_lint_works_with_a_relative_folder(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_fault(Path("faults") / "disk-full") == []
