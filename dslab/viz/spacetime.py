"""Lamport space-time diagrams of a run's message journal.

One horizontal line per node (true simulated time on the x axis, in ms), one arrow per delivered
message from ``(send_time, src)`` to ``(recv_time, dst)``, in the colour of its type. A dropped
message is a short red line that stops short of its destination and ends in an ``x``; a message
still in flight when the run ended is a dotted stub. Faults are shaded as in every history plot
(:func:`dslab.viz.style.fault_spans`): partitions as a band over the minority side, crashes as a
grey span until the node restarts, pauses hatched.

Artists carry a ``gid`` (``"message"``, ``"dropped"``, ``"in_flight"``, ``"fault:<kind>"``) so tests
and readers can count what was drawn.
"""

from __future__ import annotations

import statistics
from typing import Any

from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch

from dslab._validate import check_number, check_type
from dslab.history import History, MessageRecord
from dslab.viz.style import (
    DROP_COLOR,
    MESSAGE_PALETTE,
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

MESSAGE_COLUMNS = ("src", "dst", "type", "send_time", "recv_time", "status")
_PLAIN_BODIES = {"int", "float", "str", "bool", "list", "tuple", "dict", "bytes", "NoneType"}


def display_type(mtype: str) -> str:
    """The name a message type gets in the legend: ``Request:Write`` stays, but a reply whose body
    is a plain value (``Response:int``) is just a ``Response``."""
    head, _, body = mtype.partition(":")
    return head if head == "Response" and body in _PLAIN_BODIES else mtype


def as_history(data: Any, kind: str, name: str = "history") -> History:
    """``data`` as a :class:`History`: a History, or a DataFrame / list of records.

    Records are those of :meth:`History.to_records`; a record without a ``kind`` column is taken to
    be of ``kind`` (``"message"``, ``"op"`` or ``"event"``). A DataFrame's ``attrs["seed"]`` becomes
    the history's seed.
    """
    if isinstance(data, History):
        return data
    seed = None
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        seed = data.attrs.get("seed")
        records = [
            {k: (None if _isnan(v) else v) for k, v in rec.items()}
            for rec in data.to_dict("records")
        ]
    elif isinstance(data, (list, tuple)):
        records = list(data)
    else:
        raise TypeError(
            f"{name}={data!r} has type {type(data).__name__}; expected a dslab History, a pandas "
            "DataFrame or a list of records"
        )
    fixed = []
    for rec in records:
        if isinstance(rec, dict) and "kind" not in rec:
            rec = {"kind": kind, **rec}
        if isinstance(rec, dict) and rec.get("kind") == "message":
            rec = {"reason": None, "duplicate": False, "size": 0, "id": len(fixed), **rec}
        fixed.append(rec)
    return History.from_records(fixed, seed=seed)


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and v != v


def endpoints(history: History) -> list[str]:
    """Server nodes (natural order), then clients: every endpoint that appears in ``history``."""
    clients = {str(op.process) for op in history.ops}
    names: set[str] = set()
    for m in history.messages:
        names.update((m.src, m.dst))
    names.update(e.node for e in history.events)
    for f in history.faults:
        for key in ("node", "a", "b", "bridge"):
            if isinstance(f.args.get(key), str):
                names.add(f.args[key])
        for key in ("groups",):
            for g in f.args.get(key, []):
                names.update(g)
    servers = sorted((n for n in names if n not in clients), key=natural_key)
    return servers + sorted((n for n in names if n in clients), key=natural_key)


def spacetime(
    history: Any,
    nodes: list[str] | None = None,
    t0: float | None = None,
    t1: float | None = None,
    max_messages: int | None = 400,
    ax: Any = None,
    *,
    labels: bool = False,
    title: str = "Space-time diagram",
):
    """Draw a Lamport space-time diagram of ``history``'s message journal; return the Figure.

    ``nodes``: which endpoints to draw, top to bottom (default: every server node in natural
    order, then the clients); only messages between two drawn endpoints appear. ``t0``/``t1``:
    the time window in ms (default: the whole run). ``max_messages``: draw at most this many (the
    earliest sent) and say so on the figure; ``None`` draws all. ``labels``: write each message's
    type beside its arrow (readable for a few dozen messages).
    """
    h = as_history(history, "message")
    if max_messages is not None:
        check_number("max_messages", max_messages, min=1, integer=True)
    check_type("labels", labels, bool)
    end = run_end(h)
    lo = 0.0 if t0 is None else check_number("t0", t0)
    hi = end if t1 is None else check_number("t1", t1)
    if hi < lo:
        raise ValueError(f"t1={t1!r} is before t0={lo!r}; pass a window with t0 <= t1")
    known = endpoints(h)
    rows = pick_rows("nodes", nodes, known, "does not appear in this history")
    y = {n: i for i, n in enumerate(rows)}

    def visible(m: MessageRecord) -> bool:
        stop = m.recv_time if m.recv_time is not None else m.send_time
        return m.src in y and m.dst in y and m.send_time <= hi and stop >= lo

    msgs = sorted((m for m in h.messages if visible(m)), key=lambda m: (m.send_time, m.id))
    total = len(msgs)
    truncated = max_messages is not None and total > max_messages
    if truncated:
        msgs = msgs[:max_messages]
        hi = msgs[-1].send_time

    height = max(2.2, 0.55 * len(rows) + 1.4)
    fig, ax = new_axes(title, seed=h.seed, xlabel="time (ms, true simulated time)",
                       ylabel="node", ax=ax, figsize=(9.0, height))
    ax.grid(False, axis="y")
    if not rows:
        empty_note(ax, "no messages in this history")
        ax.set_xlim(lo, max(hi, lo + 1.0))
        return fig

    ax.hlines(range(len(rows)), lo, max(hi, lo + 1e-9), color="#424242", lw=1.0, zorder=1)
    pad = 0.015 * (hi - lo)  # room for a label at the very first arrow
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlim(lo - pad, hi if hi > lo else lo + 1.0)
    spans = [s for s in fault_spans(h, end=end) if s.end >= lo and s.start <= hi]
    lines = shade_faults(ax, spans, y)
    # room above the first row for the lines of span labels
    ax.set_ylim(len(rows) - 0.5, -0.5 - 0.35 * lines)

    delivered = [m.recv_time - m.send_time for m in msgs if m.status == "delivered"]
    typical = statistics.median(delivered) if delivered else max(hi - lo, 1.0) / 50
    types = sorted({display_type(m.type) for m in msgs if m.status == "delivered"})
    colour = {t: MESSAGE_PALETTE[min(i, len(MESSAGE_PALETTE) - 1)] for i, t in enumerate(types)}
    kinds: set[str] = set()
    for m in msgs:
        y0, y1 = y[m.src], y[m.dst]
        if m.status == "delivered":
            c = colour[display_type(m.type)]
            ax.add_patch(FancyArrowPatch(
                (m.send_time, y0), (m.recv_time, y1), arrowstyle="-|>", mutation_scale=9,
                lw=0.9, color=c, shrinkA=0, shrinkB=0, gid="message", zorder=3,
            ))
            # a third of the way along: a request's and its reply's labels do not collide
            x_mid = m.send_time + (m.recv_time - m.send_time) / 3
            y_mid = y0 + (y1 - y0) / 3
        else:
            # stop part of the way: at the drop (if it happened on arrival) or a stub
            dt = (m.recv_time - m.send_time) if m.recv_time is not None else typical
            x1, yy = m.send_time + 0.45 * dt, y0 + 0.45 * (y1 - y0)
            if m.status == "dropped":
                c = DROP_COLOR
                ax.add_line(Line2D([m.send_time, x1], [y0, yy], color=c, lw=0.9, gid="dropped",
                                   zorder=3))
                ax.plot([x1], [yy], marker="x", color=c, ms=5, mew=1.3, zorder=4)
                kinds.add("dropped")
            else:
                c = "#757575"
                ax.add_line(Line2D([m.send_time, x1], [y0, yy], color=c, lw=0.9, ls=":",
                                   gid="in_flight", zorder=3))
                kinds.add("in_flight")
            x_mid, y_mid = x1, yy
        if labels:
            ax.text(x_mid, y_mid, display_type(m.type), fontsize=6.5, color=c, ha="center",
                    va="center", zorder=5, clip_on=True,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.75})

    if total == 0:
        empty_note(ax, "no messages in this window")
    if truncated:
        ax.text(0.995, 0.01, f"first {len(msgs)} of {total} messages shown (to t={hi:g} ms); "
                "pass t0/t1 to zoom", transform=ax.transAxes, ha="right", va="bottom",
                fontsize=7, color="#616161")

    handles: list[Any] = [
        Line2D([], [], color=colour[t], lw=1.2, marker=">", ms=4, label=t) for t in types
    ]
    if "dropped" in kinds:
        handles.append(Line2D([], [], color=DROP_COLOR, lw=0.9, marker="x", ms=5, label="dropped"))
    if "in_flight" in kinds:
        handles.append(Line2D([], [], color="#757575", lw=0.9, ls=":", label="in flight at end"))
    handles += span_legend_handles(spans)
    legend_outside(ax, handles, title="messages" if types else None)
    return fig
