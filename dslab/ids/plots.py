"""Figures of the distributed-ID chapter, drawn from the frames of :mod:`dslab.ids.experiments`.

Every figure labels its axes with units and carries the run's seed in its title (via
:func:`dslab.viz.style.new_axes`); computed figures (the birthday bound, a bit layout) have no
seed. Each function returns the matplotlib Figure.

- :func:`plot_ids_over_time` -- each ID against the time it was handed out: order at a glance.
- :func:`plot_scheme_bars` -- IDs per second and latency per scheme.
- :func:`plot_segment_timeline` -- segment mode's latency and its database fetches over time.
- :func:`plot_segment_waste` -- IDs a crash skips against the step.
- :func:`plot_db_failover` -- one segment database down, against Tinyid's several.
- :func:`plot_step_adaptation` -- Leaf's dynamic step following the load.
- :func:`plot_rollback` -- Snowflake duplicates and refusals against the size of a rollback.
- :func:`plot_layout` -- the 64 bits of a Snowflake ID.
- :func:`plot_collision` -- the birthday bound for random UUIDs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from dslab._validate import check_choice, check_number, check_type
from dslab.history import History
from dslab.ids.experiments import segment_fetches
from dslab.ids.snowflake import DEFAULT_LAYOUT, SnowflakeLayout
from dslab.ids.uuids import V4_RANDOM_BITS, collision_probability, n_for_probability
from dslab.viz import CRASH_COLOR, MESSAGE_PALETTE, new_axes

DUP_COLOR = "#d32f2f"
JUMP_COLOR = "#ef6c00"
DEFENCE_STYLE = {
    "none": {"color": "#c62828", "marker": "o", "ls": "-", "label": "none (naive)"},
    "refuse": {"color": "#1565c0", "marker": "s", "ls": "--", "mfc": "none",
               "label": "refuse (Twitter)"},
    "wait": {"color": "#2e7d32", "marker": "^", "ls": ":", "mfc": "none",
             "label": "wait <= 5 ms, else refuse (Leaf at run time)"},
    "leaf": {"color": "#6a1b9a", "marker": "D", "ls": "-.", "mfc": "none",
             "label": "leaf: own last report (Leaf start-up)"},
    "leaf+peers": {"color": "#00838f", "marker": "v", "ls": "--",
                   "label": "leaf + peers' average at every start"},
}
FIELD_COLORS = {"sign": "#9e9e9e", "timestamp": "#1e88e5", "datacenter": "#fb8c00",
                "worker": "#43a047", "sequence": "#8e24aa"}


def _run(item: Any, where: str) -> pd.DataFrame:
    df = item[0] if isinstance(item, tuple) else item
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{where}={item!r} must be an ops DataFrame or an (ops, history) pair")
    return df


def _mark_faults(ax: Any, attrs: Mapping[str, Any], t0: float, t1: float) -> list[Any]:
    """Shade a crash, draw a clock jump; return legend handles for what was drawn."""
    handles = []
    at, restart = attrs.get("fault_at_ms"), attrs.get("restart_ms")
    fault, node = attrs.get("fault"), attrs.get("fault_node")
    if fault in ("crash", "crash_rollback") and at is not None and restart is not None:
        if restart >= t0 and at <= t1:
            ax.axvspan(max(at, t0), min(restart, t1), color=CRASH_COLOR, alpha=0.3, lw=0)
            handles.append(Patch(facecolor=CRASH_COLOR, alpha=0.3, label=f"{node} down"))
    if fault == "clock_jump" and at is not None and t0 <= at <= t1:
        ax.axvline(at, color=JUMP_COLOR, ls="--", lw=1.2)
        handles.append(Line2D([], [], color=JUMP_COLOR, ls="--",
                              label=f"{node}'s clock steps back {attrs.get('rollback_ms'):g} ms"))
    return handles


def plot_ids_over_time(
    runs: Mapping[str, Any],
    *,
    t0: float | None = None,
    t1: float | None = None,
    y: str = "rank",
    color_by: str = "server",
    ncols: int = 2,
):
    """Each ID handed out (``ok``) at the true time its client received it, one panel per run.

    ``runs``: ``{label: ops}`` or ``{label: (ops, history)}`` from :func:`~dslab.ids.experiments.
    run_ids`. ``t0``/``t1``: the time window (ms). ``y="rank"``: the ID's rank among the distinct
    IDs of the window, from 0 (smallest) to 1 (largest), which puts any kind of ID (counters,
    64-bit, UUIDs) on one scale and shows order only; ``y="scaled"``: the ID's value mapped
    linearly onto 0..1 over the window (UUIDs read as 128-bit numbers), which also shows gaps;
    ``y="value"``: the ID itself (counters). ``color_by``:
    ``"server"`` or ``"client"``. An ID handed out a second time is a red cross.
    """
    check_type("runs", runs, Mapping)
    if not runs:
        raise ValueError("runs={} is not allowed; give at least one run")
    check_choice("y", y, ("rank", "scaled", "value"))
    check_choice("color_by", color_by, ("server", "client"))
    check_number("ncols", ncols, min=1, integer=True)
    n = len(runs)
    cols = min(ncols, n)
    nrows = math.ceil(n / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 3.3 * nrows), layout="constrained",
                             squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax, (label, item) in zip(axes.flat, runs.items(), strict=False):
        df = _run(item, f"runs[{label!r}]")
        ok = df[df["type"] == "ok"].sort_values("end_ms", kind="stable")
        lo = float(ok["end_ms"].min()) if t0 is None else check_number("t0", t0)
        hi = float(ok["end_ms"].max()) if t1 is None else check_number("t1", t1)
        win = ok[(ok["end_ms"] >= lo) & (ok["end_ms"] <= hi)]
        ids = list(win["id"])
        if y == "rank":
            distinct = sorted(set(ids))
            pos = {v: i for i, v in enumerate(distinct)}
            ys = np.array([pos[v] / max(len(distinct) - 1, 1) for v in ids])
            ylabel = "ID's rank (0 = smallest)"
        elif y == "scaled":
            nums = [int(v.replace("-", ""), 16) if isinstance(v, str) else int(v) for v in ids]
            lo_v, hi_v = (min(nums), max(nums)) if nums else (0, 1)
            ys = np.array([(v - lo_v) / max(hi_v - lo_v, 1) for v in nums])
            ylabel = "ID, scaled (0 = smallest)"
        else:
            if not all(isinstance(v, (int, float)) for v in ids):
                raise ValueError(f"y='value' needs numeric IDs; runs[{label!r}] has others "
                                 "(UUIDs?): use y='rank'")
            ys = np.array([float(v) for v in ids])
            ylabel = "ID"
        seen: set[Any] = set()
        dup = np.zeros(len(ids), dtype=bool)
        for k, v in enumerate(ids):
            if v in seen:
                dup[k] = True
            seen.add(v)
        verdict = f"{int(dup.sum())} duplicates" if dup.any() else "no duplicates"
        new_axes(f"{label}: {verdict}", seed=df.attrs.get("seed"),
                 xlabel="time the client got the ID (ms)", ylabel=ylabel, ax=ax)
        groups = sorted(set(win[color_by]), key=lambda s: (len(str(s)), str(s)))
        handles = []
        ts = win["end_ms"].to_numpy()
        keys = win[color_by].to_numpy()
        for i, g in enumerate(groups):
            m = (keys == g) & ~dup
            colour = MESSAGE_PALETTE[i % len(MESSAGE_PALETTE)]
            ax.scatter(ts[m], ys[m], s=7, color=colour, lw=0, alpha=0.8)
            if 1 < len(groups) <= 6:
                handles.append(Line2D([], [], marker="o", ls="", color=colour, label=str(g)))
        if dup.any():
            ax.scatter(ts[dup], ys[dup], s=30, marker="x", color=DUP_COLOR, lw=1.3, zorder=3)
            handles.append(Line2D([], [], marker="x", ls="", color=DUP_COLOR,
                                  label="handed out again"))
        handles += _mark_faults(ax, df.attrs, lo, hi)
        ax.set_xlim(lo - 0.01 * (hi - lo), hi + 0.01 * (hi - lo))
        if handles:
            ax.legend(handles=handles, loc="upper left", fontsize=7.5, frameon=True,
                      framealpha=0.85, title=color_by if 1 < len(groups) <= 6 else None,
                      title_fontsize=7.5)
    return fig


def plot_scheme_bars(table: pd.DataFrame):
    """IDs per second (log scale) and p50 / p99 latency of each scheme of
    :func:`~dslab.ids.experiments.compare_schemes`."""
    check_type("table", table, pd.DataFrame)
    for col in ("scheme", "ids_per_s", "p50_ms", "p99_ms"):
        if col not in table.columns:
            raise ValueError(f"table has no column {col!r}; pass compare_schemes(...)[0]")
    seed = table.attrs.get("seed")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11.0, 0.42 * len(table) + 1.6),
                                 layout="constrained", sharey=True)
    names = list(table["scheme"])
    yy = np.arange(len(names))
    new_axes(f"Throughput, {table.attrs.get('clients', '?')} greedy clients", seed=seed,
             xlabel="IDs handed out per simulated second (log scale)", ylabel="scheme", ax=a1)
    a1.barh(yy, table["ids_per_s"], color="#1e88e5", alpha=0.8)
    a1.set_xscale("log")
    for yi, v in zip(yy, table["ids_per_s"], strict=True):
        a1.text(v, yi, f" {v:,.0f}", va="center", fontsize=8)
    a1.set_xlim(right=float(table["ids_per_s"].max()) * 6)
    a1.set_yticks(yy, names)
    a1.invert_yaxis()
    new_axes("Latency seen by the clients", seed=seed, xlabel="latency (ms)", ylabel="", ax=a2)
    a2.barh(yy - 0.18, table["p50_ms"], height=0.36, color="#90caf9", label="p50")
    a2.barh(yy + 0.18, table["p99_ms"], height=0.36, color="#0d47a1", label="p99")
    for yi, p50, p99 in zip(yy, table["p50_ms"], table["p99_ms"], strict=True):
        a2.text(p99, yi + 0.18, f" {p99:.2f}", va="center", fontsize=7.5)
        a2.text(p50, yi - 0.18, f" {p50:.2f}", va="center", fontsize=7.5)
    a2.set_xlim(right=float(table["p99_ms"].max()) * 1.2)
    a2.legend(loc="lower right", frameon=True)
    return fig


def plot_segment_timeline(runs: Mapping[str, tuple[pd.DataFrame, History]]):
    """Segment mode over time, one column per run: each client request's latency (top) and the
    servers' database fetches, from request to segment (bottom; red: the server had no ID left,
    so requests arriving meanwhile waited for the database)."""
    check_type("runs", runs, Mapping)
    if not runs:
        raise ValueError("runs={} is not allowed; give at least one (ops, history) run")
    n = len(runs)
    fig, axes = plt.subplots(2, n, figsize=(5.6 * n, 5.2), layout="constrained", squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1.3]}, sharex="col")
    ymax = max(float(_run(item, "runs").query("type == 'ok'")["latency_ms"].max())
               for item in runs.values())
    for j, (label, item) in enumerate(runs.items()):
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(f"runs[{label!r}] must be an (ops, history) pair")
        df, h = item
        top, bottom = axes[0, j], axes[1, j]
        ok = df[df["type"] == "ok"]
        servers = sorted(set(ok["server"]))
        new_axes(label, seed=df.attrs.get("seed"), xlabel="", ylabel="request latency (ms)",
                 ax=top)
        start = df.attrs.get("start_ms")
        for ax in (top, bottom):
            if start:
                ax.axvspan(0.0, start, color="#eeeeee", lw=0, zorder=0)
        if start:
            top.text(start / 2, ymax * 0.5, "clients not\nstarted yet", ha="center",
                     va="center", fontsize=8, color="#757575")
        for i, s in enumerate(servers):
            part = ok[ok["server"] == s]
            top.scatter(part["end_ms"], part["latency_ms"], s=12, lw=0, alpha=0.7,
                        color=MESSAGE_PALETTE[i], label=f"answered by {s}")
        top.set_ylim(0, ymax * 1.08)
        top.legend(loc="upper right", fontsize=8, frameon=True, framealpha=0.85, markerscale=2)
        fetches = segment_fetches(h)
        new_axes("", seed=None, xlabel="true time (ms)", ylabel="fetch", ax=bottom)
        lanes = {s: i for i, s in enumerate(sorted(set(fetches["server"]) | set(servers)))}
        end = float(df["end_ms"].max())
        for row in fetches.itertuples():
            stop = end if row.end_ms is None or pd.isna(row.end_ms) else row.end_ms
            colour = "#43a047" if row.had_ids else "#e53935"
            bottom.barh(lanes[row.server], max(stop - row.start_ms, end / 400), left=row.start_ms,
                        height=0.6, color=colour)
        bottom.set_yticks(list(lanes.values()), list(lanes))
        bottom.set_ylim(len(lanes) - 0.4, -0.6)
        bottom.grid(False, axis="y")
        if j == n - 1:
            bottom.legend(handles=[
                Patch(color="#43a047", label="server still had IDs"),
                Patch(color="#e53935", label="server had no ID left")],
                loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return fig


def plot_segment_waste(df: pd.DataFrame):
    """IDs skipped per crash against the step, with and without double buffering."""
    check_type("df", df, pd.DataFrame)
    fig, ax = new_axes(f"IDs a crash skips in segment mode ({df.attrs.get('crashes')} crashes)",
                       seed=df.attrs.get("seed"), xlabel="step: IDs per segment (log scale)",
                       ylabel="IDs wasted per crash (log scale)", figsize=(7.5, 4.0))
    steps = np.array(sorted(set(df["step"])), dtype=float)
    for mode, colour, marker in ((False, "#1e88e5", "o"), (True, "#e53935", "s")):
        part = df[df["double_buffer"] == mode].sort_values("step")
        if len(part):
            ax.plot(part["step"], part["wasted_per_crash"].clip(lower=0.5), marker=marker,
                    color=colour, label="double buffering" if mode else "one segment at a time")
    ax.plot(steps, steps, color="#616161", ls=":", lw=1, label="one step")
    ax.plot(steps, 2 * steps, color="#616161", ls="--", lw=1, label="two steps")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend(loc="upper left")
    return fig


def plot_rollback(sweeps: Mapping[str, pd.DataFrame]):
    """Duplicates (top) and refused requests (bottom) against the rollback, one column per sweep
    of :func:`~dslab.ids.experiments.rollback_sweep` (``{title: df}``)."""
    check_type("sweeps", sweeps, Mapping)
    if not sweeps:
        raise ValueError("sweeps={} is not allowed; give at least one rollback_sweep frame")
    n = len(sweeps)
    fig, axes = plt.subplots(2, n, figsize=(5.8 * n, 6.4), layout="constrained", squeeze=False,
                             sharex=True)
    for j, (title, df) in enumerate(sweeps.items()):
        check_type(f"sweeps[{title!r}]", df, pd.DataFrame)
        top, bottom = axes[0, j], axes[1, j]
        new_axes(title, seed=df.attrs.get("seed"), xlabel="", ylabel="duplicate IDs", ax=top)
        new_axes("", seed=None, xlabel="clock rollback (ms, symmetric log scale)",
                 ylabel="requests refused (definite)", ax=bottom)
        for k, defence in enumerate(dict.fromkeys(df["defence"])):
            part = df[df["defence"] == defence].sort_values("rollback_ms")
            style = dict(DEFENCE_STYLE.get(defence, {"label": defence}))
            label = style.pop("label")
            # nudge overlapping zero lines apart so every defence stays visible
            nudge = 1.0 + 0.04 * k
            top.plot(part["rollback_ms"] * nudge, part["duplicates"], ms=5, label=label, **style)
            bottom.plot(part["rollback_ms"] * nudge, part["refused"], ms=5, **style)
        for ax in (top, bottom):
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_ylim(bottom=-3)
        if "downtime_ms" in df.attrs and df.attrs.get("scenario") == "restart":
            for ax in (top, bottom):
                ax.axvline(df.attrs["downtime_ms"], color="#757575", ls=":", lw=1)
            top.text(df.attrs["downtime_ms"], top.get_ylim()[1] * 0.5, " = downtime", fontsize=8,
                     color="#616161", va="center")
        top.legend(loc="upper left", fontsize=8)
    return fig


def _utc_text(unix_ms: int) -> str:
    import datetime as dt

    t = dt.datetime.fromtimestamp(unix_ms / 1000.0, tz=dt.UTC)
    return t.isoformat(timespec="milliseconds").replace("+00:00", " UTC")


def plot_layout(layout: SnowflakeLayout = DEFAULT_LAYOUT, id_: int | None = None):
    """The 64 bits of a Snowflake ID under ``layout``: one cell per bit, coloured by field, with
    the bits of ``id_`` written in (if given) and each field's value below."""
    check_type("layout", layout, SnowflakeLayout)
    if id_ is not None:
        check_number("id_", id_, min=0, max=(1 << 63) - 1, integer=True)
    title = f"{layout.name} layout" + (f": ID {id_}" if id_ is not None else "")
    fig, ax = new_axes(title, seed=None, xlabel="bit (63 = most significant, 0 = least)",
                       ylabel="", figsize=(11.0, 2.5))
    bits = f"{id_:064b}" if id_ is not None else None
    values = {}
    if id_ is not None:
        d = layout.decode(id_)
        values = {"sign": 0, "timestamp": d["timestamp"], "datacenter": d["datacenter_id"],
                  "worker": d["worker_id"], "sequence": d["sequence"]}
    pos = 0
    for name, width in layout.fields():
        if width == 0:
            continue
        colour = FIELD_COLORS[name]
        for b in range(pos, pos + width):
            ax.add_patch(plt.Rectangle((b, 0), 1, 1, facecolor=colour, edgecolor="white",
                                       alpha=0.85))
            if bits is not None:
                ax.text(b + 0.5, 0.5, bits[b], ha="center", va="center", fontsize=6.5,
                        color="white")
        mid = pos + width / 2
        hi_bit, lo_bit = 63 - pos, 64 - pos - width
        span = f"bit {hi_bit}" if width == 1 else f"bits {hi_bit}-{lo_bit}"
        ax.text(mid, 1.12, f"{name}\n{span}", ha="center", va="bottom", fontsize=8.5)
        if name in values:
            text = f"= {values[name]}"
            if name == "timestamp":
                when = _utc_text(layout.epoch_ms + values[name] * layout.tick_ms)
                text += f" {'ms' if layout.tick_ms == 1 else 'ticks'} since the epoch: {when}"
            ax.text(mid, -0.2, text, ha="center", va="top", fontsize=8.5)
        pos += width
    ax.set_xlim(0, 64)
    ax.set_ylim(-0.9, 1.8)
    ax.set_xticks([0.5, 63.5], ["63", "0"])
    ax.set_yticks([])
    ax.grid(False)
    ax.spines["left"].set_visible(False)
    return fig


