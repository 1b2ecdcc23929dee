"""Trace context and its propagation (Dapper, Sigelman et al. 2010, section 2).

Rules:

- A request's **trace id** (64 bits, hex) is chosen once, where the request enters the system,
  together with the **sampled** flag (the sampling decision is made at the root and inherited,
  so a trace is recorded completely or not at all).
- Each RPC is one **span**, with its own span id; its **parent id** is the span id of the RPC
  during which it was made (none for the root). Client and server record the *same* span: the
  client its ``cs`` / ``cr`` annotations, the server ``sr`` / ``ss`` (Zipkin's shared span).
- The context travels in the request headers (``inject`` / ``extract``), like the notes' MTrace
  passing TraceId and SpanId over the network. Inside one process Dapper keeps it in a
  thread-local; here it lives in the server's per-request job (``job.meta``), which is what a
  thread-local achieves for a thread-per-request server.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

HEADERS = ("trace-id", "span-id", "parent-id", "sampled")


def new_id(rng: random.Random) -> str:
    """A 64-bit id in hex, from a seeded stream (never ``uuid4``: runs must replay)."""
    return f"{rng.getrandbits(64):016x}"


@dataclass(frozen=True, slots=True)
class TraceContext:
    trace_id: str
    span_id: str
    parent_id: str | None
    sampled: bool

    def inject(self, headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        """``headers`` with this context's fields added (replacing old ones)."""
        kept = tuple((k, v) for k, v in headers if k not in HEADERS)
        return kept + (
            ("trace-id", self.trace_id),
            ("span-id", self.span_id),
            ("parent-id", self.parent_id or ""),
            ("sampled", "1" if self.sampled else "0"),
        )

    @classmethod
    def extract(cls, headers: tuple[tuple[str, str], ...]) -> TraceContext | None:
        """The context in ``headers``, or ``None`` if the request carries none."""
        h = dict(headers)
        if "trace-id" not in h or "span-id" not in h:
            return None
        return cls(h["trace-id"], h["span-id"], h.get("parent-id") or None, h.get("sampled") == "1")

    def child(self, rng: random.Random) -> TraceContext:
        """The context of an RPC made while serving this span."""
        return TraceContext(self.trace_id, new_id(rng), self.span_id, self.sampled)
