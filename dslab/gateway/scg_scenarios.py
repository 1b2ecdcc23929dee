"""Scenarios on the Spring Cloud Gateway features: predicates, ordered pre/post filters, and
routes that follow the service registry. Each takes a ``seed`` first and returns a
:class:`~dslab.sim.scenario.Result`; the tables are computed by :mod:`dslab.gateway.scg_analysis`.

- :func:`predicate_routing`: a mixed workload against a table of routes with method, header,
  query, host, time-window and weight predicates; which route each request took.
- :func:`filter_demo`: a gateway with global and route filters; per request the answer (status,
  body, response headers), the metrics the post-filter recorded, and the order in which the
  filters' pre and post halves ran for one request of each route.
- :func:`registry_routes`: the gateway takes its instances from the naming service; an instance
  joins, another deregisters and shuts down ``drain_ms`` later. With pushes the gateway stops
  calling it within a network delay; polling every ``refresh_ms`` leaves a window in which
  calls still go to it (and fail once it is gone).

The gateway is added by :func:`dslab.gateway.scenarios.build`, so ``node_cls`` swaps it for a
student's subclass of :class:`~dslab.gateway.node.Gateway`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dslab._validate import check_choice, check_number, check_seed
from dslab.gateway.messages import ApiReply, ApiRequest, api
from dslab.gateway.node import Backend, Gateway, GatewayConfig
from dslab.gateway.ordered import (
    AddRequestHeader,
    AddResponseHeader,
    Metrics,
    RequireHeader,
    RewriteErrors,
    StripPrefix,
)
from dslab.gateway.predicates import Between, Header, Host, Method, Query, Weight
from dslab.gateway.routing import Route, RouteTable
from dslab.gateway.scenarios import build
from dslab.gateway.scg_analysis import route_summary, trace_table
from dslab.governance.mns import NamingService
from dslab.sim import Sim, Uniform
from dslab.sim.rng import stream
from dslab.sim.scenario import Result


# -- 1. predicates ---------------------------------------------------------------------------------
def demo_routes(promo_start_ms: float = 1000.0, promo_end_ms: float = 2000.0,
                v2_weight: int = 1, v1_weight: int = 9) -> tuple[Route, ...]:
    """The route table of :func:`predicate_routing` (lower ``order`` is tried first)."""
    return (
        Route("/", "admin", predicates=(Host("admin.example.com"),), order=-2, id="admin"),
        Route("/orders", "orders-write", predicates=(Method("POST", "PUT", "DELETE"),),
              order=-1, id="orders-write"),
        Route("/orders", "orders-v1", predicates=(Weight("orders", v1_weight),), id="orders-v1"),
        Route("/orders", "orders-v2", predicates=(Weight("orders", v2_weight),), id="orders-v2"),
        Route("/items", "items-beta", predicates=(Header("x-beta", "1|true"),), order=-1,
              id="items-beta"),
        Route("/items", "items-debug", predicates=(Query("debug", "true"),), order=-1,
              id="items-debug"),
        Route("/items", "promo", predicates=(Between(promo_start_ms, promo_end_ms),),
              order=-1, id="promo"),
        Route("/items", "items", id="items"),
        Route("/", "web", id="web"),
    )




def predicate_routing(seed: int = 1, *, requests: int = 900, duration_ms: float = 3000.0,
                      promo_start_ms: float = 1000.0, promo_end_ms: float = 2000.0,
                      v2_weight: int = 1, v1_weight: int = 9) -> Result:
    """``requests`` random requests at uniform times in ``[0, duration_ms)`` through
    :func:`demo_routes`: 20% writes, 10% to host ``admin.example.com``, 10% with ``x-beta: 1``,
    5% with ``?debug=true``; paths ``/orders/k``, ``/items/k`` or ``/about``. One row per request
    with the ``route`` id it took (the weight draws come from the gateway's stream). No
    simulation runs (the table decides alone): the Result's history is None."""
    check_seed(seed)
    check_number("requests", requests, min=1, integer=True)
    check_number("duration_ms", duration_ms, min=0, min_inclusive=False)
    table = RouteTable(demo_routes(promo_start_ms, promo_end_ms, v2_weight, v1_weight))
    work, gw_rng = stream(seed, "workload"), stream(seed, "node/gw")
    times = sorted(work.uniform(0, duration_ms) for _ in range(requests))
    rows = []
    for i, t in enumerate(times):
        method = "POST" if work.random() < 0.2 else "GET"
        path = work.choice(("/orders/", "/items/", "/about"))
        path = path + str(i) if path.endswith("/") else path
        host = "admin.example.com" if work.random() < 0.1 else "api.example.com"
        beta, debug = work.random() < 0.1, work.random() < 0.05
        req = api(path, {"debug": "true"} if debug else None,
                  {"host": host, **({"x-beta": "1"} if beta else {})}, method)
        route = table.select(req, t, gw_rng)
        rows.append({"t_ms": t, "method": method, "path": path, "host": host, "beta": beta,
                     "debug": debug, "route": route.id if route else None})
    df = pd.DataFrame(rows)
    df["seed"] = seed
    return Result(df, None, seed)


# -- 2. ordered filters, pre and post --------------------------------------------------------------
def filter_config(*, metrics_order: int = -10) -> GatewayConfig:
    """Global filters: Metrics and AddResponseHeader. Route ``/api`` (service ``orders``, which
    fails 20% of its calls): StripPrefix, AddRequestHeader, RewriteErrors. Route ``/admin``:
    RequireHeader ``x-role`` (403 without it), at order -20."""
    routes = (
        Route("/api", "orders", id="api", filters=(
            StripPrefix(1, order=1), AddRequestHeader("x-from", "gateway", order=2),
            RewriteErrors(order=-5))),
        Route("/admin", "admin", id="admin", filters=(RequireHeader("x-role", order=-20),)),
    )
    return GatewayConfig(
        routes=routes, instances=(("orders", "o1", "v1"), ("orders", "o2", "v1"),
                                  ("admin", "a1", "v1")),
        filters=(), global_filters=(Metrics(order=metrics_order),
                                    AddResponseHeader("x-served-by", "gw", order=0)))


def filter_demo(seed: int = 1, *, metrics_order: int = -10, rate_per_s: float = 100.0,
                duration_ms: float = 2000.0, node_cls: type[Gateway] = Gateway) -> Result:
    """Run :func:`filter_config` under Poisson traffic (half ``/api/orders/k``, half
    ``/admin/k``, a third of the admin requests without ``x-role``). ``frame``: one row per
    request as the client saw it; ``metadata["metrics"]``: the rows the Metrics post-filter
    recorded; ``metadata["traces"]``: for the first request of each route, the filter steps in
    order (``step``, ``phase`` pre/backend/post, ``filter``, ``order``, ``scope``)."""
    check_seed(seed)
    check_number("rate_per_s", rate_per_s, min=0, min_inclusive=False)
    check_number("duration_ms", duration_ms, min=0, min_inclusive=False)
    config = filter_config(metrics_order=metrics_order)
    sim = Sim(seed, latency=Uniform(0.5, 1.5))
    build(sim, 1, node_cls, config=config)
    for name in ("o1", "o2"):
        sim.add_node(name, lambda: Backend("orders", service_ms=5.0, jitter_ms=5.0,
                                           error_rate=0.2))
    sim.add_node("a1", lambda: Backend("admin", service_ms=2.0))
    client, rng = sim.add_client("c"), sim.stream("workload")
    rows: list[dict[str, Any]] = []

    def one(req: ApiRequest) -> Any:
        t0 = sim.now
        res = yield from client.call("gw", req, timeout_ms=1000.0)
        rep = res.value if isinstance(res.value, ApiReply) else None
        rows.append({"t_ms": t0, "path": req.path, "status": rep.status if rep else None,
                     "body": rep.body if rep else None,
                     "x_served_by": rep.header("x-served-by") if rep else None,
                     "latency_ms": res.latency_ms})

    def workload() -> Any:
        i = 0
        while True:
            yield sim.sleep(rng.expovariate(rate_per_s / 1000.0))
            if sim.now >= duration_ms:
                return
            if rng.random() < 0.5:
                req = api(f"/api/orders/{i}")
            else:
                req = api(f"/admin/{i}", headers={} if rng.random() < 1 / 3 else {"x-role": "ops"})
            sim.process(one(req))
            i += 1

    sim.process(workload())
    sim.run(until=duration_ms + 1100.0)
    gw = sim.handler("gw")
    requests = pd.DataFrame(rows).sort_values("t_ms", kind="stable").reset_index(drop=True)
    requests["seed"] = seed
    metrics = pd.DataFrame(gw.metrics, columns=["t_ms", "route", "status", "latency_ms"])
    metrics["seed"] = seed
    return Result(requests, sim.history, seed,
                  {"metrics": metrics, "traces": trace_table(config, gw.traces, seed)})




# -- 3. routes from the registry -------------------------------------------------------------------
ROUTE_MODES = ("push", "poll")


def registry_routes(seed: int = 1, *, mode: str = "push", join_at_ms: float = 1200.0,
                    leave_at_ms: float = 2300.0, drain_ms: float = 300.0,
                    refresh_ms: float = 1000.0, rate_per_s: float = 200.0,
                    duration_ms: float = 4000.0, loss: float = 0.0,
                    faults: tuple[tuple[str, str, float], ...] = (),
                    node_cls: type[Gateway] = Gateway) -> Result:
    """A gateway whose ``orders`` instances come from the naming service ``mns``.

    ``o1``..``o3`` register at start; ``o4`` starts and registers at ``join_at_ms``; ``o2``
    deregisters at ``leave_at_ms`` and crashes ``drain_ms`` later. ``mode="push"``: the gateway
    subscribes (and also refreshes every ``refresh_ms``); ``"poll"``: it only refreshes.
    ``loss`` applies to every message (lost pushes are then repaired by the refresh);
    ``faults`` are ``(verb, node, at_ms)`` with verb ``crash`` or ``restart`` (say the gateway).

    ``frame``: one row per request (``t_ms``, ``instance``, ``status``, ``latency_ms``);
    ``metadata["summary"]``: when the gateway learned of ``o4`` and of ``o2``'s departure, calls
    to ``o2`` after it left and after the gateway's update (:func:`route_summary`, from the
    history); ``metadata["sim"]``: the finished simulation."""
    check_seed(seed)
    check_choice("mode", mode, ROUTE_MODES)
    check_number("join_at_ms", join_at_ms, min=0)
    check_number("leave_at_ms", leave_at_ms, min=0)
    check_number("drain_ms", drain_ms, min=0)
    check_number("duration_ms", duration_ms, min=0, min_inclusive=False)
    config = GatewayConfig(routes=(Route("/orders", "orders"),), instances=(), filters=(),
                           registry="mns", refresh_ms=refresh_ms, subscribe=mode == "push",
                           timeout_ms=100.0, retries=1)
    sim = Sim(seed, latency=Uniform(0.5, 1.5), loss=loss)
    sim.add_node("mns", lambda: NamingService("scanner"))
    build(sim, 1, node_cls, config=config)

    def backend() -> Backend:
        return Backend("orders", service_ms=5.0, jitter_ms=5.0, registry="mns")

    for name in ("o1", "o2", "o3"):
        sim.add_node(name, backend)
    sim.process(_later(sim, join_at_ms, lambda: sim.add_node("o4", backend)))
    sim.process(_later(sim, leave_at_ms,
                       lambda: sim.call_handler("o2", lambda h, ctx: h.leave(ctx))))
    sim.crash("o2", at=leave_at_ms + drain_ms)
    for verb, node, at in faults:
        check_choice("fault verb", verb, ("crash", "restart"))
        getattr(sim, verb)(node, at=at)
    client, rng = sim.add_client("c"), sim.stream("workload")
    rows: list[dict[str, Any]] = []

    def one(i: int) -> Any:
        t0 = sim.now
        res = yield from client.call("gw", api(f"/orders/{i}"), timeout_ms=1000.0)
        rep = res.value if isinstance(res.value, ApiReply) else None
        rows.append({"t_ms": t0, "instance": rep.instance if rep else None,
                     "status": rep.status if rep else None, "latency_ms": res.latency_ms})

    def workload() -> Any:
        i = 0
        yield sim.sleep(50.0)  # let the instances register
        while True:
            yield sim.sleep(rng.expovariate(rate_per_s / 1000.0))
            if sim.now >= duration_ms:
                return
            sim.process(one(i))
            i += 1

    sim.process(workload())
    sim.run(until=duration_ms + 1100.0)
    df = pd.DataFrame(rows, columns=["t_ms", "instance", "status", "latency_ms"])
    df = df.sort_values("t_ms", kind="stable").reset_index(drop=True)
    df["mode"], df["seed"] = mode, seed
    summary = route_summary(sim.history, mode, join_at_ms, leave_at_ms, drain_ms)
    return Result(df, sim.history, seed, {"summary": summary, "sim": sim})


def _later(sim: Sim, at_ms: float, action: Any) -> Any:
    yield sim.sleep(at_ms)
    action()




def registry_routes_compare(seed: int = 1, **kwargs: Any) -> Result:
    """:func:`registry_routes` in both modes. ``frame``: the summary table, one row per mode;
    ``metadata["runs"]``: the requests of both runs; ``metadata["histories"]`` by mode."""
    runs, rows, histories = [], [], {}
    for mode in ROUTE_MODES:
        result = registry_routes(seed, mode=mode, **kwargs)
        runs.append(result.frame)
        rows.append(result.metadata["summary"])
        histories[mode] = result.history
    return Result(pd.DataFrame(rows), None, seed,
                  {"runs": pd.concat(runs, ignore_index=True), "histories": histories})


__all__ = ["ROUTE_MODES", "demo_routes", "filter_config", "filter_demo", "predicate_routing",
           "registry_routes", "registry_routes_compare"]
