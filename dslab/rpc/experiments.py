"""The RPC chapter's experiments, as the notebook calls them: the scenarios of
:mod:`dslab.rpc.scenarios` (which return :class:`~dslab.sim.scenario.Result`) unpacked into the
tables the chapter shows, plus the analysis of :mod:`dslab.rpc.analysis`.

Each function here takes the scenario's arguments and returns what the chapter has always read:
:func:`anatomy`, :func:`load_sweep`, :func:`idempotency`, :func:`server_filters`,
:func:`corruption` and :func:`compression_table` return one DataFrame; :func:`retry_storm`
returns ``(series, summary)``, :func:`balancing` ``(per_call, summary)``, :func:`breaker` and
:func:`isolation` ``(series, summary, transitions)``. Call the scenarios module for the Result
(with the histories).
"""

from __future__ import annotations

from dslab.rpc import scenarios
from dslab.rpc.analysis import (
    attempt_bins,
    error_bins,
    failure_counts,
    load_row,
    method_bins,
    method_success,
    stage_means,
)
from dslab.rpc.scenarios import ISOLATION_VARIANTS, LATENCY, RETRY_VARIANTS, build
from dslab.sim.scenario import as_tables

anatomy = as_tables(scenarios.anatomy)
load_sweep = as_tables(scenarios.load_sweep)
retry_storm = as_tables(scenarios.retry_storm, "summary")
idempotency = as_tables(scenarios.idempotency)
balancing = as_tables(scenarios.balancing, "summary")
breaker = as_tables(scenarios.breaker, "summary", "transitions")
server_filters = as_tables(scenarios.server_filters)
isolation = as_tables(scenarios.isolation, "summary", "transitions")
corruption = as_tables(scenarios.corruption)
compression_table = as_tables(scenarios.compression_table)

__all__ = [
    "ISOLATION_VARIANTS",
    "LATENCY",
    "RETRY_VARIANTS",
    "anatomy",
    "attempt_bins",
    "balancing",
    "breaker",
    "build",
    "compression_table",
    "corruption",
    "error_bins",
    "failure_counts",
    "idempotency",
    "isolation",
    "load_row",
    "load_sweep",
    "method_bins",
    "method_success",
    "retry_storm",
    "server_filters",
    "stage_means",
]
