"""Tracing experiments on the service graph A -> (B, C), C -> D (see :mod:`dslab.tracing.services`).

- :func:`run` - send requests through the graph with tracing on; return the spans and, per
  request, its latency and whether it was sampled.
- :func:`slow_dependency` - which service is to blame for the slow requests, from traces alone.
- :func:`sampling_sweep` - sampling rate against overhead and against catching a rare slow path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_number, check_probability, check_seed
from dslab.rpc.client import RpcClient
from dslab.rpc.filters import TimeoutFilter
from dslab.rpc.server import Downstream, server
from dslab.sim import Constant, Mixture, Sim, Uniform
from dslab.tracing.analysis import self_time, spans_frame
from dslab.tracing.filters import TracingClientFilter, TracingServerFilter
from dslab.tracing.services import Backend, Frontend
from dslab.tracing.span import Collector

NODES = ("A", "B", "C", "D")
LATENCY = Uniform(0.4, 0.6)


def build(
    seed: int,
    *,
    sample_rate: float = 1.0,
    slow_prob: float = 0.0,
    slow_ms: float = 40.0,
    clock_offsets_ms: Mapping[str, float] | None = None,
    report_loss: float = 0.0,
    span_cost_ms: float = 0.0,
) -> tuple[Sim, RpcClient, TracingClientFilter]:
    """The graph, a collector and a traced client ``c1`` calling ``A``."""
    check_seed(seed)
    check_probability("slow_prob", slow_prob)
    check_number("slow_ms", slow_ms, min=0)
    check_probability("report_loss", report_loss)
    offsets = dict(clock_offsets_ms or {})
    for n, off in offsets.items():
        if n not in NODES:
            raise ValueError(f"clock_offsets_ms has node {n!r}; the nodes are {list(NODES)}")
        check_number(f"clock_offsets_ms[{n!r}]", off)
    sim = Sim(seed, latency=LATENCY)
    sim.add_node("collector", Collector)
    tf = [TracingServerFilter("collector", span_cost_ms)]
    d_time = Uniform(1.0, 3.0)
    if slow_prob > 0:
        d_time = Mixture(
            (Uniform(1.0, 3.0), Uniform(slow_ms, slow_ms * 1.2)), (1.0 - slow_prob, slow_prob)
        )
    specs = {
        "A": server(
            Frontend,
            workers=64,
            service_ms=Constant(0.5),
            filters=tf,
            downstream={
                "handle": [Downstream("B", Backend, "work"), Downstream("C", Backend, "work")]
            },
        ),
        "B": server(Backend, workers=64, service_ms=Uniform(2.0, 4.0), filters=tf),
        "C": server(
            Backend,
            workers=64,
            service_ms=Uniform(1.0, 2.0),
            filters=tf,
            downstream={"work": [Downstream("D", Backend, "work")]},
        ),
        "D": server(Backend, workers=64, service_ms=d_time, filters=tf),
    }
    for n in NODES:
        sim.add_node(n, specs[n], clock_offset_ms=offsets.get(n, 0.0))
    tracing = TracingClientFilter("collector", sample_rate)
    client = RpcClient(
        sim,
        "c1",
        ["A"],
        filters=[tracing, TimeoutFilter(1000.0)],
        connections_per_server=1000,
        threads=1000,
    )
    if report_loss:
        sim.net.configure(dst="collector", loss=report_loss)
    return sim, client, tracing


def run(
    seed: int = 1,
    *,
    requests: int = 20,
    interval_ms: float = 10.0,
    **kwargs: Any,
) -> tuple[pd.DataFrame, pd.DataFrame, Sim]:
    """``requests`` calls of ``A.handle``, one every ``interval_ms``.

    Returns ``(spans, requests_df, sim)``: the merged spans the collector received, and per request
    its ``latency_ms`` (true time), ``trace_id`` and ``sampled``.
    """
    check_number("requests", requests, min=1, integer=True)
    check_number("interval_ms", interval_ms, min=0, min_inclusive=False)
    sim, client, tracing = build(seed, **kwargs)
    stub = client.stub(Frontend)
    rows: list[dict[str, Any]] = []

    def one(i: int) -> Any:
        start = sim.now
        res = yield from stub.handle()
        rows.append(
            {"request": i, "start_ms": start, "latency_ms": sim.now - start, "type": res.type}
        )

    def load() -> Any:
        for i in range(requests):
            sim.process(one(i))
            yield sim.sleep(interval_ms)

    sim.process(load())
    sim.run()
    spans = spans_frame(sim.handler("collector").parts)
    reqs = pd.DataFrame(rows).sort_values("request").reset_index(drop=True)
    return spans, reqs, sim


def slow_dependency(
    seed: int = 1, *, requests: int = 300, slow_prob: float = 0.03, slow_ms: float = 40.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Blame from traces: per service, mean self time in the slowest 5% of traces vs the rest.

    Returns ``(blame, roots)``: ``blame`` has one row per service; ``roots`` one row per trace
    with its root duration.
    """
    spans, _, _ = run(seed, requests=requests, slow_prob=slow_prob, slow_ms=slow_ms)
    st = self_time(spans).rename("self_ms")
    spans = spans.join(st, on="span_id")
    roots = spans[spans.parent_id.isna()].assign(duration_ms=lambda d: d.cr - d.cs)
    cut = roots.duration_ms.quantile(0.95)
    slow_ids = set(roots[roots.duration_ms >= cut].trace_id)
    spans["slow_trace"] = spans.trace_id.isin(slow_ids)
    blame = (
        spans.groupby(["server_node", "slow_trace"])
        .self_ms.mean()
        .unstack()
        .rename(columns={False: "self_ms_other", True: "self_ms_slowest_5pct"})
        .reset_index()
        .rename(columns={"server_node": "service"})
    )
    blame["increase_ms"] = blame.self_ms_slowest_5pct - blame.self_ms_other
    return blame, roots[["trace_id", "duration_ms"]].reset_index(drop=True)


def sampling_sweep(
    seed: int = 1,
    rates: Sequence[float] = (0.001, 0.01, 0.05, 0.1, 0.5, 1.0),
    *,
    requests: int = 2000,
    slow_prob: float = 0.01,
    slow_ms: float = 40.0,
    span_cost_ms: float = 0.05,
    progress: bool = False,
) -> pd.DataFrame:
    """Per sampling rate: reports and bytes per request, mean latency, slow requests caught.

    A request is *slow* if its true latency exceeds ``slow_ms`` (only D's rare path does that).
    """
    rows = []
    for rate in tqdm(list(rates), disable=not progress, desc="sampling"):
        check_probability("rates", rate)
        spans, reqs, sim = run(
            seed,
            requests=requests,
            interval_ms=5.0,
            sample_rate=rate,
            slow_prob=slow_prob,
            slow_ms=slow_ms,
            span_cost_ms=span_cost_ms,
        )
        reports = [m for m in sim.history.messages if m.dst == "collector"]
        roots = spans[spans.parent_id.isna()]
        slow = int((reqs.latency_ms > slow_ms).sum())
        caught = int(((roots.cr - roots.cs) > slow_ms).sum())
        rows.append(
            {
                "sample_rate": rate,
                "requests": requests,
                "traces_kept": len(roots),
                "reports_per_request": len(reports) / requests,
                "report_bytes_per_request": sum(m.size for m in reports) / requests,
                "mean_latency_ms": float(reqs.latency_ms.mean()),
                "slow_requests": slow,
                "slow_traces_caught": caught,
                "p_catch_at_least_one": 1.0 - (1.0 - rate) ** slow if slow else np.nan,
            }
        )
    return pd.DataFrame(rows)
