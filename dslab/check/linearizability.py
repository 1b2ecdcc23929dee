"""Is a concurrent history linearizable? A Wing-Gong-Lowe search with memoization.

A history is *linearizable* (Herlihy & Wing 1990) if every operation can be given a single instant,
its *linearization point*, somewhere between its invocation and its completion, such that running
the operations one at a time in the order of those points, through a sequential model (a register,
a cas-register, a key-value map: :mod:`dslab.check.models`), returns exactly what the clients saw.

The rules this checker applies to Jepsen-style outcomes:

- ``ok``: the operation happened; its linearization point lies between invocation and completion.
- ``fail``: it definitely did not happen; it is dropped.
- ``info`` (or an invocation that never completed): it may or may not have happened. A write or a
  cas may be linearized at any point after its invocation (its completion is at +infinity), or
  never. A read with an ``info`` outcome returned nothing and changes nothing, so it is dropped.

The search is the one of Wing & Gong (1993), "Testing and verifying concurrent objects", as
improved by Lowe (2017), "Testing for linearizability": walk a doubly linked list of invocation
and completion events, linearize any pending operation whose invocation comes before the first
completion still in the list, and backtrack when that completion is reached without its operation
having been linearized. A cache of the configurations already explored -- the set of linearized
operations as an integer bitmask, plus the model's state -- prunes repeated work (Lowe's
memoization). Operations on different keys of a map are independent, so by P-compositionality
(Horn & Kroening 2015, "Faster linearizability checking via P-compositionality") each key is
checked on its own, which turns one search over 10,000 operations into ten small ones. The
reporting follows Knossos (Kingsbury's checker for Jepsen): the failing operation is the first, in
completion order, that no consistent ordering of everything before it can include; the report
gives the states the register could have held at that moment and the longest consistent prefix.

The search is iterative (an explicit stack, no recursion) and works on precomputed integers: each
model state is interned to a small int and each operation becomes ``(pre, post)``, the state it
needs (or any) and the state it leaves. Indefinite operations would otherwise multiply the search
(every subset of timed-out writes is a different configuration), so the search tries them last and
prunes orderings that have an equivalent one it keeps: see :func:`_search`. Proving that a history
with many indefinite operations is *not* linearizable can still send a depth-first search through
countless dominated configurations, so past a budget of steps the checker switches to a
left-to-right search over the set of all configurations, in the style of Knossos's "linear"
algorithm, which discards dominated ones at every step (:func:`_search_frontier`). Both answer
the same question, and the tests hold them to a brute-force search. Deciding linearizability is
NP-complete in general (Gibbons & Korach 1997), so some histories stay out of reach: ``timeout_s``
bounds the wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from dslab._validate import check_choice, check_number
from dslab.check.models import ANY, Model, canonical, get_model

INF = float("inf")
REQUIRED_KEYS = ("process", "type", "f", "value")
OP_TYPES = ("invoke", "ok", "fail", "info")
#: How many operations that completed before the failing one are shown in the window.
WINDOW_CONTEXT = 3
#: How many operations of the consistent prefix the explanation lists.
PREFIX_LINES = 8
#: Steps (pushes and pops) the depth-first search may take, per op plus a base, before the checker
#: switches to the frontier search (:func:`_check_partition`).
BUDGET_PER_OP = 20
BUDGET_BASE = 20_000


# -- reading a history -------------------------------------------------------------------------
def op_records(history: Any, name: str = "history") -> tuple[list[tuple[int, dict]], Any]:
    """``([(position, record), ...], seed)``: the validated client-operation records of ``history``.

    ``history`` is a :class:`dslab.history.History` or a list of record dicts; records whose
    ``kind`` is not ``"op"`` are skipped (their positions still count, so errors name the index the
    caller sees).
    """
    from dslab.history import History

    if isinstance(history, History):
        records: list[Any] = history.client_ops()
        seed = history.seed
    elif isinstance(history, (list, tuple)):
        records = list(history)
        seed = None
    else:
        raise TypeError(
            f"{name}={history!r} has type {type(history).__name__}; expected a dslab History or "
            "a list of op record dicts"
        )
    out = []
    for pos, rec in enumerate(records):
        where = f"{name}[{pos}]"
        if not isinstance(rec, dict):
            raise ValueError(
                f"{where}={rec!r} is not allowed; each record must be a dict with keys "
                f"{list(REQUIRED_KEYS)}"
            )
        if rec.get("kind", "op") != "op":
            continue
        missing = [k for k in REQUIRED_KEYS if k not in rec]
        if missing:
            raise ValueError(
                f"{where}={rec!r} is missing {missing}; an op record needs keys "
                f"{list(REQUIRED_KEYS)}"
            )
        check_choice(f"{where}['type']", rec["type"], OP_TYPES)
        t = rec.get("time")
        if t is not None:
            check_number(f"{where}['time']", t)
        out.append((pos, rec))
    return out, seed


def _time(rec: dict, pos: int) -> float:
    t = rec.get("time")
    return float(pos) if t is None else float(t)


@dataclass(eq=False)
class _Op:
    """One operation: an invocation and its completion (or none)."""

    process: Any
    f: str
    key: Any
    arg: Any  # canonical: the value read / written, or (expected, new)
    inv_pos: int
    inv: dict
    comp_pos: int | None
    comp: dict | None
    outcome: str  # "ok", "info", or "invoke" (never completed)

    @property
    def required(self) -> bool:
        return self.outcome == "ok"

    @property
    def end_pos(self) -> float:
        return self.comp_pos if self.outcome == "ok" else INF

    @property
    def raw_value(self) -> Any:
        """The value as the history spells it (what was read, or what was written)."""
        if self.f == "read":
            return self.comp["value"]
        return self.inv["value"]

    def record(self) -> dict:
        """The op as one record dict: a copy of the completion record (of the invocation record if
        the op never completed) with ``value`` what was read or written, ``type`` the outcome
        (``"invoke"`` if it never completed), ``index`` / ``invoke_index`` the positions of the
        completion / invocation in the history (for a History, its op indices), and ``time`` /
        ``invoke_time`` their times (``time`` is None if it never completed; positions stand in for
        times when the history has none)."""
        base = self.comp if self.comp is not None else self.inv
        rec = dict(base)
        rec["type"] = self.outcome
        rec["value"] = self.raw_value
        rec["index"] = self.comp_pos if self.comp is not None else self.inv_pos
        rec["time"] = _time(self.comp, self.comp_pos) if self.comp is not None else None
        rec["invoke_time"] = _time(self.inv, self.inv_pos)
        rec["invoke_index"] = self.inv_pos
        return rec


def _parse(history: Any, model: Model) -> tuple[list[_Op], Any, bool]:
    """Pair invocations with completions and validate them against ``model``.

    Returns the operations that matter to the search (``fail`` ops and reads without an ``ok`` are
    dropped), the seed, and whether every record carried a time.
    """
    records, seed = op_records(history)
    open_: dict[Any, tuple[int, dict]] = {}
    pairs: list[tuple[int, dict, int | None, dict | None]] = []
    has_time = True
    for pos, rec in records:
        has_time = has_time and rec.get("time") is not None
        proc = canonical(rec["process"])
        where = f"history[{pos}]"
        if rec["type"] == "invoke":
            if proc in open_:
                j = open_[proc][0]
                raise ValueError(
                    f"{where}={rec!r} is not allowed: process {rec['process']!r} invokes again "
                    f"while its invocation history[{j}] is still open; a process must complete "
                    "an operation (ok, fail or info) before invoking another"
                )
            model.check_f(f"{where}['f']", rec["f"])
            open_[proc] = (pos, rec)
            pairs.append((pos, rec, None, None))
            continue
        if proc not in open_:
            raise ValueError(
                f"{where}={rec!r} is not allowed: process {rec['process']!r} has no open "
                "invocation; a completion (ok, fail or info) must follow an invocation by the "
                "same process"
            )
        ipos, inv = open_.pop(proc)
        if rec["f"] != inv["f"]:
            raise ValueError(
                f"{where}['f']={rec['f']!r} is not allowed: it completes history[{ipos}], an "
                f"invocation of f={inv['f']!r}; a completion must repeat its invocation's f"
            )
        pairs.append((pos, rec, ipos, inv))

    by_inv: dict[int, tuple[int, dict]] = {}
    for pos, rec, ipos, _inv in pairs:
        if ipos is not None:
            by_inv[ipos] = (pos, rec)
    ops = []
    for pos, rec, ipos, _inv in pairs:
        if ipos is not None:
            continue  # a completion; handled with its invocation
        comp_pos, comp = by_inv.get(pos, (None, None))
        outcome = "invoke" if comp is None else comp["type"]
        f = rec["f"]
        ok = outcome == "ok"
        key, arg = model.parse(
            f"history[{pos}]",
            f"history[{comp_pos}]",
            f,
            rec["value"],
            None if comp is None else comp["value"],
            ok,
        )
        if outcome == "fail" or (f == "read" and not ok):
            continue
        ops.append(_Op(rec["process"], f, key, arg, pos, rec, comp_pos, comp, outcome))
    return ops, seed, has_time


# -- the search --------------------------------------------------------------------------------
@dataclass
class _Outcome:
    valid: bool | None
    order: list[int] = field(default_factory=list)  # a linearization, or the longest prefix
    fail: int | None = None  # index of the op that cannot be linearized
    states: list[Any] = field(default_factory=list)  # states the object could be in, at `fail`
    explored: int = 0


class _Timeout(Exception):
    pass


class _OverBudget(Exception):
    pass


def _encode(ops: list[_Op]) -> tuple[list[int], list[int], list[Any]]:
    """``(pre, post, values)``: each op's transition on interned states (``pre`` -1: any state)."""
    values: list[Any] = [None]
    ids: dict[Any, int] = {None: 0}
    pre = [0] * len(ops)
    post = [0] * len(ops)
    for i, op in enumerate(ops):
        for j, v in enumerate(Model.transition(op.f, op.arg)):
            if v is ANY:
                sid = -1
            else:
                sid = ids.get(v)
                if sid is None:
                    sid = ids[v] = len(values)
                    values.append(v)
            (pre, post)[j][i] = sid
    return pre, post, values


