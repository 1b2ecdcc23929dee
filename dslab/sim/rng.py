"""Named random streams derived from one seed.

Each stream is a ``random.Random`` seeded from SHA-256 of ``"{seed}/{name}"``, so streams are
independent of each other, identical on every machine and under any ``PYTHONHASHSEED``, and adding
draws to one stream (say the workload) never reshuffles another (say the network's delays).
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, name: str) -> int:
    """A 64-bit integer seed for stream ``name`` of run ``seed``."""
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def stream(seed: int, name: str) -> random.Random:
    """A fresh ``random.Random`` for stream ``name`` of run ``seed``."""
    return random.Random(derive_seed(seed, name))
