"""The gateway chapter's experiments, as the notebook calls them: the scenarios of
:mod:`dslab.gateway.scenarios` (which return :class:`~dslab.sim.scenario.Result`) unpacked into
the DataFrames the chapter shows, and the analysis of :mod:`dslab.gateway.analysis`.

:func:`limiter_trace`, :func:`failing_backend`, :func:`canary`, :func:`cache_run` and
:func:`cache_sweep` return one DataFrame; :func:`run_gateway` returns ``(df, sim)``.
:func:`cache_run`'s frame also carries ``attrs["backend_calls"]``, a compatibility copy of
``metadata["backend_calls"]``.
"""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd

from dslab.gateway import scenarios
from dslab.gateway._facade import tables
from dslab.gateway.analysis import (
    LIMITERS,
    boundary_burst,
    cache_row,
    cache_staleness,
    canary_summary,
    failing_summary,
    limiter_summary,
    max_in_window,
    per_route_bins,
)
from dslab.gateway.scenarios import SERVICES, TOKEN, build, bursty_trace

limiter_trace = tables(scenarios.limiter_trace)
run_gateway = tables(scenarios.run_gateway, "sim")
failing_backend = tables(scenarios.failing_backend)
canary = tables(scenarios.canary)
cache_sweep = tables(scenarios.cache_sweep)


@functools.wraps(scenarios.cache_run)
def cache_run(*args: Any, **kwargs: Any) -> pd.DataFrame:
    result = scenarios.cache_run(*args, **kwargs)
    df = result.frame
    df.attrs["backend_calls"] = result.metadata["backend_calls"]  # compatibility copy
    return df


__all__ = [
    "LIMITERS",
    "SERVICES",
    "TOKEN",
    "boundary_burst",
    "build",
    "bursty_trace",
    "cache_row",
    "cache_run",
    "cache_staleness",
    "cache_sweep",
    "canary",
    "canary_summary",
    "failing_backend",
    "failing_summary",
    "limiter_summary",
    "limiter_trace",
    "max_in_window",
    "per_route_bins",
    "run_gateway",
]
