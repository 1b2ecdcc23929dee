"""A timeline of client operations: what each process invoked, and when it learned the outcome.

One row per client process; each operation is a bar from its invocation to its completion,
coloured by outcome (:data:`~dslab.viz.style.OUTCOME_COLORS`): ``ok`` (it happened), ``fail`` (it
definitely did not) and ``info`` (indefinite). An ``info`` operation, or one that never completed,
is drawn faded and open-ended to the end of the run, because it may take effect at any moment
after its invocation. With few operations each bar is labelled with ``f`` and the value (the value
read for a read, the value written for a write). Faults are shaded over the whole height, as in
every history plot. Bars carry ``gid="op"``.
"""

from __future__ import annotations

from typing import Any

from matplotlib.patches import Patch, Rectangle

from dslab._validate import check_number
from dslab.history import History
from dslab.viz.spacetime import as_history
from dslab.viz.style import (
    OUTCOME_COLORS,
    char_width,
    empty_note,
    fault_spans,
    legend_outside,
    natural_key,
    new_axes,
    pick_rows,
    run_end,
    shade_faults,
    span_legend_handles,
)

OPS_FRAME_COLUMNS = ("process", "f", "invoke_value", "type", "value", "start_ms", "end_ms")


def _short(v: Any) -> str:
    s = "None" if v is None else repr(v)
    return s if len(s) <= 12 else s[:11] + "…"


def op_label(f: str, invoke_value: Any, type_: str, value: Any) -> str:
    """``read 3``, ``write 3``, ``cas [1, 2]``; ``read ?`` for a read whose result is unknown."""
    if f == "read":
        return f"read {_short(value)}" if type_ == "ok" else "read ?"
    return f"{f} {_short(invoke_value)}"


def _rows(data: Any) -> tuple[list[dict[str, Any]], History | None, Any]:
    """Operation rows (the columns of :meth:`History.ops_frame`), the history, and the seed."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    is_frame = pd is not None and isinstance(data, pd.DataFrame)
    if is_frame and set(OPS_FRAME_COLUMNS) <= set(data.columns):
        rows = []
        for rec in data.to_dict("records"):
            rec = {k: None if isinstance(v, float) and v != v else v for k, v in rec.items()}
            rows.append({**rec, "end_ms": None if rec["end_ms"] is None else float(rec["end_ms"])})
        return rows, None, data.attrs.get("seed")
    h = as_history(data, "op")
    rows = []
    for inv, comp in h.pairs():
        rows.append({
            "process": inv.process, "f": inv.f, "invoke_value": inv.value,
            "type": comp.type if comp else "info", "value": comp.value if comp else None,
            "start_ms": inv.time, "end_ms": comp.time if comp else None,
        })
    return rows, h, h.seed


def history_timeline(
    history: Any,
    ax: Any = None,
    processes: list[Any] | None = None,
    *,
    max_labels: int = 60,
    title: str = "Client operations",
):
    """Draw ``history``'s client operations per process; return the Figure.

    ``history``: a History, or the DataFrame of :meth:`History.ops_frame` (``attrs["seed"]`` is
    the seed). ``processes``: which rows to draw, top to bottom (default: every process, in natural
    order). Bars are labelled when there are at most ``max_labels`` operations.
    """
    rows, h, seed = _rows(history)
    check_number("max_labels", max_labels, min=0, integer=True)
    known = sorted({r["process"] for r in rows}, key=natural_key)
    procs = pick_rows("processes", processes, known, "has no operation in this history")
    y = {p: i for i, p in enumerate(procs)}
    rows = [r for r in rows if r["process"] in y]

    # the run's end, where open-ended (info) operations stop; the plot stops at the last operation
    # or fault when every operation completed
    end = run_end(h) if h is not None else 0.0
    last = 0.0
    for r in rows:
        last = max(last, r["start_ms"], r["end_ms"] if r["end_ms"] is not None else 0.0)
    end = max(end, last)
    if h is not None:
        last = max([last] + [f.time for f in h.faults])
    if any(r["type"] not in ("ok", "fail") or r["end_ms"] is None for r in rows):
        last = end
    height = max(2.2, 0.5 * len(procs) + 1.5)
    fig, ax = new_axes(title, seed=seed, xlabel="time (ms, true simulated time)",
                       ylabel="client process", ax=ax, figsize=(6.8, height))
    ax.grid(False, axis="y")
    spans = fault_spans(h, end=end) if h is not None else []
    ax.set_xlim(0.0, max(last, 1.0) * 1.01)
    lines = shade_faults(ax, spans)
    if not procs:
        empty_note(ax, "no client operations in this history")
        return fig

    label = len(rows) <= max_labels
    # Labels start at their bar; one that would run into the previous label of its row moves
    # above the bar (below it, it would meet the labels above the next row), and one that finds
    # no room at all is left out (the plot says how many).
    char = char_width(ax, 7.5)
    label_end = 0.0
    free: dict[tuple[Any, int], float] = {}
    seen: set[str] = set()
    hidden = 0
    for r in rows:
        t = r["type"]
        indefinite = t not in ("ok", "fail")
        stop = end if indefinite or r["end_ms"] is None else r["end_ms"]
        width = max(stop - r["start_ms"], 0.0)
        colour = OUTCOME_COLORS["info" if indefinite else t]
        ax.add_patch(Rectangle(
            (r["start_ms"], y[r["process"]] - 0.3), width, 0.6, gid="op", zorder=2,
            facecolor=colour, alpha=0.12 if indefinite else 0.35, edgecolor="none",
        ))
        ax.add_patch(Rectangle(
            (r["start_ms"], y[r["process"]] - 0.3), width, 0.6, zorder=2.1, facecolor="none",
            edgecolor=colour, lw=1.2, ls="--" if indefinite else "-",
        ))
        seen.add("info" if indefinite else t)
        if label:
            text = op_label(r["f"], r["invoke_value"], t, r["value"])
            x0, x1 = r["start_ms"], r["start_ms"] + (len(text) + 1) * char
            level = next((lv for lv in (0, -1) if free.get((r["process"], lv), -1e300) <= x0),
                         None)
            if level is None:  # every slot of this row is taken here: no label, no overlap
                hidden += 1
                continue
            free[(r["process"], level)] = x1
            label_end = max(label_end, x1)
            ax.text(x0, y[r["process"]] + 0.3 * level, " " + text, ha="left",
                    va={0: "center", -1: "bottom", 1: "top"}[level], fontsize=7.5, zorder=3,
                    clip_on=True)
    if label_end > ax.get_xlim()[1]:
        ax.set_xlim(0.0, label_end)  # no label cut off at the right edge
    ax.set_yticks(range(len(procs)), [str(p) for p in procs])
    ax.set_ylim(len(procs) - 0.4, -0.8 - 0.45 * lines)  # room for labels above the first row

    names = {"ok": "ok (happened)", "fail": "fail (did not happen)", "info": "info (indefinite)"}
    handles: list[Any] = [
        Patch(facecolor=OUTCOME_COLORS[k], alpha=0.35 if k != "info" else 0.15,
              edgecolor=OUTCOME_COLORS[k], ls="--" if k == "info" else "-", label=names[k])
        for k in ("ok", "fail", "info") if k in seen
    ]
    handles += span_legend_handles(spans, per_row=False)
    legend = legend_outside(ax, handles, title="outcome")
    if hidden and legend is not None:
        ax.annotate(f"{hidden} labels left out\n(they would overlap)", xy=(1.01, 0.0),
                    xycoords="axes fraction", fontsize=7.5, color="#616161", va="bottom")
    return fig
