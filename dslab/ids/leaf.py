"""Leaf-snowflake's defence against clock rollback (时钟回拨问题解决), and its coordinator.

Meituan's Leaf keeps, in ZooKeeper, two directories about its Snowflake generators:

- ``leaf_forever/<node>``: persistent; the last local time each generator reported;
- ``leaf_temporary/<node>``: ephemeral; one entry per *running* generator, gone when its session
  expires.

The start-up check, as the notes give it (generator side: :class:`~dslab.ids.snowflake.
SnowflakeNode` with ``startup_check="leaf"``; coordinator side: :class:`LeafCoordinator`):

1. On start, the generator asks whether it has written ``leaf_forever/<self>`` before
   (:class:`~dslab.ids.messages.CheckIn`).
2. If it has, its clock must not be behind the time recorded there; otherwise the clock took a
   large step back: refuse to start (and alert).
3. If it has not (a new generator), it writes its time under ``leaf_forever/<self>``, then asks
   every generator listed under ``leaf_temporary`` for its clock (:class:`~dslab.ids.messages.
   TimeQuery`, real messages between generators) and computes their average,
   ``sum(time) / nodeSize``.
4. If ``|own time - average| < threshold``, the clock is believed: start, register under
   ``leaf_temporary`` and keep the session alive. Otherwise refuse to start (and alert).
5. While running, report the local time to ``leaf_forever/<self>`` every 3 s
   (``report_ms``), never writing a time older than the last one written.

At run time Leaf also waits out rollbacks of at most 5 ms and refuses larger ones (the ``"wait"``
rule of :mod:`dslab.ids.snowflake`).

What the check cannot see: a restarted generator is only compared with its own last report,
which can be up to ``report_ms`` old. A rollback smaller than the time since that report slips
through and the generator may reissue IDs of its last moments before the crash; the chapter
measures this window. ``startup_check="leaf+peers"`` also compares a restarted generator with its
peers, which catches any rollback larger than ``threshold_ms``.

The coordinator here is one node (ZooKeeper would be a replicated ensemble): ``leaf_forever`` is in
durable storage, ``leaf_temporary`` in memory, since ephemeral nodes die with their sessions. A
session lasts ``session_ms`` after the last report.
"""

from __future__ import annotations

from typing import Any

from dslab._validate import check_number
from dslab.core import Context, Handler
from dslab.ids.messages import CheckIn, CheckInReply, ReportTime

FOREVER_KEY = "leaf_forever"


class LeafCoordinator(Handler):
    """The ZooKeeper part of Leaf-snowflake: ``leaf_forever`` and ``leaf_temporary``."""

    def __init__(self, session_ms: float = 10_000.0) -> None:
        check_number("session_ms", session_ms, min=0, min_inclusive=False)
        self.session_ms = float(session_ms)
        self.temporary: dict[str, float] = {}  # node -> local time of its last report

    def forever(self, ctx: Context) -> dict[str, float]:
        return ctx.storage[FOREVER_KEY] if FOREVER_KEY in ctx.storage else {}

    def running(self, ctx: Context) -> list[str]:
        """The nodes under ``leaf_temporary`` whose session has not expired."""
        now = ctx.now()
        return sorted(n for n, t in self.temporary.items() if now - t <= self.session_ms)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, CheckIn):
            peers = tuple(n for n in self.running(ctx) if n != msg.node)
            ctx.send(src, CheckInReply(msg.req, self.forever(ctx).get(msg.node), peers))
        elif isinstance(msg, ReportTime):
            forever = self.forever(ctx)
            forever[msg.node] = msg.time_ms
            ctx.storage[FOREVER_KEY] = forever
            if msg.register:
                self.temporary[msg.node] = ctx.now()
