"""The Raft chapter's analysis: pure functions of a history or of a scenario's frame.

- :func:`current_leader` and :func:`leaders_per_term` -- who leads, read from ``role`` events;
- :func:`downtime_summary` and :func:`figure16_table` -- Figure 16's statistics beside the
  numbers the paper's §9.3 quotes (:data:`PAPER_FIG16`);
- :func:`describe_message` -- a readable line for a Raft message.

Nothing here runs a simulation; the scenarios are in :mod:`dslab.raft.experiments`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from dslab.history import History
from dslab.raft.node import LEADER
from dslab.sim import message_type
from dslab.sim.scenario import frame as _frame

#: Trials per range in the paper (100 for 150-150).
PAPER_TRIALS = 1000
#: What the text of §9.3 of the extended paper says about Figure 16 (ms). ``nan``: not quoted.
PAPER_FIG16: dict[tuple[float, float], dict[str, Any]] = {
    (150, 150): {"median_ms": math.nan, "mean_ms": math.nan, "max_ms": math.nan,
                 "quote": "longer than 10 s in every trial (split votes)"},
    (150, 155): {"median_ms": 287.0, "mean_ms": math.nan, "max_ms": math.nan,
                 "quote": "median 287 ms"},
    (150, 200): {"median_ms": math.nan, "mean_ms": math.nan, "max_ms": 513.0,
                 "quote": "worst of 1000 trials 513 ms"},
    (12, 24): {"median_ms": math.nan, "mean_ms": 35.0, "max_ms": 152.0,
               "quote": "mean 35 ms, longest 152 ms"},
}  # fmt: skip


def role_events(history: History) -> list[tuple[float, str, str, int]]:
    """``[(time, node, role, term)]`` of the ``role`` events, in time order."""
    return [
        (e.time, e.node, str(e.data.get("role")), int(e.data.get("term", 0)))
        for e in history.events
        if e.name == "role"
    ]


def current_leader(history: History, down: Iterable[str] = ()) -> tuple[str | None, int, float]:
    """``(node, term, since_ms)`` of the leader of the highest term that some live server leads
    now, read from the history's ``role`` events (``(None, 0, nan)`` if nobody leads)."""
    down = set(down)
    latest: dict[str, tuple[float, str, int]] = {}
    for t, node, role, term in role_events(history):
        latest[node] = (t, role, term)
    for f in history.faults:  # a crash ends whatever the node was
        if f.verb == "crash" and f.args.get("node") in latest:
            node = f.args["node"]
            if f.time >= latest[node][0]:
                latest[node] = (f.time, "down", latest[node][2])
    best: tuple[str | None, int, float] = (None, 0, math.nan)
    for node in sorted(latest):
        t, role, term = latest[node]
        if role == LEADER and node not in down and term > best[1]:
            best = (node, term, t)
    return best


def _fmt_ms(x: float, lower_bound: float) -> str:
    if math.isnan(x):
        return ""
    return f"> {lower_bound:.0f}" if math.isinf(x) else f"{x:.0f}"


def downtime_summary(trials_df: pd.DataFrame) -> pd.DataFrame:
    """Median, mean and maximum downtime per range, beside the paper's quoted numbers.

    A capped trial's downtime is only known to exceed the cap, so a statistic it decides is
    ``inf`` in the numeric columns and "> cap" (for the mean: "> the mean with capped trials
    counted at the cap") in the ``*_text`` columns.
    """
    rows = []
    for label, g in trials_df.groupby("timeouts", sort=False):
        lo, hi = float(g["timeout_min_ms"].iloc[0]), float(g["timeout_max_ms"].iloc[0])
        known = g["downtime_ms"].to_numpy(dtype=float)  # capped trials at the cap: lower bounds
        x = np.where(g["capped"].to_numpy(dtype=bool), np.inf, known)
        paper = PAPER_FIG16.get((lo, hi), {})
        row = {
            "timeouts": label,
            "timeout_min_ms": lo,
            "timeout_max_ms": hi,
            "trials": len(g),
            "capped": int(g["capped"].sum()),
            "median_ms": float(np.median(x)),
            "mean_ms": float(np.mean(x)),
            "max_ms": float(np.max(x)),
            "min_ms": float(np.min(x)),
            "paper_trials": 100 if (lo, hi) == (150, 150) else PAPER_TRIALS,
            "paper_median_ms": paper.get("median_ms", math.nan),
            "paper_mean_ms": paper.get("mean_ms", math.nan),
            "paper_max_ms": paper.get("max_ms", math.nan),
            "paper_says": paper.get("quote", ""),
        }
        bounds = {
            "median": float(np.median(known)), "mean": float(np.mean(known)),
            "max": float(np.max(known)),
        }  # fmt: skip
        for k, bound in bounds.items():
            row[f"{k}_text"] = _fmt_ms(row[f"{k}_ms"], bound)
        rows.append(row)
    return _frame(rows, trials_df.attrs.get("seed"))


