"""The one Jinja2 environment recipes are rendered with (sandboxed, strict).

Its own module so that loading a manifest (which parses every templated field to
refuse syntax errors at load) and drawing a variant (which renders them) share it
without importing each other.
"""

from __future__ import annotations

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

ENV = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)


def is_template(text: str) -> bool:
    """Whether labctl renders this string as a template; any other string is used as written.

    ``{#`` alone does not count: a shell ``${#name}`` in a check is plain text, not a comment.
    """
    return "{{" in text or "{%" in text
