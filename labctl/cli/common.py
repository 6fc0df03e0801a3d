"""Helpers shared by the command groups."""

from __future__ import annotations

import json

import click

from ..config import Config, load_config


def get_config(ctx: click.Context, **overrides) -> Config:
    obj = ctx.find_root().obj or {}
    return load_config(obj.get("config_path"), **overrides)


def echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def progress(msg: str) -> None:
    click.echo(msg, err=True)


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths)).rstrip()]
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
