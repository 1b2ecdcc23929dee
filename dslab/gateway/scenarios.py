"""The gateway chapter's scenarios: each runs a scenario and returns a
:class:`~dslab.sim.scenario.Result` (the numbers come from :mod:`dslab.gateway.analysis`).

- :func:`limiter_trace`: the four rate limiters on one bursty trace (no simulation).
- :func:`failing_backend`: one service dies; without a breaker its timeouts fill the gateway's
  shared call slots and every route suffers; with breaker + fallback the others stay healthy.
- :func:`canary`: gray release to ``v2`` by weight or by header; traffic share and error rate per
  version, and how many users were touched.
- :func:`cache_run` / :func:`cache_sweep`: response cache ttl against hit ratio, backend load
  and staleness.

All take a ``seed`` first (every random draw comes from a stream of it) and validate their
arguments. :func:`build` follows the builder convention of :mod:`dslab.sim.scenario`: it adds
the gateway ``gw`` running ``node_cls`` (a subclass of :class:`~dslab.gateway.node.Gateway`,
swappable for a student's class) and the backends; ``run_gateway(..., node_cls=...)`` passes
it on. The nodes keep the chapter's names (``gw``, ``o1`` ..): renaming them would change
every recorded history.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_choice, check_number, check_probability, check_seed, check_type
from dslab.gateway.analysis import LIMITERS, cache_row, cache_staleness
from dslab.gateway.balancing import CanaryRule
from dslab.gateway.limiters import make_limiter
from dslab.gateway.messages import ApiReply, ApiRequest, api
from dslab.gateway.node import Backend, Gateway, GatewayConfig
from dslab.gateway.routing import Route, RouteTable
from dslab.sim import Sim, Uniform
from dslab.sim.rng import stream
from dslab.sim.scenario import Result, check_node_cls

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
                  duration_ms: float = 4000.0, base_per_s: float = 4.0) -> Result:
    """One row per (limiter, arrival): ``t_ms``, ``admitted``, ``leave_ms`` (when the request
    passes on: its arrival, or its turn in the leaky bucket's queue). No simulation: the
    Result's history is None."""
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
    return Result(pd.DataFrame(rows), None, seed)








# -- the builder and the gateway runner --------------------------------------------------------
def build(
    sim: Sim,
    n: int = 1,
    node_cls: type[Gateway] = Gateway,
    *,
    config: GatewayConfig,
    backends: Mapping[str, Callable[[], Backend]] | None = None,
) -> list[str]:
    """Add ``n`` gateways running ``node_cls(config)`` (named ``gw``, or ``gw1 .. gwN`` when
    ``n > 1``) and the ``backends`` (name -> factory, added in name order); returns the
    gateways' names."""
    check_node_cls(node_cls, base=Gateway)
    check_type("config", config, GatewayConfig)
    check_number("n", n, min=1, integer=True)
    names = ["gw"] if n == 1 else [f"gw{i}" for i in range(1, n + 1)]
    for name in names:
        sim.add_node(name, lambda: node_cls(config))
    backends = dict(backends or {})
    for name in sorted(backends):
        sim.add_node(name, backends[name])
    return names


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
    node_cls: type[Gateway] = Gateway,
) -> Result:
    """Run a gateway ``gw`` with ``backends`` under open-loop Poisson traffic.

    ``make_request(rng, i)`` builds the i-th request; ``faults`` are ``(verb, node, at_ms)``
    with verb ``crash`` or ``restart``. One row per request: ``t_ms`` (sent), ``route``,
    ``status`` (None: the client timed out), ``latency_ms``, ``instance``, ``version``,
    ``cached``, ``fallback``, ``body``, ``t_done``. ``metadata["sim"]``: the finished
    simulation (the gateway's counters, for inspection).
    """
    check_seed(seed)
    check_type("config", config, GatewayConfig)
    check_number("rate_per_s", rate_per_s, min=0, min_inclusive=False)
    check_number("duration_ms", duration_ms, min=0, min_inclusive=False)
    check_number("client_timeout_ms", client_timeout_ms, min=0, min_inclusive=False)
    sim = Sim(seed, latency=Uniform(0.5, 1.5))
    build(sim, 1, node_cls, config=config, backends=backends)
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
    return Result(df, sim.history, seed, {"sim": sim})


