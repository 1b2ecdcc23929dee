"""The RPC chapter's scenarios: each runs :class:`~dslab.sim.Sim` runs and returns a
:class:`~dslab.sim.scenario.Result`.

1. :func:`anatomy` - where the time of one call goes, stage by stage.
2. :func:`load_sweep` - latency and rejections against offered load (a bounded server pool).
3. :func:`retry_storm` - timeouts plus naive retries amplify load until goodput collapses.
4. :func:`idempotency` - a retried non-idempotent call applies twice; call ids (dedupe) fix it.
5. :func:`balancing` - random / round robin / least active with one slow server.
6. :func:`breaker` - a circuit breaker isolating a failing dependency, over time.
7. :func:`isolation` - one slow method starves a shared server pool; a method thread cap or
   Pigeon's slow-request isolation keeps the fast method alive.
8. :func:`corruption` - bits flipped on the wire: JSON alone runs some calls with wrong arguments;
   a CRC-32 frame turns every one into a definite ``corrupt_frame``.
9. :func:`compression_table` - what zlib saves on different payloads (real bytes).
10. :func:`server_filters` - auth and rate limiting refuse calls before they take a thread.

Conventions (:mod:`dslab.sim.scenario`): the seed comes first; servers are added by
:func:`build` (``build(sim, n=..., node_cls=RpcServer, iface=...)``), so ``node_cls`` swaps the
server role for a subclass of :class:`~dslab.rpc.server.RpcServer`. The servers keep the names
this chapter always used (``s1`` .., ``dep``, ``db``): renaming them would change every recorded
history. A scenario that compares variants runs one simulation per variant; its
``Result.history`` is None and ``metadata["histories"]`` maps each variant to its history. The
other tables a scenario measured (summaries, transitions) are in ``metadata`` too. The numbers are
computed by the pure functions of :mod:`dslab.rpc.analysis`.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from random import Random
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_choice, check_number, check_probability, check_seed
from dslab.history import History
from dslab.rpc.analysis import (
    attempt_bins,
    error_bins,
    failure_counts,
    fmt_bytes,
    load_row,
    method_bins,
    method_success,
    stage_means,
)
from dslab.rpc.balance import POLICIES
from dslab.rpc.client import RpcClient
from dslab.rpc.codec import Codec
from dslab.rpc.filters import (
    CircuitBreakerFilter,
    HeaderFilter,
    LoadBalanceFilter,
    RetryFilter,
    TimeoutFilter,
)
from dslab.rpc.interface import Service
from dslab.rpc.isolation import SlowRequestIsolation
from dslab.rpc.pipeline import COMPRESSED, FramedCodec, frame
from dslab.rpc.server import AuthFilter, Downstream, RateLimitFilter, RpcServer
from dslab.rpc.services import Api, Counter, Database, Echo
from dslab.sim import Constant, Exponential, Sim, Uniform
from dslab.sim.scenario import Result, build_nodes, check_node_cls, node_names

LATENCY = Uniform(0.4, 0.6)  # a data-centre network: about half a millisecond each way


# -- the builder -----------------------------------------------------------------------------------
def build(
    sim: Sim,
    n: int = 1,
    node_cls: type[RpcServer] = RpcServer,
    *,
    iface: type[Service] = Counter,
    names: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[str]:
    """Add ``n`` servers of ``iface`` running ``node_cls(iface, **kwargs)``; their names
    (``names``, else ``s1 .. sN``). The arguments are checked now, not at boot."""
    check_node_cls(node_cls, base=RpcServer)
    node_cls(iface, **kwargs)  # validate now, not inside the simulator
    names = list(names) if names is not None else node_names(n, prefix="s")
    return build_nodes(sim, n, node_cls, names=names, iface=iface, **kwargs)


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


def _poisson_named(
    sim: Sim, stream: str, rate_per_s: float, duration_ms: float, method: str, fire: Any
) -> Generator[Any, Any, None]:
    """Like :func:`_poisson`, from its own random stream (a second workload must not reshuffle
    the first one's arrival times)."""
    rng = sim.stream(stream)
    i = 0
    while True:
        yield sim.sleep(rng.expovariate(rate_per_s / 1000.0))
        if sim.now >= duration_ms:
            return
        sim.process(fire(i, method))
        i += 1


def _variants(seed: int, df: pd.DataFrame, histories: dict[str, History], **meta: Any) -> Result:
    return Result(df, None, seed, {**meta, "histories": histories})


# -- 1. anatomy ----------------------------------------------------------------------------------
def anatomy(
    seed: int = 1,
    *,
    payload_bytes: Sequence[int] = (100, 100_000),
    callers: Sequence[int] = (1, 8),
    connections: int = 2,
    service_ms: float = 2.0,
    calls_per_caller: int = 20,
    node_cls: type[RpcServer] = RpcServer,
) -> Result:
    """Mean time per stage of a call, for each (payload size, concurrent callers) pair.

    ``frame``: one row per pair; ``metadata["histories"]`` keyed by the row's label."""
    check_seed(seed)
    check_number("connections", connections, min=1, integer=True)
    check_number("service_ms", service_ms, min=0)
    check_number("calls_per_caller", calls_per_caller, min=1, integer=True)
    rows, histories = [], {}
    for size in payload_bytes:
        check_number("payload_bytes", size, min=0, integer=True)
        for n in callers:
            check_number("callers", n, min=1, integer=True)
            sim = Sim(seed, latency=LATENCY)
            build(sim, 1, node_cls, iface=Echo, workers=4, queue=64,
                  service_ms=Exponential(service_ms))
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
            mean, count = stage_means(client.log)
            label = f"{fmt_bytes(size)}, {n} caller{'s' if n > 1 else ''}"
            rows.append(
                {
                    "payload_bytes": size,
                    "callers": n,
                    "label": label,
                    **mean.to_dict(),
                    "total": float(mean.sum()),
                    "calls": count,
                }
            )
            histories[label] = sim.history
    return _variants(seed, pd.DataFrame(rows), histories)


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
    node_cls: type[RpcServer] = RpcServer,
) -> tuple[pd.DataFrame, Sim, RpcClient]:
    sim = Sim(seed, latency=LATENCY)
    build(sim, 1, node_cls, iface=Counter, workers=workers, queue=queue,
          service_ms=Exponential(service_ms))
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
    node_cls: type[RpcServer] = RpcServer,
) -> Result:
    """p50/p99 latency and rejections against offered load; capacity = workers / service_ms.

    ``frame``: one row per rate; ``metadata["histories"]`` keyed by the rate."""
    check_seed(seed)
    check_number("workers", workers, min=1, integer=True)
    check_number("queue", queue, min=0, integer=True)
    check_number("service_ms", service_ms, min=0, min_inclusive=False)
    check_number("duration_ms", duration_ms, min=0, min_inclusive=False)
    rows, histories = [], {}
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
            node_cls=node_cls,
        )
        rows.append(load_row(df, rate, workers=workers, service_ms=service_ms,
                             duration_ms=duration_ms))
        histories[float(rate)] = sim.history
    return _variants(seed, pd.DataFrame(rows), histories)


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
    node_cls: type[RpcServer] = RpcServer,
) -> Result:
    """A 200 ms server stall at t=300 ms under 75% load, with three retry policies.

    ``frame`` (the series): per time bin the attempts sent and the goodput (ok calls per second,
    by completion time); ``metadata["summary"]``: per variant the totals.
    """
    check_seed(seed)
    check_number("pause_ms", pause_ms, min=0)
    check_number("bin_ms", bin_ms, min=0, min_inclusive=False)
    for v in variants:
        check_choice("variants", v, RETRY_VARIANTS)
    series, summary, histories = [], [], {}
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
            node_cls=node_cls,
        )
        send_times = [r["sent_ms"] for r in client.log if "sent_ms" in r]
        ok_end = df[df.type == "ok"].end_ms.to_numpy()
        series.extend(attempt_bins(v, send_times, ok_end, duration_ms=duration_ms, bin_ms=bin_ms))
        late = df[df.start_ms >= duration_ms - 500.0]
        summary.append(
            {
                "variant": v,
                "calls": len(df),
                "attempts": client.attempts,
                "amplification": client.attempts / max(len(df), 1),
                "ok_frac": float((df.type == "ok").mean()),
                "ok_frac_last_500ms": float((late.type == "ok").mean()) if len(late) else
                float("nan"),
                "server_applied": sim.handler("s1").stats["applied"],
            }
        )
        histories[v] = sim.history
    return _variants(seed, pd.DataFrame(series), histories, summary=pd.DataFrame(summary))


