"""Checkers for atomic commitment: pure functions over a run's history (or the participants' final
states), each with a plain-English verdict.

The properties (Bernstein, Hadzilacos and Goodman 1987, section 7.2, "AC1" to "AC5"):

- **AC1, agreement**: no transaction is committed at one participant and aborted at another.
- **AC2, no reversal**: a participant never changes a decision it reached.
- **AC3, validity**: a transaction commits only if every participant voted YES.
- **The client's view**: a client told "committed" never sees a participant abort, and a client
  told "aborted" (a definite failure) never sees one commit.
- **AC5, termination** (``require_decided=True``): once every failure is repaired, every
  participant decides. A participant still in doubt at the end of a run is *blocked*.

:func:`atomicity` checks them; :func:`in_doubt` measures blocking: for each participant and
transaction, the time from its YES vote until it learned the outcome, during which it held the
transaction's locks (crashed or not: the locks are re-taken from the log on restart).
:func:`blocking` sums that per participant.

:func:`coordinator_agreement` extends AC1 and AC2 to the coordinator (Bernstein et al. count it
among the processes that decide): a coordinator never logs two different decisions for one
transaction, and no participant reaches a decision other than the one its coordinator logged. It
is what catches a coordinator that forgets, or rewrites, its decision across a restart.

What the checkers read (the events of :mod:`dslab.commit.resource` and :mod:`.coordinator`):
``state`` (``tid``, ``state``, ``by``), ``vote`` (``tid``, ``yes``), ``begin`` (``tid``,
``participants``), ``decide`` (``tid``, ``outcome``: a coordinator forced its decision), and the
client operations ``txn`` (value: the tid) completed ``ok`` / ``fail``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dslab._validate import check_type
from dslab.check.properties import PropertyResult
from dslab.history import History

FINAL = ("committed", "aborted")
IN_DOUBT_COLUMNS = [
    "participant", "tid", "start_ms", "end_ms", "in_doubt_ms", "outcome", "decided_by",
]
#: How many violations an explanation lists before summarising the rest.
MAX_LINES = 8


@dataclass(repr=False)
class AtomicityResult(PropertyResult):
    """The verdict of :func:`atomicity`. ``violations`` are dicts with a ``kind`` (``split``,
    ``reversed``, ``commit_without_yes``, ``client_mismatch``, ``undecided``) and the details."""

    #: tid -> {participant: its final state, or its last state if undecided}
    outcomes: dict[str, dict[str, str]] = field(default_factory=dict)
    #: (tid, participant, state) of every participant still in doubt at the end
    undecided: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def splits(self) -> list[dict[str, Any]]:
        return [v for v in self.violations if v["kind"] == "split"]


def _end(h: History) -> float:
    times = [0.0]
    times += [e.time for e in h.events] + [f.time for f in h.faults] + [o.time for o in h.ops]
    for m in h.messages:
        times.append(m.recv_time if m.recv_time is not None else m.send_time)
    return max(times)


def _states(h: History) -> dict[tuple[str, str], list[tuple[float, str, str]]]:
    """(participant, tid) -> [(time, state, by), ...] from the ``state`` events."""
    out: dict[tuple[str, str], list[tuple[float, str, str]]] = {}
    for e in h.events:
        if e.name == "state":
            out.setdefault((e.node, e.data["tid"]), []).append(
                (e.time, e.data["state"], e.data.get("by", ""))
            )
    return out


def _final_of(seq: list[tuple[float, str, str]]) -> tuple[float, str, str] | None:
    return next((s for s in seq if s[1] in FINAL), None)


def participant_states(history: History) -> dict[str, dict[str, str]]:
    """{participant: {tid: state}}: each participant's first final state of each transaction, or
    its last state if it never decided (the shape :func:`atomicity` also accepts)."""
    check_type("history", history, History)
    out: dict[str, dict[str, str]] = {}
    for (p, tid), seq in sorted(_states(history).items()):
        final = _final_of(seq)
        out.setdefault(p, {})[tid] = final[1] if final else seq[-1][1]
    return out


def atomicity(data: History | Mapping[str, Mapping[str, str]], *,
              require_decided: bool = False) -> AtomicityResult:
    """Check atomic commitment (AC1, AC2, AC3, the client's view; AC5 if ``require_decided``).

    ``data``: a run's :class:`~dslab.history.History`, or the participants' final states
    ``{participant: {tid: state}}`` (then only AC1 and AC5 can be checked).
    """
    check_type("require_decided", require_decided, bool)
    if isinstance(data, History):
        h, seed = data, data.seed
        by_p = participant_states(h)
        seqs = _states(h)
    elif isinstance(data, Mapping):
        h, seed, seqs = None, None, {}
        by_p = {}
        for p, states in data.items():
            if not isinstance(states, Mapping):
                raise TypeError(f"data[{p!r}]={states!r} must map tid -> state")
            by_p[str(p)] = {str(t): str(s) for t, s in states.items()}
    else:
        raise TypeError(
            f"data={data!r} has type {type(data).__name__}; expected a History or a mapping "
            "{participant: {tid: state}}"
        )
    outcomes: dict[str, dict[str, str]] = {}
    for p, states in sorted(by_p.items()):
        for tid, s in states.items():
            outcomes.setdefault(tid, {})[p] = s
    outcomes = {t: dict(sorted(o.items())) for t, o in sorted(outcomes.items())}
    violations: list[dict[str, Any]] = []
    for tid, o in outcomes.items():
        committed = [p for p, s in o.items() if s == "committed"]
        aborted = [p for p, s in o.items() if s == "aborted"]
        if committed and aborted:
            violations.append({"kind": "split", "tid": tid, "committed": committed,
                               "aborted": aborted})
    if h is not None:
        violations += _history_violations(h, seqs, outcomes)
    undecided = [(t, p, s) for t, o in outcomes.items() for p, s in o.items()
                 if s not in FINAL and s != "none"]
    if require_decided:
        violations += [{"kind": "undecided", "tid": t, "participant": p, "state": s}
                       for t, p, s in undecided]
    return AtomicityResult(
        check="atomicity", valid=not violations,
        explanation=_explain(outcomes, violations, undecided, seed),
        violations=violations, seed=seed, outcomes=outcomes, undecided=undecided,
    )


def _history_violations(h: History, seqs: dict, outcomes: dict[str, dict[str, str]]) -> list:
    out: list[dict[str, Any]] = []
    for (p, tid), seq in sorted(seqs.items()):
        finals = sorted({s for _, s, _ in seq if s in FINAL})
        if len(finals) > 1:
            out.append({"kind": "reversed", "tid": tid, "participant": p, "states": finals})
    yes: dict[str, set[str]] = {}
    parts: dict[str, set[str]] = {}
    for e in h.events:
        if e.name == "vote" and e.data.get("yes"):
            yes.setdefault(e.data["tid"], set()).add(e.node)
        elif e.name == "begin":
            parts.setdefault(e.data["tid"], set()).update(e.data.get("participants", []))
    for tid, o in outcomes.items():
        if "committed" in o.values():
            everyone = parts.get(tid, set()) | set(o)
            missing = sorted(everyone - yes.get(tid, set()))
            if missing:
                out.append({"kind": "commit_without_yes", "tid": tid, "without_yes": missing})
    for inv, comp in h.pairs():
        if inv.f != "txn" or comp is None or comp.type not in ("ok", "fail"):
            continue
        tid = str(inv.value)
        o = outcomes.get(tid, {})
        wrong = "aborted" if comp.type == "ok" else "committed"
        bad = sorted(p for p, s in o.items() if s == wrong)
        if bad:
            told = "committed" if comp.type == "ok" else "aborted"
            out.append({"kind": "client_mismatch", "tid": tid, "client": inv.process,
                        "told": told, "participants": bad, "state": wrong})
    return out


def _explain(outcomes: dict, violations: list, undecided: list, seed: Any) -> str:
    n = len(outcomes)
    committed = sum(1 for o in outcomes.values() if set(o.values()) == {"committed"})
    aborted = sum(1 for o in outcomes.values() if set(o.values()) <= {"aborted", "none"})
    replay = f" (replay with seed={seed})" if seed is not None else ""
    if not violations:
        text = (f"Atomic: {n} transactions, {committed} committed at every participant, "
                f"{aborted} aborted (or never started) everywhere")
        if undecided:
            text += f"; {len(undecided)} participant(s) still in doubt at the end (blocked)"
        return text + "."
    lines = [f"NOT atomic: {len(violations)} violation(s) among {n} transactions{replay}."]
    for v in violations[:MAX_LINES]:
        k = v["kind"]
        if k == "split":
            lines.append(f"- {v['tid']}: committed at {', '.join(v['committed'])} but aborted "
                         f"at {', '.join(v['aborted'])} (a split decision)")
        elif k == "reversed":
            both = " and ".join(v["states"])
            lines.append(f"- {v['tid']}: {v['participant']} reached both {both}")
        elif k == "commit_without_yes":
            lines.append(f"- {v['tid']}: committed without a YES vote from "
                         f"{', '.join(v['without_yes'])}")
        elif k == "client_mismatch":
            lines.append(f"- {v['tid']}: client {v['client']} was told {v['told']}, but "
                         f"{', '.join(v['participants'])} {v['state']}")
        else:
            lines.append(f"- {v['tid']}: {v['participant']} is still {v['state']} (in doubt) "
                         "at the end of the run")
    if len(violations) > MAX_LINES:
        lines.append(f"- ... and {len(violations) - MAX_LINES} more")
    return "\n".join(lines)


def coordinator_agreement(history: History) -> PropertyResult:
    """AC1 and AC2 with the coordinator counted: each coordinator's ``decide`` events for a
    transaction all carry the same outcome, and every participant that decided the transaction
    (:func:`participant_states`) reached that outcome. Transactions no coordinator decided are
    left to :func:`atomicity`. (For 2PC; a 3PC participant may decide without its coordinator.)"""
    check_type("history", history, History)
    decided: dict[str, tuple[str, float, str]] = {}  # tid -> (outcome, time, coordinator)
    violations: list[dict[str, Any]] = []
    for e in history.events:
        if e.name != "decide" or e.data.get("outcome") not in FINAL:
            continue
        tid, outcome = e.data["tid"], e.data["outcome"]
        first = decided.setdefault(tid, (outcome, e.time, e.node))
        if first[0] != outcome:
            violations.append({"kind": "coordinator_changed", "tid": tid, "node": e.node,
                               "first": first[0], "first_ms": first[1], "then": outcome,
                               "then_ms": e.time})
    for p, states in participant_states(history).items():
        for tid, state in sorted(states.items()):
            if tid in decided and state in FINAL and state != decided[tid][0]:
                violations.append({"kind": "participant_disagrees", "tid": tid, "participant": p,
                                   "state": state, "decided": decided[tid][0],
                                   "coordinator": decided[tid][2]})
    seed = history.seed
    if not violations:
        return PropertyResult("coordinator_agreement", True,
                              f"Every participant reached the decision its coordinator logged "
                              f"({len(decided)} transactions decided).", seed=seed)
    lines = [f"{len(violations)} disagreement(s) with the coordinator's log"
             + (f" (replay with seed={seed})" if seed is not None else "") + ":"]
    for v in violations[:MAX_LINES]:
        if v["kind"] == "coordinator_changed":
            lines.append(f"- {v['tid']}: {v['node']} logged {v['first']} at "
                         f"{v['first_ms']:.1f} ms, then {v['then']} at {v['then_ms']:.1f} ms "
                         "(a logged decision changed)")
        else:
            lines.append(f"- {v['tid']}: {v['coordinator']} logged {v['decided']}, but "
                         f"{v['participant']} {v['state']}")
    if len(violations) > MAX_LINES:
        lines.append(f"- ... and {len(violations) - MAX_LINES} more")
    return PropertyResult("coordinator_agreement", False, "\n".join(lines), violations, seed)


def in_doubt(history: History, end_ms: float | None = None) -> pd.DataFrame:
    """One row per (participant, transaction) that voted YES: from the vote (``start_ms``) until
    the participant learned the outcome (``end_ms``, or the end of the run if it never did:
    ``outcome="undecided"``). ``in_doubt_ms`` is the time it held the transaction's locks not
    knowing the outcome; ``decided_by`` says how it learned (``coordinator``, ``peer``,
    ``termination``, ``backup``, ``timeout``, ``asked``)."""
    check_type("history", history, History)
    end = _end(history) if end_ms is None else float(end_ms)
    rows = []
    for (p, tid), seq in sorted(_states(history).items()):
        start = next((t for t, s, _ in seq if s == "prepared"), None)
        if start is None:
            continue
        final = _final_of(seq)
        stop = final[0] if final else max(end, start)
        rows.append({
            "participant": p, "tid": tid, "start_ms": start, "end_ms": stop,
            "in_doubt_ms": stop - start, "outcome": final[1] if final else "undecided",
            "decided_by": final[2] if final else None,
        })
    df = pd.DataFrame(rows, columns=IN_DOUBT_COLUMNS)
    df.attrs["seed"] = history.seed
    return df


def blocking(history: History, end_ms: float | None = None) -> pd.DataFrame:
    """Per participant: transactions it voted YES for, the total and the longest time it spent in
    doubt holding their locks (ms), and how many it never decided (blocked until the end)."""
    d = in_doubt(history, end_ms)
    cols = ["participant", "voted_yes", "in_doubt_ms_total", "in_doubt_ms_max", "undecided"]
    if d.empty:
        out = pd.DataFrame(columns=cols)
    else:
        g = d.groupby("participant", sort=True)
        out = pd.DataFrame({
            "voted_yes": g.size(),
            "in_doubt_ms_total": g["in_doubt_ms"].sum(),
            "in_doubt_ms_max": g["in_doubt_ms"].max(),
            "undecided": g["outcome"].apply(lambda s: int((s == "undecided").sum())),
        }).reset_index()[cols]
    out.attrs["seed"] = history.seed
    return out


__all__ = [
    "IN_DOUBT_COLUMNS",
    "AtomicityResult",
    "atomicity",
    "blocking",
    "coordinator_agreement",
    "in_doubt",
    "participant_states",
]
