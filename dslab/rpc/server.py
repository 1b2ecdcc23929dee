"""The server side: server filters, a bounded worker pool, a service-time model per method.

Rules (the notes' 执行过程, steps 6-12; a sans-I/O :class:`~dslab.core.Handler`):

1. A :class:`~dslab.core.Request` carrying an :class:`~dslab.rpc.messages.Invocation` arrives.
2. Server filters (:class:`ServerFilter`: auth, rate limit, tracing) look at it first; a filter
   that refuses answers with a *definite* failure (``unauthenticated``, ``rate_limited``). (Pigeon
   runs its filters once a worker thread is taken; running them at admission spares a queue slot.)
3. The payload is decoded; a schema version mismatch is a definite ``schema_mismatch``, an unknown
   method a definite ``no_such_method``.
4. The worker pool has ``workers`` threads and a queue of ``queue`` places. A request takes a free
   worker, or waits in the queue, or, if the queue is full, is **rejected** at once with the
   definite error ``overloaded`` (it will never run).
5. A worker spends a service time drawn from ``service_ms[method]`` (a latency distribution), then
   runs the method body on the service's state (the effect happens *here*, whether or not the
   client is still waiting), makes the method's ``downstream`` calls in parallel and waits for all
   their replies (the worker stays busy, as a blocking thread would), and replies.
6. With ``dedupe=True`` the server remembers each ``call_id`` it applied and answers a retry at
   once with the remembered result instead of applying again: that makes retries of non-idempotent
   methods safe.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_number, check_type
from dslab.core import Context, Handler, Request, Response
from dslab.rpc.codec import Codec, SchemaMismatch
from dslab.rpc.interface import Service, remote_methods
from dslab.rpc.messages import Invocation, Reply
from dslab.sim.latency import Constant, Latency, as_latency


@dataclass(frozen=True)
class Downstream:
    """A call a method makes to another server: ``node`` runs ``iface.method(**args)``."""

    node: str
    iface: type[Service]
    method: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    """One request inside the server (volatile: lost on a crash)."""

    key: int
    src: str
    rid: int
    inv: Invocation
    args: dict[str, Any]
    arrived: float
    started: float = 0.0
    value: Any = None
    pending: dict[int, Downstream] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    extra_ms: float = 0.0


class ServerFilter:
    """Hooks around a request on the server; the defaults do nothing."""

    def on_request(self, ctx: Context, job: Job) -> str | None:
        """Return an error string to refuse the request (a definite failure)."""
        return None

    def on_downstream(self, ctx: Context, job: Job, inv: Invocation) -> Invocation:
        return inv

    def on_downstream_reply(self, ctx: Context, job: Job, inv: Invocation, ok: bool) -> None:
        """A downstream call answered."""

    def on_reply(self, ctx: Context, job: Job, ok: bool) -> None:
        """The server is about to answer ``job``."""


class AuthFilter(ServerFilter):
    """Refuse requests whose ``token`` header is not in ``tokens`` (服务鉴权)."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = frozenset(tokens)

    def on_request(self, ctx: Context, job: Job) -> str | None:
        return None if job.inv.header("token") in self.tokens else "unauthenticated"


class RateLimitFilter(ServerFilter):
    """A token bucket (服务限流): ``rate_per_s`` requests per second, bursts up to ``burst``."""

    def __init__(self, rate_per_s: float, burst: int = 10) -> None:
        self.rate_per_ms = check_number("rate_per_s", rate_per_s, min=0, min_inclusive=False) / 1000
        self.burst = check_number("burst", burst, min=1, integer=True)
        self.tokens = float(burst)
        self.last: float | None = None

    def on_request(self, ctx: Context, job: Job) -> str | None:
        now = ctx.now()
        if self.last is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate_per_ms)
        self.last = now
        if self.tokens < 1.0:
            return "rate_limited"
        self.tokens -= 1.0
        return None


