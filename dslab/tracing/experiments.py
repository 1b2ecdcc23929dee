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

from dslab._validate import check_choice, check_number, check_probability, check_seed
from dslab.rpc.client import RpcClient
from dslab.rpc.filters import TimeoutFilter
from dslab.rpc.server import Downstream, Sequential, server
from dslab.rpc.services import Database
from dslab.sim import Constant, Mixture, Sim, Uniform
from dslab.tracing.analysis import check_tree, self_time, spans_frame
from dslab.tracing.filters import TracingClientFilter, TracingServerFilter, parent_of
from dslab.tracing.reporter import BatchReporter
from dslab.tracing.services import Backend, Cache, Frontend, KeyedFrontend
from dslab.tracing.simthreads import MODES as SIM_MODES
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
    span_ids: str = "random",
    propagation: str = "request",
    async_threads: int = 2,
    batch: Mapping[str, Any] | None = None,
    workers: int = 64,
) -> tuple[Sim, RpcClient, TracingClientFilter]:
    """The graph, a collector and a traced client ``c1`` calling ``A``.

    Each server gets its own :class:`TracingServerFilter` (``span_ids``, ``propagation``,
    ``async_threads``; with ``batch`` a :class:`BatchReporter` built from those keyword
    arguments); ``workers`` threads per server.
    """
    check_seed(seed)
    check_number("workers", workers, min=1, integer=True)
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

    def tf() -> list[TracingServerFilter]:
        reporter = BatchReporter("collector", **batch) if batch is not None else None
        f = TracingServerFilter(
            "collector",
            span_cost_ms,
            span_ids=span_ids,
            propagation=propagation,
            async_threads=async_threads,
            reporter=reporter,
        )
        return [f]

    d_time = Uniform(1.0, 3.0)
    if slow_prob > 0:
        d_time = Mixture(
            (Uniform(1.0, 3.0), Uniform(slow_ms, slow_ms * 1.2)), (1.0 - slow_prob, slow_prob)
        )
    specs = {
        "A": server(
            Frontend,
            workers=workers,
            service_ms=Constant(0.5),
            filters=tf(),
            downstream={
                "handle": [Downstream("B", Backend, "work"), Downstream("C", Backend, "work")]
            },
        ),
        "B": server(Backend, workers=workers, service_ms=Uniform(2.0, 4.0), filters=tf()),
        "C": server(
            Backend,
            workers=workers,
            service_ms=Uniform(1.0, 2.0),
            filters=tf(),
            downstream={"work": [Downstream("D", Backend, "work")]},
        ),
        "D": server(Backend, workers=workers, service_ms=d_time, filters=tf()),
    }
    for n in NODES:
        sim.add_node(n, specs[n], clock_offset_ms=offsets.get(n, 0.0))
    tracing = TracingClientFilter("collector", sample_rate, span_ids=span_ids)
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


# -- context across a thread pool, in the simulated RPC -----------------------------------------
EXPECTED_EDGES = [("A", "B"), ("A", "C"), ("C", "D"), ("c1", "A")]


def propagation(
    seed: int = 1,
    *,
    requests: int = 20,
    async_threads: int = 2,
    modes: Sequence[str] = ("request", "thread_local", "inheritable", "transmittable"),
) -> pd.DataFrame:
    """Per propagation mode: how many of ``requests`` traces came out whole.

    Servers ``A`` and ``C`` make their downstream calls on a pool of ``async_threads`` reused
    threads. ``complete`` traces have exactly the four expected spans; ``broken`` ones start at
    ``c1`` but lack spans or hold spans of other requests; ``orphan`` traces were started by a
    downstream call that found no context; ``foreign_spans`` counts spans filed under the trace
    of another request.
    """
    check_number("requests", requests, min=1, integer=True)
    rows = []
    for mode in modes:
        check_choice("modes", mode, ("request", *SIM_MODES))
        spans, _, sim = run(seed, requests=requests, propagation=mode, async_threads=async_threads)
        complete = broken = orphan = 0
        for _, t in spans.groupby("trace_id"):
            if t.parent_id.isna().sum() == 1 and t[t.parent_id.isna()].client_node.iloc[0] != "c1":
                orphan += 1
                continue
            edges = sorted((r.client_node, r.server_node) for r in t.itertuples())
            if edges == EXPECTED_EDGES and check_tree(t) == []:
                complete += 1
            else:
                broken += 1
        per_trace = spans.groupby("trace_id").size()
        c1_traces = set(spans[spans.client_node == "c1"].trace_id)
        foreign = int(sum(max(n - 4, 0) for tid, n in per_trace.items() if tid in c1_traces))
        rows.append(
            {
                "propagation": mode,
                "requests": requests,
                "complete": complete,
                "broken": broken,
                "orphan": orphan,
                "foreign_spans": foreign,
            }
        )
    return pd.DataFrame(rows)


