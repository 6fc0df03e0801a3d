import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]


def test_vagrantfile_validates():
    if not shutil.which("vagrant"):
        if IN_CI:
            pytest.fail("vagrant is not installed (scripts/test.sh installs it)")
        pytest.skip("vagrant not installed")
    env = {**os.environ, "VAGRANT_DEFAULT_PROVIDER": "libvirt"}
    res = subprocess.run(["vagrant", "validate"], cwd=ROOT, capture_output=True, text=True, timeout=180, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "validated successfully" in res.stdout


def test_vagrantfile_uses_the_readme_setup_command():
    text = (ROOT / "Vagrantfile").read_text()
    assert "scripts/setup.sh" in text
    assert "debian/bookworm64" in text
