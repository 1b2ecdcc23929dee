"""Checkers for the transactions-in-practice patterns (TCC, saga, outbox, transactional
messages) and for 2PC on the same transfers: pure functions of a run's history and the transfers
that were submitted.

The guarantees (what BASE-style transactions promise instead of ACID's atomicity and isolation)
---------------------------------------------------------------------------------------------
- **Eventual atomicity.** Once faults stop and retries settle, every transfer is either *applied*
  at every leg or *undone* at every leg (never applied, released, or compensated). A transfer
  applied at some legs and not others is a violation: ``lost_compensation`` if the transfer was
  on its way back (some leg refused, cancelled or compensated) and one applied leg was never
  undone; ``incomplete`` otherwise (a lost message: the forward path stopped half way).
- **Nothing left frozen.** No leg ends with a reservation (a TCC Try, or a 2PC participant's
  prepared locks) that nobody confirmed or released (``frozen``).
- **No double apply.** Under duplication and retries, each leg is applied at most once
  (``double_apply``) and compensated at most as often as it was applied (``double_compensation``).
- **The client's view.** A client told "ok" sees its transfer applied everywhere; one told "failed"
  (a definite failure) sees it undone everywhere (``client_mismatch``).
- A participant that received a decision contradicting its leg (``conflict`` event) is reported.

Isolation is not a guarantee of these patterns, so it is *measured*, not checked:
:func:`visibility_windows` finds the intervals during which a reader could see a transfer half
done -- some leg's effect visible, another's not -- and :func:`isolation_summary` adds them up.
A leg is *hidden* while a 2PC participant holds its locks in doubt: a reader of a locked row waits
for the outcome, so it cannot see the intermediate state.

What the checkers read: the ``leg`` events of :mod:`dslab.commit.ledger` (``tid``, ``action``,
``delta``), the ``state`` events of :mod:`dslab.commit.resource` for 2PC participants (``prepared``
is a lock, ``committed`` an apply, ``aborted`` after ``prepared`` a release), ``conflict``
events, and the client operations ``txn`` (value: the tid).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dslab._validate import check_type
from dslab.check.properties import PropertyResult
from dslab.commit.ledger import Transfer
from dslab.history import History

#: Actions that apply a leg's effect, undo it, and open or close a reservation.
APPLY = ("apply", "confirm")
UNDO = ("compensate",)
HOLD = ("reserve", "lock")
UNHOLD = ("confirm", "cancel", "release", "apply")
#: Actions showing that a transfer was being undone.
BACKWARD = ("refuse", "cancel", "compensate", "tombstone", "release", "suspend")
MAX_LINES = 8
WINDOW_COLUMNS = ["tid", "start_ms", "end_ms", "duration_ms"]


@dataclass(repr=False)
class PracticeResult(PropertyResult):
    """The verdict of :func:`eventual_atomicity`. ``violations`` are dicts with a ``kind``
    (``incomplete``, ``lost_compensation``, ``frozen``, ``double_apply``,
    ``double_compensation``, ``client_mismatch``, ``conflict``) and the details."""

    #: tid -> ``applied``, ``undone`` or ``partial``
    outcomes: dict[str, str] = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)


def _check_transfers(transfers: Any) -> list[Transfer]:
    if isinstance(transfers, Transfer) or not isinstance(transfers, Iterable):
        raise TypeError(f"transfers={transfers!r} must be an iterable of Transfer")
    out = list(transfers)
    for i, t in enumerate(out):
        check_type(f"transfers[{i}]", t, Transfer)
    return out


def leg_actions(history: History) -> dict[tuple[str, str], list[tuple[float, str]]]:
    """(tid, participant) -> [(time, action), ...] in history order, from the ``leg`` events and
    (for 2PC participants) the ``state`` events translated to ``lock`` / ``apply`` /
    ``release`` / ``refuse`` / ``tombstone``."""
    check_type("history", history, History)
    out: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for e in history.events:
        if e.name == "leg":
            out.setdefault((e.data["tid"], e.node), []).append((e.time, e.data["action"]))
        elif e.name == "state":
            seq = out.setdefault((e.data["tid"], e.node), [])
            state = e.data["state"]
            if state == "prepared":
                seq.append((e.time, "lock"))
            elif state == "committed":
                seq.append((e.time, "apply"))
            elif state == "aborted":
                locked = any(a == "lock" for _, a in seq)
                by = e.data.get("by", "")
                seq.append((e.time, "release" if locked else
                            "refuse" if by == "vote_no" else "tombstone"))
    return out


def eventual_atomicity(history: History, transfers: Iterable[Transfer]) -> PracticeResult:
    """Check eventual atomicity, no frozen reservation, no double apply and the client's view
    (see the module docstring) at the end of the run. Call it after faults stopped and retries
    had time to settle: before that, a transfer in progress is (rightly) reported half done."""
    check_type("history", history, History)
    ts = _check_transfers(transfers)
    acts = leg_actions(history)
    violations: list[dict[str, Any]] = []
    outcomes: dict[str, str] = {}
    for t in sorted(ts, key=lambda t: t.tid):
        applied: dict[str, bool] = {}
        backward = False
        for p in t.participants:
            seq = [a for _, a in acts.get((t.tid, p), [])]
            n_apply = sum(1 for a in seq if a in APPLY)
            n_undo = sum(1 for a in seq if a in UNDO)
            if n_apply > 1:
                violations.append({"kind": "double_apply", "tid": t.tid, "participant": p,
                                   "times": n_apply})
            if n_undo > n_apply or n_undo > 1:
                violations.append({"kind": "double_compensation", "tid": t.tid,
                                   "participant": p, "times": n_undo})
            holds = [a for a in seq if a in HOLD or a in UNHOLD]
            if holds and holds[-1] in HOLD:
                violations.append({"kind": "frozen", "tid": t.tid, "participant": p,
                                   "action": holds[-1]})
            applied[p] = n_apply - n_undo > 0
            backward = backward or any(a in BACKWARD for a in seq)
        if all(applied.values()):
            outcomes[t.tid] = "applied"
        elif not any(applied.values()):
            outcomes[t.tid] = "undone"
        else:
            outcomes[t.tid] = "partial"
            violations.append({
                "kind": "lost_compensation" if backward else "incomplete", "tid": t.tid,
                "applied": sorted(p for p, a in applied.items() if a),
                "not_applied": sorted(p for p, a in applied.items() if not a),
            })
    for inv, comp in history.pairs():
        if inv.f != "txn" or comp is None or comp.type not in ("ok", "fail"):
            continue
        tid = str(inv.value)
        want = "applied" if comp.type == "ok" else "undone"
        got = outcomes.get(tid)
        if got is not None and got != want:
            violations.append({"kind": "client_mismatch", "tid": tid, "client": inv.process,
                               "told": comp.type, "outcome": got})
    known = {t.tid for t in ts}
    for e in history.events:
        if e.name == "conflict" and e.data.get("tid") in known:
            violations.append({"kind": "conflict", "tid": e.data["tid"], "participant": e.node,
                               "state": e.data.get("state"), "decision": e.data.get("decision")})
    return PracticeResult(
        check="eventual_atomicity", valid=not violations,
        explanation=_explain(outcomes, violations, history.seed),
        violations=violations, seed=history.seed, outcomes=outcomes,
    )


def _explain(outcomes: dict[str, str], violations: list[dict[str, Any]], seed: Any) -> str:
    n = len(outcomes)
    applied = sum(1 for o in outcomes.values() if o == "applied")
    undone = sum(1 for o in outcomes.values() if o == "undone")
    if not violations:
        return (f"Eventually atomic: {n} transfers, {applied} applied at every leg, {undone} "
                "undone at every leg; nothing left frozen, nothing applied twice.")
    replay = f" (replay with seed={seed})" if seed is not None else ""
    lines = [f"NOT eventually atomic: {len(violations)} violation(s) among {n} "
             f"transfers{replay}."]
    for v in violations[:MAX_LINES]:
        k, tid = v["kind"], v["tid"]
        if k in ("incomplete", "lost_compensation"):
            why = ("a compensation or cancel was lost" if k == "lost_compensation"
                   else "the forward path stopped half way")
            lines.append(f"- {tid}: applied at {', '.join(v['applied'])} but not at "
                         f"{', '.join(v['not_applied'])} ({why})")
        elif k == "frozen":
            lines.append(f"- {tid}: {v['participant']} still holds a reservation "
                         f"({v['action']}) at the end")
        elif k in ("double_apply", "double_compensation"):
            what = "applied" if k == "double_apply" else "compensated"
            lines.append(f"- {tid}: {v['participant']} {what} it {v['times']} times")
        elif k == "client_mismatch":
            lines.append(f"- {tid}: client {v['client']} was told {v['told']}, but the transfer "
                         f"ended {v['outcome']}")
        else:
            lines.append(f"- {tid}: {v['participant']} got {v['decision']} while "
                         f"{v['state']} (a conflict)")
    if len(violations) > MAX_LINES:
        lines.append(f"- ... and {len(violations) - MAX_LINES} more")
    return "\n".join(lines)


# -- isolation -----------------------------------------------------------------------------------
def _visible_after(action: str, delta: int, current: int | None) -> int | None:
    """A leg's visibility after ``action``: 1 (its effect is visible), 0 (not), None (hidden
    behind a lock: a reader waits)."""
    if action == "lock":
        return None
    if action in ("release", "cancel", "compensate"):
        return 0
    if action == "reserve":  # money frozen for an outgoing transfer is gone from the balance
        return 1 if delta < 0 else 0
    if action in APPLY:
        return 1
    return current


def visibility_windows(history: History, transfers: Iterable[Transfer],
                       end_ms: float | None = None) -> pd.DataFrame:
    """The intervals during which each transfer was *visibly half done*: some leg's effect
    visible to a reader and another leg's not (legs hidden behind 2PC locks do not count).
    Columns :data:`WINDOW_COLUMNS`; a window still open at the end closes at ``end_ms``
    (default: the last event of the run)."""
    check_type("history", history, History)
    ts = _check_transfers(transfers)
    acts = leg_actions(history)
    end = float(end_ms) if end_ms is not None else max(
        [0.0] + [e.time for e in history.events] + [o.time for o in history.ops])
    rows = []
    for t in sorted(ts, key=lambda t: t.tid):
        changes = sorted((time, p, a) for p in t.participants
                         for time, a in acts.get((t.tid, p), []))
        state: dict[str, int | None] = {p: 0 for p in t.participants}
        start: float | None = None
        i = 0
        while i < len(changes):
            now = changes[i][0]
            while i < len(changes) and changes[i][0] == now:
                _, p, a = changes[i]
                state[p] = _visible_after(a, t.delta_of(p), state[p])
                i += 1
            shown = {v for v in state.values() if v is not None}
            half = shown == {0, 1}
            if half and start is None:
                start = now
            elif not half and start is not None:
                rows.append({"tid": t.tid, "start_ms": start, "end_ms": now,
                             "duration_ms": now - start})
                start = None
        if start is not None and end > start:
            rows.append({"tid": t.tid, "start_ms": start, "end_ms": end,
                         "duration_ms": end - start})
    df = pd.DataFrame(rows, columns=WINDOW_COLUMNS)
    df.attrs["seed"] = history.seed
    return df


def union_ms(windows: pd.DataFrame) -> float:
    """Total time covered by at least one window (overlaps counted once)."""
    total, cur_start, cur_end = 0.0, None, None
    for s, e in sorted(zip(windows["start_ms"], windows["end_ms"], strict=True)):
        if cur_end is None or s > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = s, e
        else:
            cur_end = max(cur_end, e)
    if cur_end is not None:
        total += cur_end - cur_start
    return float(total)


def half_done_over_time(windows: pd.DataFrame, t0: float, t1: float,
                        step_ms: float = 1.0) -> pd.DataFrame:
    """How many transfers were visibly half done at each instant ``t0, t0 + step_ms, ...``
    (columns ``time_ms``, ``half_done``)."""
    check_type("windows", windows, pd.DataFrame)
    times, counts = [], []
    t = float(t0)
    while t <= t1:
        n = int(((windows["start_ms"] <= t) & (windows["end_ms"] > t)).sum())
        times.append(t)
        counts.append(n)
        t += step_ms
    return pd.DataFrame({"time_ms": times, "half_done": counts})


def settle_times(history: History, transfers: Iterable[Transfer]) -> pd.DataFrame:
    """Per transfer: when the client invoked it, when its last leg changed for good (the last
    apply, confirm, cancel, compensate, release, refuse or tombstone at any participant), and
    ``converge_ms`` between the two."""
    check_type("history", history, History)
    ts = _check_transfers(transfers)
    acts = leg_actions(history)
    invoked = {str(inv.value): inv.time for inv, _ in history.pairs() if inv.f == "txn"}
    rows = []
    for t in sorted(ts, key=lambda t: t.tid):
        last = max((time for p in t.participants for time, a in acts.get((t.tid, p), [])
                    if a not in ("duplicate", "lock", "reserve", "suspend")), default=None)
        start = invoked.get(t.tid)
        rows.append({"tid": t.tid, "invoke_ms": start, "settled_ms": last,
                     "converge_ms": (last - start) if last is not None and start is not None
                     else None})
    return pd.DataFrame(rows, columns=["tid", "invoke_ms", "settled_ms", "converge_ms"])


__all__ = [
    "WINDOW_COLUMNS",
    "PracticeResult",
    "eventual_atomicity",
    "half_done_over_time",
    "leg_actions",
    "settle_times",
    "union_ms",
    "visibility_windows",
]
