"""MNS-Controller: a tier between the agents and the registry that takes the read load.

OCTO kept its registry in ZooKeeper, whose throughput does not grow with more servers (every
write goes through the leader, and every watch and read lands on some server). With hundreds of
thousands of agents each fetching and re-fetching provider lists, the reads alone would
overwhelm it. The MNS-Controller is the notes' answer: "ZK的缓存层，承担ZK的读请求和数据推送".

Rules (:class:`MnsController`)
------------------------------
- Agents talk to a controller instead of MNS: ``Fetch`` (and its periodic refresh) is answered
  from the controller's **cache**; on a miss the controller fetches once from MNS, for all the
  agents waiting on that service.
- The controller **subscribes** to MNS once per service, so MNS pushes a change to a handful of
  controllers, and each controller pushes it on to its own subscribed agents (one extra hop).
- Pushed lists replace the cached one only when newer (by version); the controller also
  re-fetches every ``refresh_ms``, one ``Fetch`` per service, not per agent (and per service
  still awaited, so a lost fetch is retried).
- Writes (``Register``, ``Heartbeat``) are forwarded to MNS unchanged: the registry stays the
  single source of truth; the controllers hold only soft state (a restarted controller
  rebuilds its cache on the next fetch).
- So the registry's read load is ``controllers x services / refresh_ms`` instead of
  ``agents x services / refresh_ms``, and a change costs it ``controllers`` pushes instead of
  ``agents``.

Map to the notes: "MNS-Controller作为ZK的缓存层，承担ZK的读请求和数据推送".
"""

from __future__ import annotations

from typing import Any

from dslab._validate import check_number, check_type
from dslab.core import Context, Handler
from dslab.governance.messages import Fetch, Heartbeat, Register, ServiceList


class MnsController(Handler):
    def __init__(self, mns: str = "mns", *, refresh_ms: float = 1000.0) -> None:
        self.mns = check_type("mns", mns, str)
        self.refresh_ms = check_number("refresh_ms", refresh_ms, min=0, min_inclusive=False)
        self.cache: dict[str, ServiceList] = {}
        self.subscribers: dict[str, set[str]] = {}
        self.waiting: dict[str, list[str]] = {}

    def on_start(self, ctx: Context) -> None:
        ctx.set_timer("refresh", float(self.refresh_ms))

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, (Register, Heartbeat)):
            ctx.send(self.mns, msg)  # writes go to the registry
        elif isinstance(msg, Fetch):
            if msg.subscribe:
                self.subscribers.setdefault(msg.service, set()).add(src)
            if msg.service in self.cache:
                ctx.send(src, self.cache[msg.service])
                return
            first = msg.service not in self.waiting
            self.waiting.setdefault(msg.service, []).append(src)
            if first:
                ctx.send(self.mns, Fetch(msg.service))
        elif isinstance(msg, ServiceList):
            old = self.cache.get(msg.service)
            if old is not None and msg.version <= old.version:
                waiting = self.waiting.pop(msg.service, [])
                for agent in waiting:
                    ctx.send(agent, old)
                return
            self.cache[msg.service] = msg
            waiting = self.waiting.pop(msg.service, [])
            for agent in waiting:
                ctx.send(agent, msg)
            if old is not None and old.providers != msg.providers or (
                    old is not None and old.weights != msg.weights):
                for agent in sorted(self.subscribers.get(msg.service, set()) - set(waiting)):
                    ctx.send(agent, msg)  # push the change on

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == "refresh":  # what it holds and what its agents wait for
            for service in sorted(set(self.cache) | set(self.waiting)):
                ctx.send(self.mns, Fetch(service))
            ctx.set_timer("refresh", float(self.refresh_ms))