# -- MTrace's hierarchical span ids --------------------------------------------------------------
def hierarchical(seed: int = 1) -> pd.DataFrame:
    """One request with MTrace-style span ids; each row also gives the parent read off the id."""
    spans, _, _ = run(seed, requests=1, span_ids="hierarchical")
    out = spans[["span_id", "parent_id", "client_node", "server_node", "name"]].copy()
    out["parent_from_id"] = out.span_id.map(parent_of)
    out["depth"] = out.span_id.str.count(r"\.")
    return out.sort_values("span_id").reset_index(drop=True)


# -- batched reporting -------------------------------------------------------------------------
def batching(
    seed: int = 1,
    *,
    requests: int = 400,
    interval_ms: float = 0.25,
    batch_spans: int = 32,
    flush_ms: float = 5.0,
    buffers: Sequence[int] = (64, 256, 1024),
) -> pd.DataFrame:
    """Reporting one message per span against batches, for a burst of ``requests`` (one every
    ``interval_ms``; ``A`` alone records 3 parts per request, twice what its reporter can ship
    at ``batch_spans / flush_ms``), with several buffer sizes. A trace is complete when all 4
    spans arrived with both halves."""
    check_number("requests", requests, min=1, integer=True)
    variants: list[tuple[str, dict[str, Any] | None]] = [("one message per span", None)]
    for b in buffers:
        check_number("buffers", b, min=1, integer=True)
        variants.append(
            (
                f"batches, buffer {b}",
                {"batch_spans": batch_spans, "flush_ms": flush_ms, "buffer_spans": b},
            )
        )
    rows = []
    for label, batch in variants:
        spans, _, sim = run(seed, requests=requests, interval_ms=interval_ms, batch=batch)
        reports = [m for m in sim.history.messages if m.dst == "collector" and m.src != "c1"]
        filters = [sim.handler(n).filters[0] for n in NODES]
        recorded = sum(f.reporter.sent + f.reporter.dropped for f in filters)
        received = len(sim.handler("collector").parts) - requests  # minus c1's root parts
        rows.append(
            {
                "reporting": label,
                "parts_recorded": recorded,
                "received": received,
                "dropped": sum(f.reporter.dropped for f in filters),
                "messages": len(reports),
                "bytes": sum(m.size for m in reports),
                "bytes_per_span": sum(m.size for m in reports) / max(received, 1),
                "complete_traces": _complete(spans),
            }
        )
    return pd.DataFrame(rows)


