"""The gateway node (a :class:`dslab.core.Handler`) and the backend service instances behind it.

A request's path through :class:`Gateway` (request forwarding + request filtering, the notes'
"请求转发 + 请求过滤"):

1. **route** (:mod:`~dslab.gateway.routing`): the first route (by order, then longest prefix)
   whose prefix and predicates (:mod:`~dslab.gateway.predicates`) hold names the service; none
   matches: 404.
2. **pre-filters** (:mod:`~dslab.gateway.filters`), in order: log, auth (401), validate (400),
   rate limit (429). Each refusal is definite: no backend saw the request. Then the **ordered
   filters** (:mod:`~dslab.gateway.ordered`): the global filters and the route's own filters,
   merged by order number; their ``pre`` halves may rewrite the request or refuse it.
3. **cache** (:mod:`~dslab.gateway.cache`): a fresh cached answer is returned at once.
4. **circuit breaker** (:mod:`~dslab.gateway.breaker`): if the service's breaker is open the
   gateway answers with the **fallback** (200, ``fallback=True``, a degraded default body) or, if
   fallbacks are off, 503. No slot, no wait.
5. **concurrency**: the gateway has ``max_concurrent`` call slots (Zuul 1's thread pool). A
   request that finds them all busy waits in a queue of ``queue_limit`` (503 if full, 503 if it
   waited longer than ``timeout_ms``). This shared pool is how one slow backend hurts every route.
6. **forward**: the version (gray release, :mod:`~dslab.gateway.balancing`) and then the instance
   (load balancing) are chosen, and ``BackendCall`` is sent with a ``timeout_ms`` timer.
7. **reply**: the instance's answer (200, or 500 for an application error) is relayed and
   cached; a timeout is recorded as a failure by the breaker and **retried** on another instance
   up to ``retries`` times (only safe for idempotent requests: a timed-out call may have run),
   then answered 504 (indefinite), or with the fallback when a breaker is configured.

8. **post-filters**: every answer given after step 2's ordered filters ran (backend answer,
   cache hit, fallback, 504) passes back through their ``post`` halves in reverse order.

A late ``BackendReply`` (after its timeout) is counted and dropped.

**Routes from the registry** (Spring Cloud Gateway's discovery locator with Nacos or Eureka;
here :class:`dslab.governance.mns.NamingService`). With ``registry`` set, the gateway asks the
registry for the instances of every routed service at start (``Fetch``, which subscribes it to
pushes, unless ``subscribe=False``) and again every ``refresh_ms``. A ``ServiceList`` replaces
the service's instances **only if its version is newer** than the one the gateway holds (a
delayed, older list must not bring back an instance that left). Instances are then picked from
the current list, retries included: once the update is applied no request goes to an instance
that left. A service without instances answers 503 (definite). No restart is needed.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_number, check_probability, check_type
from dslab.core import Context, Handler, Request, Response
from dslab.gateway.balancing import POLICIES, Balancer, CanaryRule
from dslab.gateway.breaker import GatewayBreaker
from dslab.gateway.cache import TtlCache
from dslab.gateway.filters import FILTERS, FilterChain
from dslab.gateway.limiters import RateLimiter
from dslab.gateway.messages import ApiReply, ApiRequest, BackendCall, BackendReply
from dslab.gateway.ordered import Exchange, GatewayFilter, chain_for, run_post, run_pre
from dslab.gateway.routing import Route, RouteTable
from dslab.governance.messages import (
    Deregister,
    Deregistered,
    Fetch,
    Register,
    Registered,
    ServiceList,
)

FALLBACK_BODY = "default (degraded)"


@dataclass(frozen=True)
class GatewayConfig:
    """Everything a :class:`Gateway` needs. ``instances`` are ``(service, instance, version)``."""

    routes: tuple[Route, ...]
    instances: tuple[tuple[str, str, str], ...]
    tokens: tuple[str, ...] = ()
    filters: tuple[str, ...] = FILTERS
    limiter: Callable[[], RateLimiter] | None = None
    balancer: str = "round_robin"
    timeout_ms: float = 200.0
    retries: int = 1
    max_concurrent: int = 50
    queue_limit: int = 200
    breaker: dict[str, Any] | None = None
    fallback: bool = True
    canary: tuple[CanaryRule, ...] = field(default_factory=tuple)
    global_filters: tuple[GatewayFilter, ...] = ()
    registry: str | None = None
    refresh_ms: float = 1000.0
    subscribe: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "routes", tuple(self.routes))
        object.__setattr__(self, "instances", tuple(tuple(i) for i in self.instances))
        object.__setattr__(self, "tokens", tuple(self.tokens))
        object.__setattr__(self, "filters", tuple(self.filters))
        object.__setattr__(self, "canary", tuple(self.canary))
        table = RouteTable(self.routes)
        known = {s for s, _, _ in self.instances}
        for r in table.routes:
            if r.service not in known and self.registry is None:
                raise ValueError(f"route {r.prefix!r} names service={r.service!r}, which has no "
                                 f"instances; known services: {sorted(known)}")
        FilterChain(self.filters)  # validates the names
        if self.limiter is not None and not callable(self.limiter):
            raise TypeError(f"limiter={self.limiter!r} must be a callable returning a RateLimiter")
        if self.balancer not in POLICIES:
            raise ValueError(f"balancer={self.balancer!r} is not allowed; choose one of "
                             f"{list(POLICIES)}")
        check_number("timeout_ms", self.timeout_ms, min=0, min_inclusive=False)
        check_number("retries", self.retries, min=0, integer=True)
        check_number("max_concurrent", self.max_concurrent, min=1, integer=True)
        check_number("queue_limit", self.queue_limit, min=0, integer=True)
        if self.breaker is not None:
            check_type("breaker", self.breaker, dict)
            GatewayBreaker(**self.breaker)  # validates the parameters
        for i, rule in enumerate(self.canary):
            check_type(f"canary[{i}]", rule, CanaryRule)
        object.__setattr__(self, "global_filters", tuple(self.global_filters))
        for i, f in enumerate(self.global_filters):
            check_type(f"global_filters[{i}]", f, GatewayFilter)
        if self.registry is not None:
            check_type("registry", self.registry, str)
        check_number("refresh_ms", self.refresh_ms, min=0, min_inclusive=False)
        check_type("subscribe", self.subscribe, bool)


@dataclass
class _Job:
    client: str
    rid: int
    request: ApiRequest
    route: Route
    arrived: float
    tried: list[str] = field(default_factory=list)
    exchange: Exchange | None = None


class Gateway(Handler):
    """The API gateway (API 网关). See the module docstring for the path of a request."""

    def __init__(self, config: GatewayConfig) -> None:
        check_type("config", config, GatewayConfig)
        self.config = config
        self.table = RouteTable(config.routes)
        self.chain = FilterChain(
            config.filters, tokens=config.tokens,
            limiter=config.limiter() if config.limiter is not None else None)
        self.balancer = Balancer(config.balancer)
        self.cache = TtlCache()
        self.breakers = {
            s: GatewayBreaker(**config.breaker) for s in self.table.services
        } if config.breaker is not None else {}
        self.canary = {rule.service: rule for rule in config.canary}
        self.calls: dict[int, tuple[_Job, str, str]] = {}
        self.pending: Counter[str] = Counter()
        self.queue: deque[_Job] = deque()
        self.inflight = 0
        self.stats: Counter[str] = Counter()
        self._next_call = 0
        self.metrics: list[dict[str, Any]] = []  # rows recorded by Metrics post-filters
        self.traces: list[tuple[str, tuple[str, ...]]] = []  # (route id, filter steps) per answer
        self.discovered: dict[str, tuple[int, tuple[str, ...]]] = {}  # service -> (version, list)

    def on_start(self, ctx: Context) -> None:
        if self.config.registry is not None:
            self._refresh(ctx)

    def _refresh(self, ctx: Context) -> None:
        for service in self.table.services:
            ctx.send(self.config.registry, Fetch(service, subscribe=self.config.subscribe))
        ctx.set_timer("refresh", float(self.config.refresh_ms))

    def _learn(self, ctx: Context, msg: ServiceList) -> None:
        known = self.discovered.get(msg.service)
        if known is not None and msg.version <= known[0]:
            return  # older or same news: never undo a newer list
        self.discovered[msg.service] = (msg.version, tuple(msg.providers))
        if known is None or known[1] != tuple(msg.providers):
            ctx.log("routes_updated", service=msg.service, instances=list(msg.providers),
                    version=msg.version)

    def instances_of(self, service: str, version: str | None = None) -> list[str]:
        """The instances the gateway may call now: from the registry if it has one."""
        if self.config.registry is not None:
            return list(self.discovered.get(service, (0, ()))[1])
        return [i for s, i, v in self.config.instances
                if s == service and (version is None or v == version)]

    # -- entry points ---------------------------------------------------------------------------
    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self._request(ctx, src, msg)
        elif isinstance(msg, BackendReply):
            self._reply(ctx, msg)
        elif isinstance(msg, ServiceList) and self.config.registry is not None:
            self._learn(ctx, msg)

    def on_timer(self, ctx: Context, name: str) -> None:
        if name.startswith("call/"):
            self._timeout(ctx, int(name[5:]))
        elif name == "refresh" and self.config.registry is not None:
            self._refresh(ctx)

    # -- steps ------------------------------------------------------------------------------------
    def _answer(self, ctx: Context, client: str, rid: int, reply: ApiReply,
                ex: Exchange | None = None) -> None:
        if ex is not None:
            reply = run_post(ex, reply, ctx.now())
            self.traces.append((ex.route.id, tuple(ex.trace)))
        self.stats[f"status:{reply.status}"] += 1
        ok = reply.status == 200
        ctx.send(client, Response(rid, ok, reply, None if ok else str(reply.status)))

    def _request(self, ctx: Context, src: str, req: Request) -> None:
        now = ctx.now()
        api = req.body
        if not isinstance(api, ApiRequest):
            self._answer(ctx, src, req.id, ApiReply(400, "not an ApiRequest"))
            return
        route = self.table.select(api, now, ctx.rng)
        if route is None:
            self._answer(ctx, src, req.id, ApiReply(404, "no route"))
            return
        verdict = self.chain.run(now, api, route)
        if verdict is not None:
            self._answer(ctx, src, req.id, ApiReply(verdict[0], verdict[1]))
            return
        ex = None
        chain = chain_for(self.config.global_filters, route)
        if chain:
            ex = Exchange(api, route, now, metrics=self.metrics)
            refusal = run_pre(chain, ex, now)
            if refusal is not None:
                self._answer(ctx, src, req.id, refusal, ex)
                return
            api = ex.request
        if route.cache_ttl_ms > 0:
            hit, value = self.cache.get(api, now, route.cache_ttl_ms)
            if hit:
                self._answer(ctx, src, req.id, ApiReply(200, value[0], value[1], value[2],
                                                         cached=True), ex)
                return
        breaker = self.breakers.get(route.service)
        if breaker is not None and not breaker.allow(now):
            self._fallback(ctx, src, req.id, ex)
            return
        if not self.instances_of(route.service):
            self._answer(ctx, src, req.id, ApiReply(503, "no instance"), ex)
            return
        job = _Job(src, req.id, api, route, now, exchange=ex)
        if self.inflight < self.config.max_concurrent:
            self._dispatch(ctx, job)
        elif len(self.queue) < self.config.queue_limit:
            self.queue.append(job)
        else:
            self._answer(ctx, src, req.id, ApiReply(503, "gateway busy"), ex)

    def _fallback(self, ctx: Context, client: str, rid: int, ex: Exchange | None = None) -> None:
        if self.config.fallback:
            self._answer(ctx, client, rid, ApiReply(200, FALLBACK_BODY, fallback=True), ex)
        else:
            self._answer(ctx, client, rid, ApiReply(503, "circuit open"), ex)

    def _dispatch(self, ctx: Context, job: _Job) -> None:
        self.inflight += 1
        self._send(ctx, job)

    def _send(self, ctx: Context, job: _Job) -> None:
        service = job.route.service
        rule = self.canary.get(service)
        version = rule.version(job.request, ctx.rng) if rule is not None else None
        candidates = self.instances_of(service, version)
        if not candidates:  # every instance left while this request waited
            self._answer(ctx, job.client, job.rid, ApiReply(503, "no instance"), job.exchange)
            self._finish(ctx)
            return
        fresh = [i for i in candidates if i not in job.tried]
        instance = self.balancer.pick(fresh or candidates, ctx.rng, self.pending)
        job.tried.append(instance)
        self._next_call += 1
        cid = self._next_call
        self.calls[cid] = (job, instance, version or "")
        self.pending[instance] += 1
        self.stats["backend_calls"] += 1
        ctx.send(instance, BackendCall(cid, job.request))
        ctx.set_timer(f"call/{cid}", float(self.config.timeout_ms))

    def _reply(self, ctx: Context, msg: BackendReply) -> None:
        entry = self.calls.pop(msg.call_id, None)
        if entry is None:
            self.stats["late_replies"] += 1
            return
        job, instance, _ = entry
        ctx.cancel_timer(f"call/{msg.call_id}")
        self.pending[instance] -= 1
        now = ctx.now()
        breaker = self.breakers.get(job.route.service)
        if breaker is not None:
            breaker.record(now, msg.ok)
        if msg.ok:
            if job.route.cache_ttl_ms > 0:
                self.cache.put(job.request, now, (msg.body, instance, msg.version))
            self._answer(ctx, job.client, job.rid, ApiReply(200, msg.body, instance, msg.version),
                         job.exchange)
        else:
            self._answer(ctx, job.client, job.rid, ApiReply(500, msg.body, instance, msg.version),
                         job.exchange)
        self._finish(ctx)

    def _timeout(self, ctx: Context, cid: int) -> None:
        entry = self.calls.pop(cid, None)
        if entry is None:
            return
        job, instance, _ = entry
        self.pending[instance] -= 1
        self.stats["timeouts"] += 1
        now = ctx.now()
        breaker = self.breakers.get(job.route.service)
        if breaker is not None:
            breaker.record(now, False)
        if len(job.tried) <= self.config.retries and (breaker is None or breaker.allow(now)):
            self.stats["retries"] += 1
            self._send(ctx, job)  # keeps its slot
            return
        if breaker is not None:
            self._fallback(ctx, job.client, job.rid, job.exchange)
        else:
            self._answer(ctx, job.client, job.rid, ApiReply(504, "gateway timeout", instance),
                         job.exchange)
        self._finish(ctx)

    def _finish(self, ctx: Context) -> None:
        self.inflight -= 1
        now = ctx.now()
        while self.queue and self.inflight < self.config.max_concurrent:
            job = self.queue.popleft()
            if now - job.arrived > self.config.timeout_ms:
                self._answer(ctx, job.client, job.rid, ApiReply(503, "queue timeout"),
                             job.exchange)
                continue
            self._dispatch(ctx, job)


class Backend(Handler):
    """One instance of a backend service, version ``version``.

    Each call takes ``service_ms`` (plus up to ``jitter_ms``, uniform) and fails with probability
    ``error_rate`` (an application error: ``ok=False``, the gateway answers 500). If
    ``data_period_ms`` is set the body is the *data version* ``floor(now / data_period_ms)``: the
    service's data changes every period, which is what makes a cached answer stale.

    With ``registry`` set, the instance registers itself there when it starts (``Register``) and
    :meth:`leave` deregisters it (a graceful shutdown starts with that); it keeps serving the
    calls that still arrive. Both are resent every ``retry_ms`` until the registry acknowledges
    them, so a lost message only delays them.
    """

    def __init__(self, service: str, version: str = "v1", *, service_ms: float = 5.0,
                 jitter_ms: float = 0.0, error_rate: float = 0.0,
                 data_period_ms: float | None = None, registry: str | None = None,
                 retry_ms: float = 100.0) -> None:
        self.service = check_type("service", service, str)
        self.version = check_type("version", version, str)
        self.service_ms = check_number("service_ms", service_ms, min=0)
        self.jitter_ms = check_number("jitter_ms", jitter_ms, min=0)
        self.error_rate = check_probability("error_rate", error_rate)
        if data_period_ms is not None:
            check_number("data_period_ms", data_period_ms, min=0, min_inclusive=False)
        self.data_period_ms = data_period_ms
        if registry is not None:
            check_type("registry", registry, str)
        self.registry = registry
        self.retry_ms = check_number("retry_ms", retry_ms, min=0, min_inclusive=False)
        self.work: dict[str, tuple[str, int, str]] = {}
        self.served = 0
        self.announce: Register | Deregister | None = None  # until the registry acknowledges

    def on_start(self, ctx: Context) -> None:
        if self.registry is not None:
            self._announce(ctx, Register(self.service, ctx.node, ack=True))

    def leave(self, ctx: Context) -> None:
        """Deregister from the registry (call through ``Sim.call_handler``)."""
        if self.registry is None:
            raise ValueError(f"instance {ctx.node!r} has registry=None; nothing to leave")
        ctx.log("deregistered", instance=ctx.node)
        self._announce(ctx, Deregister(self.service, ctx.node))

    def _announce(self, ctx: Context, msg: Register | Deregister) -> None:
        self.announce = msg
        ctx.send(str(self.registry), msg)
        ctx.set_timer("announce", float(self.retry_ms))

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, (Registered, Deregistered)):
            if (isinstance(msg, Registered) and isinstance(self.announce, Register)) or (
                    isinstance(msg, Deregistered) and isinstance(self.announce, Deregister)):
                self.announce = None
                ctx.cancel_timer("announce")
        elif isinstance(msg, BackendCall):
            name = f"work/{src}/{msg.call_id}"
            self.work[name] = (src, msg.call_id, msg.request.path)
            delay = self.service_ms + (ctx.rng.uniform(0, self.jitter_ms) if self.jitter_ms else 0)
            ctx.set_timer(name, float(delay))

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == "announce":
            if self.announce is not None:
                self._announce(ctx, self.announce)
            return
        src, cid, path = self.work.pop(name)
        self.served += 1
        ok = ctx.rng.random() >= self.error_rate
        if self.data_period_ms is not None:
            body: Any = math.floor(ctx.now() / self.data_period_ms)
        else:
            body = f"{self.service}@{ctx.node}"
        ctx.send(src, BackendReply(cid, ok, body if ok else "internal error", self.version, path))
