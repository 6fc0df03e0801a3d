"""Where the time goes: the library times its phases, ``labctl --verbose`` prints the sums.

A phase is a named stretch of work (``seat: personalise``, ``fault: prepare``,
``checks: run``). Phases running in parallel threads (seats made four at a time)
are each timed on their own, so the sum of a phase over seats can exceed the wall
time; the breakdown says so. Recording adds to a sum under a lock: cheap enough
to stay on always.

:class:`Tally` is the progress bar of the long operations that work on many
seats or faults: one line per item done, with a bar, the count and the time so far.
It prints lines rather than redrawing one, so that it reads the same in a
terminal, in a CI log and in a file.
"""

from __future__ import annotations

import functools
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.Lock()
# name -> [count, total seconds, longest]; a dict keeps the order phases first ran in.
# Sums, not a list of every occurrence: a long-running `labctl serve` times checks
# for hours, and the set of phase names is small and fixed.
_totals: dict[str, list[float]] = {}


def record(name: str, seconds: float) -> None:
    with _lock:
        t = _totals.setdefault(name, [0, 0.0, 0.0])
        t[0] += 1
        t[1] += seconds
        t[2] = max(t[2], seconds)


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Time the block as one occurrence of phase ``name`` (also when it raises)."""
    started = time.monotonic()
    try:
        yield
    finally:
        record(name, time.monotonic() - started)


def timed(name: str) -> Callable[[F], F]:
    """Decorator: each call of the function is one occurrence of phase ``name``."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            with phase(name):
                return fn(*args, **kwargs)
        return inner  # type: ignore[return-value]
    return wrap


def clear() -> None:
    with _lock:
        _totals.clear()


@dataclass(frozen=True)
class PhaseTotal:
    name: str
    count: int
    total: float
    longest: float

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0


def summary() -> list[PhaseTotal]:
    """Each phase once, in the order it first ran: how often, how long in all, the longest."""
    with _lock:
        return [PhaseTotal(name, int(c), total, longest) for name, (c, total, longest) in _totals.items()]


def render(wall: float) -> str:
    """The breakdown as text: one line per phase, then the wall time."""
    rows = summary()
    if not rows:
        return f"time breakdown: nothing timed; {wall:.1f} s in all"
    width = max(len(r.name) for r in rows)
    lines = ["time breakdown (phases in parallel seats add up beyond the wall time):",
             f"  {'phase'.ljust(width)}  {'count':>5}  {'total':>8}  {'mean':>7}  {'longest':>7}"]
    for r in rows:
        lines.append(f"  {r.name.ljust(width)}  {r.count:5d}  {r.total:7.1f}s  {r.mean:6.1f}s  {r.longest:6.1f}s")
    lines.append(f"  {'wall time'.ljust(width)}  {'':5}  {wall:7.1f}s")
    return "\n".join(lines)


class Tally:
    """A progress bar for N items worked on in parallel: ``[#####.....] 4/8 seats ready (37 s)``."""

    WIDTH = 20

    def __init__(self, total: int, what: str, say: Callable[[str], None] | None):
        self.total, self.what, self.say = total, what, say or (lambda _m: None)
        self.done = self.failed = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def line(self) -> str:
        filled = round(self.WIDTH * self.done / self.total) if self.total else self.WIDTH
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} {self.what}{failed} "
                f"({time.monotonic() - self.started:.0f} s)")

    def step(self, ok: bool = True) -> None:
        with self._lock:
            self.done += 1
            self.failed += 0 if ok else 1
            self.say(self.line())