# -- 4. idempotency ------------------------------------------------------------------------------
def idempotency(
    seed: int = 1,
    *,
    calls: int = 10,
    service_low_ms: float = 2.0,
    service_high_ms: float = 10.0,
    timeout_ms: float = 6.0,
    node_cls: type[RpcServer] = RpcServer,
) -> Result:
    """``incr`` (service time uniform on [low, high]) with a timeout that some calls exceed.

    Variants: no retry; retry (non-idempotent allowed); retry with server-side dedupe by call id.
    ``applied`` counts how often the server ran ``incr``; the counter should end at ``calls``.
    """
    check_seed(seed)
    check_number("calls", calls, min=1, integer=True)
    check_number("service_low_ms", service_low_ms, min=0)
    check_number("service_high_ms", service_high_ms, min=service_low_ms)
    check_number("timeout_ms", timeout_ms, min=0, min_inclusive=False)
    rows, histories = [], {}
    for name, retry, dedupe in (
        ("no retry", False, False),
        ("retry incr", True, False),
        ("retry incr + dedupe", True, True),
    ):
        sim = Sim(seed, latency=LATENCY)
        build(sim, 1, node_cls, iface=Counter,
              service_ms=Uniform(service_low_ms, service_high_ms), dedupe=dedupe)
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
        histories[name] = sim.history
    return _variants(seed, pd.DataFrame(rows), histories)


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
    node_cls: type[RpcServer] = RpcServer,
) -> Result:
    """Three servers, ``s3`` ten times slower. ``frame``: one row per call;
    ``metadata["summary"]``: per policy the latency and the slow server's share."""
    check_seed(seed)
    check_number("rate_per_s", rate_per_s, min=0, min_inclusive=False)
    check_number("fast_ms", fast_ms, min=0, min_inclusive=False)
    check_number("slow_ms", slow_ms, min=0, min_inclusive=False)
    check_number("duration_ms", duration_ms, min=0, min_inclusive=False)
    calls, summary, histories = [], [], {}
    for pol in policies:
        check_choice("policies", pol, sorted(POLICIES))
        sim = Sim(seed, latency=LATENCY)
        for name, ms in (("s1", fast_ms), ("s2", fast_ms), ("s3", slow_ms)):
            build(sim, 1, node_cls, names=[name], iface=Counter, workers=workers, queue=10_000,
                  service_ms=Exponential(ms))
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
        histories[pol] = sim.history
    return _variants(seed, pd.concat(calls, ignore_index=True), histories,
                     summary=pd.DataFrame(summary))


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
    node_cls: type[RpcServer] = RpcServer,
) -> Result:
    """A dependency crashes from ``fail_from_ms`` to ``fail_until_ms``; without and with a breaker.

    ``frame`` (the series): per bin the mean latency and error rate; ``metadata["summary"]``: per
    variant the totals; ``metadata["transitions"]``: the breaker's state changes.
    """
    check_seed(seed)
    check_number("timeout_ms", timeout_ms, min=0, min_inclusive=False)
    check_number("fail_from_ms", fail_from_ms, min=0)
    check_number("fail_until_ms", fail_until_ms, min=fail_from_ms)
    check_number("duration_ms", duration_ms, min=fail_until_ms)
    check_number("bin_ms", bin_ms, min=0, min_inclusive=False)
    series, summary, transitions, histories = [], [], {}, {}
    for variant in ("no breaker", "breaker"):
        sim = Sim(seed, latency=LATENCY)
        build(sim, 1, node_cls, names=["dep"], iface=Counter, workers=8,
              service_ms=Exponential(2.0))
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
        series.append(error_bins(df, variant, bin_ms=bin_ms))
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
        histories[variant] = sim.history
    return _variants(seed, pd.concat(series, ignore_index=True), histories,
                     summary=pd.DataFrame(summary), transitions=transitions)


