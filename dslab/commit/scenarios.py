"""The atomic-commit chapter's scenarios. Each runs a :class:`~dslab.sim.Sim` and returns a
:class:`~dslab.sim.scenario.Result` (``frame``, ``history``, ``seed``, ``metadata``; ``df, history
= result`` unpacks as before); sweeps return a DataFrame. The analysis of their frames is in
:mod:`dslab.commit.analysis`, the figures in :mod:`dslab.commit.plots`, and
:mod:`dslab.commit.experiments` offers all of it under one name (the chapter's facade).

1. :func:`happy_path` / :func:`compare_happy_paths` -- one coordinator, three participants, a few
   transactions, no fault: messages, forced log writes, client latency and time in doubt of 2PC
   and 3PC (3PC pays one more round trip).
2. :func:`coordinator_crash` / :func:`crash_matrix` -- the coordinator crashes at a chosen step of
   one transaction (failpoints, :data:`~dslab.commit.cluster.STEPS`) and restarts
   ``restart_after_ms`` later: what each participant does, and how long it stays in doubt.
3. :func:`participant_failure` -- a participant votes NO, or crashes before or after voting.
4. :func:`partition_split` -- the coordinator's first phase-2 message gets through, then a
   partition cuts the coordinator and ``p1`` off from the other participants: 2PC blocks, 3PC
   splits its decision and the atomicity checker says so.
5. :func:`contention` / :func:`contention_sweep` -- three coordinators run conflicting
   transactions over a few hot keys while coordinators crash at a growing rate: committed
   transactions per second and time spent in doubt holding locks.
6. :func:`chaos` -- random crashes, restarts, partitions and message loss, then everything heals:
   the seed sweep of the tests.

Every function validates its arguments (a bad one raises ``ValueError`` / ``TypeError`` naming it),
puts its parameters and the checker's verdict in the Result's ``metadata`` (and, for the chapter's
notebook, in ``df.attrs`` too), and is deterministic in ``seed``. ``coordinator_cls`` /
``participant_cls`` swap a server role for another class (the builder convention of
:mod:`dslab.sim.scenario`; :mod:`dslab.grade` runs a student's coordinator this way).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_choice, check_number, check_probability, check_seed, check_type
from dslab.commit.analysis import PARTICIPANT_COLUMNS, client_result
from dslab.commit.check import atomicity, in_doubt
from dslab.commit.cluster import (
    PROTOCOLS,
    STEPS,
    CommitCluster,
    build_cluster,
    check_participants,
    check_protocol,
    role_classes,
    simple_txn,
    transaction,
)
from dslab.commit.messages import Txn
from dslab.core import Handler
from dslab.history import History
from dslab.sim import Sim
from dslab.sim.scenario import Result

FAULTS = ("vote_no", "crash_before_vote", "crash_after_vote")
PHASE2 = {"2pc": "Commit", "3pc": "PreCommit"}


def _ms(name: str, value: Any, *, positive: bool = False) -> float:
    return float(check_number(name, value, min=0, min_inclusive=not positive))


def _optional_ms(name: str, value: Any) -> float | None:
    return None if value is None else _ms(name, value)


def _bool(name: str, value: Any) -> bool:
    return check_type(name, value, bool)


def _options(protocol: str, *, cooperative: bool, termination: str,
             participant_options: dict[str, Any] | None) -> dict[str, Any]:
    """Participant options with the knob of each protocol."""
    opts = dict(participant_options or {})
    if protocol == "2pc":
        opts.setdefault("cooperative", cooperative)
    else:
        opts.setdefault("termination", termination)
    return opts


def _result(df: pd.DataFrame, history: History) -> Result:
    """The Result of a run whose ``df.attrs`` hold its parameters and verdict: they become the
    metadata; ``df.attrs`` keeps them too, because the chapter's notebook reads them there."""
    seed = df.attrs["seed"]
    return Result(df, history, seed, {k: v for k, v in df.attrs.items() if k != "seed"})


