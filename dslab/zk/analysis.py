"""The ZooKeeper chapter's analysis: pure functions of the history a scenario of
:mod:`dslab.zk.scenarios` recorded. None of them runs a simulation; the same history always gives
the same answer.

- :func:`recovery_ms` -- time from a leader's crash to the next ``established`` leader (the
  Zab paper's recovery phase: discovery and synchronization are over).
- :func:`messages_between` -- the messages sent in a time window (the path of one write:
  PROPOSAL, ACK, COMMIT).
- :func:`session_expired_ms`, :func:`last_ping_ms`, :func:`applied_after` -- the timeline of a
  session's expiry: the client's last heartbeat, the leader's expiry, each server's apply of the
  ephemeral node's deletion.
- :func:`notifications_per_release` -- watch notifications per lock release (the herd effect of
  the lock recipe in the ZooKeeper paper, section 2.4).
- :func:`fenced_holds` -- who held the lock when (true time), with its fencing token (the czxid
  of the holder's lock node).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dslab.check import holds_from_history
from dslab.history import History
from dslab.zk.messages import fmt_zxid


def recovery_ms(history: History, crash_ms: float) -> float:
    """Time from ``crash_ms`` to the first ``established`` event after it (``nan`` if none)."""
    recovered = next(
        (e.time for e in history.events if e.name == "established" and e.time > crash_ms),
        float("nan"),
    )
    return recovered - crash_ms


def messages_between(history: History, t0: float, t1: float) -> pd.DataFrame:
    """The messages sent in ``[t0, t1]``: send and receive time, source, destination, type."""
    msgs = [
        {"send_ms": m.send_time, "recv_ms": m.recv_time, "src": m.src, "dst": m.dst, "type": m.type}
        for m in history.messages
        if t0 <= m.send_time <= t1
    ]
    return pd.DataFrame(msgs)


def session_expired_ms(history: History, session: str) -> float:
    """When the leader expired ``session`` (raises ``StopIteration`` if it never did)."""
    return next(
        e.time
        for e in history.events
        if e.name == "session_expired" and e.data.get("session") == session
    )


def last_ping_ms(history: History, client: str, until_ms: float) -> float | None:
    """The send time of ``client``'s last ping at or before ``until_ms`` (``None`` if none)."""
    pings = [
        msg.send_time
        for msg in history.messages
        if msg.src == client and msg.type == "Request:Ping" and msg.send_time <= until_ms
    ]
    return pings[-1] if pings else None


def applied_after(history: History, t: float) -> dict[str, float]:
    """Per server, the time of its last ``apply`` at or after ``t``."""
    return {e.node: e.time for e in history.events if e.name == "apply" and e.time >= t}


def notifications_per_release(history: History) -> dict[str, Any]:
    """Releases that succeeded, watch notifications (all, and those caused by the deletion of a
    znode), and notifications per release (mean and max)."""
    releases = sum(1 for op in history.ops if op.f == "release" and op.type == "ok")
    notes = [e for e in history.events if e.name == "notified"]
    deletes = {
        e.data["zxid"] for e in history.events if e.name == "apply" and e.data["op"] == "Delete"
    }
    per: dict[int, int] = {z: 0 for z in deletes}
    for e in notes:
        if e.data["zxid"] in per:
            per[e.data["zxid"]] += 1
    return {
        "releases": releases,
        "notifications": len(notes),
        "on_release": sum(per.values()),
        "per_release_mean": sum(per.values()) / releases if releases else 0.0,
        "per_release_max": max(per.values(), default=0),
    }


def fenced_holds(history: History) -> list[dict[str, Any]]:
    """Each hold of the lock (true time), with the holder's fencing token (``token``, the czxid of
    its lock node) and that token written as a zxid (``token_zxid``)."""
    holds = holds_from_history(history)
    tokens = {op.process: op.value for op in history.ops if op.f == "acquire" and op.type == "ok"}
    for hold in holds:
        hold["token"] = tokens.get(hold["holder"])
        hold["token_zxid"] = fmt_zxid(hold["token"]) if hold["token"] else None
    return holds


__all__ = [
    "applied_after",
    "fenced_holds",
    "last_ping_ms",
    "messages_between",
    "notifications_per_release",
    "recovery_ms",
    "session_expired_ms",
]
