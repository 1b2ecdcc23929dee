"""Spring Cloud Gateway's rules in dslab.gateway: route predicates beyond the path, global and
route filters merged by order with post halves in reverse, and routes that follow the registry.
A failure names the seed that replays it."""

from __future__ import annotations

import math
import random

import pandas as pd
import pytest

from dslab.core import Context, Request, Response
from dslab.gateway import Backend, BackendCall, BackendReply, Gateway, GatewayConfig, api
from dslab.gateway import scg_experiments as sx
from dslab.gateway.ordered import (
    AddRequestHeader,
    AddResponseHeader,
    GatewayFilter,
    Metrics,
    RequireHeader,
    RewriteErrors,
    StripPrefix,
    chain_for,
)
from dslab.gateway.predicates import After, Before, Between, Header, Host, Method, Query, Weight
from dslab.gateway.routing import Route, RouteTable
from dslab.governance.messages import Deregister, Deregistered, Fetch, Register, ServiceList

SEEDS = [1, 2, 3, 4, 5, 6]


# -- predicates ------------------------------------------------------------------------------------
def test_a_route_wins_only_if_every_predicate_holds():
    t = RouteTable([Route("/orders", "write", predicates=(Method("POST"), Header("x-v", "2"))),
                    Route("/", "web", order=5)])
    assert t.select(api("/orders/1", headers={"x-v": "2"}, method="POST"), 0.0).service == "write"
    assert t.select(api("/orders/1", method="POST"), 0.0).service == "web"
    assert t.select(api("/orders/1", headers={"x-v": "2"}), 0.0).service == "web"


def test_lower_order_is_tried_first_whatever_the_prefix_length():
    t = RouteTable([Route("/orders/admin", "admin"),
                    Route("/", "by-host", predicates=(Host("ops.example.com"),), order=-1)])
    req = api("/orders/admin/1", headers={"host": "ops.example.com"})
    assert t.select(req, 0.0).service == "by-host"
    assert t.select(api("/orders/admin/1"), 0.0).service == "admin"


def test_header_and_query_predicates_match_the_whole_value():
    h, q = Header("x-beta", "1|true"), Query("debug", "true")
    assert h.matches(api("/", headers={"x-beta": "true"}), 0.0)
    assert not h.matches(api("/", headers={"x-beta": "10"}), 0.0)
    assert not h.matches(api("/"), 0.0)
    assert q.matches(api("/", {"debug": "true"}), 0.0)
    assert not q.matches(api("/", {"debug": "truex"}), 0.0)
    assert Query("debug").matches(api("/", {"debug": ""}), 0.0)  # presence only


def test_host_glob_star_matches_whole_labels():
    p = Host("*.example.com")
    ok = ["a.example.com", "a.b.example.com", "A.Example.com:8080"]
    bad = ["example.com", "badexample.com", "a.example.org"]
    assert all(p.matches(api("/", headers={"host": h}), 0.0) for h in ok)
    assert not any(p.matches(api("/", headers={"host": h}), 0.0) for h in bad)


def test_time_predicates_use_the_gateways_clock_start_inclusive_end_exclusive():
    b, req = Between(1000.0, 2000.0), api("/")
    assert [b.matches(req, t) for t in (999.9, 1000.0, 1999.9, 2000.0)] == [
        False, True, True, False]
    assert After(5.0).matches(req, 5.0) and not Before(5.0).matches(req, 5.0)


def test_weight_group_splits_traffic_in_proportion_within_sampling_error():
    t = RouteTable([Route("/o", "v1", predicates=(Weight("g", 9),), id="v1"),
                    Route("/o", "v2", predicates=(Weight("g", 1),), id="v2")])
    rng, n = random.Random(7), 20000
    picks = [t.select(api("/o"), 0.0, rng).service for _ in range(n)]
    share = picks.count("v2") / n
    assert abs(share - 0.1) < 4 * math.sqrt(0.1 * 0.9 / n), share
    assert set(picks) == {"v1", "v2"}  # every request lands in exactly one route of the group


