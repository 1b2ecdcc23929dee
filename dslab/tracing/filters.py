"""Where tracing plugs into :mod:`dslab.rpc`: a client filter and a server filter.

Rules:

- :class:`TracingClientFilter` (on an :class:`~dslab.rpc.RpcClient`): at the root it picks the
  trace id and the sampling decision (probability ``sample_rate``, from the client's stream),
  creates the span, injects the context into the request headers, and records ``cs`` / ``cr``.
- :class:`TracingServerFilter` (on an :class:`~dslab.rpc.RpcServer`): extracts the context
  (``sr`` on arrival, ``ss`` when replying), and for each downstream call the server makes creates
  a child span, injects it, and records that call's ``cs`` / ``cr``.
- Only sampled spans are recorded and reported; recording a span costs ``span_cost_ms`` of server
  time (Dapper's measured overhead, exaggerated so it shows). Parts go to the collector through
  a reporter: one message each (:class:`~dslab.tracing.reporter.DirectReporter`) or buffered
  and compressed in batches (:class:`~dslab.tracing.reporter.BatchReporter`).
- ``span_ids="hierarchical"``: MTrace's span ids that spell the path in the tree. The root is
  ``0``; the ``n``-th call made while serving span ``s`` is ``s.n`` (``0.1``, ``0.2``, ``0.2.1``),
  so the parent, the depth and the order among siblings can be read off the id
  (:func:`parent_of`). They are unique within a trace, not across traces.
- ``propagation``: where the context of a downstream call comes from. ``"request"``: the
  request's own context (what a thread-per-request server gets from its thread-local). The other
  values hand each call to a pool of ``async_threads`` reused threads and apply the rules of
  :mod:`dslab.tracing.simthreads`; a call that finds no context there starts a new trace, which
  is what a traced client library does.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import Any

from dslab._validate import check_choice, check_number, check_probability
from dslab.core import Context
from dslab.rpc.filters import Filter, Proceed
from dslab.rpc.messages import Invocation
from dslab.rpc.server import Job, ServerFilter
from dslab.sim.world import RpcResult
from dslab.tracing.context import TraceContext, new_id
from dslab.tracing.reporter import BatchReporter, DirectReporter
from dslab.tracing.simthreads import MODES, SimThreadPool
from dslab.tracing.span import SpanPart, SpanReport

SPAN_ID_STYLES = ("random", "hierarchical")
PROPAGATION = ("request", *MODES)


def child_span_id(parent_span_id: str, n: int) -> str:
    """MTrace's hierarchical span id: the ``n``-th call made while serving ``parent_span_id``."""
    return f"{parent_span_id}.{n}"


def parent_of(span_id: str) -> str | None:
    """The parent of a hierarchical span id, read off the id itself (``None`` for the root)."""
    head, dot, _ = span_id.rpartition(".")
    return head if dot else None


class TracingClientFilter(Filter):
    def __init__(
        self, collector: str, sample_rate: float = 1.0, *, span_ids: str = "random"
    ) -> None:
        self.collector = collector
        self.sample_rate = check_probability("sample_rate", sample_rate)
        self.span_ids = check_choice("span_ids", span_ids, SPAN_ID_STYLES)
        self.sampled = 0
        self.roots = 0

    def invoke(self, client: Any, call: Any, proceed: Proceed) -> Generator[Any, Any, RpcResult]:
        self.roots += 1
        sampled = client.rng.random() < self.sample_rate
        self.sampled += sampled
        if self.span_ids == "hierarchical":
            tc = TraceContext(new_id(client.rng), "0", None, sampled)
        else:
            tc = TraceContext(new_id(client.rng), new_id(client.rng), None, sampled)
        cs = client.env.now
        result = yield from proceed(replace(call, headers=tc.inject(call.headers)))
        if sampled:
            part = SpanPart(
                tc.trace_id,
                tc.span_id,
                None,
                f"{call.iface.__name__}.{call.method}",
                "client",
                client.name,
                (("cs", cs), ("cr", client.env.now)),
                (("outcome", result.type),),
            )
            client.sim.net.send(client.name, self.collector, SpanReport(part))
        return result


