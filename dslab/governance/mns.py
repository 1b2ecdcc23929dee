"""MNS, the naming service (命名服务 / 注册中心), simplified from Meituan's OCTO.

Rules
-----
- It keeps, per service, the registered providers and whether each is **up**. Agents register
  providers (``Register``); the provider list served to agents contains only the ones that are up.
- ``Fetch(service)`` from an agent is answered with the current ``ServiceList`` and **subscribes**
  the agent: every later change of that service is **pushed** to every subscriber (OCTO's
  MNS-Controller pushes changes instead of letting every agent poll ZooKeeper).
- Two ways to notice a dead provider:

  * ``mode="heartbeat"`` (ZooKeeper's ephemeral nodes): providers heartbeat through their agent
    every ``heartbeat_ms``; every ``tick_ms`` the naming service marks down the providers it has
    not heard from for ``session_timeout_ms``. The registry does the health checking itself, the
    load OCTO moved out of ZooKeeper.
  * ``mode="scanner"``: no heartbeats; the :class:`~dslab.governance.scanner.Scanner` probes the
    providers and sends ``MarkDown`` / ``MarkUp``.

- A provider that registers again (after a restart) is up again.
- The registry (providers, up flags, version) and the subscriptions are durable: a restarted MNS
  serves the same lists and keeps pushing to the same agents.
- Every change is logged as a node event ``marked_down`` / ``marked_up`` with the provider.

Map to the notes: "MNS基于ZK持久化实例存储服务节点信息",
"MNS-Controller作为ZK的缓存层，承担ZK的读请求和数据推送",
"Scanner ... 去掉ZK非持久化实例健康检查的性能开销".
"""

from __future__ import annotations

from typing import Any

from dslab._validate import check_choice, check_number
from dslab.core import Context, Handler
from dslab.governance.messages import (
    AllProviders,
    Fetch,
    Heartbeat,
    ListAll,
    MarkDown,
    MarkUp,
    Register,
    ServiceList,
)

MODES = ("heartbeat", "scanner")


class NamingService(Handler):
    def __init__(self, mode: str = "scanner", *, session_timeout_ms: float = 3000.0,
                 tick_ms: float = 100.0) -> None:
        self.mode = check_choice("mode", mode, MODES)
        self.session_timeout_ms = check_number("session_timeout_ms", session_timeout_ms, min=0,
                                               min_inclusive=False)
        self.tick_ms = check_number("tick_ms", tick_ms, min=0, min_inclusive=False)
        self.providers: dict[str, dict[str, bool]] = {}  # service -> provider -> up
        self.last_heard: dict[str, float] = {}
        self.service_of: dict[str, str] = {}
        self.subscribers: dict[str, set[str]] = {}
        self.version = 0

    def on_start(self, ctx: Context) -> None:
        # the registry itself is durable (OCTO keeps it in ZooKeeper, later in Cellar)
        if "registry" in ctx.storage:
            self.providers, self.version = ctx.storage["registry"]
            self.subscribers = ctx.storage.get("subscribers", {})
            self.service_of = {p: s for s, ps in self.providers.items() for p in ps}
            self.last_heard = {p: ctx.now() for p in self.service_of}  # a fresh grace period
        if self.mode == "heartbeat":
            ctx.set_timer("tick", float(self.tick_ms))

    def listing(self, service: str) -> ServiceList:
        up = tuple(sorted(p for p, ok in self.providers.get(service, {}).items() if ok))
        return ServiceList(service, up, self.version)

    def _set(self, ctx: Context, provider: str, up: bool, by: str) -> None:
        service = self.service_of.get(provider)
        if service is None or self.providers[service][provider] == up:
            return
        self.providers[service][provider] = up
        self.version += 1
        ctx.storage["registry"] = (self.providers, self.version)
        ctx.log("marked_up" if up else "marked_down", provider=provider, by=by)
        listing = self.listing(service)
        for agent in sorted(self.subscribers.get(service, ())):
            ctx.send(agent, listing)  # push the change

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Register):
            self.service_of[msg.provider] = msg.service
            known = self.providers.setdefault(msg.service, {})
            self.last_heard[msg.provider] = ctx.now()
            if msg.provider not in known:
                known[msg.provider] = False
            self._set(ctx, msg.provider, True, "register")
        elif isinstance(msg, Heartbeat):
            if msg.provider in self.service_of:
                self.last_heard[msg.provider] = ctx.now()
                self._set(ctx, msg.provider, True, "heartbeat")
        elif isinstance(msg, Fetch):
            if src not in self.subscribers.get(msg.service, set()):
                self.subscribers.setdefault(msg.service, set()).add(src)
                ctx.storage["subscribers"] = self.subscribers
            ctx.send(src, self.listing(msg.service))
        elif isinstance(msg, ListAll):
            ctx.send(src, AllProviders(tuple(sorted(
                (s, p) for s, ps in self.providers.items() for p in ps))))
        elif isinstance(msg, MarkDown):
            self._set(ctx, msg.provider, False, "scanner")
        elif isinstance(msg, MarkUp):
            self._set(ctx, msg.provider, True, "scanner")

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == "tick":
            now = ctx.now()
            for provider in sorted(self.last_heard):
                if now - self.last_heard[provider] >= self.session_timeout_ms:
                    self._set(ctx, provider, False, "session_timeout")
            ctx.set_timer("tick", float(self.tick_ms))
