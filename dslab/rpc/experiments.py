"""RPC experiments: each runs a :class:`~dslab.sim.Sim` and returns pandas DataFrames.

1. :func:`anatomy` - where the time of one call goes, stage by stage.
2. :func:`load_sweep` - latency and rejections against offered load (a bounded server pool).
3. :func:`retry_storm` - timeouts plus naive retries amplify load until goodput collapses.
4. :func:`idempotency` - a retried non-idempotent call applies twice; call ids (dedupe) fix it.
5. :func:`balancing` - random / round robin / least active with one slow server.
6. :func:`breaker` - a circuit breaker isolating a failing dependency, over time.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_choice, check_number, check_seed
from dslab.rpc.balance import POLICIES
from dslab.rpc.client import STAGES, RpcClient
from dslab.rpc.filters import (
    CircuitBreakerFilter,
    LoadBalanceFilter,
    RetryFilter,
    TimeoutFilter,
)
from dslab.rpc.server import server
from dslab.rpc.services import Counter, Echo
from dslab.sim import Exponential, Sim, Uniform

LATENCY = Uniform(0.4, 0.6)  # a data-centre network: about half a millisecond each way


def _poisson(
    sim: Sim, rate_per_s: float, duration_ms: float, fire: Any
) -> Generator[Any, Any, None]:
    """Open-loop arrivals: call ``fire(i)`` (a generator) at Poisson times for ``duration_ms``."""
    rng = sim.stream("workload")
    i = 0
    while True:
        yield sim.sleep(rng.expovariate(rate_per_s / 1000.0))
        if sim.now >= duration_ms:
            return
        sim.process(fire(i))
        i += 1


# -- 1. anatomy ----------------------------------------------------------------------------------
def anatomy(
    seed: int = 1,
    *,
    payload_bytes: Sequence[int] = (100, 100_000),
    callers: Sequence[int] = (1, 8),
    connections: int = 2,
    service_ms: float = 2.0,
    calls_per_caller: int = 20,
) -> pd.DataFrame:
    """Mean time per stage of a call, for each (payload size, concurrent callers) pair."""
    check_seed(seed)
    check_number("connections", connections, min=1, integer=True)
    check_number("service_ms", service_ms, min=0)
    check_number("calls_per_caller", calls_per_caller, min=1, integer=True)
    rows = []
    for size in payload_bytes:
        check_number("payload_bytes", size, min=0, integer=True)
        for n in callers:
            check_number("callers", n, min=1, integer=True)
            sim = Sim(seed, latency=LATENCY)
            sim.add_node(
                "s1", server(Echo, workers=4, queue=64, service_ms=Exponential(service_ms))
            )
            client = RpcClient(
                sim,
                "c1",
                ["s1"],
                connections_per_server=connections,
                filters=[TimeoutFilter(1000.0)],
            )
            stub = client.stub(Echo)

            def caller(stub: Any = stub, size: int = size) -> Any:
                for _ in range(calls_per_caller):
                    yield from stub.echo("x" * size)

            for _ in range(n):
                sim.process(caller())
            sim.run()
            timings = [r for r in client.log if r["type"] == "ok"]
            mean = pd.DataFrame(timings).reindex(columns=list(STAGES)).fillna(0.0).mean()
            rows.append(
                {
                    "payload_bytes": size,
                    "callers": n,
                    "label": f"{_fmt_bytes(size)}, {n} caller{'s' if n > 1 else ''}",
                    **mean.to_dict(),
                    "total": float(mean.sum()),
                    "calls": len(timings),
                }
            )
    return pd.DataFrame(rows)


def _fmt_bytes(n: int) -> str:
    return f"{n // 1000} kB" if n >= 1000 else f"{n} B"


# -- open-loop load ------------------------------------------------------------------------------
def _load_run(
    seed: int,
    rate_per_s: float,
    *,
    workers: int,
    queue: int,
    service_ms: float,
    duration_ms: float,
    timeout_ms: float,
    retry: RetryFilter | None = None,
    pauses: Sequence[tuple[float, float]] = (),
) -> tuple[pd.DataFrame, Sim, RpcClient]:
    sim = Sim(seed, latency=LATENCY)
    sim.add_node(
        "s1", server(Counter, workers=workers, queue=queue, service_ms=Exponential(service_ms))
    )
    filters: list[Any] = [TimeoutFilter(timeout_ms)] + ([retry] if retry else [])
    client = RpcClient(
        sim,
        "c1",
        ["s1"],
        filters=filters,
        connections_per_server=100_000,
        threads=100_000,
        dispatch_ms=0.0,
    )
    stub = client.stub(Counter)
    rows: list[dict[str, Any]] = []

    def one(i: int) -> Any:
        start = sim.now
        res = yield from stub.get("x")
        rows.append(
            {
                "start_ms": start,
                "end_ms": sim.now,
                "type": res.type,
                "error": res.error,
                "latency_ms": res.latency_ms,
            }
        )

    for at, dur in pauses:
        sim.pause("s1", dur, at=at)
    sim.process(_poisson(sim, rate_per_s, duration_ms, one))
    sim.run(until=duration_ms + 5 * timeout_ms * 8)
    return pd.DataFrame(rows), sim, client


# -- 2. latency vs load --------------------------------------------------------------------------
def load_sweep(
    seed: int = 1,
    rates_per_s: Sequence[float] = (100, 300, 500, 600, 700, 750, 800, 900, 1200),
    *,
    workers: int = 4,
    queue: int = 32,
    service_ms: float = 5.0,
    duration_ms: float = 2000.0,
    progress: bool = False,
) -> pd.DataFrame:
    """p50/p99 latency and rejections against offered load; capacity = workers / service_ms."""
    check_seed(seed)
    check_number("workers", workers, min=1, integer=True)
    check_number("queue", queue, min=0, integer=True)
    check_number("service_ms", service_ms, min=0, min_inclusive=False)
    check_number("duration_ms", duration_ms, min=0, min_inclusive=False)
    rows = []
    for rate in tqdm(list(rates_per_s), disable=not progress, desc="load"):
        check_number("rates_per_s", rate, min=0, min_inclusive=False)
        df, sim, _ = _load_run(
            seed,
            rate,
            workers=workers,
            queue=queue,
            service_ms=service_ms,
            duration_ms=duration_ms,
            timeout_ms=10_000.0,
        )
        ok = df[df.type == "ok"].latency_ms
        rows.append(
            {
                "offered_per_s": float(rate),
                "utilization": rate * service_ms / 1000.0 / workers,
                "calls": len(df),
                "p50_ms": float(ok.quantile(0.5)) if len(ok) else np.nan,
                "p99_ms": float(ok.quantile(0.99)) if len(ok) else np.nan,
                "rejected_frac": float((df.error == "overloaded").mean()) if len(df) else 0.0,
                "goodput_per_s": len(ok) / (duration_ms / 1000.0),
            }
        )
    return pd.DataFrame(rows)


# -- 3. retry storms -----------------------------------------------------------------------------
RETRY_VARIANTS = ("no retries", "naive retries", "backoff + budget")


def retry_storm(
    seed: int = 1,
    *,
    rate_per_s: float = 600.0,
    workers: int = 4,
    queue: int = 100,
    service_ms: float = 5.0,
    timeout_ms: float = 30.0,
    pause_ms: float = 200.0,
    duration_ms: float = 2000.0,
    bin_ms: float = 50.0,
    variants: Sequence[str] = RETRY_VARIANTS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A 200 ms server stall at t=300 ms under 75% load, with three retry policies.

    Returns ``(series, summary)``: per time bin the attempts sent and the goodput (ok calls per
    second, by completion time), and per variant the totals.
    """
    check_seed(seed)
    check_number("pause_ms", pause_ms, min=0)
    check_number("bin_ms", bin_ms, min=0, min_inclusive=False)
    for v in variants:
        check_choice("variants", v, RETRY_VARIANTS)
    series, summary = [], []
    for v in variants:
        retry = None
        if v == "naive retries":
            retry = RetryFilter(4, backoff_ms=0.0)
        elif v == "backoff + budget":
            retry = RetryFilter(4, backoff_ms=20.0, multiplier=2.0, budget_ratio=0.1)
        df, sim, client = _load_run(
            seed,
            rate_per_s,
            workers=workers,
            queue=queue,
            service_ms=service_ms,
            duration_ms=duration_ms,
            timeout_ms=timeout_ms,
            retry=retry,
            pauses=[(300.0, pause_ms)],
        )
        send_times = np.array([r["sent_ms"] for r in client.log if "sent_ms" in r])
        edges = np.arange(0.0, duration_ms + bin_ms, bin_ms)
        ok_end = df[df.type == "ok"].end_ms.to_numpy()
        for lo in edges[:-1]:
            series.append(
                {
                    "variant": v,
                    "t_ms": lo,
                    "attempts_per_s": float(((send_times >= lo) & (send_times < lo + bin_ms)).sum())
                    * 1000.0
                    / bin_ms,
                    "goodput_per_s": float(((ok_end >= lo) & (ok_end < lo + bin_ms)).sum())
                    * 1000.0
                    / bin_ms,
                }
            )
        late = df[df.start_ms >= duration_ms - 500.0]
        summary.append(
            {
                "variant": v,
                "calls": len(df),
                "attempts": client.attempts,
                "amplification": client.attempts / max(len(df), 1),
                "ok_frac": float((df.type == "ok").mean()),
                "ok_frac_last_500ms": float((late.type == "ok").mean()) if len(late) else np.nan,
                "server_applied": sim.handler("s1").stats["applied"],
            }
        )
    return pd.DataFrame(series), pd.DataFrame(summary)


