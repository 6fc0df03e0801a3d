"""Every command and option is documented (after sqlite-utils' tests/test_docs.py)."""

import re
from pathlib import Path

import click
import pytest

from labctl.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "commands"


def _commands():
    for name, cmd in cli.commands.items():
        if isinstance(cmd, click.Group):
            for sub_name, sub in cmd.commands.items():
                yield name, f"labctl {name} {sub_name}", sub
        else:
            yield name, f"labctl {name}", cmd


@pytest.mark.parametrize("group,full,cmd", list(_commands()), ids=lambda v: v if isinstance(v, str) else "")
def test_command_and_options_documented(group, full, cmd):
    page = DOCS / f"{group}.md"
    assert page.is_file(), f"no docs page {page.relative_to(ROOT)} for the '{group}' command group"
    text = page.read_text()
    heading = re.compile(r"^#{2,3} `?" + re.escape(full) + r"(`|\s|$)", re.M)
    assert heading.search(text), f"{full} has no section heading in {page.name}"
    for param in cmd.params:
        if isinstance(param, click.Option):
            assert any(o in text for o in param.opts), f"{full}: option {param.opts[0]} not in {page.name}"


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("\n## ", 1)[0]
    assert "bash scripts/setup.sh" in head
    assert "bash scripts/test.sh" in head
    assert (ROOT / ".ci" / "run").read_text().count("scripts/test.sh") == 1
