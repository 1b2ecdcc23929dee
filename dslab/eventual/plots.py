"""Figures of the BASE chapter. Each takes what an experiment returned and returns a matplotlib
Figure, with labelled axes (units included) and the seed in the title (:mod:`dslab.viz.style`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dslab.eventual.pbs import PAPER_TABLE
from dslab.eventual.ring import RING_SIZE, HashRing, token
from dslab.viz.style import FAULT_COLOR, MESSAGE_PALETTE, legend_outside, new_axes, title_with_seed

_RR = {False: "anti-entropy only", True: "anti-entropy + read repair"}
_POLICY = {"none": "no shedding (one FIFO queue)", "shed": "shed extra requests",
           "degrade": "degrade extra requests"}


def _colour(i: int) -> str:
    return MESSAGE_PALETTE[i % len(MESSAGE_PALETTE)]


def plot_ring(ring: HashRing, keys: list[str], N: int = 3, *, seed: Any = None):
    """The ring, clockwise from the top: each virtual node as a tick coloured by its physical
    node, and a few keys (dots) labelled with their preference lists."""
    fig, ax = plt.subplots(figsize=(7.0, 6.2), layout="constrained")
    where = "positions are MD5 hashes: no seed involved" if seed is None else None
    ax.set_title(title_with_seed(
        f"Consistent hashing: {len(ring.nodes)} nodes x {ring.vnodes} virtual nodes, N={N}"
        + (f"\n({where})" if where else ""), seed))
    ax.set_aspect("equal")
    ax.axis("off")
    theta = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(theta), np.sin(theta), color="#bdbdbd", lw=1.0)
    colour = {n: _colour(i) for i, n in enumerate(ring.nodes)}

    def xy(tok: int, r: float = 1.0) -> tuple[float, float]:
        a = math.pi / 2 - 2 * math.pi * tok / RING_SIZE  # clockwise from the top
        return r * math.cos(a), r * math.sin(a)

    for rid in range(ring.num_ranges):
        x, y = xy(ring.range_bounds(rid)[1])
        ax.plot([0.92 * x, 1.08 * x], [0.92 * y, 1.08 * y], color=colour[ring.range_owner(rid)],
                lw=3, solid_capstyle="butt")
    for i, k in enumerate(keys):
        tk = token(k)
        ax.plot(*xy(tk), marker="o", color="black", ms=6, zorder=5)
        lx, ly = xy(tk, 0.7 if i % 2 == 0 else 0.45)
        ax.annotate("", xy=xy(tk, 0.9), xytext=(lx, ly),
                    arrowprops={"arrowstyle": "->", "color": "#616161", "lw": 0.8})
        ax.text(lx, ly, f"{k}\n-> {', '.join(ring.preference_list(k, N))}", ha="center",
                va="center", fontsize=8.5, bbox={"facecolor": "white", "edgecolor": "#bdbdbd"})
    handles = [plt.Line2D([], [], color=colour[n], lw=3, label=f"{n}'s virtual nodes")
               for n in ring.nodes]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)
    ax.set_xlim(-1.15, 1.15)
    ax.set_ylim(-1.15, 1.15)
    return fig


def _unpack(run: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``(frame, info)`` of a scenario Result (its metadata over its frame's attrs) or of a bare
    DataFrame (its attrs, the compatibility copy the facade keeps)."""
    if hasattr(run, "frame") and hasattr(run, "metadata"):
        return run.frame, {**run.frame.attrs, **run.metadata}
    return run, dict(run.attrs)


def plot_divergence(runs: Mapping[str, Any]):
    """Keys that differ across replicas over time, one line per labelled run of
    :func:`~dslab.eventual.scenarios.convergence_run` (its Result or its frame); the partition is
    shaded."""
    runs = {label: _unpack(run) for label, run in runs.items()}
    first = next(iter(runs.values()))[1]
    seed = first.get("seed")
    fig, ax = new_axes("Divergence after a partition heals", seed=seed,
                       xlabel="time since the partition healed (ms)",
                       ylabel="keys that differ across replicas")
    start = first["partition_start_ms"] - first["heal_ms"]
    ax.axvspan(start, 0.0, color=FAULT_COLOR, alpha=0.35, lw=0)
    handles = [plt.Rectangle((0, 0), 1, 1, color=FAULT_COLOR, alpha=0.35, label="partitioned")]
    for i, (label, (df, info)) in enumerate(runs.items()):
        conv = info.get("converged_ms", math.nan)
        end = df["t_after_heal_ms"].iloc[-1]
        if math.isnan(conv):
            extra = f"not converged after {end:.0f} ms"
        else:
            extra = f"converged in {conv:.0f} ms"
        (line,) = ax.step(df["t_after_heal_ms"], df["differing_keys"], where="post",
                          color=_colour(i), lw=1.6, label=f"{label}: {extra}")
        handles.append(line)
    ax.axvline(0.0, color="#424242", lw=0.8)
    ax.set_ylim(bottom=0)
    legend_outside(ax, handles)
    fig.set_size_inches(10.0, 4.0)
    return fig


