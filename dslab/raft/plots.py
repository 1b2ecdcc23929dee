"""Figures of the Raft chapter. Each takes what an experiment of :mod:`dslab.raft.experiments`
returned and returns a matplotlib Figure, with labelled axes (units included) and the seed in the
title (:mod:`dslab.viz.style`). Roles over time are drawn by :func:`dslab.viz.role_timeline`.

- :func:`plot_downtime` -- Figure 16: cumulative distributions of the time without a leader, one
  curve per election-timeout range, the paper's quoted numbers marked beside them.
- :func:`plot_log_matrix` -- every server's log at chosen moments, one panel per moment: a cell
  per entry, coloured by its term with the term written in, committed entries framed.
- :func:`plot_throughput` -- throughput and latency percentiles of the KV service against the
  number of clients.
- :func:`plot_roles` -- :func:`dslab.viz.role_timeline` with the network faults of the run shaded
  over the servers they cut off, and every fault named at the top.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from dslab._validate import check_type
from dslab.raft.experiments import FIG16_BOTTOM, FIG16_TOP, PAPER_FIG16
from dslab.viz import role_timeline
from dslab.viz.style import (
    MESSAGE_PALETTE,
    ROLE_COLORS,
    fault_spans,
    legend_outside,
    natural_key,
    new_axes,
    run_end,
    shade_faults,
    span_legend_handles,
    title_with_seed,
)

#: Colours of log entries by term (term 1 first); they repeat after ten terms.
TERM_COLORS = (
    "#bbdefb", "#c8e6c9", "#ffe0b2", "#e1bee7", "#b2ebf2",
    "#f8bbd0", "#dcedc8", "#d7ccc8", "#fff9c4", "#cfd8dc",
)  # fmt: skip

#: One colour per election-timeout range, the same in both panels of Figure 16.
_RANGE_ORDER = list(dict.fromkeys(FIG16_TOP + FIG16_BOTTOM))
_RANGE_COLORS = (*MESSAGE_PALETTE, "#393b79", "#637939")

_PAPER_MARKS = {"median_ms": ("D", "median"), "mean_ms": ("o", "mean"), "max_ms": ("^", "max")}


def _check_frame(name: str, df: Any, columns: Sequence[str]) -> pd.DataFrame:
    check_type(name, df, pd.DataFrame)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{name} lacks the columns {missing}; pass what the experiment returned "
            f"(columns: {list(df.columns)})"
        )
    return df


def _range_label(lo: float, hi: float) -> str:
    return f"{lo:g}-{hi:g} ms"


def _downtime_panel(ax: Any, df: pd.DataFrame, ranges: Sequence[tuple[float, float]],
                    log_x: bool, xmax: float | None) -> list[Any]:
    handles: list[Any] = []
    cap = float(df["cap_ms"].max())
    for lo, hi in ranges:
        g = df[(df["timeout_min_ms"] == lo) & (df["timeout_max_ms"] == hi)]
        if g.empty:
            continue
        i = _RANGE_ORDER.index((lo, hi)) if (lo, hi) in _RANGE_ORDER else len(_RANGE_ORDER)
        colour = _RANGE_COLORS[i % len(_RANGE_COLORS)]
        n = len(g)
        capped = int(g["capped"].sum())
        xs = np.sort(g.loc[~g["capped"], "downtime_ms"].to_numpy(dtype=float))
        label = f"{_range_label(lo, hi)}  ({n} trials"
        label += f", {capped} > {cap / 1000:g} s)" if capped else ")"
        if xs.size:
            ys = np.arange(1, xs.size + 1) / n
            ax.step(np.r_[xs[0], xs], np.r_[0.0, ys], where="post", color=colour, lw=1.6,
                    gid="cdf")
        if capped:  # they never got a leader within the cap: the curve cannot reach 100%
            level = xs.size / n
            start = xs[-1] if xs.size else lo
            ax.plot([start, cap], [level, level], color=colour, lw=1.2, ls=":")
            ax.plot([cap], [level], marker=">", color=colour, ms=8, zorder=4, gid="capped")
        handles.append(Line2D([], [], color=colour, lw=1.6, label=label))
        for key, (marker, word) in _PAPER_MARKS.items():
            x = PAPER_FIG16.get((lo, hi), {}).get(key, math.nan)
            if math.isnan(x):
                continue
            y = {"median_ms": 0.5, "max_ms": 1.0}.get(key)
            if y is None:  # a mean is not a point of the CDF: mark it on the x axis
                y = 0.0
            ax.plot([x], [y], marker=marker, ms=9, color=colour, mec="black", mew=1.2,
                    zorder=5, clip_on=False, gid="paper")
            handles.append(Line2D([], [], marker=marker, ls="none", color=colour, mec="black",
                                  ms=8, label=f"paper, {_range_label(lo, hi)}: {word} {x:g} ms"))
        if (lo, hi) == (150, 150) and (150, 150) in PAPER_FIG16:
            ax.annotate("paper: > 10 s\n(every trial)", xy=(10_000, 0.0), xytext=(10_000, 0.22),
                        ha="center", fontsize=8, color=colour,
                        arrowprops={"arrowstyle": "->", "color": colour})
    if log_x:
        ax.set_xscale("log")
        ax.set_xlim(100, cap * 2)
    elif xmax is not None:
        ax.set_xlim(0, xmax)
    ax.set_ylim(-0.02, 1.03)
    return handles


def plot_downtime(trials_df: pd.DataFrame, *, title: str = "Time without a leader after a crash",
                  bottom_xmax_ms: float | None = None, panels: str = "paper"):
    """Figure 16: the CDF of the downtime for each range, top panel (randomness added to a 150 ms
    minimum) on a log axis, bottom panel (the minimum scaled) on a linear one.

    Trials that found no leader within the cap are never counted as done: their curve stops below
    100% and a dotted line ends in a triangle at the cap. The paper's quoted numbers are black-edged
    markers in the colour of their range: a diamond at 50% for a median, a triangle at 100% for a
    maximum, a circle on the x axis for a mean. ``panels="one"`` draws every range in one panel
    (log x axis only if some trial was capped).
    """
    if panels not in ("paper", "one"):
        raise ValueError(f"panels={panels!r} is not allowed; choose 'paper' or 'one'")
    df = _check_frame("trials_df", trials_df,
                      ["timeout_min_ms", "timeout_max_ms", "downtime_ms", "capped", "cap_ms"])
    seed = df.attrs.get("seed")
    present = set(zip(df["timeout_min_ms"], df["timeout_max_ms"], strict=True))
    top = [r for r in FIG16_TOP if r in present]
    bottom = [r for r in FIG16_BOTTOM if r in present]
    other = sorted(r for r in present if r not in top and r not in bottom)
    if panels == "one":
        ranges = [r for r in _RANGE_ORDER if r in present] + other
        chosen = [(ranges, bool(df["capped"].any()))]
    else:
        chosen = [(p, log) for p, log in ((top + other, True), (bottom, False)) if p]
    fig, axes = plt.subplots(len(chosen), 1, figsize=(10.0, 3.6 * len(chosen) + 0.4),
                             layout="constrained", squeeze=False)
    n_trials = df.groupby(["timeout_min_ms", "timeout_max_ms"]).size()
    lo_n, hi_n = int(n_trials.min()), int(n_trials.max())
    servers = sorted(set(df["servers"])) if "servers" in df.columns else [5]
    fig.suptitle(title_with_seed(
        f"{title}: {'/'.join(str(s) for s in servers)} servers, "
        f"{lo_n if lo_n == hi_n else f'{lo_n}-{hi_n}'} trials per range", seed))
    for ax, (ranges, log_x) in zip(axes[:, 0], chosen, strict=True):
        if bottom_xmax_ms is None and not log_x:
            sub = df[df.set_index(["timeout_min_ms", "timeout_max_ms"]).index.isin(ranges)]
            xmax = float(sub.loc[~sub["capped"], "downtime_ms"].max()) * 1.05
        else:
            xmax = bottom_xmax_ms
        handles = _downtime_panel(ax, df, ranges, log_x, xmax)
        what = ("" if panels == "one" else
                "randomness added to a 150 ms minimum (log scale)" if log_x and ranges == top
                else "the minimum timeout scaled" if ranges == bottom else "")
        if what:
            ax.set_title(f"Election timeout ranges: {what}", fontsize=10)
        ax.set_xlabel("time without a leader (ms" + (", log scale" if log_x else "") + "):\n"
                      "from the crash until every survivor has heard the new leader")
        ax.set_ylabel("cumulative fraction\nof trials")
        legend_outside(ax, handles, fontsize=8)
    return fig


def plot_log_matrix(log_df: pd.DataFrame, *, title: str = "Every server's log",
                    moments: Sequence[str] | None = None, ncols: int | None = None):
    """Draw each moment of ``log_df`` (:func:`~dslab.raft.experiments.log_matrix` frames,
    concatenated) as a panel: one row per server, one cell per log index, coloured by the entry's
    term with the term written in (and the command below it). A thick frame marks entries the
    server knows are committed. Row labels give role and current term; a crashed server's row is
    greyed (its log is what its disk holds)."""
    df = _check_frame("log_df", log_df, ["moment", "node", "index", "term", "command",
                                         "committed", "role", "current_term", "commit_index"])
    seed = df.attrs.get("seed")
    order = list(dict.fromkeys(df["moment"])) if moments is None else list(moments)
    for m in order:
        if m not in set(df["moment"]):
            raise ValueError(f"moments contains {m!r}, which is not a moment of log_df; "
                             f"known: {list(dict.fromkeys(df['moment']))}")
    nodes = sorted(set(df["node"]), key=natural_key)
    width = max(int(df["index"].max()), 1)
    ncols = ncols or (1 if len(order) <= 2 else 2)
    nrows = math.ceil(len(order) / ncols)
    # Sized for the book's column (about 6.9 in): the row labels, then the cells; the legend goes
    # below the panels, not beside them, so the panels keep the width.
    panel_w = 1.5 + 0.5 * width
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(ncols * panel_w, 6.8),
                                                    nrows * (0.3 * len(nodes) + 0.95) + 1.0),
                             layout="constrained", squeeze=False)
    fig.suptitle(title_with_seed(title, seed))
    terms_seen: set[int] = set()
    for k, ax in enumerate(axes.flat):
        if k >= len(order):
            ax.axis("off")
            continue
        moment = order[k]
        g = df[df["moment"] == moment]
        ax.set_title(textwrap.fill(moment, 40 if ncols > 1 else 80), fontsize=8.5, loc="left")
        for y, node in enumerate(nodes):
            rows = g[g["node"] == node]
            if rows.empty:
                continue
            first = rows.iloc[0]
            down = first["role"] == "down"
            for r in rows.itertuples():
                if r.index == 0:
                    continue
                terms_seen.add(int(r.term))
                colour = TERM_COLORS[(int(r.term) - 1) % len(TERM_COLORS)]
                ax.add_patch(Rectangle((r.index - 0.5, y - 0.42), 0.96, 0.84, facecolor=colour,
                                       edgecolor="black" if r.committed else "#9e9e9e",
                                       lw=2.4 if r.committed else 0.8, alpha=0.45 if down else 1,
                                       gid="committed" if r.committed else "entry"))
                ax.text(r.index - 0.02, y - 0.1, str(int(r.term)), ha="center", va="center",
                        fontsize=9, fontweight="bold", color="#616161" if down else "black")
                ax.text(r.index - 0.02, y + 0.24, str(r.command), ha="center", va="center",
                        fontsize=7, color="#616161")
        labels = []
        for node in nodes:
            rows = g[g["node"] == node]
            if rows.empty:
                labels.append(node)
                continue
            first = rows.iloc[0]
            role = str(first["role"])
            ci = first["commit_index"]
            known = "" if pd.isna(ci) else f", c={int(ci)}"
            labels.append(f"{node} {role} T{int(first['current_term'])}{known}"
                          if role != "down" else f"{node} down (its disk)")
        ax.set_yticks(range(len(nodes)), labels, fontsize=8)
        for tick, node in zip(ax.get_yticklabels(), nodes, strict=True):
            rows = g[g["node"] == node]
            role = rows.iloc[0]["role"] if not rows.empty else ""
            tick.set_color(ROLE_COLORS["leader"] if role == "leader" else
                           "#9e9e9e" if role == "down" else "black")
            if role == "leader":
                tick.set_fontweight("bold")
        ax.set_xticks(range(1, width + 1))
        ax.set_xlim(0.4, width + 0.6)
        ax.set_ylim(len(nodes) - 0.5, -0.5)
        ax.set_xlabel("log index", fontsize=8.5)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(False)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    handles: list[Any] = [Patch(facecolor=TERM_COLORS[(t - 1) % len(TERM_COLORS)],
                                edgecolor="#9e9e9e", label=f"entry of term {t}")
                          for t in sorted(terms_seen)]
    handles.append(Patch(facecolor="white", edgecolor="black", lw=2.4,
                         label="committed (as that server knows)"))
    fig.legend(handles=handles, loc="outside lower center", fontsize=8, title_fontsize=8,
               ncols=min(len(handles), 3),
               title="cell: the entry's term (bold) and command (small); "
                     "row: server, role, current term T, commit index c")
    return fig


def plot_throughput(df: pd.DataFrame, *, title: str = "The KV service as clients are added"):
    """Throughput (ok operations per simulated second) and latency percentiles against the
    number of closed-loop clients (log-2 x axis)."""
    df = _check_frame("df", df, ["clients", "throughput_ops_s", "p50_ms", "p90_ms", "p99_ms"])
    seed = df.attrs.get("seed")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11.0, 4.0), layout="constrained")
    extra = ""
    if "service_ms" in df.attrs:
        extra = (f": {df.attrs.get('servers', '?')} servers, {df.attrs['service_ms']:g} ms of "
                 f"work per message, {df.attrs.get('latency_ms', '?'):g} ms links")
    fig.suptitle(title_with_seed(title + extra, seed))
    new_axes("Throughput", seed=None, xlabel="closed-loop clients (log scale)",
             ylabel="ok operations per simulated second", ax=a1)
    a1.plot(df["clients"], df["throughput_ops_s"], marker="o", color=MESSAGE_PALETTE[0], lw=1.8)
    if "service_ms" in df.attrs and df.attrs["service_ms"] > 0:
        bound = 1000.0 / df.attrs["service_ms"]
        a1.axhline(bound, color="#424242", ls="--", lw=1.0,
                   label=f"1 message per {df.attrs['service_ms']:g} ms at the leader")
        a1.legend(loc="lower right", fontsize=8.5)
    a1.set_ylim(0, None)
    new_axes("Latency of ok operations", seed=None, xlabel="closed-loop clients (log scale)",
             ylabel="latency (ms)", ax=a2)
    for i, (col, name) in enumerate((("p50_ms", "median"), ("p90_ms", "90th percentile"),
                                     ("p99_ms", "99th percentile"))):
        a2.plot(df["clients"], df[col], marker="os^"[i], color=MESSAGE_PALETTE[i + 1], lw=1.5,
                label=name)
    a2.set_ylim(0, None)
    a2.legend(loc="upper left", fontsize=8.5)
    for ax in (a1, a2):
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(df["clients"]), [str(c) for c in df["clients"]])
    return fig


def plot_roles(history: Any, *, title: str = "Roles over time"):
    """:func:`dslab.viz.role_timeline`, plus the run's faults: a partition or an isolation tints
    the rows of the servers it cut off (the minority side) for as long as it lasts, and each fault
    (crash, restart, partition, heal...) is a dotted line named at the top of the plot."""
    from dslab.history import History

    check_type("history", history, History)
    fig = role_timeline(history, title=title)
    ax = fig.axes[0]
    nodes = [t.get_text() for t in ax.get_yticklabels()]
    rows = {n: i for i, n in enumerate(nodes)}
    spans = [sp for sp in fault_spans(history, end=run_end(history)) if sp.kind == "network"]
    shade_faults(ax, spans, rows, height=0.7, annotate=False, zorder=2.6)
    top = ax.get_xaxis_transform()
    for i, f in enumerate(sorted(history.faults, key=lambda f: f.time)):
        who = f.args.get("node")
        if f.verb == "partition":
            who = " | ".join("{" + ", ".join(g) + "}" for g in f.args.get("groups", []))
        label = f"{f.verb} {who}" if who else f.verb
        ax.axvline(f.time, color="#424242", ls=":", lw=1.0, zorder=3)
        ax.text(f.time, 1.01 + 0.07 * (i % 2), " " + label, transform=top, fontsize=7.5,
                ha="left", va="bottom", color="#424242", clip_on=False)
    handles, labels = ax.get_legend_handles_labels()
    legend = ax.get_legend()
    if legend is not None and spans:
        extra = span_legend_handles(spans)
        legend_outside(ax, list(legend.legend_handles) + extra, title="role (T = term)")
    ax.set_title(ax.get_title(), pad=26)
    return fig