# -- instrumenting a cache and a database call ---------------------------------------------------
def cache_db(
    seed: int = 1, *, requests: int = 60, keys: int = 8, interval_ms: float = 10.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``api.get(key)`` reads a cache and, on a miss, the database, then fills the cache.

    The cache and the database are not traced themselves; the API server's tracing filter puts
    a client span around each call to them (MTrace instruments the Redis and MySQL client
    libraries). Keys are drawn uniformly from ``keys``. Returns ``(spans, per_trace)``: per trace
    whether the cache hit, the request's duration and the time spent in cache and database calls.
    """
    check_seed(seed)
    check_number("requests", requests, min=1, integer=True)
    check_number("keys", keys, min=1, integer=True)
    sim = Sim(seed, latency=LATENCY)
    sim.add_node("collector", Collector)
    sim.add_node("cache", server(Cache, workers=64, service_ms=Uniform(0.1, 0.2)))
    sim.add_node("db", server(Database, workers=64, service_ms=Uniform(3.0, 6.0)))
    steps = Sequential(
        Downstream("cache", Cache, "get", lambda a, r: {"key": a["key"]}),
        Downstream("db", Database, "query", lambda a, r: {"key": a["key"]}, when=_missed),
        Downstream(
            "cache", Cache, "put", lambda a, r: {"key": a["key"], "value": r[1]}, when=_queried
        ),
    )
    sim.add_node(
        "api",
        server(
            KeyedFrontend,
            workers=64,
            service_ms=Constant(0.3),
            filters=[TracingServerFilter("collector")],
            downstream={"get": steps},
        ),
    )
    client = RpcClient(
        sim,
        "c1",
        ["api"],
        filters=[TracingClientFilter("collector"), TimeoutFilter(1000.0)],
        connections_per_server=1000,
        threads=1000,
    )
    stub = client.stub(KeyedFrontend)
    rng = sim.stream("workload")

    def load() -> Any:
        for _ in range(requests):
            sim.process(stub.get(f"k{rng.randrange(keys)}"))
            yield sim.sleep(interval_ms)

    sim.process(load())
    sim.run()
    spans = spans_frame(sim.handler("collector").parts)
    traces = []
    for tid, t in spans.groupby("trace_id", sort=False):
        root = t[t.parent_id.isna()].iloc[0]
        names = list(t.name)
        traces.append(
            {
                "trace_id": tid,
                "start_ms": root.cs,
                "hit": "Database.query" not in names,
                "duration_ms": root.cr - root.cs,
                "cache_ms": float((t[t.name.str.startswith("Cache.")].eval("cr - cs")).sum()),
                "db_ms": float((t[t.name == "Database.query"].eval("cr - cs")).sum()),
            }
        )
    per_trace = pd.DataFrame(traces).sort_values("start_ms").reset_index(drop=True)
    return spans, per_trace


def _complete(spans: pd.DataFrame) -> int:
    """Traces with their 4 spans, each with both halves (cs, sr, ss, cr all present)."""
    n = 0
    for _, t in spans.groupby("trace_id"):
        whole = not t[["cs", "sr", "ss", "cr"]].isna().any().any()
        n += len(t) == 4 and whole and check_tree(t) == []
    return n


def _missed(results: dict[int, Any]) -> bool:
    return results.get(0) is None


def _queried(results: dict[int, Any]) -> bool:
    return results.get(1) is not None


# -- Dapper's overhead table, in the simulation ----------------------------------------------------
#: Dapper (Sigelman et al. 2010), Table 2: a web search cluster at several sampling rates:
#: average latency change and average throughput change, in percent.
DAPPER_TABLE_2 = pd.DataFrame(
    {
        "sampling": ["1/1", "1/2", "1/4", "1/8", "1/16", "1/1024"],
        "paper_latency_pct": [16.3, 9.40, 6.38, 4.12, 2.12, -0.20],
        "paper_throughput_pct": [-1.48, -0.73, -0.30, -0.23, -0.08, -0.06],
    }
)


def overhead(
    seed: int = 1,
    *,
    denominators: Sequence[int] = (1, 2, 4, 8, 16, 1024),
    span_cost_ms: float = 0.2,
    requests: int = 600,
    interval_ms: float = 1.0,
    workers: int = 8,
    callers: int = 32,
    saturate_ms: float = 400.0,
    progress: bool = False,
) -> pd.DataFrame:
    """The shape of Dapper's Table 2: per sampling rate ``1/d``, the change in mean latency
    (open loop, one request every ``interval_ms``) and in throughput (``callers`` in a closed
    loop for ``saturate_ms``) against the same runs with tracing off, plus the tracing time and
    report bytes per request. Recording a span costs ``span_cost_ms`` of server time."""
    check_number("span_cost_ms", span_cost_ms, min=0)
    check_number("callers", callers, min=1, integer=True)
    check_number("saturate_ms", saturate_ms, min=0, min_inclusive=False)

    def measure(rate: float) -> dict[str, float]:
        spans, reqs, sim = run(
            seed,
            requests=requests,
            interval_ms=interval_ms,
            sample_rate=rate,
            span_cost_ms=span_cost_ms,
            workers=workers,
        )
        reports = [m for m in sim.history.messages if m.dst == "collector"]
        recorded = int(spans.sr.notna().sum())
        return {
            "mean_latency_ms": float(reqs.latency_ms.mean()),
            "throughput_per_s": _closed_loop(
                seed, rate, span_cost_ms, workers, callers, saturate_ms
            ),
            "tracing_ms_per_request": recorded * span_cost_ms / requests,
            "report_bytes_per_request": sum(m.size for m in reports) / requests,
        }

    base = measure(0.0)
    rows = []
    for d in tqdm(list(denominators), disable=not progress, desc="overhead"):
        check_number("denominators", d, min=1, integer=True)
        m = measure(1.0 / d)
        rows.append(
            {
                "sampling": f"1/{d}",
                "latency_pct": 100.0 * (m["mean_latency_ms"] / base["mean_latency_ms"] - 1.0),
                "throughput_pct": 100.0 * (m["throughput_per_s"] / base["throughput_per_s"] - 1.0),
                "tracing_ms_per_request": m["tracing_ms_per_request"],
                "report_bytes_per_request": m["report_bytes_per_request"],
                "mean_latency_ms": m["mean_latency_ms"],
                "throughput_per_s": m["throughput_per_s"],
            }
        )
    out = pd.DataFrame(rows)
    out.attrs["baseline"] = base
    return out


def _closed_loop(
    seed: int, rate: float, span_cost_ms: float, workers: int, callers: int, duration_ms: float
) -> float:
    sim, client, _ = build(seed, sample_rate=rate, span_cost_ms=span_cost_ms, workers=workers)
    stub = client.stub(Frontend)
    done = [0]

    def caller() -> Any:
        while True:
            res = yield from stub.handle()
            if sim.now > duration_ms:
                return
            done[0] += res.type == "ok"

    for _ in range(callers):
        sim.process(caller())
    sim.run(until=duration_ms + 200.0)
    return done[0] * 1000.0 / duration_ms
