"""The gateway chapter's analysis: pure functions over the request frames of
:mod:`dslab.gateway.scenarios` (and the limiters' arithmetic, which needs no simulation).

- :func:`max_in_window`, :func:`limiter_summary`, :func:`boundary_burst` -- what the four rate
  limiters let through, and the fixed window's boundary burst.
- :func:`per_route_bins`, :func:`failing_summary` -- ok and fallback ratios per route over time
  while a backend is down.
- :func:`canary_summary` -- traffic share, error rate and users touched per version.
- :func:`cache_staleness`, :func:`cache_row` -- how stale the cached answers were.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from dslab._validate import check_number
from dslab.gateway.limiters import make_limiter

LIMITERS = ("fixed", "sliding", "token", "leaky")


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


def cache_staleness(df: pd.DataFrame, data_period_ms: float) -> pd.DataFrame:
    """``df`` with ``stale`` (the answer's version is older than the data's at ``t_done``) and
    ``age_ms`` (how long ago the answer stopped being current; 0 when fresh). The data changes
    every ``data_period_ms``; a body is the version number it was read at."""
    current = (df["t_done"] // data_period_ms).astype(int)
    df["stale"] = df["body"].astype(int) < current
    df["age_ms"] = (df["t_done"] - (df["body"].astype(int) + 1) * data_period_ms).clip(lower=0)
    return df


def cache_row(df: pd.DataFrame, ttl_ms: float, backend_calls: int, duration_ms: float,
              seed: Any) -> dict[str, Any]:
    """One row of a cache sweep: hit ratio, backend calls per second, staleness."""
    return {"ttl_ms": float(ttl_ms), "requests": len(df),
            "hit_ratio": round(float(df["cached"].mean()), 4),
            "backend_calls_per_s": round(backend_calls / duration_ms * 1000, 1),
            "stale_ratio": round(float(df["stale"].mean()), 4),
            "mean_age_ms": round(float(df["age_ms"].mean()), 1),
            "max_age_ms": round(float(df["age_ms"].max()), 1), "seed": seed}


__all__ = ["LIMITERS", "boundary_burst", "cache_row", "cache_staleness", "canary_summary",
           "failing_summary", "limiter_summary", "max_in_window", "per_route_bins"]
