"""Latency distributions for network links (all values in milliseconds).

Every distribution draws from a ``random.Random`` the caller passes in (the network's stream), so a
run is reproducible from its seed. Each knows its analytic ``mean`` (``inf`` where it has none) so
tests can check samples against parameters.

Mixtures model production traces, as in Bailis et al.'s PBS paper: with probability ``p`` a Pareto
draw (the body), otherwise an exponential (the tail). ``Shifted`` adds a fixed delay (a WAN hop).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from dslab._validate import check_number, check_type


class Latency:
    """Base class: ``sample(rng)`` returns one delay in ms (>= 0)."""

    def sample(self, rng: random.Random) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def mean(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def samples(self, rng: random.Random, n: int) -> list[float]:
        check_number("n", n, min=0, integer=True)
        return [self.sample(rng) for _ in range(n)]


@dataclass(frozen=True)
class Constant(Latency):
    """Always ``ms``."""

    ms: float

    def __post_init__(self) -> None:
        check_number("ms", self.ms, min=0)

    def sample(self, rng: random.Random) -> float:
        return float(self.ms)

    @property
    def mean(self) -> float:
        return float(self.ms)


@dataclass(frozen=True)
class Uniform(Latency):
    """Uniform on ``[low_ms, high_ms]``."""

    low_ms: float
    high_ms: float

    def __post_init__(self) -> None:
        check_number("low_ms", self.low_ms, min=0)
        check_number("high_ms", self.high_ms, min=self.low_ms)

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low_ms, self.high_ms)

    @property
    def mean(self) -> float:
        return (self.low_ms + self.high_ms) / 2


@dataclass(frozen=True)
class Exponential(Latency):
    """Exponential with mean ``mean_ms`` (rate ``1/mean_ms`` per ms)."""

    mean_ms: float

    def __post_init__(self) -> None:
        check_number("mean_ms", self.mean_ms, min=0, min_inclusive=False)

    @classmethod
    def from_rate(cls, rate_per_ms: float) -> Exponential:
        """Exponential with rate ``lambda`` per ms, as the PBS paper states its fits."""
        check_number("rate_per_ms", rate_per_ms, min=0, min_inclusive=False)
        return cls(1.0 / rate_per_ms)

    def sample(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.mean_ms)

    @property
    def mean(self) -> float:
        return float(self.mean_ms)


@dataclass(frozen=True)
class LogNormal(Latency):
    """Log-normal with median ``median_ms`` and shape ``sigma`` (std of the underlying normal)."""

    median_ms: float
    sigma: float

    def __post_init__(self) -> None:
        check_number("median_ms", self.median_ms, min=0, min_inclusive=False)
        check_number("sigma", self.sigma, min=0)

    def sample(self, rng: random.Random) -> float:
        return rng.lognormvariate(math.log(self.median_ms), self.sigma)

    @property
    def mean(self) -> float:
        return self.median_ms * math.exp(self.sigma**2 / 2)


@dataclass(frozen=True)
class Pareto(Latency):
    """Pareto with scale ``xm_ms`` (the minimum) and shape ``alpha``: heavy-tailed."""

    xm_ms: float
    alpha: float

    def __post_init__(self) -> None:
        check_number("xm_ms", self.xm_ms, min=0, min_inclusive=False)
        check_number("alpha", self.alpha, min=0, min_inclusive=False)

    def sample(self, rng: random.Random) -> float:
        return self.xm_ms * rng.paretovariate(self.alpha)

    @property
    def mean(self) -> float:
        return math.inf if self.alpha <= 1 else self.alpha * self.xm_ms / (self.alpha - 1)


@dataclass(frozen=True)
class Mixture(Latency):
    """With probability ``weights[i]`` draw from ``components[i]``; weights must sum to 1."""

    components: tuple[Latency, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "components", tuple(self.components))
        object.__setattr__(self, "weights", tuple(self.weights))
        if not self.components or len(self.components) != len(self.weights):
            raise ValueError(
                f"components (len {len(self.components)}) and weights (len {len(self.weights)}) "
                "must be non-empty and of equal length"
            )
        for i, (c, w) in enumerate(zip(self.components, self.weights, strict=True)):
            check_type(f"components[{i}]", c, Latency)
            check_number(f"weights[{i}]", w, min=0, max=1)
        if abs(sum(self.weights) - 1.0) > 1e-9:
            raise ValueError(
                f"weights={list(self.weights)} must sum to 1 (they sum to {sum(self.weights)})"
            )

    def sample(self, rng: random.Random) -> float:
        u = rng.random()
        acc = 0.0
        for c, w in zip(self.components, self.weights, strict=True):
            acc += w
            if u < acc:
                return c.sample(rng)
        return self.components[-1].sample(rng)

    @property
    def mean(self) -> float:
        return sum(w * c.mean for c, w in zip(self.components, self.weights, strict=True) if w > 0)


@dataclass(frozen=True)
class Shifted(Latency):
    """``base`` plus a fixed ``shift_ms`` (for example a 75 ms WAN hop)."""

    base: Latency
    shift_ms: float

    def __post_init__(self) -> None:
        check_type("base", self.base, Latency)
        check_number("shift_ms", self.shift_ms, min=0)

    def sample(self, rng: random.Random) -> float:
        return self.shift_ms + self.base.sample(rng)

    @property
    def mean(self) -> float:
        return self.shift_ms + self.base.mean


def pareto_exp_mixture(p_pareto: float, xm_ms: float, alpha: float, rate_per_ms: float) -> Mixture:
    """The PBS paper's trace fit: ``p_pareto`` Pareto(xm, alpha) + rest Exponential(rate)."""
    check_number("p_pareto", p_pareto, min=0, max=1)
    return Mixture(
        (Pareto(xm_ms, alpha), Exponential.from_rate(rate_per_ms)), (p_pareto, 1.0 - p_pareto)
    )


def as_latency(value: Latency | float | int, name: str = "latency") -> Latency:
    """Accept a distribution, or a number meaning a constant delay."""
    if isinstance(value, Latency):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{name}={value!r} must be a Latency distribution (Constant, Uniform, Exponential, "
            "LogNormal, Pareto, Mixture, Shifted) or a number of ms"
        )
    check_number(name, value, min=0)
    return Constant(float(value))
