"""Figures of the RPC experiments (each returns the matplotlib Figure; seed in every title)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dslab.rpc.client import STAGES
from dslab.viz.style import FAULT_COLOR, legend_outside, new_axes

STAGE_COLORS = dict(
    zip(STAGES, ("#8e24aa", "#f9a825", "#1e88e5", "#ef6c00", "#2e7d32", "#6d4c41"), strict=True)
)
VARIANT_COLORS = ("#1e88e5", "#c62828", "#2e7d32", "#8e24aa")


def plot_anatomy(df: pd.DataFrame, seed: Any) -> Any:
    """Stacked horizontal bars: mean ms per stage for each configuration."""
    fig, ax = new_axes(
        "Anatomy of a call: mean time per stage",
        seed=seed,
        xlabel="mean time per call (ms)",
        ylabel="",
        figsize=(9.0, 3.6),
    )
    left = np.zeros(len(df))
    y = np.arange(len(df))
    handles = []
    for st in STAGES:
        vals = df[st].to_numpy()
        handles.append(
            ax.barh(y, vals, left=left, color=STAGE_COLORS[st], label=st.replace("_", " "))
        )
        left += vals
    ax.set_yticks(y, df["label"])
    ax.invert_yaxis()
    legend_outside(ax, handles)
    return fig


def plot_load(df: pd.DataFrame, seed: Any) -> Any:
    """Latency percentiles and rejected share against offered load."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.0, 3.8), layout="constrained")
    new_axes(
        "Latency vs offered load",
        seed=seed,
        xlabel="offered load (calls/s)",
        ylabel="latency of ok calls (ms)",
        ax=a1,
    )
    a1.plot(df.offered_per_s, df.p50_ms, "o-", label="p50")
    a1.plot(df.offered_per_s, df.p99_ms, "s-", label="p99")
    a1.set_ylim(bottom=0)
    cap = df.offered_per_s[df.utilization >= 1.0]
    for ax in (a1, a2):
        if len(cap):
            ax.axvline(cap.iloc[0], color="#757575", ls=":", lw=1)
    a1.legend(loc="upper left")
    new_axes(
        "Rejections (overloaded)",
        seed=seed,
        xlabel="offered load (calls/s)",
        ylabel="rejected share of calls (%)",
        ax=a2,
    )
    a2.plot(df.offered_per_s, 100 * df.rejected_frac, "o-", color="#c62828")
    return fig


def plot_retry(series: pd.DataFrame, seed: Any, pause: tuple[float, float] = (300.0, 500.0)) -> Any:
    """Attempts sent and goodput over time, one line per retry policy."""
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9.0, 5.6), sharex=True, layout="constrained")
    new_axes(
        "Retry storm after a 200 ms server stall",
        seed=seed,
        xlabel="",
        ylabel="attempts sent (/s)",
        ax=a1,
    )
    new_axes("Goodput", seed=seed, xlabel="time (ms)", ylabel="ok calls completed (/s)", ax=a2)
    for i, (v, g) in enumerate(series.groupby("variant", sort=False)):
        c = VARIANT_COLORS[i % len(VARIANT_COLORS)]
        a1.plot(g.t_ms, g.attempts_per_s, color=c, label=v)
        a2.plot(g.t_ms, g.goodput_per_s, color=c, label=v)
    for ax in (a1, a2):
        ax.axvspan(*pause, color=FAULT_COLOR, alpha=0.4, lw=0)
    handles, _ = a1.get_legend_handles_labels()
    legend_outside(a1, handles)
    return fig


def plot_balancing(calls: pd.DataFrame, seed: Any) -> Any:
    """Latency CDF per balancing policy (log x)."""
    fig, ax = new_axes(
        "Load balancing with one slow server",
        seed=seed,
        xlabel="call latency (ms, log)",
        ylabel="share of calls <= x",
        figsize=(8.0, 3.8),
    )
    for i, (pol, g) in enumerate(calls.groupby("policy", sort=False)):
        x = np.sort(g.latency_ms.to_numpy())
        ax.plot(x, np.arange(1, len(x) + 1) / len(x), color=VARIANT_COLORS[i], label=pol)
    ax.set_xscale("log")
    handles, _ = ax.get_legend_handles_labels()
    legend_outside(ax, handles)
    return fig


