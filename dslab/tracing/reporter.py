"""How a traced server sends its spans to the collector: one by one, or buffered in batches.

Rules:

- :class:`DirectReporter` sends every finished part at once, as its own message (a message and
  its header per span).
- :class:`BatchReporter` (MTrace's 批量压缩上报) appends finished parts to a buffer of at most
  ``buffer_spans``. Every ``flush_ms`` it sends up to ``batch_spans`` of them as one
  :class:`~dslab.tracing.span.SpanBatch` (zlib-compressed JSON). The buffer is bounded so that
  tracing can never exhaust the server's memory: a part that finds it full is **dropped** and
  counted in ``dropped``. The reporting path therefore carries at most ``batch_spans / flush_ms``
  spans per ms; a burst above that fills the buffer and loses spans, never requests.
- The flush timer runs only while the buffer holds something, so an idle server schedules nothing.
"""

from __future__ import annotations

from dslab._validate import check_number
from dslab.core import Context
from dslab.tracing.span import SpanBatch, SpanPart, SpanReport

FLUSH_TIMER = "filter/trace-flush"


class DirectReporter:
    def __init__(self, collector: str) -> None:
        self.collector = collector
        self.sent = 0
        self.dropped = 0

    def report(self, ctx: Context, part: SpanPart) -> None:
        ctx.send(self.collector, SpanReport(part))
        self.sent += 1

    def on_timer(self, ctx: Context, name: str) -> None:
        """Nothing buffered, nothing to flush."""


class BatchReporter:
    def __init__(
        self,
        collector: str,
        *,
        batch_spans: int = 32,
        flush_ms: float = 5.0,
        buffer_spans: int = 256,
    ) -> None:
        self.collector = collector
        self.batch_spans = check_number("batch_spans", batch_spans, min=1, integer=True)
        self.flush_ms = check_number("flush_ms", flush_ms, min=0, min_inclusive=False)
        self.buffer_spans = check_number("buffer_spans", buffer_spans, min=1, integer=True)
        self.buffer: list[SpanPart] = []
        self.armed = False
        self.sent = 0
        self.batches = 0
        self.dropped = 0
        self.max_buffered = 0

    def report(self, ctx: Context, part: SpanPart) -> None:
        if len(self.buffer) >= self.buffer_spans:
            self.dropped += 1
            return
        self.buffer.append(part)
        self.max_buffered = max(self.max_buffered, len(self.buffer))
        if not self.armed:
            self.armed = True
            ctx.set_timer(FLUSH_TIMER, self.flush_ms)

    def on_timer(self, ctx: Context, name: str) -> None:
        if name != FLUSH_TIMER:
            return
        batch, self.buffer = self.buffer[: self.batch_spans], self.buffer[self.batch_spans :]
        if batch:
            ctx.send(self.collector, SpanBatch.pack(batch))
            self.sent += len(batch)
            self.batches += 1
        self.armed = bool(self.buffer)
        if self.armed:
            ctx.set_timer(FLUSH_TIMER, self.flush_ms)


__all__ = ["FLUSH_TIMER", "BatchReporter", "DirectReporter"]
