"""The services of the tracing experiments: the graph A -> (B, C), C -> D, and a cached API."""

from __future__ import annotations

from dslab.rpc.interface import Service, idempotent


class Frontend(Service):
    @idempotent
    def handle(self) -> str:
        return "page"


class Backend(Service):
    @idempotent
    def work(self) -> str:
        return "data"


class KeyedFrontend(Service):
    """An API that looks a key up (in front of a cache and a database)."""

    @idempotent
    def get(self, key: str) -> str:
        return "page"


class Cache(Service):
    """A key/value cache: ``get`` returns ``None`` on a miss."""

    @idempotent
    def get(self, key: str) -> str | None:
        return self.state.get(key)

    @idempotent
    def put(self, key: str, value: str) -> str:
        self.state[key] = value
        return value