def _check_limits(deadline: float | None, budget: int | None, steps: int, explored: int) -> None:
    if deadline is not None and perf_counter() > deadline:
        raise _Timeout(explored)
    if budget is not None and steps > budget:
        raise _OverBudget(explored)


def _search(ops: list[_Op], deadline: float | None, budget: int | None = None) -> _Outcome:
    """WGL/Lowe search over the operations of one partition (one register or one key).

    Completed (``ok``) operations live in Lowe's doubly linked list of calls and returns.
    Indefinite operations (``info`` or never completed) have no return, so they sit in a second
    list of calls only, and are tried *after* the completed ones: at each configuration the search
    first tries every completed operation that may go next, and only then an indefinite one whose
    invocation precedes the first pending return (the *frontier*).

    A configuration is (completed ops linearized, indefinite ops linearized, state), the first two
    as integer bitmasks. When a configuration is exhausted it is remembered; a new configuration is
    pruned if an exhausted one has the same completed ops and state and a subset of its indefinite
    ops: having linearized an indefinite op can only remove options (it may also never happen), so
    the new one cannot succeed either. With plain histories this is Lowe's cache.

    Two more rules keep indefinite ops from multiplying the search (each can only discard
    orderings that have an equivalent one that is kept): an indefinite op is linearized only if
    the very next op reads the state it leaves (a read or a cas: an indefinite write followed by
    another write, or by nothing, might as well never have happened); and of several pending
    indefinite ops with the same effect, only the earliest invoked is tried.

    Raises ``_Timeout`` past ``deadline`` (a ``perf_counter`` reading) and ``_OverBudget`` after
    ``budget`` steps (pushes and pops).
    """
    n = len(ops)
    pre, post, values = _encode(ops)
    is_req = [False] * n
    bits = [0] * n
    # Entry 2i is the call of op i, 2i+1 its return. Sentinels: the main list's head and tail
    # (2n, 2n+1) and the indefinite list's head and tail (2n+2, 2n+3).
    callpos: list[float] = [0.0] * (n + 2)
    callpos[n + 1] = INF  # the indefinite list's tail stops every scan
    retpos: list[float] = [0.0] * (n + 1)
    main_events = []
    opt_events = []
    n_req = n_opt = 0
    same: dict[tuple[int, int], int] = {}  # indefinite ops so far, per (pre, post), as a mask
    earlier = [0] * n  # indefinite ops invoked before op i with the same effect
    for i, op in enumerate(ops):  # ops come in invocation order
        callpos[i] = op.inv_pos
        if op.required:
            is_req[i] = True
            bits[i] = 1 << n_req
            n_req += 1
            retpos[i] = op.comp_pos
            main_events.append((op.inv_pos, 2 * i))
            main_events.append((op.comp_pos, 2 * i + 1))
        else:
            bits[i] = 1 << n_opt
            n_opt += 1
            opt_events.append((op.inv_pos, 2 * i))
            cls = (pre[i], post[i])
            earlier[i] = same.get(cls, 0)
            same[cls] = earlier[i] | bits[i]
    if n_req == 0:
        return _Outcome(True)
    main_events.sort()
    opt_events.sort()
    head, tail, ohead, otail = 2 * n, 2 * n + 1, 2 * n + 2, 2 * n + 3
    nxt = [0] * (2 * n + 4)
    prv = [0] * (2 * n + 4)
    for h, t, evs in ((head, tail, main_events), (ohead, otail, opt_events)):
        last = h
        for _, e in evs:
            nxt[last] = e
            prv[e] = last
            last = e
        nxt[last] = t
        prv[t] = last
    has_opt = n_opt > 0
    must_bit = 1 << n_opt  # in a cache key: "the last op was indefinite, so consume its state"

    done: dict[tuple[int, int], list[int]] = {}  # exhausted: (req mask, state) -> opt keys
    stack_ops: list[int] = []
    stack_states: list[int] = []
    stack_front: list[int] = []
    remaining = n_req
    state = 0
    lr = 0  # completed ops linearized
    lo = 0  # indefinite ops linearized
    must = False  # the last op linearized was indefinite: the next must read its state
    best_pos = -1.0
    best_op = -1
    best_stack: list[int] = []
    best_states: set[int] = set()
    steps = 0  # pushes and pops
    visited = 0  # configurations visited (pushes)
    front = -1  # the first pending return entry, while scanning indefinite ops
    e = nxt[head]
    main = True
    while True:
        if main and e & 1:  # the first pending return: now try the indefinite ops
            front = e
            main = False
            e = nxt[ohead]
        if main or callpos[e >> 1] < retpos[front >> 1]:
            i = e >> 1
            p = pre[i]
            if (p == state or (p < 0 and not must)) and (main or lo & earlier[i] == earlier[i]):
                ns = post[i]
                if main:
                    nlr, nlo, nkey = lr | bits[i], lo, lo
                else:
                    nlr, nlo = lr, lo | bits[i]
                    nkey = nlo | must_bit
                seen = done.get((nlr, ns))
                pruned = False
                if seen is not None:
                    if not has_opt:
                        pruned = True
                    else:
                        for o in seen:
                            if o | nkey == nkey:
                                pruned = True
                                break
                if not pruned:
                    visited += 1
                    stack_ops.append(i)
                    stack_states.append(state)
                    stack_front.append(front)
                    lr, lo, state = nlr, nlo, ns
                    must = not main
                    a, b = prv[e], nxt[e]  # lift the call ...
                    nxt[a] = b
                    prv[b] = a
                    if main:
                        r = e + 1
                        a, b = prv[r], nxt[r]  # ... and the return
                        nxt[a] = b
                        prv[b] = a
                        remaining -= 1
                        if not remaining:
                            return _Outcome(True, order=stack_ops, explored=visited)
                    steps += 1
                    if not steps & 255:
                        _check_limits(deadline, budget, steps, visited)
                    e = nxt[head]
                    main = True
                    continue
            e = nxt[e]
            continue
        # Nothing more can go before the frontier's return: this configuration is exhausted.
        pos = retpos[front >> 1]
        if pos > best_pos:
            best_pos, best_op = pos, front >> 1
            best_stack = stack_ops[:]
            best_states = {state}
        elif pos == best_pos:
            best_states.add(state)
            if len(stack_ops) > len(best_stack):
                best_stack = stack_ops[:]
        key = lo | must_bit if must else lo
        seen = done.get((lr, state))
        if seen is None:
            done[(lr, state)] = [key]
        else:
            seen.append(key)
        if not stack_ops:
            break
        i = stack_ops.pop()
        state = stack_states.pop()
        front = stack_front.pop()
        must = bool(stack_ops) and not is_req[stack_ops[-1]]
        c = 2 * i
        if is_req[i]:
            lr ^= bits[i]
            r = c + 1
            nxt[prv[r]] = r  # unlift in reverse order: the return, then the call
            prv[nxt[r]] = r
            remaining += 1
            main = True
        else:
            lo ^= bits[i]
            main = False
        nxt[prv[c]] = c
        prv[nxt[c]] = c
        steps += 1
        if not steps & 255:
            _check_limits(deadline, budget, steps, visited)
        e = nxt[c]
    states = sorted((values[s] for s in best_states), key=repr)
    return _Outcome(False, order=best_stack, fail=best_op, states=states, explored=visited)


