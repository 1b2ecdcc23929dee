"""Figures for :mod:`dslab.governance.evolution` (each returns a Figure, seed in the title)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from dslab.governance.evolution_analysis import PROVIDERS, share_bins
from dslab.governance.scenarios import HOSTS, PER_HOST, ROOMS
from dslab.viz.style import FAULT_COLOR, legend_outside, new_axes, title_with_seed

SCANNER_COLORS = {"plain": "#c62828", "weights": "#1e88e5"}
ROOM_COLORS = {"scanner-A": "#1e88e5", "scanner-B": "#ef6c00", "scanner-C": "#2e7d32"}
TIER_COLORS = {"direct": "#c62828", "controller": "#1e88e5"}
SIDE_COLORS = {"room A (cut off)": "#c62828", "rooms B + C": "#1e88e5"}


def plot_weights(calls: pd.DataFrame, weights: pd.DataFrame, *, bin_ms: float = 250.0,
                 sick_at_ms: float | None = None, heal_at_ms: float | None = None):
    """Top: share of consumer calls that went to ``p1``; bottom: ``p1``'s weight. Shaded: p1
    is slow, from ``sick_at_ms`` to ``heal_at_ms`` (a scenario Result's metadata), else as read
    from ``weights.attrs`` (the facade's compatibility copy)."""
    seed = weights["seed"].iloc[0]
    a = {**weights.attrs, **{k: v for k, v in (("sick_at_ms", sick_at_ms),
                                               ("heal_at_ms", heal_at_ms)) if v is not None}}
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9.0, 5.4), sharex=True,
                                      layout="constrained", height_ratios=(3, 2))
    bins = share_bins(calls, "p1", bin_ms)
    for ax in (top, bottom):
        ax.axvspan(a["sick_at_ms"], a["heal_at_ms"], color=FAULT_COLOR, alpha=0.4,
                   label="p1 slow (answers 60 ms late)")
    for scanner, g in bins.groupby("scanner", sort=True):
        top.plot(g["bin_ms"] + bin_ms / 2, g["share"], marker=".", color=SCANNER_COLORS[scanner],
                 label=f"{scanner} scanner")
    for scanner, g in weights.groupby("scanner", sort=True):
        bottom.step(g["t_ms"], g["weight"], where="post", color=SCANNER_COLORS[scanner],
                    label=f"{scanner} scanner")
    top.axhline(1 / (HOSTS * PER_HOST), color="#616161", ls="--", lw=1, label="fair share (1/6)")
    top.set_ylabel(f"calls to p1\n(share per {bin_ms:g} ms)")
    bottom.set_ylabel("p1's weight\n(0 = removed)")
    bottom.set_xlabel("time (ms)")
    bottom.set_ylim(-0.5, 10.5)
    legend_outside(top, top.get_legend_handles_labels()[0])
    top.set_title(title_with_seed("A slow provider: removed at once, or turned down in steps",
                                  seed))
    return fig


def plot_room_probes(probes: pd.DataFrame, summaries: list[dict], *,
                     outage: tuple[float, float] = (2000.0, 6000.0),
                     provider_crash_ms: float = 3000.0):
    """Every probe sent, one row per provider (grouped by room), coloured by the scanner that
    sent it; one panel per variant. Shaded: room A's scanner is down."""
    seed = probes["seed"].iloc[0]
    variants = list(dict.fromkeys(probes["variant"]))
    fig, axes = plt.subplots(len(variants), 1, figsize=(9.0, 2.5 * len(variants) + 0.7),
                             sharex=True, layout="constrained", squeeze=False)
    y = {p: i for i, p in enumerate(PROVIDERS)}
    for ax, variant in zip(axes[:, 0], variants, strict=True):
        d = probes[probes["variant"] == variant]
        s = next(s for s in summaries if s["variant"] == variant)
        ax.axvspan(*outage, color=FAULT_COLOR, alpha=0.4, label="scanner-A down")
        for scanner, g in d.groupby("scanner", sort=True):
            ax.scatter(g["t_ms"], g["provider"].map(y), s=12, marker="|",
                       color=ROOM_COLORS.get(scanner), label=f"probe from {scanner}")
        ax.scatter([provider_crash_ms], [y["p1"]], marker="x", s=80, color="black", zorder=3,
                   label="p1 crashes")
        if s["p1_marked_down_ms"] is not None:
            ax.scatter([s["p1_marked_down_ms"]], [y["p1"]], marker="v", s=80, color="#6a1b9a",
                       zorder=3, label="p1 marked down")
        ax.set_yticks(range(len(PROVIDERS)),
                      [f"{p} (room {ROOMS[i // PER_HOST]})" for i, p in enumerate(PROVIDERS)])
        ax.invert_yaxis()
        ax.set_title(f"{variant}: longest time a provider went unprobed "
                     f"{s['max_probe_gap_ms']:.0f} ms", fontsize=10)
        legend_outside(ax, ax.get_legend_handles_labels()[0])
    axes[-1, 0].set_xlabel("time the probe was sent (ms)")
    fig.suptitle(title_with_seed("Per-room scanners: room A's scanner dies", seed))
    return fig


