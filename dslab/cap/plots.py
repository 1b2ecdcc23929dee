"""Figures of the CAP chapter, drawn from the frames of :mod:`dslab.cap.experiments`.

Every figure labels its axes with units and carries the seed in its title (:mod:`dslab.viz`'s
style). Each function returns the matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from dslab._validate import check_type
from dslab.cap.experiments import availability, lww_stamps
from dslab.history import History
from dslab.viz import FAULT_COLOR, OUTCOME_COLORS, cdf, history_timeline, new_axes

SIDE_COLORS = {"minority": "#c62828", "majority": "#1565c0"}
POLICY_NAMES = {"cp": "CP (CASPaxos, majority)", "ap": "AP (local answers, async replication)"}


def _shade(ax: Any, start: float | None, end: float | None, label: str = "partition") -> None:
    if start is not None and end is not None and end > start:
        ax.axvspan(start, end, color=FAULT_COLOR, alpha=0.25, lw=0, label=label)


def plot_gilbert_lynch(runs: Mapping[str, tuple[pd.DataFrame, History]]):
    """One timeline per policy of :func:`~dslab.cap.experiments.gilbert_lynch` runs, with the
    linearizability checker's verdict in each panel's title."""
    check_type("runs", runs, Mapping)
    fig, axes = plt.subplots(
        len(runs), 1, figsize=(10.0, 2.6 * len(runs)), layout="constrained", squeeze=False
    )
    for ax, (policy, (df, h)) in zip(axes[:, 0], runs.items(), strict=True):
        verdict = "linearizable" if df.attrs.get("linearizable") else "NOT linearizable"
        history_timeline(h, ax=ax, title=f"{policy.upper()}: checker says {verdict}")
        ax.set_ylabel("client\n(a: majority side, b: minority side)")
    return fig


def plot_availability(frames: Mapping[str, pd.DataFrame], bucket_ms: float = 100.0):
    """Ok fraction over time, per side, one panel per run (``{label: partition_workload df}``)."""
    check_type("frames", frames, Mapping)
    fig, axes = plt.subplots(
        1, len(frames), figsize=(5.4 * len(frames), 4.2), layout="constrained", sharey=True,
        squeeze=False,
    )
    for ax, (label, df) in zip(axes[0], frames.items(), strict=True):
        a = availability(df, bucket_ms)
        new_axes(
            f"{label}: requests answered", seed=df.attrs.get("seed"),
            xlabel="time the request was sent (ms)",
            ylabel=f"fraction per {bucket_ms:g} ms bucket", ax=ax,
        )
        _shade(ax, df.attrs.get("partition_start_ms"), df.attrs.get("heal_ms"))
        for side, lw, ls in (("minority", 3.0, "-"), ("majority", 1.6, "--")):
            s = a[a["side"] == side]
            if len(s):
                ax.step(s["bucket_ms"] + bucket_ms / 2, s["ok_fraction"], where="mid",
                        color=SIDE_COLORS[side], lw=lw, ls=ls, label=f"{side}: answered")
        for side in ("minority", "majority"):
            s = a[a["side"] == side]
            if len(s):
                ax.plot(s["bucket_ms"] + bucket_ms / 2, s["fresh_read_fraction"], "o:", ms=3.5,
                        lw=0.8, color=SIDE_COLORS[side], alpha=0.8,
                        label=f"{side}: reads that were up to date (not stale)")
        ax.set_ylim(-0.05, 1.1)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3)
    return fig


def plot_lww(df: pd.DataFrame, history: History, t0: float | None = None, t1: float | None = None):
    """Writes under last-writer-wins: when each was invoked (true time) against the stamp its
    replica gave it.

    The black staircase is the highest stamp among writes already acknowledged; a write whose
    point lies below it (a red cross) is lost: a write that finished before it started beats it.
    ``t0``/``t1``: the window to show, in true ms (default: 150 ms around the first lost write
    after the heal, or after the start).
    """
    check_type("df", df, pd.DataFrame)
    skew = df.attrs.get("skew_ms", 0.0)
    stamps = lww_stamps(history, {"n1": skew} if skew else {})
    writes = df[df["f"].isin(["write", "cas"]) & (df["type"] == "ok")].copy()
    writes["written"] = [v[1] if f == "cas" else v
                         for f, v in zip(writes["f"], writes["invoke_value"], strict=True)]
    m = writes.merge(stamps, left_on="written", right_on="value", suffixes=("", "_s"))
    if t0 is None:  # the 150 ms after the heal that hold the most lost writes
        after = df.attrs.get("heal_ms") or 0.0
        lost_times = sorted(
            m.loc[(m["lost"] == True) & (m["start_ms"] >= after), "start_ms"]  # noqa: E712
        )
        t0 = after
        if lost_times:
            best = max(lost_times, key=lambda t: sum(t - 30.0 <= u <= t + 120.0
                                                     for u in lost_times))
            t0 = max(after, best - 30.0)
    if t1 is None:
        t1 = t0 + 150.0
    fig, ax = new_axes(
        f"Last writer wins with n1's clock {skew:+g} ms",
        seed=df.attrs.get("seed"), xlabel="true time the client invoked the write (ms)",
        ylabel="LWW timestamp (ms, replica's clock)", figsize=(9.0, 4.4),
    )
    # staircase: the highest stamp of the writes acknowledged so far
    done = m.sort_values("end_ms")
    before = done[done["end_ms"] < t0]
    best = float(before["ts"].max()) if len(before) else float("nan")
    stair_t, stair_y = [t0], [best]
    for t, ts in zip(done["end_ms"], done["ts"], strict=True):
        if t0 <= t <= t1 and not ts <= best:
            best = ts if np.isnan(best) else max(best, ts)
            stair_t.append(t)
            stair_y.append(best)
    stair_t.append(t1)
    stair_y.append(best)
    ax.step(stair_t, stair_y, where="post", color="black", lw=1.2,
            label="highest stamp already acknowledged")
    w = m[(m["start_ms"] >= t0) & (m["start_ms"] <= t1)]
    for label, sel, colour in (
        (f"write at n1 (clock {skew:+g} ms)", w["node"] == "n1", "#ef6c00"),
        ("write at another replica (clock right)", w["node"] != "n1", "#1565c0"),
    ):
        kept = w[sel & (w["lost"] != True)]  # noqa: E712 (nullable boolean)
        ax.scatter(kept["start_ms"], kept["ts"], s=24, label=label, color=colour, zorder=3)
    lost = w[w["lost"] == True]  # noqa: E712
    ax.scatter(lost["start_ms"], lost["ts"], marker="x", s=50, color="#c62828", zorder=4,
               label=f"lost: acknowledged, below the staircase ({len(lost)} here, "
               f"{int(df['lost'].sum())} in the run)")
    ax.set_xlim(t0, t1)
    ax.legend(loc="upper left")
    return fig


def plot_lost_vs_skew(sweep: pd.DataFrame):
    """Fraction of acknowledged writes lost, per side, against n1's clock offset (a sweep of
    :func:`~dslab.cap.experiments.lost_vs_skew`)."""
    check_type("sweep", sweep, pd.DataFrame)
    seeds = sorted(sweep["seed"].unique())
    fig, ax = new_axes(
        "Writes lost to last-writer-wins, by clock offset of n1",
        seed=f"{seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else seeds[0],
        xlabel="offset of n1's clock (ms; negative = behind)",
        ylabel="acknowledged writes lost (fraction)",
    )
    g = sweep.groupby(["skew_ms", "side"], sort=True)[["lost_writes", "writes_acked",
                                                       "predicted_lost"]].sum().reset_index()
    for side in ("minority", "majority"):
        s = g[g["side"] == side]
        ax.plot(s["skew_ms"], s["lost_writes"] / s["writes_acked"], "o-",
                color=SIDE_COLORS[side], label=f"measured: writes at the {side} side")
        ax.plot(s["skew_ms"], s["predicted_lost"] / s["writes_acked"], "+", ms=14, mew=1.5,
                color="black", label="predicted from the offset" if side == "minority" else None)
    ax.legend(loc="upper center")
    return fig


def plot_convergence(sweep: pd.DataFrame, anti_entropy_ms: float | None = None):
    """CDF of the time to converge after the heal, per policy, from a partition sweep."""
    check_type("sweep", sweep, pd.DataFrame)
    per_run = sweep.drop_duplicates(["seed", "policy"])
    data = {POLICY_NAMES.get(p, p): g["converge_ms"].dropna().to_numpy()
            for p, g in per_run.groupby("policy", sort=True)}
    seeds = sorted(per_run["seed"].unique())
    markers = {"anti-entropy period": anti_entropy_ms} if anti_entropy_ms else None
    return cdf(data, xlabel="time from heal to convergence (ms)", ylabel="fraction of runs",
               title=f"Time to converge after the heal, {len(seeds)} runs per policy",
               seed=f"{seeds[0]}..{seeds[-1]}", markers=markers)


def plot_latency(df: pd.DataFrame):
    """CDFs of read and write latency of CP and AP (a :func:`pacelc_latency` frame)."""
    check_type("df", df, pd.DataFrame)
    ok = df[df["type"] == "ok"]
    data = {f"{p.upper()} {f}": g["latency_ms"].to_numpy()
            for (p, f), g in ok.groupby(["policy", "f"], sort=True)}
    net = df.attrs.get("network", "lan")
    return cdf(data, log_x=True, title=f"Latency without a partition ({net}, PBS LNKD-SSD links)",
               seed=df.attrs.get("seed"), xlabel="latency seen by the client (ms, log scale)",
               ylabel="fraction of operations")


def plot_service_discovery(frames: Mapping[str, pd.DataFrame]):
    """What each consumer sees over time: a row per registry, a column per side.

    Green: live instances listed; grey: crashed instances still listed (stale); orange dashed:
    live registered instances missing from the answer; red ticks: discovery requests refused
    (the lines break there: the consumer got no list). Dotted lines: the crash of ``i_dead`` and
    the registration attempts of ``new_min`` / ``new_maj``.
    """
    check_type("frames", frames, Mapping)
    fig, axes = plt.subplots(
        len(frames), 2, figsize=(12.0, 3.1 * len(frames) + 0.4), layout="constrained",
        sharex=True, sharey=True, squeeze=False,
    )
    names = {"cp": "CP (ZooKeeper-like)", "ap": "AP (Eureka-like)"}
    for row, (registry, df) in zip(axes, frames.items(), strict=True):
        a = df.attrs
        top = a.get("instances", 10) + 4.5
        for ax, side in zip(row, ("minority", "majority"), strict=True):
            d = df[(df["op"] == "discover") & (df["side"] == side)]
            new_axes(f"{names.get(registry, registry)}: consumer on the {side} side",
                     seed=a.get("seed"), xlabel="time (ms)", ylabel="instances", ax=ax)
            _shade(ax, a.get("partition_start_ms"), a.get("heal_ms"))
            t = d["time_ms"].to_numpy()
            for col, colour, ls in (("live_listed", OUTCOME_COLORS["ok"], "-"),
                                    ("dead_listed", "#616161", "-"),
                                    ("live_missing", "#ef6c00", "--")):
                y = pd.to_numeric(d[col], errors="coerce").to_numpy(dtype=float)
                ax.step(t, y, where="post", color=colour, lw=1.8, ls=ls)
            bad = d[d["type"] != "ok"]
            ax.plot(bad["time_ms"], np.full(len(bad), -0.4), "|", color=OUTCOME_COLORS["fail"],
                    ms=12, mew=1.5)
            for x, text, y in ((a.get("crash_ms"), " i_dead crashes", top - 0.3),
                               (a.get("join_ms"), " new_min, new_maj register", top - 1.6)):
                ax.axvline(x, color="#424242", ls=":", lw=1)
                ax.text(x, y, text, fontsize=8, va="top")
            ax.set_ylim(-1.0, top)
            if ax not in axes[-1]:
                ax.set_xlabel("")  # the shared time axis is labelled on the bottom row
    handles = [
        Line2D([], [], color=OUTCOME_COLORS["ok"], lw=1.8, label="live instances listed"),
        Line2D([], [], color="#616161", lw=1.8, label="crashed instances still listed"),
        Line2D([], [], color="#ef6c00", lw=1.8, ls="--", label="live instances missing"),
        Line2D([], [], color=OUTCOME_COLORS["fail"], marker="|", ls="", ms=12, mew=1.5,
               label="discovery refused"),
        Patch(color=FAULT_COLOR, alpha=0.25, label="partition"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=5)
    return fig


__all__ = [
    "plot_availability",
    "plot_convergence",
    "plot_gilbert_lynch",
    "plot_latency",
    "plot_lost_vs_skew",
    "plot_lww",
    "plot_service_discovery",
]