def _chain(w: Any) -> list[int]:
    """A witness (a cons list ``(op, (op, ... None))``, last op first) as a list, first op first."""
    out = []
    while w is not None:
        out.append(w[0])
        w = w[1]
    out.reverse()
    return out


def _search_frontier(
    ops: list[_Op], deadline: float | None, max_configs: int | None = None
) -> _Outcome:
    """The same question, answered left to right (Knossos's "linear" algorithm, after Lowe's
    just-in-time linearization), for the histories where the depth-first search bogs down.

    It keeps the set of every configuration the history so far allows: (state, the pending
    completed ops already linearized, the indefinite ops used). At each completion it extends every
    configuration by any pending ops that may go first, keeps those in which the completing op could
    be linearized, and drops any configuration that another one with the same state and pending
    ops, having used a subset of its indefinite ops, dominates. Dominated configurations are thus
    discarded at every step, whatever the order of discovery, which the depth-first search cannot
    do: with many timed-out operations in a history that is *not* linearizable, that is the
    difference between a second and hours. The first completion that leaves the set empty is the
    failing op. The same two rules on indefinite ops as in :func:`_search` apply.
    """
    n = len(ops)
    pre, post, values = _encode(ops)
    rbit = [0] * n
    obit = [0] * n
    cls_of = [0] * n
    classes: dict[tuple[int, int], int] = {}
    cls_ops: list[list[int]] = []  # indefinite ops of each class, in invocation order
    cls_mask: list[int] = []
    events = []
    n_req = n_opt = 0
    for i, op in enumerate(ops):
        if op.required:
            rbit[i] = 1 << n_req
            n_req += 1
            events.append((op.inv_pos, 0, i))
            events.append((op.comp_pos, 1, i))
        else:
            obit[i] = 1 << n_opt
            n_opt += 1
            c = classes.setdefault((pre[i], post[i]), len(classes))
            if c == len(cls_ops):
                cls_ops.append([])
                cls_mask.append(0)
            cls_of[i] = c
            cls_ops[c].append(i)
            cls_mask[c] |= obit[i]
            events.append((op.inv_pos, 0, i))
    events.sort()
    invoked = [0] * len(cls_ops)  # indefinite ops of each class invoked so far
    active: list[int] = []  # classes with an invoked op, in order of first invocation
    pending: list[int] = []  # completed ops invoked and not yet completed
    # (state, pending ops linearized, indefinite ops used) -> (witness, its length)
    configs: dict[tuple[int, int, int], tuple[Any, int]] = {(0, 0, 0): (None, 0)}
    explored = 0
    for _, completes, i in events:
        if not completes:
            if rbit[i]:
                pending.append(i)
            else:
                c = cls_of[i]
                if not invoked[c]:
                    active.append(c)
                invoked[c] += 1
            continue
        # The completion of op i: it must be linearized by now.
        if deadline is not None and perf_counter() > deadline:
            raise _Timeout(explored)
        if max_configs is not None and explored > max_configs:
            raise _Timeout(explored)
        rb = rbit[i]
        pi, qi = pre[i], post[i]
        new: dict[tuple[int, int, int], tuple[Any, int]] = {}
        seen: set[tuple[int, int, int, bool]] = set()
        states: set[int] = set()
        best: tuple[Any, int] = (None, -1)
        for (s0, rl0, ol0), (w0, d0) in configs.items():
            if rl0 & rb:  # already linearized earlier
                k = (s0, rl0 ^ rb, ol0)
                if k not in new:
                    new[k] = (w0, d0)
                continue
            stack = [(s0, rl0, ol0, False, w0, d0)]
            while stack:
                s, rl, ol, must, w, d = stack.pop()
                key = (s, rl, ol, must)
                if key in seen:
                    continue
                seen.add(key)
                states.add(s)
                if d > best[1]:
                    best = (w, d)
                if pi == s or (pi < 0 and not must):
                    k = (qi, rl, ol)
                    if k not in new:
                        new[k] = ((i, w), d + 1)
                for x in pending:
                    if x != i and not rl & rbit[x]:
                        p = pre[x]
                        if p == s or (p < 0 and not must):
                            stack.append((post[x], rl | rbit[x], ol, False, (x, w), d + 1))
                for c in active:
                    used = (ol & cls_mask[c]).bit_count()
                    if used < invoked[c]:
                        o = cls_ops[c][used]
                        p = pre[o]
                        if p == s or (p < 0 and not must):
                            stack.append((post[o], rl, ol | obit[o], True, (o, w), d + 1))
                if not len(seen) & 1023 and (
                    (deadline is not None and perf_counter() > deadline)
                    or (max_configs is not None and explored + len(seen) > max_configs)
                ):
                    raise _Timeout(explored + len(seen))
        explored += len(seen)
        pending.remove(i)
        if not new:
            order = _chain(best[0])
            shown = sorted((values[s] for s in states), key=repr)
            return _Outcome(False, order=order, fail=i, states=shown, explored=explored)
        configs = _undominated(new)
    (w, _), *_ = configs.values()
    return _Outcome(True, order=_chain(w), explored=explored)