def plot_breaker(
    series: pd.DataFrame,
    transitions: dict[str, list[tuple[float, str, str]]],
    seed: Any,
    failure: tuple[float, float] = (500.0, 1500.0),
) -> Any:
    """Mean latency and error rate over time without and with a breaker; open periods shaded."""
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9.0, 5.6), sharex=True, layout="constrained")
    new_axes(
        "Circuit breaker: a dependency down (red band)",
        seed=seed,
        xlabel="",
        ylabel="mean latency (ms)",
        ax=a1,
    )
    new_axes("Errors", seed=seed, xlabel="time call started (ms)", ylabel="calls not ok (%)", ax=a2)
    for i, (v, g) in enumerate(series.groupby("variant", sort=False)):
        c = VARIANT_COLORS[i]
        a1.plot(g.t_ms, g.mean_latency_ms, "o-", ms=3, color=c, label=v)
        a2.plot(g.t_ms, 100 * g.error_rate, "o-", ms=3, color=c, label=v)
    for ax in (a1, a2):
        ax.axvspan(*failure, color=FAULT_COLOR, alpha=0.35, lw=0)
    trans = transitions.get("breaker", [])
    opened = None
    for t, _frm, to in trans:
        if to == "open":
            opened = t
        elif opened is not None:
            a1.axvspan(opened, t, ymin=0.92, ymax=1.0, color="#424242")
            opened = None
        if to == "half_open":
            a1.axvline(t, color="#f9a825", lw=1, ls="--")
    handles, _ = a1.get_legend_handles_labels()
    from matplotlib.patches import Patch

    handles.append(Patch(color="#424242", label="breaker open"))
    legend_outside(a1, handles)
    return fig


def plot_isolation(
    series: pd.DataFrame,
    transitions: dict[str, list[tuple[float, str, str]]],
    seed: Any,
    incident_ms: tuple[float, float] = (1000.0, 3000.0),
) -> Any:
    """The fast method's success rate and latency over time, one line per variant; the slow
    database in red, the time ``slow`` spent in the slow pool as a dark bar."""
    fast = series[series.method == "fast"]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9.0, 5.6), sharex=True, layout="constrained")
    new_axes(
        "Api.fast while Api.slow's database is slow (red band)",
        seed=seed,
        xlabel="",
        ylabel="fast calls ok (%)",
        ax=a1,
    )
    new_axes(
        "Latency of the fast calls that succeeded",
        seed=seed,
        xlabel="time call started (ms)",
        ylabel="mean latency (ms)",
        ax=a2,
    )
    for i, (v, g) in enumerate(fast.groupby("variant", sort=False)):
        c = VARIANT_COLORS[i % len(VARIANT_COLORS)]
        ls = "--" if i == 1 else "-"  # dashed: visible where two lines coincide
        a1.plot(g.t_ms, 100 * g.success, marker="o", ls=ls, ms=3, color=c, label=v)
        a2.plot(g.t_ms, g.mean_ok_ms, marker="o", ls=ls, ms=3, color=c, label=v)
    a1.set_ylim(-5, 105)
    a2.set_ylim(bottom=0)
    for ax in (a1, a2):
        ax.axvspan(*incident_ms, color=FAULT_COLOR, alpha=0.35, lw=0)
    moved = None
    for t, method, to in transitions.get("slow-request isolation", []):
        if method != "slow":
            continue
        if to == "slow":
            moved = t
        elif moved is not None:
            a1.axvspan(moved, t, ymin=0.93, ymax=1.0, color="#424242")
            moved = None
    from matplotlib.patches import Patch

    handles, _ = a1.get_legend_handles_labels()
    handles.append(Patch(color="#424242", label="slow isolated"))
    legend_outside(a1, handles)
    return fig
