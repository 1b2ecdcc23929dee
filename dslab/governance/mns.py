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

- A provider that registers again (after a restart) is up again. ``Deregister`` (a clean
  shutdown) forgets the provider at once: it is no longer listed, scanned or pushed. It is
  acknowledged with ``Deregistered`` (and a ``Register`` with ``ack=True`` with ``Registered``)
  so that the sender can retry until it is.
- ``Fetch(service, subscribe=False)`` is a plain read (a poller), without a subscription.
- **Weights** (权重): a scanner may send ``SetWeight(provider, w)``. Lists carry each up
  provider's weight (10 by default); ``w == 0`` marks the provider down, ``w > 0`` up with that
  weight. A provider that registers again starts at full weight.
- **Rooms** (机房): a provider registers with its machine room; ``ListAll`` answers every
  provider with its room and the ones now marked down, for the per-room scanners.
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
    Deregister,
    Deregistered,
    Fetch,
    Heartbeat,
    ListAll,
    MarkDown,
    MarkUp,
    Register,
    Registered,
    ServiceList,
    SetWeight,
)

MODES = ("heartbeat", "scanner")
FULL_WEIGHT = 10


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
        self.weights: dict[str, int] = {}  # provider -> weight, when not full
        self.rooms: dict[str, str] = {}  # provider -> machine room
        self.reads = 0  # Fetch and ListAll requests served (the registry's read load)

    def on_start(self, ctx: Context) -> None:
        # the registry itself is durable (OCTO keeps it in ZooKeeper, later in Cellar)
        if "registry" in ctx.storage:
            self.providers, self.version, self.weights, self.rooms = ctx.storage["registry"]
            self.subscribers = ctx.storage.get("subscribers", {})
            self.service_of = {p: s for s, ps in self.providers.items() for p in ps}
            self.last_heard = {p: ctx.now() for p in self.service_of}  # a fresh grace period
        if self.mode == "heartbeat":
            ctx.set_timer("tick", float(self.tick_ms))

    def listing(self, service: str) -> ServiceList:
        up = tuple(sorted(p for p, ok in self.providers.get(service, {}).items() if ok))
        if any(p in self.weights for p in up):
            return ServiceList(service, up, self.version,
                               tuple(self.weights.get(p, FULL_WEIGHT) for p in up))
        return ServiceList(service, up, self.version)

    def _changed(self, ctx: Context, service: str) -> None:
        self.version += 1
        ctx.storage["registry"] = (self.providers, self.version, self.weights, self.rooms)
        listing = self.listing(service)
        for agent in sorted(self.subscribers.get(service, ())):
            ctx.send(agent, listing)  # push the change

    def _set(self, ctx: Context, provider: str, up: bool, by: str,
             weight: int | None = None) -> None:
        service = self.service_of.get(provider)
        if service is None:
            return
        old_weight = self.weights.get(provider, FULL_WEIGHT)
        new_weight = old_weight if weight is None else weight
        if self.providers[service][provider] == up and (not up or new_weight == old_weight):
            return
        was_up = self.providers[service][provider]
        self.providers[service][provider] = up
        if up:
            if new_weight == FULL_WEIGHT:
                self.weights.pop(provider, None)
            else:
                self.weights[provider] = new_weight
        if was_up != up:
            ctx.log("marked_up" if up else "marked_down", provider=provider, by=by)
        # the weight consumers see now (0: not listed)
        ctx.log("weight", provider=provider, weight=self.weights.get(provider, FULL_WEIGHT)
                if up else 0, by=by)
        self._changed(ctx, service)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Register):
            self.service_of[msg.provider] = msg.service
            self.rooms[msg.provider] = msg.room
            known = self.providers.setdefault(msg.service, {})
            self.last_heard[msg.provider] = ctx.now()
            if msg.provider not in known:
                known[msg.provider] = False
            self._set(ctx, msg.provider, True, "register", FULL_WEIGHT)
            if msg.ack:
                ctx.send(src, Registered(msg.provider))
        elif isinstance(msg, Deregister):
            if self.providers.get(msg.service, {}).pop(msg.provider, None) is not None:
                for table in (self.service_of, self.last_heard, self.weights, self.rooms):
                    table.pop(msg.provider, None)
                ctx.log("deregistered", provider=msg.provider)
                self._changed(ctx, msg.service)
            ctx.send(src, Deregistered(msg.provider))
        elif isinstance(msg, Heartbeat):
            if msg.provider in self.service_of:
                self.last_heard[msg.provider] = ctx.now()
                self._set(ctx, msg.provider, True, "heartbeat")
        elif isinstance(msg, Fetch):
            self.reads += 1
            if msg.subscribe and src not in self.subscribers.get(msg.service, set()):
                self.subscribers.setdefault(msg.service, set()).add(src)
                ctx.storage["subscribers"] = self.subscribers
            ctx.send(src, self.listing(msg.service))
        elif isinstance(msg, ListAll):
            self.reads += 1
            everyone = sorted((s, p) for s, ps in self.providers.items() for p in ps)
            ctx.send(src, AllProviders(
                tuple(everyone), tuple(sorted((p, self.rooms.get(p, "")) for _, p in everyone)),
                tuple(sorted(p for s, p in everyone if not self.providers[s][p]))))
        elif isinstance(msg, SetWeight):
            self._set(ctx, msg.provider, msg.weight > 0, "scanner", msg.weight or None)
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
