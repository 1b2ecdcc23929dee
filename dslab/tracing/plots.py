"""Figures of traces: a Gantt chart of spans, raw against skew-corrected, blame and sampling."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from dslab.tracing.analysis import critical_path, depths
from dslab.viz.style import legend_outside, new_axes

CLIENT_COLOR = "#90caf9"
SERVER_COLOR = "#1565c0"
CRITICAL_COLOR = "#c62828"


def plot_gantt(
    trace: pd.DataFrame,
    seed: Any,
    *,
    title: str = "One trace",
    ax: Any | None = None,
    show_critical: bool = True,
) -> Any:
    """Spans as bars, one row each, indented by depth: light = client view (cs..cr), dark =
    server view (sr..ss). Times in ms from the root's ``cs``. Critical path outlined in red."""
    fig, ax = new_axes(
        title,
        seed=seed,
        xlabel="time since the root's client send (ms)",
        ylabel="",
        ax=ax,
        figsize=(9.0, 3.6),
    )
    dep = depths(trace)
    crit = set(critical_path(trace)) if show_critical else set()
    t0 = trace[trace.parent_id.isna()].cs.iloc[0]
    order = sorted(trace.itertuples(), key=lambda r: (_path_key(trace, r.span_id), r.cs))
    labels = []
    for y, r in enumerate(order):
        edge = CRITICAL_COLOR if r.span_id in crit else "none"
        ax.barh(
            y,
            r.cr - r.cs,
            left=r.cs - t0,
            height=0.7,
            color=CLIENT_COLOR,
            edgecolor=edge,
            linewidth=2,
        )
        if not np.isnan(r.sr):
            ax.barh(y, r.ss - r.sr, left=r.sr - t0, height=0.35, color=SERVER_COLOR)
        callee = r.server_node if isinstance(r.server_node, str) else r.name  # untraced callee
        labels.append("    " * dep[r.span_id] + f"{r.client_node}\u2192{callee}")
    ax.set_yticks(range(len(order)), labels)
    ax.invert_yaxis()
    ax.axvline(0, color="#757575", lw=0.8, ls=":")
    handles = [
        Patch(color=CLIENT_COLOR, label="client: cs \u2192 cr"),
        Patch(color=SERVER_COLOR, label="server: sr \u2192 ss"),
    ]
    if crit:
        handles.append(
            Patch(facecolor="none", edgecolor=CRITICAL_COLOR, lw=2, label="critical path")
        )
    legend_outside(ax, handles)
    return fig


def _path_key(trace: pd.DataFrame, sid: str) -> tuple:
    t = trace.set_index("span_id")
    path = []
    while sid is not None and not (isinstance(sid, float) and np.isnan(sid)):
        path.append(t.loc[sid].cs)
        pid = t.loc[sid].parent_id
        sid = None if pd.isna(pid) else pid
    return tuple(reversed(path))


def plot_skew(raw: pd.DataFrame, corrected: pd.DataFrame, seed: Any) -> Any:
    """The same trace as recorded (local clocks) and after skew correction."""
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9.0, 5.6), sharex=True, layout="constrained")
    plot_gantt(raw, seed, title="As recorded: each side's local clock", ax=a1, show_critical=False)
    plot_gantt(corrected, seed, title="Corrected with cs/sr/ss/cr", ax=a2, show_critical=False)
    a1.set_xlabel("")
    a2.get_legend().remove()
    return fig


def plot_blame(blame: pd.DataFrame, seed: Any) -> Any:
    fig, ax = new_axes(
        "Self time per service: slowest 5% of traces vs the rest",
        seed=seed,
        xlabel="service",
        ylabel="mean self time (ms)",
        figsize=(8.0, 3.6),
    )
    x = np.arange(len(blame))
    ax.bar(x - 0.2, blame.self_ms_other, 0.4, color=CLIENT_COLOR, label="other traces")
    ax.bar(
        x + 0.2, blame.self_ms_slowest_5pct, 0.4, color=CRITICAL_COLOR, label="slowest 5% of traces"
    )
    ax.set_xticks(x, blame.service)
    handles, _ = ax.get_legend_handles_labels()
    legend_outside(ax, handles)
    return fig


def plot_sampling(df: pd.DataFrame, seed: Any) -> Any:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.0, 3.8), layout="constrained")
    new_axes(
        "Overhead of tracing",
        seed=seed,
        xlabel="sampling rate (log)",
        ylabel="bytes reported per request",
        ax=a1,
    )
    a1.plot(df.sample_rate, df.report_bytes_per_request, "o-")
    a1.set_xscale("log")
    new_axes(
        "Catching the rare slow path",
        seed=seed,
        xlabel="sampling rate (log)",
        ylabel="slow requests (count)",
        ax=a2,
    )
    a2.plot(df.sample_rate, df.slow_requests, "k--", label="slow requests (true)")
    a2.plot(
        df.sample_rate, df.slow_traces_caught, "o-", color=CRITICAL_COLOR, label="slow traces kept"
    )
    a2.plot(
        df.sample_rate,
        df.slow_requests * df.sample_rate,
        ":",
        color="#757575",
        label="expected kept",
    )
    a2.set_xscale("log")
    a2.set_ylim(0, max(float(df.slow_requests.max()), 1.0) * 1.45)
    a2.legend(loc="upper left")
    return fig


def plot_overhead(df: pd.DataFrame, paper: pd.DataFrame, seed: Any) -> Any:
    """Latency and throughput change per sampling rate: this simulation beside Dapper's Table 2."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.0, 3.8), layout="constrained")
    x = np.arange(len(df))
    merged = df.merge(paper, on="sampling", how="left")
    for ax, ours, theirs, what in (
        (a1, "latency_pct", "paper_latency_pct", "mean latency change (%)"),
        (a2, "throughput_pct", "paper_throughput_pct", "throughput change (%)"),
    ):
        new_axes(
            what.split(" change")[0].capitalize() + " cost of tracing",
            seed=seed,
            xlabel="sampling rate",
            ylabel=what,
            ax=ax,
        )
        ax.bar(x - 0.2, merged[ours], 0.4, color=SERVER_COLOR, label="this simulation")
        ax.bar(
            x + 0.2,
            merged[theirs],
            0.4,
            color="#bdbdbd",
            hatch="//",
            label="Dapper paper, Table 2 (web search)",
        )
        ax.set_xticks(x, merged.sampling)
        ax.axhline(0, color="#424242", lw=0.8)
    a1.legend(loc="upper right")
    return fig


def plot_batching(df: pd.DataFrame, seed: Any) -> Any:
    """Per reporting variant: messages and bytes sent to the collector, and what was lost."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.0, 3.8), layout="constrained")
    y = np.arange(len(df))
    new_axes(
        "Cost of reporting", seed=seed, xlabel="bytes sent per span received", ylabel="", ax=a1
    )
    a1.barh(y, df.bytes_per_span, color=SERVER_COLOR)
    a1.set_yticks(y, df.reporting)
    a1.invert_yaxis()
    new_axes("Spans lost in a burst", seed=seed, xlabel="span parts (count)", ylabel="", ax=a2)
    a2.barh(y, df.received, color=CLIENT_COLOR, label="received")
    a2.barh(y, df.dropped, left=df.received, color=CRITICAL_COLOR, label="dropped: buffer full")
    a2.set_yticks(y, [""] * len(df))
    a2.invert_yaxis()
    handles, _ = a2.get_legend_handles_labels()
    legend_outside(a2, handles)
    return fig
