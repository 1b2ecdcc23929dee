"""What travels inside the :class:`dslab.core.Request` / :class:`~dslab.core.Response` envelopes.

Every request carries a request id twice: the envelope's ``id`` (one per network attempt, used to
match the reply) and ``call_id`` (one per *logical* call, the same on every retry; a server that
remembers call ids can make a non-idempotent method safe to retry).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Invocation:
    """A serialized call: which method, the encoded arguments, and the headers (metadata)."""

    service: str
    method: str
    payload: bytes
    call_id: str
    headers: tuple[tuple[str, str], ...] = ()

    def header(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def size_bytes(self) -> int:
        return len(self.payload) + sum(len(k) + len(v) for k, v in self.headers) + 16


@dataclass(frozen=True, slots=True)
class Reply:
    """A serialized result, and what the server measured on its own clock (durations, in ms)."""

    payload: bytes
    queue_ms: float = 0.0
    service_ms: float = 0.0

    def size_bytes(self) -> int:
        return len(self.payload) + 16