def _crashing(sim: Sim, cls: type, step: str | None, restart_after_ms: float | None,
              options: dict[str, Any]) -> tuple[Callable[[str], Callable[[], Handler]], list]:
    """Coordinator factories (class ``cls``) with failpoint ``step``: the first time it is reached
    the node crashes at that instant (and restarts ``restart_after_ms`` later); after a restart it
    runs normally."""
    fired: list[float] = []

    def make(name: str) -> Callable[[], Handler]:
        def on_crash() -> None:
            if fired:
                return
            fired.append(sim.now)
            sim.crash(name, at=sim.now)
            if restart_after_ms is not None:
                sim.restart(name, at=sim.now + restart_after_ms)

        def factory() -> Handler:
            return cls(crash_at=None if fired else step, on_crash=on_crash, **options)

        return factory

    return make, fired


def _on_first_send(sim: Sim, src: str, mtype: str, action: Callable[[str, str], None]) -> None:
    """Call ``action(src, dst)`` when ``src`` first sends a message of type ``mtype`` (the message
    itself is already past the partition check; it is not touched)."""
    done: list[bool] = []

    def watch(s: str, dst: str, msg: Any, rng: Any) -> None:
        if not done and s == src and type(msg).__name__ == mtype:
            done.append(True)
            action(s, dst)

    sim.net.add_interceptor(watch)


def _participant_rows(cl: CommitCluster, history: History) -> pd.DataFrame:
    """One row per participant of the (single-transaction) run."""
    d = in_doubt(history)
    states = cl.final_states()
    votes = {(e.node, e.data["tid"]): e.time for e in history.events if e.name == "vote"}
    finals = {}
    for e in history.events:
        if e.name == "state" and e.data["state"] in ("committed", "aborted"):
            finals.setdefault((e.node, e.data["tid"]), (e.time, e.data["state"], e.data["by"]))
    rows = []
    for p in cl.participants:
        tids = sorted(states[p])
        tid = tids[0] if tids else None
        state = states[p].get(tid, "none") if tid else "none"
        fin = finals.get((p, tid))
        doubt = d[(d["participant"] == p) & (d["tid"] == tid)]
        rows.append({
            "protocol": cl.protocol.upper(), "participant": p,
            "outcome": {"prepared": "in doubt", "precommitted": "in doubt (pre-committed)",
                        "none": "never heard of it"}.get(state, state),
            "decided_by": fin[2] if fin else None,
            "voted_ms": votes.get((p, tid)),
            "decided_ms": fin[0] if fin else None,
            "in_doubt_ms": float(doubt["in_doubt_ms"].iloc[0]) if len(doubt) else 0.0,
        })
    return pd.DataFrame(rows, columns=PARTICIPANT_COLUMNS)


