"""How OCTO grew, as the governance chapter calls it: the scenarios of
:mod:`dslab.governance.evolution_scenarios` (which return :class:`~dslab.sim.scenario.Result`)
unpacked into the tables the chapter shows, and the analysis of
:mod:`dslab.governance.evolution_analysis`.

:func:`weight_lowering` returns ``(calls, weights)``; the weights frame carries
``attrs["sick_at_ms"]`` and ``attrs["heal_at_ms"]``, a compatibility copy of the Result's
metadata for :func:`weight_summary` and :func:`~dslab.governance.evolution_plots.plot_weights`.
:func:`room_takeover` returns ``(calls, probes, summary, sim)``; :func:`controller_run` the
``Sim``; :func:`controller_load` one DataFrame; :func:`cp_to_ap` ``(bins, registrations,
summary)``, the bins carrying the partition's schedule and ``bin_ms`` in ``attrs`` (a
compatibility copy of ``metadata["schedule"]``, read by
:func:`~dslab.governance.evolution_plots.plot_cp_ap`).
"""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd

from dslab.governance import evolution_scenarios as scenarios
from dslab.governance._facade import tables
from dslab.governance.evolution_analysis import (
    PROVIDERS,
    discovery_bins,
    load_row,
    probes_frame,
    room_summary,
    share_bins,
    weight_series,
    weight_summary,
)
from dslab.governance.evolution_scenarios import TIERS, build_tier
from dslab.governance.scenarios import ROOMS

room_takeover = tables(scenarios.room_takeover, "probes", "summary", "sim")
controller_load = tables(scenarios.controller_load)


@functools.wraps(scenarios.weight_lowering)
def weight_lowering(*args: Any, **kwargs: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    result = scenarios.weight_lowering(*args, **kwargs)
    weights = result.metadata["weights"]
    weights.attrs.update(sick_at_ms=result.metadata["sick_at_ms"],
                         heal_at_ms=result.metadata["heal_at_ms"])  # compatibility copy
    return result.frame, weights


@functools.wraps(scenarios.controller_run)
def controller_run(*args: Any, **kwargs: Any) -> Any:
    return scenarios.controller_run(*args, **kwargs).metadata["sim"]


@functools.wraps(scenarios.cp_to_ap)
def cp_to_ap(*args: Any, **kwargs: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    result = scenarios.cp_to_ap(*args, **kwargs)
    bins = result.frame
    bins.attrs.update(result.metadata["schedule"])  # compatibility copy for plot_cp_ap
    return bins, result.metadata["registrations"], result.metadata["summary"]


__all__ = ["PROVIDERS", "ROOMS", "TIERS", "build_tier", "controller_load", "controller_run",
           "cp_to_ap", "discovery_bins", "load_row", "probes_frame", "room_summary",
           "room_takeover", "share_bins", "weight_lowering", "weight_series", "weight_summary"]
