"""The tracing chapter's experiments, as the notebook calls them: the scenarios of
:mod:`dslab.tracing.scenarios` (which return :class:`~dslab.sim.scenario.Result`) unpacked into
the tables the chapter shows.

:func:`run` returns ``(spans, requests, sim)``; :func:`slow_dependency` ``(blame, roots)``;
:func:`cache_db` ``(spans, per_trace)``; :func:`sampling_sweep`, :func:`propagation`,
:func:`hierarchical`, :func:`batching` and :func:`overhead` one DataFrame. :func:`overhead`'s
frame also carries ``attrs["baseline"]``, a compatibility copy of ``metadata["baseline"]``.
Call the scenarios module for the Results (with the histories).
"""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd

from dslab.sim.scenario import as_tables
from dslab.tracing import scenarios
from dslab.tracing.analysis import (
    blame,
    cache_traces,
    complete_traces,
    hierarchical_ids,
    overhead_row,
    trace_shapes,
)
from dslab.tracing.scenarios import (
    DAPPER_TABLE_2,
    EXPECTED_EDGES,
    LATENCY,
    NODES,
    build,
    traced,
)

run = as_tables(scenarios.run, "requests", "sim")
slow_dependency = as_tables(scenarios.slow_dependency, "roots")
sampling_sweep = as_tables(scenarios.sampling_sweep)
propagation = as_tables(scenarios.propagation)
hierarchical = as_tables(scenarios.hierarchical)
batching = as_tables(scenarios.batching)
cache_db = as_tables(scenarios.cache_db, "per_trace")


@functools.wraps(scenarios.overhead)
def overhead(*args: Any, **kwargs: Any) -> pd.DataFrame:
    result = scenarios.overhead(*args, **kwargs)
    out = result.frame
    out.attrs["baseline"] = result.metadata["baseline"]  # compatibility copy of the metadata
    return out


__all__ = [
    "DAPPER_TABLE_2",
    "EXPECTED_EDGES",
    "LATENCY",
    "NODES",
    "batching",
    "blame",
    "build",
    "cache_db",
    "cache_traces",
    "complete_traces",
    "hierarchical",
    "hierarchical_ids",
    "overhead",
    "overhead_row",
    "propagation",
    "run",
    "sampling_sweep",
    "slow_dependency",
    "trace_shapes",
    "traced",
]
