"""A service provider (服务提供者): registers with its host's agent, serves calls, answers probes.

In heartbeat mode it also sends ``Heartbeat`` to its agent every ``heartbeat_ms``.
"""

from __future__ import annotations

from typing import Any

from dslab._validate import check_number, check_type
from dslab.core import Context, Handler, Request, Response
from dslab.governance.messages import Heartbeat, Probe, ProbeAck, Register, Work


class Provider(Handler):
    def __init__(self, service: str, agent: str, *, heartbeat_ms: float | None = None) -> None:
        self.service = check_type("service", service, str)
        self.agent = check_type("agent", agent, str)
        if heartbeat_ms is not None:
            check_number("heartbeat_ms", heartbeat_ms, min=0, min_inclusive=False)
        self.heartbeat_ms = heartbeat_ms

    def on_start(self, ctx: Context) -> None:
        ctx.send(self.agent, Register(self.service, ctx.node))
        if self.heartbeat_ms is not None:
            ctx.set_timer("heartbeat", float(self.heartbeat_ms))

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == "heartbeat" and self.heartbeat_ms is not None:
            ctx.send(self.agent, Heartbeat(self.service, ctx.node))
            ctx.set_timer("heartbeat", float(self.heartbeat_ms))

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Probe):
            ctx.send(src, ProbeAck(msg.round))
        elif isinstance(msg, Request) and isinstance(msg.body, Work):
            ctx.send(src, Response(msg.id, True, ctx.node))