def test_weight_predicate_without_a_random_stream_raises():
    t = RouteTable([Route("/o", "v1", predicates=(Weight("g", 1),))])
    with pytest.raises(ValueError, match="rng=None"):
        t.select(api("/o"), 0.0)


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_predicate_routing_respects_every_rule(seed):
    df = sx.predicate_routing(seed)
    promo = df[df["route"] == "promo"]
    assert promo["t_ms"].between(1000.0, 2000.0, inclusive="left").all(), f"replay with seed={seed}"
    assert (df.loc[df["route"] == "orders-write", "method"] == "POST").all()
    assert (df.loc[df["host"] == "admin.example.com", "route"] == "admin").all()
    in_window = df[(df["path"].str.startswith("/items")) & (df["host"] != "admin.example.com")
                   & ~df["beta"] & ~df["debug"] & df["t_ms"].between(1000.0, 2000.0, "left")]
    assert (in_window["route"] == "promo").all(), f"replay with seed={seed}"
    assert df["route"].notna().all()


def test_route_ids_must_be_unique_but_prefixes_may_repeat():
    RouteTable([Route("/o", "a", id="a"), Route("/o", "b", id="b")])
    with pytest.raises(ValueError, match="duplicate prefixes"):
        RouteTable([Route("/o", "a"), Route("/o", "b")])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: Method("FETCH"), "method='FETCH'"),
        (lambda: Header("x", "("), "regex='\\('"),
        (lambda: Between(5.0, 5.0), "end_ms=5.0"),
        (lambda: Weight("g", 0), "weight=0"),
        (lambda: Host("a/b"), "pattern='a/b'"),
        (lambda: Route("/", "s", predicates=("GET",)), "predicates\\[0\\]='GET'"),
        (lambda: StripPrefix(0), "parts=0"),
        (lambda: Metrics(order=1.5), "order=1.5"),
        (lambda: api("/", method="get"), "method='get'"),
        (lambda: sx.registry_routes(1, mode="gossip"), "mode='gossip'"),
        (lambda: sx.predicate_routing(1, requests=0), "requests=0"),
    ],
)
def test_bad_arguments_name_parameter_and_value(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# -- ordered filters -------------------------------------------------------------------------------
def test_global_and_route_filters_merge_by_order_global_first_on_ties():
    g1, g2 = Metrics(order=0), AddResponseHeader(order=5)
    r1, r2 = AddRequestHeader(order=0), StripPrefix(order=-1)
    route = Route("/a", "a", filters=(r1, r2))
    assert chain_for([g1, g2], route) == [r2, g1, r1, g2]
    assert chain_for([g1, g2], Route("/b", "b")) == [g1, g2]  # route filters stay on their route


def handler(config):
    gw, ctx = Gateway(config), Context("gw")
    return gw, ctx


def scg_config(**kw):
    base = dict(routes=(Route("/api", "orders", id="api", filters=(
                    StripPrefix(1, order=1), AddRequestHeader("x-from", "gw", order=2),
                    RewriteErrors(order=-5))),
                        Route("/admin", "admin", id="admin",
                              filters=(RequireHeader("x-role", order=-20),))),
                instances=(("orders", "o1", "v1"), ("admin", "a1", "v1")), filters=(),
                global_filters=(Metrics(order=-10), AddResponseHeader("x-served-by", "gw")))
    base.update(kw)
    return GatewayConfig(**base)


def test_post_halves_run_in_reverse_order_of_pre_halves():
    gw, ctx = handler(scg_config())
    gw.on_message(ctx, "c", Request(1, api("/api/orders/7")))
    call = ctx.sent(BackendCall)[0].msg
    gw.on_message(ctx, "o1", BackendReply(call.call_id, True, "ok", "v1"))
    route, trace = gw.traces[-1]
    pre = [s[4:] for s in trace if s.startswith("pre:")]
    post = [s[5:] for s in trace if s.startswith("post:")]
    assert pre == ["Metrics", "RewriteErrors", "AddResponseHeader", "StripPrefix",
                   "AddRequestHeader"]
    assert post == pre[::-1] and route == "api"


def test_pre_filters_rewrite_what_the_backend_sees():
    gw, ctx = handler(scg_config())
    gw.on_message(ctx, "c", Request(1, api("/api/orders/7")))
    call = ctx.sent(BackendCall)[0].msg
    assert call.request.path == "/orders/7" and call.request.header("x-from") == "gw"


def test_post_filters_add_headers_and_hide_error_details():
    gw, ctx = handler(scg_config())
    gw.on_message(ctx, "c", Request(1, api("/api/orders/7")))
    call = ctx.sent(BackendCall)[0].msg
    ctx.effects.clear()
    gw.on_message(ctx, "o1", BackendReply(call.call_id, False, "NullPointerException at L42", "v1"))
    reply = ctx.sent(Response)[0].msg.body
    assert reply.status == 500 and "NullPointer" not in reply.body
    assert reply.header("x-served-by") == "gw"
    assert gw.metrics[-1]["status"] == 500 and gw.metrics[-1]["route"] == "api"


def test_a_refusing_pre_filter_stops_the_chain_and_only_earlier_filters_see_the_answer():
    gw, ctx = handler(scg_config())
    gw.on_message(ctx, "c", Request(1, api("/admin/1")))
    reply = ctx.sent(Response)[0].msg.body
    assert reply.status == 403 and not ctx.sent(BackendCall)
    assert reply.header("x-served-by") is None and gw.metrics == []  # order -20 ran first
    gw2, ctx2 = handler(scg_config(global_filters=(Metrics(order=-30),
                                                   AddResponseHeader("x-served-by", "gw"))))
    gw2.on_message(ctx2, "c", Request(1, api("/admin/1")))
    assert [m["status"] for m in gw2.metrics] == [403]


def test_route_filters_do_not_touch_other_routes():
    gw, ctx = handler(scg_config())
    gw.on_message(ctx, "c", Request(1, api("/admin/1", headers={"x-role": "ops"})))
    call = ctx.sent(BackendCall)[0].msg
    assert call.request.path == "/admin/1" and call.request.header("x-from") is None


def test_metrics_post_filter_records_latency_on_the_gateways_clock():
    gw, ctx = handler(scg_config())
    ctx.local_time = 100.0
    gw.on_message(ctx, "c", Request(1, api("/api/x")))
    call = ctx.sent(BackendCall)[0].msg
    ctx.local_time = 112.5
    gw.on_message(ctx, "o1", BackendReply(call.call_id, True, "ok", "v1"))
    assert gw.metrics == [{"route": "api", "status": 200, "latency_ms": 12.5, "t_ms": 100.0}]


def test_filter_demo_metrics_miss_refusals_unless_metrics_runs_first():
    req, met, _ = sx.filter_demo(1, duration_ms=1000.0)
    assert len(met) == int((req["status"] != 403).sum()) < len(req), "replay with seed=1"
    req, met, _ = sx.filter_demo(1, duration_ms=1000.0, metrics_order=-30)
    assert len(met) == len(req), "replay with seed=1"


def test_a_filter_is_frozen_and_validates_order():
    with pytest.raises(Exception, match="order"):
        GatewayFilter(order="x")
    f = AddResponseHeader()
    with pytest.raises(AttributeError):
        f.order = 3


# -- routes from the registry ----------------------------------------------------------------------
def reg_config(**kw):
    base = dict(routes=(Route("/orders", "orders"),), instances=(), filters=(), registry="mns",
                refresh_ms=500.0)
    base.update(kw)
    return GatewayConfig(**base)


def test_gateway_fetches_and_subscribes_at_start_then_refreshes():
    gw, ctx = handler(reg_config())
    gw.on_start(ctx)
    assert [(e.dst, e.msg) for e in ctx.sent()] == [("mns", Fetch("orders", subscribe=True))]
    assert ctx.timers() == {"refresh": 500.0}
    gw2, ctx2 = handler(reg_config(subscribe=False))
    gw2.on_start(ctx2)
    assert ctx2.sent()[0].msg == Fetch("orders", subscribe=False)


def test_an_older_service_list_never_brings_back_a_departed_instance():
    gw, ctx = handler(reg_config())
    gw.on_message(ctx, "mns", ServiceList("orders", ("o1", "o2"), 3))
    gw.on_message(ctx, "mns", ServiceList("orders", ("o1",), 5))
    gw.on_message(ctx, "mns", ServiceList("orders", ("o1", "o2"), 4))  # delayed, older
    assert gw.instances_of("orders") == ["o1"]
    for i in range(4):
        gw.on_message(ctx, "c", Request(i, api(f"/orders/{i}")))
    assert {e.dst for e in ctx.sent(BackendCall)} == {"o1"}


def test_no_known_instance_is_a_definite_503():
    gw, ctx = handler(reg_config())
    gw.on_message(ctx, "c", Request(1, api("/orders/1")))
    reply = ctx.sent(Response)[0].msg
    assert not reply.ok and reply.body.status == 503 and not ctx.sent(BackendCall)


def test_a_retry_picks_from_the_current_list():
    gw, ctx = handler(reg_config(timeout_ms=50.0, retries=1))
    gw.on_message(ctx, "mns", ServiceList("orders", ("o1", "o2"), 1))
    gw.on_message(ctx, "c", Request(1, api("/orders/1")))
    first = ctx.sent(BackendCall)[0].dst
    other = "o2" if first == "o1" else "o1"
    gw.on_message(ctx, "mns", ServiceList("orders", (first,), 2))  # the other one left
    ctx.effects.clear()
    gw.on_timer(ctx, "call/1")
    assert [e.dst for e in ctx.sent(BackendCall)] == [first] and other not in gw.instances_of(
        "orders")


def test_registered_backend_announces_until_the_registry_acknowledges():
    b, ctx = Backend("orders", registry="mns"), Context("o1")
    b.on_start(ctx)
    b.leave(ctx)
    assert [e.msg for e in ctx.sent()] == [Register("orders", "o1", ack=True),
                                            Deregister("orders", "o1")]
    assert ctx.timers() == {"announce": 100.0}
    ctx.effects.clear()
    b.on_message(ctx, "mns", Deregistered("o1"))
    assert ctx.timers() == {} and b.announce is None


@pytest.mark.parametrize("seed", SEEDS)
def test_push_stops_calls_to_a_departed_instance_within_a_network_delay(seed):
    _, s, _ = sx.registry_routes(seed, mode="push")
    assert s["leave_seen_ms"] is not None and s["leave_seen_ms"] <= 5.0, (
        f"{s}; replay with seed={seed}")
    assert s["join_seen_ms"] <= 5.0 and s["calls_after_update"] == 0, f"replay with seed={seed}"


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_polling_leaves_a_window_bounded_by_the_refresh_period(seed):
    df, s, _ = sx.registry_routes(seed, mode="poll", refresh_ms=1000.0)
    assert 0 < s["leave_seen_ms"] <= 1000.0 + 5.0, f"{s}; replay with seed={seed}"
    assert s["calls_after_leave"] > 0 and s["calls_after_update"] == 0, f"replay with seed={seed}"


@pytest.mark.parametrize("seed", range(1, 13))
@pytest.mark.parametrize("mode", sx.ROUTE_MODES)
def test_sweep_no_call_reaches_an_instance_after_the_gateway_learned_it_left(seed, mode):
    """Safety under faults: 5% message loss and a gateway crash and restart."""
    faults = (("crash", "gw", 1500.0 + 37.0 * seed), ("restart", "gw", 1700.0 + 37.0 * seed))
    df, s, sim = sx.registry_routes(seed, mode=mode, loss=0.05, refresh_ms=400.0, faults=faults,
                                    duration_ms=3500.0)
    assert s["leave_seen_ms"] is not None, f"the gateway never learned; replay with seed={seed}"
    assert s["calls_after_update"] == 0, f"{s}; replay with seed={seed}"
    assert s["leave_seen_ms"] <= 3 * 400.0 + 10.0, f"{s}; replay with seed={seed}"


def test_same_seed_same_run():
    a, sa, _ = sx.registry_routes(4, mode="poll", duration_ms=2500.0)
    b, sb, _ = sx.registry_routes(4, mode="poll", duration_ms=2500.0)
    pd.testing.assert_frame_equal(a, b)
    assert sa == sb
    pd.testing.assert_frame_equal(sx.predicate_routing(4), sx.predicate_routing(4))


def test_same_run_under_another_pythonhashseed():
    import os
    import subprocess
    import sys

    code = ("from dslab.gateway import scg_experiments as sx; d, s, _ = sx.registry_routes(2, "
            "duration_ms=2500.0, loss=0.05); r, m, t = sx.filter_demo(2, duration_ms=500.0); "
            "print(d.values.tolist(), s, m.values.tolist(), t.values.tolist(), "
            "sx.predicate_routing(2)['route'].tolist())")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": h}).stdout
            for h in ("1", "977")}
    assert len(outs) == 1, "replay with seed=2"
