"""Unit tests of the RPC pieces: codec, stub, filter chain, pools, breaker, balancing, server."""

from __future__ import annotations

import random

import pytest

from dslab.core import Context, Request, Response
from dslab.rpc import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    AuthFilter,
    CircuitBreaker,
    Codec,
    Filter,
    Invocation,
    LeastActive,
    RateLimitFilter,
    RoundRobin,
    RpcClient,
    RpcServer,
    SchemaMismatch,
    Stub,
    remote_methods,
)
from dslab.rpc.pool import BoundedPool
from dslab.rpc.services import Counter
from dslab.sim import Sim


# -- codec -----------------------------------------------------------------------------------------
def test_codec_round_trip_keeps_the_value():
    c = Codec()
    v = {"key": "x", "by": [1, 2.5, None, "é"]}
    assert c.decode(c.encode("Counter", 1, v), "Counter", 1) == v


def test_codec_size_is_the_encoded_length_and_grows_with_the_payload():
    c = Codec()
    small, big = c.size("S", 1, "a"), c.size("S", 1, "a" * 1000)
    assert small == len(c.encode("S", 1, "a"))
    assert big - small == 999


def test_codec_schema_version_mismatch_is_a_definite_error():
    c = Codec()
    with pytest.raises(SchemaMismatch, match="v2"):
        c.decode(c.encode("Counter", 2, 1), "Counter", 1)


def test_codec_cost_grows_with_size():
    c = Codec(fixed_ms=0.1, per_kb_ms=1.0)
    assert c.cost_ms(0) == 0.1
    assert c.cost_ms(2048) == pytest.approx(2.1)


# -- interface and stub ----------------------------------------------------------------------
def test_remote_methods_mark_idempotent_ones():
    m = remote_methods(Counter)
    assert sorted(m) == ["get", "incr", "put"]
    assert m["get"].idempotent and m["put"].idempotent and not m["incr"].idempotent


def test_stub_checks_arguments_when_called():
    class Recorder:
        def invoke(self, iface, method, args, idem):
            return (iface, method, args, idem)

    stub = Stub(Counter, Recorder())
    assert stub.incr("x") == (Counter, "incr", {"key": "x", "by": 1}, False)
    with pytest.raises(TypeError, match="Counter.incr"):
        stub.incr()
    with pytest.raises(AttributeError, match="no remote method 'nope'"):
        _ = stub.nope


# -- filter chain order ----------------------------------------------------------------------------
def test_filters_run_in_order_out_and_in_reverse_order_back():
    trace: list[str] = []

    class Tag(Filter):
        def __init__(self, name):
            self.name = name

        def invoke(self, client, call, proceed):
            trace.append(f"{self.name}>")
            res = yield from proceed(call)
            trace.append(f"<{self.name}")
            return res

    sim = Sim(seed=1)
    sim.add_node("s1", lambda: RpcServer(Counter))
    client = RpcClient(sim, "c1", ["s1"], filters=[Tag("a"), Tag("b")])
    out = []
    sim.process((lambda: (yield from _collect(client.stub(Counter).get("x"), out)))())
    sim.run()
    assert out[0].ok
    assert trace == ["a>", "b>", "<b", "<a"]


def _collect(gen, out):
    out.append((yield from gen))


# -- pools -----------------------------------------------------------------------------------------
def test_bounded_pool_never_exceeds_its_size_and_serves_waiters_fifo():
    sim = Sim(seed=1)
    pool = BoundedPool(sim.env, 2)
    order, peak = [], [0]

    def user(i):
        yield from pool.acquire()
        peak[0] = max(peak[0], pool.busy)
        order.append(i)
        yield sim.sleep(10)
        pool.release()

    for i in range(5):
        sim.process(user(i))
    sim.run()
    assert peak[0] == 2 and pool.busy == 0
    assert order == [0, 1, 2, 3, 4]
    assert pool.max_waiting == 3


def test_pool_acquire_times_out_with_false():
    sim = Sim(seed=1)
    pool = BoundedPool(sim.env, 1)
    got = []

    def hog():
        yield from pool.acquire()
        yield sim.sleep(100)
        pool.release()

    def late():
        got.append((yield from pool.acquire(timeout_ms=5)))

    sim.process(hog())
    sim.process(late())
    sim.run()
    assert got == [False] and pool.timeouts == 1


