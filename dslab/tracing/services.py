"""The small service graph of the tracing experiments: A -> (B, C), C -> D."""

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
