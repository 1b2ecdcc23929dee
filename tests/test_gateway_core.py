"""Unit tests of the gateway's pure parts: limiters, routes, filters, breaker, cache, balancing."""

from __future__ import annotations

import random

import pytest

from dslab.core import Context, Request, Response
from dslab.gateway import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    Backend,
    BackendCall,
    BackendReply,
    Balancer,
    CanaryRule,
    FilterChain,
    FixedWindow,
    Gateway,
    GatewayBreaker,
    GatewayConfig,
    LeakyBucket,
    Route,
    RouteTable,
    SlidingWindow,
    TokenBucket,
    TtlCache,
    api,
)
from dslab.gateway.experiments import boundary_burst, max_in_window


def admitted(limiter, times):
    return [t for t in times if limiter.allow(t)]


# -- limiters ------------------------------------------------------------------------------------
TRACE = [0, 100, 200, 300, 400, 900, 950, 1000, 1050, 1100, 1500, 2500]


def test_fixed_window_counts_per_window():
    assert admitted(FixedWindow(3, 1000), TRACE) == [0, 100, 200, 1000, 1050, 1100, 2500]


def test_fixed_window_boundary_burst_is_twice_the_limit():
    times = [950 + i for i in range(5)] + [1000 + i for i in range(5)]
    ok = admitted(FixedWindow(5, 1000), times)
    assert len(ok) == 10 and max_in_window(ok, 1000) == 10


def test_sliding_window_never_exceeds_limit_in_any_window():
    ok = admitted(SlidingWindow(3, 1000), TRACE)
    assert ok == [0, 100, 200, 1000, 1100, 1500, 2500]
    times = [950 + i for i in range(5)] + [1000 + i for i in range(5)]
    ok = admitted(SlidingWindow(5, 1000), times)
    assert len(ok) == 5 and max_in_window(ok, 1000) == 5


def test_sliding_window_admits_again_once_the_oldest_leaves():
    lim = SlidingWindow(2, 100)
    assert [lim.allow(t) for t in (0, 10, 99, 100, 110)] == [True, True, False, True, True]


def test_token_bucket_burst_equals_capacity():
    assert len(admitted(TokenBucket(4, 1.0), [0.0] * 10)) == 4


def test_token_bucket_refills_at_rate():
    lim = TokenBucket(2, 10.0)  # one token per 100 ms
    assert [lim.allow(t) for t in (0, 0, 0, 50, 100, 150, 300)] == [
        True, True, False, False, True, False, True]


def test_leaky_bucket_queues_and_smooths():
    lim = LeakyBucket(3, 10.0)  # leaves one request per 100 ms, holds at most 3
    assert [lim.allow(0.0) for _ in range(5)] == [True, True, True, False, False]
    assert lim.departure_ms == 200.0  # 0, 100, 200: a steady pace
    assert lim.allow(100.0)  # the first one left at 0 and the second at 100


def test_boundary_burst_table():
    table = boundary_burst(10, 1000.0).set_index("limiter")["admitted"]
    assert table["fixed window"] == 20
    assert table["sliding window"] == 10


@pytest.mark.parametrize("cls", [FixedWindow, SlidingWindow, TokenBucket, LeakyBucket])
def test_limiter_rejects_time_going_backwards(cls):
    lim = cls(2, 1000)
    lim.allow(10.0)
    with pytest.raises(ValueError, match="now_ms=5.0"):
        lim.allow(5.0)


@pytest.mark.parametrize("cls", [FixedWindow, SlidingWindow])
def test_window_limiters_validate(cls):
    with pytest.raises(ValueError, match="limit=0"):
        cls(0, 1000)
    with pytest.raises(ValueError, match="window_ms=-1"):
        cls(1, -1)


@pytest.mark.parametrize("cls", [TokenBucket, LeakyBucket])
def test_bucket_limiters_validate(cls):
    with pytest.raises(ValueError, match="capacity=0"):
        cls(0, 1.0)
    with pytest.raises(ValueError, match="rate_per_s=0"):
        cls(1, 0)


