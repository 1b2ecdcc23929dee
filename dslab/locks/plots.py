"""Figures of the distributed-lock chapter.

:func:`plot_holds` draws, for each run, one row per client and a bar per hold of the lock in
**true** time (the holder believed it held the lock from the acquire's ``ok`` to its release).
Overlaps (two holders at once) are shaded red over the full height; client pauses and crashes are
hatched / shaded on the client's row, server crashes over the full height; clock jumps are dotted
vertical lines. Writes to the storage service are dots (accepted) or crosses (rejected as stale).
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from dslab.check import mutual_exclusion
from dslab.viz.style import (
    OUTCOME_COLORS,
    fault_spans,
    legend_outside,
    natural_key,
    new_axes,
    shade_faults,
    span_legend_handles,
)

HOLD_COLOR = "#1e88e5"
OVERLAP_COLOR = "#e53935"
JUMP_COLOR = "#6a1b9a"
WAIT_COLOR = "#9e9e9e"


def _draw(ax: Any, label: str, holds: Any, history: Any, t1: float | None) -> list[Any]:
    clients = sorted({op.process for op in history.ops}, key=natural_key)
    rows = {c: i for i, c in enumerate(clients)}
    end = t1 if t1 is not None else holds.attrs.get("duration_ms") or max(
        [f.time for f in history.faults] + [op.time for op in history.ops] + [1.0])
    ax.set_xlim(0.0, end)
    ax.set_ylim(-0.6, len(clients) - 0.4)
    ax.set_yticks(range(len(clients)), clients)
    ax.invert_yaxis()
    waits = {}
    for op in history.ops:  # waiting to acquire: from the invocation to its outcome
        if op.f == "acquire" and op.type == "invoke":
            waits[op.process] = op.time
        elif op.f == "acquire" and op.process in waits:
            start = waits.pop(op.process)
            ax.plot([start, op.time], [rows[op.process]] * 2, color=WAIT_COLOR, lw=2, zorder=1.5)
    for who, start in waits.items():
        ax.plot([start, end], [rows[who]] * 2, color=WAIT_COLOR, lw=2, zorder=1.5)
    for h in holds.itertuples():
        y = rows[h.holder]
        ax.barh(y, h.end_ms - h.start_ms, left=h.start_ms, height=0.5, color=HOLD_COLOR,
                alpha=0.85, zorder=2, gid="hold")
        tag = f"fence {h.fence}" if h.fence is not None and h.fence == h.fence else h.holder
        ax.text(h.start_ms + 2, y, tag, va="center", ha="left", fontsize=7, color="white",
                zorder=3, clip_on=True)
    verdict = mutual_exclusion(holds[["holder", "start_ms", "end_ms"]].to_dict("records"))
    for o in verdict.overlaps:
        ax.axvspan(o["start_ms"], o["end_ms"], color=OVERLAP_COLOR, alpha=0.25, zorder=1,
                   gid="overlap")
    # client pauses and crashes only: the network cuts of a scenario are named in its label
    spans = [s for s in fault_spans(history, end=end)
             if s.kind != "network" and any(n in rows for n in s.nodes)]
    shade_faults(ax, spans, rows, annotate=False)
    handles = [Patch(color=HOLD_COLOR, label="holds the lock"),
               Line2D([], [], color=WAIT_COLOR, lw=2, label="waiting to acquire")]
    if verdict.overlaps:
        handles.append(Patch(color=OVERLAP_COLOR, alpha=0.25, label="two holders at once"))
    handles += span_legend_handles(spans)
    for f in history.faults:
        if f.verb in ("clock_jump", "crash", "failover") and f.args.get("node") not in rows:
            color = JUMP_COLOR if f.verb == "clock_jump" else "#424242"
            text = {"clock_jump": f"{f.args.get('node')} clock {f.args.get('delta_ms', 0):+g} ms",
                    "crash": f"{f.args.get('node')} crashes",
                    "failover": f"failover to {f.args.get('node')}"}[f.verb]
            ax.axvline(f.time, color=color, linestyle=":", linewidth=1.5, zorder=4)
            ax.text(f.time, -0.55, " " + text, fontsize=7, color=color, va="top", ha="left",
                    zorder=5)
    marks = {"ok": False, "fail": False}
    for op in history.ops:
        if op.f == "write" and op.type in marks:
            ok = op.type == "ok"
            ax.plot(op.time, rows[op.process] + 0.33, "o" if ok else "x", ms=6, mew=2,
                    color=OUTCOME_COLORS["ok" if ok else "fail"], zorder=6)
            marks[op.type] = True
    if marks["ok"]:
        handles.append(Line2D([], [], marker="o", ls="", color=OUTCOME_COLORS["ok"],
                              label="write accepted"))
    if marks["fail"]:
        handles.append(Line2D([], [], marker="x", ls="", mew=2, color=OUTCOME_COLORS["fail"],
                              label="write rejected (stale token)"))
    return handles


def plot_holds(runs: dict[str, tuple[Any, Any]], *, t1: float | None = None):
    """One panel per run (``label -> (holds, history)``, as returned by the experiments), stacked,
    sharing the time axis. Returns the figure."""
    if not isinstance(runs, dict) or not runs:
        raise TypeError(f"runs={runs!r} must be a non-empty dict label -> (holds, history)")
    n = len(runs)
    fig, axes = plt.subplots(n, 1, figsize=(9.0, 1.1 + 1.25 * n + 0.25 * n), sharex=True,
                             layout="constrained", squeeze=False)
    seen: dict[str, Any] = {}
    for ax, (label, (holds, history)) in zip(axes[:, 0], runs.items(), strict=True):
        new_axes(label, seed=history.seed, xlabel="", ylabel="client", ax=ax)
        ax.set_title(ax.get_title(), fontsize=10, loc="left")
        ax.set_title("")
        for h in _draw(ax, label, holds, history, t1):
            seen.setdefault(h.get_label(), h)
        ax.grid(axis="y", visible=False)
    axes[-1, 0].set_xlabel("true time (ms)")
    legend_outside(axes[0, 0], list(seen.values()))
    return fig


def plot_crash_window(df: Any):
    """:func:`dslab.locks.experiments.crash_window`: for each crash time of ``c1`` (x), how long
    ``c2`` waited for the lock (y); a stuck lock (``c2`` never got it) is a cross on the top
    line. Returns the figure."""
    needed = {"variant", "crash_ms", "c2_wait_ms", "stuck"}
    if not needed <= set(getattr(df, "columns", [])):
        raise TypeError(f"df must be the DataFrame of crash_window() with columns {sorted(needed)}")
    duration = df.attrs.get("duration_ms", 1000.0)
    never = duration * 1.05
    fig, ax = new_axes("c1 crashes while taking the lock: how long does c2 wait?",
                       seed=df.attrs.get("seed"), xlabel="c1 crashes at (ms, true time)",
                       ylabel="c2 waits for the lock (ms)", figsize=(9.0, 3.6))
    styles = {0: ("o", HOLD_COLOR, -0.06), 1: ("s", "#fb8c00", 0.06)}
    for k, (variant, g) in enumerate(df.groupby("variant", sort=False)):
        marker, color, dx = styles[k % 2]
        ok = g[~g["stuck"]]
        ax.plot(ok["crash_ms"] + dx, ok["c2_wait_ms"], marker, color=color, ms=5, ls="",
                label=f"{variant}: expires")
        bad = g[g["stuck"]]
        if len(bad):
            ax.plot(bad["crash_ms"] + dx, [never] * len(bad), "x", color=OVERLAP_COLOR, ms=7,
                    mew=2, ls="", label=f"{variant}: never expires")
    ax.axhline(df.attrs.get("ttl_ms", 200.0), color=WAIT_COLOR, ls="--", lw=1, label="ttl")
    ax.set_ylim(0, never * 1.1)
    ax.text(df["crash_ms"].min(), never * 0.97, f"never (within {duration:g} ms)", fontsize=8,
            va="top", color=OVERLAP_COLOR)
    legend_outside(ax, ax.get_legend_handles_labels()[0])
    return fig


def plot_db_locks(df: Any):
    """:func:`dslab.locks.experiments.db_locks`: per lock kind, the increments the live clients
    made (bar outline) against the counter at the end (filled), without and with a crashed
    holder; a stuck run is labelled. Returns the figure."""
    needed = {"lock", "crash", "expected", "final_counter", "stuck"}
    if not needed <= set(getattr(df, "columns", [])):
        raise TypeError(f"df must be the DataFrame of db_locks() with columns {sorted(needed)}")
    fig, ax = new_axes("Locks in SQLite: a counter incremented under each lock",
                       seed=None, xlabel="lock (real SQLite file; deterministic round-robin "
                       "steps, no randomness)", ylabel="counter value (increments)",
                       figsize=(9.0, 3.6))
    kinds = list(dict.fromkeys(df["lock"]))
    colors = {"none": HOLD_COLOR, "c1": "#fb8c00"}
    width = 0.38
    for j, crash in enumerate(["none", "c1"]):
        g = df[df["crash"] == crash].set_index("lock").reindex(kinds)
        xs = [i + (j - 0.5) * width for i in range(len(kinds))]
        label = "no crash" if crash == "none" else "c1 crashes in its critical section"
        ax.bar(xs, g["expected"], width=width * 0.9, fill=False, edgecolor=colors[crash],
               lw=1.5, ls="--")
        ax.bar(xs, g["final_counter"], width=width * 0.9, color=colors[crash], alpha=0.85,
               label=f"{label}: final counter")
        for x, row in zip(xs, g.itertuples(), strict=True):
            note = "stuck" if row.stuck else f"{row.final_counter}/{row.expected}"
            ax.text(x, max(row.final_counter, 0) + 0.2, note, ha="center", va="bottom",
                    fontsize=8, color=OVERLAP_COLOR if row.stuck else "black")
    ax.set_xticks(range(len(kinds)), kinds)
    ax.set_ylim(0, df["expected"].max() * 1.25)
    handles = ax.get_legend_handles_labels()[0]
    handles.append(Patch(fill=False, edgecolor="#424242", ls="--",
                         label="increments the live clients meant to make"))
    legend_outside(ax, handles)
    return fig


def plot_fair_lock(df: Any):
    """:func:`dslab.locks.experiments.fair_lock`: for each lock kind, how often (over the seeds)
    the waiter that arrived k-th got the lock j-th. A fair lock puts every point on the
    diagonal. Returns the figure."""
    needed = {"seed", "kind", "arrival", "order"}
    if not needed <= set(getattr(df, "columns", [])):
        raise TypeError(f"df must be the DataFrame of fair_lock() with columns {sorted(needed)}")
    kinds = list(dict.fromkeys(df["kind"]))
    seeds = sorted(set(df["seed"]))
    n = int(df["arrival"].max())
    fig, axes = plt.subplots(1, len(kinds), figsize=(9.0, 3.8), layout="constrained",
                             sharey=True, squeeze=False)
    seed_label = f"{seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else seeds[0]
    for ax, kind in zip(axes[0], kinds, strict=True):
        g = df[df["kind"] == kind].groupby(["arrival", "order"]).size()
        new_axes(f"{kind}", seed=seed_label, xlabel="arrived (rank among the waiters)",
                 ylabel="got the lock (rank)", ax=ax)
        ax.plot([1, n], [1, n], color=WAIT_COLOR, ls="--", lw=1, zorder=1)
        for (a, o), count in g.items():
            ax.scatter(a, o, s=40 + 400 * count / len(seeds), color=HOLD_COLOR, alpha=0.8,
                       zorder=2)
            ax.text(a, o, str(count), ha="center", va="center", fontsize=7, color="white",
                    zorder=3)
        ax.set_xticks(range(1, n + 1))
        ax.set_yticks(range(1, n + 1))
        ax.set_xlim(0.4, n + 0.6)
        ax.set_ylim(0.4, n + 0.6)
        ax.set_title(ax.get_title(), fontsize=10)
    fig.suptitle(f"Who gets the lock next? Counts over {len(seeds)} seeds", fontsize=11)
    return fig


def plot_rw_lock(holds: Any, table: Any):
    """:func:`dslab.locks.experiments.rw_lock`: one panel per lock kind, one row per client, a
    bar per hold (blue: read, orange: write). Returns the figure."""
    needed = {"kind", "client", "mode", "start_ms", "end_ms"}
    if not needed <= set(getattr(holds, "columns", [])):
        raise TypeError(f"holds must be the first DataFrame of rw_lock() with columns "
                        f"{sorted(needed)}")
    kinds = list(dict.fromkeys(holds["kind"]))
    clients = sorted(set(holds["client"]), key=lambda c: (c == "w", natural_key(c)))
    rows = {c: i for i, c in enumerate(clients)}
    fig, axes = plt.subplots(len(kinds), 1, figsize=(9.0, 1.2 + 1.6 * len(kinds)),
                             sharex=True, layout="constrained", squeeze=False)
    colors = {"read": HOLD_COLOR, "write": "#fb8c00"}
    done = dict(zip(table["kind"], table["done_ms"], strict=True))
    for ax, kind in zip(axes[:, 0], kinds, strict=True):
        new_axes(f"{kind}: all done at {done[kind]:.0f} ms", seed=holds.attrs.get("seed"),
                 xlabel="", ylabel="client", ax=ax)
        ax.set_title(ax.get_title(), fontsize=10, loc="left")
        ax.set_title("")
        for h in holds[holds["kind"] == kind].itertuples():
            ax.barh(rows[h.client], h.end_ms - h.start_ms, left=h.start_ms, height=0.6,
                    color=colors[h.mode], alpha=0.9)
        ax.set_yticks(range(len(clients)), clients)
        ax.set_ylim(-0.6, len(clients) - 0.4)
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
    axes[-1, 0].set_xlabel("true time (ms)")
    legend_outside(axes[0, 0], [Patch(color=colors["read"], label="a reader holds the lock"),
                                Patch(color=colors["write"], label="the writer holds the lock")])
    return fig


def plot_reentrancy_cost(df: Any):
    """:func:`dslab.locks.experiments.reentrancy_cost`: requests sent to the servers (left) and
    the count the server holds (right), against the nesting depth. Returns the figure."""
    needed = {"recipe", "depth", "requests", "held_on_server"}
    if not needed <= set(getattr(df, "columns", [])):
        raise TypeError(f"df must be the DataFrame of reentrancy_cost() with columns "
                        f"{sorted(needed)}")
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.6), layout="constrained")
    seed = df.attrs.get("seed")
    new_axes("Requests for nested lock + unlock", seed=seed, xlabel="nesting depth (acquires)",
             ylabel="requests to the servers", ax=left)
    new_axes("What the server holds at the deepest point", seed=seed,
             xlabel="nesting depth (acquires)", ylabel="count on the server", ax=right)
    for (recipe, g), (marker, color) in zip(df.groupby("recipe", sort=False),
                                            [("o", HOLD_COLOR), ("s", "#fb8c00")], strict=False):
        left.plot(g["depth"], g["requests"], marker=marker, color=color, label=recipe)
        right.plot(g["depth"], g["held_on_server"], marker=marker, color=color, label=recipe)
    for ax in (left, right):
        ax.set_xticks(sorted(set(df["depth"])))
        ax.set_ylim(bottom=0)
        ax.set_title(ax.get_title(), fontsize=10)
    fig.legend(*left.get_legend_handles_labels(), loc="outside lower center", ncols=2,
               fontsize=8)
    return fig
