"""The RPC chapter's analysis: pure functions over the frames and logs a scenario produced.

Nothing here runs a simulation; each function turns what :mod:`dslab.rpc.scenarios` recorded
(per-call rows, the client's attempt log) into the numbers a chapter plots:

- :func:`stage_means` -- mean time per stage of the successful calls (the anatomy of a call).
- :func:`load_row` -- p50 / p99 latency, rejections and goodput of one open-loop run.
- :func:`attempt_bins` -- attempts sent and goodput per time bin (retry storms).
- :func:`error_bins` -- mean latency and error rate per time bin (circuit breaker).
- :func:`method_bins` -- success rate and mean latency per method and time bin (isolation).
- :func:`failure_counts` -- definite failures by error, one column per error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from dslab.rpc.client import STAGES


def fmt_bytes(n: int) -> str:
    """``"100 B"`` or ``"100 kB"``: a payload size as a label."""
    return f"{n // 1000} kB" if n >= 1000 else f"{n} B"


def stage_means(log: Iterable[Mapping[str, Any]]) -> tuple[pd.Series, int]:
    """Mean time of each stage of :data:`~dslab.rpc.client.STAGES` over the ``ok`` calls of a
    client's log (a stage a call did not go through counts as 0), and how many calls that was."""
    timings = [r for r in log if r["type"] == "ok"]
    mean = pd.DataFrame(timings).reindex(columns=list(STAGES)).fillna(0.0).mean()
    return mean, len(timings)


def load_row(
    df: pd.DataFrame, rate_per_s: float, *, workers: int, service_ms: float, duration_ms: float
) -> dict[str, Any]:
    """One row of a load sweep from the per-call rows of one open-loop run."""
    ok = df[df.type == "ok"].latency_ms
    return {
        "offered_per_s": float(rate_per_s),
        "utilization": rate_per_s * service_ms / 1000.0 / workers,
        "calls": len(df),
        "p50_ms": float(ok.quantile(0.5)) if len(ok) else np.nan,
        "p99_ms": float(ok.quantile(0.99)) if len(ok) else np.nan,
        "rejected_frac": float((df.error == "overloaded").mean()) if len(df) else 0.0,
        "goodput_per_s": len(ok) / (duration_ms / 1000.0),
    }


def attempt_bins(
    variant: str, send_times: Any, ok_end: Any, *, duration_ms: float, bin_ms: float
) -> list[dict[str, Any]]:
    """Per ``bin_ms`` bin of ``[0, duration_ms)``: attempts sent and ok calls completed, both per
    second (``send_times``: when each attempt left; ``ok_end``: when each ok call ended)."""
    send_times, ok_end = np.asarray(send_times), np.asarray(ok_end)
    edges = np.arange(0.0, duration_ms + bin_ms, bin_ms)
    rows = []
    for lo in edges[:-1]:
        rows.append(
            {
                "variant": variant,
                "t_ms": lo,
                "attempts_per_s": float(((send_times >= lo) & (send_times < lo + bin_ms)).sum())
                * 1000.0
                / bin_ms,
                "goodput_per_s": float(((ok_end >= lo) & (ok_end < lo + bin_ms)).sum())
                * 1000.0
                / bin_ms,
            }
        )
    return rows


def error_bins(df: pd.DataFrame, variant: str, *, bin_ms: float) -> pd.DataFrame:
    """Per start-time bin: mean latency, error rate (anything not ok) and number of calls."""
    df = df.assign(bin=(df.start_ms // bin_ms) * bin_ms)
    g = df.groupby("bin")
    s = (
        pd.DataFrame(
            {
                "mean_latency_ms": g.latency_ms.mean(),
                "error_rate": g.type.apply(lambda t: float((t != "ok").mean())),
                "calls": g.size(),
            }
        )
        .reset_index()
        .rename(columns={"bin": "t_ms"})
    )
    s.insert(0, "variant", variant)
    return s


def method_bins(df: pd.DataFrame, variant: str, *, bin_ms: float) -> pd.DataFrame:
    """Per method and start-time bin: success rate, mean latency of the ok calls, calls."""
    df = df.assign(bin=(df.start_ms // bin_ms) * bin_ms)
    ok = df.type == "ok"
    g = df.assign(ok=ok, ok_ms=df.latency_ms.where(ok)).groupby(["method", "bin"])
    s = (
        pd.DataFrame({"success": g.ok.mean(), "mean_ok_ms": g.ok_ms.mean(), "calls": g.size()})
        .reset_index()
        .rename(columns={"bin": "t_ms"})
    )
    s.insert(0, "variant", variant)
    return s


def method_success(df: pd.DataFrame, methods: Iterable[str]) -> dict[str, Any]:
    """``<method>_calls`` and ``<method>_success`` (ok fraction) for each method."""
    row: dict[str, Any] = {}
    for m in methods:
        d = df[df.method == m]
        row[f"{m}_calls"] = len(d)
        row[f"{m}_success"] = float((d.type == "ok").mean()) if len(d) else np.nan
    return row


def failure_counts(results: Iterable[Any]) -> dict[str, int]:
    """``{"failed: <error>": count}`` over the results that were not ok, sorted by error."""
    errors = pd.Series([r.error for r in results if r.type != "ok"], dtype=object)
    return {f"failed: {e}": int(n) for e, n in sorted(errors.value_counts().items())}


__all__ = [
    "attempt_bins",
    "error_bins",
    "failure_counts",
    "fmt_bytes",
    "load_row",
    "method_bins",
    "method_success",
    "stage_means",
]