# -- 2. a failing backend -------------------------------------------------------------------------
SERVICES = {"orders": ("o1", "o2", "o3"), "users": ("u1", "u2"), "items": ("i1", "i2")}


def failing_backend(seed: int = 1, *, breaker: bool = True, fail_at_ms: float = 1000.0,
                    rate_per_s: float = 300.0, duration_ms: float = 4000.0,
                    timeout_ms: float = 200.0, max_concurrent: int = 30,
                    node_cls: type[Gateway] = Gateway) -> Result:
    """Three services behind one gateway; every ``orders`` instance crashes at ``fail_at_ms``.

    ``frame``: one row per request (see :func:`run_gateway`) with a ``variant`` column.
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
    result = run_gateway(seed, config, backends, make, rate_per_s=rate_per_s,
                         duration_ms=duration_ms, faults=faults, node_cls=node_cls)
    df = result.frame
    df["variant"] = "breaker + fallback" if breaker else "no breaker"
    return Result(df, result.history, seed)






# -- 3. canary release ----------------------------------------------------------------------------
def canary(seed: int = 1, *, mode: str = "weight", weight: float = 0.05,
           header_fraction: float = 0.05, users: int = 400, rate_per_s: float = 500.0,
           duration_ms: float = 4000.0, v1_error_rate: float = 0.01,
           v2_error_rate: float = 0.2, node_cls: type[Gateway] = Gateway) -> Result:
    """Gray release of a buggy ``v2`` of service ``api`` (three v1 instances, one v2).

    ``mode="weight"``: each request goes to v2 with probability ``weight``. ``mode="header"``:
    the users whose number is below ``header_fraction * users`` carry ``x-canary: 1`` and all
    their requests go to v2. ``frame``: one row per request, with ``mode`` and ``user``.
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

    result = run_gateway(seed, config, backends, make, rate_per_s=rate_per_s,
                         duration_ms=duration_ms, node_cls=node_cls)
    df = result.frame
    df["mode"] = mode
    return Result(df, result.history, seed)




# -- 4. response cache ---------------------------------------------------------------------------
def cache_run(seed: int = 1, *, ttl_ms: float = 500.0, data_period_ms: float = 700.0,
              keys: int = 20, rate_per_s: float = 400.0, duration_ms: float = 5000.0,
              node_cls: type[Gateway] = Gateway) -> Result:
    """``/items/<k>`` for ``keys`` keys, cached for ``ttl_ms``; the data changes every
    ``data_period_ms``. Rows as :func:`run_gateway` plus ``stale`` and ``age_ms`` (how long ago
    the answer stopped being current; 0 when fresh). ``metadata["backend_calls"]``: how many
    calls the gateway made to the backends."""
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

    result = run_gateway(seed, config, backends, make, rate_per_s=rate_per_s,
                         duration_ms=duration_ms, node_cls=node_cls)
    df = cache_staleness(result.frame, data_period_ms)
    df["ttl_ms"] = ttl_ms
    calls = result.metadata["sim"].handler("gw").stats["backend_calls"]
    return Result(df, result.history, seed, {"backend_calls": calls})


def cache_sweep(seed: int = 1, ttls_ms: Iterable[float] = (0, 50, 100, 250, 500, 1000, 2000),
                *, progress: bool = False, **kwargs: Any) -> Result:
    """One row per ttl: hit ratio, backend calls per second, stale ratio, mean and max age."""
    check_seed(seed)
    ttls = list(ttls_ms)
    for i, t in enumerate(ttls):
        check_number(f"ttls_ms[{i}]", t, min=0)
    duration = kwargs.get("duration_ms", 5000.0)
    rows, histories = [], {}
    for ttl in tqdm(ttls, disable=not progress, desc="ttl"):
        run = cache_run(seed, ttl_ms=float(ttl), **kwargs)
        rows.append(cache_row(run.frame, ttl, run.metadata["backend_calls"], duration, seed))
        histories[float(ttl)] = run.history
    return Result(pd.DataFrame(rows), None, seed, {"histories": histories})


__all__ = ["LIMITERS", "SERVICES", "TOKEN", "build", "bursty_trace", "cache_run", "cache_sweep",
           "canary", "failing_backend", "limiter_trace", "run_gateway"]