def plot_controller_load(df: pd.DataFrame):
    """Messages the registry handles per second against the number of agents."""
    seed = df["seed"].iloc[0]
    fig, ax = new_axes("Registry load with and without MNS-Controllers", seed=seed,
                       xlabel="agents (SgAgent processes)",
                       ylabel="registry messages per second (log)")
    for tier, g in df.groupby("tier", sort=True):
        n = int(g["controllers"].iloc[0])
        label = "agents → MNS directly" if tier == "direct" else f"agents → {n} controllers → MNS"
        ax.plot(g["agents"], g["registry_msgs_per_s"], marker="o", color=TIER_COLORS[tier],
                label=label)
    ax.set_yscale("log")
    ax.set_xticks(sorted(set(df["agents"])))
    legend_outside(ax, ax.get_legend_handles_labels()[0])
    return fig


def plot_cp_ap(bins: pd.DataFrame, regs: pd.DataFrame, schedule: dict | None = None):
    """Share of discovery requests answered per room over time, CP and AP registry; crosses
    and dots at the bottom: registration attempts of a new instance (refused / accepted).
    ``schedule`` (a scenario Result's ``metadata["schedule"]``) gives the partition's times,
    else they are read from ``bins.attrs`` (the facade's compatibility copy)."""
    seed = bins["seed"].iloc[0]
    a = {**bins.attrs, **(schedule or {})}
    registries = list(dict.fromkeys(bins["registry"]))
    fig, axes = plt.subplots(1, len(registries), figsize=(11.0, 3.8), sharey=True,
                             layout="constrained", squeeze=False)
    for ax, reg in zip(axes[0], registries, strict=True):
        ax.axvspan(a["partition_start_ms"], a["heal_ms"], color=FAULT_COLOR, alpha=0.4,
                   label="room A cut off")
        b = bins[bins["registry"] == reg]
        width = float(a.get("bin_ms", 0.0))
        for room, g in b.groupby("room", sort=True):
            ax.plot(g["bin_ms"] + width / 2, g["answered"], marker=".", color=SIDE_COLORS[room],
                    label=f"discovery in {room}")
        r = regs[regs["registry"] == reg]
        for k, (room, g) in enumerate(r.groupby("room", sort=True)):
            ok, level = g["type"] == "ok", -0.06 - 0.05 * k
            ax.scatter(g.loc[ok, "time_ms"], [level] * int(ok.sum()), marker="o", s=30,
                       color=SIDE_COLORS[room], label=f"new instance in {room} registered")
            ax.scatter(g.loc[~ok, "time_ms"], [level] * int((~ok).sum()), marker="x", s=30,
                       color=SIDE_COLORS[room], label=f"new instance in {room} refused")
        ax.set_title(reg)
        ax.set_xlabel("time (ms)")
        ax.set_ylim(-0.17, 1.05)
    axes[0, 0].set_ylabel("discovery requests answered\n(ratio per bin)")
    handles: dict[str, object] = {}
    for ax in axes[0]:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    legend_outside(axes[0, -1], list(handles.values()), labels=list(handles.keys()))
    fig.suptitle(title_with_seed("A machine room is cut off: CP refuses, AP serves", seed))
    return fig
