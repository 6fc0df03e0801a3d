"""Which fault and variant each seat of a session gets, reproducibly from the session's seed.

Faults take turns and each fault's variants take turns, in an order shuffled by
the seed, so neighbours get different faults or variants as long as the pool has
enough of them; every seat also gets its own seed, so even a repeated variant has
its own drawn values (file names, tokens...).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from ..faults.manifest import Fault


@dataclass(frozen=True)
class SeatDraw:
    fault: str
    variant: str
    seed: int


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def seat_seed(session_seed: int, idx: int) -> int:
    digest = hashlib.sha256(f"{session_seed}:seat:{idx}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2**31


def plan_faults(pool: list[Fault], n_seats: int, seed: int) -> list[SeatDraw]:
    faults = sorted(pool, key=lambda f: f.id)
    _rng(seed, "faults").shuffle(faults)
    queues = {}
    for f in faults:
        ids = [v.id for v in f.variants]
        _rng(seed, "variants", f.id).shuffle(ids)
        queues[f.id] = ids
    combos: list[tuple[str, str]] = []
    while any(queues.values()):
        for f in faults:
            if queues[f.id]:
                combos.append((f.id, queues[f.id].pop(0)))
    return [SeatDraw(*combos[i % len(combos)], seat_seed(seed, i + 1)) for i in range(n_seats)]
