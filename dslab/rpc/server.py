"""The server side: server filters, a bounded worker pool, a service-time model per method.

Rules (the notes' 执行过程, steps 6-12; a sans-I/O :class:`~dslab.core.Handler`):

1. A :class:`~dslab.core.Request` carrying an :class:`~dslab.rpc.messages.Invocation` arrives.
2. Server filters (:class:`ServerFilter`: auth, rate limit, tracing) look at it first; a filter
   that refuses answers with a *definite* failure (``unauthenticated``, ``rate_limited``). (Pigeon
   runs its filters once a worker thread is taken; running them at admission spares a queue slot.)
3. The payload is decoded; a schema version mismatch is a definite ``schema_mismatch``, an unknown
   method a definite ``no_such_method``, a frame failing its checksum ``corrupt_frame``, bytes
   that do not parse ``bad_payload``.
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
7. **Thread pools** (Pigeon's 服务隔离, steps 7-9). Besides the ``shared`` pool (``workers``,
   ``queue``) a server may have named pools (``pools={"name": (workers, queue)}``):
   ``method_pools`` gives a method its own pool (业务自定义独立线程池); with ``isolation`` (a
   :class:`~dslab.rpc.isolation.SlowRequestIsolation`) a method that keeps timing out is sent
   to the ``slow`` pool until it is healthy again (慢请求隔离).
8. **Method thread cap** (方法限流): ``method_threads={"m": x}`` lets method ``m`` hold at most
   ``x`` places (running or queued) in the shared pool; one more is refused with the definite
   error ``method_limited``, so one method cannot take every thread.
9. Downstream calls run in parallel; :class:`Sequential` runs them one after another instead,
   each step skipped unless its ``when(results)`` holds (a cache lookup, then the database on a
   miss). Filters see every downstream call (``on_downstream``) and reply.
10. Filters get the server's start and their own timers (``filter/...``): a tracing reporter
    flushes its buffer on one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_choice, check_number, check_type
from dslab.core import Context, Handler, Request, Response
from dslab.rpc.codec import Codec, CorruptFrame, SchemaMismatch
from dslab.rpc.interface import Service, remote_methods
from dslab.rpc.isolation import SlowRequestIsolation
from dslab.rpc.messages import Invocation, Reply
from dslab.sim.latency import Constant, Latency, as_latency


@dataclass(frozen=True)
class Downstream:
    """A call a method makes to another server: ``node`` runs ``iface.method(**args)``.

    ``args`` may be a function of the request's arguments and the results of the earlier steps
    (``args(request_args, results)``); ``when(results)`` decides whether a :class:`Sequential`
    step runs (``results`` maps the index of each step that ran to its value, ``None`` if failed).
    """

    node: str
    iface: type[Service]
    method: str
    args: Mapping[str, Any] | Callable[[dict[str, Any], dict[int, Any]], Mapping[str, Any]] = field(
        default_factory=dict
    )
    when: Callable[[dict[int, Any]], bool] | None = None

    def call_args(self, request_args: dict[str, Any], results: dict[int, Any]) -> dict[str, Any]:
        return dict(self.args(request_args, results) if callable(self.args) else self.args)


@dataclass(frozen=True)
class Sequential:
    """Downstream calls made one after another (see rule 9)."""

    steps: tuple[Downstream, ...]

    def __init__(self, *steps: Downstream) -> None:
        for i, d in enumerate(steps):
            check_type(f"steps[{i}]", d, Downstream)
        object.__setattr__(self, "steps", tuple(steps))


@dataclass
class WorkerPool:
    """``workers`` threads and a FIFO queue of ``queue`` places."""

    name: str
    workers: int
    queue_cap: int
    busy: int = 0
    waiting: deque = field(default_factory=deque)
    served: int = 0
    rejected: int = 0


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
    pool: str = "shared"
    counted: int = -1  # the last isolation window that counted this request as a timeout


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

    def on_start(self, ctx: Context) -> None:
        """The server (re)started."""

    def on_timer(self, ctx: Context, name: str) -> None:
        """A timer named ``filter/...`` fired (every filter sees it; each checks the name)."""


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
        downstream: Mapping[str, Sequence[Downstream] | Sequential] | None = None,
        pools: Mapping[str, tuple[int, int]] | None = None,
        method_pools: Mapping[str, str] | None = None,
        method_threads: Mapping[str, int] | None = None,
        isolation: SlowRequestIsolation | None = None,
    ) -> None:
        self.methods = remote_methods(iface)
        self.iface = iface
        self.impl = iface()
        self.workers = check_number("workers", workers, min=1, integer=True)
        self.queue_cap = check_number("queue", queue, min=0, integer=True)
        if isinstance(service_ms, Mapping):
            self._check_methods("service_ms", service_ms)
            self.service = {
                m: as_latency(service_ms.get(m, Constant(1.0)), f"service_ms[{m!r}]")
                for m in self.methods
            }
        else:
            lat = as_latency(service_ms, "service_ms")
            self.service = dict.fromkeys(self.methods, lat)
        self.filters = list(filters)
        for i, f in enumerate(self.filters):
            check_type(f"filters[{i}]", f, ServerFilter)
        self.codec = codec if codec is not None else Codec()
        self.dedupe = check_type("dedupe", dedupe, bool)
        self.downstream: dict[str, tuple[Downstream, ...] | Sequential] = {
            m: (d if isinstance(d, Sequential) else tuple(d)) for m, d in (downstream or {}).items()
        }
        self.pools = {"shared": WorkerPool("shared", workers, queue)}
        for name, spec in sorted((pools or {}).items()):
            if name == "shared" or not (isinstance(spec, tuple) and len(spec) == 2):
                raise ValueError(
                    f"pools[{name!r}]={spec!r}: give each extra pool a new name and a "
                    "(workers, queue) pair"
                )
            w = check_number(f"pools[{name!r}] workers", spec[0], min=1, integer=True)
            q = check_number(f"pools[{name!r}] queue", spec[1], min=0, integer=True)
            self.pools[name] = WorkerPool(name, w, q)
        self.method_pools = dict(method_pools or {})
        self._check_methods("method_pools", self.method_pools)
        for m, p in self.method_pools.items():
            check_choice(f"method_pools[{m!r}]", p, sorted(self.pools))
        self.method_threads = dict(method_threads or {})
        self._check_methods("method_threads", self.method_threads)
        for m, x in self.method_threads.items():
            check_number(f"method_threads[{m!r}]", x, min=1, integer=True)
        if isolation is not None:
            check_type("isolation", isolation, SlowRequestIsolation)
            if "slow" not in self.pools:
                raise ValueError("isolation needs a 'slow' pool: pools={'slow': (workers, queue)}")
        self.isolation = isolation
        self.window_no = 0
        self.in_shared: dict[str, int] = {}  # per method: places held in the shared pool (rule 8)
        self.running: dict[int, Job] = {}
        self.by_child: dict[int, Job] = {}
        self.applied: dict[str, Any] = {}
        self.next_key = 0
        self.stats = {
            "accepted": 0,
            "rejected": 0,
            "refused": 0,
            "method_limited": 0,
            "applied": 0,
            "completed": 0,
            "deduplicated": 0,
        }

    def _check_methods(self, param: str, mapping: Mapping[str, Any]) -> None:
        for m in mapping:
            if m not in self.methods:
                known = sorted(self.methods)
                raise ValueError(f"{param} has method {m!r}, not in {self.iface.__name__}: {known}")

    # the shared pool under its historical names
    @property
    def busy(self) -> int:
        return self.pools["shared"].busy

    @property
    def waiting(self) -> deque[Job]:
        return self.pools["shared"].waiting

    # -- input -----------------------------------------------------------------------------------
    def on_start(self, ctx: Context) -> None:
        if self.isolation is not None:
            ctx.set_timer("isolation", self.isolation.window_ms)
        for f in self.filters:
            f.on_start(ctx)

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

    def pool_for(self, method: str) -> str:
        """The pool a new request of ``method`` goes to (rules 7 and 8)."""
        if method in self.method_pools:
            return self.method_pools[method]
        if self.isolation is not None and self.isolation.is_isolated(method):
            return "slow"
        return "shared"

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
        except CorruptFrame:
            self._fail(ctx, src, msg.id, "corrupt_frame", job)
            return
        except (ValueError, TypeError):  # bytes that do not parse (no checksum caught them)
            self._fail(ctx, src, msg.id, "bad_payload", job)
            return
        if inv.method not in self.methods or inv.service != self.iface.__name__:
            self._fail(ctx, src, msg.id, "no_such_method", job)
            return
        try:
            self.methods[inv.method].signature.bind(**job.args)
        except TypeError:  # arguments the method does not take (for example a corrupted name)
            self._fail(ctx, src, msg.id, "bad_payload", job)
            return
        if self.dedupe and inv.call_id in self.applied:  # a retry of a call already applied
            self.stats["deduplicated"] += 1
            job.started = job.arrived
            job.value = self.applied[inv.call_id]
            self._reply(ctx, job)
            return
        if self.isolation is not None:
            self.isolation.arrive(inv.method)
        job.pool = self.pool_for(inv.method)
        pool = self.pools[job.pool]
        cap = self.method_threads.get(inv.method)
        if job.pool == "shared" and cap is not None and self.in_shared.get(inv.method, 0) >= cap:
            self.stats["method_limited"] += 1
            self._fail(ctx, src, msg.id, "method_limited", job)
            return
        if pool.busy < pool.workers:
            self._admit(job)
            self._start(ctx, job)
        elif len(pool.waiting) < pool.queue_cap:
            self._admit(job)
            pool.waiting.append(job)
        else:
            self.stats["rejected"] += 1
            pool.rejected += 1
            self._fail(ctx, src, msg.id, "overloaded", job)

    def _admit(self, job: Job) -> None:
        self.stats["accepted"] += 1
        if job.pool == "shared":
            self.in_shared[job.inv.method] = self.in_shared.get(job.inv.method, 0) + 1

    # -- the worker pools ------------------------------------------------------------------------
    def _start(self, ctx: Context, job: Job) -> None:
        self.pools[job.pool].busy += 1
        job.started = ctx.now()
        self.running[job.key] = job
        delay = self.service[job.inv.method].sample(ctx.rng) + job.extra_ms
        ctx.set_timer(f"svc/{job.key}", float(delay))

    def on_timer(self, ctx: Context, name: str) -> None:
        kind, _, key = name.partition("/")
        if kind == "isolation":
            self._end_window(ctx)
            return
        if kind != "svc":
            for f in self.filters:
                f.on_timer(ctx, name)
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
        if isinstance(calls, Sequential):
            job.meta["seq"] = (calls.steps, 0, {})
            self._next_step(ctx, job)
            return
        if not calls:
            self._finish(ctx, job)
            return
        for d in calls:
            self._call(ctx, job, d, {})

    def _call(self, ctx: Context, job: Job, d: Downstream, results: dict[int, Any]) -> None:
        self.next_key += 1
        payload = self.codec.encode(
            d.iface.__name__, d.iface.version, d.call_args(job.args, results)
        )
        child = Invocation(d.iface.__name__, d.method, payload, f"{ctx.node}:{self.next_key}")
        job.meta.setdefault("peers", {})[child.call_id] = d.node
        for f in self.filters:
            child = f.on_downstream(ctx, job, child)
        job.pending[self.next_key] = d
        job.meta.setdefault("children", {})[self.next_key] = child
        self.by_child[self.next_key] = job
        ctx.send(d.node, Request(self.next_key, child))

    def _next_step(self, ctx: Context, job: Job) -> None:
        steps, i, results = job.meta["seq"]
        while i < len(steps) and steps[i].when is not None and not steps[i].when(results):
            i += 1
        if i == len(steps):
            self._finish(ctx, job)
            return
        job.meta["seq"] = (steps, i, results)
        self._call(ctx, job, steps[i], results)

    def _downstream_reply(self, ctx: Context, msg: Response) -> None:
        job = self.by_child.pop(msg.id, None)
        if job is None or job.key not in self.running:
            return
        d = job.pending.pop(msg.id, None)
        child = job.meta["children"][msg.id]
        for f in self.filters:
            f.on_downstream_reply(ctx, job, child, msg.ok)
        if "seq" in job.meta and d is not None:
            steps, i, results = job.meta["seq"]
            value = None
            if msg.ok and isinstance(msg.body, Reply):
                try:
                    value = self.codec.decode(msg.body.payload, d.iface.__name__, d.iface.version)
                except (ValueError, TypeError):  # an unreadable reply counts as a failed step
                    value = None
            results[i] = value
            job.meta["seq"] = (steps, i + 1, results)
            self._next_step(ctx, job)
        elif not job.pending:
            self._finish(ctx, job)

    def _reply(self, ctx: Context, job: Job) -> None:
        payload = self.codec.encode(self.iface.__name__, self.iface.version, job.value)
        now = ctx.now()
        for f in self.filters:
            f.on_reply(ctx, job, True)
        self.stats["completed"] += 1
        reply = Reply(payload, queue_ms=job.started - job.arrived, service_ms=now - job.started)
        ctx.send(job.src, Response(job.rid, True, reply))

    def _finish(self, ctx: Context, job: Job) -> None:
        del self.running[job.key]
        self._reply(ctx, job)
        if self.isolation is not None and job.counted != self.window_no:
            self.isolation.record(job.inv.method, ctx.now() - job.started)
        if job.pool == "shared":
            self.in_shared[job.inv.method] -= 1
        pool = self.pools[job.pool]
        pool.busy -= 1
        pool.served += 1
        if pool.waiting:
            self._start(ctx, pool.waiting.popleft())

    def _end_window(self, ctx: Context) -> None:
        """Rule 1 of :mod:`dslab.rpc.isolation`: overdue running requests count now; then decide."""
        iso = self.isolation
        assert iso is not None
        now = ctx.now()
        for key in sorted(self.running):
            job = self.running[key]
            if job.counted != self.window_no and now - job.started > iso.timeout_ms:
                job.counted = self.window_no
                iso.record(job.inv.method, now - job.started)
        for method, to in iso.end_window(now):
            ctx.log("isolation", method=method, pool=to)
        self.window_no += 1
        ctx.set_timer("isolation", iso.window_ms)


def server(iface: type[Service], **kwargs: Any) -> Callable[[], RpcServer]:
    """A factory for ``sim.add_node(name, server(KV, workers=2))``; checks arguments at once."""
    RpcServer(iface, **kwargs)  # validate now, not at boot inside the simulator
    return lambda: RpcServer(iface, **kwargs)