# -- 1. the happy path -------------------------------------------------------------------------
def happy_path(
    seed: int = 0,
    protocol: str = "2pc",
    *,
    n_participants: int = 3,
    n_txns: int = 20,
    gap_ms: float = 20.0,
    coordinator_cls: type | None = None,
    participant_cls: type | None = None,
) -> Result:
    """``n_txns`` transactions, one after the other (``gap_ms`` apart), each writing one key at
    every participant, with no fault. Returns a one-row summary and the history.

    Columns: ``messages_per_txn`` (protocol messages, without the client's request and reply),
    ``forced_writes_per_txn`` (log records forced by the participants and the coordinator),
    ``latency_ms`` (mean time the client waited), ``in_doubt_ms`` (mean time a participant held
    its locks between its YES vote and learning the outcome), ``committed``.
    """
    check_seed(seed)
    check_protocol(protocol)
    check_participants(n_participants)
    check_number("n_txns", n_txns, min=1, integer=True)
    _ms("gap_ms", gap_ms)
    sim = Sim(seed)
    cl = build_cluster(sim, protocol, n_participants=n_participants,
                       coordinator_cls=coordinator_cls, participant_cls=participant_cls)
    client = cl.client("c_co")
    latencies: list[float] = []

    def workload() -> Generator[Any, Any, None]:
        for i in range(n_txns):
            res = yield from transaction(client, "co", simple_txn(f"t{i}", cl.participants,
                                                                  value=i))
            latencies.append(res.latency_ms)
            yield sim.sleep(gap_ms)

    done = sim.process(workload())
    sim.run(until=done)
    sim.run_for(50.0)  # let the last acknowledgements arrive
    h = sim.history
    types = sim.net.sent_by_type
    protocol_msgs = sum(n for t, n in types.items() if not t.startswith(("Request", "Response")))
    forced = sum(1 for e in h.events if e.name in ("state", "decide", "precommit"))
    verdict = atomicity(h, require_decided=True)
    df = pd.DataFrame([{
        "protocol": protocol.upper(), "participants": n_participants, "transactions": n_txns,
        "committed": sum(1 for o in h.ops if o.type == "ok"),
        "messages_per_txn": protocol_msgs / n_txns,
        "forced_writes_per_txn": forced / n_txns,
        "latency_ms": sum(latencies) / len(latencies),
        "in_doubt_ms": float(in_doubt(h)["in_doubt_ms"].mean()),
    }])
    df.attrs.update(seed=seed, protocol=protocol, atomic=verdict.valid,
                    messages_by_type=dict(sorted(types.items())))
    return _result(df, h)


def compare_happy_paths(
    seed: int = 0, *, n_participants: int = 3, n_txns: int = 20
) -> tuple[pd.DataFrame, dict[str, History]]:
    """:func:`happy_path` for 2PC and 3PC: a two-row table and ``{protocol: history}``."""
    frames, hists = [], {}
    for protocol in PROTOCOLS:
        df, h = happy_path(seed, protocol, n_participants=n_participants, n_txns=n_txns)
        frames.append(df)
        hists[protocol] = h
    out = pd.concat(frames, ignore_index=True)
    out.attrs["seed"] = seed
    return out, hists


# -- 2. the coordinator crashes ---------------------------------------------------------------
def coordinator_crash(
    seed: int = 0,
    protocol: str = "2pc",
    step: str = "after_votes",
    *,
    n_participants: int = 3,
    restart_after_ms: float | None = 400.0,
    cooperative: bool = True,
    termination: str = "elect",
    run_ms: float = 600.0,
    participant_options: dict[str, Any] | None = None,
    coordinator_cls: type | None = None,
    participant_cls: type | None = None,
) -> Result:
    """One transaction; the coordinator crashes at failpoint ``step`` (see
    :data:`~dslab.commit.cluster.STEPS`) and restarts ``restart_after_ms`` later (``None``: never).

    ``cooperative`` (2PC): participants in doubt also ask each other. ``termination`` (3PC):
    ``"elect"`` or ``"timeout"``. Returns one row per participant (its outcome, how and when it
    learned it, and ``in_doubt_ms``) and the history; ``df.attrs`` holds the crash and restart
    times, the client's result and the atomicity verdict.
    """
    check_seed(seed)
    check_protocol(protocol)
    check_type("step", step, str)
    check_choice("step", step, STEPS[protocol])
    check_participants(n_participants)
    restart = _optional_ms("restart_after_ms", restart_after_ms)
    _bool("cooperative", cooperative)
    check_choice("termination", termination, ("elect", "timeout"))
    _ms("run_ms", run_ms, positive=True)
    coord_cls, part_cls = role_classes(protocol, coordinator_cls, participant_cls)
    sim = Sim(seed)
    make, fired = _crashing(sim, coord_cls, step, restart, {})
    popts = _options(protocol, cooperative=cooperative, termination=termination,
                     participant_options=participant_options)
    cl = build_cluster(sim, protocol, n_participants=n_participants, coordinator_factory=make,
                       participant_options=popts, participant_cls=part_cls)
    client = cl.client("c_co")
    txn = simple_txn("t1", cl.participants)
    sim.process(transaction(client, "co", txn, timeout_ms=200.0))
    sim.run(until=run_ms)
    df = _participant_rows(cl, sim.history)
    df.insert(1, "step", step)
    verdict = atomicity(sim.history)
    df.attrs.update(
        seed=seed, protocol=protocol, step=step, crash_ms=fired[0] if fired else None,
        restart_ms=(fired[0] + restart) if fired and restart is not None else None,
        client=client_result(sim.history), atomic=verdict.valid,
        explanation=verdict.explanation, run_ms=run_ms,
    )
    return _result(df, sim.history)


