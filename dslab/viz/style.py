"""One look for every figure in the book: labelled axes with units, the seed in the title."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

#: Colours of op outcomes, shared by every history plot.
OUTCOME_COLORS = {"ok": "#2e7d32", "fail": "#c62828", "info": "#f9a825", "invoke": "#9e9e9e"}
#: Colours of Raft-like roles.
ROLE_COLORS = {
    "follower": "#90a4ae",
    "candidate": "#ffb300",
    "leader": "#1e88e5",
    "down": "#e0e0e0",
}
#: Shade of a fault interval (partitions, crashes, pauses).
FAULT_COLOR = "#ef9a9a"

plt.rcParams.update(
    {
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "font.size": 10,
        "axes.titlesize": 11,
        "legend.fontsize": 9,
        "legend.frameon": False,
    }
)


def title_with_seed(title: str, seed: Any | None) -> str:
    """``title`` followed by the seed that reproduces the figure (omitted only when unknown)."""
    return f"{title}  (seed={seed})" if seed is not None else title


def new_axes(
    title: str,
    *,
    seed: Any | None,
    xlabel: str,
    ylabel: str,
    ax: Any | None = None,
    figsize: tuple[float, float] = (8.0, 4.0),
):
    """Return ``(fig, ax)`` styled for the book; draws into ``ax`` if one is given."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    else:
        fig = ax.figure
    ax.set_title(title_with_seed(title, seed))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig, ax