class TracingServerFilter(ServerFilter):
    """One per server node (it keeps that node's reporter buffer and async threads)."""

    def __init__(
        self,
        collector: str,
        span_cost_ms: float = 0.0,
        *,
        span_ids: str = "random",
        propagation: str = "request",
        async_threads: int = 2,
        reporter: DirectReporter | BatchReporter | None = None,
    ) -> None:
        self.collector = collector
        self.span_cost_ms = check_number("span_cost_ms", span_cost_ms, min=0)
        self.span_ids = check_choice("span_ids", span_ids, SPAN_ID_STYLES)
        self.propagation = check_choice("propagation", propagation, PROPAGATION)
        self.pool = SimThreadPool(async_threads, propagation) if propagation != "request" else None
        self.reporter = reporter if reporter is not None else DirectReporter(collector)
        self.calls_made: dict[tuple[str, str], int] = {}
        self.new_traces = 0  # downstream calls that found no context and started a trace

    def on_timer(self, ctx: Context, name: str) -> None:
        self.reporter.on_timer(ctx, name)

    def on_request(self, ctx: Context, job: Job) -> str | None:
        tc = TraceContext.extract(job.inv.headers)
        if tc is not None and tc.sampled:
            job.meta["trace"] = tc
            job.meta["sr"] = ctx.now()
            job.extra_ms += self.span_cost_ms
        return None

    def _child(self, ctx: Context, parent: TraceContext) -> TraceContext:
        if self.span_ids == "hierarchical":
            key = (parent.trace_id, parent.span_id)
            self.calls_made[key] = n = self.calls_made.get(key, 0) + 1
            return TraceContext(
                parent.trace_id, child_span_id(parent.span_id, n), parent.span_id, True
            )
        return TraceContext(parent.trace_id, new_id(ctx.rng), parent.span_id, True)

    def _on_pool_thread(self, ctx: Context, slots: dict[str, Any]) -> TraceContext:
        """What an instrumented client does on the thread that makes the call."""
        current: TraceContext | None = slots.get("trace")
        if current is None:  # no context on this thread: start a new trace, and make it current
            self.new_traces += 1
            root_id = "0" if self.span_ids == "hierarchical" else new_id(ctx.rng)
            current = TraceContext(new_id(ctx.rng), root_id, None, True)
            slots["trace"] = current
            return current
        return self._child(ctx, current)

    def on_downstream(self, ctx: Context, job: Job, inv: Invocation) -> Invocation:
        tc: TraceContext | None = job.meta.get("trace")
        if tc is None:
            return inv
        if self.pool is None:
            child = self._child(ctx, tc)
        else:
            child = self.pool.run({"trace": tc}, lambda slots: self._on_pool_thread(ctx, slots))
        job.meta.setdefault("child_cs", {})[inv.call_id] = (child, ctx.now())
        return replace(inv, headers=child.inject(inv.headers))

    def on_downstream_reply(self, ctx: Context, job: Job, inv: Invocation, ok: bool) -> None:
        entry = job.meta.get("child_cs", {}).get(inv.call_id)
        if entry is None:
            return
        child, cs = entry
        peer = job.meta.get("peers", {}).get(inv.call_id, "?")
        part = SpanPart(
            child.trace_id,
            child.span_id,
            child.parent_id,
            f"{inv.service}.{inv.method}",
            "client",
            ctx.node,
            (("cs", cs), ("cr", ctx.now())),
            (("outcome", "ok" if ok else "fail"), ("peer", peer)),
        )
        self.reporter.report(ctx, part)

    def on_reply(self, ctx: Context, job: Job, ok: bool) -> None:
        tc: TraceContext | None = job.meta.get("trace")
        if tc is None:
            return
        part = SpanPart(
            tc.trace_id,
            tc.span_id,
            tc.parent_id,
            f"{job.inv.service}.{job.inv.method}",
            "server",
            ctx.node,
            (("sr", job.meta["sr"]), ("ss", ctx.now())),
            (("node", ctx.node), ("outcome", "ok" if ok else "fail")),
        )
        self.reporter.report(ctx, part)


__all__ = [
    "PROPAGATION",
    "SPAN_ID_STYLES",
    "TracingClientFilter",
    "TracingServerFilter",
    "child_span_id",
    "new_id",
    "parent_of",
]