def crash_matrix(
    seed: int = 0,
    *,
    protocols: Iterable[str] = PROTOCOLS,
    steps: Iterable[str] | None = None,
    progress: bool = False,
    **kwargs: Any,
) -> pd.DataFrame:
    """:func:`coordinator_crash` at every step (``steps``: default all the protocol has) of each
    protocol: one row per (protocol, step, participant)."""
    protos = [check_protocol(p) for p in protocols]
    _bool("progress", progress)
    runs = []
    for protocol in protos:
        chosen = STEPS[protocol] if steps is None else [s for s in steps if s in STEPS[protocol]]
        if steps is not None:
            for s in steps:
                check_choice("steps", s, sorted(set(STEPS["2pc"]) | set(STEPS["3pc"])))
        runs += [(protocol, s) for s in chosen]
    frames = []
    for protocol, step in tqdm(runs, disable=not progress, desc="crash points"):
        df, _ = coordinator_crash(seed, protocol, step, **kwargs)
        df["client"] = df.attrs["client"]
        df["atomic"] = df.attrs["atomic"]
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out.attrs["seed"] = seed
    return out


# -- 3. a participant fails --------------------------------------------------------------------
def participant_failure(
    seed: int = 0,
    protocol: str = "2pc",
    fault: str = "crash_after_vote",
    *,
    n_participants: int = 3,
    victim: str = "p2",
    restart_after_ms: float | None = 300.0,
    run_ms: float = 1000.0,
    participant_options: dict[str, Any] | None = None,
    coordinator_cls: type | None = None,
    participant_cls: type | None = None,
) -> Result:
    """One transaction in which participant ``victim`` fails: ``vote_no`` (its local work fails),
    ``crash_before_vote`` (it crashes as the phase-1 request is sent to it) or
    ``crash_after_vote`` (it crashes right after its YES vote left); it restarts
    ``restart_after_ms`` later. Returns one row per participant and the history.
    ``participant_options`` go to every participant (``{"cooperative": False}``, say)."""
    check_seed(seed)
    check_protocol(protocol)
    check_choice("fault", fault, FAULTS)
    check_participants(n_participants)
    check_choice("victim", victim, [f"p{i}" for i in range(1, n_participants + 1)])
    restart = _optional_ms("restart_after_ms", restart_after_ms)
    _ms("run_ms", run_ms, positive=True)
    sim = Sim(seed)
    cl = build_cluster(sim, protocol, n_participants=n_participants,
                       participant_options=participant_options,
                       coordinator_cls=coordinator_cls, participant_cls=participant_cls)
    crashed: list[float] = []

    def crash(_src: str, _dst: str) -> None:
        crashed.append(sim.now)
        sim.crash(victim, at=sim.now)
        if restart is not None:
            sim.restart(victim, at=sim.now + restart)

    if fault == "crash_before_vote":
        phase1 = "Prepare" if protocol == "2pc" else "CanCommit"

        def watch(s: str, dst: str, msg: Any, rng: Any) -> None:
            if not crashed and s == "co" and dst == victim and type(msg).__name__ == phase1:
                crash(s, dst)

        sim.net.add_interceptor(watch)
    elif fault == "crash_after_vote":
        _on_first_send(sim, victim, "Vote", crash)
    txn = simple_txn("t1", cl.participants, vote_no=[victim] if fault == "vote_no" else [])
    sim.process(transaction(cl.client("c_co"), "co", txn, timeout_ms=200.0))
    sim.run(until=run_ms)
    df = _participant_rows(cl, sim.history)
    df.insert(1, "fault", fault)
    verdict = atomicity(sim.history)
    df.attrs.update(seed=seed, protocol=protocol, fault=fault, victim=victim,
                    crash_ms=crashed[0] if crashed else None, client=client_result(sim.history),
                    atomic=verdict.valid, explanation=verdict.explanation)
    return _result(df, sim.history)


