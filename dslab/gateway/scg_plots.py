"""Figures for the Spring Cloud Gateway experiments (each returns a Figure, seed in the title)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dslab.viz.style import legend_outside, new_axes, title_with_seed

SCOPE_COLORS = {"global": "#1e88e5", "route": "#ef6c00", "": "#616161"}
INSTANCE_COLORS = {"o1": "#1e88e5", "o2": "#c62828", "o3": "#2e7d32", "o4": "#8e24aa"}


def plot_predicates(df: pd.DataFrame, *, promo: tuple[float, float] = (1000.0, 2000.0)):
    """One dot per request: its arrival time and the route its predicates chose."""
    seed = df["seed"].iloc[0]
    order = ["admin", "orders-write", "orders-v1", "orders-v2", "items-beta", "items-debug",
             "promo", "items", "web"]
    order = [r for r in order if r in set(df["route"])] + sorted(
        set(df["route"].dropna()) - set(order))
    fig, ax = new_axes("Which route each request took", seed=seed, xlabel="arrival time (ms)",
                       ylabel="route (id)", figsize=(9.0, 4.2))
    y = df["route"].map({r: i for i, r in enumerate(order)})
    ax.axvspan(*promo, color="#fff3e0", label="promo window (Between)")
    ax.scatter(df["t_ms"], y, s=6, color="#37474f")
    counts = df["route"].value_counts()
    ax.set_yticks(range(len(order)), [f"{r} ({counts.get(r, 0)})" for r in order])
    ax.invert_yaxis()
    legend_outside(ax, ax.get_legend_handles_labels()[0])
    return fig


def plot_filter_onion(traces: pd.DataFrame):
    """The filters' pre halves in order, the backend, then the post halves in reverse order:
    one panel per request; the filters are stacked by their order number."""
    seed = traces["seed"].iloc[0]
    names = list(dict.fromkeys(traces["request"]))
    filt_all = traces[traces["phase"] != "backend"]
    levels = sorted({(o, f) for o, f in zip(filt_all["order"], filt_all["filter"], strict=True)})
    rank = {f: i for i, (_, f) in enumerate(levels)}
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names) + 1.5, 3.8), sharey=True,
                             layout="constrained", squeeze=False)
    last = int(traces["step"].max())
    for ax, name in zip(axes[0], names, strict=True):
        t = traces[traces["request"] == name]
        filt = t[t["phase"] != "backend"]
        y = filt["filter"].map(rank)
        ax.plot(filt["step"], y, color="#bdbdbd", lw=1, zorder=1)
        for (scope, phase), g in filt.groupby(["scope", "phase"], sort=True):
            ax.scatter(g["step"], g["filter"].map(rank), marker="v" if phase == "pre" else "^",
                       s=60, zorder=2, color=SCOPE_COLORS[scope], label=f"{scope} filter, {phase}")
        for _, r in t[t["phase"] == "backend"].iterrows():
            ax.axvline(r["step"], color="#616161", ls="--", lw=1, label="backend answers")
        ax.set_title(name)
        ax.set_xlabel("step in the request's life")
        ax.set_xlim(0.5, last + 0.5)
    axes[0, 0].set_yticks(range(len(levels)), [f"{f} ({o:g})" for o, f in levels])
    axes[0, 0].set_ylabel("filter (order number)")
    handles: dict[str, object] = {}
    for ax in axes[0]:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    legend_outside(axes[0, -1], list(handles.values()), labels=list(handles.keys()))
    fig.suptitle(title_with_seed("Pre halves by order (down), post halves in reverse (up)", seed))
    return fig


def plot_registry_routes(df: pd.DataFrame, summary: pd.DataFrame, *, bin_ms: float = 100.0):
    """Requests per instance per ``bin_ms``, one panel per mode; shaded: from the instance's
    deregistration until the gateway applied it."""
    seed = df["seed"].iloc[0]
    modes = list(dict.fromkeys(df["mode"]))
    fig, axes = plt.subplots(len(modes), 1, figsize=(9.0, 2.6 * len(modes) + 0.6), sharex=True,
                             layout="constrained", squeeze=False)
    end = df["t_ms"].max()
    bins = np.arange(0.0, end + bin_ms, bin_ms)
    for ax, mode in zip(axes[:, 0], modes, strict=True):
        d = df[df["mode"] == mode]
        s = summary[summary["mode"] == mode].iloc[0]
        if s["leave_seen_ms"] is not None:
            ax.axvspan(s["leave_at_ms"], s["leave_at_ms"] + s["leave_seen_ms"], color="#ffcdd2",
                       label="o2 left, gateway not yet updated")
        insts = sorted(d["instance"].dropna().unique())
        counts = [np.histogram(d.loc[d["instance"] == i, "t_ms"], bins=bins)[0] for i in insts]
        ax.stackplot(bins[:-1] + bin_ms / 2, counts, colors=[INSTANCE_COLORS.get(i) for i in insts],
                     labels=[f"served by {i}" for i in insts], alpha=0.85)
        ax.axvline(s["join_at_ms"], color="#8e24aa", ls=":", lw=1.2, label="o4 registers")
        ax.axvline(s["leave_at_ms"], color="#c62828", ls=":", lw=1.2, label="o2 deregisters")
        ax.axvline(s["gone_at_ms"], color="#c62828", ls="--", lw=1.2, label="o2 shuts down")
        ax.set_title(f"{mode}: o2 dropped {s['leave_seen_ms']:.0f} ms after it left, "
                     f"{s['calls_after_leave']} calls still sent to it", fontsize=10)
        ax.set_ylabel(f"requests per {bin_ms:g} ms")
        legend_outside(ax, ax.get_legend_handles_labels()[0])
    axes[-1, 0].set_xlabel("time the request was sent (ms)")
    fig.suptitle(title_with_seed("Gateway routes follow the registry", seed))
    return fig
