"""The first chapter's analysis: pure functions of what a scenario returned.

- :func:`latency_summary` -- per distribution: mean (analytic and sampled) and tail percentiles.
- :func:`digest` -- a short fingerprint of a history, to show that a replay is exact.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import pandas as pd

from dslab._validate import check_type
from dslab.history import History
from dslab.sim import (
    Constant,
    Exponential,
    Latency,
    LogNormal,
    Pareto,
    Uniform,
    as_latency,
    pareto_exp_mixture,
)
from dslab.sim.scenario import frame as _frame

#: Six one-way latency distributions with the same 2 ms mean and very different tails.
DEFAULT_LATENCIES: dict[str, Latency] = {
    "constant": Constant(2.0),
    "uniform": Uniform(1.0, 3.0),
    "exponential": Exponential(2.0),
    "lognormal": LogNormal(median_ms=2.0 / 1.3248, sigma=0.75),  # median * e^(sigma^2/2) = 2
    "pareto": Pareto(xm_ms=2.0 / 3.0, alpha=1.5),  # heavy tail: infinite variance
    # PBS-style (Bailis et al.) trace fit: mostly Pareto, sometimes a slow exponential
    "pbs-mixture": pareto_exp_mixture(p_pareto=0.9, xm_ms=1.0, alpha=3.0, rate_per_ms=1 / 6.5),
}


def _check_dists(dists: Any) -> dict[str, Latency]:
    if not isinstance(dists, Mapping) or not dists:
        raise TypeError(f"dists={dists!r} must be a non-empty dict {{name: Latency}}")
    out = {}
    for name, d in dists.items():
        check_type(f"dists key {name!r}", name, str)
        out[name] = as_latency(d, f"dists[{name!r}]")
    return out


def latency_summary(
    samples: pd.DataFrame, dists: Mapping[str, Latency] | None = None
) -> pd.DataFrame:
    """Per distribution: analytic mean, sample mean, median, 99th and 99.9th percentiles, max (ms),
    rounded to 3 decimals."""
    check_type("samples", samples, pd.DataFrame)
    ds = _check_dists(DEFAULT_LATENCIES if dists is None else dists)
    rows = []
    for name, g in samples.groupby("dist", sort=False):
        x = g["ms"]
        rows.append({
            "dist": name,
            "mean (analytic)": ds[name].mean if name in ds else float("nan"),
            "mean": x.mean(), "p50": x.quantile(0.5), "p99": x.quantile(0.99),
            "p99.9": x.quantile(0.999), "max": x.max(),
        })
    df = _frame(rows, samples.attrs.get("seed"), None).set_index("dist").round(3)
    df.attrs["seed"] = samples.attrs.get("seed")
    return df


def digest(history: History) -> str:
    """A short fingerprint of everything in ``history`` (SHA-256 of its JSON, 16 hex digits)."""
    check_type("history", history, History)
    return hashlib.sha256(history.to_json().encode()).hexdigest()[:16]