def _check_partition(
    ops: list[_Op], deadline: float | None, max_configs: int | None = None
) -> _Outcome:
    """The depth-first search, which is fastest on most histories; if it has not finished after
    ``BUDGET_PER_OP`` steps per op, the left-to-right frontier search, which cannot blow up on
    the (dominated) orderings of timed-out operations. ``max_configs`` bounds the configurations
    the frontier search may explore (a deterministic budget: ``_Timeout`` past it)."""
    budget = BUDGET_PER_OP * len(ops) + BUDGET_BASE
    if max_configs is not None and max_configs < budget:
        budget = max_configs  # a small budget bounds the depth-first search too
    try:
        return _search(ops, deadline, budget=budget)
    except _OverBudget as exc:
        if budget == max_configs:
            raise _Timeout(exc.args[0]) from None
        out = _search_frontier(ops, deadline, max_configs)
        out.explored += exc.args[0]
        return out


def _undominated(configs: dict[tuple[int, int, int], Any]) -> dict[tuple[int, int, int], Any]:
    """Drop every configuration that another with the same state and pending ops, having used a
    subset of its indefinite ops, dominates."""
    groups: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for k in configs:
        groups.setdefault((k[0], k[1]), []).append(k)
    if len(groups) == len(configs):
        return configs
    keep = set()
    for members in groups.values():
        minimal: list[int] = []
        for k in sorted(members, key=lambda k: k[2].bit_count()):  # smaller sets first
            ol = k[2]
            if not any(m | ol == ol for m in minimal):
                minimal.append(ol)
                keep.add(k)
    return {k: v for k, v in configs.items() if k in keep}


