"""Who was leader when: a band per node coloured by its role, with crashes and pauses.

The convention (every protocol core with roles follows it): whenever a node's role or term
changes, *and in* ``on_start`` (so a restarted node reports itself), the handler logs::

    ctx.log("role", role="follower", term=3)   # role: "follower" | "candidate" | "leader"

which the runtime records as a node event named ``"role"`` with data ``{"role": ..., "term": ...}``.
:func:`role_timeline` reads those events plus the ``crash`` / ``restart`` faults of the history: a
node is ``down`` (light grey) from its crash until its restart, and its role is unknown (blank)
from the restart until its first ``role`` event. Leader segments are labelled with their term
(``T3``); two leaders in the same term would be a bug, visible at a glance. Pauses are hatched.
Role bands carry ``gid="role:<role>"``.
"""

from __future__ import annotations

from typing import Any

from matplotlib.patches import Patch, Rectangle

from dslab.viz.spacetime import as_history
from dslab.viz.style import (
    ROLE_COLORS,
    empty_note,
    fault_spans,
    legend_outside,
    natural_key,
    new_axes,
    run_end,
    shade_faults,
    span_legend_handles,
)

ROLE_EVENT = "role"
UNKNOWN_ROLE_COLOR = "#bdbdbd"


def role_segments(history: Any) -> list[dict[str, Any]]:
    """``[{node, role, term, start_ms, end_ms}]``: each node's roles over time, ``down`` too."""
    h = as_history(history, "event")
    end = run_end(h)
    # (time, order, node, what, data): at equal times faults come before events, in record order
    items: list[tuple[float, int, int, str, str, Any]] = []
    for i, f in enumerate(h.faults):
        if f.verb in ("crash", "restart") and isinstance(f.args.get("node"), str):
            items.append((f.time, 0, i, f.args["node"], f.verb, None))
    for i, e in enumerate(h.events):
        if e.name == ROLE_EVENT:
            items.append((e.time, 1, i, e.node, "role", e.data))
    items.sort(key=lambda it: it[:3])
    current: dict[str, tuple[str, Any, float] | None] = {}
    out: list[dict[str, Any]] = []

    def close(node: str, t: float) -> None:
        cur = current.get(node)
        if cur is not None:
            role, term, start = cur
            out.append({"node": node, "role": role, "term": term, "start_ms": start, "end_ms": t})
        current[node] = None

    for t, _, _, node, what, data in items:
        if what == "crash":
            if current.get(node) is not None and current[node][0] == "down":
                continue
            close(node, t)
            current[node] = ("down", None, t)
        elif what == "restart":
            close(node, t)
        else:
            if current.get(node) is not None and current[node][0] == "down":
                continue  # a dead node says nothing; ignore a stray event
            close(node, t)
            current[node] = (str(data.get("role")), data.get("term"), t)
    for node in list(current):
        close(node, end)
    out.sort(key=lambda s: (natural_key(s["node"]), s["start_ms"]))
    return out


def role_timeline(history: Any, ax: Any = None, *, title: str = "Roles over time"):
    """Draw each node's role over time from ``role`` events and crash faults; return the Figure."""
    h = as_history(history, "event")
    segs = role_segments(h)
    nodes = sorted({s["node"] for s in segs}, key=natural_key)
    y = {n: i for i, n in enumerate(nodes)}
    end = run_end(h)
    height = max(2.2, 0.5 * len(nodes) + 1.5)
    fig, ax = new_axes(title, seed=h.seed, xlabel="time (ms, true simulated time)", ylabel="node",
                       ax=ax, figsize=(9.0, height))
    ax.grid(False, axis="y")
    if not nodes:
        empty_note(ax, "no role events in this history")
        ax.set_xlim(0.0, max(end, 1.0))
        return fig
    span = max(end, 1e-9)
    seen: list[str] = []
    for s in segs:
        role = s["role"]
        colour = ROLE_COLORS.get(role, UNKNOWN_ROLE_COLOR)
        width = s["end_ms"] - s["start_ms"]
        ax.add_patch(Rectangle(
            (s["start_ms"], y[s["node"]] - 0.35), width, 0.7, facecolor=colour,
            edgecolor="white", lw=0.6, gid=f"role:{role}", zorder=2,
        ))
        if role not in seen:
            seen.append(role)
        if role == "leader" and s["term"] is not None and width >= 0.012 * span:
            ax.text(s["start_ms"] + width / 2, y[s["node"]], f"T{s['term']}", ha="center",
                    va="center", fontsize=7.5, color="white", fontweight="bold", zorder=3,
                    clip_on=True)
    ax.set_xlim(0.0, max(end, 1.0))
    pauses = [p for p in fault_spans(h, end=end) if p.kind == "pause"]
    shade_faults(ax, pauses, y, height=0.7, annotate=False, zorder=2.5)
    ax.set_yticks(range(len(nodes)), nodes)
    ax.set_ylim(len(nodes) - 0.5, -0.5)
    order = [r for r in ROLE_COLORS if r in seen] + sorted(r for r in seen if r not in ROLE_COLORS)
    handles: list[Any] = [
        Patch(facecolor=ROLE_COLORS.get(r, UNKNOWN_ROLE_COLOR), label=r) for r in order
    ]
    handles += span_legend_handles(pauses)
    legend_outside(ax, handles, title="role (T = term)")
    return fig
