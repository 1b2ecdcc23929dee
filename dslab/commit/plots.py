"""Figures of the atomic-commit chapter, drawn from the histories and frames of
:mod:`dslab.commit.experiments`. Each function returns the matplotlib Figure; axes are labelled
with units and titles carry the seed (:func:`dslab.viz.style.new_axes`).

- :func:`plot_happy_paths` -- space-time diagrams of one transaction under 2PC and 3PC
  (:func:`dslab.viz.spacetime`).
- :func:`plot_states` -- a state timeline: one row per node, coloured by what it knows about a
  transaction (in doubt, pre-committed, committed, aborted), crashes and partitions shaded.
- :func:`plot_state_panels` -- several state timelines stacked (2PC against 3PC).
- :func:`plot_crash_matrix` -- the longest time a participant stayed in doubt, per crash step.
- :func:`plot_contention` -- committed transactions per second and time blocked in doubt, as the
  coordinator failure rate grows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from dslab._validate import check_type
from dslab.history import History
from dslab.viz import OUTCOME_COLORS, fault_spans, new_axes, run_end, shade_faults, spacetime
from dslab.viz.style import legend_outside, natural_key, span_legend_handles

#: Colours of what a node knows about a transaction.
STATE_COLORS = {
    "waiting for locks": "#cfd8dc",
    "collecting votes": "#90caf9",
    "prepared": "#fb8c00",
    "precommitted": "#fdd835",
    "committed": OUTCOME_COLORS["ok"],
    "aborted": OUTCOME_COLORS["fail"],
}
STATE_LABELS = {
    "waiting for locks": "waiting for locks",
    "collecting votes": "coordinator: voting",
    "prepared": "in doubt (voted yes, holds its locks)",
    "precommitted": "pre-committed (3PC)",
    "committed": "committed",
    "aborted": "aborted",
}
PROTOCOL_COLORS = {"2PC": "#1565c0", "3PC": "#8e24aa"}
STEP_LABELS = {
    "before_prepare": "before phase 1",
    "after_some_prepares": "after 1 of the\nphase-1 messages",
    "after_votes": "after all votes,\nnothing logged",
    "decision_logged": "decision logged (3PC:\npre-commit), not sent",
    "mid_phase2": "phase 2 sent\nto p1 only",
    "mid_phase3": "DoCommit sent\nto p1 only (3PC)",
}


def node_is_coordinator(node: str) -> bool:
    """Coordinators are named ``co`` or ``tm<i>`` in the chapter's clusters."""
    return node.startswith(("co", "tm"))


def _tids(h: History) -> list[str]:
    return sorted({e.data["tid"] for e in h.events if e.name in ("state", "begin")},
                  key=natural_key)


def state_segments(history: History, tid: str | None = None,
                   end_ms: float | None = None) -> list[dict[str, Any]]:
    """``[{node, state, start_ms, end_ms}]``: what each node knew about ``tid`` over time.

    Participants: ``waiting for locks`` (from a ``lock_wait`` event to the vote), then each logged
    state until the next (through crashes: the state is in the log); committed and aborted last
    until ``end_ms`` (default: the end of the run). Coordinators: ``collecting votes`` from
    ``begin`` until they decide or crash (that state is volatile), then the logged outcome.
    """
    check_type("history", history, History)
    tids = _tids(history)
    if tid is None:
        if not tids:
            return []
        tid = tids[0]
    end = run_end(history) if end_ms is None else float(end_ms)
    crashes: dict[str, list[float]] = {}
    for f in history.faults:
        if f.verb in ("crash", "restart"):
            crashes.setdefault(f.args["node"], []).append(f.time)
    marks: dict[str, list[tuple[float, str]]] = {}
    for e in history.events:
        if e.data.get("tid") != tid:
            continue
        if e.name == "state":
            marks.setdefault(e.node, []).append((e.time, e.data["state"]))
        elif e.name == "lock_wait":
            marks.setdefault(e.node, []).append((e.time, "waiting for locks"))
        elif e.name == "begin":
            marks.setdefault(e.node, []).append((e.time, "collecting votes"))
        elif e.name == "decide":
            marks.setdefault(e.node, []).append((e.time, e.data["outcome"]))
        elif e.name == "precommit":
            marks.setdefault(e.node, []).append((e.time, "precommitted"))
    segs = []
    for node, seq in marks.items():
        final_seen = False
        for i, (t, state) in enumerate(seq):
            if final_seen:
                break  # a decided node never changes its mind (conflicts are marked separately)
            stop = seq[i + 1][0] if i + 1 < len(seq) else end
            if state in ("committed", "aborted"):
                final_seen, stop = True, end
            elif state in ("collecting votes", "precommitted") and node_is_coordinator(node):
                # a coordinator's view of a running transaction is volatile: gone at a crash
                stop = min([stop] + [c for c in crashes.get(node, []) if c >= t])
            segs.append({"node": node, "state": state, "start_ms": t, "end_ms": stop})
    segs.sort(key=lambda s: (natural_key(s["node"]), s["start_ms"]))
    return segs