# -- 4. the partition that splits 3PC --------------------------------------------------------
def partition_split(
    seed: int = 0,
    protocol: str = "3pc",
    *,
    n_participants: int = 3,
    heal_at_ms: float | None = 600.0,
    termination: str = "elect",
    cooperative: bool = True,
    run_ms: float = 1000.0,
    coordinator_cls: type | None = None,
    participant_cls: type | None = None,
) -> Result:
    """One transaction. Right after the coordinator sends its first phase-2 message (2PC:
    ``Commit``; 3PC: ``PreCommit``) to ``p1``, the network splits into ``{co, p1}`` and the other
    participants; it heals at ``heal_at_ms`` (``None``: never).

    2PC: ``p1`` commits; the others are in doubt, cannot reach anyone who knows, and block until
    the heal. 3PC: the coordinator commits after its ack timeout and ``p1`` with it, while the
    other side's termination protocol sees only *w* states and aborts. ``df.attrs["atomic"]`` and
    ``["explanation"]`` hold the checker's verdict.
    """
    check_seed(seed)
    check_protocol(protocol)
    check_participants(n_participants)
    heal = _optional_ms("heal_at_ms", heal_at_ms)
    check_choice("termination", termination, ("elect", "timeout"))
    _bool("cooperative", cooperative)
    _ms("run_ms", run_ms, positive=True)
    if heal is not None and heal >= run_ms:
        raise ValueError(f"heal_at_ms={heal_at_ms!r} must be before run_ms={run_ms!r}")
    sim = Sim(seed)
    popts = _options(protocol, cooperative=cooperative, termination=termination,
                     participant_options=None)
    cl = build_cluster(sim, protocol, n_participants=n_participants, participant_options=popts,
                       coordinator_cls=coordinator_cls, participant_cls=participant_cls)
    split: list[float] = []

    def cut(_src: str, dst: str) -> None:
        split.append(sim.now)
        sim.partition(["co", dst], [p for p in cl.participants if p != dst])

    _on_first_send(sim, "co", PHASE2[protocol], cut)
    if heal is not None:
        sim.heal(at=heal)
    sim.process(transaction(cl.client("c_co"), "co", simple_txn("t1", cl.participants),
                            timeout_ms=400.0))
    sim.run(until=run_ms)
    df = _participant_rows(cl, sim.history)
    verdict = atomicity(sim.history)
    conflicts = [e for e in sim.history.events if e.name == "conflict"]
    df.attrs.update(seed=seed, protocol=protocol, partition_ms=split[0] if split else None,
                    heal_ms=heal, client=client_result(sim.history), atomic=verdict.valid,
                    explanation=verdict.explanation, conflicts=len(conflicts),
                    first_conflict_ms=conflicts[0].time if conflicts else None)
    return _result(df, sim.history)