# -- routes --------------------------------------------------------------------------------------
def test_longest_prefix_wins_whatever_the_order():
    t = RouteTable([Route("/orders", "orders"), Route("/orders/admin", "admin"),
                    Route("/", "web")])
    assert t.match("/orders/7").service == "orders"
    assert t.match("/orders/admin/1").service == "admin"
    assert t.match("/ordersx").service == "web"
    assert t.match("/orders").service == "orders"


def test_no_route_matches():
    assert RouteTable([Route("/a", "a")]).match("/b") is None


def test_duplicate_prefix_and_bad_prefix_raise():
    with pytest.raises(ValueError, match="duplicate prefixes"):
        RouteTable([Route("/a", "a"), Route("/a", "b")])
    with pytest.raises(ValueError, match="prefix='a'"):
        Route("a", "a")


# -- filters -------------------------------------------------------------------------------------
ROUTE = Route("/orders", "orders", required_params=("user",))


def test_filters_run_in_order_and_stop_at_first_refusal():
    chain = FilterChain(tokens=["t"])
    assert chain.run(0, api("/orders/1", {"user": 1}, {"token": "t"}), ROUTE) is None
    assert chain.trace == ["log", "auth", "validate", "rate_limit"]
    chain.trace.clear()
    assert chain.run(0, api("/orders/1", {"user": 1}), ROUTE) == (401, "unauthorized")
    assert chain.trace == ["log", "auth"]


def test_validation_gives_400():
    chain = FilterChain(tokens=["t"])
    assert chain.run(0, api("/orders/1", headers={"token": "t"}), ROUTE)[0] == 400


def test_auth_before_rate_limit_protects_the_quota():
    """Unauthenticated requests must not use up the limiter's quota."""
    chain = FilterChain(tokens=["t"], limiter=FixedWindow(2, 1000))
    for _ in range(5):
        assert chain.run(0, api("/orders/1", {"user": 1}), ROUTE)[0] == 401
    good = api("/orders/1", {"user": 1}, {"token": "t"})
    assert [chain.run(1, good, ROUTE) for _ in range(3)] == [None, None, (429, "rate limited")]
    # the other order lets the flood eat the quota
    bad_order = FilterChain(["rate_limit", "auth"], tokens=["t"], limiter=FixedWindow(2, 1000))
    for _ in range(5):
        bad_order.run(0, api("/orders/1"), ROUTE)
    assert bad_order.run(1, good, ROUTE) == (429, "rate limited")


def test_unknown_filter_raises():
    with pytest.raises(ValueError, match="order\\[1\\]='cors'"):
        FilterChain(["auth", "cors"])


# -- breaker -------------------------------------------------------------------------------------
def test_breaker_opens_at_failure_ratio():
    b = GatewayBreaker(window=4, min_calls=4, failure_ratio=0.5, open_ms=100)
    for ok in (True, True, False):
        b.record(0, ok)
    assert b.state == CLOSED
    b.record(1, False)
    assert b.state == OPEN and not b.allow(50)


def test_breaker_half_open_probe_failure_reopens():
    b = GatewayBreaker(window=2, min_calls=2, failure_ratio=1.0, open_ms=100)
    b.record(0, False)
    b.record(0, False)
    assert b.allow(100) and b.state == HALF_OPEN
    assert not b.allow(100)  # one probe at a time
    b.record(101, False)
    assert b.state == OPEN and not b.allow(150)


def test_breaker_half_open_success_closes():
    b = GatewayBreaker(window=2, min_calls=2, failure_ratio=1.0, open_ms=100, probes=2)
    b.record(0, False)
    b.record(0, False)
    assert b.allow(200) and b.allow(200) and not b.allow(200)
    b.record(201, True)
    assert b.state == HALF_OPEN
    b.record(202, True)
    assert b.state == CLOSED and b.allow(203)
    assert [s for _, _, s in b.transitions] == [OPEN, HALF_OPEN, CLOSED]


def test_breaker_validates():
    with pytest.raises(ValueError, match="min_calls=5"):
        GatewayBreaker(window=4, min_calls=5)
    with pytest.raises(ValueError, match="failure_ratio=0"):
        GatewayBreaker(failure_ratio=0)


