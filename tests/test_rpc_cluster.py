"""RPC on the simulator: bounded pool, timeouts (info), retries of non-idempotent calls,
balancing, the breaker, determinism and argument checks. Failures say how to replay."""

from __future__ import annotations

import pytest

from dslab.rpc import RetryFilter, RpcClient, TimeoutFilter, server
from dslab.rpc import experiments as ex
from dslab.rpc.services import Counter
from dslab.sim import Sim

SEEDS = range(3)


def _run_calls(sim, client, method, n, args=(), sleep_ms=0.0):
    out = []

    def work():
        stub = client.stub(Counter)
        for _ in range(n):
            out.append((yield from getattr(stub, method)(*args)))
            if sleep_ms:
                yield sim.sleep(sleep_ms)

    sim.process(work())
    sim.run()
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_bounded_server_pool_rejects_beyond_capacity(seed):
    sim = Sim(seed)
    sim.add_node("s1", server(Counter, workers=2, queue=3, service_ms=50.0))
    clients = [RpcClient(sim, f"c{i}", ["s1"]) for i in range(8)]
    results = []
    for c in clients:

        def one(c=c):
            results.append((yield from c.stub(Counter).get("x")))

        sim.process(one())
    sim.run()
    errors = sorted(r.error or "ok" for r in results)
    assert errors.count("ok") == 5 and errors.count("overloaded") == 3, (
        f"{errors}; replay with seed={seed}"
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_a_timed_out_call_is_info_and_may_still_apply(seed):
    sim = Sim(seed)
    sim.add_node("s1", server(Counter, service_ms=20.0))
    client = RpcClient(sim, "c1", ["s1"], filters=[TimeoutFilter(5.0)])
    (res,) = _run_calls(sim, client, "incr", 1, ("x",))
    assert res.type == "info", f"{res}; replay with seed={seed}"
    assert sim.handler("s1").impl.state == {"x": 1}, f"replay with seed={seed}"


@pytest.mark.parametrize("seed", SEEDS)
def test_a_retried_non_idempotent_call_applies_twice(seed):
    sim = Sim(seed)
    sim.add_node("s1", server(Counter, service_ms=20.0))
    client = RpcClient(
        sim,
        "c1",
        ["s1"],
        filters=[TimeoutFilter(5.0), RetryFilter(2, backoff_ms=1.0, retry_non_idempotent=True)],
    )
    _run_calls(sim, client, "incr", 1, ("x",))
    assert sim.handler("s1").impl.state == {"x": 2}, f"replay with seed={seed}"


@pytest.mark.parametrize("seed", SEEDS)
def test_retry_filter_leaves_non_idempotent_calls_alone_by_default(seed):
    sim = Sim(seed)
    sim.add_node("s1", server(Counter, service_ms=20.0))
    client = RpcClient(sim, "c1", ["s1"], filters=[TimeoutFilter(5.0), RetryFilter(3)])
    _run_calls(sim, client, "incr", 1, ("x",))
    _run_calls(sim, client, "get", 1, ("x",))
    assert client.attempts == 1 + 3, f"replay with seed={seed}"
    assert sim.handler("s1").impl.state == {"x": 1}


@pytest.mark.parametrize("seed", SEEDS)
def test_dedupe_by_call_id_makes_retries_apply_once(seed):
    df = ex.idempotency(seed)
    row = df.set_index("variant").loc["retry incr + dedupe"]
    assert row.applied == row.calls == row.final_x, f"{df}; replay with seed={seed}"
    retry = df.set_index("variant").loc["retry incr"]
    assert retry.applied > retry.calls, f"{df}; replay with seed={seed}"


@pytest.mark.parametrize("seed", SEEDS)
def test_least_active_avoids_the_slow_server(seed):
    _, summary = ex.balancing(seed, duration_ms=800.0)
    s = summary.set_index("policy")
    assert s.loc["least_active", "share_slow"] < 0.2, f"{summary}; replay with seed={seed}"
    assert s.loc["round_robin", "share_slow"] == pytest.approx(1 / 3, abs=0.02)
    assert s.loc["least_active", "p99_ms"] < s.loc["random", "p99_ms"], f"replay with seed={seed}"


@pytest.mark.parametrize("seed", SEEDS)
def test_breaker_fails_fast_while_the_dependency_is_down(seed):
    _, summary, trans = ex.breaker(seed)
    s = summary.set_index("variant")
    assert s.loc["breaker", "fast_failures"] > 0, f"replay with seed={seed}"
    assert s.loc["breaker", "sent_to_dep"] < s.loc["no breaker", "sent_to_dep"]
    assert (
        s.loc["breaker", "mean_ms_during_failure"]
        < s.loc["no breaker", "mean_ms_during_failure"] / 2
    )
    states = [t[2] for t in trans["breaker"]]
    assert states[0] == "open" and "half_open" in states and states[-1] == "closed", (
        f"{states}; replay with seed={seed}"
    )


def test_naive_retries_keep_goodput_collapsed_but_a_budget_recovers():
    seed = 1
    _, summary = ex.retry_storm(seed)
    s = summary.set_index("variant")
    assert s.loc["naive retries", "ok_frac_last_500ms"] < 0.1, f"replay with seed={seed}"
    assert s.loc["backoff + budget", "ok_frac_last_500ms"] > 0.9, f"replay with seed={seed}"
    assert s.loc["naive retries", "amplification"] > 2


def test_latency_climbs_then_rejections_start_with_load():
    df = ex.load_sweep(1, rates_per_s=(100, 700, 1200), duration_ms=1000.0)
    assert df.p50_ms.is_monotonic_increasing, "replay with seed=1"
    assert df.rejected_frac.iloc[0] == 0 and df.rejected_frac.iloc[-1] > 0.1, "replay with seed=1"


def test_anatomy_stages_add_up_and_pool_wait_appears_with_many_callers():
    df = ex.anatomy(1, calls_per_caller=5).set_index("label")
    assert df.loc["100 B, 1 caller", "pool_wait"] == 0
    assert df.loc["100 B, 8 callers", "pool_wait"] > 1.0
    assert df.loc["100 kB, 1 caller", "serialize"] > 10 * df.loc["100 B, 1 caller", "serialize"]


def test_same_seed_same_results():
    a, b = ex.balancing(4, duration_ms=300.0), ex.balancing(4, duration_ms=300.0)
    assert a[0].equals(b[0]) and a[1].equals(b[1]), "replay with seed=4"


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ex.load_sweep(1, rates_per_s=(-5,)), "rates_per_s=-5"),
        (lambda: ex.balancing(1, policies=("fastest",)), "policies='fastest'"),
        (lambda: ex.retry_storm(1, variants=("yolo",)), "variants='yolo'"),
        (lambda: ex.breaker(1, timeout_ms=0), "timeout_ms=0"),
        (lambda: ex.anatomy(-1), "seed=-1"),
        (lambda: RetryFilter(0), "max_attempts=0"),
        (lambda: TimeoutFilter(-1.0), "timeout_ms=-1.0"),
        (lambda: server(Counter, queue=-1), "queue=-1"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_client_rejects_unknown_servers():
    sim = Sim(1)
    with pytest.raises(ValueError, match="servers\\[0\\]='nope'"):
        RpcClient(sim, "c1", ["nope"])