# -- 5. conflicting transactions while coordinators crash -------------------------------------
def contention(
    seed: int = 0,
    protocol: str = "2pc",
    *,
    crash_rate_per_s: float = 0.0,
    duration_ms: float = 3000.0,
    n_coordinators: int = 4,
    n_clients: int = 4,
    n_participants: int = 3,
    hot_keys: int = 4,
    down_ms: float = 1000.0,
    think_ms: float = 2.0,
    client_timeout_ms: float = 100.0,
    blocked_ms: float = 50.0,
    coordinator_cls: type | None = None,
    participant_cls: type | None = None,
) -> Result:
    """A pool of coordinators ``tm1..tmK`` serves ``n_clients`` clients that run transactions back
    to back (``think_ms`` apart on average). Each transaction writes one of ``hot_keys`` keys at
    every participant, so concurrent transactions conflict. Coordinator failures arrive at
    ``crash_rate_per_s`` (a Poisson process over the whole pool; each hits a random live
    coordinator, which restarts ``down_ms`` later). A client that gets no answer within
    ``client_timeout_ms`` fails over to the next coordinator, so a dead coordinator costs little
    capacity: what remains is the cost of the locks its orphaned transactions leave behind.

    Returns a one-row summary and the history. Columns: ``commits_per_s``; ``aborted`` (definite
    failures), ``unknown`` (no answer); ``lock_timeouts`` (participants that voted NO because a
    lock did not come within ``lock_wait_ms``); ``in_doubt_ms_per_s`` (participant-milliseconds in
    doubt holding locks, per second); ``blocked_ms_per_s`` (the same, counting only episodes longer
    than ``blocked_ms``: blocking, not the normal wait for phase 2); ``coordinator_crashes``;
    ``atomic``.
    """
    check_seed(seed)
    check_protocol(protocol)
    rate = check_number("crash_rate_per_s", crash_rate_per_s, min=0)
    _ms("duration_ms", duration_ms, positive=True)
    check_number("n_coordinators", n_coordinators, min=1, integer=True)
    check_number("n_clients", n_clients, min=1, integer=True)
    check_participants(n_participants)
    check_number("hot_keys", hot_keys, min=1, integer=True)
    _ms("down_ms", down_ms, positive=True)
    _ms("think_ms", think_ms)
    _ms("client_timeout_ms", client_timeout_ms, positive=True)
    _ms("blocked_ms", blocked_ms)
    sim = Sim(seed)
    coords = [f"tm{i}" for i in range(1, n_coordinators + 1)]
    cl = build_cluster(sim, protocol, n_participants=n_participants, coordinators=coords,
                       coordinator_cls=coordinator_cls, participant_cls=participant_cls)
    faults = sim.stream("faults")

    def nemesis() -> Generator[Any, Any, None]:
        while True:
            yield sim.sleep(faults.expovariate(rate / 1000.0))
            if sim.now >= duration_ms:
                return
            up = [c for c in coords if sim.nodes[c].alive]
            if up:
                victim = faults.choice(up)
                sim.crash(victim)
                sim.restart(victim, at=sim.now + down_ms)

    if rate > 0:
        sim.process(nemesis())
    wl = sim.stream("workload")

    def client_loop(client: Any, coordinator: str) -> Generator[Any, Any, None]:
        i = 0
        while sim.now < duration_ms:
            i += 1
            txn = Txn(f"{client.name}.{i}", tuple(
                (p, f"k{wl.randrange(hot_keys)}", i) for p in cl.participants))
            res = yield from transaction(client, coordinator, txn, timeout_ms=client_timeout_ms)
            if res.type == "info":  # no answer: fail over to the next coordinator
                coordinator = coords[(coords.index(coordinator) + 1) % len(coords)]
            if think_ms > 0:
                yield sim.sleep(wl.expovariate(1.0 / think_ms))

    for i in range(n_clients):
        name = f"c{i + 1}"
        if name not in sim.clients:
            sim.add_client(name)
        sim.process(client_loop(sim.clients[name], coords[i % len(coords)]))
    sim.run(until=duration_ms)
    h = sim.history
    done = [c for _, c in h.pairs() if c is not None]
    d = in_doubt(h, end_ms=duration_ms)
    verdict = atomicity(h)
    secs = duration_ms / 1000.0
    row = {
        "protocol": protocol.upper(), "crash_rate_per_s": float(rate), "seed": seed,
        "commits_per_s": sum(1 for c in done if c.type == "ok") / secs,
        "committed": sum(1 for c in done if c.type == "ok"),
        "aborted": sum(1 for c in done if c.type == "fail"),
        "unknown": sum(1 for c in done if c.type == "info"),
        "lock_timeouts": sum(1 for e in h.events
                             if e.name == "state" and e.data.get("by") == "lock_timeout"),
        "in_doubt_ms_per_s": float(d["in_doubt_ms"].sum()) / secs,
        "blocked_ms_per_s": float(d.loc[d["in_doubt_ms"] > blocked_ms, "in_doubt_ms"].sum())
        / secs,
        "coordinator_crashes": sum(1 for f in h.faults if f.verb == "crash"),
        "atomic": verdict.valid,
    }
    df = pd.DataFrame([row])
    df.attrs.update(seed=seed, protocol=protocol, duration_ms=duration_ms, down_ms=down_ms,
                    explanation=verdict.explanation)
    return _result(df, h)


