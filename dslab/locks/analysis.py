"""The distributed-lock chapter's analysis: pure functions of what a scenario of
:mod:`dslab.locks.scenarios` returned (a history, a holds frame, a frame of hash-lock holds).

- :func:`lock_holds` -- the holds of a history: from the ``ok`` of an acquire to the invocation
  of the release (or to the holder's crash, or to the end of the run).
- :func:`summarize` -- acquisitions, overlaps and the mutual-exclusion verdict of a run, and the
  storage's accepted / rejected writes, final counter and lost updates.
- :func:`fair_lock_summary` -- per lock kind of :func:`dslab.locks.scenarios.fair_lock`: the share
  of waiters served in arrival order, the waits and the idle time of the free lock.
- :func:`max_concurrent`, :func:`writer_overlaps` -- the most holders at once, and how many holds
  a writer's holds intersect (:func:`dslab.locks.scenarios.rw_lock`).

Definitions: a *hold* runs, in true time, from the ``ok`` of an acquire to the invocation of the
release (or to the holder's crash); *overlap* is the time two holds of different clients
intersect (:func:`dslab.check.mutual_exclusion`). *Lost updates* = accepted writes minus the final
counter: each write meant "one more than what I read".
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dslab.check import mutual_exclusion
from dslab.history import History

#: The columns of a holds frame (:func:`lock_holds`), one row per hold.
HOLD_COLUMNS = ["holder", "start_ms", "end_ms", "token", "fence"]


def lock_holds(history: History, end_ms: float | None = None) -> pd.DataFrame:
    """The holds of ``history``: from an ``acquire`` ``ok`` to the holder's next ``release``
    invocation, or to its crash, or (never released) to ``end_ms`` (default: the last op)."""
    if end_ms is None:
        end_ms = max((op.time for op in history.ops), default=0.0)
    crashes = {f.args.get("node"): f.time for f in history.faults if f.verb == "crash"}
    open_: dict[Any, Any] = {}
    rows = []
    for op in history.ops:
        if op.f == "acquire" and op.type == "ok" and op.process not in open_:
            open_[op.process] = op
        elif op.f == "release" and op.type == "invoke" and op.process in open_:
            g = open_.pop(op.process)
            rows.append([g.process, g.time, op.time, g.value["token"], g.value["fence"]])
    for who, g in open_.items():
        end = min(end_ms, crashes.get(who, end_ms))
        rows.append([who, g.time, max(end, g.time), g.value["token"], g.value["fence"]])
    rows.sort(key=lambda r: (r[1], r[0]))
    return pd.DataFrame(rows, columns=HOLD_COLUMNS)


def summarize(holds: pd.DataFrame, history: History, store: Any = None) -> dict[str, Any]:
    """Acquisitions, overlaps (count, total ms), the checker's verdict, and the storage's
    accepted / rejected writes, final counter and lost updates."""
    verdict = mutual_exclusion(holds[["holder", "start_ms", "end_ms"]].to_dict("records"))
    out = {
        "acquisitions": len(holds),
        "overlaps": len(verdict.overlaps),
        "overlap_ms": round(sum(o["overlap_ms"] for o in verdict.overlaps), 3),
        "mutual_exclusion": verdict.valid,
        "renewals_refused": sum(e.name == "renewal_refused" for e in history.events),
        "foreign_deletes": sum(e.name == "deleted_foreign_lock" for e in history.events),
    }
    if store is not None:
        final = store.data.get("counter", 0)
        out.update(writes_accepted=store.accepted, writes_rejected=store.rejected,
                   final_counter=final, lost_updates=store.accepted - final)
    return out


def fair_lock_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per lock kind of :func:`fair_lock`: the share of waiters served in arrival order, the mean
    and the longest wait, and the mean time the free lock sat idle between holders."""
    g = df.assign(in_order=df["order"] == df["arrival"]).groupby("kind", sort=False)
    return g.agg(served_in_arrival_order=("in_order", "mean"), mean_wait_ms=("wait_ms", "mean"),
                 max_wait_ms=("wait_ms", "max"), mean_idle_ms=("idle_ms", "mean")).round(3)


def max_concurrent(df: pd.DataFrame) -> int:
    events = sorted([(t, 1) for t in df["start_ms"]] + [(t, -1) for t in df["end_ms"]],
                    key=lambda e: (e[0], e[1]))
    best = cur = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def writer_overlaps(df: pd.DataFrame) -> int:
    w = df[df["mode"] == "write"]
    others = df.drop(index=w.index)
    return int(sum(((others["start_ms"] < r.end_ms) & (others["end_ms"] > r.start_ms)).sum()
                   for r in w.itertuples()))
