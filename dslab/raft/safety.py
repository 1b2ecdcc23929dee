"""Raft's safety properties (Figure 3 of the paper), checked after the fact.

- Election Safety: at most one leader can be elected in a given term. Checked from the ``role``
  events of a history (:func:`election_safety`).
- Log Matching: if two logs contain an entry with the same index and term, the logs are identical
  in all entries up through that index. Checked over the servers' logs (:func:`log_matching`),
  taken from the live handlers or, for a crashed server, from its durable storage
  (:func:`server_logs`).
- State Machine Safety (no two servers apply different commands at one index) is what the test
  harness checks at every apply; linearizability of a service's client history is checked by
  :func:`dslab.check.linearizable`.

Each check returns ``None`` when the property holds, else a sentence describing the violation.
"""

from __future__ import annotations

from typing import Any

from dslab.history import History
from dslab.raft.log import RaftLog
from dslab.raft.persist import Persister


def election_safety(history: History) -> str | None:
    """At most one server became leader in each term (from ``role`` events with role=leader)."""
    leaders: dict[int, str] = {}
    for ev in history.events:
        if ev.name != "role" or ev.data.get("role") != "leader":
            continue
        term = ev.data.get("term")
        first = leaders.setdefault(term, ev.node)
        if first != ev.node:
            return (
                f"Election Safety violated: {first} and {ev.node} were both leader of term {term} "
                f"(the second at t={ev.time:.3f} ms)"
            )
    return None


def log_matching(logs: dict[str, RaftLog]) -> str | None:
    """Every two logs that agree on the term at some index agree on every entry up to it."""
    names = sorted(logs)
    for x, a_name in enumerate(names):
        for b_name in names[x + 1 :]:
            a, b = logs[a_name], logs[b_name]
            lo = max(a.snapshot_index, b.snapshot_index) + 1
            hi = min(a.last_index, b.last_index)
            # The highest index where the terms agree; everything below it must be identical.
            for k in range(hi, lo - 1, -1):
                if a.term_at(k) == b.term_at(k):
                    for j in range(lo, k + 1):
                        if a.entry(j) != b.entry(j):
                            return (
                                f"Log Matching violated: {a_name} and {b_name} agree on the term "
                                f"of index {k} ({a.term_at(k)}) but differ at index {j}: "
                                f"{a.entry(j)!r} != {b.entry(j)!r}"
                            )
                    break
    return None


def server_logs(sim: Any) -> dict[str, RaftLog]:
    """The log of every server of ``sim`` that keeps one (a live handler's ``log`` attribute, or
    what a crashed :class:`~dslab.raft.node.RaftNode` left in its durable storage)."""
    logs: dict[str, RaftLog] = {}
    for name, node in sim.nodes.items():
        handler = node.handler
        if handler is not None and isinstance(getattr(handler, "log", None), RaftLog):
            logs[name] = handler.log
        elif handler is None and any(key.startswith("raft/") for key in node.storage):
            logs[name] = Persister(node.storage).load().log
    return logs
