"""The BASE chapter's analysis: pure functions of what the scenarios of
:mod:`dslab.eventual.scenarios` recorded.

- :func:`hint_rows` -- from the history: every hint stored, and when (if ever) it was delivered.
- :func:`handoff_summary` -- writes accepted while an owner was down, hints stored and delivered.
- :func:`overload_row` -- core latency percentiles and what happened to the extra jobs.
- :func:`pbs_comparison` -- the PBS table arranged beside the paper's numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from dslab._validate import check_type
from dslab.history import History

HINT_COLUMNS = ["holder", "owner", "key", "stored_ms", "delivered_ms"]


def hint_rows(history: History) -> list[dict[str, Any]]:
    """One row per hint (``holder``, ``owner``, ``key``, ``stored_ms``, ``delivered_ms``; NaN:
    never delivered), pairing each ``hint_delivered`` event with the oldest ``hint_stored`` of
    the same holder, owner and key."""
    stored: dict[tuple[str, str, str], list[float]] = {}
    rows = []
    for ev in history.events:
        hk = (ev.node, ev.data.get("owner"), ev.data.get("key"))
        if ev.name == "hint_stored":
            stored.setdefault(hk, []).append(ev.time)
        elif ev.name == "hint_delivered" and stored.get(hk):
            t0 = stored[hk].pop(0)
            rows.append({"holder": hk[0], "owner": hk[1], "key": hk[2], "stored_ms": t0,
                         "delivered_ms": ev.time})
    for hk, times in stored.items():
        for t0 in times:
            rows.append({"holder": hk[0], "owner": hk[1], "key": hk[2], "stored_ms": t0,
                         "delivered_ms": math.nan})
    return rows


def handoff_summary(writes: Iterable[Mapping[str, Any]], hints: pd.DataFrame, *,
                    sloppy_quorum: bool, crash_ms: float, restart_ms: float,
                    keys_owned_by_down: int, stale_on_owner: int) -> dict[str, Any]:
    """The summary row of a hinted-handoff run from its write log and its hints."""
    log = list(writes)
    while_down = [r for r in log if crash_ms <= r["start_ms"] < restart_ms]
    delays = hints["delivery_after_restart_ms"].dropna()
    return {
        "sloppy_quorum": sloppy_quorum,
        "writes_ok": sum(r["type"] == "ok" for r in log),
        "writes_not_ok": sum(r["type"] != "ok" for r in log),
        "writes_ok_while_down": sum(r["type"] == "ok" for r in while_down),
        "writes_not_ok_while_down": sum(r["type"] != "ok" for r in while_down),
        "hints_stored": len(hints),
        "hints_delivered": int(hints["delivered_ms"].notna().sum()),
        "delivery_after_restart_p50_ms": float(delays.median()) if len(delays) else math.nan,
        "delivery_after_restart_max_ms": float(delays.max()) if len(delays) else math.nan,
        "keys_owned_by_down": keys_owned_by_down,
        "stale_on_owner": stale_on_owner,
    }


def overload_row(policy: str, load: float, out: list[tuple[str, str, float, bool]],
                 timeout_ms: float) -> dict[str, Any]:
    """One row of the overload table from the calls of one run, each ``(kind, outcome,
    latency_ms, degraded)``; a timed-out core call counts as ``timeout_ms``."""
    core = [(o, lat) for k, o, lat, _ in out if k == "core"]
    extra = [(o, d) for k, o, _, d in out if k == "extra"]
    core_lat = np.array([timeout_ms if o == "info" else lat for o, lat in core]) if core else []
    n_extra = max(len(extra), 1)
    return {
        "policy": policy,
        "offered_load": load,
        "requests": len(out),
        "core_p50_ms": float(np.percentile(core_lat, 50)) if len(core_lat) else math.nan,
        "core_p99_ms": float(np.percentile(core_lat, 99)) if len(core_lat) else math.nan,
        "core_ok": sum(o == "ok" for o, _ in core) / max(len(core), 1),
        "extra_full": sum(o == "ok" and not d for o, d in extra) / n_extra,
        "extra_degraded": sum(o == "ok" and d for o, d in extra) / n_extra,
        "extra_refused": sum(o in ("shed", "queue_full") for o, _ in extra) / n_extra,
        "extra_timed_out": sum(o == "info" for o, _ in extra) / n_extra,
    }


def pbs_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`~dslab.eventual.scenarios.pbs_table` arranged for reading: the lab's value beside
    the paper's, rounded. Columns: t for 99.9% consistent reads, and the 99.9th percentile read
    and write latency."""
    check_type("table", table, pd.DataFrame)
    out = pd.DataFrame(
        {
            "distribution": table["dist"],
            "R": table["R"],
            "W": table["W"],
            "t 99.9% lab (ms)": table["t_999_ms"].round(2),
            "t 99.9% paper (ms)": table["paper_t_999_ms"],
            "read p99.9 lab (ms)": table["read_p999_ms"].round(2),
            "read p99.9 paper (ms)": table["paper_read_p999_ms"],
            "write p99.9 lab (ms)": table["write_p999_ms"].round(2),
            "write p99.9 paper (ms)": table["paper_write_p999_ms"],
        }
    )
    out.attrs = dict(table.attrs)
    return out


__all__ = ["HINT_COLUMNS", "handoff_summary", "hint_rows", "overload_row", "pbs_comparison"]
