"""Figures of "transactions in practice", drawn from the frames of
:mod:`dslab.commit.practice_experiments`. Each function returns the matplotlib Figure; axes are
labelled with units and titles carry the seed (:func:`dslab.viz.style.new_axes`).

- :func:`plot_pattern_costs` -- latency, time to converge, time visibly half done and messages
  per transfer of every pattern, without faults and under faults (a
  :func:`~dslab.commit.practice_experiments.compare_sweep` frame per condition).
- :func:`plot_reader` -- what a reader adds up while one transfer runs, per pattern (the frames of
  :func:`~dslab.commit.practice_experiments.isolation_table`).
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from dslab._validate import check_type
from dslab.commit.practice_experiments import LABELS
from dslab.viz import OUTCOME_COLORS, new_axes
from dslab.viz.style import legend_outside, title_with_seed

#: One colour per pattern (2PC keeps the blue of the 2PC figures).
PATTERN_COLORS = {"2PC": "#1565c0", "TCC": "#00897b", "Saga": "#ef6c00", "Outbox": "#6d4c41",
                  "Tx message": "#7b1fa2"}
PANELS = (
    ("latency_ms", "Latency of ok transfers", "mean latency (ms)"),
    ("converge_ms", "Until every leg is final", "mean time to converge (ms)"),
    ("half_done_fraction", "A half-done transfer visible", "fraction of the load period"),
    ("messages_per_txn", "Messages per transfer", "messages per transfer"),
)


def _seed_label(frames: list[pd.DataFrame]) -> str:
    seeds = sorted({int(s) for f in frames for s in f["seed"].unique()})
    return f"{seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])


def plot_pattern_costs(runs: Mapping[str, pd.DataFrame]):
    """Four panels, one bar group per pattern and one bar per condition (``runs``: condition
    label -> a :func:`~dslab.commit.practice_experiments.compare_sweep` frame); bars are the mean
    over seeds, whiskers the min and max."""
    check_type("runs", runs, Mapping)
    if not runs:
        raise ValueError("runs={} is empty; give at least one condition")
    frames = list(runs.values())
    for label, f in runs.items():
        check_type(f"runs[{label!r}]", f, pd.DataFrame)
    patterns = [LABELS[p] for p in LABELS if any(LABELS[p] in set(f["pattern"]) for f in frames)]
    seed = _seed_label(frames)
    fig, axes = plt.subplots(2, 2, figsize=(9.0, 7.5), layout="constrained")
    fig.suptitle(title_with_seed("What each pattern costs", seed))
    width = 0.8 / len(runs)
    x = np.arange(len(patterns))
    alphas = np.linspace(0.45, 1.0, len(runs))
    hatches = ["//", "", "..", "xx"]
    for ax, (col, title, ylabel) in zip(axes.flat, PANELS, strict=True):
        new_axes(title, seed=None, xlabel="pattern", ylabel=ylabel, ax=ax)
        for j, (label, f) in enumerate(runs.items()):
            g = f.groupby("pattern")[col].agg(["mean", "min", "max"]).reindex(patterns)
            colours = [PATTERN_COLORS.get(p, "#757575") for p in patterns]
            pos = x - 0.4 + width * (j + 0.5)
            ax.bar(pos, g["mean"], width, color=colours, alpha=float(alphas[j]),
                   hatch=hatches[j % len(hatches)], edgecolor="white", label=label)
            err = np.vstack([g["mean"] - g["min"], g["max"] - g["mean"]])
            ax.errorbar(pos, g["mean"], yerr=err, fmt="none", ecolor="#424242", capsize=2,
                        lw=0.8)
        ax.set_xticks(x, [p.replace(" ", "\n") for p in patterns])
        ax.set_ylim(bottom=0)
        for j, f in enumerate(runs.values()):  # say "0" where a bar is empty
            g = f.groupby("pattern")[col].mean().reindex(patterns)
            for k, v in enumerate(g):
                if v == 0:
                    ax.text(x[k] - 0.4 + width * (j + 0.5), 0, "0", ha="center", va="bottom",
                            fontsize=8, color="#424242")
    handles = [Patch(facecolor="#9e9e9e", alpha=float(alphas[j]), hatch=hatches[j % 4],
                     edgecolor="white", label=label) for j, label in enumerate(runs)]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles),
               title="condition (bars: mean over seeds, whiskers: min to max)", title_fontsize=8)
    return fig


def plot_reader(reads: Mapping[str, pd.DataFrame], *, transfer_at_ms: float = 5.0):
    """One row per pattern: the money missing from the total a reader added up, at each read
    (plotted over the read's span, in ms); crosses mark reads a 2PC lock turned away."""
    check_type("reads", reads, Mapping)
    if not reads:
        raise ValueError("reads={} is empty; give at least one pattern")
    fig, axes = plt.subplots(len(reads), 1, figsize=(9.0, 1.5 + 1.35 * len(reads)),
                             sharex=True, sharey=True, layout="constrained")
    axes = np.atleast_1d(axes)
    seed = next(iter(reads.values())).attrs.get("seed")
    for i, (ax, (pattern, df)) in enumerate(zip(axes, reads.items(), strict=True)):
        label = LABELS.get(pattern, pattern)
        colour = PATTERN_COLORS.get(label, "#757575")
        title = "A reader adds up every balance, read after read" if i == 0 else ""
        new_axes(title, seed=seed if i == 0 else None, xlabel="", ylabel="", ax=ax)
        if i != 0:
            ax.set_title("")
        seen = df[~df["locked"]]
        for _, r in seen.iterrows():
            ax.hlines(r["missing"], r["start_ms"], r["end_ms"], color=colour, lw=3)
        locked = df[df["locked"]]
        ax.plot((locked["start_ms"] + locked["end_ms"]) / 2, [0] * len(locked), "x",
                color=OUTCOME_COLORS["fail"], ms=7, mew=2)
        ax.axvline(transfer_at_ms, color="#9e9e9e", ls=":", lw=1)
        ax.text(1.01, 0.5, label, transform=ax.transAxes, va="center", fontsize=10,
                color=colour, fontweight="bold")
    axes[-1].set_xlabel("time (ms); the transfer starts at the dotted line")
    fig.supylabel("money missing from the reader's total (of 3000 units)")
    handles = [plt.Line2D([], [], color="#616161", lw=3, label="one read (its span)"),
               plt.Line2D([], [], color=OUTCOME_COLORS["fail"], marker="x", lw=0,
                          label="read turned away\nby a 2PC lock")]
    legend_outside(axes[0], handles, bbox_to_anchor=(1.12, 1.0))
    return fig


__all__ = ["PANELS", "PATTERN_COLORS", "plot_pattern_costs", "plot_reader"]
