"""Pigeon's server-side isolation: slow-request isolation, method thread caps, named pools."""

from __future__ import annotations

import pytest

from dslab.core import Context, Request, Response
from dslab.rpc import Codec, Invocation, RpcServer
from dslab.rpc import experiments as ex
from dslab.rpc.isolation import SlowRequestIsolation
from dslab.rpc.services import Api


def _req(rid: int, method: str) -> Request:
    return Request(rid, Invocation("Api", method, Codec().encode("Api", 1, {}), f"c:{rid}"))


# -- the rule, on the bookkeeping alone -----------------------------------------------------------
def test_a_timeout_ratio_of_five_percent_isolates_the_method():
    iso = SlowRequestIsolation(timeout_ms=50.0, window_ms=100.0)
    for _ in range(100):
        iso.arrive("slow")
    for _ in range(5):
        iso.record("slow", 80.0)
    assert iso.end_window(100.0) == [("slow", "slow")] and iso.is_isolated("slow")


def test_a_timeout_ratio_just_under_five_percent_does_not():
    iso = SlowRequestIsolation(timeout_ms=50.0, window_ms=100.0)
    for _ in range(101):
        iso.arrive("m")
    for _ in range(5):
        iso.record("m", 80.0)
    assert iso.end_window(100.0) == [] and not iso.is_isolated("m")


def test_three_hundred_timeouts_isolate_whatever_the_ratio():
    iso = SlowRequestIsolation(timeout_ms=50.0)
    for _ in range(100_000):
        iso.arrive("busy")
    for _ in range(300):
        iso.record("busy", 51.0)
    assert 300 / 100_000 < 0.05
    assert iso.end_window(1000.0) == [("busy", "slow")]


def test_a_request_within_its_timeout_is_not_a_timeout():
    iso = SlowRequestIsolation(timeout_ms=50.0)
    assert iso.record("m", 50.0) is False and iso.record("m", 50.1) is True


def test_an_isolated_method_goes_back_after_a_healthy_window():
    iso = SlowRequestIsolation(timeout_ms=50.0, window_ms=100.0)
    for _ in range(20):
        iso.arrive("m")
        iso.record("m", 80.0)
    iso.end_window(100.0)
    for _ in range(20):
        iso.arrive("m")
        iso.record("m", 1.0)
    assert iso.end_window(200.0) == [("m", "shared")]
    assert iso.transitions == [(100.0, "m", "slow"), (200.0, "m", "shared")]


def test_a_quiet_window_with_timeouts_keeps_the_method_isolated():
    iso = SlowRequestIsolation(timeout_ms=50.0, window_ms=100.0, min_requests=10)
    for _ in range(20):
        iso.arrive("m")
        iso.record("m", 80.0)
    iso.end_window(100.0)
    iso.arrive("m")
    iso.record("m", 80.0)  # 1 request: below min_requests, yet it timed out
    assert iso.end_window(200.0) == [] and iso.is_isolated("m")


def test_isolation_rejects_bad_parameters_naming_them():
    with pytest.raises(ValueError, match="timeout_ms=0"):
        SlowRequestIsolation(timeout_ms=0)
    with pytest.raises(ValueError, match="max_timeout_ratio=1.5"):
        SlowRequestIsolation(timeout_ms=1.0, max_timeout_ratio=1.5)
    with pytest.raises(ValueError, match="'slow' pool"):
        RpcServer(Api, isolation=SlowRequestIsolation(timeout_ms=1.0))


# -- the server ----------------------------------------------------------------------------------
def test_server_sends_an_isolated_method_to_the_slow_pool_and_others_to_the_shared_one():
    iso = SlowRequestIsolation(timeout_ms=5.0, window_ms=10.0, min_requests=1)
    h = RpcServer(Api, workers=1, queue=0, pools={"slow": (1, 0)}, isolation=iso)
    ctx = Context("s1")
    h.on_start(ctx)
    h.on_message(ctx, "c1", _req(1, "slow"))
    ctx.local_time = 10.0
    h.on_timer(ctx, "isolation")  # job 1 has run 10 ms > 5 ms: slow is isolated
    assert h.pool_for("slow") == "slow" and h.pool_for("fast") == "shared"
    h.on_message(ctx, "c1", _req(2, "slow"))  # the shared pool is full, the slow pool is not
    assert h.pools["slow"].busy == 1 and h.busy == 1
    h.on_message(ctx, "c1", _req(3, "slow"))  # the slow pool is full now: rejected
    assert [m.msg.error for m in ctx.sent(Response)] == ["overloaded"]
    assert h.pools["slow"].rejected == 1 and h.pools["shared"].rejected == 0


