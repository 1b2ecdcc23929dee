"""Scheme 3: a NoSQL counter, Redis ``INCR`` (the notes' NoSQL scheme).

``INCR key`` adds one to a counter and returns the new value, atomically, because Redis executes
commands one at a time on a single thread. :class:`RedisCounter` is that server:

1. One counter per ``biz_tag`` (the Redis key), held in memory; commands wait in a FIFO queue and
   each takes ``service_ms`` (:class:`~dslab.ids.server.QueuedServer`). Redis is fast (tens of
   microseconds per command), so one instance serves far more IDs per second than a database.
2. Durability is a setting, as in Redis's append-only file (AOF):

   - ``"none"``: memory only (no AOF, no snapshots). A restart starts every counter from 0 again
     and hands out, once more, every ID it ever gave.
   - ``"always"`` (``appendfsync always``): each ``INCR`` is written to disk before the reply,
     which costs ``fsync_ms`` more per command. A restart resumes where it stopped.
   - ``"periodic"`` (``appendfsync everysec``): the counters are flushed to disk every
     ``flush_every_ms``. Fast, but a crash loses up to one period of increments, and after the
     restart those IDs are handed out a second time.

The IDs of one instance are increasing and compact, with the database's drawbacks (guessable, one
instance is a single point of failure); a Redis cluster would split keys between instances, not
share one counter.
"""

from __future__ import annotations

from typing import Any

from dslab._validate import check_choice, check_number
from dslab.core import Context, Request
from dslab.ids.messages import NextId
from dslab.ids.server import SERVE_TIMER, QueuedServer, reply

PERSISTENCE = ("none", "always", "periodic")
AOF_KEY = "aof"
FLUSH_TIMER = "flush"


class RedisCounter(QueuedServer):
    """A single-threaded ``INCR`` server with ``persistence`` ``"none"``, ``"always"`` or
    ``"periodic"`` (see the module rules)."""

    def __init__(
        self,
        persistence: str = "always",
        *,
        service_ms: float = 0.01,
        fsync_ms: float = 0.05,
        flush_every_ms: float = 1000.0,
    ) -> None:
        super().__init__(service_ms)
        check_choice("persistence", persistence, PERSISTENCE)
        check_number("fsync_ms", fsync_ms, min=0)
        check_number("flush_every_ms", flush_every_ms, min=0, min_inclusive=False)
        self.persistence = persistence
        self.fsync_ms = float(fsync_ms)
        self.flush_every_ms = float(flush_every_ms)
        self.counters: dict[str, int] = {}

    def on_start(self, ctx: Context) -> None:
        if self.persistence != "none" and AOF_KEY in ctx.storage:
            self.counters = ctx.storage[AOF_KEY]
        ctx.log("redis_loaded", counters=dict(sorted(self.counters.items())))
        if self.persistence == "periodic":
            ctx.set_timer(FLUSH_TIMER, self.flush_every_ms)

    def cost(self, msg: Any) -> float:
        return self.service_ms + (self.fsync_ms if self.persistence == "always" else 0.0)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request) and isinstance(msg.body, NextId):
            self.enqueue(ctx, src, msg)

    def serve(self, ctx: Context, src: str, msg: Request) -> None:
        key = msg.body.biz_tag
        value = self.counters.get(key, 0) + 1  # INCR key
        self.counters[key] = value
        if self.persistence == "always":
            ctx.storage[AOF_KEY] = self.counters
        reply(ctx, src, msg, value)

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == FLUSH_TIMER:
            ctx.storage[AOF_KEY] = self.counters
            ctx.set_timer(FLUSH_TIMER, self.flush_every_ms)
        elif name == SERVE_TIMER:
            super().on_timer(ctx, name)