# -- the result --------------------------------------------------------------------------------
@dataclass(repr=False)
class LinearizabilityResult:
    """The verdict of :func:`linearizable`.

    ``valid`` is True, False, or None (gave up after ``timeout_s``). For a violation, ``op`` is the
    record of the first operation (in completion order) that no consistent ordering of the
    operations before it can include, ``key`` the map key it touched (``kv`` only), ``prefix`` the
    longest consistent prefix found (op records in linearization order) and ``window`` the
    operations overlapping the failure, for :meth:`plot`. For a valid history, ``prefix`` is a
    linearization (for ``kv``, each key's linearization in turn).
    """

    valid: bool | None
    model: str
    explanation: str
    key: Any = None
    op: dict | None = None
    prefix: list[dict] = field(default_factory=list)
    window: list[dict] = field(default_factory=list)
    seed: Any = None
    states: list[Any] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.valid is True

    def __repr__(self) -> str:
        parts = [f"valid={self.valid}", f"model={self.model!r}"]
        if self.key is not None:
            parts.append(f"key={self.key!r}")
        if self.op is not None:
            desc = _describe_rec(self.op, self.model)
            parts.append(f"op={desc} by process {self.op['process']!r}")
        parts.append(f"seed={self.seed}")
        return f"LinearizabilityResult({', '.join(parts)})"

    def __str__(self) -> str:
        return self.explanation

    def plot(self, ax: Any = None) -> Any:
        """A timeline of the failing window; returns the figure.

        See :func:`dslab.viz.linearizability.plot_linearizability`.
        """
        from dslab.viz.linearizability import plot_linearizability

        return plot_linearizability(self, ax=ax)


