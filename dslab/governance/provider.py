"""A service provider (服务提供者): registers with its host's agent, serves calls, answers probes.

In heartbeat mode it also sends ``Heartbeat`` to its agent every ``heartbeat_ms``. It registers
with its machine ``room`` (机房). With ``retry_ms`` (for a provider that registers with MNS
directly, without an agent) it asks for an acknowledgement and re-sends ``Register`` every
``retry_ms`` until ``Registered`` arrives, so a lost registration is only delayed.

``degraded`` lists windows ``(start_ms, end_ms, delay_ms, drop)`` of its local clock in which it
is sick but alive: it answers calls and probes ``delay_ms`` late, and ignores each with
probability ``drop`` (a slow or flaky provider).
"""

from __future__ import annotations

from typing import Any

from dslab._validate import check_number, check_probability, check_type
from dslab.core import Context, Handler, Request, Response
from dslab.governance.messages import Heartbeat, Probe, ProbeAck, Register, Registered, Work

Degradation = tuple[float, float, float, float]  # (start_ms, end_ms, delay_ms, drop)


class Provider(Handler):
    def __init__(self, service: str, agent: str, *, heartbeat_ms: float | None = None,
                 room: str = "", degraded: tuple[Degradation, ...] = (),
                 retry_ms: float | None = None) -> None:
        self.service = check_type("service", service, str)
        self.agent = check_type("agent", agent, str)
        if heartbeat_ms is not None:
            check_number("heartbeat_ms", heartbeat_ms, min=0, min_inclusive=False)
        self.heartbeat_ms = heartbeat_ms
        self.room = check_type("room", room, str)
        for i, w in enumerate(degraded):
            if len(w) != 4:
                raise ValueError(f"degraded[{i}]={w!r} must be (start_ms, end_ms, delay_ms, drop)")
            check_number(f"degraded[{i}] end_ms", w[1], min=w[0])
            check_number(f"degraded[{i}] delay_ms", w[2], min=0)
            check_probability(f"degraded[{i}] drop", w[3])
        self.degraded = tuple(degraded)
        if retry_ms is not None:
            check_number("retry_ms", retry_ms, min=0, min_inclusive=False)
        self.retry_ms = retry_ms
        self.registered = False
        self.later: dict[str, tuple[str, Any]] = {}
        self._n = 0

    def on_start(self, ctx: Context) -> None:
        self._register(ctx)

    def _register(self, ctx: Context) -> None:
        ctx.send(self.agent, Register(self.service, ctx.node, self.room,
                                      ack=self.retry_ms is not None))
        if self.retry_ms is not None:
            ctx.set_timer("register", float(self.retry_ms))
        if self.heartbeat_ms is not None:
            ctx.set_timer("heartbeat", float(self.heartbeat_ms))

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == "heartbeat" and self.heartbeat_ms is not None:
            ctx.send(self.agent, Heartbeat(self.service, ctx.node))
            ctx.set_timer("heartbeat", float(self.heartbeat_ms))
        elif name == "register" and not self.registered:
            self._register(ctx)
        elif name in self.later:
            ctx.send(*self.later.pop(name))

    def _reply(self, ctx: Context, dst: str, msg: Any) -> None:
        now = ctx.now()
        for start, end, delay, drop in self.degraded:
            if start <= now < end:
                if drop and ctx.rng.random() < drop:
                    return
                if delay:
                    self._n += 1
                    self.later[f"reply/{self._n}"] = (dst, msg)
                    ctx.set_timer(f"reply/{self._n}", float(delay))
                    return
                break
        ctx.send(dst, msg)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Registered):
            self.registered = True
            ctx.cancel_timer("register")
        elif isinstance(msg, Probe):
            self._reply(ctx, src, ProbeAck(msg.round))
        elif isinstance(msg, Request) and isinstance(msg.body, Work):
            self._reply(ctx, src, Response(msg.id, True, ctx.node))
