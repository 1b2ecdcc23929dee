"""From span reports to traces: merge, check the tree, correct clock skew, find the critical path.

Rules:

- :func:`spans_frame` merges client and server parts by (trace id, span id): one row per span
  with ``cs``, ``sr``, ``ss``, ``cr`` (NaN where a part was lost or not recorded) and the server
  node.
- :func:`check_tree`: a complete trace has exactly one root (no parent) and every parent id names
  a span of the same trace. Returns the problems found (empty list: a well-formed tree).
- :func:`correct_skew`: ``sr`` and ``ss`` are read on the server's clock, ``cs`` and ``cr`` on the
  caller's. If the two clocks differ by ``theta``, then ``sr - cs = d1 + theta`` and
  ``cr - ss = d2 - theta``, with ``d1``, ``d2`` the network delays. Assuming ``d1 = d2`` (as NTP
  does), ``theta = ((sr - cs) - (cr - ss)) / 2``. Offsets add up along the tree, so each node's
  times are moved into the root caller's clock. The error is at most half the difference of the
  two one-way delays.
- :func:`critical_path`: walk back from the end of a span: the child that finished last before
  that time is on the path; then continue from that child's start. Repeat inside each chosen child.

The chapter's measurements are pure functions of the spans too: :func:`blame` (self time in the
slowest traces), :func:`trace_shapes` (whole, broken and orphan traces), :func:`complete_traces`,
:func:`hierarchical_ids`, :func:`cache_traces` and :func:`overhead_row` (Dapper's Table 2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from dslab.tracing.span import SpanPart

COLUMNS = [
    "trace_id",
    "span_id",
    "parent_id",
    "name",
    "client_node",
    "server_node",
    "cs",
    "sr",
    "ss",
    "cr",
]


def spans_frame(parts: Iterable[SpanPart]) -> pd.DataFrame:
    rows: dict[tuple[str, str], dict] = {}
    for p in parts:
        r = rows.setdefault(
            (p.trace_id, p.span_id),
            {c: math.nan for c in COLUMNS[6:]}
            | {
                "trace_id": p.trace_id,
                "span_id": p.span_id,
                "parent_id": p.parent_id,
                "name": p.name,
                "client_node": None,
                "server_node": None,
            },
        )
        r["client_node" if p.kind == "client" else "server_node"] = p.node
        for k, t in p.annotations:
            r[k] = t
    return pd.DataFrame(list(rows.values()), columns=COLUMNS)


def check_tree(trace: pd.DataFrame) -> list[str]:
    """Problems with one trace's spans (``[]``: exactly one root, every parent present)."""
    problems = []
    roots = trace[trace.parent_id.isna()]
    if len(roots) != 1:
        problems.append(f"{len(roots)} roots")
    ids = set(trace.span_id)
    for pid in trace.parent_id.dropna():
        if pid not in ids:
            problems.append(f"missing parent {pid}")
    return problems


