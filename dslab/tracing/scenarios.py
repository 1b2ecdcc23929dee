"""Tracing scenarios on the service graph A -> (B, C), C -> D (see :mod:`dslab.tracing.services`).

Each returns a :class:`~dslab.sim.scenario.Result`; the numbers come from the pure functions of
:mod:`dslab.tracing.analysis`.

- :func:`run` - send requests through the graph with tracing on. ``frame``: the spans;
  ``metadata["requests"]``: per request its latency and outcome; ``metadata["sim"]``: the
  finished simulation (its collector, reporters and counters, for inspection).
- :func:`slow_dependency` - which service is to blame for the slow requests, from traces alone.
- :func:`sampling_sweep` - sampling rate against overhead and against catching a rare slow path.
- :func:`propagation`, :func:`hierarchical`, :func:`batching`, :func:`cache_db`,
  :func:`overhead` - context across thread pools, MTrace's span ids, batched reports, client
  spans around a cache and a database, Dapper's Table 2.

Builder convention (:mod:`dslab.sim.scenario`): :func:`build` adds the collector and the four
traced servers, each running ``node_cls`` (a subclass of :class:`~dslab.rpc.server.RpcServer`).
The graph keeps its service names ``A`` .. ``D`` (they are what the spans show).
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
from dslab.rpc.scenarios import build as build_servers
from dslab.rpc.server import Downstream, RpcServer, Sequential
from dslab.rpc.services import Database
from dslab.sim import Constant, Mixture, Sim, Uniform
from dslab.sim.scenario import Result, check_node_cls
from dslab.tracing.analysis import (
    EXPECTED_EDGES,
    blame,
    cache_traces,
    complete_traces,
    hierarchical_ids,
    overhead_row,
    roots_of,
    spans_frame,
    trace_shapes,
)
from dslab.tracing.filters import TracingClientFilter, TracingServerFilter, parent_of
from dslab.tracing.reporter import BatchReporter
from dslab.tracing.services import Backend, Cache, Frontend, KeyedFrontend
from dslab.tracing.simthreads import MODES as SIM_MODES
from dslab.tracing.span import Collector

NODES = ("A", "B", "C", "D")
LATENCY = Uniform(0.4, 0.6)


def build(
    sim: Sim,
    n: int = len(NODES),
    node_cls: type[RpcServer] = RpcServer,
    *,
    slow_prob: float = 0.0,
    slow_ms: float = 40.0,
    clock_offsets_ms: Mapping[str, float] | None = None,
    span_cost_ms: float = 0.0,
    span_ids: str = "random",
    propagation: str = "request",
    async_threads: int = 2,
    batch: Mapping[str, Any] | None = None,
    workers: int = 64,
) -> list[str]:
    """Add the collector and the traced graph ``A`` .. ``D`` (``n`` must be 4: the graph is
    fixed) running ``node_cls``; returns the server names.

    Each server gets its own :class:`TracingServerFilter` (``span_ids``, ``propagation``,
    ``async_threads``; with ``batch`` a :class:`BatchReporter` built from those keyword
    arguments); ``workers`` threads per server; ``D`` is slow (``slow_ms``) with probability
    ``slow_prob``.
    """
    if n != len(NODES):
        raise ValueError(f"n={n!r} is not allowed; the traced graph has exactly {len(NODES)} "
                         f"servers {list(NODES)}")
    check_node_cls(node_cls, base=RpcServer)
    check_number("workers", workers, min=1, integer=True)
    check_probability("slow_prob", slow_prob)
    check_number("slow_ms", slow_ms, min=0)
    offsets = dict(clock_offsets_ms or {})
    for name, off in offsets.items():
        if name not in NODES:
            raise ValueError(f"clock_offsets_ms has node {name!r}; the nodes are {list(NODES)}")
        check_number(f"clock_offsets_ms[{name!r}]", off)
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
    specs: dict[str, dict[str, Any]] = {
        "A": dict(
            iface=Frontend,
            workers=workers,
            service_ms=Constant(0.5),
            filters=tf(),
            downstream={
                "handle": [Downstream("B", Backend, "work"), Downstream("C", Backend, "work")]
            },
        ),
        "B": dict(iface=Backend, workers=workers, service_ms=Uniform(2.0, 4.0), filters=tf()),
        "C": dict(
            iface=Backend,
            workers=workers,
            service_ms=Uniform(1.0, 2.0),
            filters=tf(),
            downstream={"work": [Downstream("D", Backend, "work")]},
        ),
        "D": dict(iface=Backend, workers=workers, service_ms=d_time, filters=tf()),
    }
    for name in NODES:
        spec = specs[name]
        node_cls(**spec)  # validate now, not at boot inside the simulator
        sim.add_node(name, lambda spec=spec: node_cls(**spec),
                     clock_offset_ms=offsets.get(name, 0.0))
    return list(NODES)


def traced(
    seed: int,
    *,
    sample_rate: float = 1.0,
    report_loss: float = 0.0,
    node_cls: type[RpcServer] = RpcServer,
    **kwargs: Any,
) -> tuple[Sim, RpcClient, TracingClientFilter]:
    """A simulation with the graph of :func:`build` (``kwargs``) and a traced client ``c1``
    calling ``A``, sampling ``sample_rate`` of its requests; ``report_loss`` drops reports."""
    check_seed(seed)
    check_probability("report_loss", report_loss)
    sim = Sim(seed, latency=LATENCY)
    build(sim, len(NODES), node_cls, **kwargs)
    span_ids = kwargs.get("span_ids", "random")
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
) -> Result:
    """``requests`` calls of ``A.handle``, one every ``interval_ms`` (``kwargs``: see
    :func:`traced` and :func:`build`).

    ``frame``: the merged spans the collector received; ``metadata["requests"]``: per request
    its ``latency_ms`` (true time) and ``type``; ``metadata["sim"]``: the finished simulation.
    """
    check_number("requests", requests, min=1, integer=True)
    check_number("interval_ms", interval_ms, min=0, min_inclusive=False)
    sim, client, tracing = traced(seed, **kwargs)
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
    return Result(spans, sim.history, seed, {"requests": reqs, "sim": sim})


def slow_dependency(
    seed: int = 1, *, requests: int = 300, slow_prob: float = 0.03, slow_ms: float = 40.0
) -> Result:
    """Blame from traces: per service, mean self time in the slowest 5% of traces vs the rest.

    ``frame`` (the blame): one row per service; ``metadata["roots"]``: one row per trace with
    its root duration.
    """
    result = run(seed, requests=requests, slow_prob=slow_prob, slow_ms=slow_ms)
    spans = result.frame
    roots = roots_of(spans)[["trace_id", "duration_ms"]].reset_index(drop=True)
    return Result(blame(spans), result.history, seed, {"roots": roots})


def sampling_sweep(
    seed: int = 1,
    rates: Sequence[float] = (0.001, 0.01, 0.05, 0.1, 0.5, 1.0),
    *,
    requests: int = 2000,
    slow_prob: float = 0.01,
    slow_ms: float = 40.0,
    span_cost_ms: float = 0.05,
    progress: bool = False,
) -> Result:
    """Per sampling rate: reports and bytes per request, mean latency, slow requests caught.

    A request is *slow* if its true latency exceeds ``slow_ms`` (only D's rare path does that).
    """
    rows = []
    for rate in tqdm(list(rates), disable=not progress, desc="sampling"):
        check_probability("rates", rate)
        result = run(
            seed,
            requests=requests,
            interval_ms=5.0,
            sample_rate=rate,
            slow_prob=slow_prob,
            slow_ms=slow_ms,
            span_cost_ms=span_cost_ms,
        )
        spans, reqs = result.frame, result.metadata["requests"]
        reports = [m for m in result.history.messages if m.dst == "collector"]
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
    return Result(pd.DataFrame(rows), None, seed)


# -- context across a thread pool, in the simulated RPC -----------------------------------------
def propagation(
    seed: int = 1,
    *,
    requests: int = 20,
    async_threads: int = 2,
    modes: Sequence[str] = ("request", "thread_local", "inheritable", "transmittable"),
) -> Result:
    """Per propagation mode: how many of ``requests`` traces came out whole.

    Servers ``A`` and ``C`` make their downstream calls on a pool of ``async_threads`` reused
    threads. ``complete`` traces have exactly the four expected spans; ``broken`` ones start at
    ``c1`` but lack spans or hold spans of other requests; ``orphan`` traces were started by a
    downstream call that found no context; ``foreign_spans`` counts spans filed under the trace
    of another request (see :func:`dslab.tracing.analysis.trace_shapes`).
    """
    check_number("requests", requests, min=1, integer=True)
    rows, histories = [], {}
    for mode in modes:
        check_choice("modes", mode, ("request", *SIM_MODES))
        result = run(seed, requests=requests, propagation=mode, async_threads=async_threads)
        rows.append({"propagation": mode, "requests": requests, **trace_shapes(result.frame)})
        histories[mode] = result.history
    return Result(pd.DataFrame(rows), None, seed, {"histories": histories})


# -- MTrace's hierarchical span ids --------------------------------------------------------------
def hierarchical(seed: int = 1) -> Result:
    """One request with MTrace-style span ids; each row also gives the parent read off the id."""
    result = run(seed, requests=1, span_ids="hierarchical")
    return Result(hierarchical_ids(result.frame, parent_of), result.history, seed)


# -- batched reporting -------------------------------------------------------------------------
def batching(
    seed: int = 1,
    *,
    requests: int = 400,
    interval_ms: float = 0.25,
    batch_spans: int = 32,
    flush_ms: float = 5.0,
    buffers: Sequence[int] = (64, 256, 1024),
) -> Result:
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
    rows, histories = [], {}
    for label, batch in variants:
        result = run(seed, requests=requests, interval_ms=interval_ms, batch=batch)
        spans, sim = result.frame, result.metadata["sim"]
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
                "complete_traces": complete_traces(spans),
            }
        )
        histories[label] = result.history
    return Result(pd.DataFrame(rows), None, seed, {"histories": histories})


# -- instrumenting a cache and a database call ---------------------------------------------------
def cache_db(
    seed: int = 1, *, requests: int = 60, keys: int = 8, interval_ms: float = 10.0,
    node_cls: type[RpcServer] = RpcServer,
) -> Result:
    """``api.get(key)`` reads a cache and, on a miss, the database, then fills the cache.

    The cache and the database are not traced themselves; the API server's tracing filter puts
    a client span around each call to them (MTrace instruments the Redis and MySQL client
    libraries). Keys are drawn uniformly from ``keys``. ``frame``: the spans;
    ``metadata["per_trace"]``: per trace whether the cache hit, the request's duration and the
    time spent in cache and database calls. ``node_cls`` replaces the API server.
    """
    check_seed(seed)
    check_number("requests", requests, min=1, integer=True)
    check_number("keys", keys, min=1, integer=True)
    sim = Sim(seed, latency=LATENCY)
    sim.add_node("collector", Collector)
    build_servers(sim, 1, RpcServer, names=["cache"], iface=Cache, workers=64,
                  service_ms=Uniform(0.1, 0.2))
    build_servers(sim, 1, RpcServer, names=["db"], iface=Database, workers=64,
                  service_ms=Uniform(3.0, 6.0))
    steps = Sequential(
        Downstream("cache", Cache, "get", lambda a, r: {"key": a["key"]}),
        Downstream("db", Database, "query", lambda a, r: {"key": a["key"]}, when=_missed),
        Downstream(
            "cache", Cache, "put", lambda a, r: {"key": a["key"], "value": r[1]}, when=_queried
        ),
    )
    build_servers(
        sim,
        1,
        node_cls,
        names=["api"],
        iface=KeyedFrontend,
        workers=64,
        service_ms=Constant(0.3),
        filters=[TracingServerFilter("collector")],
        downstream={"get": steps},
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
    return Result(spans, sim.history, seed, {"per_trace": cache_traces(spans)})


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
) -> Result:
    """The shape of Dapper's Table 2: per sampling rate ``1/d``, the change in mean latency
    (open loop, one request every ``interval_ms``) and in throughput (``callers`` in a closed
    loop for ``saturate_ms``) against the same runs with tracing off, plus the tracing time and
    report bytes per request. Recording a span costs ``span_cost_ms`` of server time.
    ``metadata["baseline"]``: the untraced run's measurements."""
    check_number("span_cost_ms", span_cost_ms, min=0)
    check_number("callers", callers, min=1, integer=True)
    check_number("saturate_ms", saturate_ms, min=0, min_inclusive=False)

    def measure(rate: float) -> dict[str, float]:
        result = run(
            seed,
            requests=requests,
            interval_ms=interval_ms,
            sample_rate=rate,
            span_cost_ms=span_cost_ms,
            workers=workers,
        )
        spans, reqs = result.frame, result.metadata["requests"]
        reports = [m for m in result.history.messages if m.dst == "collector"]
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
        rows.append(overhead_row(d, measure(1.0 / d), base))
    return Result(pd.DataFrame(rows), None, seed, {"baseline": base})


def _closed_loop(
    seed: int, rate: float, span_cost_ms: float, workers: int, callers: int, duration_ms: float
) -> float:
    sim, client, _ = traced(seed, sample_rate=rate, span_cost_ms=span_cost_ms, workers=workers)
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


__all__ = [
    "DAPPER_TABLE_2",
    "EXPECTED_EDGES",
    "LATENCY",
    "NODES",
    "batching",
    "build",
    "cache_db",
    "hierarchical",
    "overhead",
    "propagation",
    "run",
    "sampling_sweep",
    "slow_dependency",
    "traced",
]
