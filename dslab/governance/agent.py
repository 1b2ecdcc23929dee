"""SgAgent: one agent process per host, between the business processes and the naming service.

Rules
-----
- Local providers register with the agent, which registers them with MNS (and forwards their
  heartbeats in heartbeat mode): business code never talks to the registry directly.
- A consumer asks its agent ``Discover(service)``. With ``cache=True`` (OCTO's design) the agent
  answers from its **cache** of provider lists; on a miss it fetches from MNS (which subscribes it
  to pushes) and answers when the list arrives. Pushed ``ServiceList``s replace the cache entry
  when their version is newer; the agent also re-fetches every ``refresh_ms`` in case a push was
  lost, and so does a fetch that got no answer (a lost ``Fetch`` is retried at the next refresh).
- With ``cache=False`` every ``Discover`` is a round trip to MNS: when MNS is down, discovery fails
  (the consumer's request times out).
- ``Discover(service, weighted=True)`` is answered with ``(provider, weight)`` pairs, the
  weights the scanner set (权重); consumers then pick in proportion to them.
- ``services`` are fetched (and subscribed to) at start, before any consumer asks.
- The agent may talk to an MNS-Controller instead of MNS itself (``mns=`` its name): the
  messages are the same.
- So with the cache, **MNS down does not stop traffic**: consumers keep using the last known list
  (which may be stale: a provider that dies meanwhile stays listed).

Map to the notes: "Sg_agent是一个本地独立的进程，和业务进程解耦，
接管业务进程与命名服务的交互，缓存&访问行为控制，保护注册中心" and
"Consumer则通过SgAgent从MNS中获取服务数据".
"""

from __future__ import annotations

from typing import Any

from dslab._validate import check_number, check_type
from dslab.core import Context, Handler, Request, Response
from dslab.governance.messages import Discover, Fetch, Heartbeat, Register, ServiceList


class SgAgent(Handler):
    def __init__(self, mns: str = "mns", *, cache: bool = True,
                 refresh_ms: float = 5000.0, services: tuple[str, ...] = ()) -> None:
        self.mns = check_type("mns", mns, str)
        self.cache_enabled = check_type("cache", cache, bool)
        self.refresh_ms = check_number("refresh_ms", refresh_ms, min=0, min_inclusive=False)
        self.services = tuple(check_type("services", services, tuple))
        self.cache: dict[str, ServiceList] = {}
        self.waiting: dict[str, list[tuple[str, int, bool]]] = {}

    def on_start(self, ctx: Context) -> None:
        for service in self.services:
            ctx.send(self.mns, Fetch(service))
        ctx.set_timer("refresh", float(self.refresh_ms))

    @staticmethod
    def answer(listing: ServiceList, weighted: bool) -> tuple:
        return listing.weighted() if weighted else listing.providers

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, (Register, Heartbeat)):
            ctx.send(self.mns, msg)  # the agent registers on the provider's behalf
        elif isinstance(msg, Request) and isinstance(msg.body, Discover):
            service = msg.body.service
            weighted = msg.body.weighted
            if self.cache_enabled and service in self.cache:
                ctx.send(src, Response(msg.id, True, self.answer(self.cache[service], weighted)))
                return
            first = service not in self.waiting
            self.waiting.setdefault(service, []).append((src, msg.id, weighted))
            if first or not self.cache_enabled:
                ctx.send(self.mns, Fetch(service))
        elif isinstance(msg, ServiceList):
            old = self.cache.get(msg.service)
            if old is None or msg.version >= old.version:
                self.cache[msg.service] = msg
                if old is None or old.providers != msg.providers:
                    ctx.log("cache_updated", service=msg.service, providers=list(msg.providers))
            for client, rid, weighted in self.waiting.pop(msg.service, []):
                ctx.send(client, Response(rid, True, self.answer(msg, weighted)))

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == "refresh":  # what it holds, what it waits for, and what it must have
            for service in sorted(set(self.cache) | set(self.waiting) | set(self.services)):
                ctx.send(self.mns, Fetch(service))
            ctx.set_timer("refresh", float(self.refresh_ms))