def figure16_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as the chapter prints it: ours beside the paper, "> cap" for capped values."""
    return pd.DataFrame(
        {
            "election timeout": summary["timeouts"],
            "trials (ours)": summary["trials"],
            "capped": summary["capped"],
            "median (ours, ms)": summary["median_text"],
            "mean (ours, ms)": summary["mean_text"],
            "max (ours, ms)": summary["max_text"],
            "paper (§9.3 text)": summary["paper_says"],
        }
    )


def leaders_per_term(history: History, end_ms: float | None = None) -> pd.DataFrame:
    """One row per term seen in the history's ``role`` events: who stood (``candidates``), who
    won (``leader``, "(none)" for a term without one: a split vote, or a lost election), when it was
    elected and until when it led (its next role event or crash; else ``end_ms``)."""
    events = role_events(history)
    end = end_ms if end_ms is not None else max([e[0] for e in events] + [0.0])
    crashes = sorted((f.time, f.args.get("node")) for f in history.faults if f.verb == "crash")
    terms: dict[int, dict[str, Any]] = {}
    for i, (t, node, role, term) in enumerate(events):
        row = terms.setdefault(term, {"term": term, "candidates": [], "leader": None,
                                      "elected_ms": math.nan, "until_ms": math.nan})
        if role == "candidate" and node not in row["candidates"]:
            row["candidates"].append(node)
        if role == LEADER:
            nxt = next((e[0] for e in events[i + 1 :] if e[1] == node), math.inf)
            crash = next((c for c, n in crashes if n == node and c >= t), math.inf)
            row.update(leader=node, elected_ms=t, until_ms=min(nxt, crash, end))
    rows = [terms[k] for k in sorted(terms) if k > 0]
    for r in rows:
        r["candidates"] = ", ".join(r["candidates"])
        r["leader"] = r["leader"] or "(none)"
        r["led_ms"] = r["until_ms"] - r["elected_ms"]
    return _frame(rows, history.seed,
                  ["term", "candidates", "leader", "elected_ms", "until_ms", "led_ms"])


def describe_message(msg: Any) -> str:
    """A short, readable form of a Raft message (``RequestVote(term 2, last log (1, 1))``)."""
    name = type(msg).__name__
    if name == "RequestVote":
        return f"RequestVote(term {msg.term}, last log (index {msg.last_log_index}, " \
               f"term {msg.last_log_term}))"
    if name == "RequestVoteReply":
        return f"RequestVoteReply(term {msg.term}, " \
               f"{'vote granted' if msg.vote_granted else 'vote refused'})"
    if name == "AppendEntries":
        what = f"{len(msg.entries)} entries" if msg.entries else "heartbeat"
        return f"AppendEntries(term {msg.term}, {what}, prev ({msg.prev_log_index}, " \
               f"{msg.prev_log_term}), commit {msg.leader_commit})"
    if name == "AppendEntriesReply":
        how = f"ok, match {msg.match_index}" if msg.success else "refused"
        return f"AppendEntriesReply(term {msg.term}, {how})"
    return message_type(msg)
