"""Gateway runs on the simulated network: isolation by the breaker, canary weights, the cache,
determinism and argument checks. A failure names the seed that replays it."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dslab.gateway import experiments as ex

SEEDS = [1, 2, 3]


def healthy(df, route, after_ms=1500.0):
    d = df[(df["route"] == route) & (df["t_ms"] >= after_ms)]
    return ((d["status"] == 200) & ~d["fallback"]).mean(), d["latency_ms"].quantile(0.95)


@pytest.mark.parametrize("seed", SEEDS)
def test_breaker_isolates_a_failing_backend(seed):
    df = ex.failing_backend(seed, breaker=True)
    for route in ("/users", "/items"):
        ok, p95 = healthy(df, route)
        assert ok == 1.0 and p95 < 50, f"{route}: ok={ok}, p95={p95}; replay with seed={seed}"
    orders = df[(df["route"] == "/orders") & (df["t_ms"] >= 1500)]
    assert orders["fallback"].all(), f"orders not degraded to the fallback; replay with seed={seed}"


@pytest.mark.parametrize("seed", SEEDS)
def test_without_breaker_the_failure_spreads(seed):
    df = ex.failing_backend(seed, breaker=False)
    ok, p95 = healthy(df, "/users")
    assert ok < 0.95 and p95 > 150, f"users unharmed (ok={ok}, p95={p95}); replay with seed={seed}"


@pytest.mark.parametrize("seed", SEEDS)
def test_canary_weight_within_sampling_error(seed):
    df = ex.canary(seed, weight=0.05)
    n = len(df)
    share = (df["version"] == "v2").mean()
    sigma = math.sqrt(0.05 * 0.95 / n)
    assert abs(share - 0.05) < 4 * sigma, f"v2 share {share:.4f} over {n}; replay with seed={seed}"


@pytest.mark.parametrize("seed", SEEDS)
def test_canary_by_header_sends_exactly_the_marked_users(seed):
    df = ex.canary(seed, mode="header", users=400, header_fraction=0.05)
    v2_users = set(df.loc[df["version"] == "v2", "user"])
    assert v2_users <= {f"u{i}" for i in range(20)}, f"replay with seed={seed}"
    assert not set(df.loc[df["version"] == "v1", "user"]) & v2_users, f"replay with seed={seed}"


def test_cache_trades_backend_load_for_staleness():
    sweep = ex.cache_sweep(1, ttls_ms=(0, 200, 1000), duration_ms=2000.0)
    assert sweep["hit_ratio"].is_monotonic_increasing, "replay with seed=1"
    assert sweep["backend_calls_per_s"].is_monotonic_decreasing, "replay with seed=1"
    assert sweep["stale_ratio"].iloc[-1] > sweep["stale_ratio"].iloc[0], "replay with seed=1"
    assert (sweep["max_age_ms"] <= sweep["ttl_ms"] + 20).all(), "replay with seed=1"


def test_same_seed_same_run():
    a = ex.failing_backend(7, breaker=True, duration_ms=2000.0)
    b = ex.failing_backend(7, breaker=True, duration_ms=2000.0)
    pd.testing.assert_frame_equal(a, b)
    c = ex.failing_backend(8, breaker=True, duration_ms=2000.0)
    assert not a["t_ms"].equals(c["t_ms"])


def test_limiter_trace_shows_the_boundary_burst():
    s = ex.limiter_summary(ex.limiter_trace(1)).set_index("limiter")
    assert s.loc["fixed window", "max_per_window"] == 20
    assert s.loc["sliding window", "max_per_window"] <= 10
    assert s.loc["leaky bucket", "max_per_100ms"] <= 2


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ex.failing_backend(-1), "seed=-1"),
        (lambda: ex.failing_backend(1, breaker="yes"), "breaker='yes'"),
        (lambda: ex.failing_backend(1, rate_per_s=0), "rate_per_s=0"),
        (lambda: ex.canary(1, mode="cookie"), "mode='cookie'"),
        (lambda: ex.canary(1, weight=2), "weight=2"),
        (lambda: ex.cache_sweep(1, ttls_ms=(10, -5)), r"ttls_ms\[1\]=-5"),
        (lambda: ex.limiter_trace(1, limit=0), "limit=0"),
        (lambda: ex.boundary_burst(window_ms=0), "window_ms=0"),
    ],
)
def test_bad_arguments_name_parameter_and_value(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_same_run_under_another_pythonhashseed():
    import os
    import subprocess
    import sys

    code = ("from dslab.gateway import experiments as ex; from dslab.governance import experiments"
            " as gx; d = ex.canary(3, duration_ms=1000.0); print(d['version'].tolist()[:200],"
            " gx.detection(3, duration_ms=3000.0)[1])")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": h}).stdout for h in ("1", "977")}
    assert len(outs) == 1, "replay with seed=3"