# -- server filters -------------------------------------------------------------------------------
def server_filters(
    seed: int = 1, *, calls: int = 6, interval_ms: float = 20.0,
    node_cls: type[RpcServer] = RpcServer,
) -> Result:
    """Two clients call one server whose filters are auth (token ``s3cret``) and a rate limit of
    20 calls/s with a burst of 2; ``c-good`` sends the token, ``c-bad`` does not."""
    check_seed(seed)
    check_number("calls", calls, min=1, integer=True)
    check_number("interval_ms", interval_ms, min=0, min_inclusive=False)
    sim = Sim(seed, latency=LATENCY)
    build(sim, 1, node_cls, iface=Counter,
          filters=[AuthFilter(["s3cret"]), RateLimitFilter(20.0, burst=2)])
    rows: list[dict[str, Any]] = []
    for name, headers in (("c-good", {"token": "s3cret"}), ("c-bad", {})):
        client = RpcClient(
            sim, name, ["s1"], filters=[HeaderFilter(**headers), TimeoutFilter(100.0)]
        )
        stub = client.stub(Counter)

        def work(stub: Any = stub, name: str = name) -> Any:
            for i in range(calls):
                t0 = sim.now
                res = yield from stub.incr("x")
                rows.append(
                    {
                        "client": name,
                        "call": i,
                        "sent_ms": round(t0, 1),
                        "type": res.type,
                        "error": res.error,
                    }
                )
                yield sim.sleep(interval_ms)

        sim.process(work())
    sim.run()
    df = pd.DataFrame(rows).sort_values(["sent_ms", "client"]).reset_index(drop=True)
    return Result(df, sim.history, seed)