class RpcServer(Handler):
    """Serve ``iface`` (see the module rules). Build with :func:`server` for ``sim.add_node``."""

    def __init__(
        self,
        iface: type[Service],
        *,
        workers: int = 4,
        queue: int = 16,
        service_ms: Latency | float | Mapping[str, Latency | float] = 1.0,
        filters: Sequence[ServerFilter] = (),
        codec: Codec | None = None,
        dedupe: bool = False,
        downstream: Mapping[str, Sequence[Downstream]] | None = None,
    ) -> None:
        self.methods = remote_methods(iface)
        self.iface = iface
        self.impl = iface()
        self.workers = check_number("workers", workers, min=1, integer=True)
        self.queue_cap = check_number("queue", queue, min=0, integer=True)
        if isinstance(service_ms, Mapping):
            for m in service_ms:
                if m not in self.methods:
                    raise ValueError(
                        f"service_ms has method {m!r}, not in {iface.__name__}: "
                        f"{sorted(self.methods)}"
                    )
            self.service = {
                m: as_latency(service_ms.get(m, Constant(1.0)), f"service_ms[{m!r}]")
                for m in self.methods
            }
        else:
            lat = as_latency(service_ms, "service_ms")
            self.service = dict.fromkeys(self.methods, lat)
        self.filters = list(filters)
        self.codec = codec if codec is not None else Codec()
        self.dedupe = check_type("dedupe", dedupe, bool)
        self.downstream = {m: tuple(d) for m, d in (downstream or {}).items()}
        self.busy = 0
        self.waiting: deque[Job] = deque()
        self.running: dict[int, Job] = {}
        self.by_child: dict[int, Job] = {}
        self.applied: dict[str, Any] = {}
        self.next_key = 0
        self.stats = {
            "accepted": 0,
            "rejected": 0,
            "refused": 0,
            "applied": 0,
            "completed": 0,
            "deduplicated": 0,
        }

    # -- input -----------------------------------------------------------------------------------
    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Response):
            self._downstream_reply(ctx, msg)
        elif isinstance(msg, Request) and isinstance(msg.body, Invocation):
            self._request(ctx, src, msg)

    def _fail(self, ctx: Context, src: str, rid: int, error: str, job: Job | None = None) -> None:
        if job is not None:
            for f in self.filters:
                f.on_reply(ctx, job, False)
        ctx.send(src, Response(rid, ok=False, error=error))

    def _request(self, ctx: Context, src: str, msg: Request) -> None:
        inv: Invocation = msg.body
        self.next_key += 1
        job = Job(self.next_key, src, msg.id, inv, {}, ctx.now())
        for f in self.filters:
            err = f.on_request(ctx, job)
            if err is not None:
                self.stats["refused"] += 1
                self._fail(ctx, src, msg.id, err, job)
                return
        try:
            job.args = self.codec.decode(inv.payload, self.iface.__name__, self.iface.version)
        except SchemaMismatch:
            self._fail(ctx, src, msg.id, "schema_mismatch", job)
            return
        if inv.method not in self.methods or inv.service != self.iface.__name__:
            self._fail(ctx, src, msg.id, "no_such_method", job)
            return
        if self.dedupe and inv.call_id in self.applied:  # a retry of a call already applied
            self.stats["deduplicated"] += 1
            job.started = job.arrived
            job.value = self.applied[inv.call_id]
            self.busy += 1
            self.running[job.key] = job
            self._finish(ctx, job)
            return
        if self.busy < self.workers:
            self.stats["accepted"] += 1
            self._start(ctx, job)
        elif len(self.waiting) < self.queue_cap:
            self.stats["accepted"] += 1
            self.waiting.append(job)
        else:
            self.stats["rejected"] += 1
            self._fail(ctx, src, msg.id, "overloaded", job)

    # -- the worker pool ------------------------------------------------------------------------
    def _start(self, ctx: Context, job: Job) -> None:
        self.busy += 1
        job.started = ctx.now()
        self.running[job.key] = job
        delay = self.service[job.inv.method].sample(ctx.rng) + job.extra_ms
        ctx.set_timer(f"svc/{job.key}", float(delay))

    def on_timer(self, ctx: Context, name: str) -> None:
        kind, _, key = name.partition("/")
        if kind != "svc":
            return
        job = self.running[int(key)]
        inv = job.inv
        if self.dedupe and inv.call_id in self.applied:
            job.value = self.applied[inv.call_id]
        else:
            job.value = getattr(self.impl, inv.method)(**job.args)
            self.stats["applied"] += 1
            if self.dedupe:
                self.applied[inv.call_id] = job.value
        calls = self.downstream.get(inv.method, ())
        if not calls:
            self._finish(ctx, job)
            return
        for d in calls:
            self.next_key += 1
            payload = self.codec.encode(d.iface.__name__, d.iface.version, dict(d.args))
            child = Invocation(d.iface.__name__, d.method, payload, f"{ctx.node}:{self.next_key}")
            for f in self.filters:
                child = f.on_downstream(ctx, job, child)
            job.pending[self.next_key] = d
            job.meta.setdefault("children", {})[self.next_key] = child
            self.by_child[self.next_key] = job
            ctx.send(d.node, Request(self.next_key, child))

    def _downstream_reply(self, ctx: Context, msg: Response) -> None:
        job = self.by_child.pop(msg.id, None)
        if job is None or job.key not in self.running:
            return
        job.pending.pop(msg.id, None)
        child = job.meta["children"][msg.id]
        for f in self.filters:
            f.on_downstream_reply(ctx, job, child, msg.ok)
        if not job.pending:
            self._finish(ctx, job)

    def _finish(self, ctx: Context, job: Job) -> None:
        del self.running[job.key]
        payload = self.codec.encode(self.iface.__name__, self.iface.version, job.value)
        now = ctx.now()
        for f in self.filters:
            f.on_reply(ctx, job, True)
        self.stats["completed"] += 1
        reply = Reply(payload, queue_ms=job.started - job.arrived, service_ms=now - job.started)
        ctx.send(job.src, Response(job.rid, True, reply))
        self.busy -= 1
        if self.waiting:
            self._start(ctx, self.waiting.popleft())


def server(iface: type[Service], **kwargs: Any) -> Callable[[], RpcServer]:
    """A factory for ``sim.add_node(name, server(KV, workers=2))``; checks arguments at once."""
    RpcServer(iface, **kwargs)  # validate now, not at boot inside the simulator
    return lambda: RpcServer(iface, **kwargs)
