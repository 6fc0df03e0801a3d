"""Drawing a fault's variant and parameters from a seed, and rendering what depends on them.

A draw is reproducible: the same fault, seed (and forced variant, if any) give the
same variant and the same values, on any host. The values stay on the host; the
guest only ever sees their effects.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateError

from ..errors import ConfigError
from .manifest import LANGS, Fault
from .templating import ENV, is_template

DESKTOP_USER = "alex"
TOKEN_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
# Parameters marked ``prepare: true`` shape a recipe's prepared (healthy) stage, which seats
# share (labctl/faults/prepared.py): they are drawn from this many draws per variant, not per
# seat; a seat's seed picks one of them. The other parameters are drawn per seat.
PREPARED_POOL = 2


@dataclass(frozen=True)
class Draw:
    """One variant of a fault with its parameter values."""

    fault: str
    variant: str
    seed: int
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"fault": self.fault, "variant": self.variant, "seed": self.seed, "params": dict(self.params)}


def new_seed() -> int:
    return secrets.randbelow(2**31)


def _rng(seed: int, *parts: str) -> random.Random:
    digest = hashlib.sha256(":".join([str(seed), *parts]).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def draw(fault: Fault, seed: int, variant: str | None = None) -> Draw:
    """Pick the variant (unless forced) and draw every parameter."""
    if variant is None:
        chosen = _rng(seed, fault.id, "variant").choice(fault.variants)
    else:
        chosen = fault.variant(variant)
    values: dict[str, Any] = {}
    pool = pool_index(fault, seed)
    for p in fault.parameters:
        if p.prepare:
            rng = _rng(pool, fault.id, chosen.id, "prepared-param", p.name)
        else:
            rng = _rng(seed, fault.id, "param", p.name)
        if p.kind == "choice":
            values[p.name] = rng.choice(p.values)
        elif p.kind == "int":
            values[p.name] = rng.randint(p.values[0], p.values[1])
        elif p.kind == "sample":
            values[p.name] = rng.sample(list(p.values), p.k)
        elif p.kind == "token":
            values[p.name] = "".join(rng.choice(TOKEN_ALPHABET) for _ in range(p.length))
    # A variant's own values may refer to the drawn ones: {{ params.name }}.
    values.update(render_value(chosen.params, {"params": dict(values)}, f"{fault.manifest}: variant {chosen.id}"))
    values["variant"] = chosen.id
    return Draw(fault=fault.id, variant=chosen.id, seed=seed, params=values)


def pool_index(fault: Fault, seed: int) -> int:
    """Which of its variant's pooled draws a seat's seed picks (0 .. PREPARED_POOL-1)."""
    return _rng(seed, fault.id, "pool").randrange(PREPARED_POOL)


def prepare_values(fault: Fault, d: Draw) -> dict[str, Any]:
    """What a recipe's prepare stage gets: the ``prepare: true`` parameters, the variant's own
    values that depend on nothing else, and the variant. Everything else is drawn per seat and
    reaches the inject, fix and repair steps only."""
    shaping = {p.name for p in fault.parameters if p.prepare}
    out = {k: v for k, v in d.params.items() if k in shaping}
    chosen = fault.variant(d.variant)
    for k, raw in chosen.params.items():
        try:
            out[k] = render_value(raw, {"params": dict(out)}, f"{fault.manifest}: variant {chosen.id}")
        except ConfigError:
            pass  # refers to a per-seat value: not the prepare stage's
    out["variant"] = d.variant
    return out


_env = ENV


def context(d: Draw, **extra: Any) -> dict[str, Any]:
    ctx = {"params": d.params, "variant": d.variant, "user": DESKTOP_USER, "home": f"/home/{DESKTOP_USER}"}
    ctx.update(extra)
    return ctx


def render_value(value: Any, ctx: dict[str, Any], where: str) -> Any:
    """Render every string in a nested structure as a Jinja2 template (StrictUndefined)."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        try:
            return _env.from_string(value).render(ctx)
        except TemplateError as exc:
            raise ConfigError(f"{where}: template error: {exc}") from None
    if isinstance(value, list):
        return [render_value(v, ctx, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: render_value(v, ctx, f"{where}.{k}") for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Ticket:
    """What the user would write to the helpdesk: the symptom, never the cause."""

    fault: str
    lang: str
    subject: str
    body: str
    impact: str
    urgency: str
    priority: str

    def as_dict(self) -> dict:
        return {"fault": self.fault, "lang": self.lang, "subject": self.subject, "body": self.body,
                "impact": self.impact, "urgency": self.urgency, "priority": self.priority}


# ITIL priority matrix: impact x urgency -> P1 (critical) .. P5 (planning).
_PRIORITY = {
    ("high", "high"): "P1", ("high", "medium"): "P2", ("medium", "high"): "P2",
    ("high", "low"): "P3", ("medium", "medium"): "P3", ("low", "high"): "P3",
    ("medium", "low"): "P4", ("low", "medium"): "P4", ("low", "low"): "P5",
}


def priority(impact: str, urgency: str) -> str:
    return _PRIORITY[(impact, urgency)]


def render_ticket(fault: Fault, d: Draw, lang: str = "en", **extra: Any) -> Ticket:
    if lang not in LANGS:
        raise ConfigError(f"ticket language {lang!r} is not available", hint="languages: " + ", ".join(LANGS))
    path = fault.folder / f"ticket.{lang}.md.j2"
    ctx = context(d, **extra)
    body = render_value(path.read_text(encoding="utf-8"), ctx, str(path)).strip() + "\n"
    subject = render_value(fault.ticket.subject[lang], ctx, f"{fault.manifest}: ticket.subject.{lang}")
    return Ticket(fault=fault.id, lang=lang, subject=subject, body=body, impact=fault.ticket.impact,
                  urgency=fault.ticket.urgency, priority=priority(fault.ticket.impact, fault.ticket.urgency))
