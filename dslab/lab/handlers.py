"""The small handlers of the first chapter's scenarios, following the rules of :mod:`dslab.core`.

- :class:`Pinger` sends ``Ping`` to a target at a fixed interval of its *local* clock and logs
  each round trip as its own clock measures it; :class:`Echo` answers each ``Ping`` with a
  ``Pong`` carrying the same sequence number and timestamp.
- :class:`Heartbeater` sends ``Heartbeat`` to every peer at a fixed interval, from a random phase
  drawn from its own stream (so two nodes do not beat in lockstep).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslab.core import Context, Handler


@dataclass(frozen=True, slots=True)
class Ping:
    seq: int
    sent_at: float  # the pinger's local clock when it sent the ping


@dataclass(frozen=True, slots=True)
class Pong:
    seq: int
    sent_at: float  # echoed back unchanged


class Pinger(Handler):
    """Sends ``Ping`` to ``target`` every ``interval_ms`` (local time), ``n_pings`` times, and logs
    each round trip as measured by its own clock: ``ctx.log("pong", seq=..., rtt_ms=...)``."""

    def __init__(self, target: str, n_pings: int, interval_ms: float) -> None:
        self.target, self.n_pings, self.interval_ms = target, n_pings, interval_ms
        self.seq = 0

    def on_start(self, ctx: Context) -> None:
        ctx.set_timer("ping", 0.0)

    def on_timer(self, ctx: Context, name: str) -> None:
        self.seq += 1
        ctx.log("ping", seq=self.seq)
        ctx.send(self.target, Ping(self.seq, ctx.now()))
        if self.seq < self.n_pings:
            ctx.set_timer("ping", self.interval_ms)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Pong):
            ctx.log("pong", seq=msg.seq, rtt_ms=ctx.now() - msg.sent_at)


class Echo(Handler):
    """Answers every ``Ping`` with a ``Pong`` carrying the same sequence number and timestamp."""

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Ping):
            ctx.send(src, Pong(msg.seq, msg.sent_at))


@dataclass(frozen=True, slots=True)
class Heartbeat:
    seq: int


class Heartbeater(Handler):
    """Sends ``Heartbeat`` to every peer every ``heartbeat_ms``, starting at a random phase."""

    def __init__(self, heartbeat_ms: float) -> None:
        self.heartbeat_ms = heartbeat_ms
        self.seq = 0

    def on_start(self, ctx: Context) -> None:
        ctx.set_timer("beat", ctx.rng.uniform(0.0, self.heartbeat_ms))

    def on_timer(self, ctx: Context, name: str) -> None:
        self.seq += 1
        for peer in ctx.peers:
            ctx.send(peer, Heartbeat(self.seq))
        ctx.set_timer("beat", self.heartbeat_ms)
