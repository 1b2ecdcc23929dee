"""Probabilistically Bounded Staleness: how eventual is eventual consistency?

Bailis, Venkataraman, Franklin, Hellerstein and Stoica, "Probabilistically Bounded Staleness for
Practical Partial Quorums", VLDB 2012 (PBS). Two results are reproduced here:

*k-staleness, closed form* (the paper's section 3). With ``N`` replicas, a write that reaches a
random set of ``W`` of them and a read that asks a random set of ``R``, the read misses the write
with probability ``C(N-W, R) / C(N, R)``; it misses all of the last ``k`` independent writes with
that probability raised to the power ``k`` (:func:`pbs_closed_form`). If ``R + W > N`` the sets
always intersect and the probability is 0.

*t-visibility, the WARS model* (section 4, evaluated in section 5). In a Dynamo-style store the
write goes to all ``N`` replicas; it *commits* when ``W`` have acknowledged, and it keeps spreading
after that. For replica ``i`` draw four one-way delays: ``W[i]`` (coordinator to replica, write),
``A[i]`` (its acknowledgement), ``R[i]`` (read request) and ``S[i]`` (read response).

1. The write commits at ``c`` = the ``W``-th smallest ``W[i] + A[i]``.
2. A read starts ``t`` ms after the commit and returns with the first ``R`` replicas ordered by
   ``R[i] + S[i]``.
3. Replica ``i`` answers with the new value if the write reached it before the read request did:
   ``W[i] <= c + t + R[i]``. The read is *stale* if none of its ``R`` replicas had the write.

So each trial has a threshold ``min_i (W[i] - c - R[i])`` over the replicas the read used: the read
is consistent for every ``t`` at or above it. One Monte Carlo pass over ``trials`` draws therefore
gives the whole curve P(consistent | t) as the empirical CDF of the thresholds, and the ``t`` at
which it reaches 99.9% is their 99.9th percentile. As in the paper, read repair and anti-entropy
are left out (they only make reads fresher) and writes do not overlap.

The latency distributions (:data:`MODELS`) are the paper's fits to production traces from
LinkedIn (Voldemort on SSDs and on disks) and Yammer (Riak), each a mixture of a Pareto body and an
exponential tail, built from :mod:`dslab.sim.latency` objects. ``WAN`` is ``LNKD-DISK`` with 75 ms
added to every message to or from a replica in another datacenter: as in the paper, each
operation's coordinator sits in a random one of the ``N`` datacenters (one replica per
datacenter), drawn independently for the write and for the read, so the read's local replica is
often not the write's.

Speed: the trials are drawn as numpy arrays (:func:`sample_latency` mirrors each
``dslab.sim.latency`` class), from a generator seeded with ``derive_seed(seed, "pbs")``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dslab._validate import check_choice, check_number, check_seed, check_type
from dslab.eventual.messages import check_quorum
from dslab.sim.latency import (
    Constant,
    Exponential,
    Latency,
    LogNormal,
    Mixture,
    Pareto,
    Shifted,
    Uniform,
    pareto_exp_mixture,
)
from dslab.sim.rng import derive_seed


# --- the paper's latency fits ---------------------------------------------------------------------
@dataclass(frozen=True)
class WarsModel:
    """One-way delay distributions of the WARS model, in ms; ``wan_ms`` is added to each message
    to or from a replica outside the operation's own datacenter (0 for a single datacenter)."""

    name: str
    W: Latency
    A: Latency
    R: Latency
    S: Latency
    wan_ms: float = 0.0


#: LinkedIn Voldemort on SSDs: W = A = R = S (the paper's fit).
LNKD_SSD = pareto_exp_mixture(0.9122, 0.235, 10.0, 1.66)
#: LinkedIn Voldemort on spinning disks: the write delay W (A, R and S are LNKD_SSD).
LNKD_DISK_W = pareto_exp_mixture(0.38, 1.05, 1.51, 0.183)
#: Yammer Riak: the write delay W.
YMMR_W = pareto_exp_mixture(0.939, 3.0, 3.35, 0.0028)
#: Yammer Riak: A = R = S.
YMMR_ARS = pareto_exp_mixture(0.982, 1.5, 3.8, 0.0217)
#: The WAN scenario's extra one-way delay between datacenters.
WAN_DELAY_MS = 75.0