def plot_states(
    history: History,
    tid: str | None = None,
    ax: Any = None,
    *,
    title: str | None = None,
    t1: float | None = None,
    label_doubt: bool = True,
):
    """A state timeline of transaction ``tid`` (default: the first): one row per node, coloured
    by :data:`STATE_COLORS`; crashes (grey) and partitions (red band on the minority side) shaded.
    Markers: a cross where a participant found every peer in doubt (2PC blocked), a star where a
    3PC participant became backup coordinator, a red X where a decision arrived that contradicts the
    participant's (a split discovered too late). ``t1``: the right end of the time axis (ms)."""
    check_type("history", history, History)
    end = run_end(history) if t1 is None else float(t1)
    segs = state_segments(history, tid, end)
    nodes = sorted({s["node"] for s in segs} | {
        f.args["node"] for f in history.faults if f.verb in ("crash", "restart")
    }, key=lambda n: (not node_is_coordinator(n), natural_key(n)))
    y = {n: i for i, n in enumerate(nodes)}
    fig, ax = new_axes(title or f"What each node knows about {tid or (_tids(history) or ['-'])[0]}",
                       seed=history.seed, xlabel="time (ms, true simulated time)", ylabel="node",
                       ax=ax, figsize=(9.5, max(2.4, 0.55 * len(nodes) + 1.4)))
    ax.grid(False, axis="y")
    ax.set_xlim(0.0, max(end, 1.0) * 1.02)
    spans = [s for s in fault_spans(history, end=end) if s.start <= end]
    lines = shade_faults(ax, spans, y, height=0.8, zorder=2.5)
    seen: list[str] = []
    for s in segs:
        if s["start_ms"] > end:
            continue
        colour = STATE_COLORS.get(s["state"], "#9e9e9e")
        width = min(s["end_ms"], end) - s["start_ms"]
        ax.add_patch(Rectangle((s["start_ms"], y[s["node"]] - 0.3), width, 0.6, facecolor=colour,
                               edgecolor="white", lw=0.5, zorder=2, gid=f"state:{s['state']}"))
        if s["state"] not in seen:
            seen.append(s["state"])
        if label_doubt and s["state"] in ("prepared", "precommitted") and width > 0.12 * end:
            ax.text(s["start_ms"] + width / 2, y[s["node"]], f"{width:.0f} ms",
                    ha="center", va="center", fontsize=7.5, zorder=3, clip_on=True)
    marks = {"all_uncertain": ("x", "#212121", "every peer in doubt (blocked)"),
             "backup": ("*", "#4a148c", "elected backup coordinator"),
             "conflict": ("X", "#b71c1c", "contradicting decision arrives")}
    wanted = tid if tid is not None else (_tids(history) or [None])[0]
    handles_m = []
    for name, (marker, colour, label) in marks.items():
        pts = [(e.time, y[e.node]) for e in history.events
               if e.name == name and e.data.get("tid") == wanted and e.node in y and e.time <= end]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.scatter(xs, ys, marker=marker, s=70, color=colour, zorder=4,
                       edgecolors="white" if marker != "x" else None, linewidths=0.6)
            handles_m.append(Line2D([], [], marker=marker, color=colour, ls="", ms=8,
                                    label=label))
    ax.set_yticks(range(len(nodes)), nodes)
    ax.set_ylim(len(nodes) - 0.5, -0.5 - 0.35 * lines)
    order = [k for k in STATE_COLORS if k in seen]
    handles: list[Any] = [Patch(facecolor=STATE_COLORS[k], label=STATE_LABELS[k]) for k in order]
    handles += handles_m + span_legend_handles(spans)
    legend_outside(ax, handles, title="state")
    return fig


def plot_state_panels(histories: Mapping[str, History], tid: str | None = None, *,
                      t1: float | None = None):
    """One :func:`plot_states` panel per ``{label: history}``, stacked, on one time axis."""
    check_type("histories", histories, Mapping)
    if not histories:
        raise ValueError("histories={} is empty; pass at least one {label: history}")
    hs = list(histories.values())
    end = t1 if t1 is not None else max(run_end(h) for h in hs)
    rows = [len({s["node"] for s in state_segments(h, tid)}) for h in hs]
    fig, axes = plt.subplots(len(hs), 1, figsize=(10.5, sum(0.55 * r + 1.3 for r in rows)),
                             layout="constrained", sharex=True, squeeze=False,
                             height_ratios=[r + 2 for r in rows])
    for ax, (label, h) in zip(axes[:, 0], histories.items(), strict=True):
        plot_states(h, tid, ax=ax, title=label, t1=end)
        if ax is not axes[-1, 0]:
            ax.set_xlabel("")
    return fig


