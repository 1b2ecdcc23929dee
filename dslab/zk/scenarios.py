"""The ZooKeeper chapter's scenarios: each builds an ensemble on the simulator, runs it and
returns a pandas DataFrame (and the run's history where it helps). Arguments are checked at once.
What is computed from a finished history is in :mod:`dslab.zk.analysis`, the figures are in
:mod:`dslab.zk.plots`, and :mod:`dslab.zk.experiments` offers it all under one name (the
chapter's facade). The handlers are in :mod:`dslab.zk.server` and :mod:`dslab.zk.client`.

- :func:`election_after_crash` -- the leader crashes while one follower lags: who wins, and why.
- :func:`recovery_sweep` -- time from a leader's crash to a new established leader, over seeds.
- :func:`write_path` -- one write, PROPOSAL / ACK / COMMIT, for a space-time diagram.
- :func:`stale_reads` -- reads from a lagging follower, with and without ``sync``.
- :func:`session_expiry` -- a silent client's session expires; its ephemeral node goes; a watcher
  is told.
- :func:`lock_herd` / :func:`herd_sweep` -- notifications per release, herd vs predecessor.
- :func:`lock_with_pause` -- a lock holder paused past its session timeout: two holders at once.
- :func:`crash_recovery_run` -- writes under repeated leader crashes (what the tests sweep).
- :func:`truncation_demo` -- discovery and synchronisation: a rejoining old leader truncates an
  uncommitted proposal of its epoch and receives the new epoch's transactions.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_number, check_seed, check_type
from dslab.check import mutual_exclusion
from dslab.history import History
from dslab.sim.latency import Constant
from dslab.zk.analysis import (
    applied_after,
    fenced_holds,
    last_ping_ms,
    messages_between,
    notifications_per_release,
    recovery_ms,
    session_expired_ms,
)
from dslab.zk.client import Lock, ZkClient, add_zk_client
from dslab.zk.cluster import build_ensemble, leader_of, run_until_leader, trees
from dslab.zk.messages import fmt_zxid, zxid_counter, zxid_epoch
from dslab.zk.server import ZkConfig


def _check_servers(servers: Any, low: int = 3) -> int:
    check_number("servers", servers, min=low, max=9, integer=True)
    return servers


def _connect_all(sim: Any, clients: list[ZkClient]) -> None:
    def go() -> Any:
        for c in clients:
            yield from c.connect()

    sim.run(until=sim.process(go()))


def _run(sim: Any, gen: Any) -> Any:
    proc = sim.process(gen)
    sim.run(until=proc)
    return proc.value


# -- 1. election after a crash ----------------------------------------------------------------
def election_after_crash(
    seed: int = 0, servers: int = 5, writes: int = 6, lagging: str | None = "s4"
) -> tuple[pd.DataFrame, History]:
    """``servers`` servers elect a leader (the highest myid); a client writes ``writes`` znodes,
    the last half while ``lagging`` is cut off. Then the leader crashes and ``lagging`` comes back:
    the survivors vote. One row per server: myid, last zxid, current epoch, and its final state.
    ``attrs``: ``crash_ms``, ``new_leader``, ``recovery_ms`` (crash to an established leader)."""
    check_seed(seed)
    _check_servers(servers)
    check_number("writes", writes, min=0, max=200, integer=True)
    sim, names = build_ensemble(seed, servers)
    if lagging is not None and lagging not in names:
        raise ValueError(f"lagging={lagging!r} is not one of the servers {names}")
    first = run_until_leader(sim)
    followers = [n for n in names if n != first and n != lagging]
    client = add_zk_client(sim, "c1", names, server=followers[0])
    _connect_all(sim, [client])

    def work() -> Any:
        for i in range(writes):
            if lagging is not None and i == writes // 2:
                sim.isolate(lagging)
            yield from client.create(f"/k{i}", i)

    _run(sim, work())
    sim.run_for(30.0)
    before = {n: sim.handler(n) for n in names}
    rows = {
        n: {
            "server": n,
            "myid": h.myid,
            "epoch": h.current_epoch(sim.nodes[n].ctx),
            "last_zxid": fmt_zxid(h.last_zxid),
            "zxid": h.last_zxid,
        }
        for n, h in before.items()
    }
    crash_ms = sim.now
    sim.crash(first)
    if lagging is not None:
        sim.reconnect(lagging)
    sim.run_for(1.0)
    new = run_until_leader(sim)
    recovery = recovery_ms(sim.history, crash_ms)
    sim.run_for(50.0)
    for n in names:
        h = sim.handler(n)
        rows[n]["state"] = "crashed" if h is None else h.state
    df = pd.DataFrame(list(rows.values()))
    df.attrs.update(
        seed=seed,
        first_leader=first,
        crash_ms=crash_ms,
        new_leader=new,
        recovery_ms=recovery,
    )
    return df, sim.history


def recovery_sweep(
    seeds: Any = range(20), servers: int = 5, *, progress: bool = False
) -> pd.DataFrame:
    """:func:`election_after_crash` (no lagging server) for each seed: recovery time and winner."""
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds=[] is not allowed; give at least one seed")
    _check_servers(servers)
    rows = []
    for s in tqdm(seeds, disable=not progress, desc="seeds"):
        df, _ = election_after_crash(s, servers, writes=4, lagging=None)
        rows.append(
            {
                "seed": s,
                "new_leader": df.attrs["new_leader"],
                "recovery_ms": df.attrs["recovery_ms"],
            }
        )
    out = pd.DataFrame(rows)
    out.attrs["seed"] = f"{seeds[0]}..{seeds[-1]}"
    return out


# -- 2. the path of a write -------------------------------------------------------------------
def write_path(seed: int = 0) -> tuple[pd.DataFrame, History, tuple[float, float]]:
    """One ``create`` sent to a follower of three servers. Returns the messages of the write
    (time, src, dst, type), the history and the time window ``(t0, t1)`` of the write."""
    check_seed(seed)
    cfg = ZkConfig(tick_ms=200.0, sync_limit_ms=1000.0)  # few pings in the picture
    sim, names = build_ensemble(seed, 3, config=cfg)
    leader = run_until_leader(sim)
    follower = next(n for n in names if n != leader)
    client = add_zk_client(sim, "client", names, server=follower, session_timeout_ms=3000.0)
    _connect_all(sim, [client])
    sim.run_for(5.0)
    t0 = sim.now
    _run(sim, client.create("/config", "v1"))
    sim.run_for(4.0)
    t1 = sim.now
    df = messages_between(sim.history, t0, t1)
    df.attrs.update(seed=seed, leader=leader, follower=follower)
    return df, sim.history, (t0, t1)


# -- 3. stale reads and sync ------------------------------------------------------------------
def stale_reads(
    seed: int = 0, lag_ms: float = 30.0, writes: int = 8
) -> tuple[pd.DataFrame, History]:
    """A writer (on the leader) sets ``/x`` to 1..``writes``; after each write completes, a
    reader connected to a follower whose link from the leader takes ``lag_ms`` reads ``/x``, then
    calls ``sync`` and reads again. One row per write: what each read returned."""
    check_seed(seed)
    check_number("lag_ms", lag_ms, min=0, max=1000)
    check_number("writes", writes, min=1, max=100, integer=True)
    sim, names = build_ensemble(seed, 3, config=ZkConfig(sync_limit_ms=max(100.0, 4 * lag_ms)))
    leader = run_until_leader(sim)
    slow = next(n for n in names if n != leader)
    writer = add_zk_client(sim, "writer", names, server=leader, session_timeout_ms=2000.0)
    reader = add_zk_client(
        sim,
        "reader",
        names,
        server=slow,
        session_timeout_ms=2000.0,
        op_timeout_ms=1000.0 + 4 * lag_ms,
    )
    _connect_all(sim, [writer, reader])
    _run(sim, writer.create("/x", 0))
    sim.run_for(lag_ms + 10)
    sim.net.configure(src=leader, dst=slow, latency=Constant(lag_ms))
    rows = []

    def work() -> Any:
        for v in range(1, writes + 1):
            yield from writer.set_data("/x", v)
            done = sim.now
            r1 = yield from reader.get_data("/x")
            rs = yield from reader.sync("/x")
            r2 = yield from reader.get_data("/x")
            rows.append(
                {
                    "written": v,
                    "write_done_ms": done,
                    "read": r1.value[0],
                    "read_after_sync": r2.value[0],
                    "read_ms": r1.latency_ms,
                    "sync_ms": rs.latency_ms,
                }
            )

    _run(sim, work())
    df = pd.DataFrame(rows)
    df["stale"] = df["read"] != df["written"]
    df.attrs.update(seed=seed, lag_ms=lag_ms, leader=leader, slow=slow)
    return df, sim.history


# -- 4. sessions, ephemeral nodes and watches -------------------------------------------------
def session_expiry(
    seed: int = 0, session_timeout_ms: float = 300.0, silent_at_ms: float = 200.0
) -> tuple[pd.DataFrame, History]:
    """Worker ``w`` registers the ephemeral node ``/workers/w``; monitor ``m`` (on another server)
    watches it with ``exists``. ``silent_at_ms`` after connecting, ``w`` stops for good (a long
    pause). Returns the timeline of what happened (event, time)."""
    check_seed(seed)
    check_number("session_timeout_ms", session_timeout_ms, min=60, max=10_000)
    check_number("silent_at_ms", silent_at_ms, min=0, max=10_000)
    sim, names = build_ensemble(seed, 3)
    leader = run_until_leader(sim)
    others = [n for n in names if n != leader]
    w = add_zk_client(sim, "w", names, server=others[0], session_timeout_ms=session_timeout_ms)
    m = add_zk_client(sim, "m", names, server=others[1], session_timeout_ms=10 * session_timeout_ms)
    _connect_all(sim, [w, m])
    _run(sim, w.create("/workers"))
    _run(sim, w.create("/workers/w", "host-a", ephemeral=True))
    box: dict[str, Any] = {}

    def watcher() -> Any:
        (res, ev) = yield from m.exists("/workers/w", watch=True)
        box["watched_ms"] = sim.now
        note = yield ev
        box["notified_ms"] = sim.now
        box["event"] = note.event
        res2 = yield from m.exists("/workers/w")
        box["exists_after"] = res2.value is not None

    sim.process(watcher())
    start = sim.now
    sim.run_for(silent_at_ms)
    silent = sim.now
    w.pause(100 * session_timeout_ms)
    sim.run_for(3 * session_timeout_ms + 200)
    expired = session_expired_ms(sim.history, "w")
    last_ping = last_ping_ms(sim.history, "w", silent)
    deleted = applied_after(sim.history, expired)
    rows = [
        ("worker connected, /workers/w created", start),
        ("worker's last ping", last_ping if last_ping is not None else start),
        ("worker goes silent", silent),
        ("leader expires the session", expired),
        ("monitor's server deletes /workers/w", deleted.get(others[1], float("nan"))),
        ("monitor notified", box.get("notified_ms", float("nan"))),
    ]
    df = pd.DataFrame(rows, columns=["what", "time_ms"])
    df.attrs.update(
        seed=seed,
        session_timeout_ms=session_timeout_ms,
        leader=leader,
        event=box.get("event"),
        exists_after=box.get("exists_after"),
    )
    return df, sim.history


# -- 5. the lock recipe -----------------------------------------------------------------------
def _lock_run(
    seed: int,
    clients: int,
    mode: str,
    hold_ms: float,
    pause: tuple[float, float] | None = None,
    session_timeout_ms: float = 300.0,
) -> tuple[Any, list[ZkClient], list[Lock]]:
    sim, names = build_ensemble(seed, 3)
    run_until_leader(sim)
    cs = [
        add_zk_client(
            sim, f"c{i}", names, server=names[i % len(names)], session_timeout_ms=session_timeout_ms
        )
        for i in range(1, clients + 1)
    ]
    _connect_all(sim, cs)
    _run(sim, cs[0].create("/lock", record=False))
    sim.run_for(10.0)
    locks = [Lock(c, "/lock", mode) for c in cs]
    rng = sim.stream("workload")

    def contender(c: ZkClient, lock: Lock, delay: float) -> Any:
        yield sim.sleep(delay)
        res = yield from lock.acquire()
        if not res.ok:
            return
        if pause is not None and c is cs[0]:
            c.pause(pause[0])
        yield sim.sleep(hold_ms)
        yield from c.stall()
        yield from lock.release()

    procs = [
        sim.process(contender(c, lk, rng.uniform(0, 5))) for c, lk in zip(cs, locks, strict=True)
    ]
    sim.run(until=sim.env.all_of(procs))
    sim.run_for(50.0)
    return sim, cs, locks


def lock_herd(
    seed: int = 0, clients: int = 5, mode: str = "predecessor", hold_ms: float = 20.0
) -> tuple[pd.DataFrame, History]:
    """``clients`` clients each take the lock once (``mode`` herd or predecessor) and hold it
    ``hold_ms``. One row: releases, watch notifications (all, and those caused by a release),
    notifications per release (mean and max), and whether mutual exclusion held (true time)."""
    check_seed(seed)
    check_number("clients", clients, min=1, max=64, integer=True)
    check_type("mode", mode, str)
    if mode not in ("herd", "predecessor"):
        raise ValueError(f"mode={mode!r} is not allowed; choose one of ['herd', 'predecessor']")
    check_number("hold_ms", hold_ms, min=0, max=10_000)
    sim, cs, _ = _lock_run(seed, clients, mode, hold_ms)
    h = sim.history
    verdict = mutual_exclusion(h)
    df = pd.DataFrame(
        [
            {
                "mode": mode,
                "clients": clients,
                **notifications_per_release(h),
                "mutual_exclusion": verdict.valid,
            }
        ]
    )
    df.attrs.update(seed=seed, explanation=verdict.explanation)
    return df, h


def herd_sweep(
    clients: Any = (2, 4, 8, 16), seed: int = 0, *, progress: bool = False
) -> pd.DataFrame:
    """:func:`lock_herd` for both modes and each number of clients."""
    clients = list(clients)
    if not clients:
        raise ValueError("clients=[] is not allowed; give at least one number of clients")
    rows = []
    for n in tqdm(clients, disable=not progress, desc="clients"):
        for mode in ("herd", "predecessor"):
            rows.append(lock_herd(seed, n, mode)[0])
    out = pd.concat(rows, ignore_index=True)
    out.attrs["seed"] = seed
    return out


def lock_with_pause(
    seed: int = 0,
    clients: int = 3,
    pause_ms: float = 600.0,
    session_timeout_ms: float = 300.0,
    hold_ms: float = 50.0,
) -> tuple[pd.DataFrame, History]:
    """The first client to get the lock is paused (a GC pause) for ``pause_ms`` while holding it.
    One row per hold (true time): holder, start, end, fencing token (czxid of its lock node).
    ``attrs``: the mutual-exclusion verdict."""
    check_seed(seed)
    check_number("clients", clients, min=2, max=16, integer=True)
    check_number("pause_ms", pause_ms, min=0, max=100_000)
    check_number("session_timeout_ms", session_timeout_ms, min=60, max=100_000)
    check_number("hold_ms", hold_ms, min=0, max=10_000)
    sim, cs, _ = _lock_run(
        seed, clients, "predecessor", hold_ms, (pause_ms, 0.0), session_timeout_ms
    )
    h = sim.history
    holds = fenced_holds(h)
    df = pd.DataFrame(holds)
    verdict = mutual_exclusion(holds)
    first = min(holds, key=lambda x: x["start_ms"]) if holds else None
    if first is not None:
        df.attrs["paused"] = (first["holder"], first["start_ms"], first["start_ms"] + pause_ms)
    df.attrs.update(
        seed=seed,
        ok=verdict.valid,
        explanation=verdict.explanation,
        pause_ms=pause_ms,
        session_timeout_ms=session_timeout_ms,
    )
    return df, h


# -- the crash sweep the tests run ------------------------------------------------------------
def crash_recovery_run(
    seed: int = 0, servers: int = 3, writes: int = 30, crashes: int = 3
) -> tuple[pd.DataFrame, History, dict[str, Any]]:
    """A client writes ``/k<i>`` one after another through random servers while the leader is
    crashed ``crashes`` times (and restarted 150 ms later). At the end every server is up.
    Returns (one row per write: outcome, zxid if known), the history, and ``trees(sim)``."""
    check_seed(seed)
    _check_servers(servers)
    check_number("writes", writes, min=1, max=1000, integer=True)
    check_number("crashes", crashes, min=0, max=20, integer=True)
    sim, names = build_ensemble(seed, servers)
    run_until_leader(sim)
    client = add_zk_client(sim, "c", names, session_timeout_ms=5000.0, op_timeout_ms=150.0)
    _connect_all(sim, [client])
    rng = sim.stream("workload")
    rows: list[dict[str, Any]] = []

    def work() -> Any:
        for i in range(writes):
            client.server = names[rng.randrange(len(names))]
            res = yield from client.create(f"/k{i}", i)
            rows.append({"key": f"/k{i}", "type": res.type, "error": res.error})
            yield sim.sleep(rng.uniform(0, 20))

    def nemesis() -> Any:
        for _ in range(crashes):
            yield sim.sleep(rng.uniform(60, 200))
            who = leader_of(sim)
            if who is not None:
                sim.crash(who)
                yield sim.sleep(150)
                sim.restart(who)

    p = sim.process(work())
    sim.process(nemesis())
    sim.run(until=p)
    sim.run_for(2000.0)
    for n in names:
        if not sim.nodes[n].alive:
            sim.restart(n)
    sim.run_for(1000.0)
    df = pd.DataFrame(rows)
    df.attrs["seed"] = seed
    return df, sim.history, trees(sim)


# -- discovery and synchronisation with truncation --------------------------------------------
def _log_rows(sim: Any, names: list[str], phase: str, dropped: set[int]) -> list[dict[str, Any]]:
    rows = []
    for n in names:
        h = sim.handler(n)
        for i, (zxid, txn) in enumerate(h.log):
            path = getattr(txn.op, "path", "")
            rows.append(
                {
                    "phase": phase,
                    "server": n,
                    "state": h.state,
                    "pos": i,
                    "zxid": fmt_zxid(zxid),
                    "epoch": zxid_epoch(zxid),
                    "counter": zxid_counter(zxid),
                    "op": f"{type(txn.op).__name__} {path}".strip(),
                    "applied": i < h.applied,
                    "dropped": zxid in dropped,
                }
            )
    return rows


def truncation_demo(seed: int = 0, new_writes: int = 2) -> tuple[pd.DataFrame, History]:
    """ZAB recovery with a truncated proposal, on three servers.

    The leader of epoch 1 commits one write (``/a``); then it is partitioned off with its client
    ``c_old``, which writes ``/lost``: the leader logs that proposal, but it reaches no follower,
    so it never commits and ``c_old`` is never told it did. The other two servers elect a leader,
    which runs discovery (a new epoch, 2) and synchronisation, then commits ``new_writes`` writes
    of ``c_new`` (``/b0``..) with zxids ``2:1``... After the heal the old leader rejoins as a
    follower: the new leader's ``NewLeader`` tells it to keep the common prefix, which drops its
    epoch-1 proposal, and sends it the epoch-2 transactions.

    One row per log entry per server, in two phases (``"before heal"``, ``"after sync"``): the
    server, its state, the position in its log, the zxid as ``epoch:counter``, the operation,
    whether the server has applied it, and whether it is the proposal that was dropped.
    ``attrs``: ``old_leader``, ``new_leader``, ``dropped`` (zxids as strings), ``lost_write``
    (the result type the old client got for ``/lost``), ``heal_ms``, and ``truncated``: the
    ``truncate`` events after the heal as ``(server, keep, dropped zxids)``.
    """
    check_seed(seed)
    check_number("new_writes", new_writes, min=1, max=50, integer=True)
    sim, names = build_ensemble(seed, 3)
    old = run_until_leader(sim)
    if old is None:
        raise RuntimeError(f"no leader was elected; replay with seed={seed}")
    others = [n for n in names if n != old]
    c_old = add_zk_client(sim, "c_old", names, server=old, session_timeout_ms=5000.0)
    c_new = add_zk_client(sim, "c_new", names, server=others[0], session_timeout_ms=5000.0)
    _connect_all(sim, [c_old, c_new])
    _run(sim, c_old.create("/a", "epoch 1"))
    sim.run_for(30.0)  # the commit of /a reaches every server
    sim.partition([old, "c_old"], [*others, "c_new"])
    lost = _run(sim, c_old.create("/lost", "never committed"))
    dropped = {z for z, _ in sim.handler(old).log if zxid_epoch(z) == 1} - {
        z for z, _ in sim.handler(others[0]).log
    }

    def new_side_leader() -> str | None:
        who = leader_of(sim)
        return who if who in others else None

    end = sim.now + 5000.0
    while new_side_leader() is None and sim.now < end:
        sim.run_for(5.0)
    new = new_side_leader()
    if new is None:
        raise RuntimeError(f"the majority side elected no leader; replay with seed={seed}")
    c_new.server = new
    for i in range(new_writes):
        res = _run(sim, c_new.create(f"/b{i}", "epoch 2"))
        if not res.ok:
            raise RuntimeError(f"write /b{i} failed ({res.error}); replay with seed={seed}")
    sim.run_for(30.0)
    rows = _log_rows(sim, names, "before heal", dropped)
    heal_ms = sim.now
    sim.heal()
    end = sim.now + 5000.0
    while sim.now < end and sim.handler(old).zxids() != sim.handler(new).zxids():
        sim.run_for(5.0)
    sim.run_for(100.0)  # pings carry the commit point: the rejoined server applies
    rows += _log_rows(sim, names, "after sync", dropped)
    df = pd.DataFrame(rows)
    truncs = [e for e in sim.history.events if e.name == "truncate" and e.time >= heal_ms]
    df.attrs.update(
        seed=seed,
        truncated=[
            (e.node, e.data["keep"], [fmt_zxid(z) for z in e.data["dropped"]]) for e in truncs
        ],
        old_leader=old,
        new_leader=new,
        dropped=sorted(fmt_zxid(z) for z in dropped),
        lost_write=lost.type,
        heal_ms=heal_ms,
    )
    return df, sim.history


__all__ = [
    "crash_recovery_run",
    "election_after_crash",
    "herd_sweep",
    "lock_herd",
    "lock_with_pause",
    "recovery_sweep",
    "session_expiry",
    "stale_reads",
    "truncation_demo",
    "write_path",
]