MODELS: dict[str, WarsModel] = {
    "LNKD-SSD": WarsModel("LNKD-SSD", LNKD_SSD, LNKD_SSD, LNKD_SSD, LNKD_SSD),
    "LNKD-DISK": WarsModel("LNKD-DISK", LNKD_DISK_W, LNKD_SSD, LNKD_SSD, LNKD_SSD),
    "YMMR": WarsModel("YMMR", YMMR_W, YMMR_ARS, YMMR_ARS, YMMR_ARS),
    "WAN": WarsModel("WAN", LNKD_DISK_W, LNKD_SSD, LNKD_SSD, LNKD_SSD, WAN_DELAY_MS),
}
DISTRIBUTIONS = tuple(MODELS)
#: The (R, W) settings the paper's table reports for N = 3 and this chapter plots.
CONFIGS = ((1, 1), (1, 2), (2, 1), (2, 2))

#: Published values, quoted from the paper's table "t-visibility for p_s = .001 (99.9% probability
#: of consistency) and 99.9% read (L_r) and write (L_w) latency across R and W, N = 3":
#: (dist, R, W) -> (L_r ms, L_w ms, t ms).
PAPER_TABLE: dict[tuple[str, int, int], tuple[float, float, float]] = {
    ("YMMR", 1, 1): (5.58, 10.83, 1364.0),
    ("YMMR", 1, 2): (5.61, 427.12, 1352.0),
    ("YMMR", 2, 1): (32.6, 10.73, 202.0),
    ("YMMR", 2, 2): (33.18, 428.11, 0.0),
    ("WAN", 1, 1): (3.4, 55.12, 113.0),
    ("WAN", 1, 2): (3.4, 167.64, 0.0),
    ("WAN", 2, 1): (151.3, 56.36, 30.2),
    ("WAN", 2, 2): (151.31, 167.72, 0.0),
    ("LNKD-SSD", 1, 1): (0.66, 0.66, 1.85),
    ("LNKD-SSD", 1, 2): (0.66, 1.63, 1.79),
    ("LNKD-SSD", 2, 1): (1.63, 0.65, 0.0),
    ("LNKD-SSD", 2, 2): (1.62, 1.64, 0.0),
    ("LNKD-DISK", 1, 1): (0.66, 10.99, 45.5),
    ("LNKD-DISK", 1, 2): (0.65, 20.97, 43.3),
    ("LNKD-DISK", 2, 1): (1.63, 10.9, 13.6),
    ("LNKD-DISK", 2, 2): (1.64, 20.96, 0.0),
}
#: Also from the paper's text, for N = 3 and R = W = 1: P(consistent) right after the commit and
#: 10 ms after it (it gives no such numbers for WAN).
PAPER_P_CONSISTENT: dict[str, tuple[float, float]] = {
    "YMMR": (0.893, 0.939),
    "LNKD-SSD": (0.975, 1.0),
    "LNKD-DISK": (0.439, 0.925),
}


# --- vectorized sampling of dslab.sim.latency distributions ---------------------------------------
def sample_latency(
    dist: Latency, rng: np.random.Generator, size: int | tuple[int, ...]
) -> np.ndarray:
    """Draw ``size`` delays (ms) from ``dist`` with numpy: the same distribution as
    ``dist.sample``, many times faster. Supports every class of :mod:`dslab.sim.latency`."""
    check_type("dist", dist, Latency)
    check_type("rng", rng, np.random.Generator)
    if isinstance(dist, Constant):
        return np.full(size, float(dist.ms))
    if isinstance(dist, Uniform):
        return rng.uniform(dist.low_ms, dist.high_ms, size)
    if isinstance(dist, Exponential):
        return rng.exponential(dist.mean_ms, size)
    if isinstance(dist, LogNormal):
        return rng.lognormal(math.log(dist.median_ms), dist.sigma, size)
    if isinstance(dist, Pareto):
        # inverse CDF: x_m * U^(-1/alpha) with U uniform on (0, 1]
        return dist.xm_ms * (1.0 - rng.random(size)) ** (-1.0 / dist.alpha)
    if isinstance(dist, Shifted):
        return dist.shift_ms + sample_latency(dist.base, rng, size)
    if isinstance(dist, Mixture):
        which = np.searchsorted(np.cumsum(dist.weights), rng.random(size), side="right")
        which = np.minimum(which, len(dist.components) - 1)
        out = np.empty(which.shape)
        for i, comp in enumerate(dist.components):
            mask = which == i
            out[mask] = sample_latency(comp, rng, int(mask.sum()))
        return out
    raise TypeError(f"dist={dist!r}: no numpy sampler for {type(dist).__name__}")


