"""Scheme 1: the database's auto-increment primary key (数据库主键自增).

The notes' recipe is a table ``sequence_id`` whose ``id`` column is ``AUTO_INCREMENT``; each caller
runs ``REPLACE INTO sequence_id (stub) VALUES ('stub'); SELECT LAST_INSERT_ID();`` in one
transaction, and the new row's ``id`` is the ID. :class:`AutoIncrementDB` is that database, reduced
to what matters here:

1. The counter lives in durable storage (``ctx.storage["auto_increment"]``, the next value to hand
   out) and is written before the answer leaves, as a committed transaction is. So a crash and
   restart never reissues an ID.
2. Each request is one transaction on a single-threaded server (:class:`~dslab.ids.server.
   QueuedServer`) that takes ``service_ms``: one database hands out at most ``1000 / service_ms``
   IDs per second, and every ID costs a network round trip to it. That is the notes' "支持的并发量
   不大" and "每次获取 ID 都要访问一次数据库".
3. Several masters share the work without coordination the way MySQL does it: with ``k`` masters,
   master ``i`` (1-based) uses ``auto_increment_offset = i`` and ``auto_increment_increment = k``
   (here ``offset=i, step=k``), so master 1 hands out 1, k+1, 2k+1... and master 2 hands out 2,
   k+2, ... The IDs never collide, but they are no longer increasing across masters, and adding a
   master later means renumbering every offset.

IDs are increasing and compact, but guessable (the notes' 安全问题: the daily order count can be
read off the IDs), and one database is a single point of failure (数据库单点问题): while it is down,
nobody gets an ID.
"""

from __future__ import annotations

from typing import Any

from dslab._validate import check_number
from dslab.core import Context, Request
from dslab.ids.messages import NextId
from dslab.ids.server import QueuedServer, reply

COUNTER_KEY = "auto_increment"


class AutoIncrementDB(QueuedServer):
    """A database whose ``AUTO_INCREMENT`` column hands out ``offset, offset + step, ...``.

    ``offset`` / ``step`` are MySQL's ``auto_increment_offset`` / ``auto_increment_increment``
    (``1 <= offset <= step``); ``service_ms`` is the time one insert-and-commit takes.
    """

    def __init__(self, offset: int = 1, step: int = 1, service_ms: float = 0.25) -> None:
        super().__init__(service_ms)
        check_number("step", step, min=1, integer=True)
        check_number("offset", offset, min=1, integer=True)
        if offset > step:
            raise ValueError(
                f"offset={offset!r} is not allowed; it must be <= step={step!r} (MySQL ignores "
                "auto_increment_offset above auto_increment_increment)"
            )
        self.offset = offset
        self.step = step
        self.next_id = offset

    def on_start(self, ctx: Context) -> None:
        if COUNTER_KEY not in ctx.storage:
            ctx.storage[COUNTER_KEY] = self.offset
        self.next_id = ctx.storage[COUNTER_KEY]

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request) and isinstance(msg.body, NextId):
            self.enqueue(ctx, src, msg)

    def serve(self, ctx: Context, src: str, msg: Request) -> None:
        new_id = self.next_id
        self.next_id += self.step
        ctx.storage[COUNTER_KEY] = self.next_id  # commit before answering
        reply(ctx, src, msg, new_id)


def auto_increment_db(offset: int = 1, step: int = 1, service_ms: float = 0.25):
    """A factory for :meth:`dslab.sim.Sim.add_node` (arguments checked now, not at boot)."""
    AutoIncrementDB(offset, step, service_ms)
    return lambda: AutoIncrementDB(offset, step, service_ms)
