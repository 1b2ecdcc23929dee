"""Two recipes built on watches (Hunt et al. 2010, section 2.4; the notes' 配置管理 / 发布订阅 and
集群管理): configuration pushed to subscribers, and group membership.

- :func:`follow_config` -- a subscriber reads ``/config`` with a data watch, and every time the
  watch fires it reads again, setting a new watch. Watches are one-shot and say only *that*
  something changed: updates that land between a notification and the next read are not
  notified one by one, so a subscriber sees the latest value in order but may skip versions.
- :func:`follow_group` -- a monitor lists the children of ``/group`` with a child watch and lists
  them again every time it fires. Members join by creating an ephemeral node; they leave by
  deleting it, or by dying: their session expires and the server deletes the node for them.

Experiments: :func:`config_pubsub` (a publisher and several subscribers; what each sees and when)
and :func:`group_membership` (members joining, leaving and crashing; the monitor's view against
the truth).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_number, check_seed
from dslab.history import History
from dslab.zk.client import ZkClient, add_zk_client
from dslab.zk.cluster import build_ensemble, run_until_leader

Gen = Any


def follow_config(
    client: ZkClient, path: str, seen: Callable[[float, Any, int], None], until_ms: float
) -> Gen:
    """Keep ``seen(time_ms, value, version)`` informed of the znode's data: read with a data
    watch, wait for it to fire, read again (a SimPy process body; stops at ``until_ms``)."""
    sim = client.sim
    while sim.now < until_ms:
        res, ev = yield from client.get_data(path, watch=True, record=False)
        if not res.ok:
            return
        data, stat = res.value
        seen(sim.now, data, stat.version)
        yield ev | sim.env.timeout(max(0.0, until_ms - sim.now))


def follow_group(
    client: ZkClient, path: str, seen: Callable[[float, list[str]], None], until_ms: float
) -> Gen:
    """Keep ``seen(time_ms, members)`` informed of the children of ``path``: list them with a
    child watch, wait for it to fire, list again (stops at ``until_ms``)."""
    sim = client.sim
    while sim.now < until_ms:
        res, ev = yield from client.get_children(path, watch=True, record=False)
        if not res.ok:
            return
        seen(sim.now, sorted(res.value))
        yield ev | sim.env.timeout(max(0.0, until_ms - sim.now))


def config_pubsub(
    seed: int = 0, updates: int = 10, interval_ms: float = 20.0, subscribers: int = 3
) -> tuple[pd.DataFrame, History]:
    """A publisher connected to the leader sets ``/config`` to 1, 2, ... ``updates``, starting
    one write every ``interval_ms`` without waiting for the previous one; ``subscribers``
    clients, spread over the servers, follow it with :func:`follow_config`. One row per value a
    subscriber read: who, when, the value and its version, when that value's write was
    acknowledged to the publisher, and the lag (``attrs["published"]``: value -> time)."""
    check_seed(seed)
    check_number("updates", updates, min=1, max=1000, integer=True)
    check_number("interval_ms", interval_ms, min=0, max=10_000)
    check_number("subscribers", subscribers, min=1, max=32, integer=True)
    sim, names = build_ensemble(seed, 3)
    leader = run_until_leader(sim)
    pub = add_zk_client(sim, "publisher", names, server=leader, session_timeout_ms=10_000.0)
    subs = [
        add_zk_client(
            sim, f"sub{i}", names, server=names[i % len(names)], session_timeout_ms=10_000.0
        )
        for i in range(1, subscribers + 1)
    ]
    for c in [pub, *subs]:
        sim.run(until=sim.process(c.connect()))
    sim.run(until=sim.process(pub.create("/config", 0, record=False)))
    sim.run_for(20.0)
    start = sim.now
    until = start + updates * interval_ms + 200.0
    rows: list[dict[str, Any]] = []
    published: dict[int, float] = {0: start}
    for c in subs:

        def seen(t: float, value: Any, version: int, who: str = c.name) -> None:
            rows.append({"subscriber": who, "time_ms": t, "value": value, "version": version})

        sim.process(follow_config(c, "/config", seen, until))

    def set_value(v: int) -> Any:
        res = yield from pub.set_data("/config", v, record=False)
        if res.ok:
            published[v] = sim.now

    def publish() -> Any:
        for v in range(1, updates + 1):  # one write every interval_ms, without waiting for it
            yield sim.sleep(interval_ms)
            sim.process(set_value(v))

    sim.process(publish())
    sim.run(until=until)
    df = pd.DataFrame(rows)
    df["published_ms"] = df["value"].map(published)
    df["lag_ms"] = df["time_ms"] - df["published_ms"]
    df.attrs.update(seed=seed, interval_ms=interval_ms, updates=updates, published=published)
    return df, sim.history


def config_sweep(
    intervals: Any = (2, 5, 10, 20, 50), seed: int = 0, updates: int = 20, *, progress: bool = False
) -> pd.DataFrame:
    """:func:`config_pubsub` for each publishing interval: the share of versions each subscriber
    saw (mean over subscribers) and whether every subscriber ended with the last value."""
    intervals = list(intervals)
    if not intervals:
        raise ValueError("intervals=[] is not allowed; give at least one interval in ms")
    rows = []
    for iv in tqdm(intervals, disable=not progress, desc="intervals"):
        df, _ = config_pubsub(seed, updates, float(iv))
        per = df[df["value"] > 0].groupby("subscriber")["value"].nunique() / updates
        last = df.groupby("subscriber")["value"].last()
        rows.append(
            {
                "interval_ms": float(iv),
                "seen_share": float(per.mean()),
                "all_end_on_last": bool((last == updates).all()),
                "median_lag_ms": float(df.loc[df["value"] > 0, "lag_ms"].median()),
            }
        )
    out = pd.DataFrame(rows)
    out.attrs.update(seed=seed, updates=updates)
    return out


def group_membership(
    seed: int = 0, members: int = 5, session_timeout_ms: float = 300.0
) -> tuple[pd.DataFrame, History]:
    """``members`` workers join ``/group`` (an ephemeral node each) 50 ms apart; a monitor follows
    the group with :func:`follow_group`. Later the first worker leaves cleanly (deletes its node)
    and the second crashes (goes silent for good). Returns the timeline: one row per change of the
    truth (``kind="truth"``: who is alive) and per view of the monitor (``kind="view"``), with the
    number of members; ``attrs`` has the times of the leave and the crash."""
    check_seed(seed)
    check_number("members", members, min=2, max=32, integer=True)
    check_number("session_timeout_ms", session_timeout_ms, min=60, max=10_000)
    sim, names = build_ensemble(seed, 3)
    run_until_leader(sim)
    monitor = add_zk_client(sim, "monitor", names, server=names[0], session_timeout_ms=10_000.0)
    workers = [
        add_zk_client(
            sim,
            f"w{i}",
            names,
            server=names[i % len(names)],
            session_timeout_ms=session_timeout_ms,
        )
        for i in range(1, members + 1)
    ]
    sim.run(until=sim.process(monitor.connect()))
    sim.run(until=sim.process(monitor.create("/group", record=False)))
    start = sim.now
    leave_at = start + 50.0 * members + 200.0
    crash_at = leave_at + 200.0
    until = crash_at + 3 * session_timeout_ms + 200.0
    rows: list[dict[str, Any]] = []
    alive: set[str] = set()

    def truth(t: float) -> None:
        rows.append({"kind": "truth", "time_ms": t, "members": ",".join(sorted(alive))})

    def view(t: float, kids: list[str]) -> None:
        rows.append({"kind": "view", "time_ms": t, "members": ",".join(kids)})

    sim.process(follow_group(monitor, "/group", view, until))

    def worker(i: int, w: ZkClient) -> Any:
        yield sim.sleep(50.0 * i)
        yield from w.connect()
        res = yield from w.create(f"/group/{w.name}", "up", ephemeral=True, record=False)
        if res.ok:
            alive.add(w.name)
            truth(sim.now)

    for i, w in enumerate(workers):
        sim.process(worker(i, w))

    def faults() -> Any:
        yield sim.sleep(leave_at - sim.now)
        leaving, crashing = workers[0], workers[1]
        yield from leaving.delete(f"/group/{leaving.name}", record=False)
        alive.discard(leaving.name)
        truth(sim.now)
        yield sim.sleep(crash_at - sim.now)
        crashing.pause(100 * session_timeout_ms)  # silent for good: its process is gone
        alive.discard(crashing.name)
        truth(sim.now)

    sim.process(faults())
    sim.run(until=until)
    df = pd.DataFrame(rows).sort_values(["time_ms", "kind"], kind="stable", ignore_index=True)
    df["count"] = [len(m.split(",")) if m else 0 for m in df["members"]]
    df.attrs.update(
        seed=seed,
        session_timeout_ms=session_timeout_ms,
        leave_ms=leave_at,
        crash_ms=crash_at,
        left=workers[0].name,
        crashed=workers[1].name,
    )
    return df, sim.history


__all__ = [
    "config_pubsub",
    "config_sweep",
    "follow_config",
    "follow_group",
    "group_membership",
]