# -- cache, balancing, canary -------------------------------------------------------------------
def test_cache_hit_within_ttl_only():
    c = TtlCache()
    c.put("k", 0.0, "v")
    assert c.get("k", 99.0, 100.0) == (True, "v")
    assert c.get("k", 100.0, 100.0) == (False, None)
    assert (c.hits, c.misses) == (1, 1)


def test_round_robin_and_least_pending():
    from collections import Counter

    b = Balancer("round_robin")
    rng = random.Random(1)
    assert [b.pick(["b", "a"], rng, Counter()) for _ in range(3)] == ["a", "b", "a"]
    lp = Balancer("least_pending")
    assert lp.pick(["a", "b"], rng, Counter({"a": 2, "b": 1})) == "b"
    with pytest.raises(ValueError, match="policy='fastest'"):
        Balancer("fastest")


def test_canary_by_header_is_sticky():
    rule = CanaryRule("api", header="x-canary")
    rng = random.Random(0)
    assert rule.version(api("/api", headers={"x-canary": "1"}), rng) == "v2"
    assert rule.version(api("/api"), rng) == "v1"
    with pytest.raises(ValueError, match="weight=1.5"):
        CanaryRule("api", weight=1.5)


# -- the handler, with a bare context --------------------------------------------------------------
def config(**kw):
    base = dict(routes=(Route("/orders", "orders"),),
                instances=(("orders", "o1", "v1"), ("orders", "o2", "v1")), tokens=("t",))
    base.update(kw)
    return GatewayConfig(**base)


def test_gateway_answers_404_and_401_without_forwarding():
    gw, ctx = Gateway(config()), Context("gw")
    gw.on_message(ctx, "c", Request(1, api("/nothing", headers={"token": "t"})))
    gw.on_message(ctx, "c", Request(2, api("/orders/1")))
    replies = [e.msg for e in ctx.sent()]
    assert [(r.ok, r.body.status) for r in replies] == [(False, 404), (False, 401)]
    assert all(isinstance(r, Response) for r in replies)


def test_gateway_forwards_and_retries_on_another_instance_after_timeout():
    gw, ctx = Gateway(config(timeout_ms=50.0, retries=1)), Context("gw")
    gw.on_message(ctx, "c", Request(1, api("/orders/1", headers={"token": "t"})))
    first = ctx.sent(BackendCall)[0]
    assert ctx.timers() == {"call/1": 50.0}
    ctx.effects.clear()
    gw.on_timer(ctx, "call/1")
    second = ctx.sent(BackendCall)[0]
    assert second.dst != first.dst
    ctx.effects.clear()
    gw.on_message(ctx, second.dst, BackendReply(second.msg.call_id, True, "done", "v1"))
    reply = ctx.sent(Response)[0].msg
    assert reply.ok and reply.body.body == "done" and reply.body.instance == second.dst


def test_gateway_gives_504_after_last_retry():
    gw, ctx = Gateway(config(timeout_ms=50.0, retries=0)), Context("gw")
    gw.on_message(ctx, "c", Request(1, api("/orders/1", headers={"token": "t"})))
    gw.on_timer(ctx, "call/1")
    assert ctx.sent(Response)[0].msg.body.status == 504


def test_backend_replies_after_service_time():
    b, ctx = Backend("orders", service_ms=7.0), Context("o1")
    b.on_message(ctx, "gw", BackendCall(3, api("/orders/1")))
    assert ctx.timers() == {"work/gw/3": 7.0}
    b.on_timer(ctx, "work/gw/3")
    assert ctx.sent(BackendReply)[0].msg == BackendReply(3, True, "orders@o1", "v1", "/orders/1")


def test_config_validation_names_the_parameter():
    with pytest.raises(ValueError, match="service='payments'"):
        config(routes=(Route("/pay", "payments"),))
    with pytest.raises(ValueError, match="timeout_ms=0"):
        config(timeout_ms=0)
    with pytest.raises(ValueError, match="balancer='x'"):
        config(balancer="x")
    with pytest.raises(ValueError, match="window=0"):
        config(breaker={"window": 0})
