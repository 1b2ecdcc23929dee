"""Where tracing plugs into :mod:`dslab.rpc`: a client filter and a server filter.

Rules:

- :class:`TracingClientFilter` (on an :class:`~dslab.rpc.RpcClient`): at the root it picks the
  trace id and the sampling decision (probability ``sample_rate``, from the client's stream),
  creates the span, injects the context into the request headers, and records ``cs`` / ``cr``.
- :class:`TracingServerFilter` (on an :class:`~dslab.rpc.RpcServer`): extracts the context
  (``sr`` on arrival, ``ss`` when replying), and for each downstream call the server makes creates
  a child span, injects it, and records that call's ``cs`` / ``cr``.
- Only sampled spans are recorded and reported; recording a span costs ``span_cost_ms`` of server
  time (Dapper's measured overhead, exaggerated so it shows), and each report is one message.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import Any

from dslab._validate import check_number, check_probability
from dslab.core import Context
from dslab.rpc.filters import Filter, Proceed
from dslab.rpc.messages import Invocation
from dslab.rpc.server import Job, ServerFilter
from dslab.sim.world import RpcResult
from dslab.tracing.context import TraceContext, new_id
from dslab.tracing.span import SpanPart, SpanReport


class TracingClientFilter(Filter):
    def __init__(self, collector: str, sample_rate: float = 1.0) -> None:
        self.collector = collector
        self.sample_rate = check_probability("sample_rate", sample_rate)
        self.sampled = 0
        self.roots = 0

    def invoke(self, client: Any, call: Any, proceed: Proceed) -> Generator[Any, Any, RpcResult]:
        self.roots += 1
        sampled = client.rng.random() < self.sample_rate
        self.sampled += sampled
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
    def __init__(self, collector: str, span_cost_ms: float = 0.0) -> None:
        self.collector = collector
        self.span_cost_ms = check_number("span_cost_ms", span_cost_ms, min=0)

    def on_request(self, ctx: Context, job: Job) -> str | None:
        tc = TraceContext.extract(job.inv.headers)
        if tc is not None and tc.sampled:
            job.meta["trace"] = tc
            job.meta["sr"] = ctx.now()
            job.extra_ms += self.span_cost_ms
        return None

    def on_downstream(self, ctx: Context, job: Job, inv: Invocation) -> Invocation:
        tc: TraceContext | None = job.meta.get("trace")
        if tc is None:
            return inv
        child = TraceContext(tc.trace_id, new_id(ctx.rng), tc.span_id, True)
        job.meta.setdefault("child_cs", {})[inv.call_id] = (child, ctx.now())
        return replace(inv, headers=child.inject(inv.headers))

    def on_downstream_reply(self, ctx: Context, job: Job, inv: Invocation, ok: bool) -> None:
        entry = job.meta.get("child_cs", {}).get(inv.call_id)
        if entry is None:
            return
        child, cs = entry
        part = SpanPart(
            child.trace_id,
            child.span_id,
            child.parent_id,
            f"{inv.service}.{inv.method}",
            "client",
            ctx.node,
            (("cs", cs), ("cr", ctx.now())),
            (("outcome", "ok" if ok else "fail"),),
        )
        ctx.send(self.collector, SpanReport(part))

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
        ctx.send(self.collector, SpanReport(part))


__all__ = ["TracingClientFilter", "TracingServerFilter", "new_id"]