# -- circuit breaker -------------------------------------------------------------------------------
def test_breaker_closed_open_half_open_closed():
    b = CircuitBreaker(window=4, min_calls=4, failure_ratio=0.5, open_ms=100, probes=2)
    for t in range(4):
        assert b.allow(t)
        b.record(t, success=t % 2 == 0)  # 2 of 4 failed
    assert b.state == OPEN
    assert not b.allow(50)  # still open
    assert b.allow(110) and b.state == HALF_OPEN
    assert b.allow(111)
    assert not b.allow(112)  # only `probes` trial calls
    b.record(113, True)
    b.record(114, True)
    assert b.state == CLOSED
    assert [x[2] for x in b.transitions] == [OPEN, HALF_OPEN, CLOSED]


def test_breaker_half_open_failure_reopens():
    b = CircuitBreaker(window=2, min_calls=2, failure_ratio=0.5, open_ms=10, probes=1)
    for t in range(2):
        b.allow(t)
        b.record(t, False)
    assert b.allow(20) and b.state == HALF_OPEN
    b.record(21, False)
    assert b.state == OPEN and not b.allow(25)


def test_breaker_rejects_bad_parameters_naming_them():
    with pytest.raises(ValueError, match="failure_ratio=1.5"):
        CircuitBreaker(failure_ratio=1.5)
    with pytest.raises(ValueError, match="min_calls=30"):
        CircuitBreaker(window=20, min_calls=30)


# -- balancing -------------------------------------------------------------------------------------
def test_round_robin_cycles():
    rr, rng = RoundRobin(), random.Random(0)
    assert [rr.choose(["a", "b", "c"], {}, rng) for _ in range(4)] == ["a", "b", "c", "a"]


def test_least_active_picks_the_least_loaded():
    la, rng = LeastActive(), random.Random(0)
    assert la.choose(["a", "b", "c"], {"a": 3, "b": 1, "c": 2}, rng) == "b"


# -- server handler (sans-I/O) ---------------------------------------------------------------------
def _req(rid, method="incr", args=None, headers=(), version=1):
    payload = Codec().encode(
        "Counter", version, args if args is not None else {"key": "x", "by": 1}
    )
    return Request(rid, Invocation("Counter", method, payload, f"c:{rid}", headers))


def test_server_rejects_beyond_workers_plus_queue_with_overloaded():
    h, ctx = RpcServer(Counter, workers=1, queue=1), Context("s1")
    for rid in (1, 2, 3):
        h.on_message(ctx, "c1", _req(rid))
    errors = [e.msg for e in ctx.sent(Response)]
    assert errors == [Response(3, ok=False, error="overloaded")]
    assert h.stats["accepted"] == 2 and h.stats["applied"] == 0  # rejected never runs


def test_server_schema_mismatch_and_unknown_method_are_definite():
    h, ctx = RpcServer(Counter), Context("s1")
    h.on_message(ctx, "c1", _req(1, version=7))
    h.on_message(ctx, "c1", _req(2, method="drop"))
    assert [(m.msg.ok, m.msg.error) for m in ctx.sent(Response)] == [
        (False, "schema_mismatch"),
        (False, "no_such_method"),
    ]


def test_server_applies_on_the_service_timer_then_replies():
    h, ctx = RpcServer(Counter, service_ms=3.0), Context("s1")
    h.on_message(ctx, "c1", _req(1))
    assert ctx.timers() == {"svc/1": 3.0} and h.impl.state == {}
    ctx.take_effects()
    h.on_timer(ctx, "svc/1")
    assert h.impl.state == {"x": 1}
    (sent,) = ctx.sent(Response)
    assert sent.msg.ok and Codec().decode(sent.msg.body.payload, "Counter", 1) == 1


def test_auth_filter_refuses_without_token():
    h, ctx = RpcServer(Counter, filters=[AuthFilter(["s3cret"])]), Context("s1")
    h.on_message(ctx, "c1", _req(1))
    h.on_message(ctx, "c1", _req(2, headers=(("token", "s3cret"),)))
    assert [m.msg.error for m in ctx.sent(Response)] == ["unauthenticated"]


def test_rate_limit_filter_allows_a_burst_then_refuses():
    h, ctx = RpcServer(Counter, workers=100, filters=[RateLimitFilter(10.0, burst=3)]), Context("s")
    for rid in range(5):
        h.on_message(ctx, "c1", _req(rid))
    assert [m.msg.error for m in ctx.sent(Response)] == ["rate_limited", "rate_limited"]


def test_server_bad_parameters_name_them():
    with pytest.raises(ValueError, match="workers=0"):
        RpcServer(Counter, workers=0)
    with pytest.raises(ValueError, match="'nope'"):
        RpcServer(Counter, service_ms={"nope": 1.0})
    with pytest.raises(TypeError, match="iface="):
        RpcServer(int)
