"""PBS (Bailis et al., VLDB 2012): the closed form, the WARS Monte Carlo against it, the numpy
sampler against dslab.sim.latency, and argument errors that name the culprit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dslab.eventual.experiments import pbs_closed_form_check, pbs_table
from dslab.eventual.pbs import (
    DISTRIBUTIONS,
    LNKD_DISK_W,
    LNKD_SSD,
    MODELS,
    YMMR_ARS,
    YMMR_W,
    pbs,
    pbs_closed_form,
    pbs_static,
    sample_latency,
    wars_trials,
)
from dslab.sim import Exponential, Mixture, Pareto, Shifted, stream

Z = 4.5  # standard errors of tolerance


def test_closed_form_values():
    assert pbs_closed_form(3, 1, 1) == pytest.approx(2 / 3)
    assert pbs_closed_form(3, 1, 1, k=2) == pytest.approx(4 / 9)
    assert pbs_closed_form(3, 2, 1) == pytest.approx(1 / 3)
    assert pbs_closed_form(3, 2, 2) == 0.0
    assert pbs_closed_form(100, 30, 30) == pytest.approx(1.88e-6, rel=0.05)  # the paper's example


@pytest.mark.parametrize(("R", "W"), [(1, 1), (1, 2), (2, 1), (2, 2)])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_static_monte_carlo_matches_the_closed_form(R, W, k):
    p, se = pbs_static(3, R, W, k, "LNKD-DISK", trials=60_000, seed=5)
    assert abs(p - pbs_closed_form(3, R, W, k)) <= Z * se


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_expanding_quorums_are_never_staler_than_the_closed_form_at_t0(dist):
    for R, W in [(1, 1), (1, 2), (2, 1)]:
        res = wars_trials(3, R, W, dist, trials=40_000, seed=2)
        stale0 = 1 - res.p_consistent([0.0])[0]
        se = math.sqrt(0.25 / 40_000)
        assert stale0 <= pbs_closed_form(3, R, W) + Z * se


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_intersecting_quorums_are_always_consistent(dist):
    res = wars_trials(3, 2, 2, dist, trials=20_000, seed=1)
    assert res.p_consistent([0.0])[0] == 1.0 and res.t_visibility() == 0.0


def test_consistency_only_grows_with_t():
    df = pbs(3, 1, 1, "LNKD-DISK", trials=20_000, seed=0)
    assert np.all(np.diff(df["p_consistent"]) >= 0)
    assert df["p_consistent"].iloc[-1] >= 0.999
    assert df.attrs["seed"] == 0 and df.attrs["t_999_ms"] > 0


def test_same_seed_same_curve_and_the_table_has_the_papers_values():
    a = pbs(3, 1, 2, "YMMR", trials=5_000, seed=9)
    b = pbs(3, 1, 2, "YMMR", trials=5_000, seed=9)
    assert a.equals(b)
    t = pbs_table(dists=["LNKD-SSD"], configs=[(1, 1)], trials=5_000, seed=0)
    assert t.loc[0, "paper_t_999_ms"] == 1.85 and t.loc[0, "paper_p_consistent_t0"] == 0.975


def test_closed_form_check_rows():
    df = pbs_closed_form_check(configs=[(1, 1)], ks=(1, 2), trials=20_000, seed=0)
    assert list(df["k"]) == [1, 2]
    assert (abs(df["static_mc"] - df["closed_form"]) <= Z * df["static_mc_se"]).all()


# --- the vectorized sampler against dslab.sim.latency ---------------------------------------------
def truncated_mean(dist, cap: float) -> float:
    """E[min(X, cap)] for the Pareto/exponential mixtures, from their parameters."""
    if isinstance(dist, Mixture):
        pairs = zip(dist.components, dist.weights, strict=True)
        return sum(w * truncated_mean(c, cap) for c, w in pairs)
    if isinstance(dist, Pareto):
        xm, a = dist.xm_ms, dist.alpha
        return xm + (xm**a) * (cap ** (1 - a) - xm ** (1 - a)) / (1 - a)
    if isinstance(dist, Exponential):
        return dist.mean_ms * (1 - math.exp(-cap / dist.mean_ms))
    if isinstance(dist, Shifted):
        return dist.shift_ms + truncated_mean(dist.base, cap - dist.shift_ms)
    raise TypeError(dist)


@pytest.mark.parametrize(
    "dist", [LNKD_SSD, YMMR_W, YMMR_ARS, LNKD_DISK_W, Shifted(LNKD_SSD, 75.0)],
    ids=["lnkd-ssd", "ymmr-w", "ymmr-ars", "lnkd-disk-w", "wan-hop"],
)
def test_numpy_sampler_has_the_distributions_mean(dist):
    n = 400_000
    xs = sample_latency(dist, np.random.default_rng(3), n)
    ys = np.asarray(dist.samples(stream(3, "pbs-test"), 50_000))
    cap = float(np.quantile(ys, 0.999))  # a cap keeps the variance finite even for alpha < 2
    for sample in (xs, ys):
        clipped = np.minimum(sample, cap)
        se = clipped.std() / math.sqrt(sample.size)
        assert abs(clipped.mean() - truncated_mean(dist, cap)) <= Z * se
    finite_variance = all(
        not isinstance(c, Pareto) or c.alpha > 2
        for c in getattr(getattr(dist, "base", dist), "components", ())
    )
    if finite_variance:  # the plain mean too, against Latency.mean
        assert abs(xs.mean() - dist.mean) <= Z * xs.std() / math.sqrt(n)
    # and the two samplers agree on the median
    assert np.median(xs) == pytest.approx(np.median(ys), rel=0.03)


def test_models_are_built_from_the_papers_parameters():
    w = MODELS["LNKD-DISK"].W
    assert isinstance(w, Mixture) and w.weights == (0.38, 0.62)
    assert w.components[0] == Pareto(1.05, 1.51)
    assert w.components[1].mean_ms == pytest.approx(1 / 0.183)
    assert MODELS["WAN"].wan_ms == 75.0 and MODELS["WAN"].W is LNKD_DISK_W


# --- bad arguments --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"R": 4}, ValueError, "R=4"),
        ({"W": 4}, ValueError, "W=4"),
        ({"N": 0}, ValueError, "N=0"),
        ({"dist": "LNKD-TAPE"}, ValueError, "dist='LNKD-TAPE'"),
        ({"trials": 0}, ValueError, "trials=0"),
        ({"R": 1.5}, TypeError, "R=1.5"),
        ({"seed": -1}, ValueError, "seed=-1"),
    ],
)
def test_bad_parameters_fail_naming_the_parameter_and_value(kwargs, exc, match):
    args = {"N": 3, "R": 1, "W": 1, "dist": "LNKD-SSD", "trials": 100, "seed": 0} | kwargs
    with pytest.raises(exc, match=match):
        pbs(**args)
    with pytest.raises(exc, match=match):
        wars_trials(**args)


def test_closed_form_rejects_bad_k():
    with pytest.raises(ValueError, match="k=0"):
        pbs_closed_form(3, 1, 1, k=0)
