"""The BASE chapter's experiments, as the notebook calls them: the scenarios of
:mod:`dslab.eventual.scenarios` (which return :class:`~dslab.sim.scenario.Result`) in the shapes
the chapter reads, and the analysis of :mod:`dslab.eventual.analysis`.

:func:`siblings_demo` and :func:`convergence_run` return their Result (``df, history =
result``); :func:`hinted_handoff` returns ``(hints, summary, history)``; the others one
DataFrame, which carries the run's metadata in ``attrs`` (a compatibility copy for the plots).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pandas as pd

from dslab.eventual import scenarios
from dslab.eventual.analysis import handoff_summary, hint_rows, overload_row, pbs_comparison
from dslab.eventual.cluster import build
from dslab.eventual.scenarios import convergence_run, siblings_demo
from dslab.history import History
from dslab.sim.scenario import Result


def _frame_of(scenario: Callable[..., Result]) -> Callable[..., pd.DataFrame]:
    @functools.wraps(scenario)
    def run(*args: Any, **kwargs: Any) -> pd.DataFrame:
        return scenario(*args, **kwargs).frame

    return run


convergence_sweep = _frame_of(scenarios.convergence_sweep)
merkle_cost = _frame_of(scenarios.merkle_cost)
pbs_curves = _frame_of(scenarios.pbs_curves)
pbs_table = _frame_of(scenarios.pbs_table)
pbs_closed_form_check = _frame_of(scenarios.pbs_closed_form_check)
pbs_gap = _frame_of(scenarios.pbs_gap)
overload = _frame_of(scenarios.overload)


@functools.wraps(scenarios.hinted_handoff)
def hinted_handoff(*args: Any, **kwargs: Any) -> tuple[pd.DataFrame, pd.DataFrame, History]:
    result = scenarios.hinted_handoff(*args, **kwargs)
    return result.frame, result.metadata["summary"], result.history


__all__ = [
    "build",
    "convergence_run",
    "convergence_sweep",
    "handoff_summary",
    "hint_rows",
    "hinted_handoff",
    "merkle_cost",
    "overload",
    "overload_row",
    "pbs_closed_form_check",
    "pbs_comparison",
    "pbs_curves",
    "pbs_gap",
    "pbs_table",
    "siblings_demo",
]