def plot_collision(bits: int = V4_RANDOM_BITS):
    """P(at least one collision) among ``n`` random UUIDs (the birthday bound), against ``n``."""
    check_number("bits", bits, min=1, integer=True)
    fig, ax = new_axes(f"Birthday bound for {bits} random bits (computed)", seed=None,
                       xlabel="number of random UUIDs (log scale)",
                       ylabel="P(some two are equal) (log scale)", figsize=(7.5, 4.0))
    ns = np.logspace(3, 20, 200)
    ps = np.array([collision_probability(float(x), bits) for x in ns])
    ax.plot(ns, ps, color="#1e88e5")
    for p, label in ((1e-9, "one in a billion"), (0.5, "even odds")):
        n = n_for_probability(p, bits)
        ax.plot([n], [p], "o", color="#e53935")
        ax.annotate(f"{label}: {n:.2g} UUIDs", (n, p), textcoords="offset points",
                    xytext=(-8, 0), ha="right", va="center", fontsize=8.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(1e-30, 10)
    return fig


def plot_db_failover(runs: Mapping[str, tuple[pd.DataFrame, History]], bucket_ms: float = 10.0):
    """One column per :func:`~dslab.ids.experiments.db_failover` run: each ID handed out against
    the time its client got it, coloured by the database whose residue class it belongs to (top),
    and IDs answered per second in buckets of ``bucket_ms`` (bottom); the database's downtime is
    shaded."""
    check_type("runs", runs, Mapping)
    if not runs:
        raise ValueError("runs={} is not allowed; give at least one (ops, history) run")
    check_number("bucket_ms", bucket_ms, min=0, min_inclusive=False)
    n = len(runs)
    fig, axes = plt.subplots(2, n, figsize=(5.4 * n, 5.4), layout="constrained", squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1.4]}, sharex="col")
    rate_max = 0.0
    for j, (label, item) in enumerate(runs.items()):
        df = _run(item, f"runs[{label!r}]")
        n_dbs = int(df.attrs.get("n_dbs", 1))
        ok = df[df["type"] == "ok"]
        top, bottom = axes[0, j], axes[1, j]
        new_axes(label, seed=df.attrs.get("seed"), xlabel="", ylabel="ID", ax=top)
        handles = []
        for i in range(n_dbs):
            part = ok[ok["id"] % n_dbs == i]
            colour = MESSAGE_PALETTE[i % len(MESSAGE_PALETTE)]
            # the databases grant the same ranges: later ones are drawn smaller, on top
            top.scatter(part["end_ms"], part["id"], s=12 / (i + 1), lw=0, alpha=0.9,
                        color=colour, zorder=2 + i)
            name = "db" if n_dbs == 1 else f"db{i + 1} (ID mod {n_dbs} = {i})"
            handles.append(Line2D([], [], marker="o", ls="", color=colour,
                                  label=f"from {name}"))
        t0, t1 = 0.0, float(df.attrs.get("until_ms", df["end_ms"].max()))
        for ax in (top, bottom):
            handles_f = _mark_faults(ax, df.attrs, t0, t1)
        handles += handles_f
        top.legend(handles=handles, loc="upper left", fontsize=8, frameon=True, framealpha=0.85)
        edges = np.arange(0.0, t1 + bucket_ms, bucket_ms)
        counts, _ = np.histogram(ok["end_ms"], bins=edges)
        rate = counts / (bucket_ms / 1000.0)
        rate_max = max(rate_max, float(rate.max()) if len(rate) else 0.0)
        bottom.step(edges[:-1], rate, where="post", color="#37474f", lw=1.2)
        new_axes("", seed=None, xlabel="true time (ms)", ylabel="IDs per second", ax=bottom)
        bottom.set_xlim(t0, t1)
    for j in range(n):
        axes[1, j].set_ylim(0, rate_max * 1.1 if rate_max else 1.0)
    return fig