def contention_sweep(
    seeds: Iterable[int] = range(3),
    rates: Iterable[float] = (0.0, 0.5, 1.0, 2.0, 4.0),
    protocols: Iterable[str] = PROTOCOLS,
    *,
    progress: bool = False,
    **kwargs: Any,
) -> pd.DataFrame:
    """:func:`contention` for every seed, crash rate and protocol: one row per run."""
    seeds = [check_seed(s) for s in seeds]
    rates = [check_number("rates", r, min=0) for r in rates]
    protos = [check_protocol(p) for p in protocols]
    _bool("progress", progress)
    if not seeds or not rates or not protos:
        raise ValueError("seeds, rates and protocols must each name at least one value")
    runs = [(p, r, s) for p in protos for r in rates for s in seeds]
    frames = [contention(s, p, crash_rate_per_s=r, **kwargs)[0]
              for p, r, s in tqdm(runs, disable=not progress, desc="contention runs")]
    out = pd.concat(frames, ignore_index=True)
    out.attrs["seeds"] = seeds
    return out


# -- 6. everything at once (the tests' seed sweep) ---------------------------------------------
def chaos(
    seed: int = 0,
    protocol: str = "2pc",
    *,
    n_coordinators: int = 2,
    n_participants: int = 3,
    hot_keys: int = 3,
    fault_until_ms: float = 1500.0,
    settle_ms: float = 1500.0,
    loss: float = 0.05,
    duplicate: float = 0.02,
    crashes: bool = True,
    partitions: bool = True,
    participant_options: dict[str, Any] | None = None,
    down_ms: tuple[float, float] = (20.0, 300.0),
    coordinator_cls: type | None = None,
    participant_cls: type | None = None,
) -> Result:
    """Conflicting transactions from ``n_coordinators`` while a nemesis crashes and restarts any
    node and partitions the network at random, with message ``loss`` and ``duplicate``. At
    ``fault_until_ms`` every fault is repaired (heal, loss off, every node up) and the clients stop;
    the run goes on for ``settle_ms``. Returns a summary row and the history; the metadata holds
    the participants' final states (from their logs: ``final_states``) and the verdict. Each
    crashed node stays down for a time drawn uniformly from ``down_ms`` (``(0.5, 5.0)``: quick
    restarts, back before anyone times out)."""
    check_seed(seed)
    check_protocol(protocol)
    check_number("n_coordinators", n_coordinators, min=1, integer=True)
    check_participants(n_participants)
    check_number("hot_keys", hot_keys, min=1, integer=True)
    until = _ms("fault_until_ms", fault_until_ms, positive=True)
    settle = _ms("settle_ms", settle_ms)
    check_probability("loss", loss)
    check_probability("duplicate", duplicate)
    _bool("crashes", crashes)
    _bool("partitions", partitions)
    check_type("down_ms", down_ms, tuple)
    if (len(down_ms) != 2 or not all(type(v) in (int, float) and 0 <= v < float("inf")
                                     for v in down_ms)
            or down_ms[0] > down_ms[1]):
        raise ValueError(f"down_ms={down_ms!r} is not allowed; give a pair (shortest, longest) "
                         "of downtimes in ms with 0 <= shortest <= longest")
    down_lo, down_hi = float(down_ms[0]), float(down_ms[1])
    sim = Sim(seed, loss=loss, duplicate=duplicate)
    coords = [f"tm{i}" for i in range(1, n_coordinators + 1)]
    cl = build_cluster(sim, protocol, n_participants=n_participants, coordinators=coords,
                       participant_options=participant_options,
                       coordinator_cls=coordinator_cls, participant_cls=participant_cls)
    nodes = coords + cl.participants
    rng = sim.stream("faults")
    if crashes:
        for name in nodes:
            t = rng.uniform(0, 300)
            while t < until - 50:
                down = rng.uniform(down_lo, down_hi)
                sim.crash(name, at=t)
                sim.restart(name, at=min(t + down, until))
                t += down + rng.uniform(100, 600)
    if partitions:
        t = rng.uniform(0, 300)
        while t < until - 50:
            shuffled = sorted(nodes, key=lambda _n: rng.random())
            k = rng.randint(1, len(nodes) - 1)
            sim.partition(shuffled[:k], shuffled[k:], at=t)
            t += rng.uniform(50, 300)
            sim.heal(at=min(t, until))
            t += rng.uniform(50, 300)

    def repair() -> Generator[Any, Any, None]:
        yield sim.sleep(until)
        sim.heal()
        sim.net.configure(loss=0.0, duplicate=0.0)
        for name in nodes:
            if not sim.nodes[name].alive:
                sim.restart(name)

    sim.process(repair())
    wl = sim.stream("workload")

    def client_loop(client_name: str, coordinator: str) -> Generator[Any, Any, None]:
        client = cl.client(client_name)
        i = 0
        while sim.now < until:
            i += 1
            parts = sorted(wl.sample(cl.participants, wl.randint(2, len(cl.participants))))
            txn = Txn(f"{coordinator}.{i}", tuple(
                (p, f"k{wl.randrange(hot_keys)}", i) for p in parts))
            yield from transaction(client, coordinator, txn, timeout_ms=150.0)
            yield sim.sleep(wl.uniform(0, 10))

    for c, coordinator in cl.clients.items():
        sim.process(client_loop(c, coordinator))
    sim.run(until=until + settle)
    h = sim.history
    verdict = atomicity(h, require_decided=True)
    ops = [c for _, c in h.pairs() if c is not None]
    df = pd.DataFrame([{
        "protocol": protocol.upper(), "seed": seed, "transactions": len(ops),
        "committed": sum(1 for c in ops if c.type == "ok"),
        "aborted": sum(1 for c in ops if c.type == "fail"),
        "unknown": sum(1 for c in ops if c.type == "info"),
        "faults": len(h.faults), "atomic": verdict.valid,
        "undecided": len(verdict.undecided),
    }])
    df.attrs["seed"] = seed
    return Result(df, h, seed, {"protocol": protocol, "atomic": verdict.valid,
                                "explanation": verdict.explanation,
                                "final_states": cl.final_states()})


__all__ = [
    "FAULTS",
    "PHASE2",
    "PROTOCOLS",
    "STEPS",
    "chaos",
    "compare_happy_paths",
    "contention",
    "contention_sweep",
    "coordinator_crash",
    "crash_matrix",
    "happy_path",
    "participant_failure",
    "partition_split",
]