def _describe_rec(rec: dict, model: str) -> str:
    """``read -> 3``, ``write(3)``, ``cas(1 -> 2)``; for kv with the key first."""
    f, v = rec["f"], rec["value"]
    keyed = model == "kv" and isinstance(v, (list, tuple)) and len(v) == 2
    key, v = (v[0], v[1]) if keyed else (None, v)
    k = f"{key!r}, " if keyed else ""
    if f == "read":
        return f"read({key!r}) -> {v!r}" if keyed else f"read -> {v!r}"
    if f == "cas" and isinstance(v, (list, tuple)) and len(v) == 2:
        return f"cas({k}{v[0]!r} -> {v[1]!r})"
    return f"{f}({k}{v!r})"


def _when(rec: dict, has_time: bool) -> str:
    if has_time:
        end = (
            f"completed {rec['type']} at {rec['time']:g} ms"
            if rec["time"] is not None
            else "never completed"
        )
        return f"invoked at {rec['invoke_time']:g} ms, {end}"
    end = f"completed {rec['type']}" if rec["time"] is not None else "never completed"
    return f"{end}"


def _where(rec: dict) -> str:
    if rec["time"] is None:
        return f"history[{rec['invoke_index']}]"
    return f"history[{rec['invoke_index']}..{rec['index']}]"


