"""Checkers for the properties that are simpler than linearizability.

Each is a pure function returning a small result object: ``valid`` (a bool), ``explanation`` (plain
English, naming the offending items) and ``violations`` (the offending items themselves, also under
a name that fits the check: ``duplicates``, ``overlaps``, ``differing``); ``bool(result)`` is
``valid``.

- :func:`unique_ids`: an ID generator never hands out the same ID twice.
- :func:`monotonic`: the IDs a process receives (or all IDs, in completion order) strictly increase.
- :func:`mutual_exclusion`: no two clients believed they held a lock at the same true time;
  :func:`holds_from_history` turns a history of ``acquire`` / ``release`` ops into such intervals.
- :func:`convergence`: every replica ended in the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_choice, check_number, check_type
from dslab.check.linearizability import op_records
from dslab.check.models import canonical

#: How many offending items an explanation lists before summarising the rest.
MAX_LINES = 10


@dataclass(repr=False)
class PropertyResult:
    """The verdict of one property check."""

    check: str
    valid: bool
    explanation: str
    violations: list[Any] = field(default_factory=list)
    seed: Any = None

    def __bool__(self) -> bool:
        return self.valid

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(check={self.check!r}, valid={self.valid}, "
            f"violations={len(self.violations)}, seed={self.seed})"
        )

    def __str__(self) -> str:
        return self.explanation


class UniqueIdsResult(PropertyResult):
    @property
    def duplicates(self) -> list[dict]:
        """One dict per repeated ID: ``value``, ``processes`` and ``records`` that received it."""
        return self.violations


class MonotonicResult(PropertyResult):
    pass


class MutualExclusionResult(PropertyResult):
    @property
    def overlaps(self) -> list[dict]:
        """One dict per overlapping pair: ``a``, ``b`` (the intervals), ``start_ms``, ``end_ms``,
        ``overlap_ms``."""
        return self.violations


@dataclass(repr=False)
class ConvergenceResult(PropertyResult):
    #: When states are dicts: the keys whose values are not the same on every replica.
    differing_keys: list[Any] = field(default_factory=list)

    @property
    def differing(self) -> list[Any]:
        """Replicas whose final state differs from the most common one."""
        return self.violations


def _more(lines: list[str], n: int) -> None:
    if n > MAX_LINES:
        lines.append(f"  ... and {n - MAX_LINES} more")


def _completions(history: Any, f: str, name: str) -> tuple[list[tuple[int, dict]], Any]:
    check_type("f", f, str)
    recs, seed = op_records(history, name=name)
    return [(p, r) for p, r in recs if r["type"] == "ok" and r["f"] == f], seed


# -- ID generators -----------------------------------------------------------------------------
def unique_ids(history_or_records: Any, f: str = "generate") -> UniqueIdsResult:
    """Every ``ok`` completion of ``f`` returned a distinct value."""
    oks, seed = _completions(history_or_records, f, "history_or_records")
    seen: dict[Any, list[tuple[int, dict]]] = {}
    for pos, rec in oks:
        seen.setdefault(canonical(rec["value"]), []).append((pos, rec))
    dups = [
        {
            "value": got[0][1]["value"],
            "processes": [r["process"] for _, r in got],
            "records": [r for _, r in got],
            "positions": [p for p, _ in got],
        }
        for got in seen.values()
        if len(got) > 1
    ]
    if not dups:
        text = f"Unique: all {len(oks)} values returned by ok {f!r} operations are distinct."
        return UniqueIdsResult("unique_ids", True, text, seed=seed)
    lines = [
        f"Not unique: {len(dups)} value{'s were' if len(dups) > 1 else ' was'} handed out more "
        f"than once among {len(oks)} ok {f!r} operations:"
    ]
    for d in dups[:MAX_LINES]:
        who = ", ".join(
            f"process {p!r} (history[{i}])"
            for p, i in zip(d["processes"], d["positions"], strict=True)
        )
        lines.append(f"  {d['value']!r} went to {who}")
    _more(lines, len(dups))
    return UniqueIdsResult("unique_ids", False, "\n".join(lines), dups, seed)


def monotonic(
    history_or_records: Any, f: str = "generate", per: str = "process"
) -> MonotonicResult:
    """Values returned by ``ok`` completions of ``f`` strictly increase.

    ``per="process"``: for each process separately, in the order it received them.
    ``per="global"``: across all processes, in completion (real-time) order.
    """
    check_choice("per", per, ("process", "global"))
    oks, seed = _completions(history_or_records, f, "history_or_records")
    last: dict[Any, tuple[int, dict]] = {}
    bad = []
    for pos, rec in oks:
        who = canonical(rec["process"]) if per == "process" else None
        if who in last:
            ppos, prev = last[who]
            try:
                increasing = rec["value"] > prev["value"]
            except TypeError:
                raise ValueError(
                    f"history_or_records[{pos}]['value']={rec['value']!r} is not allowed: it "
                    f"cannot be compared with {prev['value']!r} (history_or_records[{ppos}]); "
                    "monotonic needs values that can be ordered"
                ) from None
            if not increasing:
                bad.append(
                    {
                        "process": rec["process"] if per == "process" else None,
                        "previous": prev["value"],
                        "value": rec["value"],
                        "previous_record": prev,
                        "record": rec,
                        "previous_position": ppos,
                        "position": pos,
                    }
                )
        last[who] = (pos, rec)
    scope = "each process" if per == "process" else "all processes, in completion order"
    if not bad:
        text = (
            f"Monotonic: the {len(oks)} values returned by ok {f!r} operations strictly increase "
            f"for {scope}."
        )
        return MonotonicResult("monotonic", True, text, seed=seed)
    lines = [f"Not monotonic: {len(bad)} value(s) did not increase for {scope}:"]
    for b in bad[:MAX_LINES]:
        rec, prev = b["record"], b["previous_record"]
        lines.append(
            f"  process {rec['process']!r} got {b['value']!r} (history[{b['position']}]) after "
            f"{'process ' + repr(prev['process']) + ' got ' if per == 'global' else ''}"
            f"{b['previous']!r} (history[{b['previous_position']}])"
        )
    _more(lines, len(bad))
    return MonotonicResult("monotonic", False, "\n".join(lines), bad, seed)


# -- locks -------------------------------------------------------------------------------------
def holds_from_history(
    history: Any, acquire_f: str = "acquire", release_f: str = "release"
) -> list[dict]:
    """The intervals during which each process believed it held the lock.

    A hold runs from the ``ok`` completion of an ``acquire_f`` to the invocation of the next
    ``release_f`` by the same process, or to the end of the history (the last op's time). Returns
    dicts ``{"holder", "start_ms", "end_ms"}`` sorted by start. Records need true times.
    """
    check_type("acquire_f", acquire_f, str)
    check_type("release_f", release_f, str)
    recs, _ = op_records(history)
    for pos, rec in recs:
        if rec.get("time") is None:
            raise ValueError(
                f"history[{pos}]={rec!r} has no 'time'; holds_from_history needs true times in ms"
            )
    end = max((float(r["time"]) for _, r in recs), default=0.0)
    holding: dict[Any, tuple[int, dict]] = {}
    holds = []
    for pos, rec in recs:
        proc = canonical(rec["process"])
        if rec["f"] == acquire_f and rec["type"] == "ok" and proc not in holding:
            holding[proc] = (pos, rec)
        elif rec["f"] == release_f and rec["type"] == "invoke" and proc in holding:
            spos, start = holding.pop(proc)
            holds.append((spos, start["process"], float(start["time"]), float(rec["time"])))
    for spos, start in holding.values():
        holds.append((spos, start["process"], float(start["time"]), end))
    holds.sort(key=lambda h: (h[2], h[0]))
    return [{"holder": h, "start_ms": s, "end_ms": e} for _, h, s, e in holds]


def _interval(i: int, item: Any) -> dict:
    where = f"intervals[{i}]"
    if isinstance(item, dict):
        missing = [k for k in ("holder", "start_ms", "end_ms") if k not in item]
        if missing:
            raise ValueError(
                f"{where}={item!r} is missing {missing}; an interval is a dict with keys "
                "'holder', 'start_ms', 'end_ms' or a tuple (holder, start_ms, end_ms)"
            )
        holder, start, end = item["holder"], item["start_ms"], item["end_ms"]
    elif isinstance(item, (list, tuple)) and len(item) == 3:
        holder, start, end = item
    else:
        raise ValueError(
            f"{where}={item!r} is not allowed; an interval is a dict with keys 'holder', "
            "'start_ms', 'end_ms' or a tuple (holder, start_ms, end_ms)"
        )
    check_number(f"{where} start_ms", start)
    if end is None:
        end = float("inf")  # still held when the run ended
    else:
        check_number(f"{where} end_ms", end)
    if end < start:
        raise ValueError(f"{where} end_ms={end!r} is not allowed; it must be >= start_ms={start!r}")
    return {"holder": holder, "start_ms": float(start), "end_ms": float(end)}


def mutual_exclusion(intervals: Any) -> MutualExclusionResult:
    """No two holders' intervals overlap (touching endpoints are fine).

    ``intervals``: dicts ``{"holder", "start_ms", "end_ms"}`` or tuples ``(holder, start_ms,
    end_ms)`` of true time during which a client believed it held the lock (``end_ms=None``: never
    released), or a History, read with :func:`holds_from_history`'s defaults.
    """
    from dslab.history import History

    seed = None
    if isinstance(intervals, History):
        seed = intervals.seed
        intervals = holds_from_history(intervals)
    if not isinstance(intervals, (list, tuple)):
        raise TypeError(
            f"intervals={intervals!r} has type {type(intervals).__name__}; expected a list of "
            "(holder, start_ms, end_ms) intervals or a History"
        )
    ivs = [_interval(i, item) for i, item in enumerate(intervals)]
    order = sorted(range(len(ivs)), key=lambda i: (ivs[i]["start_ms"], ivs[i]["end_ms"], i))
    active: list[int] = []
    overlaps = []
    for i in order:
        cur = ivs[i]
        active = [j for j in active if ivs[j]["end_ms"] > cur["start_ms"]]
        for j in active:
            other = ivs[j]
            if canonical(other["holder"]) == canonical(cur["holder"]):
                continue
            start = cur["start_ms"]
            end = min(other["end_ms"], cur["end_ms"])
            overlaps.append(
                {"a": other, "b": cur, "start_ms": start, "end_ms": end, "overlap_ms": end - start}
            )
        active.append(i)
    if not overlaps:
        text = f"Mutual exclusion held: no two of the {len(ivs)} holds overlap."
        return MutualExclusionResult("mutual_exclusion", True, text, seed=seed)
    lines = [f"Mutual exclusion violated: {len(overlaps)} overlapping pair(s) of holds:"]
    for o in overlaps[:MAX_LINES]:
        a, b = o["a"], o["b"]
        lines.append(
            f"  {a['holder']!r} held the lock over [{a['start_ms']:g}, {a['end_ms']:g}] ms and "
            f"{b['holder']!r} over [{b['start_ms']:g}, {b['end_ms']:g}] ms: both believed they "
            f"held it for {o['overlap_ms']:g} ms (from {o['start_ms']:g} to {o['end_ms']:g} ms)"
        )
    _more(lines, len(overlaps))
    return MutualExclusionResult("mutual_exclusion", False, "\n".join(lines), overlaps, seed)


# -- replicas ----------------------------------------------------------------------------------
_MISSING = object()


def convergence(states: Any) -> ConvergenceResult:
    """All replicas ended in the same state.

    ``states`` maps a replica name to its final state (any JSON-like value). The most common state
    (ties: the one of the first replica in name order) is the reference; the replicas that differ
    from it are ``differing``, and when states are dicts, ``differing_keys`` are the keys whose
    values are not the same on every replica.
    """
    check_type("states", states, dict)
    names = sorted(states, key=lambda n: (type(n).__name__, str(n)))
    groups: dict[Any, list[Any]] = {}
    for n in names:
        groups.setdefault(canonical(states[n]), []).append(n)
    if len(groups) <= 1:
        text = f"Converged: all {len(names)} replicas hold the same state."
        return ConvergenceResult("convergence", True, text)
    ref = max(groups.values(), key=len)  # the first largest group, in name order
    differing = [n for n in names if n not in ref]
    keys: list[Any] = []
    if all(isinstance(states[n], dict) for n in names):
        every = {k for n in names for k in states[n]}
        for k in sorted(every, key=lambda k: (type(k).__name__, str(k))):
            if len({canonical(states[n].get(k, _MISSING)) for n in names}) > 1:
                keys.append(k)
    lines = [
        f"Not converged: {len(differing)} of {len(names)} replicas differ from the state held by "
        f"{', '.join(map(str, ref))}: {', '.join(map(str, differing))}."
    ]
    if keys:
        lines.append(f"Keys that differ: {', '.join(map(repr, keys))}.")
        for k in keys[:MAX_LINES]:
            vals: dict[Any, list[Any]] = {}
            for n in names:
                v = states[n].get(k, _MISSING)
                vals.setdefault(canonical(v), [v, []])[1].append(n)
            shown = "; ".join(
                f"{', '.join(map(str, ns))}: {'missing' if v is _MISSING else repr(v)}"
                for v, ns in vals.values()
            )
            lines.append(f"  {k!r} -> {shown}")
        _more(lines, len(keys))
    else:
        for n in differing[:MAX_LINES]:
            lines.append(f"  {n}: {states[n]!r} (expected {states[ref[0]]!r})")
        _more(lines, len(differing))
    return ConvergenceResult("convergence", False, "\n".join(lines), differing, differing_keys=keys)
