"""Figures for the governance chapter (each returns a matplotlib Figure, seed in the title)."""

from __future__ import annotations

import pandas as pd

from dslab.governance.analysis import outcome_bins
from dslab.viz.style import FAULT_COLOR, legend_outside, new_axes

MODE_COLORS = {"heartbeat": "#ef6c00", "scanner": "#1e88e5", "agent cache": "#2e7d32",
               "no cache": "#c62828"}


def plot_detection(calls: pd.DataFrame, summary: pd.DataFrame, *, bin_ms: float = 100.0):
    """Share of successful consumer calls over time per mode; dotted lines: MNS marks down."""
    seed = calls["seed"].iloc[0]
    fig, ax = new_axes("A provider crashes: calls that still reach it fail", seed=seed,
                       xlabel="time (ms)", ylabel=f"successful calls (ratio per {bin_ms:g} ms)")
    bins = outcome_bins(calls, "mode", bin_ms)
    for mode, g in bins.groupby("mode", sort=True):
        ax.plot(g["bin_ms"] + bin_ms / 2, g["ok_ratio"], marker=".", color=MODE_COLORS[mode],
                label=f"{mode} mode")
    for _, r in summary.iterrows():
        if r["detected_ms"] is not None:
            ax.axvline(r["crash_at_ms"] + r["detected_ms"], color=MODE_COLORS[r["mode"]],
                       ls=":", lw=1.5, label=f"{r['mode']}: marked down")
    ax.axvline(summary["crash_at_ms"].iloc[0], color="#424242", ls="--", lw=1,
               label="provider crashes")
    ax.set_ylim(min(0.5, float(bins["ok_ratio"].min()) - 0.05), 1.03)
    legend_outside(ax, ax.get_legend_handles_labels()[0])
    return fig


def plot_outage(df: pd.DataFrame, *, down_at_ms: float = 1000.0, up_at_ms: float = 3000.0,
                bin_ms: float = 100.0):
    """Share of successful consumer attempts over time, with and without the agent cache."""
    seed = df["seed"].iloc[0]
    fig, ax = new_axes("The naming service is down (shaded)", seed=seed, xlabel="time (ms)",
                       ylabel=f"successful attempts (ratio per {bin_ms:g} ms)")
    ax.axvspan(down_at_ms, up_at_ms, color=FAULT_COLOR, alpha=0.4, label="MNS down")
    bins = outcome_bins(df, "variant", bin_ms)
    for variant, g in bins.groupby("variant", sort=True):
        ax.plot(g["bin_ms"] + bin_ms / 2, g["ok_ratio"], marker=".", color=MODE_COLORS[variant],
                label=variant)
    ax.set_ylim(-0.03, 1.03)
    legend_outside(ax, ax.get_legend_handles_labels()[0])
    return fig