# -- 4. idempotency ------------------------------------------------------------------------------
def idempotency(
    seed: int = 1,
    *,
    calls: int = 10,
    service_low_ms: float = 2.0,
    service_high_ms: float = 10.0,
    timeout_ms: float = 6.0,
) -> pd.DataFrame:
    """``incr`` (service time uniform on [low, high]) with a timeout that some calls exceed.

    Variants: no retry; retry (non-idempotent allowed); retry with server-side dedupe by call id.
    ``applied`` counts how often the server ran ``incr``; the counter should end at ``calls``.
    """
    check_seed(seed)
    check_number("calls", calls, min=1, integer=True)
    check_number("service_low_ms", service_low_ms, min=0)
    check_number("service_high_ms", service_high_ms, min=service_low_ms)
    check_number("timeout_ms", timeout_ms, min=0, min_inclusive=False)
    rows = []
    for name, retry, dedupe in (
        ("no retry", False, False),
        ("retry incr", True, False),
        ("retry incr + dedupe", True, True),
    ):
        sim = Sim(seed, latency=LATENCY)
        sim.add_node(
            "s1",
            server(Counter, service_ms=Uniform(service_low_ms, service_high_ms), dedupe=dedupe),
        )
        filters: list[Any] = [TimeoutFilter(timeout_ms)]
        if retry:
            filters.append(RetryFilter(3, backoff_ms=1.0, retry_non_idempotent=True))
        client = RpcClient(sim, "c1", ["s1"], filters=filters)
        stub = client.stub(Counter)
        results: list[str] = []

        def work(stub: Any = stub, results: list = results, sim: Sim = sim) -> Any:
            for _ in range(calls):
                res = yield from stub.incr("x")
                results.append(res.type)
                yield sim.sleep(50.0)

        sim.process(work())
        sim.run()
        h = sim.handler("s1")
        rows.append(
            {
                "variant": name,
                "calls": calls,
                "ok": results.count("ok"),
                "info": results.count("info"),
                "attempts": client.attempts,
                "applied": h.stats["applied"],
                "final_x": h.impl.state.get("x", 0),
            }
        )
    return pd.DataFrame(rows)


