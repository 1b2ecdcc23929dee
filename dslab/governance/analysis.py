"""The governance chapter's analysis: pure functions of the consumer attempts and the history a
scenario of :mod:`dslab.governance.scenarios` returned.

- :func:`detection_summary` -- from the history: when the naming service marked a crashed
  provider down, when the last agent dropped it, and the calls that failed meanwhile.
- :func:`outcome_bins` -- the share of ``ok`` attempts per group and time bin.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dslab._validate import check_number
from dslab.history import History


def detection_summary(history: History, calls: pd.DataFrame, *, victim: str, crash_at_ms: float,
                      mode: str, agents: int, seed: Any) -> dict[str, Any]:
    """When the naming service marked ``victim`` down after ``crash_at_ms`` (``detected_ms``),
    when the last of the ``agents`` caches dropped it (``agents_updated_ms``), and how many
    consumer attempts failed after the crash."""
    downs = [e.time for e in history.events
             if e.name == "marked_down" and e.data.get("provider") == victim
             and e.time >= crash_at_ms]
    marked = downs[0] if downs else None
    updates = [e.time for e in history.events if e.name == "cache_updated"
               and e.time >= crash_at_ms and victim not in e.data.get("providers", [])]
    agents_done = max(updates[:agents]) if marked is not None and len(updates) >= agents else None
    failed = calls[(calls["t_ms"] >= crash_at_ms) & (calls["outcome"] != "ok")]
    return {
        "mode": mode, "seed": seed, "crash_at_ms": crash_at_ms,
        "detected_ms": None if marked is None else round(marked - crash_at_ms, 1),
        "agents_updated_ms": None if agents_done is None else round(agents_done - crash_at_ms, 1),
        "failed_calls": len(failed),
    }


def outcome_bins(df: pd.DataFrame, by: str, bin_ms: float = 100.0) -> pd.DataFrame:
    """Share of ``ok`` attempts per ``by`` column and time bin."""
    check_number("bin_ms", bin_ms, min=0, min_inclusive=False)
    d = df.assign(bin_ms=(df["t_ms"] // bin_ms) * bin_ms, ok=df["outcome"] == "ok")
    return d.groupby([by, "bin_ms"], sort=True).agg(
        attempts=("ok", "size"), ok_ratio=("ok", "mean")).reset_index()


__all__ = ["detection_summary", "outcome_bins"]
