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


class Api(Service):
    """Two methods on one server: ``fast`` answers from memory, ``slow`` reads a database."""

    @idempotent
    def fast(self) -> str:
        return "ok"

    @idempotent
    def slow(self) -> str:
        return "ok"


class Database(Service):
    """A row per key (the database behind ``Api.slow`` and the tracing cache experiment)."""

    @idempotent
    def query(self, key: str) -> str:
        return f"row:{key}"
