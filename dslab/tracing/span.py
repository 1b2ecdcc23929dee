"""Spans, annotations and the collector (Dapper sections 2.1-2.2 and 3).

Rules:

- Each side of an RPC reports a :class:`SpanPart`: the client with annotations ``cs`` (client
  send) and ``cr`` (client receive), the server with ``sr`` (server receive) and ``ss`` (server
  send). Times are each node's **local** clock: client and server clocks may disagree.
- Parts are sent to the :class:`Collector` asynchronously, out of band (a message on the same
  simulated network, after the reply has gone; nobody waits for it). A lost report loses that
  part; the collector merges the parts it got into :class:`Span` rows by span id.
- Tags are key/value pairs (the notes' custom "foo" annotation): the method, the node, errors.
- A :class:`SpanBatch` carries many parts in one message, as zlib-compressed JSON (MTrace's
  batched, compressed reporting; see :mod:`dslab.tracing.reporter`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dslab.core import Context, Handler


@dataclass(frozen=True, slots=True)
class SpanPart:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str  # "client" or "server"
    node: str
    annotations: tuple[tuple[str, float], ...]
    tags: tuple[tuple[str, str], ...] = ()

    def size_bytes(self) -> int:
        return (
            64
            + len(self.name)
            + len(self.node)
            + 12 * len(self.annotations)
            + sum(len(k) + len(v) for k, v in self.tags)
        )


@dataclass(frozen=True, slots=True)
class SpanReport:
    """The message carrying one part to the collector."""

    part: SpanPart

    def size_bytes(self) -> int:
        return self.part.size_bytes()


@dataclass(frozen=True, slots=True)
class SpanBatch:
    """Many parts in one message, compressed (MTrace's 批量压缩上报): real zlib over JSON."""

    payload: bytes
    count: int

    @classmethod
    def pack(cls, parts: Sequence[SpanPart]) -> SpanBatch:
        rows = [
            [p.trace_id, p.span_id, p.parent_id, p.name, p.kind, p.node, p.annotations, p.tags]
            for p in parts
        ]
        body = json.dumps(rows, separators=(",", ":")).encode("utf-8")
        return cls(zlib.compress(body, 6), len(parts))

    def unpack(self) -> list[SpanPart]:
        rows = json.loads(zlib.decompress(self.payload).decode("utf-8"))
        return [
            SpanPart(t, s, p, n, k, node, tuple(map(tuple, ann)), tuple(map(tuple, tags)))
            for t, s, p, n, k, node, ann, tags in rows
        ]

    def size_bytes(self) -> int:
        return len(self.payload) + 16


class Collector(Handler):
    """Receives span reports and keeps them (Dapper's collection daemons + Bigtable, in one)."""

    def __init__(self) -> None:
        self.parts: list[SpanPart] = []
        self.batches = 0

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, SpanReport):
            self.parts.append(msg.part)
        elif isinstance(msg, SpanBatch):
            self.batches += 1
            self.parts.extend(msg.unpack())