# -- 5. load balancing ---------------------------------------------------------------------------
def balancing(
    seed: int = 1,
    *,
    policies: Sequence[str] = ("random", "round_robin", "least_active"),
    rate_per_s: float = 600.0,
    fast_ms: float = 2.0,
    slow_ms: float = 20.0,
    workers: int = 2,
    duration_ms: float = 2000.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three servers, ``s3`` ten times slower; returns ``(per_call, summary)``."""
    check_seed(seed)
    check_number("rate_per_s", rate_per_s, min=0, min_inclusive=False)
    check_number("fast_ms", fast_ms, min=0, min_inclusive=False)
    check_number("slow_ms", slow_ms, min=0, min_inclusive=False)
    check_number("duration_ms", duration_ms, min=0, min_inclusive=False)
    calls, summary = [], []
    for pol in policies:
        check_choice("policies", pol, sorted(POLICIES))
        sim = Sim(seed, latency=LATENCY)
        for name, ms in (("s1", fast_ms), ("s2", fast_ms), ("s3", slow_ms)):
            sim.add_node(
                name, server(Counter, workers=workers, queue=10_000, service_ms=Exponential(ms))
            )
        client = RpcClient(
            sim,
            "c1",
            ["s1", "s2", "s3"],
            connections_per_server=100_000,
            threads=100_000,
            dispatch_ms=0.0,
            filters=[TimeoutFilter(60_000.0), LoadBalanceFilter(pol)],
        )
        stub = client.stub(Counter)
        rows: list[dict[str, Any]] = []

        def one(i: int, stub: Any = stub, rows: list = rows, sim: Sim = sim, pol: str = pol) -> Any:
            start = sim.now
            res = yield from stub.get("x")
            rows.append(
                {"policy": pol, "start_ms": start, "latency_ms": res.latency_ms, "type": res.type}
            )

        sim.process(_poisson(sim, rate_per_s, duration_ms, one))
        sim.run()
        df = pd.DataFrame(rows)
        calls.append(df)
        served = {n: sim.handler(n).stats["completed"] for n in ("s1", "s2", "s3")}
        total = sum(served.values())
        summary.append(
            {
                "policy": pol,
                "calls": len(df),
                "mean_ms": float(df.latency_ms.mean()),
                "p50_ms": float(df.latency_ms.quantile(0.5)),
                "p99_ms": float(df.latency_ms.quantile(0.99)),
                "share_slow": served["s3"] / max(total, 1),
            }
        )
    return pd.concat(calls, ignore_index=True), pd.DataFrame(summary)


# -- 6. circuit breaker --------------------------------------------------------------------------
def breaker(
    seed: int = 1,
    *,
    rate_per_s: float = 200.0,
    timeout_ms: float = 50.0,
    fail_from_ms: float = 500.0,
    fail_until_ms: float = 1500.0,
    duration_ms: float = 2500.0,
    bin_ms: float = 50.0,
    open_ms: float = 200.0,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[tuple[float, str, str]]]]:
    """A dependency crashes from ``fail_from_ms`` to ``fail_until_ms``; without and with a breaker.

    Returns ``(series, summary, transitions)``: per bin the mean latency and error rate; per
    variant the totals; the breaker's state changes.
    """
    check_seed(seed)
    check_number("timeout_ms", timeout_ms, min=0, min_inclusive=False)
    check_number("fail_from_ms", fail_from_ms, min=0)
    check_number("fail_until_ms", fail_until_ms, min=fail_from_ms)
    check_number("duration_ms", duration_ms, min=fail_until_ms)
    check_number("bin_ms", bin_ms, min=0, min_inclusive=False)
    series, summary, transitions = [], [], {}
    for variant in ("no breaker", "breaker"):
        sim = Sim(seed, latency=LATENCY)
        sim.add_node("dep", server(Counter, workers=8, service_ms=Exponential(2.0)))
        filters: list[Any] = [TimeoutFilter(timeout_ms)]
        cb = None
        if variant == "breaker":
            cb = CircuitBreakerFilter(
                window=20, min_calls=10, failure_ratio=0.5, open_ms=open_ms, probes=3
            )
            filters.insert(0, cb)
        client = RpcClient(
            sim,
            "c1",
            ["dep"],
            filters=filters,
            connections_per_server=100_000,
            threads=100_000,
            dispatch_ms=0.0,
        )
        stub = client.stub(Counter)
        rows: list[dict[str, Any]] = []

        def one(i: int, stub: Any = stub, rows: list = rows, sim: Sim = sim) -> Any:
            start = sim.now
            res = yield from stub.get("x")
            rows.append(
                {
                    "start_ms": start,
                    "latency_ms": res.latency_ms,
                    "type": res.type,
                    "error": res.error,
                }
            )

        sim.crash("dep", at=fail_from_ms)
        sim.restart("dep", at=fail_until_ms)
        sim.process(_poisson(sim, rate_per_s, duration_ms, one))
        sim.run()
        df = pd.DataFrame(rows)
        df["bin"] = (df.start_ms // bin_ms) * bin_ms
        g = df.groupby("bin")
        s = (
            pd.DataFrame(
                {
                    "mean_latency_ms": g.latency_ms.mean(),
                    "error_rate": g.type.apply(lambda t: float((t != "ok").mean())),
                    "calls": g.size(),
                }
            )
            .reset_index()
            .rename(columns={"bin": "t_ms"})
        )
        s.insert(0, "variant", variant)
        series.append(s)
        during = df[(df.start_ms >= fail_from_ms) & (df.start_ms < fail_until_ms)]
        summary.append(
            {
                "variant": variant,
                "calls": len(df),
                "sent_to_dep": client.attempts,
                "mean_ms_during_failure": float(during.latency_ms.mean()),
                "fast_failures": int((df.error == "circuit_open").sum()),
                "timeouts": int((df.type == "info").sum()),
            }
        )
        transitions[variant] = list(cb.breaker.transitions) if cb else []
    return pd.concat(series, ignore_index=True), pd.DataFrame(summary), transitions


__all__ = ["anatomy", "balancing", "breaker", "idempotency", "load_sweep", "retry_storm"]
