"""Example service interfaces used by the experiments, tests and chapter."""

from __future__ import annotations

from typing import Any

from dslab.rpc.interface import Service, idempotent


class Counter(Service):
    """Named counters. ``incr`` is *not* idempotent; ``get`` and ``put`` are."""

    @idempotent
    def get(self, key: str) -> int:
        return self.state.get(key, 0)

    @idempotent
    def put(self, key: str, value: int) -> int:
        self.state[key] = value
        return value

    def incr(self, key: str, by: int = 1) -> int:
        self.state[key] = self.state.get(key, 0) + by
        return self.state[key]


class Echo(Service):
    """Returns what it is given (for payload-size experiments)."""

    @idempotent
    def echo(self, data: Any) -> Any:
        return data