def plot_convergence_sweep(df: Any):
    """Time to converge against the anti-entropy interval, with and without read repair."""
    df, info = _unpack(df)
    fig, ax = new_axes("Time until every replica agrees, after the heal", seed=info.get("seed"),
                       xlabel="anti-entropy interval (ms, log scale)",
                       ylabel="time to converge after the heal (ms, log scale)")
    finite = df[np.isfinite(df["anti_entropy_ms"])]
    handles = []
    for i, (rr, g) in enumerate(finite.groupby("read_repair", sort=True)):
        c = _colour(i)
        ax.scatter(g["anti_entropy_ms"] * (1.04 if rr else 0.96), g["converged_ms"], s=14,
                   color=c, alpha=0.5, zorder=3)
        med = g.groupby("anti_entropy_ms")["converged_ms"].median()
        (line,) = ax.plot(med.index, med.values, marker="o", color=c, lw=1.8,
                          label=f"{_RR[bool(rr)]} (median; dots: seeds)")
        handles.append(line)
    xs = np.array(sorted(finite["anti_entropy_ms"].unique()))
    if xs.size:
        (ref,) = ax.plot(xs, 2 * xs, color="#9e9e9e", ls="--", lw=1.0,
                         label="2 x the interval (reference)")
        handles.append(ref)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(xs, [f"{x:g}" for x in xs])
    legend_outside(ax, handles)
    fig.set_size_inches(10.0, 4.0)
    return fig


def plot_handoff(hints: Any, summary: pd.DataFrame | None = None):
    """Hints stored and delivered over time, with the owner's downtime shaded (``hints``: the
    Result of :func:`~dslab.eventual.scenarios.hinted_handoff`, or its frame)."""
    hints, a = _unpack(hints)
    if summary is None:
        summary = a.get("summary")
    fig, ax = new_axes(f"Hinted handoff: {a['down']} is down, writes continue",
                       seed=a.get("seed"), xlabel="time (ms)", ylabel="hints (cumulative count)")
    ax.axvspan(a["crash_ms"], a["restart_ms"], color=FAULT_COLOR, alpha=0.35, lw=0)
    handles = [plt.Rectangle((0, 0), 1, 1, color=FAULT_COLOR, alpha=0.35,
                             label=f"{a['down']} down")]
    for i, (col, label) in enumerate([("stored_ms", "hints stored by stand-ins"),
                                      ("delivered_ms", f"hints delivered to {a['down']}")]):
        t = np.sort(hints[col].dropna().to_numpy())
        (line,) = ax.step(np.r_[0.0, t], np.r_[0, np.arange(1, t.size + 1)], where="post",
                          color=_colour(i), lw=1.8, label=label)
        handles.append(line)
    if summary is not None and len(summary):
        s = summary.iloc[0]
        note = (f"writes accepted while down: {s['writes_ok_while_down']}\n"
                f"delivered {s['hints_delivered']} of {s['hints_stored']} hints, "
                f"median {s['delivery_after_restart_p50_ms']:.0f} ms after the restart\n"
                f"keys still stale on {a['down']} at the end: {s['stale_on_owner']}")
        ax.text(0.02, 0.97, note, transform=ax.transAxes, va="top", fontsize=9,
                bbox={"facecolor": "white", "edgecolor": "#bdbdbd"})
    legend_outside(ax, handles)
    fig.set_size_inches(10.0, 4.0)
    return fig


def plot_merkle(df: Any):
    """Bytes one anti-entropy exchange sends, Merkle trees against the naive comparison."""
    df, info = _unpack(df)
    keys = info.get("keys")
    fig, ax = new_axes(f"One anti-entropy exchange between two replicas of {keys} keys",
                       seed=info.get("seed"),
                       xlabel="keys that differ between the replicas (log scale; 0 at the left)",
                       ylabel="bytes sent, both directions (log scale)")
    handles = []
    label = {"merkle": "Merkle trees (compare roots, descend where hashes differ)",
             "naive": "naive (send the digest of every key)"}
    for i, (m, g) in enumerate(df.groupby("method", sort=False)):
        x = g["differing_keys"].clip(lower=0.5)
        (line,) = ax.plot(x, g["bytes"], marker="o", color=_colour(i), lw=1.8, label=label[m])
        handles.append(line)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = sorted(df["differing_keys"].unique())
    ax.set_xticks([max(t, 0.5) for t in ticks], [str(t) for t in ticks])
    ax.minorticks_off()
    legend_outside(ax, handles)
    fig.set_size_inches(10.0, 4.0)
    return fig