def plot_happy_paths(histories: Mapping[str, History], tid: str = "t0"):
    """Space-time diagrams of transaction ``tid`` under each protocol (``{protocol: history}`` of
    :func:`~dslab.commit.experiments.compare_happy_paths`), from the client's request until the
    last acknowledgement."""
    check_type("histories", histories, Mapping)
    fig, axes = plt.subplots(len(histories), 1, figsize=(10.5, 3.6 * len(histories)),
                             layout="constrained", squeeze=False, sharex=True)
    windows = {}
    for protocol, h in histories.items():
        inv = next(o for o in h.ops if o.value == tid and o.type == "invoke")
        done = next(e.time for e in h.events if e.name == "done" and e.data["tid"] == tid)
        windows[protocol] = (inv.time, done)
    t1 = max(d - i for i, d in windows.values())
    for ax, (protocol, h) in zip(axes[:, 0], histories.items(), strict=True):
        start = windows[protocol][0]
        answer = next(o.time for o in h.ops if o.value == tid and o.type != "invoke")
        spacetime(h, t0=start, t1=start + t1 + 0.3, ax=ax, labels=True,
                  title=f"{protocol.upper()}: one transaction, client answered after "
                        f"{answer - start:.1f} ms")
        ax.axvline(answer, color="#424242", ls=":", lw=1)
        ax.text(answer, 1.0, " client has its answer", transform=ax.get_xaxis_transform(),
                fontsize=7.5, va="top", color="#424242")
        if ax is not axes[-1, 0]:
            ax.set_xlabel("")
    return fig


def plot_crash_matrix(summary: pd.DataFrame, restart_ms: float | None = None):
    """Longest time a participant stayed in doubt (ms), per crash step, 2PC beside 3PC (a
    :func:`~dslab.commit.experiments.crash_summary` frame); each bar says the outcome."""
    check_type("summary", summary, pd.DataFrame)
    steps = list(dict.fromkeys(summary["step"]))
    protocols = list(dict.fromkeys(summary["protocol"]))
    fig, ax = new_axes("The coordinator crashes: how long participants stay in doubt",
                       seed=summary.attrs.get("seed"),
                       xlabel="longest time a participant held its locks in doubt (ms)",
                       ylabel="where the coordinator crashed", figsize=(9.5, 5.2))
    ax.grid(False, axis="y")
    h = 0.8 / len(protocols)
    top = float(summary["max_in_doubt_ms"].max())
    for j, protocol in enumerate(protocols):
        sub = summary[summary["protocol"] == protocol].set_index("step")
        for i, step in enumerate(steps):
            if step not in sub.index:
                continue
            r = sub.loc[step]
            yy = i - 0.4 + h * (j + 0.5)
            ax.barh(yy, r["max_in_doubt_ms"], height=h * 0.9,
                    color=PROTOCOL_COLORS.get(protocol, "#757575"), zorder=2)
            text = r["outcome"] if r["outcome"] != "never heard of it" else "nobody prepared"
            if not r["atomic"]:
                text += "  (NOT atomic)"
            ax.text(r["max_in_doubt_ms"] + 0.01 * top, yy, f" {protocol}: {text}", va="center",
                    fontsize=8, zorder=3)
    if restart_ms is not None:
        ax.axvline(restart_ms, color="#424242", ls="--", lw=1, zorder=1)
        ax.text(restart_ms, -0.75, f" coordinator back up ({restart_ms:g} ms after its crash)",
                fontsize=8, va="bottom", color="#424242")
    ax.set_yticks(range(len(steps)), [STEP_LABELS.get(s, s) for s in steps], fontsize=8.5)
    ax.set_ylim(len(steps) - 0.5, -0.9)
    ax.set_xlim(0, top * 1.35)
    handles = [Patch(color=PROTOCOL_COLORS.get(p, "#757575"), label=p) for p in protocols]
    legend_outside(ax, handles, title="protocol")
    return fig


def plot_contention(sweep: pd.DataFrame):
    """Committed transactions per second, and participant-time blocked in doubt per second,
    against the coordinator failure rate (a :func:`~dslab.commit.experiments.contention_sweep`
    frame; lines: the mean over seeds, bands: min to max)."""
    check_type("sweep", sweep, pd.DataFrame)
    seeds = sorted(sweep["seed"].unique())
    seed_label = f"{seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else seeds[0]
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.2), layout="constrained")
    panels = (
        ("commits_per_s", "Throughput of conflicting transactions",
         "committed transactions per second"),
        ("blocked_ms_per_s", "Time participants sat blocked on their locks",
         "blocked in doubt (participant-ms per s)"),
    )
    for ax, (col, title, ylabel) in zip(axes, panels, strict=True):
        new_axes(title, seed=seed_label, xlabel="coordinator failures per second (whole pool)",
                 ylabel=ylabel, ax=ax)
        for protocol, g in sweep.groupby("protocol", sort=True):
            s = g.groupby("crash_rate_per_s")[col].agg(["mean", "min", "max"])
            colour = PROTOCOL_COLORS.get(protocol, "#757575")
            ax.plot(s.index, s["mean"], "o-", color=colour, label=protocol)
            ax.fill_between(s.index, s["min"], s["max"], color=colour, alpha=0.15, lw=0)
        ax.set_ylim(bottom=0)
        ax.legend(loc="best", title=f"mean of {len(seeds)} runs\n(band: min to max)",
                  title_fontsize=8)
    return fig


__all__ = [
    "PROTOCOL_COLORS",
    "STATE_COLORS",
    "plot_contention",
    "plot_crash_matrix",
    "plot_happy_paths",
    "plot_state_panels",
    "plot_states",
    "state_segments",
]