# -- 7. slow-request isolation ------------------------------------------------------------------
ISOLATION_VARIANTS = ("shared pool only", "method thread cap", "slow-request isolation")


def isolation(
    seed: int = 1,
    *,
    variants: Sequence[str] = ISOLATION_VARIANTS,
    fast_per_s: float = 1000.0,
    slow_per_s: float = 100.0,
    workers: int = 8,
    queue: int = 32,
    slow_pool: tuple[int, int] = (4, 16),
    method_cap: int = 4,
    timeout_ms: float = 50.0,
    db_slow_ms: float = 200.0,
    incident_ms: tuple[float, float] = (1000.0, 3000.0),
    duration_ms: float = 4500.0,
    window_ms: float = 100.0,
    bin_ms: float = 100.0,
    node_cls: type[RpcServer] = RpcServer,
) -> Result:
    """``Api.fast`` (about 1 ms, from memory) and ``Api.slow`` (reads ``db``) share server ``s1``.

    During ``incident_ms`` (start, end) the database answers ``s1`` after ``db_slow_ms`` instead
    of about 1 ms, so each ``slow`` request holds a worker that long. Clients give up after
    ``timeout_ms``.
    ``frame`` (the series): per variant and time bin the success rate and mean latency of each
    method; ``metadata["summary"]``: per variant the totals during the incident;
    ``metadata["transitions"]``: for the isolation variant, when ``slow`` moved between pools.
    ``node_cls`` replaces the API server ``s1`` (the database stays an :class:`RpcServer`).
    """
    check_seed(seed)
    for v in variants:
        check_choice("variants", v, ISOLATION_VARIANTS)
    check_number("fast_per_s", fast_per_s, min=0, min_inclusive=False)
    check_number("slow_per_s", slow_per_s, min=0, min_inclusive=False)
    check_number("timeout_ms", timeout_ms, min=0, min_inclusive=False)
    check_number("db_slow_ms", db_slow_ms, min=0)
    check_number("bin_ms", bin_ms, min=0, min_inclusive=False)
    start, end = incident_ms
    check_number("incident_ms start", start, min=0)
    check_number("incident_ms end", end, min=start)
    check_number("duration_ms", duration_ms, min=end)
    series, summary, transitions, histories = [], [], {}, {}
    for v in variants:
        kwargs: dict[str, Any] = {}
        iso = None
        if v == "method thread cap":
            kwargs["method_threads"] = {"slow": method_cap}
        elif v == "slow-request isolation":
            iso = SlowRequestIsolation(timeout_ms, window_ms=window_ms)
            kwargs.update(pools={"slow": slow_pool}, isolation=iso)
        sim = Sim(seed, latency=LATENCY)
        build(sim, 1, RpcServer, names=["db"], iface=Database, workers=256, queue=0,
              service_ms=Uniform(0.5, 1.5))
        build(
            sim,
            1,
            node_cls,
            iface=Api,
            workers=workers,
            queue=queue,
            service_ms=Uniform(0.5, 1.5),
            downstream={"slow": [Downstream("db", Database, "query", {"key": "k"})]},
            **kwargs,
        )
        client = RpcClient(
            sim,
            "c1",
            ["s1"],
            filters=[TimeoutFilter(timeout_ms)],
            connections_per_server=100_000,
            threads=100_000,
            dispatch_ms=0.0,
        )
        stub = client.stub(Api)
        rows: list[dict[str, Any]] = []

        def one(i: int, method: str, stub: Any = stub, rows: list = rows, sim: Sim = sim) -> Any:
            t0 = sim.now
            res = yield from getattr(stub, method)()
            rows.append(
                {
                    "method": method,
                    "start_ms": t0,
                    "latency_ms": res.latency_ms,
                    "type": res.type,
                    "error": res.error,
                }
            )

        def slow_db(sim: Sim = sim) -> Any:
            yield sim.sleep(start)
            sim.net.configure(src="s1", dst="db", latency=Constant(db_slow_ms))
            yield sim.sleep(end - start)
            sim.net.configure(src="s1", dst="db", latency=LATENCY)

        sim.process(slow_db())
        sim.process(_poisson(sim, fast_per_s, duration_ms, lambda i, o=one: o(i, "fast")))
        sim.process(_poisson_named(sim, "workload/slow", slow_per_s, duration_ms, "slow", one))
        sim.run(until=duration_ms + 10 * timeout_ms + db_slow_ms)
        df = pd.DataFrame(rows)
        series.append(method_bins(df, v, bin_ms=bin_ms))
        during = df[(df.start_ms >= start) & (df.start_ms < end)]
        row: dict[str, Any] = {"variant": v, **method_success(during, ("fast", "slow"))}
        h = sim.handler("s1")
        row["method_limited"] = h.stats["method_limited"]
        row["rejected"] = h.stats["rejected"]
        summary.append(row)
        transitions[v] = list(iso.transitions) if iso else []
        histories[v] = sim.history
    return _variants(seed, pd.concat(series, ignore_index=True), histories,
                     summary=pd.DataFrame(summary), transitions=transitions)


