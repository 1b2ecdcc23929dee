"""Quorums in ZooKeeper: the start-up election, split brain, and why ensembles have 2N+1 servers.

- :func:`staggered_boot` -- servers power on one after another (the notes' 启动时选举: three
  servers booting in turn elect server 2). A server votes for the best history it has heard of,
  and with empty histories the larger myid wins, but only among the servers that are up: the
  first moment a quorum is up, the largest myid *of those* becomes leader; a server booting later
  finds a leader already in place and follows it.
- :func:`split_brain` -- the network splits an ensemble into two sides while clients write on
  both. A leader needs a quorum (a strict majority) to be established and to commit; two sides
  cannot both hold a majority, so at most one side makes progress and the other refuses writes
  (脑裂 is prevented by the quorum, not by timeouts). With an even split, neither side can.
- :func:`fault_tolerance` -- for ensembles of ``n`` servers, crash ``f`` of them and see whether a
  write still commits. A majority quorum of ``n`` survives ``(n - 1) // 2`` crashes: 2N+1 servers
  tolerate N, and a (2N+2)-th server adds nothing but one more vote to wait for.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_number, check_seed
from dslab.core import Handler
from dslab.history import History
from dslab.sim import Sim
from dslab.sim.latency import Uniform
from dslab.zk.client import add_zk_client
from dslab.zk.cluster import leader_of, run_until_leader
from dslab.zk.server import ZkConfig, ZkServer


class PoweredOff(Handler):
    """The handler of a machine that has not been switched on yet: it does nothing at all."""


def staggered_boot(
    seed: int = 0, servers: int = 3, gap_ms: float = 100.0, run_ms: float | None = None
) -> tuple[pd.DataFrame, History]:
    """Server ``s<i>`` (myid ``i``) powers on ``(i - 1) * gap_ms`` after ``s1``. Returns one row
    per interval of a server's state (``off``, ``looking``, ``following``, ``leading``) with its
    start and end (ms), and the history. ``attrs``: ``leader`` and ``established_ms``."""
    check_seed(seed)
    check_number("servers", servers, min=1, max=9, integer=True)
    check_number("gap_ms", gap_ms, min=0, max=10_000)
    end = (servers - 1) * gap_ms + 300.0 if run_ms is None else run_ms
    check_number("run_ms", end, min=0, max=100_000)
    sim = Sim(seed, latency=Uniform(1.0, 2.0), fifo=True)
    names = [f"s{i}" for i in range(1, servers + 1)]
    ids = {n: i for i, n in enumerate(names, start=1)}
    on: set[str] = {names[0]}
    for n in names:
        sim.add_node(n, lambda n=n: ZkServer(n, ids, ZkConfig()) if n in on else PoweredOff())
    sim.settle()
    for n in names[1:]:
        sim.crash(n)  # powered off: what is sent to it is lost

    def power_on() -> Any:
        for n in names[1:]:
            yield sim.sleep(gap_ms)
            on.add(n)
            sim.restart(n)

    sim.process(power_on())
    sim.run(until=end)
    boots = {names[0]: 0.0}
    boots.update({f.args["node"]: f.time for f in sim.history.faults if f.verb == "restart"})
    rows = []
    for n in names:
        changes = [
            (e.time, e.data["state"])
            for e in sim.history.events
            if e.node == n and e.name == "state"
        ]
        points = [(0.0, "off")] + changes if boots[n] > 0 else changes
        for (t0, state), nxt in zip(points, points[1:] + [(end, None)], strict=True):
            if nxt[0] > t0:
                rows.append(
                    {"server": n, "myid": ids[n], "state": state, "start_ms": t0, "end_ms": nxt[0]}
                )
    df = pd.DataFrame(rows)
    established = [e for e in sim.history.events if e.name == "established"]
    df.attrs.update(
        seed=seed,
        gap_ms=gap_ms,
        boots=boots,
        leader=leader_of(sim),
        established_ms=established[0].time if established else float("nan"),
    )
    return df, sim.history


def split_brain(
    seed: int = 0, servers: int = 5, minority: int = 2, partition_ms: float = 1000.0
) -> tuple[pd.DataFrame, History]:
    """``servers`` servers elect a leader; then the network splits them into a side of
    ``minority`` servers, which holds the old leader, and a side with the rest. A client on each
    side writes ``/<side>-<i>`` every 20 ms through a server of its side for ``partition_ms``; then
    the partition heals. One row per side: its servers, whether it is a strict majority, who led
    it (an established leader with a new epoch, or the old one), and the writes acknowledged,
    definitely failed and left unknown (timed out) during the split, and how many of those are in
    the data tree at the end."""
    check_seed(seed)
    check_number("servers", servers, min=2, max=9, integer=True)
    check_number("minority", minority, min=1, max=servers - 1, integer=True)
    check_number("partition_ms", partition_ms, min=100, max=60_000)
    sim = _ensemble(seed, servers)
    names = sim.node_names
    old = run_until_leader(sim)
    others = [n for n in names if n != old]
    sides = {"A": [old] + others[: minority - 1], "B": others[minority - 1 :]}
    clients = {
        side: add_zk_client(
            sim,
            f"client-{side}",
            names,
            server=members[-1],
            session_timeout_ms=60_000.0,
            op_timeout_ms=150.0,
        )
        for side, members in sides.items()
    }
    for c in clients.values():
        sim.run(until=sim.process(c.connect()))
    sim.run_for(50.0)
    split_at = sim.now
    old_epoch = sim.handler(old).epoch
    sim.partition(sides["A"], sides["B"])
    outcomes: dict[str, list[tuple[str, str]]] = {s: [] for s in sides}

    def writer(side: str) -> Any:
        c, i = clients[side], 0
        members = sides[side]
        while sim.now - split_at < partition_ms:
            c.server = members[i % len(members)]
            res = yield from c.create(f"/{side}-{i}", i)
            outcomes[side].append((f"/{side}-{i}", res.type))
            i += 1
            yield sim.sleep(20.0)

    procs = [sim.process(writer(s)) for s in sides]
    sim.run(until=sim.env.all_of(procs))
    healed_at = sim.now
    sim.heal()
    sim.run_for(1000.0)
    final = sim.handler(run_until_leader(sim) or names[0]).tree.nodes
    led = {}
    for e in sim.history.events:
        if e.name == "established" and split_at <= e.time < healed_at:
            led.setdefault(e.node, e.data["epoch"])
    rows = []
    for side, members in sides.items():
        leaders = [f"{n} (epoch {ep})" for n, ep in sorted(led.items()) if n in members]
        kinds = [k for _, k in outcomes[side]]
        rows.append(
            {
                "side": side,
                "servers": ", ".join(members),
                "size": len(members),
                "majority": 2 * len(members) > servers,
                "new_leader": ", ".join(leaders) or "none",
                "ok": kinds.count("ok"),
                "fail": kinds.count("fail"),
                "unknown": kinds.count("info"),
                "in_tree_after_heal": sum(1 for p, _ in outcomes[side] if p in final),
            }
        )
    df = pd.DataFrame(rows)
    df.attrs.update(
        seed=seed, servers=servers, old_leader=old, old_epoch=old_epoch, split_ms=split_at
    )
    return df, sim.history


def fault_tolerance(
    sizes: Any = range(3, 9), seed: int = 0, *, progress: bool = False
) -> pd.DataFrame:
    """For each ensemble size ``n`` and each ``f`` from 0 to ``n - 1``: boot ``n`` servers,
    crash ``f`` of them (the leader first), and see whether a new write commits within 2 s. One
    row per ``(n, f)``; ``attrs["tolerated"]`` maps ``n`` to the largest ``f`` that still
    committed."""
    check_seed(seed)
    sizes = list(sizes)
    if not sizes:
        raise ValueError("sizes=[] is not allowed; give at least one ensemble size")
    for i, n in enumerate(sizes):
        check_number(f"sizes[{i}]", n, min=1, max=9, integer=True)
    rows = []
    for n in tqdm(sizes, disable=not progress, desc="ensembles"):
        for f in range(n):
            ok = _commits_after_crashes(seed, n, f)
            rows.append({"servers": n, "crashed": f, "quorum": n // 2 + 1, "commits": ok})
    df = pd.DataFrame(rows)
    df.attrs["seed"] = seed
    df.attrs["tolerated"] = {
        int(n): int(g.loc[g["commits"], "crashed"].max()) if g["commits"].any() else -1
        for n, g in df.groupby("servers")
    }
    return df


def _commits_after_crashes(seed: int, n: int, f: int, within_ms: float = 2000.0) -> bool:
    """Boot ``n`` servers, crash ``f`` (the leader first, then the largest myids): does a new
    client's session and write commit within ``within_ms``?"""
    sim = _ensemble(seed, n)
    names = sim.node_names
    leader = run_until_leader(sim)
    victims = ([leader] + [m for m in reversed(names) if m != leader])[:f]
    for victim in victims:
        sim.crash(victim)
    alive = [m for m in names if m not in victims]
    c = add_zk_client(sim, "c", alive, session_timeout_ms=60_000.0, op_timeout_ms=200.0)
    box = {"ok": False}

    def work() -> Any:
        start = sim.now
        while sim.now - start < within_ms:
            res = yield from c.connect(attempts=1)
            if res.ok:
                box["ok"] = (yield from c.create("/x", 1)).ok
                return
            yield sim.sleep(50.0)

    sim.run(until=sim.process(work()))
    return box["ok"]


def _ensemble(seed: int, servers: int) -> Sim:
    sim = Sim(seed, latency=Uniform(1.0, 2.0), fifo=True)
    names = [f"s{i}" for i in range(1, servers + 1)]
    ids = {n: i for i, n in enumerate(names, start=1)}
    for n in names:
        sim.add_node(n, lambda n=n: ZkServer(n, ids, ZkConfig()))
    return sim


def split_brain_sweep(
    cases: Any = ((3, 1), (5, 2), (4, 2), (6, 3)), seed: int = 0, *, progress: bool = False
) -> pd.DataFrame:
    """:func:`split_brain` for each ``(servers, minority)`` case; the rows of all runs, with a
    ``case`` column such as ``"5 = 2 + 3"``."""
    cases = list(cases)
    if not cases:
        raise ValueError("cases=[] is not allowed; give at least one (servers, minority) pair")
    frames = []
    for servers, minority in tqdm(cases, disable=not progress, desc="splits"):
        df, _ = split_brain(seed, servers, minority)
        df.insert(0, "case", f"{servers} = {minority} + {servers - minority}")
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out.attrs["seed"] = seed
    return out


__all__ = ["PoweredOff", "fault_tolerance", "split_brain", "split_brain_sweep", "staggered_boot"]