def correct_skew(trace: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``trace`` with every time in the root caller's clock, plus ``offset_ms``."""
    t = trace.set_index("span_id")
    offset: dict[str, float] = {}  # node -> its clock minus the root caller's clock
    root = t[t.parent_id.isna()]
    if len(root) != 1:
        raise ValueError("correct_skew needs a trace with exactly one root")
    offset[root.iloc[0].client_node] = 0.0
    out = t.copy()
    out["offset_ms"] = 0.0
    order = _bfs(t)
    for sid in order:
        row = t.loc[sid]
        base = offset.get(row.client_node, 0.0)
        theta = ((row.sr - row.cs) - (row.cr - row.ss)) / 2.0
        if math.isnan(theta):
            theta = 0.0
        if row.server_node is not None:
            offset.setdefault(row.server_node, base + theta)
        out.loc[sid, ["cs", "cr"]] = [row.cs - base, row.cr - base]
        out.loc[sid, ["sr", "ss"]] = [row.sr - base - theta, row.ss - base - theta]
        out.loc[sid, "offset_ms"] = base + theta
    return out.reset_index()


def _bfs(t: pd.DataFrame) -> list[str]:
    children: dict[str | None, list[str]] = {}
    for sid, pid in zip(t.index, t.parent_id, strict=True):
        children.setdefault(None if pd.isna(pid) else pid, []).append(sid)
    order, frontier = [], sorted(children.get(None, []))
    while frontier:
        order += frontier
        frontier = [c for s in frontier for c in sorted(children.get(s, []))]
    return order


def depths(trace: pd.DataFrame) -> dict[str, int]:
    t = trace.set_index("span_id")
    out: dict[str, int] = {}
    for sid in _bfs(t):
        pid = t.loc[sid].parent_id
        out[sid] = 0 if pd.isna(pid) else out[pid] + 1
    return out


def critical_path(trace: pd.DataFrame) -> list[str]:
    """Span ids on the critical path, root first (times: ``cs`` to ``cr``)."""
    t = trace.set_index("span_id")
    kids: dict[str, list[str]] = {}
    for sid, pid in zip(t.index, t.parent_id, strict=True):
        if not pd.isna(pid):
            kids.setdefault(pid, []).append(sid)

    def walk(sid: str) -> list[str]:
        path = [sid]
        end = t.loc[sid].cr
        chosen = []
        for c in sorted(kids.get(sid, []), key=lambda c: -t.loc[c].cr):
            if t.loc[c].cr <= end + 1e-9:
                chosen.append(c)
                end = t.loc[c].cs
        for c in reversed(chosen):
            path += walk(c)
        return path

    root = t[t.parent_id.isna()].index
    return walk(root[0]) if len(root) else []


def self_time(trace: pd.DataFrame) -> pd.Series:
    """Per span: server time (``ss - sr``) minus the time covered by its children's calls."""
    t = trace.set_index("span_id")
    out = {}
    for sid, row in t.iterrows():
        kids = t[t.parent_id == sid]
        covered = 0.0
        if len(kids):
            covered = float(kids.cr.max() - kids.cs.min())  # parallel calls: their union
        out[sid] = float(row.ss - row.sr) - covered
    return pd.Series(out)


# -- what the chapter's scenarios measure (pure functions of their spans) -------------------------
#: The caller -> callee edges of one whole trace through the graph A -> (B, C), C -> D.
EXPECTED_EDGES = [("A", "B"), ("A", "C"), ("C", "D"), ("c1", "A")]


def roots_of(spans: pd.DataFrame) -> pd.DataFrame:
    """The root span of each trace, with its ``duration_ms`` (``cr - cs``)."""
    return spans[spans.parent_id.isna()].assign(duration_ms=lambda d: d.cr - d.cs)


def blame(spans: pd.DataFrame, quantile: float = 0.95) -> pd.DataFrame:
    """Per service: mean self time in the traces at or above the ``quantile`` of root duration
    (``self_ms_slowest_5pct``) against the others, and the increase."""
    spans = spans.join(self_time(spans).rename("self_ms"), on="span_id")
    roots = roots_of(spans)
    cut = roots.duration_ms.quantile(quantile)
    slow_ids = set(roots[roots.duration_ms >= cut].trace_id)
    spans["slow_trace"] = spans.trace_id.isin(slow_ids)
    out = (
        spans.groupby(["server_node", "slow_trace"])
        .self_ms.mean()
        .unstack()
        .rename(columns={False: "self_ms_other", True: "self_ms_slowest_5pct"})
        .reset_index()
        .rename(columns={"server_node": "service"})
    )
    out["increase_ms"] = out.self_ms_slowest_5pct - out.self_ms_other
    return out


def trace_shapes(spans: pd.DataFrame) -> dict[str, int]:
    """How the traces came out: ``complete`` (exactly the expected edges, a well-formed tree),
    ``broken`` (started at ``c1`` but missing or holding foreign spans), ``orphan`` (started by
    a downstream call that found no context) and ``foreign_spans`` (spans beyond the 4 of a
    request, filed under a trace that ``c1`` started)."""
    complete = broken = orphan = 0
    for _, t in spans.groupby("trace_id"):
        if t.parent_id.isna().sum() == 1 and t[t.parent_id.isna()].client_node.iloc[0] != "c1":
            orphan += 1
            continue
        edges = sorted((r.client_node, r.server_node) for r in t.itertuples())
        if edges == EXPECTED_EDGES and check_tree(t) == []:
            complete += 1
        else:
            broken += 1
    per_trace = spans.groupby("trace_id").size()
    c1_traces = set(spans[spans.client_node == "c1"].trace_id)
    foreign = int(sum(max(n - 4, 0) for tid, n in per_trace.items() if tid in c1_traces))
    return {"complete": complete, "broken": broken, "orphan": orphan, "foreign_spans": foreign}


def complete_traces(spans: pd.DataFrame) -> int:
    """Traces with their 4 spans, each with both halves (cs, sr, ss, cr all present)."""
    n = 0
    for _, t in spans.groupby("trace_id"):
        whole = not t[["cs", "sr", "ss", "cr"]].isna().any().any()
        n += len(t) == 4 and whole and check_tree(t) == []
    return n


def hierarchical_ids(spans: pd.DataFrame, parent_of: Callable[[str], str | None]) -> pd.DataFrame:
    """The spans of MTrace-style ids with the parent read off each id and the depth."""
    out = spans[["span_id", "parent_id", "client_node", "server_node", "name"]].copy()
    out["parent_from_id"] = out.span_id.map(parent_of)
    out["depth"] = out.span_id.str.count(r"\.")
    return out.sort_values("span_id").reset_index(drop=True)


def cache_traces(spans: pd.DataFrame) -> pd.DataFrame:
    """Per trace of the cached API: start, whether the cache hit (no database span), duration,
    and time spent in cache and database client spans."""
    traces = []
    for tid, t in spans.groupby("trace_id", sort=False):
        root = t[t.parent_id.isna()].iloc[0]
        names = list(t.name)
        traces.append(
            {
                "trace_id": tid,
                "start_ms": root.cs,
                "hit": "Database.query" not in names,
                "duration_ms": root.cr - root.cs,
                "cache_ms": float((t[t.name.str.startswith("Cache.")].eval("cr - cs")).sum()),
                "db_ms": float((t[t.name == "Database.query"].eval("cr - cs")).sum()),
            }
        )
    return pd.DataFrame(traces).sort_values("start_ms").reset_index(drop=True)


def overhead_row(denominator: int, m: dict[str, float], base: dict[str, float]) -> dict[str, Any]:
    """One row of the Dapper Table 2 comparison: sampling ``1/denominator`` measured as ``m``
    against the untraced ``base`` (mean latency, throughput), in percent."""
    return {
        "sampling": f"1/{denominator}",
        "latency_pct": 100.0 * (m["mean_latency_ms"] / base["mean_latency_ms"] - 1.0),
        "throughput_pct": 100.0 * (m["throughput_per_s"] / base["throughput_per_s"] - 1.0),
        "tracing_ms_per_request": m["tracing_ms_per_request"],
        "report_bytes_per_request": m["report_bytes_per_request"],
        "mean_latency_ms": m["mean_latency_ms"],
        "throughput_per_s": m["throughput_per_s"],
    }