def _window(ops: list[_Op], fail: _Op, states: list[Any]) -> list[_Op]:
    """The failing op, the few ops that completed just before it, and everything overlapping them.

    Indefinite ops invoked before that span overlap it too (they may take effect at any time); of
    those, only the ones that could have left one of ``states``, or the value the failing op
    needed, are kept, so an old timeout does not crowd the picture.
    """
    before = sorted(
        (o for o in ops if o.required and o.comp_pos < fail.inv_pos), key=lambda o: o.comp_pos
    )[-WINDOW_CONTEXT:]
    lo = min([fail.inv_pos] + [o.inv_pos for o in before])
    hi = fail.comp_pos
    relevant = set(states) | {fail.arg if fail.f == "read" else fail.arg[0]}
    return [
        o
        for o in ops
        if o.inv_pos < hi
        and o.end_pos > lo
        and (o.inv_pos >= lo or o.required or Model.transition(o.f, o.arg)[1] in relevant)
    ]


def _explain_failure(
    model: Model, key: Any, ops: list[_Op], out: _Outcome, has_time: bool
) -> tuple[str, dict, list[dict], list[dict]]:
    fail = ops[out.fail]
    rec = fail.record()
    order = list(out.order)
    while order and not ops[order[-1]].required:
        order.pop()  # an indefinite op at the end of the prefix was never observed: leave it out
    prefix = [ops[i].record() for i in order]
    what = f"key {key!r}" if model.keyed else "the register"
    lines = [
        f"Not linearizable (model={model.name!r}"
        + (f", key={key!r}" if model.keyed else "")
        + "): no order of the operations agrees with both real time and the model.",
        f"The operation that cannot be linearized: process {fail.process!r} "
        f"{_describe_rec(rec, model.name)} ({_when(rec, has_time)}; {_where(rec)}).",
    ]
    shown = ", ".join(repr(s) for s in out.states)
    if len(out.states) == 1:
        lines.append(
            f"Every consistent ordering of the operations before it leaves {what} holding {shown}."
        )
    else:
        lines.append(
            f"The consistent orderings of the operations before it leave {what} holding one of: "
            f"{shown}."
        )
    but = f"not {shown}" if len(out.states) == 1 else "none of those"
    if fail.f == "read":
        value = fail.arg
        lines.append(f"The read returned {_raw(rec, model)!r}, {but}.")
        written = {None} | {Model.transition(o.f, o.arg)[1] for o in ops if o.f != "read"}
        if value not in written:
            lines.append(
                f"No operation that may have taken effect ever wrote {_raw(rec, model)!r}: "
                "the read returned a value that was never written."
            )
    else:
        expected = fail.arg[0]
        lines.append(
            f"The cas completed ok, so {what} must have held its expected value "
            f"{expected!r}, {but}."
        )
    n = len(prefix)
    lines.append(
        f"Last consistent prefix ({n} operation{'s' if n != 1 else ''}, in linearization order):"
    )
    if n > PREFIX_LINES:
        lines.append(f"  ... {n - PREFIX_LINES} earlier operations")
    for j, p in enumerate(prefix[-PREFIX_LINES:], start=max(0, n - PREFIX_LINES) + 1):
        lines.append(
            f"  {j}. process {p['process']!r} {_describe_rec(p, model.name)}  ({_where(p)})"
            + ("  [indefinite: it may have happened]" if p["type"] != "ok" else "")
        )
    if n == 0:
        lines.append("  (empty: the register still held its initial value None)")
    window = [o.record() for o in _window(ops, fail, out.states)]
    return "\n".join(lines), rec, prefix, window


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _raw(rec: dict, model: Model) -> Any:
    v = rec["value"]
    return v[1] if model.keyed else v


