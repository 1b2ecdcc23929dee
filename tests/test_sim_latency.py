"""Latency distributions draw what their parameters say, reproducibly from a seed.

Every statistical check uses a fixed seed and a tolerance of Z standard errors, derived from the
distribution's own parameters, so a test is exact to replay and still meaningful: a wrong formula
(a rate used as a mean, a median used as a mean) misses by far more than the tolerance.
"""

from __future__ import annotations

import math
import statistics

import pytest

from dslab.sim import (
    Constant,
    Exponential,
    LogNormal,
    Mixture,
    Pareto,
    Shifted,
    Uniform,
    as_latency,
    pareto_exp_mixture,
    stream,
)

N = 20_000
Z = 4.5  # standard errors of tolerance


def draw(dist, n=N, seed=11):
    return dist.samples(stream(seed, "latency-test"), n)


def assert_mean_close(xs, mean, sd):
    se = sd / math.sqrt(len(xs))
    got = statistics.fmean(xs)
    assert abs(got - mean) <= Z * se, (
        f"sample mean {got:.4f} vs {mean:.4f} (tolerance {Z * se:.4f})"
    )


def test_constant_always_returns_its_value():
    assert set(draw(Constant(2.5), n=100)) == {2.5}
    assert Constant(2.5).mean == 2.5


def test_uniform_stays_within_bounds_and_fills_them():
    xs = draw(Uniform(1.0, 3.0))
    assert min(xs) >= 1.0 and max(xs) <= 3.0
    # with 20k draws the extremes come within 0.01 ms of the bounds (P(miss) ~ e^-100)
    assert min(xs) < 1.01 and max(xs) > 2.99


def test_uniform_mean_is_the_midpoint():
    xs = draw(Uniform(1.0, 3.0))
    assert_mean_close(xs, 2.0, sd=2.0 / math.sqrt(12))
    assert Uniform(1.0, 3.0).mean == 2.0


def test_exponential_mean_is_mean_ms():
    xs = draw(Exponential(4.0))
    assert_mean_close(xs, 4.0, sd=4.0)
    assert min(xs) >= 0


def test_exponential_from_rate_has_mean_one_over_rate():
    dist = Exponential.from_rate(0.25)
    assert dist.mean == pytest.approx(4.0)
    assert_mean_close(draw(dist), 4.0, sd=4.0)


def test_lognormal_median_is_median_ms():
    median, sigma = 3.0, 0.8
    logs = [math.log(x) for x in draw(LogNormal(median, sigma))]
    # log of a lognormal sample is normal(log median, sigma): its mean has SE sigma / sqrt(N)
    assert_mean_close(logs, math.log(median), sd=sigma)
    # the sample median itself: SE of a normal median is ~1.2533 sigma / sqrt(N)
    got = math.exp(statistics.median(logs))
    tol = math.exp(Z * 1.2533 * sigma / math.sqrt(N))
    assert median / tol <= got <= median * tol


def test_lognormal_mean_is_median_times_exp_half_sigma_squared():
    dist = LogNormal(3.0, 0.5)
    assert dist.mean == pytest.approx(3.0 * math.exp(0.125))
    sd = dist.mean * math.sqrt(math.exp(0.25) - 1)
    assert_mean_close(draw(dist), dist.mean, sd=sd)


def test_pareto_never_goes_below_its_minimum():
    xs = draw(Pareto(2.0, 1.5))
    assert min(xs) >= 2.0
    assert min(xs) < 2.0 * 1.001  # the minimum is reached, not just bounded


def test_pareto_mean_follows_alpha():
    xm, alpha = 2.0, 3.0
    dist = Pareto(xm, alpha)
    assert dist.mean == pytest.approx(alpha * xm / (alpha - 1))
    sd = xm * math.sqrt(alpha / ((alpha - 1) ** 2 * (alpha - 2)))
    assert_mean_close(draw(dist, n=50_000), dist.mean, sd=sd)


def test_pareto_with_alpha_at_most_one_has_no_mean():
    assert Pareto(1.0, 1.0).mean == math.inf


def test_mixture_draws_each_component_with_its_weight():
    xs = draw(Mixture((Constant(1.0), Constant(100.0)), (0.3, 0.7)))
    share = xs.count(1.0) / len(xs)
    se = math.sqrt(0.3 * 0.7 / len(xs))
    assert abs(share - 0.3) <= Z * se, f"share of component 0 = {share}"
    assert set(xs) == {1.0, 100.0}


def test_mixture_mean_is_the_weighted_mean():
    dist = Mixture((Exponential(2.0), Uniform(10.0, 20.0)), (0.25, 0.75))
    assert dist.mean == pytest.approx(0.25 * 2.0 + 0.75 * 15.0)
    # variance of a mixture: E[var] + var of the component means
    ev = 0.25 * 4.0 + 0.75 * (100.0 / 12)
    vm = 0.25 * (2.0 - dist.mean) ** 2 + 0.75 * (15.0 - dist.mean) ** 2
    assert_mean_close(draw(dist), dist.mean, sd=math.sqrt(ev + vm))


def test_pbs_pareto_exponential_mixture_weights_its_components():
    dist = pareto_exp_mixture(p_pareto=0.9, xm_ms=1.0, alpha=3.0, rate_per_ms=0.1)
    assert dist.weights == (0.9, pytest.approx(0.1))
    assert dist.mean == pytest.approx(0.9 * 1.5 + 0.1 * 10.0)


def test_shifted_adds_exactly_its_offset_to_the_base_draws():
    base = Exponential(2.0)
    shifted = draw(Shifted(base, 75.0), n=1000)
    plain = draw(base, n=1000)  # same seed, same stream: the same base draws
    assert all(s == pytest.approx(p + 75.0) for s, p in zip(shifted, plain, strict=True))
    assert min(shifted) >= 75.0
    assert Shifted(base, 75.0).mean == 77.0


@pytest.mark.parametrize(
    "dist",
    [
        Uniform(0.5, 9.0),
        Exponential(3.0),
        LogNormal(2.0, 1.0),
        Pareto(1.0, 2.0),
        pareto_exp_mixture(0.5, 1.0, 2.0, 0.2),
        Shifted(LogNormal(1.0, 0.3), 10.0),
    ],
    ids=repr,
)
def test_samples_are_reproducible_from_a_seed(dist):
    assert draw(dist, n=500, seed=3) == draw(dist, n=500, seed=3)
    assert draw(dist, n=500, seed=3) != draw(dist, n=500, seed=4)


def test_a_number_means_a_constant_latency():
    assert as_latency(3) == Constant(3.0)
    dist = LogNormal(1.0, 0.5)
    assert as_latency(dist) is dist
