"""The distributed-lock chapter's scenarios. Each builds and runs a :class:`~dslab.sim.Sim` (or
several) and returns pandas DataFrames and the runs' histories (:func:`run_locks`: a
:class:`~dslab.sim.scenario.Result`). The analysis is in :mod:`dslab.locks.analysis`, the figures
in :mod:`dslab.locks.plots`, and :mod:`dslab.locks.experiments` offers all of it under one name
(the chapter's facade).

:func:`run_locks` runs one scenario: lock servers (one, a master with an async replica, or N
independent Redlock instances), a storage service, clients that acquire / work / release, and
scripted faults. The numbered experiments compare variants of it (the chapter's sections):

1. :func:`deadlock` -- ``SETNX`` + ``DEL`` without expiry: a crashed holder blocks everyone forever;
   with ``PX`` the lock frees itself.
2. :func:`wrong_release` -- ``DEL`` releases someone else's lock; compare-and-delete does not.
3. :func:`expiry_vs_work` -- a ttl shorter than the work gives two holders; the watchdog fixes it;
   a GC pause longer than the ttl breaks it again.
4. :func:`failover` -- master dies before replicating: two holders; Redlock survives a crash.
5. :func:`redlock_faults` -- Redlock under a clock jump on one server and under a client pause.
6. :func:`fencing` -- the same faults with a storage that checks fencing tokens.
7. :func:`reentrancy` -- nested acquires by one holder; another holder is refused.
8. :func:`crash_window` -- ``SETNX`` then ``PEXPIRE``: a crash between the two commands leaves a
   lock that never expires; ``SET NX PX`` has no such window.
9. :func:`db_locks` -- the database locks of :mod:`dslab.locks.dblock` on a real SQLite file: no
   lock, a unique-index row, a transaction's write lock; with and without a crashed holder.
10. :func:`fair_lock` -- Redisson's fair lock hands the lock out in arrival order; the plain
    reentrant lock in whatever order the retries happen to land.
11. :func:`rw_lock` -- readers share a read-write lock; a writer holds it alone.
12. :func:`reentrancy_cost` -- nested acquires: Redisson counts on the server (a round trip per
    re-entry), Curator's ``InterProcessMutex`` in the client (none).

The definitions the tables use (hold, overlap, lost updates) are in :mod:`dslab.locks.analysis`.
``node_cls`` swaps the lock servers' class (the builder convention of :mod:`dslab.sim.scenario`,
:func:`build`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_choice, check_number, check_seed, check_type
from dslab.history import History
from dslab.locks import dblock
from dslab.locks.analysis import lock_holds, max_concurrent, summarize, writer_overlaps
from dslab.locks.client import LockClient
from dslab.locks.curator import InterProcessMutex
from dslab.locks.redis import HLock, HUnlock, RedisLockServer
from dslab.locks.redisson import FLock, RedissonLockServer, RWLock, RWUnlock
from dslab.locks.storage import FencedStorage
from dslab.sim import Sim, Uniform
from dslab.sim.scenario import Result, check_node_cls
from dslab.zk.client import add_zk_client
from dslab.zk.cluster import build_ensemble, run_until_leader

#: One datacenter: 0.5 to 1.5 ms one way.
LAN = Uniform(0.5, 1.5)
MODES = ("single", "replicated", "redlock")
FAULT_VERBS = ("pause_client", "crash_client", "crash", "clock_jump", "cut", "failover")
#: One run of :func:`run_locks`, as the chapter unpacks it: ``(holds, history)``.
Run = tuple[pd.DataFrame, History]


def build(
    sim: Sim,
    n: int = 1,
    node_cls: type = RedisLockServer,
    *,
    mode: str = "single",
    repl_interval_ms: float = 50.0,
) -> list[str]:
    """Add the lock servers of ``mode`` to ``sim``, each running ``node_cls``, and return the
    names the clients lock on (the shared builder convention, :mod:`dslab.sim.scenario` rule 2).

    ``"single"``: one server ``s1`` (``n`` must be 1); ``"replicated"``: a master ``m1`` that ships
    its changes to a replica ``r1`` every ``repl_interval_ms`` (``n`` must be 1: the master);
    ``"redlock"``: ``n`` independent servers ``s1 .. sN``. (The names are the chapter's.)
    """
    check_type("sim", sim, Sim)
    check_choice("mode", mode, MODES)
    check_node_cls(node_cls)
    if mode == "redlock":
        check_number("n", n, min=1, max=15, integer=True)
    elif n != 1:
        raise ValueError(f"n={n!r} is not allowed with mode={mode!r}; it has exactly 1 server "
                         "for the clients (use mode='redlock' for several)")
    check_number("repl_interval_ms", repl_interval_ms, min=0, min_inclusive=False)
    if mode == "single":
        sim.add_node("s1", node_cls)
        return ["s1"]
    if mode == "replicated":
        sim.add_node("m1", lambda: node_cls(replica="r1", repl_interval_ms=repl_interval_ms))
        sim.add_node("r1", node_cls)
        return ["m1"]
    names = [f"s{i + 1}" for i in range(n)]
    for name in names:
        sim.add_node(name, node_cls)
    return names


def _per_client(name: str, value: Any, n: int) -> list[float]:
    vals = list(value) if isinstance(value, list | tuple) else [value] * n
    if len(vals) != n:
        raise ValueError(f"{name}={value!r} is not allowed; give one value or {n} (one per client)")
    for i, v in enumerate(vals):
        check_number(f"{name}[{i}]", v, min=0)
    return [float(v) for v in vals]


def _check_faults(faults: Any) -> list[dict]:
    if not isinstance(faults, list | tuple):
        raise TypeError(f"faults={faults!r} must be a list of dicts like "
                        "{'verb': 'pause_client', 'client': 'c1', 'at': 50, 'duration_ms': 300}")
    out = []
    for i, f in enumerate(faults):
        check_type(f"faults[{i}]", f, dict)
        check_choice(f"faults[{i}]['verb']", f.get("verb"), FAULT_VERBS)
        check_number(f"faults[{i}]['at']", f.get("at", 0.0), min=0)
        out.append(f)
    return out


def run_locks(
    seed: int = 1,
    *,
    mode: str = "single",
    clients: int = 2,
    ttl_ms: float | None = 100.0,
    release: str = "cad",
    watchdog: bool = False,
    fencing: bool = False,
    work_ms: float | list[float] = 50.0,
    start_ms: float | list[float] = 0.0,
    rounds: int = 1,
    think_ms: float = 10.0,
    retry_ms: float = 10.0,
    acquire_timeout_ms: float | None = None,
    servers: int = 5,
    repl_interval_ms: float = 50.0,
    faults: list[dict] | tuple = (),
    duration_ms: float = 1000.0,
    expiry: str = "px",
    node_cls: type = RedisLockServer,
    client_cls: type = LockClient,
) -> Result:
    """Run one lock scenario; return a :class:`~dslab.sim.scenario.Result` (it unpacks as ``holds,
    history``).

    ``holds`` (the frame) has one row per hold (:data:`~dslab.locks.analysis.HOLD_COLUMNS`);
    ``metadata["summary"]`` holds the figures of :func:`~dslab.locks.analysis.summarize` (also in
    ``holds.attrs["summary"]``, with ``attrs["duration_ms"]``, which the chapter's plots read)
    and ``metadata["storage"]`` the storage's data at the end. ``node_cls``: the lock servers'
    class (:func:`build`);
    ``client_cls``: the clients' class, constructed like
    :class:`~dslab.locks.client.LockClient` (the ``lock-client`` assignment swaps in a
    student's). ``faults`` are dicts with a ``verb`` in :data:`FAULT_VERBS` and an ``at`` (true
    ms): ``pause_client`` (``client``, ``duration_ms``), ``crash_client`` (``client``),
    ``crash`` (``node``), ``clock_jump`` (``node``, ``delta_ms``), ``cut`` (``a``, ``b``: a
    link between a client and a server), ``failover`` (the clients switch to the replica
    ``r1``, as Redis Sentinel would promote it). ``expiry``: ``"px"`` (``SET NX PX``) or
    ``"expire"`` (``SETNX`` then ``PEXPIRE``, :class:`~dslab.locks.client.LockClient` rule 6).
    """
    check_seed(seed)
    check_choice("mode", mode, MODES)
    check_number("clients", clients, min=1, max=26, integer=True)
    check_number("rounds", rounds, min=1, integer=True)
    check_number("servers", servers, min=1, max=15, integer=True)
    check_number("duration_ms", duration_ms, min=0, min_inclusive=False)
    check_number("think_ms", think_ms, min=0)
    check_type("fencing", fencing, bool)
    if not isinstance(client_cls, type):
        raise TypeError(f"client_cls={client_cls!r} must be a class constructed like LockClient")
    works = _per_client("work_ms", work_ms, clients)
    starts = _per_client("start_ms", start_ms, clients)
    faults = _check_faults(faults)

    sim = Sim(seed=seed, latency=LAN)
    names = build(sim, servers if mode == "redlock" else 1, node_cls, mode=mode,
                  repl_interval_ms=repl_interval_ms)
    sim.add_node("store", lambda: FencedStorage(fencing=fencing))
    lcs = []
    for i in range(clients):
        lc = client_cls(sim, f"c{i + 1}", names, ttl_ms=ttl_ms, release=release,
                        watchdog=watchdog, redlock=mode == "redlock", storage="store",
                        retry_ms=retry_ms, acquire_timeout_ms=acquire_timeout_ms,
                        rpc_timeout_ms=5.0 if mode == "redlock" else 20.0, expiry=expiry)
        lcs.append(lc)
    by_name = {lc.name: lc for lc in lcs}
    for i, f in enumerate(faults):
        at = float(f.get("at", 0.0))
        verb = f["verb"]
        try:
            if verb == "pause_client":
                by_name[f["client"]].pause(f["duration_ms"], at=at)
            elif verb == "crash_client":
                by_name[f["client"]].crash(at=at)
            elif verb == "crash":
                sim.crash(f["node"], at=at)
            elif verb == "clock_jump":
                sim.clock_jump(f["node"], f["delta_ms"], at=at)
            elif verb == "cut":
                sim.cut(f["a"], f["b"], at=at)
            elif verb == "failover":
                if mode != "replicated":
                    raise ValueError(f"faults[{i}] verb='failover' needs mode='replicated', "
                                     f"not mode={mode!r}")
                sim.process(_failover(sim, lcs, at))
        except KeyError as exc:
            raise ValueError(f"faults[{i}]={f!r} is missing {exc} or names an unknown client; "
                             f"clients are {sorted(by_name)}") from None
    for lc, w, s in zip(lcs, works, starts, strict=True):
        sim.process(lc.run(start_ms=s, rounds=rounds, work_ms=w, think_ms=think_ms))
    sim.run(until=duration_ms)
    store = sim.handler("store")
    holds = lock_holds(sim.history, end_ms=duration_ms)
    summary = summarize(holds, sim.history, store)
    holds.attrs["summary"] = summary
    holds.attrs["seed"] = seed
    holds.attrs["duration_ms"] = float(duration_ms)
    return Result(holds, sim.history, seed, {"summary": summary, "duration_ms": float(duration_ms),
                                             "storage": dict(store.data)})


def _failover(sim: Sim, lcs: list[Any], at: float):
    yield sim.sleep(at - sim.now)
    for lc in lcs:
        lc.primary = "r1"
    sim.history.fault(sim.now, "failover", node="r1")


def compare(variants: dict[str, dict], seed: int = 1) -> tuple[pd.DataFrame, dict[str, Run]]:
    """Run each variant (``label -> run_locks kwargs``); one summary row per variant."""
    check_type("variants", variants, dict)
    runs = {label: run_locks(seed, **kw) for label, kw in variants.items()}
    table = pd.DataFrame([{"variant": k, **h.attrs["summary"]} for k, (h, _) in runs.items()])
    return table, runs


# -- the chapter's experiments --------------------------------------------------------------------
def deadlock(seed: int = 1, ttl_ms: float = 200.0) -> tuple[pd.DataFrame, dict[str, Run]]:
    """c1 takes the lock and crashes while working; c2 keeps trying."""
    base = dict(clients=2, start_ms=[0.0, 5.0], work_ms=100.0, duration_ms=800.0,
                faults=[{"verb": "crash_client", "client": "c1", "at": 30.0}])
    return compare({"SETNX + DEL, no expiry": dict(base, ttl_ms=None),
                    f"SET NX PX {ttl_ms:g}": dict(base, ttl_ms=ttl_ms)}, seed)


def wrong_release(seed: int = 1) -> tuple[pd.DataFrame, dict[str, Run]]:
    """ttl 100 ms; c1 works 150 ms, so its lock expires and c2 takes it; then c1 releases while
    c3 is waiting (c2 and c3 work 80 and 60 ms, within the ttl)."""
    base = dict(clients=3, ttl_ms=100.0, work_ms=[150.0, 80.0, 60.0], start_ms=[0.0, 20.0, 110.0],
                duration_ms=350.0)
    return compare({"DEL": dict(base, release="del"),
                    "compare-and-delete": dict(base, release="cad")}, seed)


def expiry_vs_work(seed: int = 1, pause_ms: float = 300.0,
                   ttl_ms: float = 100.0) -> tuple[pd.DataFrame, dict[str, Run]]:
    """ttl shorter than the 250 ms of work; then the watchdog; then a GC pause of c1."""
    check_number("pause_ms", pause_ms, min=0)
    base = dict(clients=2, ttl_ms=ttl_ms, work_ms=250.0, start_ms=[0.0, 20.0], duration_ms=500.0)
    pause = [{"verb": "pause_client", "client": "c1", "at": 50.0, "duration_ms": pause_ms}]
    return compare({"ttl < work": base,
                    "watchdog": dict(base, watchdog=True),
                    f"watchdog + {pause_ms:g} ms GC pause": dict(base, watchdog=True,
                                                                 faults=pause)}, seed)


def failover(seed: int = 1) -> tuple[pd.DataFrame, dict[str, Run]]:
    """The master (or one Redlock server) crashes 10 ms after c1 took the lock."""
    base = dict(clients=2, ttl_ms=1000.0, work_ms=300.0, start_ms=[0.0, 20.0], duration_ms=800.0)
    return compare({
        "master + async replica, failover": dict(
            base, mode="replicated",
            faults=[{"verb": "crash", "node": "m1", "at": 10.0},
                    {"verb": "failover", "at": 60.0}]),
        "Redlock, 5 servers, s1 crashes": dict(
            base, mode="redlock", faults=[{"verb": "crash", "node": "s1", "at": 10.0}]),
    }, seed)


def redlock_faults(seed: int = 1, jump_ms: float = 600.0,
                   pause_ms: float = 700.0) -> tuple[pd.DataFrame, dict[str, Run]]:
    """Redlock, ttl 500 ms, work 300 ms. (a) c1 cannot reach s4, s5; s3's clock jumps forward.
    (b) c1 is paused for ``pause_ms`` right after acquiring."""
    check_number("jump_ms", jump_ms)
    check_number("pause_ms", pause_ms, min=0)
    base = dict(mode="redlock", clients=2, ttl_ms=500.0, work_ms=300.0, start_ms=[0.0, 150.0],
                duration_ms=900.0)
    cuts = [{"verb": "cut", "a": "c1", "b": s, "at": 0.0} for s in ("s4", "s5")]
    jump = [{"verb": "clock_jump", "node": "s3", "delta_ms": jump_ms, "at": 100.0}]
    pause = [{"verb": "pause_client", "client": "c1", "at": 50.0, "duration_ms": pause_ms}]
    return compare({f"c1 cannot reach s4, s5; s3's clock jumps +{jump_ms:g} ms":
                    dict(base, faults=cuts + jump),
                    f"c1 paused {pause_ms:g} ms": dict(base, faults=pause)}, seed)


FENCING_FAULTS = {
    "ttl < work": dict(ttl_ms=100.0, work_ms=250.0),
    "GC pause (watchdog on)": dict(ttl_ms=100.0, work_ms=250.0, watchdog=True, faults=[
        {"verb": "pause_client", "client": "c1", "at": 50.0, "duration_ms": 300.0}]),
    "clock jump on the server": dict(ttl_ms=500.0, work_ms=300.0, start_ms=[0.0, 150.0], faults=[
        {"verb": "clock_jump", "node": "s1", "delta_ms": 600.0, "at": 100.0}]),
}


def fencing(seed: int = 1, scenarios: Iterable[str] | None = None) -> tuple[pd.DataFrame,
                                                                          dict[str, Run]]:
    """Each scenario of :data:`FENCING_FAULTS`, without and with fencing tokens."""
    names = list(FENCING_FAULTS) if scenarios is None else list(scenarios)
    for i, n in enumerate(names):
        check_choice(f"scenarios[{i}]", n, list(FENCING_FAULTS))
    variants = {}
    for n in names:
        kw = dict(dict(clients=2, start_ms=[0.0, 20.0], duration_ms=600.0), **FENCING_FAULTS[n])
        variants[f"{n}, no fencing"] = dict(kw, fencing=False)
        variants[f"{n}, fencing"] = dict(kw, fencing=True)
    table, runs = compare(variants, seed)
    table.insert(1, "fencing", [k.endswith(", fencing") for k in variants])
    return table, runs


def reentrancy(seed: int = 1, lease_ms: float = 250.0, gap_ms: float = 100.0) -> pd.DataFrame:
    """c1 locks twice (count 2), c2 is refused, c1 unlocks twice, then c2 gets it; one command
    every ``gap_ms``. Every lock and unlock that leaves the lock held sets a full ``lease_ms``
    (Redisson), so c2 stays refused after c1's first unlock even when the lease taken by the
    second lock would have run out by then. One row per command, with the server's hash and the
    lease left on the server's clock after it (``NaN``: no key)."""
    check_seed(seed)
    check_number("lease_ms", lease_ms, min=1)
    check_number("gap_ms", gap_ms, min=0)
    sim = Sim(seed=seed, latency=LAN)
    sim.add_node("s1", RedisLockServer)
    c1, c2 = sim.add_client("c1"), sim.add_client("c2")
    steps = [(c1, HLock("lock", "c1", lease_ms)), (c1, HLock("lock", "c1", lease_ms)),
             (c2, HLock("lock", "c2", lease_ms)), (c1, HUnlock("lock", "c1", lease_ms)),
             (c2, HLock("lock", "c2", lease_ms)), (c1, HUnlock("lock", "c1", lease_ms)),
             (c2, HLock("lock", "c2", lease_ms))]
    rows = []

    def script():
        for i, (who, body) in enumerate(steps):
            yield sim.sleep(max(i * gap_ms - sim.now, 0.0))
            r = yield from who.call("s1", body, timeout_ms=20.0)
            held = sim.handler("s1").keys.get("lock")
            left = float("nan")
            if held is not None and held.expires_at is not None:
                left = round(held.expires_at - sim.local_time("s1"), 1)
            rows.append({"t_ms": round(sim.now, 3), "client": who.name,
                         "command": type(body).__name__, "result": r.type,
                         "count": r.value if r.ok else None,
                         "server hash": dict(held.value) if held else {},
                         "lease_left_ms": left})

    sim.run(until=sim.process(script()))
    df = pd.DataFrame(rows)
    df["count"] = df["count"].astype("Int64")
    return df


CRASH_WINDOW_VARIANTS = {"SET NX PX (one command)": "px", "SETNX, then PEXPIRE": "expire"}


def crash_window(seed: int = 1, crash_ms: Iterable[float] | None = None, ttl_ms: float = 200.0,
                 duration_ms: float = 1000.0) -> pd.DataFrame:
    """``c1`` asks for the lock at 0 ms and crashes at each time of ``crash_ms`` (default 0.25,
    0.5, ..., 6 ms); ``c2`` asks from 10 ms on, every 10 ms or so. One row per variant of
    :data:`CRASH_WINDOW_VARIANTS` and crash time: when ``c2`` got the lock (``NaN``: not within
    ``duration_ms``, the lock is stuck) and how long it waited."""
    check_seed(seed)
    times = [0.25 * k for k in range(1, 25)] if crash_ms is None else list(crash_ms)
    for i, t in enumerate(times):
        check_number(f"crash_ms[{i}]", t, min=0, min_inclusive=False)
    check_number("ttl_ms", ttl_ms, min=1)
    rows = []
    for variant, expiry in CRASH_WINDOW_VARIANTS.items():
        for t in times:
            holds, _ = run_locks(seed, clients=2, ttl_ms=ttl_ms, expiry=expiry,
                                 work_ms=[10 * ttl_ms, 50.0], start_ms=[0.0, 10.0],
                                 duration_ms=duration_ms,
                                 faults=[{"verb": "crash_client", "client": "c1", "at": t}])
            c2 = holds[holds["holder"] == "c2"]
            got = float(c2["start_ms"].min()) if len(c2) else float("nan")
            rows.append({"variant": variant, "crash_ms": t, "c2_acquired_ms": got,
                         "c2_wait_ms": got - 10.0, "stuck": len(c2) == 0})
    df = pd.DataFrame(rows)
    df.attrs.update(seed=seed, ttl_ms=float(ttl_ms), duration_ms=float(duration_ms))
    return df


def db_locks(clients: int = 3, increments: int = 3, max_steps: int = 300) -> pd.DataFrame:
    """:func:`dslab.locks.dblock.scenario` for each lock kind, without a crash and with ``c1``
    crashing inside its first critical section. One row each; real SQLite, but deterministic
    (round-robin steps, no seed needed)."""
    rows = []
    for lock in dblock.LOCKS:
        for crash in (None, "c1"):
            out = dblock.scenario(lock, clients=clients, increments=increments, crash=crash,
                                  max_steps=max_steps)
            out.pop("trace")
            rows.append(out)
    df = pd.DataFrame(rows)
    df["crash"] = df["crash"].fillna("none")
    return df


def _hash_worker(sim: Sim, name: str, lock: Any, unlock: Any, *, start_ms: float,
                 work_ms: float, rounds: int = 1, think_ms: float = 10.0,
                 retry_ms: float = 10.0, rows: list[dict]) -> Any:
    """A client script for the hash-based locks: ask (retrying every ``retry_ms`` with jitter)
    until granted, work, unlock, think; one row per hold (from the grant to the unlock)."""
    client = sim.add_client(name)
    rng = sim.stream(f"lockclient/{name}")

    def script():
        yield sim.sleep(start_ms)
        for _ in range(rounds):
            asked = sim.now
            while True:
                r = yield from client.call("s1", lock, timeout_ms=20.0)
                if r.ok:
                    break
                yield sim.sleep(retry_ms * (0.5 + rng.random()))
            got = sim.now
            yield sim.sleep(work_ms)
            rows.append({"client": name, "mode": getattr(lock, "mode", "exclusive"),
                         "asked_ms": asked, "start_ms": got, "end_ms": sim.now,
                         "wait_ms": got - asked})
            yield from client.call("s1", unlock, timeout_ms=20.0)
            yield sim.sleep(think_ms * (0.5 + rng.random()))

    return sim.process(script())


FAIR_KINDS = ("reentrant lock (not fair)", "fair lock")


def fair_lock(seeds: Iterable[int] = range(20), waiters: int = 4, hold_ms: float = 60.0,
              work_ms: float = 20.0) -> pd.DataFrame:
    """``c0`` holds the lock for ``hold_ms``; ``c1``..``cN`` ask for it 5 ms apart while it is
    held and retry every 10 ms or so. For each seed and each lock kind of :data:`FAIR_KINDS`
    (``HLock`` or Redisson's ``FLock``), one row per waiter: its arrival rank, the rank in which
    it got the lock, and its wait."""
    seeds = list(seeds)
    for s in seeds:
        check_seed(s)
    check_number("waiters", waiters, min=1, max=20, integer=True)
    check_number("hold_ms", hold_ms, min=0)
    check_number("work_ms", work_ms, min=0)
    out = []
    for seed in seeds:
        for kind in FAIR_KINDS:
            sim = Sim(seed=seed, latency=LAN)
            sim.add_node("s1", RedissonLockServer)
            rows: list[dict] = []
            procs = []
            for i in range(waiters + 1):
                name = f"c{i}"
                lock = (HLock("lock", name, 10_000) if kind == FAIR_KINDS[0]
                        else FLock("lock", name, 10_000))
                procs.append(_hash_worker(sim, name, lock, HUnlock("lock", name, 10_000),
                                          start_ms=5.0 * i,
                                          work_ms=hold_ms if i == 0 else work_ms, rows=rows))
            sim.run(until=sim.env.all_of(procs))
            df = pd.DataFrame(rows).sort_values("start_ms")
            gaps = (df["start_ms"].iloc[1:].to_numpy() - df["end_ms"].iloc[:-1].to_numpy())
            df = df[df["client"] != "c0"].reset_index(drop=True)
            for rank, row in enumerate(df.itertuples(), start=1):
                out.append({"seed": seed, "kind": kind, "client": row.client,
                            "arrival": int(row.client[1:]), "order": rank,
                            "wait_ms": round(row.wait_ms, 3),
                            "idle_ms": round(float(gaps.sum()), 3)})
    return pd.DataFrame(out)


RW_KINDS = ("exclusive lock", "read-write lock")


def rw_lock(seed: int = 1, readers: int = 4, rounds: int = 3, read_ms: float = 40.0,
            write_ms: float = 20.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``readers`` readers (``r1``..) and one writer ``w`` each take the lock ``rounds`` times,
    first with one exclusive lock for everybody (``HLock``), then with Redisson's read-write lock
    (readers take the read side). Returns ``(holds, summary)``: one row per hold (``kind``,
    ``client``, ``mode``, ``start_ms``, ``end_ms``), and per kind the time until all were done,
    the most readers holding at once, and whether a writer ever overlapped anyone."""
    check_seed(seed)
    check_number("readers", readers, min=1, max=20, integer=True)
    check_number("rounds", rounds, min=1, integer=True)
    check_number("read_ms", read_ms, min=0)
    check_number("write_ms", write_ms, min=0)
    holds, summary = [], []
    for kind in RW_KINDS:
        sim = Sim(seed=seed, latency=LAN)
        sim.add_node("s1", RedissonLockServer)
        rows: list[dict] = []
        procs = []
        names = [f"r{i + 1}" for i in range(readers)] + ["w"]
        for i, name in enumerate(names):
            mode = "write" if name == "w" else "read"
            if kind == RW_KINDS[0]:
                lock, unlock = HLock("rw", name, 10_000), HUnlock("rw", name, 10_000)
            else:
                lock, unlock = RWLock("rw", name, mode, 10_000), RWUnlock("rw", name, mode, 10_000)
            procs.append(_hash_worker(sim, name, lock, unlock, start_ms=2.0 * i,
                                      work_ms=write_ms if name == "w" else read_ms,
                                      rounds=rounds, rows=rows))
        sim.run(until=sim.env.all_of(procs))
        df = pd.DataFrame(rows)
        df["mode"] = ["write" if c == "w" else "read" for c in df["client"]]
        df.insert(0, "kind", kind)
        holds.append(df)
        summary.append({"kind": kind, "done_ms": round(sim.now, 3),
                        "max_readers_at_once": max_concurrent(df[df["mode"] == "read"]),
                        "writer_overlaps": writer_overlaps(df)})
    out = pd.concat(holds, ignore_index=True)
    out.attrs["seed"] = seed
    table = pd.DataFrame(summary)
    table.attrs["seed"] = seed
    return out, table


REENTRANCY_RECIPES = ("Redisson RLock (count on the server)",
                      "Curator InterProcessMutex (count in the client)")


def _client_requests(sim: Sim) -> int:
    """Client requests sent so far (keep-alive pings excluded)."""
    return sum(n for t, n in sim.net.sent_by_type.items()
               if t.startswith("Request:") and t != "Request:Ping")


def reentrancy_cost(seed: int = 1, depths: Iterable[int] = range(1, 6)) -> pd.DataFrame:
    """One client takes the same lock ``depth`` times (nested) and releases it as many times,
    with Redisson's server-side count and with Curator's client-side count (on a three-server
    ZooKeeper ensemble). One row per recipe and depth: requests sent to the servers, time taken,
    and what the server holds at the deepest point (the hash count, or the number of lock
    znodes)."""
    check_seed(seed)
    depths = list(depths)
    for i, d in enumerate(depths):
        check_number(f"depths[{i}]", d, min=1, max=50, integer=True)
    rows = []
    for d in depths:
        sim = Sim(seed=seed, latency=LAN)
        sim.add_node("s1", RedisLockServer)
        c = sim.add_client("c1")
        seen = {}

        def redisson(d=d, c=c, sim=sim, seen=seen):
            for _ in range(d):
                yield from c.call("s1", HLock("lock", "c1", 30_000), timeout_ms=20.0)
            seen["server"] = sim.handler("s1").keys["lock"].value["c1"]
            for _ in range(d):
                yield from c.call("s1", HUnlock("lock", "c1", 30_000), timeout_ms=20.0)

        t0, n0 = sim.now, _client_requests(sim)
        sim.run(until=sim.process(redisson()))
        rows.append({"recipe": REENTRANCY_RECIPES[0], "depth": d,
                     "requests": _client_requests(sim) - n0, "elapsed_ms": sim.now - t0,
                     "held_on_server": seen["server"]})

        zsim, names = build_ensemble(seed, 3)
        run_until_leader(zsim)
        zc = add_zk_client(zsim, "c1", names, server=names[0])

        def setup(zc=zc):
            yield from zc.connect()
            yield from zc.create("/lock", record=False)

        zsim.run(until=zsim.process(setup()))
        mutex = InterProcessMutex(zc, "/lock")
        zseen = {}

        def curator(d=d, mutex=mutex, zseen=zseen, zsim=zsim, names=names):
            for _ in range(d):
                yield from mutex.acquire("main")
            zseen["server"] = len(zsim.handler(names[0]).tree.children("/lock"))
            for _ in range(d):
                yield from mutex.release("main")

        t0, n0 = zsim.now, _client_requests(zsim)
        zsim.run(until=zsim.process(curator()))
        rows.append({"recipe": REENTRANCY_RECIPES[1], "depth": d,
                     "requests": _client_requests(zsim) - n0, "elapsed_ms": zsim.now - t0,
                     "held_on_server": zseen["server"]})
    df = pd.DataFrame(rows)
    df["elapsed_ms"] = df["elapsed_ms"].round(3)
    df.attrs["seed"] = seed
    return df


def safety_sweep(seeds: Iterable[int] = range(30), *, progress: bool = False,
                 **kwargs: Any) -> pd.DataFrame:
    """:func:`run_locks` over many seeds (default: 3 clients, 5 rounds, random-ish work below
    the ttl, watchdog on); one summary row per seed."""
    check_type("progress", progress, bool)
    seeds = list(seeds)
    kw = dict(clients=3, rounds=5, ttl_ms=60.0, watchdog=True, work_ms=[40.0, 90.0, 150.0],
              start_ms=[0.0, 3.0, 7.0], duration_ms=3000.0)
    kw.update(kwargs)
    rows = []
    for s in tqdm(seeds, disable=not progress, desc="seeds"):
        holds, _ = run_locks(s, **kw)
        rows.append({"seed": s, **holds.attrs["summary"]})
    return pd.DataFrame(rows)
