"""The atomic-commit chapter's analysis: pure functions of what a scenario of
:mod:`dslab.commit.scenarios` returned (its frame or its history).

- :data:`PARTICIPANT_COLUMNS` -- the columns of a single-transaction run's frame.
- :func:`client_result` -- what the client of a single-transaction run was told.
- :func:`crash_summary` -- one row per (protocol, step) of a crash matrix.
- :func:`blocking_table` -- :func:`dslab.commit.check.blocking` of several runs.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from dslab._validate import check_type
from dslab.commit.check import blocking
from dslab.history import History

PARTICIPANT_COLUMNS = [
    "protocol", "participant", "outcome", "decided_by", "voted_ms", "decided_ms", "in_doubt_ms",
]


def client_result(history: History) -> str | None:
    for inv, comp in history.pairs():
        if inv.f == "txn":
            return "no answer (info)" if comp is None or comp.type == "info" else (
                "committed" if comp.type == "ok" else "aborted")
    return None


def crash_summary(matrix: pd.DataFrame) -> pd.DataFrame:
    """One row per (protocol, step) of a :func:`crash_matrix`: the outcome, the longest time a
    participant stayed in doubt, and how the participants learned the outcome."""
    check_type("matrix", matrix, pd.DataFrame)
    rows = []
    for (protocol, step), g in matrix.groupby(["protocol", "step"], sort=False):
        outcomes = sorted(set(g["outcome"]))
        rows.append({
            "protocol": protocol, "step": step,
            "outcome": outcomes[0] if len(outcomes) == 1 else " / ".join(outcomes),
            "max_in_doubt_ms": float(g["in_doubt_ms"].max()),
            "learned_from": ", ".join(sorted({b for b in g["decided_by"] if isinstance(b, str)})),
            "client": g["client"].iloc[0], "atomic": bool(g["atomic"].iloc[0]),
        })
    out = pd.DataFrame(rows)
    out.attrs["seed"] = matrix.attrs.get("seed")
    return out


def blocking_table(histories: Mapping[str, History]) -> pd.DataFrame:
    """:func:`dslab.commit.check.blocking` of several runs, one block of rows per label."""
    check_type("histories", histories, Mapping)
    frames = []
    for label, h in histories.items():
        b = blocking(h)
        b.insert(0, "run", label)
        frames.append(b)
    return pd.concat(frames, ignore_index=True)


__all__ = ["PARTICIPANT_COLUMNS", "blocking_table", "client_result", "crash_summary"]
