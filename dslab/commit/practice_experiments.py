"""Experiments of "transactions in practice": 2PC, TCC, saga, the outbox and transactional
messages on the same transfers, under the same faults.

- :func:`build` -- the nodes of one pattern on a :class:`~dslab.sim.Sim` (:data:`PATTERNS`).
- :func:`run_pattern` -- a fixed workload of transfers (arrival times drawn from the seed, so
  every pattern gets the same transfers at the same instants) while a nemesis crashes and
  restarts nodes (the same schedule for every pattern) and the network loses and duplicates
  messages; then every fault is repaired and the run settles. Returns a one-row summary, the
  history and the transfers; the checker of :mod:`.practice_check` judges the end state.
- :func:`compare` / :func:`compare_sweep` -- :func:`run_pattern` for each pattern (and seed).
- :func:`isolation_demo` -- one transfer, no fault, and a reader that reads every account at
  once every ``read_every_ms``: what total does it see while the transfer runs?
- :func:`late_request` -- a TCC Try (or a saga step) held in the network past the coordinator's
  timeout: the Cancel overtakes it (empty rollback), then it arrives (suspension).

Every function validates its arguments and is deterministic in ``seed``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_choice, check_number, check_probability, check_seed, check_type
from dslab.commit.ledger import (
    INITIAL_BALANCE,
    BeginTransfer,
    ReadBalance,
    Transfer,
    transfer,
)
from dslab.commit.messages import Begin
from dslab.commit.outbox import DedupConsumer, OutboxService
from dslab.commit.practice_check import (
    eventual_atomicity,
    settle_times,
    union_ms,
    visibility_windows,
)
from dslab.commit.saga import SagaCoordinator, SagaParticipant
from dslab.commit.tcc import TccCoordinator, TccParticipant
from dslab.commit.twopc import TwoPCCoordinator
from dslab.commit.twopc_ledger import LedgerTwoPCParticipant, ReleaseRead, as_txn
from dslab.commit.txmsg import TxBroker, TxProducer
from dslab.core import Handler
from dslab.history import History
from dslab.sim import Sim
from dslab.sim.rng import stream

PATTERNS = ("2pc", "tcc", "saga", "outbox", "txmsg")
LABELS = {"2pc": "2PC", "tcc": "TCC", "saga": "Saga", "outbox": "Outbox",
          "txmsg": "Tx message"}
#: Patterns whose downstream legs may not refuse (rule 4 of :mod:`.outbox`).
MESSAGE_PATTERNS = ("outbox", "txmsg")
#: Every node name a fault schedule is drawn for, in a fixed order (absent nodes are skipped),
#: so that every pattern gets the same crashes of the same participants.
ROLES = ("co", "mq", "p1", "p2", "p3", "p4", "p5", "p6")
REFUSE_AT = ("initiator", "last")
SUMMARY_COLUMNS = [
    "pattern", "seed", "transfers", "ok", "failed", "unknown", "latency_ms", "converge_ms",
    "half_done_fraction", "half_done_ms_per_txn", "messages_per_txn", "eventually_atomic",
    "conserved",
]


def check_pattern(pattern: Any) -> str:
    check_type("pattern", pattern, str)
    return check_choice("pattern", pattern, PATTERNS)


def _ms(name: str, value: Any, *, positive: bool = False) -> float:
    return float(check_number(name, value, min=0, min_inclusive=not positive))


@dataclass
class PracticeCluster:
    """The nodes of one run: ``entry`` is the node a client sends a transfer to."""

    sim: Sim
    pattern: str
    participants: list[str]
    entry: str
    extra: list[str] = field(default_factory=list)

    def request(self, t: Transfer) -> Any:
        """The request body that starts transfer ``t`` under this pattern."""
        return Begin(as_txn(t)) if self.pattern == "2pc" else BeginTransfer(t)

    def balances(self) -> dict[str, dict[str, int]]:
        """{participant: {available, frozen}} read from durable storage (works while down)."""
        out = {}
        for p in self.participants:
            s = self.sim.nodes[p].storage
            if self.pattern == "2pc":
                bal = INITIAL_BALANCE + sum(int(s[k]) for k in s if k.startswith("kv/entry/"))
                frozen = 0
            else:
                bal = int(s.get("balance", INITIAL_BALANCE))
                frozen = int(s.get("frozen_out", 0)) + int(s.get("frozen_in", 0))
            out[p] = {"available": bal, "frozen": frozen}
        return out


def build(sim: Sim, pattern: str, *, n_participants: int = 3,
          options: dict[str, dict[str, Any]] | None = None,
          classes: dict[str, type[Handler]] | None = None) -> PracticeCluster:
    """Add the nodes of ``pattern`` to ``sim``: participants ``p1..pN`` (``p1`` initiates every
    transfer), plus a coordinator ``co`` (2PC, TCC, saga) or a broker ``mq`` (transactional
    messages). ``options`` maps a role (``coordinator``, ``participant``, ``initiator``,
    ``consumer``, ``broker``) to keyword arguments of its handler class; ``classes`` maps a role
    to a replacement handler class (a variant that breaks a rule, for the tests and exercises)."""
    check_pattern(pattern)
    check_number("n_participants", n_participants, min=2, integer=True)
    opts = dict(options or {})
    check_type("options", opts, dict)
    parts = [f"p{i}" for i in range(1, n_participants + 1)]

    swap = dict(classes or {})
    check_type("classes", swap, dict)
    for role, c in swap.items():
        if not (isinstance(c, type) and issubclass(c, Handler)):
            raise TypeError(f"classes[{role!r}]={c!r} must be a dslab.core.Handler subclass")

    def add(name: str, cls: type[Handler], role: str) -> None:
        cls = swap.get(role, cls)
        kw = dict(opts.get(role, {}))
        cls(**kw)  # a bad option fails here, naming the parameter
        sim.add_node(name, lambda: cls(**kw))

    extra: list[str] = []
    if pattern in ("2pc", "tcc", "saga"):
        coord, part = {"2pc": (TwoPCCoordinator, LedgerTwoPCParticipant),
                       "tcc": (TccCoordinator, TccParticipant),
                       "saga": (SagaCoordinator, SagaParticipant)}[pattern]
        add("co", coord, "coordinator")
        for p in parts:
            add(p, part, "participant")
        entry = "co"
        extra = ["co"]
    else:
        if pattern == "txmsg":
            add("mq", TxBroker, "broker")
            extra = ["mq"]
        add("p1", OutboxService if pattern == "outbox" else TxProducer, "initiator")
        for p in parts[1:]:
            add(p, DedupConsumer, "consumer")
        entry = "p1"
    return PracticeCluster(sim, pattern, parts, entry, extra)


def workload(seed: int, *, n_txns: int = 40, load_ms: float = 1000.0, n_participants: int = 3,
             refuse_probability: float = 0.1, refuse_at: str = "initiator",
             amount: int = 10) -> list[tuple[float, Transfer]]:
    """The transfers of a run and their arrival times (from the seed's ``workload`` stream): each
    has ``p1`` pay ``amount`` to every other participant; with ``refuse_probability`` one leg
    (``refuse_at``: the initiator's or the last one) is refused."""
    check_seed(seed)
    check_number("n_txns", n_txns, min=1, integer=True)
    _ms("load_ms", load_ms, positive=True)
    check_number("n_participants", n_participants, min=2, integer=True)
    check_probability("refuse_probability", refuse_probability)
    check_choice("refuse_at", refuse_at, REFUSE_AT)
    rng = stream(seed, "workload")
    parts = [f"p{i}" for i in range(1, n_participants + 1)]
    out = []
    for i in range(n_txns):
        at = rng.uniform(0, load_ms)
        refuse = ()
        if rng.random() < refuse_probability:
            refuse = (parts[0],) if refuse_at == "initiator" else (parts[-1],)
        out.append((at, transfer(f"t{i + 1}", parts[0], parts[1:], amount, refuse=refuse)))
    return sorted(out, key=lambda x: (x[0], x[1].tid))


def crash_schedule(sim: Sim, nodes: Iterable[str], until_ms: float) -> None:
    """Crash and restart nodes at random until ``until_ms`` (the ``faults`` stream; the draws
    are made for every name in :data:`ROLES`, present or not, so all patterns share one schedule;
    other nodes come after them)."""
    present = set(nodes)
    rng = sim.stream("faults")
    for name in list(ROLES) + sorted(present - set(ROLES)):
        t = rng.uniform(0, 300)
        while t < until_ms - 50:
            down = rng.uniform(20, 150)
            if name in present:
                sim.crash(name, at=t)
                sim.restart(name, at=min(t + down, until_ms))
            t += down + rng.uniform(400, 1200)


def run_pattern(
    seed: int = 0,
    pattern: str = "saga",
    *,
    n_txns: int = 40,
    n_participants: int = 3,
    load_ms: float = 1000.0,
    settle_ms: float = 2000.0,
    loss: float = 0.05,
    duplicate: float = 0.05,
    crashes: bool = True,
    refuse_probability: float = 0.1,
    refuse_at: str = "initiator",
    client_timeout_ms: float = 300.0,
    options: dict[str, dict[str, Any]] | None = None,
) -> tuple[pd.DataFrame, History, list[Transfer]]:
    """``n_txns`` transfers arrive during ``load_ms`` while (if ``crashes``) nodes crash and
    restart and the network loses (``loss``) and duplicates (``duplicate``) messages; at
    ``load_ms`` every fault is repaired and the run goes on for ``settle_ms``.

    Summary columns (:data:`SUMMARY_COLUMNS`): client outcomes; ``latency_ms`` (mean over the
    transfers the client was told succeeded); ``converge_ms`` (mean over the same transfers: from
    the request until the last leg's final change);
    ``half_done_fraction`` (share of the load period during which some transfer was visibly half
    done); ``half_done_ms_per_txn``; ``messages_per_txn`` (protocol messages, without the
    clients'); ``eventually_atomic`` (the checker's verdict, also in ``df.attrs``);
    ``conserved`` (the balances still sum to the initial total and nothing is frozen).
    """
    check_seed(seed)
    check_pattern(pattern)
    load = _ms("load_ms", load_ms, positive=True)
    settle = _ms("settle_ms", settle_ms)
    check_probability("loss", loss)
    check_probability("duplicate", duplicate)
    check_type("crashes", crashes, bool)
    _ms("client_timeout_ms", client_timeout_ms, positive=True)
    check_choice("refuse_at", refuse_at, REFUSE_AT)
    if pattern in MESSAGE_PATTERNS and refuse_at != "initiator" and refuse_probability > 0:
        raise ValueError(f"refuse_at={refuse_at!r} is not allowed with pattern={pattern!r}: a "
                         "message-based transfer cannot be undone, so only the initiator may "
                         "refuse (use refuse_at='initiator', or a saga or TCC)")
    arrivals = workload(seed, n_txns=n_txns, load_ms=load, n_participants=n_participants,
                        refuse_probability=refuse_probability, refuse_at=refuse_at)
    sim = Sim(seed, loss=loss, duplicate=duplicate)
    cl = build(sim, pattern, n_participants=n_participants, options=options)
    nodes = cl.extra + cl.participants
    if crashes:
        crash_schedule(sim, nodes, load)

    def repair() -> Generator[Any, Any, None]:
        yield sim.sleep(load)
        sim.net.configure(loss=0.0, duplicate=0.0)
        for name in nodes:
            if not sim.nodes[name].alive:
                sim.restart(name)

    def one(at: float, t: Transfer) -> Generator[Any, Any, None]:
        yield sim.sleep(at)
        client = sim.add_client(f"c_{t.tid}")
        inv = client.invoke("txn", t.tid)
        res = yield from client.call(cl.entry, cl.request(t), timeout_ms=client_timeout_ms)
        client.complete(inv, res, value=t.tid)

    sim.process(repair())
    for at, t in arrivals:
        sim.process(one(at, t))
    sim.run(until=load + settle)
    h = sim.history
    transfers = [t for _, t in arrivals]
    df = summarize(cl, h, transfers, seed=seed, load_ms=load)
    return df, h, transfers


def summarize(cl: PracticeCluster, h: History, transfers: list[Transfer], *, seed: int,
              load_ms: float) -> pd.DataFrame:
    """The one-row summary of :func:`run_pattern` (see there)."""
    verdict = eventual_atomicity(h, transfers)
    done = [c for inv, c in h.pairs() if inv.f == "txn" and c is not None]
    ok = [c for inv, c in h.pairs() if inv.f == "txn" and c is not None and c.type == "ok"]
    lat = [c.time - inv.time for inv, c in h.pairs()
           if inv.f == "txn" and c is not None and c.type == "ok"]
    settle = settle_times(h, transfers)
    ok_tids = [str(inv.value) for inv, c in h.pairs()
               if inv.f == "txn" and c is not None and c.type == "ok"]
    windows = visibility_windows(h, transfers)
    clipped = windows.assign(end_ms=windows["end_ms"].clip(upper=load_ms),
                             start_ms=windows["start_ms"].clip(upper=load_ms))
    types = cl.sim.net.sent_by_type
    protocol_msgs = sum(n for t, n in types.items() if not t.startswith(("Request", "Response")))
    bal = cl.balances()
    conserved = (sum(b["available"] for b in bal.values())
                 == INITIAL_BALANCE * len(cl.participants)
                 and all(b["frozen"] == 0 for b in bal.values()))
    row = {
        "pattern": LABELS[cl.pattern], "seed": seed, "transfers": len(transfers),
        "ok": len(ok), "failed": sum(1 for c in done if c.type == "fail"),
        "unknown": len(transfers) - len(ok) - sum(1 for c in done if c.type == "fail"),
        "latency_ms": float(sum(lat) / len(lat)) if lat else float("nan"),
        "converge_ms": float(settle.loc[settle["tid"].isin(ok_tids), "converge_ms"].mean())
        if ok_tids else float("nan"),
        "half_done_fraction": union_ms(clipped) / load_ms,
        "half_done_ms_per_txn": float(windows["duration_ms"].sum()) / len(transfers),
        "messages_per_txn": protocol_msgs / len(transfers),
        "eventually_atomic": verdict.valid, "conserved": conserved,
    }
    df = pd.DataFrame([row], columns=SUMMARY_COLUMNS)
    df.attrs.update(seed=seed, pattern=cl.pattern, explanation=verdict.explanation,
                    violations=verdict.violations, balances=bal,
                    messages_by_type=dict(sorted(types.items())))
    return df


def compare(seed: int = 0, *, patterns: Iterable[str] = PATTERNS, progress: bool = False,
            **kwargs: Any) -> tuple[pd.DataFrame, dict[str, History]]:
    """:func:`run_pattern` for every pattern with the same seed (same transfers, same faults):
    one row per pattern, and ``{pattern: history}``."""
    pats = [check_pattern(p) for p in patterns]
    check_type("progress", progress, bool)
    frames, hists = [], {}
    for p in tqdm(pats, disable=not progress, desc="patterns"):
        df, h, _ = run_pattern(seed, p, **kwargs)
        frames.append(df)
        hists[p] = h
    out = pd.concat(frames, ignore_index=True)
    out.attrs["seed"] = seed
    return out, hists


def compare_sweep(seeds: Iterable[int] = range(3), *, patterns: Iterable[str] = PATTERNS,
                  progress: bool = False, **kwargs: Any) -> pd.DataFrame:
    """:func:`compare` for every seed: one row per (seed, pattern)."""
    seeds = [check_seed(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds=[] is not allowed; give at least one seed")
    check_type("progress", progress, bool)
    pats = [check_pattern(p) for p in patterns]
    frames = [run_pattern(s, p, **kwargs)[0]
              for s, p in tqdm([(s, p) for s in seeds for p in pats], disable=not progress,
                               desc="runs")]
    out = pd.concat(frames, ignore_index=True)
    out.attrs["seeds"] = seeds
    return out


def isolation_demo(
    seed: int = 0,
    pattern: str = "saga",
    *,
    n_participants: int = 3,
    read_every_ms: float = 1.0,
    run_ms: float = 60.0,
    refuse_last: bool = False,
) -> tuple[pd.DataFrame, History]:
    """One transfer (``p1`` pays 10 to each other participant) at 5 ms, no fault, and a reader
    that, every ``read_every_ms``, reads every account at once (one request to each, in
    parallel) and adds up the available balances (under 2PC it holds each account's lock until it
    has read them all: two-phase locking, see :mod:`.twopc_ledger`). ``refuse_last``: the last
    leg is refused (a saga compensates; not for the message patterns). Returns one row per read
    (``start_ms``, ``end_ms``, ``total``, ``missing``: the initial total minus what the reader
    saw, ``locked``: the read was turned away by a 2PC lock, and each account's balance) and the
    history."""
    check_seed(seed)
    check_pattern(pattern)
    check_number("n_participants", n_participants, min=2, integer=True)
    every = _ms("read_every_ms", read_every_ms, positive=True)
    run = _ms("run_ms", run_ms, positive=True)
    check_type("refuse_last", refuse_last, bool)
    if refuse_last and pattern in MESSAGE_PATTERNS:
        raise ValueError(f"refuse_last=True is not allowed with pattern={pattern!r}: its "
                         "downstream legs cannot refuse")
    sim = Sim(seed)
    cl = build(sim, pattern, n_participants=n_participants)
    parts = cl.participants
    t = transfer("t1", parts[0], parts[1:], 10, refuse=(parts[-1],) if refuse_last else ())
    rows: list[dict[str, Any]] = []

    def client() -> Generator[Any, Any, None]:
        yield sim.sleep(5.0)
        c = sim.add_client("c1")
        inv = c.invoke("txn", t.tid)
        res = yield from c.call(cl.entry, cl.request(t), timeout_ms=run)
        c.complete(inv, res, value=t.tid)

    def reader() -> Generator[Any, Any, None]:
        r = sim.add_client("reader")
        while sim.now < run:
            start = sim.now
            inv = r.invoke("audit")
            calls = [sim.process(r.call(p, ReadBalance(), timeout_ms=run)) for p in parts]
            yield sim.env.all_of(calls)  # all accounts at once: a (nearly) instant snapshot
            results = [c.value for c in calls]
            if pattern == "2pc":  # two-phase locking: release only after every read
                releases = [sim.process(r.call(p, ReleaseRead(), timeout_ms=run)) for p in parts]
                yield sim.env.all_of(releases)
            if any(res.type != "ok" for res in results):  # turned away by a lock: try again
                r.complete(inv, "fail", "locked")
                rows.append({"start_ms": start, "end_ms": sim.now, "total": None,
                             "missing": None, "locked": True, **dict.fromkeys(parts)})
            else:
                seen = [res.value.available for res in results]
                total = sum(seen)
                r.complete(inv, "ok", total)
                rows.append({"start_ms": start, "end_ms": sim.now, "total": total,
                             "missing": INITIAL_BALANCE * len(parts) - total, "locked": False,
                             **dict(zip(parts, seen, strict=True))})
            yield sim.sleep(max(0.0, start + every - sim.now))

    sim.process(client())
    sim.process(reader())
    sim.run(until=run)
    df = pd.DataFrame(rows, columns=["start_ms", "end_ms", "total", "missing", "locked", *parts])
    df.attrs.update(seed=seed, pattern=pattern)
    return df, sim.history


def late_request(
    seed: int = 0,
    pattern: str = "tcc",
    *,
    victim: str = "p2",
    delay_ms: float = 150.0,
    run_ms: float = 400.0,
    participant_options: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, History, list[Transfer]]:
    """One transfer whose first-phase message to ``victim`` (TCC: ``Try``; saga: ``Step``) is held
    in the network for ``delay_ms``, longer than the coordinator waits. The coordinator gives up
    and undoes the transfer; the undo reaches ``victim`` *before* the request it undoes (an
    empty rollback / empty compensation), and then the late request arrives (suspension).
    ``participant_options``: keyword arguments of the participants (say
    ``{"remember_empty_rollback": False}`` for a TCC participant that breaks the suspension rule).
    Returns one row per participant (its final leg record and balances), the history and the
    transfer; ``df.attrs`` holds the checker's verdict."""
    check_seed(seed)
    check_choice("pattern", pattern, ("tcc", "saga"))
    check_choice("victim", victim, ["p2", "p3"])
    delay = _ms("delay_ms", delay_ms, positive=True)
    run = _ms("run_ms", run_ms, positive=True)
    sim = Sim(seed)
    cl = build(sim, pattern, options={"participant": dict(participant_options or {})})
    first = "Try" if pattern == "tcc" else "Step"
    held: list[bool] = []

    def hold(src: str, dst: str, msg: Any, rng: Any) -> float | None:
        if not held and dst == victim and type(msg).__name__ == first:
            held.append(True)
            return delay
        if held and dst == victim and type(msg).__name__ == first:
            return 10_000.0  # the resends are lost in the same way; only the first comes back
        return None

    sim.net.add_interceptor(hold)
    t = transfer("t1", "p1", ["p2", "p3"], 10)

    def client() -> Generator[Any, Any, None]:
        c = sim.add_client("c1")
        inv = c.invoke("txn", t.tid)
        res = yield from c.call("co", cl.request(t), timeout_ms=run)
        c.complete(inv, res, value=t.tid)

    sim.process(client())
    sim.run(until=run)
    verdict = eventual_atomicity(sim.history, [t])
    bal = cl.balances()
    key = "tcc" if pattern == "tcc" else "saga"
    rows = []
    for p in cl.participants:
        rec = sim.nodes[p].storage.get(f"{key}/t1")
        acts = [e.data["action"] for e in sim.history.events
                if e.name == "leg" and e.node == p]
        rows.append({"participant": p, "leg_record": rec["state"] if rec else "none",
                     "actions": ", ".join(acts), **bal[p]})
    df = pd.DataFrame(rows)
    df.attrs.update(seed=seed, pattern=pattern, eventually_atomic=verdict.valid,
                    explanation=verdict.explanation)
    return df, sim.history, [t]


def isolation_table(seed: int = 0, *, patterns: Iterable[str] = PATTERNS,
                    **kwargs: Any) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """:func:`isolation_demo` for each pattern: per pattern, how many reads were turned away by a
    2PC lock, how many saw money missing, and the most they saw missing.
    Returns the table and ``{pattern: reads}``."""
    rows, reads = [], {}
    for p in [check_pattern(p) for p in patterns]:
        df, _ = isolation_demo(seed, p, **kwargs)
        reads[p] = df
        seen = df[~df["locked"]]
        rows.append({"pattern": LABELS[p], "reads": len(df),
                     "turned_away_by_locks": int(df["locked"].sum()),
                     "reads_seeing_money_missing": int((seen["missing"] != 0).sum()),
                     "most_missing": int(seen["missing"].abs().max()) if len(seen) else 0})
    out = pd.DataFrame(rows)
    out.attrs["seed"] = seed
    return out, reads


__all__ = [
    "LABELS",
    "MESSAGE_PATTERNS",
    "PATTERNS",
    "ROLES",
    "SUMMARY_COLUMNS",
    "PracticeCluster",
    "build",
    "compare",
    "compare_sweep",
    "crash_schedule",
    "isolation_demo",
    "isolation_table",
    "late_request",
    "run_pattern",
    "summarize",
    "workload",
]