def plot_pbs(curves: Any, table: Any = None):
    """P(stale read) against t, one panel per distribution, one line per (R, W), on a log scale
    so the 99.9% line (P(stale) = 0.001) is readable; the lab's t there is a dot, the paper's a
    diamond."""
    curves, info = _unpack(curves)
    if table is not None:
        table = _unpack(table)[0]
    dists = list(dict.fromkeys(curves["dist"]))
    cols = 2
    rows = math.ceil(len(dists) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(11.0, 3.6 * rows), layout="constrained",
                             squeeze=False)
    fig.suptitle(title_with_seed(
        f"PBS t-visibility, N={info.get('N', 3)}, "
        f"{info.get('trials', 0):,} trials per line", info.get("seed")))
    floor = 1e-5
    handles: dict[str, Any] = {}
    for ax, dist in zip(axes.flat, dists, strict=False):
        sub = curves[curves["dist"] == dist]
        ax.set_title(dist)
        ax.set_xlabel("t after the write commits (ms)")
        ax.set_ylabel("P(stale read) (log scale)")
        for i, ((r, w), g) in enumerate(sub.groupby(["R", "W"], sort=True)):
            c = _colour(i)
            stale = 1.0 - g["p_consistent"].to_numpy()
            never = bool(np.all(stale == 0))
            stale = np.where(stale > 0, stale, np.nan)  # log scale: stop where it reaches 0
            (line,) = ax.step(g["t_ms"], stale, where="post", color=c, lw=1.6)
            handles.setdefault(f"R={r}, W={w}", line)
            if never:
                ax.text(0.98, 0.93 - 0.07 * i, f"R={r}, W={w}: never stale", color=c,
                        transform=ax.transAxes, ha="right", va="top", fontsize=8.5)
            if table is not None:
                row = table[(table["dist"] == dist) & (table["R"] == r) & (table["W"] == w)]
                if len(row) and row["t_999_ms"].iloc[0] > 0:
                    ax.plot([row["t_999_ms"].iloc[0]], [1e-3], "o", color=c, ms=6, zorder=4)
            paper = PAPER_TABLE.get((dist, int(r), int(w)))
            if paper is not None and paper[2] > 0:
                ax.plot([paper[2]], [1e-3], "D", color=c, ms=7, mfc="white", mew=1.6, zorder=5)
        ax.axhline(1e-3, color="#424242", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_ylim(floor, 1.2)
        ax.set_xlim(left=0)
    for ax in list(axes.flat)[len(dists):]:
        ax.axis("off")
    extra = [
        plt.Line2D([], [], color="#424242", ls="--", lw=0.8, label="P(stale) = 0.001 (99.9%)"),
        plt.Line2D([], [], marker="o", ls="", color="#616161", label="lab: t for 99.9%"),
        plt.Line2D([], [], marker="D", ls="", color="#616161", mfc="white",
                   label="paper: t for 99.9%"),
    ]
    fig.legend(handles=[*handles.values(), *extra],
               labels=[*handles.keys(), *(h.get_label() for h in extra)],
               loc="outside right upper", fontsize=9, frameon=False)
    return fig


def plot_overload(df: Any):
    """Basically available, against offered load, per policy: core p99 response time (left:
    response-time loss) and what the extra requests got (right: feature loss)."""
    df, a = _unpack(df)
    capacity = 1000.0 / a.get("service_ms", 10.0)
    share = a.get("core_fraction", 0.5)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11.0, 4.2), layout="constrained")
    fig.suptitle(title_with_seed(
        f"One server, capacity {capacity:.0f} requests/s; {share:.0%} of the requests are core",
        a.get("seed")))
    style = {"none": ("-", "o"), "shed": ("--", "s"), "degrade": (":", "^")}
    for i, (pol, g) in enumerate(df.groupby("policy", sort=False)):
        c = _colour(i)
        ls, mk = style.get(pol, ("-", "o"))
        label = _POLICY.get(pol, pol)
        a1.plot(g["offered_load"], g["core_p99_ms"], ls=ls, marker=mk, color=c, lw=1.8,
                label=label)
        a2.plot(g["offered_load"], 100 * g["extra_full"], ls=ls, marker=mk, color=c, lw=1.8,
                label=f"{label}: served in full")
        if pol == "degrade":
            useful = 100 * (g["extra_full"] + g["extra_degraded"])
            a2.plot(g["offered_load"], useful, ls="-", marker=mk, color=c, lw=1.0, alpha=0.6,
                    label=f"{label}: in full or as a fallback")
    timeout = a.get("timeout_ms")
    if timeout:
        a1.axhline(timeout, color="#9e9e9e", ls=":", lw=1.0)
        a1.text(df["offered_load"].min(), timeout * 0.97, "client timeout", fontsize=8,
                va="top", color="#616161")
    for ax in (a1, a2):
        ax.axvline(1.0, color="#424242", lw=0.8, ls="--")
        ax.set_xlabel("offered load (multiple of capacity)")
    a1.set_ylabel("core requests: p99 response time (ms)")
    a1.set_title("response-time loss (core requests)")
    a1.legend(loc="upper left", bbox_to_anchor=(0.0, 0.9), fontsize=8.5)
    a2.set_ylabel("extra requests (%)")
    a2.set_title("feature loss (extra requests)")
    a2.set_ylim(-3, 103)
    a2.legend(loc="lower left", fontsize=8.5)
    return fig