# -- 8. corruption on the wire ------------------------------------------------------------------
def corruption(
    seed: int = 1, *, calls: int = 300, corrupt_prob: float = 0.2,
    node_cls: type[RpcServer] = RpcServer,
) -> Result:
    """``calls`` puts of ``(k<i>, i)`` over a link that flips one bit of a request with
    probability ``corrupt_prob``, with the plain JSON codec and with the CRC-32 frame.

    ``wrong_args_applied`` counts puts the server applied with a key/value pair that no client
    sent: silent corruption. ``detected`` counts definite failures, by error.
    """
    check_seed(seed)
    check_number("calls", calls, min=1, integer=True)
    check_probability("corrupt_prob", corrupt_prob)
    rows, histories = [], {}
    for name, codec in (("JSON only", Codec()), ("JSON + zlib + crc32 frame", FramedCodec())):
        sim = Sim(seed, latency=LATENCY)
        build(sim, 1, node_cls, iface=Counter, workers=4, queue=calls, codec=codec)
        client = RpcClient(
            sim,
            "c1",
            ["s1"],
            codec=codec,
            filters=[TimeoutFilter(1000.0)],
            corrupt_prob=corrupt_prob,
        )
        stub = client.stub(Counter)
        results: list[Any] = []

        def work(stub: Any = stub, results: list = results) -> Any:
            for i in range(calls):
                results.append((yield from stub.put(f"k{i}", i)))

        sim.process(work())
        sim.run()
        state = sim.handler("s1").impl.state
        sent = {f"k{i}": i for i in range(calls)}
        wrong = sum(1 for k, v in state.items() if sent.get(k) != v)
        missing = sum(1 for k in sent if k not in state)
        rows.append(
            {
                "codec": name,
                "calls": calls,
                "corrupted_on_wire": client.corrupted,
                "ok": sum(r.type == "ok" for r in results),
                "wrong_args_applied": wrong,
                "keys_missing": missing,
                **failure_counts(results),
            }
        )
        histories[name] = sim.history
    out = pd.DataFrame(rows)
    failed = [c for c in out.columns if c.startswith("failed: ")]
    out[failed] = out[failed].fillna(0).astype(int)
    return _variants(seed, out, histories)


# -- 9. compression ------------------------------------------------------------------------------
def compression_table(seed: int = 1) -> Result:
    """Real bytes before and after the frame, for payloads of different shapes (no simulation:
    ``history`` is None)."""
    check_seed(seed)
    rng = Random(seed)
    codec = Codec()
    payloads = {
        "small dict": {"key": "x", "by": 1},
        "100 similar rows": [{"id": i, "name": f"user{i}", "active": True} for i in range(100)],
        "text, 5 kB": " ".join(["the quick brown fox jumps over the lazy dog"] * 116),
        "random hex, 5 kB": "".join(f"{rng.getrandbits(8):02x}" for _ in range(2500)),
    }
    rows = []
    for label, value in payloads.items():
        body = codec.encode("Echo", 1, value)
        framed = frame(body)
        rows.append(
            {
                "payload": label,
                "json_bytes": len(body),
                "framed_bytes": len(framed),
                "compressed": bool(framed[2] & COMPRESSED),
                "ratio": len(framed) / len(body),
            }
        )
    return Result(pd.DataFrame(rows), None, seed)


__all__ = [
    "ISOLATION_VARIANTS",
    "LATENCY",
    "RETRY_VARIANTS",
    "anatomy",
    "balancing",
    "breaker",
    "build",
    "compression_table",
    "corruption",
    "idempotency",
    "isolation",
    "load_sweep",
    "retry_storm",
    "server_filters",
]
