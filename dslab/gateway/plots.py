"""Figures for the gateway chapter (each returns a matplotlib Figure, seed in the title)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dslab.viz.style import legend_outside, title_with_seed

LIMITER_COLORS = {"fixed window": "#c62828", "sliding window": "#1e88e5",
                  "token bucket": "#2e7d32", "leaky bucket": "#8e24aa"}
ROUTE_COLORS = {"/orders": "#c62828", "/users": "#1e88e5", "/items": "#2e7d32"}


def plot_limiters(trace: pd.DataFrame, *, bin_ms: float = 100.0, window_ms: float = 1000.0):
    """Arrivals and requests passed on per ``bin_ms``, one panel per limiter."""
    seed = trace["seed"].iloc[0]
    names = list(dict.fromkeys(trace["limiter"]))
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 1.9 * len(names) + 0.6), sharex=True,
                             layout="constrained")
    end = trace["t_ms"].max()
    bins = np.arange(0, end + bin_ms, bin_ms)
    for ax, name in zip(axes, names, strict=True):
        g = trace[trace["limiter"] == name]
        ax.hist(g["t_ms"], bins=bins, color="#bdbdbd", label="arrivals")
        ax.hist(g.loc[g["admitted"], "leave_ms"], bins=bins, color=LIMITER_COLORS[name],
                alpha=0.85, label="passed on")
        for edge in np.arange(window_ms, end, window_ms):
            ax.axvline(edge, color="#616161", lw=0.8, ls=":")
        ax.set_ylabel(f"{name}\nper {bin_ms:g} ms", fontsize=9)
        legend_outside(ax, ax.get_legend_handles_labels()[0])
    axes[-1].set_xlabel("time (ms); dotted lines: window edges")
    fig.suptitle(title_with_seed("Four rate limiters, same bursty arrivals", seed))
    return fig


def plot_failing(bins: pd.DataFrame, *, fail_at_ms: float = 1000.0, seed: int | None = None):
    """Success ratio and p95 latency per route over time, one column per variant."""
    variants = sorted(dict.fromkeys(bins["variant"]), key=lambda v: v != "no breaker")
    fig, axes = plt.subplots(2, len(variants), figsize=(10, 5.5), sharex=True, sharey="row",
                             layout="constrained")
    axes = np.atleast_2d(axes)
    if len(variants) == 1:
        axes = axes.T
    for j, variant in enumerate(variants):
        b = bins[bins["variant"] == variant]
        for route, g in b.groupby("route", sort=True):
            c = ROUTE_COLORS.get(route, None)
            axes[0, j].plot(g["bin_ms"], g["ok_ratio"], marker=".", color=c, label=route)
            axes[1, j].plot(g["bin_ms"], g["p95_latency_ms"], marker=".", color=c, label=route)
        for ax in axes[:, j]:
            ax.axvline(fail_at_ms, color="#616161", ls="--", lw=1)
        axes[0, j].set_title(variant)
        axes[1, j].set_xlabel("time the request was sent (ms)")
    axes[0, 0].set_ylabel("answered by the backend\n(ratio, 200 and not fallback)")
    axes[1, 0].set_ylabel("p95 latency (ms)")
    axes[0, 0].set_ylim(-0.05, 1.05)
    legend_outside(axes[0, -1], axes[0, -1].get_legend_handles_labels()[0])
    fig.suptitle(title_with_seed("All orders instances crash at the dashed line", seed))
    return fig


def plot_canary(summary: pd.DataFrame, *, seed: int | None = None):
    """Per mode: share of traffic and error rate per version; share of users touched by v2."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), layout="constrained")
    modes = list(dict.fromkeys(summary["mode"]))
    x = np.arange(len(modes))
    for k, (version, color) in enumerate((("v1", "#1e88e5"), ("v2", "#ef6c00"))):
        s = summary[summary["version"] == version].set_index("mode").reindex(modes)
        axes[0].bar(x + (k - 0.5) * 0.38, s["share"], 0.38, color=color, label=version)
        axes[1].bar(x + (k - 0.5) * 0.38, s["error_rate"], 0.38, color=color, label=version)
    v2 = summary[summary["version"] == "v2"].set_index("mode").reindex(modes)
    axes[2].bar(x - 0.19, v2["users_touched"], 0.38, color="#ffcc80", label="saw v2")
    axes[2].bar(x + 0.19, v2["users_with_error"], 0.38, color="#c62828", label="got a v2 error")
    titles = ("share of requests", "error rate per version", "users touched by v2")
    ylabels = ("fraction of requests", "fraction of requests failing", "fraction of users")
    for ax, t, y in zip(axes, titles, ylabels, strict=True):
        ax.set_xticks(x, [f"by {m}" for m in modes])
        ax.set_title(t)
        ax.set_ylabel(y)
    axes[0].legend(loc="center")
    axes[2].legend(loc="upper right")
    fig.suptitle(title_with_seed("Gray release of a buggy v2", seed))
    return fig


def plot_cache(sweep: pd.DataFrame):
    """Hit ratio and stale ratio (left axis) and backend load (right axis) against the ttl."""
    seed = sweep["seed"].iloc[0]
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    ax.plot(sweep["ttl_ms"], sweep["hit_ratio"], marker="o", color="#2e7d32", label="hit ratio")
    ax.plot(sweep["ttl_ms"], sweep["stale_ratio"], marker="s", color="#c62828",
            label="stale answers (ratio)")
    ax.set_xlabel("cache ttl (ms)")
    ax.set_ylabel("ratio of requests")
    ax.set_ylim(-0.03, 1.03)
    ax2 = ax.twinx()
    ax2.plot(sweep["ttl_ms"], sweep["backend_calls_per_s"], marker="^", color="#1e88e5",
             label="backend calls per s")
    ax2.set_ylabel("backend calls per second")
    ax2.set_ylim(bottom=0)
    ax2.grid(False)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="center right")
    ax.set_title(title_with_seed("Response cache: ttl against load and staleness", seed))
    return fig
