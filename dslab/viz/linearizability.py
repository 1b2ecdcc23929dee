"""The picture of a linearizability violation: the operations around the one that cannot fit."""

from __future__ import annotations

from typing import Any

from matplotlib.patches import Patch

from dslab.viz.style import OUTCOME_COLORS, new_axes

#: Colour of the outline around the operation that cannot be linearized.
FAIL_EDGE = "#d50000"


def _label(rec: dict, kv: bool) -> str:
    """``r 3``, ``w 3``, ``cas 1→2`` (for kv the key is in the title, not on every bar)."""
    f, v = rec["f"], rec["value"]
    if kv and isinstance(v, (list, tuple)) and len(v) == 2:
        v = v[1]
    if f == "read":
        return f"r {v!r}"
    if f == "write":
        return f"w {v!r}"
    if f == "cas" and isinstance(v, (list, tuple)) and len(v) == 2:
        return f"cas {v[0]!r}\u2192{v[1]!r}"
    return f"{f} {v!r}"


def _open_ended(rec: dict) -> bool:
    return rec["time"] is None or rec["type"] in ("info", "invoke")


def _processes(window: list[dict]) -> list[Any]:
    procs: list[Any] = []
    for rec in window:
        if rec["process"] not in procs:
            procs.append(rec["process"])
    try:
        return sorted(procs)
    except TypeError:  # mixed kinds of process names: keep first-appearance order
        return procs


def _lanes(window: list[dict], procs: list[Any]) -> tuple[list[int], list[tuple[Any, int]]]:
    """Give each op a lane (a y position): one row per process, split into lanes where the
    process's ops overlap on screen (an indefinite op keeps its lane to the right edge)."""
    busy: dict[Any, list[float]] = {p: [] for p in procs}  # per process: each lane's end time
    lane_of = [0] * len(window)
    for i in sorted(range(len(window)), key=lambda i: window[i]["invoke_time"]):
        rec = window[i]
        ends = busy[rec["process"]]
        end = float("inf") if _open_ended(rec) else rec["time"]
        for k, e in enumerate(ends):
            if e <= rec["invoke_time"]:
                ends[k] = end
                lane_of[i] = k
                break
        else:
            lane_of[i] = len(ends)
            ends.append(end)
    rows = [(p, k) for p in procs for k in range(max(1, len(busy[p])))]
    index = {r: y for y, r in enumerate(rows)}
    return [index[(rec["process"], lane_of[i])] for i, rec in enumerate(window)], rows


def plot_linearizability(result: Any, ax: Any = None) -> Any:
    """Draw ``result.window`` (a :class:`dslab.check.LinearizabilityResult`) as a timeline.

    One row per process (split into lanes where its ops overlap); each operation is a bar from its
    invocation to its completion, coloured by outcome and labelled with ``f`` and its value. An
    indefinite operation (``info``, or never completed) is hatched until the client gave up and
    then fades out to the right edge, because it may take effect at any later time; one invoked
    before the window starts is cut at the left edge and its label starts with an arrow. The
    operation that cannot be linearized is outlined in red. Returns the figure.
    """
    window = list(getattr(result, "window", None) or [])
    if result.valid is False:
        where = f", key {result.key!r}" if result.key is not None else ""
        title = f"Not linearizable ({result.model}{where})"
    elif result.valid is None:
        title = f"Linearizability unknown ({result.model}): timed out"
    else:
        title = f"Linearizable ({result.model})"
    procs = _processes(window)
    ys, rows = _lanes(window, procs)
    fig, ax = new_axes(
        title,
        seed=getattr(result, "seed", None),
        xlabel="time (ms)",
        ylabel="process",
        ax=ax,
        figsize=(8.0, max(2.5, 0.45 * len(rows) + 1.3)),
    )
    if not window:
        ax.text(
            0.5, 0.5, "no failing window to show", ha="center", va="center", transform=ax.transAxes
        )
        ax.set_yticks([])
        return fig
    closed = [rec for rec in window if not _open_ended(rec)]
    lo = min(rec["invoke_time"] for rec in (closed or window))
    hi = max([rec["time"] for rec in window if rec["time"] is not None] + [lo])
    span = max(hi - lo, 1e-9)
    left, right = lo - 0.05 * span, hi + 0.2 * span
    kv = result.model == "kv"
    failing = result.op
    height = 0.6
    for rec, y in zip(window, ys, strict=True):
        start = max(rec["invoke_time"], left)
        color = OUTCOME_COLORS.get(rec["type"], OUTCOME_COLORS["invoke"])
        is_fail = failing is not None and (
            rec.get("invoke_index") == failing.get("invoke_index")
            and rec["process"] == failing["process"]
        )
        if _open_ended(rec):
            # Hatched until the client gave up, then fading out: it may take effect any time later.
            gave_up = start if rec["time"] is None else min(max(rec["time"], start), right)
            if gave_up > start:
                ax.barh(y, gave_up - start, left=start, height=height, color=color, alpha=0.6,
                        hatch="//", edgecolor="white", linewidth=0)  # fmt: skip
            steps = 8
            width = (right - gave_up) / steps
            for k in range(steps):
                ax.barh(y, width, left=gave_up + k * width, height=height, color=color,
                        alpha=0.45 * (1 - k / steps), hatch="//", edgecolor="white",
                        linewidth=0)  # fmt: skip
        else:
            ax.barh(y, max(rec["time"] - start, span * 0.005), left=start, height=height,
                    color=color, alpha=0.9, edgecolor=FAIL_EDGE if is_fail else "none",
                    linewidth=2.5 if is_fail else 0)  # fmt: skip
        label = _label(rec, kv)
        if rec["invoke_time"] < left:
            label = "\u2190 " + label  # invoked before the window starts
        on_dark_bar = rec["type"] in ("ok", "fail")  # solid green / red: white text reads best
        ax.text(start + 0.01 * span, y, label, va="center", ha="left", fontsize=8,
                color="white" if on_dark_bar else "black",
                fontweight="bold" if is_fail else "normal", clip_on=True)  # fmt: skip
    ticks = [y for y, (_, lane) in enumerate(rows) if lane == 0]
    for y in ticks[1:]:
        ax.axhline(y - 0.5, color="0.8", linewidth=0.8)  # between processes
    ax.set_yticks(ticks)
    ax.set_yticklabels([str(p) for p, lane in rows if lane == 0])
    ax.set_ylim(len(rows) - 0.4, -0.6)
    ax.set_xlim(left, right)
    handles = [
        Patch(color=OUTCOME_COLORS["ok"], label="ok"),
        Patch(
            facecolor=OUTCOME_COLORS["info"],
            hatch="//",
            edgecolor="white",
            label="info / never completed:\nmay take effect later",
        ),  # fmt: skip
    ]
    if failing is not None:
        handles.append(Patch(facecolor="none", edgecolor=FAIL_EDGE, linewidth=2.5,
                             label="cannot be linearized"))  # fmt: skip
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig
