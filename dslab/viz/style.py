"""One consistent look for every figure in the book, and the helpers history figures share.

Rules every plot in :mod:`dslab.viz` follows:

- Each function takes a :class:`~dslab.history.History` (or a pandas DataFrame), an optional
  matplotlib ``ax`` to draw into, and returns the :class:`~matplotlib.figure.Figure`.
- Axes are labelled with units (time is true simulated time, in ms), and the title ends with the
  seed that reproduces the figure (:func:`title_with_seed`), via :func:`new_axes`.
- Colours mean the same thing everywhere: :data:`OUTCOME_COLORS` for Jepsen outcomes,
  :data:`ROLE_COLORS` for Raft-like roles, :data:`FAULT_COLOR` / :data:`CRASH_COLOR` /
  :data:`PAUSE_COLOR` for the faults of :func:`fault_spans`, :data:`DROP_COLOR` for lost messages.
- Legends sit outside the plotting area (:func:`legend_outside`) so they never hide data.
- In a notebook, figures are embedded by :func:`book_png`: sized for the book's text column
  (:data:`COLUMN_PX` CSS pixels; a wider figure is re-laid out narrower, and only then scaled) and
  drawn at :data:`PIXEL_RATIO` pixels per CSS pixel, so they stay sharp on high-DPI screens and
  can be enlarged with a click in the book.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import blended_transform_factory

#: Colours of op outcomes, shared by every history plot.
OUTCOME_COLORS = {"ok": "#2e7d32", "fail": "#c62828", "info": "#f9a825", "invoke": "#9e9e9e"}
#: Colours of Raft-like roles.
ROLE_COLORS = {
    "follower": "#90a4ae",
    "candidate": "#ffb300",
    "leader": "#1e88e5",
    "down": "#e0e0e0",
}
#: Shade of a network fault interval (partition, isolation, cut link, bridge).
FAULT_COLOR = "#ef9a9a"
#: Shade of a crashed node (from ``crash`` until ``restart``).
CRASH_COLOR = "#9e9e9e"
#: Hatch colour of a paused node (a GC-like stop of the world).
PAUSE_COLOR = "#6d4c41"
#: Colour of a dropped message (a short line ending in an x).
DROP_COLOR = "#d32f2f"
#: Colours of message types in space-time diagrams (no red: red means dropped).
MESSAGE_PALETTE = (
    "#1f77b4",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#7f7f7f",
)

plt.rcParams.update(
    {
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "font.size": 10,
        "axes.titlesize": 11,
        "legend.fontsize": 9,
        "legend.frameon": False,
    }
)


#: Width of the book's text column in CSS pixels (sphinx-book-theme, wide screen).
COLUMN_PX = 688
#: Resolution of figures at their displayed size, in dots per inch (``figure.dpi`` above).
LOGICAL_DPI = 100
#: Image pixels per displayed CSS pixel: 2 keeps lines and text sharp on high-DPI screens.
PIXEL_RATIO = 2
#: A figure wider than the column is first re-laid out at down to this fraction of its width
#: (its layout engine moves the axes, the text keeps its size); only what is still too wide then
#: is scaled down as a whole. Re-laying out further would crush multi-panel figures.
MIN_REFLOW = 0.7


def _display_width_px(fig: Figure, dpi: float) -> float:
    """Width of ``fig`` saved with ``bbox_inches="tight"`` (0.1 in padding each side) at ``dpi``."""
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    return (fig.get_tightbbox(renderer).width + 0.2) * dpi


def book_png(fig: Figure) -> tuple[bytes, dict[str, int]]:
    """``fig`` as a PNG for the book, with the width and height it should be displayed at.

    The display width is at most :data:`COLUMN_PX` CSS pixels, so the browser never shrinks the
    figure (and its text) further; the PNG has :data:`PIXEL_RATIO` times as many pixels. The
    figure's own size is restored afterwards.
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig={fig!r} must be a matplotlib Figure")
    size = fig.get_size_inches().copy()
    try:
        width = _display_width_px(fig, LOGICAL_DPI)
        if width > COLUMN_PX and fig.get_layout_engine() is not None:
            reflow = max(COLUMN_PX / width, MIN_REFLOW)
            fig.set_size_inches(size[0] * reflow, size[1], forward=False)
            width = _display_width_px(fig, LOGICAL_DPI)
        dpi = LOGICAL_DPI * min(1.0, COLUMN_PX / width)
        buf = BytesIO()
        fig.savefig(buf, format="png", dpi=dpi * PIXEL_RATIO, bbox_inches="tight")
    finally:
        fig.set_size_inches(size, forward=False)
    data = buf.getvalue()
    w, h = struct.unpack(">II", data[16:24])
    return data, {"width": round(w / PIXEL_RATIO), "height": round(h / PIXEL_RATIO)}


def _use_book_png() -> None:
    """In an IPython kernel with the inline backend, embed figures with :func:`book_png`."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of ipywidgets
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    # Importing the inline backend first lets it register its own formatter now, not later
    # over ours (it does so only once per kernel).
    import matplotlib_inline.backend_inline  # noqa: F401

    shell.display_formatter.formatters["image/png"].for_type(Figure, book_png)


_use_book_png()


def title_with_seed(title: str, seed: Any | None) -> str:
    """``title`` followed by the seed that reproduces the figure (omitted only when unknown)."""
    return f"{title}  (seed={seed})" if seed is not None else title


def new_axes(
    title: str,
    *,
    seed: Any | None,
    xlabel: str,
    ylabel: str,
    ax: Any | None = None,
    figsize: tuple[float, float] = (8.0, 4.0),
):
    """Return ``(fig, ax)`` styled for the book; draws into ``ax`` if one is given."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    else:
        fig = ax.figure
    ax.set_title(title_with_seed(title, seed))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig, ax


def legend_outside(ax: Any, handles: list[Any], **kwargs: Any) -> Any:
    """A legend to the right of the axes (nothing if there are no ``handles``)."""
    if not handles:
        return None
    kwargs.setdefault("loc", "upper left")
    kwargs.setdefault("bbox_to_anchor", (1.01, 1.0))
    kwargs.setdefault("borderaxespad", 0.0)
    return ax.legend(handles=handles, **kwargs)


def empty_note(ax: Any, text: str) -> None:
    """Write ``text`` in the middle of an axes that has nothing to show."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#757575")


# -- shared helpers for figures of a history ------------------------------------------------------
def pick_rows(param: str, requested: Any, known: list[Any], what: str) -> list[Any]:
    """The rows a plot draws: ``known`` if ``requested`` is None, else ``requested`` checked
    against ``known`` (``what`` says where a name must appear, for the error message)."""
    if requested is None:
        return list(known)
    if isinstance(requested, str) or not hasattr(requested, "__iter__"):
        raise TypeError(f"{param}={requested!r} must be a list of names")
    rows = list(requested)
    for i, name in enumerate(rows):
        if name not in known:
            raise ValueError(f"{param}[{i}]={name!r} {what}; known: {known}")
    return rows


def natural_key(name: Any) -> tuple[Any, ...]:
    """Sort key putting ``n2`` before ``n10`` (and ints before strings, deterministically)."""
    parts = re.split(r"(\d+)", str(name))
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p != "")


def run_end(history: Any) -> float:
    """The last instant anything happened in ``history`` (0.0 for an empty one), in ms."""
    times = [0.0]
    times += [op.time for op in history.ops]
    times += [e.time for e in history.events]
    times += [f.time for f in history.faults]
    for m in history.messages:
        times.append(m.send_time)
        if m.recv_time is not None:
            times.append(m.recv_time)
    return max(times)


@dataclass(frozen=True, slots=True)
class FaultSpan:
    """One fault drawn as an interval: ``kind`` is ``"network"``, ``"crash"`` or ``"pause"``.

    ``nodes`` are the nodes to shade (for a partition, the minority side), ``label`` a short
    description (``"partition {n1} | {n2, n3}"``).
    """

    kind: str
    start: float
    end: float
    nodes: tuple[str, ...]
    label: str


def _set(names: Iterable[Any]) -> str:
    return "{" + ", ".join(str(n) for n in sorted(names, key=natural_key)) + "}"


def fault_spans(history: Any, end: float | None = None) -> list[FaultSpan]:
    """The faults of ``history`` as intervals, ready to shade.

    - ``partition`` shades every group but the largest (the minority side) until the next
      ``partition`` replaces it or ``heal``; ``partition_oneway`` shades the senders whose messages
      vanish; ``isolate`` the isolated node until ``reconnect`` or ``heal``; ``cut`` both ends of
      the link and ``bridge`` both sides, until ``heal``.
    - ``crash`` shades the node until its ``restart`` (or the end of the run).
    - ``pause`` shades the node for ``duration_ms``.
    Clock faults are not intervals and are left out. Spans still open at the end close at ``end``
    (default: :func:`run_end`).
    """
    end = run_end(history) if end is None else end
    spans: list[FaultSpan] = []
    open_net: list[tuple[Any, float, tuple[str, ...], str]] = []  # (key, start, nodes, label)
    crashed: dict[str, float] = {}

    def close_net(pred: Any, t: float) -> None:
        keep = []
        for key, start, nodes, label in open_net:
            if pred(key):
                spans.append(FaultSpan("network", start, t, nodes, label))
            else:
                keep.append((key, start, nodes, label))
        open_net[:] = keep

    for f in sorted(history.faults, key=lambda f: f.time):
        t, verb, a = f.time, f.verb, f.args
        if verb == "partition":
            close_net(lambda k: k == "partition", t)
            groups = [list(g) for g in a.get("groups", [])]
            if len(groups) > 1:
                largest = max(range(len(groups)), key=lambda i: (len(groups[i]), -i))
                nodes = tuple(n for i, g in enumerate(groups) if i != largest for n in g)
                label = "partition " + " | ".join(_set(g) for g in groups)
                open_net.append(("partition", t, nodes, label))
        elif verb == "partition_oneway":
            srcs, dsts = a.get("srcs", []), a.get("dsts", [])
            open_net.append(("oneway", t, tuple(srcs), f"one-way {_set(srcs)} -> {_set(dsts)}"))
        elif verb == "isolate":
            node = a.get("node")
            open_net.append((("isolate", node), t, (node,), f"isolate {node}"))
        elif verb == "reconnect":
            node = a.get("node")
            close_net(lambda k, node=node: k == ("isolate", node), t)
        elif verb == "cut":
            arrow = "->" if a.get("oneway") else "-"
            ends = (a.get("a"), a.get("b"))
            open_net.append(("cut", t, ends, f"cut {ends[0]}{arrow}{ends[1]}"))
        elif verb == "bridge":
            left, right = a.get("left", []), a.get("right", [])
            label = f"bridge {_set(left)} | {a.get('bridge')} | {_set(right)}"
            open_net.append(("bridge", t, tuple(left) + tuple(right), label))
        elif verb == "heal":
            close_net(lambda k: True, t)
        elif verb == "crash":
            crashed.setdefault(a.get("node"), t)
        elif verb == "restart":
            node = a.get("node")
            if node in crashed:
                spans.append(FaultSpan("crash", crashed.pop(node), t, (node,), f"crash {node}"))
        elif verb == "pause":
            node = a.get("node")
            stop = t + float(a.get("duration_ms", 0.0))
            spans.append(FaultSpan("pause", t, stop, (node,), f"pause {node}"))
    close_net(lambda k: True, max(end, max((s for _, s, _, _ in open_net), default=end)))
    for node, start in crashed.items():
        spans.append(FaultSpan("crash", start, max(end, start), (node,), f"crash {node}"))
    spans.sort(key=lambda s: (s.start, s.kind, natural_key(s.label)))
    return spans


_SPAN_STYLE = {
    "network": {"facecolor": FAULT_COLOR, "alpha": 0.35, "edgecolor": "none"},
    "crash": {"facecolor": CRASH_COLOR, "alpha": 0.45, "edgecolor": "none"},
    "pause": {"facecolor": "none", "edgecolor": PAUSE_COLOR, "hatch": "///", "linewidth": 0.0},
}
_SPAN_LEGEND = {
    "network": "partition (shaded side)",
    "crash": "crashed (until restart)",
    "pause": "paused (GC-like)",
}


def span_legend_handles(spans: Iterable[FaultSpan], per_row: bool = True) -> list[Any]:
    """Legend entries for the kinds of fault present in ``spans``."""
    kinds = sorted({s.kind for s in spans}, key=["network", "crash", "pause"].index)
    out = []
    for k in kinds:
        label = _SPAN_LEGEND[k] if per_row else _SPAN_LEGEND[k].replace(" (shaded side)", "")
        out.append(Patch(label=label, **_SPAN_STYLE[k]))
    return out


def char_width(ax: Any, fontsize: float) -> float:
    """Rough width of one character at ``fontsize``, in x data units of ``ax`` (set xlim first).

    Assumes the axes take about three quarters of the figure's width (the legend sits outside).
    """
    fig = ax.figure
    lo, hi = ax.get_xlim()
    width_px = fig.get_figwidth() * fig.dpi * 0.75
    return abs(hi - lo) / width_px * fontsize * 0.62 * fig.dpi / 72


def shade_faults(
    ax: Any,
    spans: Iterable[FaultSpan],
    rows: dict[Any, float] | None = None,
    *,
    height: float = 0.9,
    annotate: bool = True,
    zorder: float = 0.5,
) -> int:
    """Shade ``spans`` on ``ax``; returns how many lines of span labels were written.

    With ``rows`` (node -> y position) each span shades the rows of its nodes; without, or for
    nodes not on the plot, a span covers the full height (a timeline of client processes). When
    ``annotate``, network spans (and, without ``rows``, every span) get their label written at
    the top of the axes, on as many lines as needed for labels not to overlap. Set the x limits
    before calling, so the labels can be measured.
    """
    labelled: set[tuple[float, str]] = set()
    line_end: list[float] = []  # per line of labels, where its last label ends (data units)
    top = blended_transform_factory(ax.transData, ax.transAxes)
    char = char_width(ax, 7)
    for s in spans:
        style = dict(_SPAN_STYLE[s.kind])
        width = max(s.end - s.start, 0.0)
        ys = [rows[n] for n in s.nodes if rows is not None and n in rows]
        if ys:
            for y in ys:
                ax.add_patch(
                    Rectangle((s.start, y - height / 2), width, height, gid=f"fault:{s.kind}",
                              zorder=zorder, **style)
                )
        else:
            if s.kind == "crash":
                style["alpha"] = 0.25
            ax.add_patch(
                Rectangle((s.start, 0.0), width, 1.0, transform=top, gid=f"fault:{s.kind}",
                          zorder=zorder, **style)
            )
        wanted = rows is None or s.kind == "network"
        if annotate and wanted and (s.start, s.label) not in labelled:
            labelled.add((s.start, s.label))
            line = next((i for i, e in enumerate(line_end) if e <= s.start), len(line_end))
            if line == len(line_end):
                line_end.append(0.0)
            line_end[line] = s.start + (len(s.label) + 2) * char
            ax.text(s.start, 0.995 - 0.07 * line, " " + s.label, transform=top, ha="left",
                    va="top", fontsize=7, color="#616161", clip_on=True, zorder=6)
    return len(line_end)