def linearizable(
    history: Any, model: str, timeout_s: float | None = None, *, max_configs: int | None = None
) -> LinearizabilityResult:
    """Check that ``history`` is linearizable with respect to ``model``.

    ``history``: a :class:`dslab.history.History` or a list of op record dicts (keys ``process``,
    ``type``, ``f``, ``value``; optional ``time`` and ``kind``) in real-time order. ``model``: one
    of ``"register"``, ``"cas-register"``, ``"kv"`` (see :mod:`dslab.check.models`).
    ``timeout_s``: give up after this many seconds of wall time and return ``valid=None``.
    ``max_configs``: give up (``valid=None``) once the search of one key has explored this many
    configurations; unlike ``timeout_s`` the answer then depends only on the history, never on
    the machine, so a grader should prefer it.
    """
    m = get_model(model)
    if timeout_s is not None:
        check_number("timeout_s", timeout_s, min=0, min_inclusive=False)
    if max_configs is not None:
        check_number("max_configs", max_configs, min=1, integer=True)
    ops, seed, has_time = _parse(history, m)
    deadline = None if timeout_s is None else perf_counter() + timeout_s
    partitions: dict[Any, list[_Op]] = {}
    for op in ops:
        partitions.setdefault(op.key, []).append(op)

    failures: list[tuple[int, Any, list[_Op], _Outcome]] = []
    order: list[dict] = []
    timed_out: list[Any] = []
    explored = 0
    for key, kops in partitions.items():  # first-appearance order: deterministic
        try:
            out = _check_partition(kops, deadline, max_configs)
        except _Timeout as exc:
            timed_out.append(key)
            explored += exc.args[0]
            continue
        explored += out.explored
        if out.valid:
            order.extend(kops[i].record() for i in out.order)
        else:
            failures.append((kops[out.fail].comp_pos, key, kops, out))

    name = m.name
    if failures:
        _, key, kops, out = min(failures, key=lambda t: t[0])
        shown_key = kops[0].inv["value"][0] if m.keyed else None
        text, rec, prefix, window = _explain_failure(m, shown_key, kops, out, has_time)
        if len(failures) > 1:
            others = [repr(f[2][0].inv["value"][0]) for f in failures if f[1] != key]
            text += f"\nOther keys that are not linearizable either: {', '.join(others)}."
        return LinearizabilityResult(
            False,
            name,
            text,
            key=shown_key,
            op=rec,
            prefix=prefix,
            window=window,
            seed=seed,
            states=out.states,
        )
    if timed_out:
        what = f"{len(timed_out)} of {len(partitions)} keys" if m.keyed else "the search"
        limits = []
        if timeout_s is not None:
            limits.append(f"timeout_s={timeout_s} s")
        if max_configs is not None:
            limits.append(f"max_configs={max_configs}")
        text = (
            f"Unknown (model={name!r}): gave up at {' or '.join(limits)} with {what} "
            f"unfinished, after exploring {explored} configurations; no violation found so far."
        )
        return LinearizabilityResult(None, name, text, seed=seed)
    n_ok = sum(1 for o in ops if o.required)
    n_info = len(ops) - n_ok
    keys = f" over {_plural(len(partitions), 'key')}" if m.keyed else ""
    text = (
        f"Linearizable (model={name!r}): found an order of all {_plural(n_ok, 'completed op')}"
        f"{keys}, with {_plural(n_info, 'indefinite op')} (info or never completed) placed or "
        f"left out, consistent with real time and the model "
        f"({_plural(explored, 'configuration')} explored)."
    )
    return LinearizabilityResult(True, name, text, prefix=order, seed=seed)