# --- the closed form ------------------------------------------------------------------------------
def pbs_closed_form(N: int, R: int, W: int, k: int = 1) -> float:
    """P(a read misses all of the last ``k`` writes) with random, non-expanding quorums:
    ``(C(N-W, R) / C(N, R)) ** k``. One minus it is the probability of ``k``-staleness."""
    check_quorum(N, R, W)
    check_number("k", k, min=1, integer=True)
    return (math.comb(N - W, R) / math.comb(N, R)) ** k


# --- the Monte Carlo ------------------------------------------------------------------------------
def _check(N: int, R: int, W: int, dist: str, trials: int, seed: int) -> WarsModel:
    check_quorum(N, R, W)
    check_type("dist", dist, str)
    check_choice("dist", dist, DISTRIBUTIONS)
    check_number("trials", trials, min=1, integer=True)
    check_seed(seed)
    return MODELS[dist]


def _draw(model: WarsModel, N: int, trials: int, rng: np.random.Generator):
    shape = (trials, N)
    w = sample_latency(model.W, rng, shape)
    a = sample_latency(model.A, rng, shape)
    r = sample_latency(model.R, rng, shape)
    s = sample_latency(model.S, rng, shape)
    if model.wan_ms:
        replica = np.arange(N)[None, :]
        remote_w = replica != rng.integers(N, size=trials)[:, None]
        remote_r = replica != rng.integers(N, size=trials)[:, None]
        w += model.wan_ms * remote_w
        a += model.wan_ms * remote_w
        r += model.wan_ms * remote_r
        s += model.wan_ms * remote_r
    return w, a, r, s


@dataclass(frozen=True)
class WarsTrials:
    """Per-trial results of the WARS Monte Carlo (arrays of length ``trials``, in ms)."""

    N: int
    R: int
    W: int
    dist: str
    seed: int
    threshold_ms: np.ndarray  # the read is consistent iff t >= threshold
    read_ms: np.ndarray  # read latency: the R-th fastest R[i] + S[i]
    write_ms: np.ndarray  # write latency: the W-th fastest W[i] + A[i]

    def p_consistent(self, t_ms: float | Iterable[float]) -> np.ndarray:
        """P(consistent read) at each ``t_ms`` after the commit."""
        t = np.atleast_1d(np.asarray(t_ms, dtype=float))
        ordered = np.sort(self.threshold_ms)
        return np.searchsorted(ordered, t, side="right") / ordered.size

    def t_visibility(self, p: float = 0.999) -> float:
        """The smallest ``t`` (ms, >= 0) at which P(consistent) reaches ``p``."""
        check_number("p", p, min=0, max=1, min_inclusive=False)
        q = float(np.quantile(self.threshold_ms, p, method="inverted_cdf"))
        return max(0.0, q)


def wars_trials(
    N: int = 3, R: int = 1, W: int = 1, dist: str = "LNKD-SSD", trials: int = 100_000, seed: int = 0
) -> WarsTrials:
    """Run the WARS Monte Carlo (module rules 1-3) and return the per-trial thresholds."""
    model = _check(N, R, W, dist, trials, seed)
    rng = np.random.default_rng(derive_seed(seed, "pbs"))
    w, a, r, s = _draw(model, N, trials, rng)
    commit = np.partition(w + a, W - 1, axis=1)[:, W - 1]
    rs = r + s
    order = np.argsort(rs, axis=1, kind="stable")[:, :R]
    slack = w - commit[:, None] - r  # replica i has the write for every t >= slack[i]
    threshold = np.take_along_axis(slack, order, axis=1).min(axis=1)
    read = np.take_along_axis(rs, order[:, R - 1 : R], axis=1)[:, 0]
    return WarsTrials(N, R, W, dist, seed, threshold, read, commit)


