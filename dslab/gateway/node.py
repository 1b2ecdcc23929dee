"""The gateway node (a :class:`dslab.core.Handler`) and the backend service instances behind it.

A request's path through :class:`Gateway` (request forwarding + request filtering, the notes'
"请求转发 + 请求过滤"):

1. **route** (:mod:`~dslab.gateway.routing`): the longest matching prefix names the service;
   none matches: 404.
2. **pre-filters** (:mod:`~dslab.gateway.filters`), in order: log, auth (401), validate (400),
   rate limit (429). Each refusal is definite: no backend saw the request.
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

A late ``BackendReply`` (after its timeout) is counted and dropped.
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
from dslab.gateway.breaker import CircuitBreaker
from dslab.gateway.cache import TtlCache
from dslab.gateway.filters import FILTERS, FilterChain
from dslab.gateway.limiters import RateLimiter
from dslab.gateway.messages import ApiReply, ApiRequest, BackendCall, BackendReply
from dslab.gateway.routing import Route, RouteTable

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

    def __post_init__(self) -> None:
        object.__setattr__(self, "routes", tuple(self.routes))
        object.__setattr__(self, "instances", tuple(tuple(i) for i in self.instances))
        object.__setattr__(self, "tokens", tuple(self.tokens))
        object.__setattr__(self, "filters", tuple(self.filters))
        object.__setattr__(self, "canary", tuple(self.canary))
        table = RouteTable(self.routes)
        known = {s for s, _, _ in self.instances}
        for r in table.routes:
            if r.service not in known:
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
            CircuitBreaker(**self.breaker)  # validates the parameters
        for i, rule in enumerate(self.canary):
            check_type(f"canary[{i}]", rule, CanaryRule)


@dataclass
class _Job:
    client: str
    rid: int
    request: ApiRequest
    route: Route
    arrived: float
    tried: list[str] = field(default_factory=list)


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
            s: CircuitBreaker(**config.breaker) for s in self.table.services
        } if config.breaker is not None else {}
        self.canary = {rule.service: rule for rule in config.canary}
        self.calls: dict[int, tuple[_Job, str, str]] = {}
        self.pending: Counter[str] = Counter()
        self.queue: deque[_Job] = deque()
        self.inflight = 0
        self.stats: Counter[str] = Counter()
        self._next_call = 0

    # -- entry points ---------------------------------------------------------------------------
    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self._request(ctx, src, msg)
        elif isinstance(msg, BackendReply):
            self._reply(ctx, msg)

    def on_timer(self, ctx: Context, name: str) -> None:
        if name.startswith("call/"):
            self._timeout(ctx, int(name[5:]))

    # -- steps ------------------------------------------------------------------------------------
    def _answer(self, ctx: Context, client: str, rid: int, reply: ApiReply) -> None:
        self.stats[f"status:{reply.status}"] += 1
        ok = reply.status == 200
        ctx.send(client, Response(rid, ok, reply, None if ok else str(reply.status)))

    def _request(self, ctx: Context, src: str, req: Request) -> None:
        now = ctx.now()
        api = req.body
        if not isinstance(api, ApiRequest):
            self._answer(ctx, src, req.id, ApiReply(400, "not an ApiRequest"))
            return
        route = self.table.match(api.path)
        if route is None:
            self._answer(ctx, src, req.id, ApiReply(404, "no route"))
            return
        verdict = self.chain.run(now, api, route)
        if verdict is not None:
            self._answer(ctx, src, req.id, ApiReply(verdict[0], verdict[1]))
            return
        if route.cache_ttl_ms > 0:
            hit, value = self.cache.get(api, now, route.cache_ttl_ms)
            if hit:
                self._answer(ctx, src, req.id, ApiReply(200, value[0], value[1], value[2],
                                                         cached=True))
                return
        breaker = self.breakers.get(route.service)
        if breaker is not None and not breaker.allow(now):
            self._fallback(ctx, src, req.id)
            return
        job = _Job(src, req.id, api, route, now)
        if self.inflight < self.config.max_concurrent:
            self._dispatch(ctx, job)
        elif len(self.queue) < self.config.queue_limit:
            self.queue.append(job)
        else:
            self._answer(ctx, src, req.id, ApiReply(503, "gateway busy"))

    def _fallback(self, ctx: Context, client: str, rid: int) -> None:
        if self.config.fallback:
            self._answer(ctx, client, rid, ApiReply(200, FALLBACK_BODY, fallback=True))
        else:
            self._answer(ctx, client, rid, ApiReply(503, "circuit open"))

    def _dispatch(self, ctx: Context, job: _Job) -> None:
        self.inflight += 1
        self._send(ctx, job)

    def _send(self, ctx: Context, job: _Job) -> None:
        service = job.route.service
        rule = self.canary.get(service)
        version = rule.version(job.request, ctx.rng) if rule is not None else None
        candidates = [i for s, i, v in self.config.instances
                      if s == service and (version is None or v == version)]
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
            self._answer(ctx, job.client, job.rid, ApiReply(200, msg.body, instance, msg.version))
        else:
            self._answer(ctx, job.client, job.rid, ApiReply(500, msg.body, instance, msg.version))
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
            self._fallback(ctx, job.client, job.rid)
        else:
            self._answer(ctx, job.client, job.rid, ApiReply(504, "gateway timeout", instance))
        self._finish(ctx)

    def _finish(self, ctx: Context) -> None:
        self.inflight -= 1
        now = ctx.now()
        while self.queue and self.inflight < self.config.max_concurrent:
            job = self.queue.popleft()
            if now - job.arrived > self.config.timeout_ms:
                self._answer(ctx, job.client, job.rid, ApiReply(503, "queue timeout"))
                continue
            self._dispatch(ctx, job)


class Backend(Handler):
    """One instance of a backend service, version ``version``.

    Each call takes ``service_ms`` (plus up to ``jitter_ms``, uniform) and fails with probability
    ``error_rate`` (an application error: ``ok=False``, the gateway answers 500). If
    ``data_period_ms`` is set the body is the *data version* ``floor(now / data_period_ms)``: the
    service's data changes every period, which is what makes a cached answer stale.
    """

    def __init__(self, service: str, version: str = "v1", *, service_ms: float = 5.0,
                 jitter_ms: float = 0.0, error_rate: float = 0.0,
                 data_period_ms: float | None = None) -> None:
        self.service = check_type("service", service, str)
        self.version = check_type("version", version, str)
        self.service_ms = check_number("service_ms", service_ms, min=0)
        self.jitter_ms = check_number("jitter_ms", jitter_ms, min=0)
        self.error_rate = check_probability("error_rate", error_rate)
        if data_period_ms is not None:
            check_number("data_period_ms", data_period_ms, min=0, min_inclusive=False)
        self.data_period_ms = data_period_ms
        self.work: dict[str, tuple[str, int]] = {}
        self.served = 0

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, BackendCall):
            name = f"work/{src}/{msg.call_id}"
            self.work[name] = (src, msg.call_id)
            delay = self.service_ms + (ctx.rng.uniform(0, self.jitter_ms) if self.jitter_ms else 0)
            ctx.set_timer(name, float(delay))

    def on_timer(self, ctx: Context, name: str) -> None:
        src, cid = self.work.pop(name)
        self.served += 1
        ok = ctx.rng.random() >= self.error_rate
        if self.data_period_ms is not None:
            body: Any = math.floor(ctx.now() / self.data_period_ms)
        else:
            body = f"{self.service}@{ctx.node}"
        ctx.send(src, BackendReply(cid, ok, body if ok else "internal error", self.version))