def plot_step_adaptation(segments: pd.DataFrame, ops: pd.DataFrame, bucket_ms: float = 25.0):
    """A :func:`~dslab.ids.experiments.step_adaptation` run: the size of each segment the server
    claimed, at the time it was granted (top, log scale), and IDs answered per second in buckets
    of ``bucket_ms`` (bottom), for each mode; the load phases are shaded and labelled."""
    check_type("segments", segments, pd.DataFrame)
    check_type("ops", ops, pd.DataFrame)
    check_number("bucket_ms", bucket_ms, min=0, min_inclusive=False)
    bounds = ops.attrs["phase_bounds_ms"]
    phases = ops.attrs["phases"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9.0, 6.0), layout="constrained",
                                      sharex=True, gridspec_kw={"height_ratios": [1.6, 1]})
    seg_d = ops.attrs.get("segment_duration_ms")
    new_axes(f"Segment size under a changing load (dynamic: aim {seg_d:g} to {2 * seg_d:g} ms "
             "per segment)", seed=ops.attrs.get("seed"), xlabel="",
             ylabel="segment size (IDs, log scale)", ax=top)
    styles = [("#1565c0", "--", "o"), ("#c62828", "-", "s")]
    end = bounds[-1]
    for (mode, part), (colour, ls, marker) in zip(segments.groupby("mode", sort=False), styles,
                                                  strict=False):
        t = list(part["time_ms"]) + [end]
        size = list(part["size"]) + [part["size"].iloc[-1]]
        top.step(t, size, where="post", color=colour, ls=ls, lw=1.6, label=mode)
        if len(part) <= 60:  # a marker per segment, where they can be told apart
            top.plot(part["time_ms"], part["size"], ls="", marker=marker, ms=3.5, color=colour)
    top.set_yscale("log", base=2)
    lo, hi = float(segments["size"].min()), float(segments["size"].max())
    top.set_ylim(lo / 1.6, hi * 8)  # head room for the phase labels
    ticks = [2 ** k for k in range(int(np.floor(np.log2(lo))), int(np.ceil(np.log2(hi))) + 1)]
    top.set_yticks(ticks, [f"{v:g}" for v in ticks])
    top.minorticks_off()
    top.legend(loc="upper right", fontsize=8, frameon=True, framealpha=0.85)
    new_axes("", seed=None, xlabel="true time (ms)", ylabel="IDs per second", ax=bottom)
    edges = np.arange(bounds[0], end + bucket_ms, bucket_ms)
    for (mode, part), (colour, ls, _) in zip(ops.groupby("mode", sort=False), styles,
                                             strict=False):
        ok = part[part["type"] == "ok"]
        counts, _ = np.histogram(ok["end_ms"], bins=edges)
        bottom.step(edges[:-1], counts / (bucket_ms / 1000.0), where="post", color=colour,
                    ls=ls, lw=1.4, label=mode)
    for i, (_, active, think) in enumerate(phases):
        for ax in (top, bottom):
            if i % 2 == 1:
                ax.axvspan(bounds[i], bounds[i + 1], color="#eeeeee", lw=0, zorder=0)
        top.text((bounds[i] + bounds[i + 1]) / 2, 0.97,
                 f"{active} client(s)\nthink {think:g} ms", transform=top.get_xaxis_transform(),
                 ha="center", va="top", fontsize=8, color="#616161")
    bottom.set_xlim(bounds[0], end)
    bottom.legend(loc="upper right", fontsize=8, frameon=True, framealpha=0.85)
    return fig