def pbs(
    N: int = 3,
    R: int = 1,
    W: int = 1,
    dist: str = "LNKD-SSD",
    trials: int = 100_000,
    seed: int = 0,
    t_ms: Iterable[float] | None = None,
) -> pd.DataFrame:
    """P(consistent read) as a function of ``t`` ms after the commit, by WARS Monte Carlo.

    Returns one row per ``t`` (default: 241 points from 0 to a little past the 99.9% point), with
    columns ``t_ms``, ``p_consistent`` and the parameters; ``attrs`` carries the seed and
    ``t_999_ms``, the t at which the probability reaches 99.9%.
    """
    res = wars_trials(N, R, W, dist, trials, seed)
    t999 = res.t_visibility(0.999)
    if t_ms is None:
        grid = np.linspace(0.0, max(1.25 * t999, 1.0), 241)
    else:
        grid = np.asarray(list(t_ms), dtype=float)
        if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid < 0):
            raise ValueError(f"t_ms={list(grid)!r} must be a non-empty list of finite t >= 0")
    df = pd.DataFrame(
        {
            "t_ms": grid,
            "p_consistent": res.p_consistent(grid),
            "N": N,
            "R": R,
            "W": W,
            "dist": dist,
        }
    )
    df.attrs.update(seed=seed, trials=trials, t_999_ms=t999)
    return df


def pbs_static(
    N: int = 3,
    R: int = 1,
    W: int = 1,
    k: int = 1,
    dist: str = "LNKD-SSD",
    trials: int = 100_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Monte Carlo of the closed form's setting: each of ``k`` writes reaches only its ``W``
    fastest replicas (no expansion, time ignored) and the read uses its ``R`` fastest. Returns
    ``(p_stale, standard_error)``, to compare with :func:`pbs_closed_form`."""
    model = _check(N, R, W, dist, trials, seed)
    check_number("k", k, min=1, integer=True)
    rng = np.random.default_rng(derive_seed(seed, "pbs-static"))
    misses = np.ones(trials, dtype=bool)
    read_set = None
    for _ in range(k):
        w, a, r, s = _draw(model, N, trials, rng)
        if read_set is None:  # one read, compared with k independent writes
            read_set = np.argsort(np.argsort(r + s, axis=1), axis=1) < R
        write_set = np.argsort(np.argsort(w + a, axis=1), axis=1) < W
        misses &= ~np.any(read_set & write_set, axis=1)
    p = float(misses.mean())
    return p, math.sqrt(max(p * (1 - p), 1.0 / trials) / trials)


def pbs_summary(
    N: int = 3,
    R: int = 1,
    W: int = 1,
    dist: str = "LNKD-SSD",
    trials: int = 100_000,
    seed: int = 0,
) -> dict[str, float | int | str]:
    """One row of the PBS table: the lab's numbers and, where published, the paper's."""
    res = wars_trials(N, R, W, dist, trials, seed)
    p0, p10 = res.p_consistent([0.0, 10.0])
    paper = PAPER_TABLE.get((dist, R, W)) if N == 3 else None
    paper_p = PAPER_P_CONSISTENT.get(dist) if (N, R, W) == (3, 1, 1) else None
    return {
        "dist": dist,
        "N": N,
        "R": R,
        "W": W,
        "p_consistent_t0": float(p0),
        "p_consistent_t10": float(p10),
        "closed_form_p_consistent": 1.0 - pbs_closed_form(N, R, W),
        "t_999_ms": res.t_visibility(0.999),
        "read_p999_ms": float(np.quantile(res.read_ms, 0.999)),
        "write_p999_ms": float(np.quantile(res.write_ms, 0.999)),
        "paper_t_999_ms": paper[2] if paper else math.nan,
        "paper_read_p999_ms": paper[0] if paper else math.nan,
        "paper_write_p999_ms": paper[1] if paper else math.nan,
        "paper_p_consistent_t0": paper_p[0] if paper_p else math.nan,
        "paper_p_consistent_t10": paper_p[1] if paper_p else math.nan,
    }
