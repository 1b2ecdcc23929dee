"""Gateway experiments: each runs a scenario and returns pandas DataFrames.

- :func:`limiter_trace` / :func:`boundary_burst`: the four rate limiters on one bursty trace.
- :func:`failing_backend`: one service dies; without a breaker its timeouts fill the gateway's
  shared call slots and every route suffers; with breaker + fallback the others stay healthy.
- :func:`canary`: gray release to ``v2`` by weight or by header; traffic share and error rate per
  version, and how many users were touched.
- :func:`cache_sweep`: response cache ttl against hit ratio, backend load and staleness.

All take a ``seed`` (every random draw comes from a stream of it) and validate their arguments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_choice, check_number, check_probability, check_seed, check_type
from dslab.gateway.balancing import CanaryRule
from dslab.gateway.limiters import make_limiter
from dslab.gateway.messages import ApiReply, ApiRequest, api
from dslab.gateway.node import Backend, Gateway, GatewayConfig
from dslab.gateway.routing import Route, RouteTable
from dslab.sim import Sim, Uniform
from dslab.sim.rng import stream

LIMITERS = ("fixed", "sliding", "token", "leaky")
TOKEN = "t-alice"


# -- 1. rate limiters ---------------------------------------------------------------------------
def bursty_trace(seed: int, *, duration_ms: float = 4000.0, base_per_s: float = 4.0,
                 limit: int = 10, window_ms: float = 1000.0) -> list[float]:
    """Arrival times (ms): Poisson background at ``base_per_s``, a burst of ``2*limit`` requests
    in the 100 ms straddling the window edge at ``2*window_ms``, and a burst of ``2*limit`` in
    the middle of the first window."""
    check_seed(seed)
    check_number("duration_ms", duration_ms, min=0, min_inclusive=False)
    check_number("base_per_s", base_per_s, min=0, min_inclusive=False)
    check_number("limit", limit, min=1, integer=True)
    check_number("window_ms", window_ms, min=0, min_inclusive=False)
    rng = stream(seed, "workload")
    times, t = [], 0.0
    while True:
        t += rng.expovariate(base_per_s / 1000.0)
        if t >= duration_ms:
            break
        times.append(t)
    edge = 2 * window_ms
    times += [edge - 50.0 + 50.0 * k / limit for k in range(limit)]  # just before the edge
    times += [edge + 50.0 * k / limit for k in range(limit)]  # just after it
    times += [0.4 * window_ms + 50.0 * k / (2 * limit) for k in range(2 * limit)]
    return sorted(x for x in times if x < duration_ms)


def limiter_trace(seed: int = 1, *, limit: int = 10, window_ms: float = 1000.0,
                  duration_ms: float = 4000.0, base_per_s: float = 4.0) -> pd.DataFrame:
    """One row per (limiter, arrival): ``t_ms``, ``admitted``, ``leave_ms`` (when the request
    passes on: its arrival, or its turn in the leaky bucket's queue)."""
    times = bursty_trace(seed, duration_ms=duration_ms, base_per_s=base_per_s, limit=limit,
                         window_ms=window_ms)
    rows = []
    for kind in LIMITERS:
        lim = make_limiter(kind, limit, window_ms)
        for t in times:
            ok = lim.allow(t)
            leave = getattr(lim, "departure_ms", t) if ok else math.nan
            rows.append({"limiter": lim.name, "t_ms": t, "admitted": ok, "leave_ms": leave,
                         "seed": seed})
    return pd.DataFrame(rows)


def max_in_window(times: Iterable[float], window_ms: float) -> int:
    """The largest number of ``times`` inside any half-open interval of length ``window_ms``."""
    ts = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(ts):
        while ts[j] <= t - window_ms:
            j += 1
        best = max(best, i - j + 1)
    return best


def limiter_summary(trace: pd.DataFrame, window_ms: float = 1000.0) -> pd.DataFrame:
    """Per limiter: arrivals, admitted, and the most requests passed on in any ``window_ms``."""
    rows = []
    for name, g in trace.groupby("limiter", sort=False):
        passed = g.loc[g["admitted"], "leave_ms"]
        rows.append({"limiter": name, "arrivals": len(g), "admitted": int(g["admitted"].sum()),
                     "max_per_window": max_in_window(passed, window_ms),
                     "max_per_100ms": max_in_window(passed, 100.0)})
    return pd.DataFrame(rows)


def boundary_burst(limit: int = 10, window_ms: float = 1000.0) -> pd.DataFrame:
    """``limit`` requests in the last 10% of a window and ``limit`` in the first 10% of the next:
    how many each limiter admits (fixed window: ``2*limit`` within ``0.2*window_ms``)."""
    check_number("limit", limit, min=1, integer=True)
    check_number("window_ms", window_ms, min=0, min_inclusive=False)
    span = 0.1 * window_ms
    times = [window_ms - span + span * k / limit for k in range(limit)]
    times += [window_ms + span * k / limit for k in range(limit)]
    rows = []
    for kind in LIMITERS:
        lim = make_limiter(kind, limit, window_ms)
        # start the buckets drained of history: the first window was quiet
        admitted = sum(lim.allow(t) for t in times)
        rows.append({"limiter": lim.name, "arrivals": len(times), "admitted": admitted})
    return pd.DataFrame(rows)


# -- the gateway runner ------------------------------------------------------------------------
def run_gateway(
    seed: int,
    config: GatewayConfig,
    backends: dict[str, Callable[[], Backend]],
    make_request: Callable[[Any, int], ApiRequest],
    *,
    rate_per_s: float = 200.0,
    duration_ms: float = 3000.0,
    faults: Iterable[tuple[str, str, float]] = (),
    client_timeout_ms: float = 2000.0,
) -> tuple[pd.DataFrame, Sim]:
    """Run a gateway ``gw`` with ``backends`` under open-loop Poisson traffic.

    ``make_request(rng, i)`` builds the i-th request; ``faults`` are ``(verb, node, at_ms)``
    with verb ``crash`` or ``restart``. One row per request: ``t_ms`` (sent), ``route``,
    ``status`` (None: the client timed out), ``latency_ms``, ``instance``, ``version``,
    ``cached``, ``fallback``, ``body``, ``t_done``.
    """
    check_seed(seed)
    check_type("config", config, GatewayConfig)
    check_number("rate_per_s", rate_per_s, min=0, min_inclusive=False)
    check_number("duration_ms", duration_ms, min=0, min_inclusive=False)
    check_number("client_timeout_ms", client_timeout_ms, min=0, min_inclusive=False)
    sim = Sim(seed, latency=Uniform(0.5, 1.5))
    sim.add_node("gw", lambda: Gateway(config))
    for name in sorted(backends):
        sim.add_node(name, backends[name])
    for verb, node, at in faults:
        check_choice("fault verb", verb, ("crash", "restart"))
        getattr(sim, verb)(node, at=at)
    client = sim.add_client("c")
    table = RouteTable(config.routes)
    rng = sim.stream("workload")
    rows: list[dict[str, Any]] = []

    def one(req: ApiRequest) -> Any:
        route = table.match(req.path)
        t0 = sim.now
        res = yield from client.call("gw", req, timeout_ms=client_timeout_ms)
        rep = res.value if isinstance(res.value, ApiReply) else None
        rows.append({
            "t_ms": t0, "route": route.prefix if route else None,
            "user": req.header("user"), "status": rep.status if rep else None,
            "latency_ms": res.latency_ms, "instance": rep.instance if rep else None,
            "version": rep.version if rep else None, "cached": bool(rep and rep.cached),
            "fallback": bool(rep and rep.fallback), "body": rep.body if rep else None,
            "t_done": sim.now,
        })

    def workload() -> Any:
        i = 0
        while True:
            yield sim.sleep(rng.expovariate(rate_per_s / 1000.0))
            if sim.now >= duration_ms:
                return
            sim.process(one(make_request(rng, i)))
            i += 1

    sim.process(workload())
    sim.run(until=duration_ms + client_timeout_ms + 10.0)
    df = pd.DataFrame(rows, columns=["t_ms", "route", "user", "status", "latency_ms", "instance",
                                     "version", "cached", "fallback", "body", "t_done"])
    df = df.sort_values(["t_ms"], kind="stable").reset_index(drop=True)
    df["seed"] = seed
    return df, sim


# -- 2. a failing backend -------------------------------------------------------------------------
SERVICES = {"orders": ("o1", "o2", "o3"), "users": ("u1", "u2"), "items": ("i1", "i2")}


def failing_backend(seed: int = 1, *, breaker: bool = True, fail_at_ms: float = 1000.0,
                    rate_per_s: float = 300.0, duration_ms: float = 4000.0,
                    timeout_ms: float = 200.0, max_concurrent: int = 30) -> pd.DataFrame:
    """Three services behind one gateway; every ``orders`` instance crashes at ``fail_at_ms``.

    Returns one row per request (see :func:`run_gateway`) with a ``variant`` column.
    """
    check_type("breaker", breaker, bool)
    check_number("fail_at_ms", fail_at_ms, min=0)
    config = GatewayConfig(
        routes=tuple(Route("/" + s, s) for s in SERVICES),
        instances=tuple((s, i, "v1") for s, insts in SERVICES.items() for i in insts),
        tokens=(TOKEN,), timeout_ms=timeout_ms, retries=1, max_concurrent=max_concurrent,
        queue_limit=1000,
        breaker={"window": 20, "min_calls": 10, "failure_ratio": 0.5, "open_ms": 1000.0}
        if breaker else None,
    )
    backends = {i: (lambda s=s: Backend(s, service_ms=10.0, jitter_ms=10.0))
                for s, insts in SERVICES.items() for i in insts}
    names = sorted(SERVICES)

    def make(rng: Any, i: int) -> ApiRequest:
        return api(f"/{names[rng.randrange(len(names))]}/{i}", headers={"token": TOKEN})

    faults = [("crash", i, fail_at_ms) for i in SERVICES["orders"]]
    df, _ = run_gateway(seed, config, backends, make, rate_per_s=rate_per_s,
                        duration_ms=duration_ms, faults=faults)
    df["variant"] = "breaker + fallback" if breaker else "no breaker"
    return df


def per_route_bins(df: pd.DataFrame, bin_ms: float = 200.0) -> pd.DataFrame:
    """Per route and time bin: requests, ``ok_ratio`` (200 from a real backend), fallback ratio,
    and the 95th-percentile latency."""
    check_number("bin_ms", bin_ms, min=0, min_inclusive=False)
    d = df.assign(bin_ms=(df["t_ms"] // bin_ms) * bin_ms,
                  real_ok=(df["status"] == 200) & ~df["fallback"])
    keys = [k for k in ("variant", "route") if k in d.columns] + ["bin_ms"]
    g = d.groupby(keys, sort=True)
    out = g.agg(requests=("t_ms", "size"), ok_ratio=("real_ok", "mean"),
                fallback_ratio=("fallback", "mean"),
                p95_latency_ms=("latency_ms", lambda s: float(s.quantile(0.95))))
    return out.reset_index()


def failing_summary(df: pd.DataFrame, after_ms: float = 1500.0) -> pd.DataFrame:
    """Per variant and route, requests sent after ``after_ms``: ok ratio, fallback ratio, p95."""
    d = df[df["t_ms"] >= after_ms].assign(real_ok=lambda x: (x["status"] == 200) & ~x["fallback"])
    g = d.groupby(["variant", "route"], sort=True)
    return g.agg(requests=("t_ms", "size"), ok_ratio=("real_ok", "mean"),
                 fallback_ratio=("fallback", "mean"),
                 p95_latency_ms=("latency_ms", lambda s: round(float(s.quantile(0.95)), 1))
                 ).reset_index()


# -- 3. canary release ----------------------------------------------------------------------------
def canary(seed: int = 1, *, mode: str = "weight", weight: float = 0.05,
           header_fraction: float = 0.05, users: int = 400, rate_per_s: float = 500.0,
           duration_ms: float = 4000.0, v1_error_rate: float = 0.01,
           v2_error_rate: float = 0.2) -> pd.DataFrame:
    """Gray release of a buggy ``v2`` of service ``api`` (three v1 instances, one v2).

    ``mode="weight"``: each request goes to v2 with probability ``weight``. ``mode="header"``:
    the users whose number is below ``header_fraction * users`` carry ``x-canary: 1`` and all
    their requests go to v2. One row per request, with ``mode`` and ``user``.
    """
    check_choice("mode", mode, ("weight", "header"))
    check_probability("weight", weight)
    check_probability("header_fraction", header_fraction)
    check_number("users", users, min=1, integer=True)
    check_probability("v1_error_rate", v1_error_rate)
    check_probability("v2_error_rate", v2_error_rate)
    insts = (("api", "a1", "v1"), ("api", "a2", "v1"), ("api", "a3", "v1"), ("api", "a4", "v2"))
    rule = (CanaryRule("api", weight=weight) if mode == "weight"
            else CanaryRule("api", header="x-canary", value="1"))
    config = GatewayConfig(routes=(Route("/api", "api"),), instances=insts, tokens=(TOKEN,),
                           canary=(rule,), timeout_ms=200.0, retries=0)
    backends = {i: (lambda v=v: Backend("api", v, service_ms=5.0,
                                        error_rate=v1_error_rate if v == "v1" else v2_error_rate))
                for _, i, v in insts}
    n_canary = int(round(header_fraction * users))

    def make(rng: Any, i: int) -> ApiRequest:
        u = rng.randrange(users)
        headers = {"token": TOKEN, "user": f"u{u}"}
        if u < n_canary:
            headers["x-canary"] = "1"
        return api(f"/api/{i}", headers=headers)

    df, _ = run_gateway(seed, config, backends, make, rate_per_s=rate_per_s,
                        duration_ms=duration_ms)
    df["mode"] = mode
    return df


def canary_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per mode and version: share of requests, error rate; and per mode the share of users who
    saw v2 and who saw at least one v2 error."""
    rows = []
    for mode, g in df.groupby("mode", sort=False):
        users = g["user"].nunique()
        for version, gv in g.groupby("version", sort=True):
            rows.append({
                "mode": mode, "version": version, "requests": len(gv),
                "share": round(len(gv) / len(g), 4),
                "error_rate": round(float((gv["status"] != 200).mean()), 4),
                "users_touched": round(gv["user"].nunique() / users, 3),
                "users_with_error": round(gv.loc[gv["status"] != 200, "user"].nunique() / users, 3),
            })
    return pd.DataFrame(rows)


# -- 4. response cache ---------------------------------------------------------------------------
def cache_run(seed: int = 1, *, ttl_ms: float = 500.0, data_period_ms: float = 700.0,
              keys: int = 20, rate_per_s: float = 400.0, duration_ms: float = 5000.0
              ) -> pd.DataFrame:
    """``/items/<k>`` for ``keys`` keys, cached for ``ttl_ms``; the data changes every
    ``data_period_ms``. Rows as :func:`run_gateway` plus ``stale`` and ``age_ms`` (how long ago
    the answer stopped being current; 0 when fresh)."""
    check_number("ttl_ms", ttl_ms, min=0)
    check_number("data_period_ms", data_period_ms, min=0, min_inclusive=False)
    check_number("keys", keys, min=1, integer=True)
    config = GatewayConfig(routes=(Route("/items", "items", cache_ttl_ms=ttl_ms),),
                           instances=(("items", "i1", "v1"), ("items", "i2", "v1")),
                           tokens=(TOKEN,), timeout_ms=200.0)
    backends = {i: (lambda: Backend("items", service_ms=5.0, data_period_ms=data_period_ms))
                for i in ("i1", "i2")}

    def make(rng: Any, i: int) -> ApiRequest:
        return api(f"/items/{rng.randrange(keys)}", headers={"token": TOKEN})

    df, sim = run_gateway(seed, config, backends, make, rate_per_s=rate_per_s,
                          duration_ms=duration_ms)
    current = (df["t_done"] // data_period_ms).astype(int)
    df["stale"] = df["body"].astype(int) < current
    df["age_ms"] = (df["t_done"] - (df["body"].astype(int) + 1) * data_period_ms).clip(lower=0)
    df["ttl_ms"] = ttl_ms
    df.attrs["backend_calls"] = sim.handler("gw").stats["backend_calls"]
    return df


def cache_sweep(seed: int = 1, ttls_ms: Iterable[float] = (0, 50, 100, 250, 500, 1000, 2000),
                *, progress: bool = False, **kwargs: Any) -> pd.DataFrame:
    """One row per ttl: hit ratio, backend calls per second, stale ratio, mean and max age."""
    check_seed(seed)
    ttls = list(ttls_ms)
    for i, t in enumerate(ttls):
        check_number(f"ttls_ms[{i}]", t, min=0)
    duration = kwargs.get("duration_ms", 5000.0)
    rows = []
    for ttl in tqdm(ttls, disable=not progress, desc="ttl"):
        df = cache_run(seed, ttl_ms=float(ttl), **kwargs)
        rows.append({"ttl_ms": float(ttl), "requests": len(df),
                     "hit_ratio": round(float(df["cached"].mean()), 4),
                     "backend_calls_per_s": round(df.attrs["backend_calls"] / duration * 1000, 1),
                     "stale_ratio": round(float(df["stale"].mean()), 4),
                     "mean_age_ms": round(float(df["age_ms"].mean()), 1),
                     "max_age_ms": round(float(df["age_ms"].max()), 1), "seed": seed})
    return pd.DataFrame(rows)