def test_queue_wait_does_not_make_a_victim_slow():
    iso = SlowRequestIsolation(timeout_ms=5.0, window_ms=10.0, min_requests=1)
    h = RpcServer(Api, workers=1, queue=4, service_ms=1.0, pools={"slow": (1, 0)}, isolation=iso)
    ctx = Context("s1")
    h.on_message(ctx, "c1", _req(1, "slow"))
    h.on_message(ctx, "c1", _req(2, "fast"))  # waits behind the slow request
    ctx.local_time = 20.0
    h.on_timer(ctx, "svc/1")
    ctx.local_time = 21.0
    h.on_timer(ctx, "svc/2")  # fast waited 20 ms but ran 1 ms
    h.on_timer(ctx, "isolation")
    assert iso.isolated == {"slow"}


def test_method_thread_cap_refuses_beyond_x_places_with_method_limited():
    h, ctx = RpcServer(Api, workers=8, queue=8, method_threads={"slow": 2}), Context("s1")
    for rid in (1, 2, 3):
        h.on_message(ctx, "c1", _req(rid, "slow"))
    h.on_message(ctx, "c1", _req(4, "fast"))
    assert [(m.msg.id, m.msg.error) for m in ctx.sent(Response)] == [(3, "method_limited")]
    assert h.busy == 3 and h.stats["method_limited"] == 1
    ctx.take_effects()
    h.on_timer(ctx, "svc/1")  # a place frees up: the method may use it again
    h.on_message(ctx, "c1", _req(5, "slow"))
    assert all(m.msg.ok for m in ctx.sent(Response))


def test_a_method_with_its_own_pool_never_uses_the_shared_one():
    h = RpcServer(
        Api, workers=1, queue=0, pools={"api-slow": (2, 0)}, method_pools={"slow": "api-slow"}
    )
    ctx = Context("s1")
    for rid in (1, 2):
        h.on_message(ctx, "c1", _req(rid, "slow"))
    h.on_message(ctx, "c1", _req(3, "fast"))
    assert ctx.sent(Response) == [] and h.pools["api-slow"].busy == 2 and h.busy == 1


def test_pool_parameters_are_checked():
    with pytest.raises(ValueError, match="pools\\['shared'\\]"):
        RpcServer(Api, pools={"shared": (1, 1)})
    with pytest.raises(ValueError, match="method_pools\\['slow'\\]='nope'"):
        RpcServer(Api, method_pools={"slow": "nope"})
    with pytest.raises(ValueError, match="method_threads\\['slow'\\]=0"):
        RpcServer(Api, method_threads={"slow": 0})
    with pytest.raises(ValueError, match="'nope'"):
        RpcServer(Api, method_threads={"nope": 1})


# -- the experiment: one slow method starves the shared pool ------------------------------------
@pytest.fixture(scope="module")
def starving():
    return ex.isolation(seed=3, duration_ms=2500.0, incident_ms=(500.0, 1800.0))


def test_without_isolation_a_slow_method_starves_the_fast_one(starving):
    _, summary, _ = starving
    s = summary.set_index("variant")
    assert s.loc["shared pool only", "fast_success"] < 0.6, "replay with seed=3"


def test_slow_request_isolation_keeps_the_fast_method_alive(starving):
    series, summary, transitions = starving
    s = summary.set_index("variant")
    assert (
        s.loc["slow-request isolation", "fast_success"]
        > s.loc["shared pool only", "fast_success"] + 0.25
    ), "replay with seed=3"
    moves = transitions["slow-request isolation"]
    assert [(m, to) for _, m, to in moves] == [("slow", "slow"), ("slow", "shared")]
    isolated_at, back_at = moves[0][0], moves[1][0]
    assert 500.0 < isolated_at <= 700.0 and back_at >= 1800.0, "replay with seed=3"
    # once the slow requests already in the shared pool have drained, fast is fully served
    fast = series[(series.variant == "slow-request isolation") & (series.method == "fast")]
    after = fast[(fast.t_ms >= isolated_at + 300.0) & (fast.t_ms < 1800.0)]
    assert len(after) >= 5 and after.success.min() == 1.0, "replay with seed=3"


def test_a_method_thread_cap_also_protects_the_fast_method(starving):
    _, summary, _ = starving
    s = summary.set_index("variant")
    assert s.loc["method thread cap", "fast_success"] > 0.99, "replay with seed=3"
    assert s.loc["method thread cap", "method_limited"] > 0, "replay with seed=3"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ex.isolation(variants=["nope"]), "variants='nope'"),
        (lambda: ex.isolation(timeout_ms=0), "timeout_ms=0"),
        (lambda: ex.isolation(incident_ms=(500.0, 100.0)), "incident_ms end=100.0"),
        (lambda: ex.corruption(corrupt_prob=2), "corrupt_prob=2"),
        (lambda: ex.server_filters(calls=0), "calls=0"),
    ],
)
def test_bad_experiment_arguments_name_the_parameter(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_same_seed_same_isolation_run():
    a = ex.isolation(seed=5, duration_ms=1500.0, incident_ms=(300.0, 900.0))
    b = ex.isolation(seed=5, duration_ms=1500.0, incident_ms=(300.0, 900.0))
    assert a[0].equals(b[0]) and a[1].equals(b[1]) and a[2] == b[2]
