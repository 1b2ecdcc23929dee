"""The CAP chapter's scenarios. Each runs a :class:`~dslab.sim.Sim` and returns a
:class:`~dslab.sim.scenario.Result` (``df, history = result`` unpacks as before), except
:func:`pacelc_latency` (a frame and ``{policy: history}``) and the sweeps (a frame). The analysis
is in :mod:`dslab.cap.analysis`, the figures in :mod:`dslab.cap.plots`, and
:mod:`dslab.cap.experiments` offers all of it under one name (the chapter's facade).

1. :func:`gilbert_lynch` -- Gilbert and Lynch's proof (SIGACT News 2002), run: two groups, every
   message between them dropped, a write on one side, a read on the other.
2. :func:`partition_workload` -- a random workload with a partition in the middle: availability
   per side over time (:func:`availability`), stale reads, writes lost to last-writer-wins under
   clock skew, and the time replicas take to converge after the heal. :func:`partition_sweep`
   repeats it over seeds; :func:`random_partitions` runs a nemesis of random partitions.
3. :func:`pacelc_latency` -- no partition: read and write latency of CP and AP under the PBS
   paper's production latency fit; :func:`pacelc_table` -- the PACELC labels of real systems.
4. :func:`service_discovery` -- a ZooKeeper-like CP registry against a Eureka-like AP one, seen
   by a consumer on each side of a partition.

The definitions the tables use (ok fraction, stale read, lost write, time to converge) are in
:mod:`dslab.cap.analysis`. ``node_cls`` swaps the replica class (the builder convention of
:mod:`dslab.sim.scenario`); ``metadata`` holds what ``df.attrs`` held (the chapter's plots still
read ``df.attrs``, which keeps it too).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterable
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import (
    check_choice,
    check_number,
    check_probability,
    check_seed,
    check_type,
)
from dslab.cap.analysis import (
    OP_COLUMNS,
    SD_COLUMNS,
    _ms,
    lost_flags,
    lww_stamps,
    partition_summary,
    stale_flags,
)
from dslab.cap.ap import RESOLUTIONS, vv_merge
from dslab.cap.cluster import (
    POLICIES,
    Cluster,
    build_cluster,
    check_n,
    check_policy,
    random_clients,
    register_op,
    replica_names,
    sides,
)
from dslab.cap.messages import Discover, Heartbeat, Register
from dslab.cap.registry import EurekaNode, ZkRegistryNode
from dslab.history import History
from dslab.sim import Client, Latency, Shifted, Sim, as_latency, pareto_exp_mixture
from dslab.sim.scenario import Result, build_nodes, check_node_cls


def _result(df: pd.DataFrame, history: History) -> Result:
    """The Result of a run whose ``df.attrs`` hold its parameters and results: they become the
    metadata (``df.attrs`` keeps them for the chapter's plots)."""
    seed = df.attrs["seed"]
    return Result(df, history, seed, {k: v for k, v in df.attrs.items() if k != "seed"})


# -- 1. Gilbert and Lynch ------------------------------------------------------------------------
def gilbert_lynch(
    seed: int = 0,
    policy: str = "cp",
    *,
    n: int = 3,
    resolution: str = "lww",
    op_timeout_ms: float = 100.0,
    client_timeout_ms: float = 300.0,
    settle_ms: float = 200.0,
    gap_ms: float = 20.0,
    node_cls: type | None = None,
) -> Result:
    """The proof of the CAP theorem, run on ``n`` replicas of ``policy``.

    The replicas are split in two groups (``n1`` alone, and the rest) before anything happens.
    Client ``a`` talks to the last replica (majority side), client ``b`` to ``n1``; one step
    starts ``gap_ms`` after the previous one ended:

    1. ``a`` writes 1;  2. ``b`` reads;  3. ``b`` writes 2;  4. ``a`` reads  (partitioned)
    then heal and wait ``settle_ms``;  5. ``b`` reads;  6. ``a`` reads.

    Returns one row per step and the history. ``df.attrs`` holds the linearizability verdict
    (``linearizable``, ``explanation``) of the whole history under the ``cas-register`` model.
    """
    from dslab.check import linearizable

    check_seed(seed)
    check_policy(policy)
    check_n(n, min=2)
    check_choice("resolution", resolution, RESOLUTIONS)
    _ms("op_timeout_ms", op_timeout_ms, positive=True)
    _ms("client_timeout_ms", client_timeout_ms, positive=True)
    _ms("settle_ms", settle_ms)
    _ms("gap_ms", gap_ms)
    sim = Sim(seed)
    names = replica_names(n)
    cl = build_cluster(
        sim, policy, n, clients={"a": names[-1], "b": names[0]},
        resolution=resolution, op_timeout_ms=op_timeout_ms, node_cls=node_cls,
    )
    cl.partition()
    steps = [
        ("partitioned", "a", "write", 1), ("partitioned", "b", "read", None),
        ("partitioned", "b", "write", 2), ("partitioned", "a", "read", None),
        ("healed", "b", "read", None), ("healed", "a", "read", None),
    ]
    rows: list[dict[str, Any]] = []
    clients = {c.name: c for c in cl.clients}

    def script() -> Generator[Any, Any, None]:
        healed = False
        for i, (phase, who, f, value) in enumerate(steps, start=1):
            if phase == "healed" and not healed:
                sim.heal()
                healed = True
                yield sim.sleep(settle_ms)
            elif i > 1:
                yield sim.sleep(gap_ms)
            start = sim.now
            res = yield from register_op(
                clients[who], cl.home[who], f, value, timeout_ms=client_timeout_ms
            )
            rows.append({
                "step": i, "phase": phase, "client": who, "replica": cl.home[who],
                "side": cl.side_of(who), "f": f, "value": value if f != "read" else res.value,
                "type": res.type, "error": res.error, "start_ms": start, "end_ms": sim.now,
            })

    done = sim.process(script())
    sim.run(until=done)  # AP replicas gossip forever: stop when the script ends
    df = pd.DataFrame(rows)
    for col in ("value", "error"):  # keep ints as ints and "no error" as None
        df[col] = pd.Series([r[col] for r in rows], dtype=object)
    verdict = linearizable(sim.history, "cas-register")
    df.attrs.update(
        seed=seed, policy=policy, n=n, linearizable=verdict.valid,
        explanation=verdict.explanation,
    )
    return _result(df, sim.history)


# -- 2. a workload with a partition in the middle ------------------------------------------------
def _frontier_target(cl: Cluster) -> Any:
    reps = [cl.replica(r) for r in cl.replicas]
    fronts = [r.frontier() for r in reps]
    if cl.policy == "ap" and reps[0].resolution == "siblings":
        return vv_merge(*fronts)
    return max(fronts)


def _covers(rep: Any, target: Any) -> bool:
    if hasattr(rep, "covers"):
        return rep.covers(target)
    return rep.frontier() >= target


def _convergence_monitor(
    cl: Cluster, heal_at: float, out: dict[str, Any], step_ms: float = 0.5
) -> Generator[Any, Any, None]:
    sim = cl.sim
    yield sim.sleep(heal_at - sim.now)
    target = _frontier_target(cl)
    while True:
        if all(_covers(cl.replica(r), target) for r in cl.replicas):
            out["converge_ms"] = sim.now - heal_at
            return
        yield sim.sleep(step_ms)


def _ops_frame(cl: Cluster, start_at: float, heal_at: float, partitioned: bool) -> pd.DataFrame:
    """One row per client operation of the run (columns :data:`OP_COLUMNS`, flags empty)."""
    rows = []
    for inv, comp in cl.sim.history.pairs():
        end = comp.time if comp is not None else math.nan
        if not partitioned:
            phase = "no partition"
        elif inv.time < start_at:
            phase = "before"
        elif inv.time < heal_at:
            phase = "partition"
        else:
            phase = "after"
        rows.append({
            "process": inv.process, "replica": cl.home[inv.process],
            "side": cl.side_of(inv.process), "f": inv.f, "invoke_value": inv.value,
            "type": comp.type if comp is not None else "info",
            "value": comp.value if comp is not None else None,
            "error": comp.error if comp is not None else None,
            "start_ms": inv.time, "end_ms": end, "latency_ms": end - inv.time, "phase": phase,
            "stale": None, "lost": None, "predicted_lost": None,
        })
    return pd.DataFrame(rows, columns=OP_COLUMNS)


def partition_workload(
    seed: int = 0,
    policy: str = "cp",
    *,
    n: int = 3,
    partition_ms: float = 1000.0,
    start_ms: float = 500.0,
    after_ms: float = 1000.0,
    settle_ms: float = 300.0,
    skew_ms: float = 0.0,
    resolution: str = "lww",
    clients_per_replica: int = 1,
    think_ms: float = 10.0,
    read_fraction: float = 0.5,
    cas_fraction: float = 0.1,
    op_timeout_ms: float = 100.0,
    client_timeout_ms: float = 250.0,
    anti_entropy_ms: float = 50.0,
    read_only_after_heal: bool = False,
    latency: Latency | float | None = None,
    node_cls: type | None = None,
) -> Result:
    """A random read/write/cas workload on ``n`` replicas with a partition in the middle.

    Timeline (true ms): the workload runs from 0 to ``start_ms + partition_ms + after_ms``; the
    minority side (``n1``..., with its clients) is cut off from ``start_ms`` for ``partition_ms``;
    then nothing new is invoked for ``settle_ms`` while replication settles. With
    ``read_only_after_heal``, clients stop writing at the heal, so convergence is left to
    anti-entropy alone. ``skew_ms`` is the
    offset of ``n1``'s clock (negative: behind). One row per operation (columns
    :data:`OP_COLUMNS`); ``df.attrs`` holds the run's parameters and results: ``converge_ms``,
    ``converged`` (replicas identical at the end), ``lost_writes``, ``predicted_lost_writes``.
    """
    check_seed(seed)
    check_policy(policy)
    check_n(n)
    for name, v in (("partition_ms", partition_ms), ("start_ms", start_ms),
                    ("after_ms", after_ms), ("settle_ms", settle_ms), ("think_ms", think_ms)):
        _ms(name, v)
    _ms("op_timeout_ms", op_timeout_ms, positive=True)
    _ms("client_timeout_ms", client_timeout_ms, positive=True)
    _ms("anti_entropy_ms", anti_entropy_ms, positive=True)
    check_number("skew_ms", skew_ms)
    check_type("read_only_after_heal", read_only_after_heal, bool)
    check_choice("resolution", resolution, RESOLUTIONS)
    check_probability("read_fraction", read_fraction)
    check_probability("cas_fraction", cas_fraction)
    if read_fraction + cas_fraction > 1:
        raise ValueError(
            f"read_fraction={read_fraction!r} plus cas_fraction={cas_fraction!r} must be <= 1"
        )
    sim = Sim(seed) if latency is None else Sim(seed, latency=as_latency(latency))
    offsets = {"n1": float(skew_ms)} if skew_ms else {}
    cl = build_cluster(
        sim, policy, n, clients_per_replica=clients_per_replica, clock_offsets_ms=offsets,
        resolution=resolution, op_timeout_ms=op_timeout_ms, anti_entropy_ms=anti_entropy_ms,
        node_cls=node_cls,
    )
    heal_at = start_ms + partition_ms
    end_work = heal_at + after_ms
    partitioned = partition_ms > 0 and bool(cl.minority)
    conv: dict[str, Any] = {"converge_ms": math.nan}
    if partitioned:
        cl.partition(at=start_ms)
        sim.heal(at=heal_at)
        sim.process(_convergence_monitor(cl, heal_at, conv))
    random_clients(
        cl, until_ms=end_work, think_ms=think_ms, read_fraction=read_fraction,
        cas_fraction=cas_fraction, timeout_ms=client_timeout_ms,
        read_only_from_ms=heal_at if read_only_after_heal else None,
    )
    sim.run(until=end_work + client_timeout_ms + settle_ms)

    df = _ops_frame(cl, start_ms, heal_at, partitioned)
    df["stale"] = pd.array(stale_flags(df), dtype="boolean")
    lost_n = pred_n = None
    if policy == "ap" and resolution == "lww":
        stamps = lww_stamps(sim.history, offsets)
        df["lost"] = pd.array(lost_flags(df, stamps, "ts"), dtype="boolean")
        df["predicted_lost"] = pd.array(lost_flags(df, stamps, "predicted_ts"), dtype="boolean")
        lost_n = int(df["lost"].sum())
        pred_n = int(df["predicted_lost"].sum())
    else:
        df["lost"] = pd.array([None] * len(df), dtype="boolean")
        df["predicted_lost"] = pd.array([None] * len(df), dtype="boolean")
    reps = [cl.replica(r) for r in cl.replicas]
    states = {r: (rep.digest() if hasattr(rep, "digest") else rep.data)
              for r, rep in zip(cl.replicas, reps, strict=True)}
    final = [reps[0].value if policy == "ap" else reps[0].data]
    df.attrs.update(
        seed=seed, policy=policy, resolution=resolution if policy == "ap" else None, n=n,
        minority=cl.minority, majority=cl.majority, partition_start_ms=float(start_ms),
        heal_ms=float(heal_at) if partitioned else None, end_ms=float(end_work),
        skew_ms=float(skew_ms), converge_ms=conv["converge_ms"],
        converged=len({repr(s) for s in states.values()}) == 1, final_states=states,
        final_value=final[0], lost_writes=lost_n, predicted_lost_writes=pred_n,
    )
    return _result(df, sim.history)


def partition_sweep(
    seeds: Iterable[int] = range(10),
    policies: Iterable[str] = POLICIES,
    *,
    progress: bool = False,
    **kwargs: Any,
) -> pd.DataFrame:
    """:func:`partition_workload` over ``seeds`` x ``policies`` (``kwargs`` passed on): one row
    per run and side, with :func:`partition_summary`'s columns plus ``seed`` and ``converge_ms``."""
    seeds = [check_seed(s) for s in seeds]
    policies = [check_policy(p) for p in policies]
    check_type("progress", progress, bool)
    frames = []
    runs = [(s, p) for s in seeds for p in policies]
    for seed, policy in tqdm(runs, disable=not progress, desc="partition runs"):
        df, _ = partition_workload(seed, policy, **kwargs)
        summ = partition_summary(df)
        summ.insert(0, "seed", seed)
        summ["converge_ms"] = df.attrs["converge_ms"]
        summ["converged"] = df.attrs["converged"]
        frames.append(summ)
    return pd.concat(frames, ignore_index=True)


def lost_vs_skew(
    skews_ms: Iterable[float] = (-20.0, -10.0, -5.0, -2.0, 0.0, 2.0, 5.0, 10.0, 20.0),
    seeds: Iterable[int] = range(3),
    *,
    progress: bool = False,
    **kwargs: Any,
) -> pd.DataFrame:
    """AP with last-writer-wins over clock offsets of ``n1`` (``skews_ms``) and ``seeds``: one
    row per run and side with :func:`partition_summary`'s columns plus ``seed`` and ``skew_ms``."""
    skews = [check_number(f"skews_ms[{i}]", s) for i, s in enumerate(skews_ms)]
    seeds = [check_seed(s) for s in seeds]
    check_type("progress", progress, bool)
    frames = []
    runs = [(seed, skew) for seed in seeds for skew in skews]
    for seed, skew in tqdm(runs, disable=not progress, desc="skews"):
        df, _ = partition_workload(seed, "ap", skew_ms=skew, resolution="lww", **kwargs)
        summ = partition_summary(df)
        summ.insert(0, "seed", seed)
        summ.insert(1, "skew_ms", float(skew))
        frames.append(summ)
    return pd.concat(frames, ignore_index=True)


def random_partitions(
    seed: int = 0,
    policy: str = "cp",
    *,
    n: int = 3,
    duration_ms: float = 1500.0,
    mean_gap_ms: float = 150.0,
    mean_partition_ms: float = 200.0,
    settle_ms: float = 300.0,
    clients_per_replica: int = 1,
    think_ms: float = 10.0,
    read_fraction: float = 0.4,
    cas_fraction: float = 0.3,
    op_timeout_ms: float = 100.0,
    client_timeout_ms: float = 250.0,
    duplicate: float = 0.0,
    mean_restart_gap_ms: float | None = None,
    restart_down_ms: float = 1.0,
    node_cls: type | None = None,
) -> Result:
    """A workload under a nemesis that keeps splitting the replicas at random.

    The nemesis (stream ``nemesis``) waits an exponential gap (mean ``mean_gap_ms``), cuts the
    replicas into two random non-empty groups (each replica's clients go with it) or isolates one
    replica, and heals after an exponential time (mean ``mean_partition_ms``), until
    ``duration_ms``; then everything heals and settles. Returns the ops frame and the history.

    Harsher faults, off by default: every message is duplicated with probability ``duplicate``;
    with ``mean_restart_gap_ms``, a second nemesis (stream ``restarts``) crashes a random replica
    after an exponential gap of that mean and restarts it ``restart_down_ms`` later (a quick
    restart: only durable storage survives), until ``duration_ms``.
    """
    check_seed(seed)
    check_policy(policy)
    check_n(n)
    for name, v in (("duration_ms", duration_ms), ("settle_ms", settle_ms),
                    ("think_ms", think_ms)):
        _ms(name, v)
    _ms("mean_gap_ms", mean_gap_ms, positive=True)
    _ms("mean_partition_ms", mean_partition_ms, positive=True)
    check_probability("duplicate", duplicate)
    if mean_restart_gap_ms is not None:
        _ms("mean_restart_gap_ms", mean_restart_gap_ms, positive=True)
    _ms("restart_down_ms", restart_down_ms)
    sim = Sim(seed, duplicate=duplicate)
    cl = build_cluster(
        sim, policy, n, clients_per_replica=clients_per_replica, op_timeout_ms=op_timeout_ms,
        node_cls=node_cls,
    )
    rng = sim.stream("nemesis")

    def restarter(mean_gap: float) -> Generator[Any, Any, None]:
        rrng = sim.stream("restarts")
        while True:
            yield sim.sleep(rrng.expovariate(1.0 / mean_gap))
            if sim.now >= duration_ms:
                return
            victim = rrng.choice(cl.replicas)
            sim.crash(victim)
            yield sim.sleep(restart_down_ms)
            sim.restart(victim)

    def nemesis() -> Generator[Any, Any, None]:
        while True:
            yield sim.sleep(rng.expovariate(1.0 / mean_gap_ms))
            if sim.now >= duration_ms or n < 2:
                break
            names = list(cl.replicas)
            rng.shuffle(names)
            k = rng.randint(1, n - 1)
            left = set(names[:k])
            groups = [
                [r for r in cl.replicas if r in left], [r for r in cl.replicas if r not in left]
            ]
            for g in groups:
                g += [c.name for c in cl.clients if cl.home[c.name] in g]
            sim.partition(*groups)
            yield sim.sleep(rng.expovariate(1.0 / mean_partition_ms))
            sim.heal()
        if sim.net.blocked(cl.replicas[0], cl.replicas[-1]):
            sim.heal()

    sim.process(nemesis())
    if mean_restart_gap_ms is not None:
        sim.process(restarter(mean_restart_gap_ms))
    random_clients(
        cl, until_ms=duration_ms, think_ms=think_ms, read_fraction=read_fraction,
        cas_fraction=cas_fraction, timeout_ms=client_timeout_ms,
    )
    sim.run(until=duration_ms + client_timeout_ms + settle_ms)
    df = _ops_frame(cl, 0.0, duration_ms, False)
    df["stale"] = pd.array(stale_flags(df), dtype="boolean")
    df.attrs.update(seed=seed, policy=policy, n=n)
    return _result(df, sim.history)


# -- 3. PACELC -----------------------------------------------------------------------------------
#: The PBS paper's fit of LinkedIn's SSD-backed Voldemort (Bailis et al., VLDB 2012): every
#: one-way delay is 91.22% Pareto(x_m=0.235 ms, alpha=10) + 8.78% Exponential(rate 1.66 / ms).
LNKD_SSD = pareto_exp_mixture(0.9122, 0.235, 10.0, 1.66)
NETWORKS = ("lan", "wan")


def _counted_loop(
    sim: Sim, client: Client, node: str, rng: Any, idx: int, ops: int, think_ms: float,
    read_fraction: float, timeout_ms: float,
) -> Generator[Any, Any, None]:
    for k in range(1, ops + 1):
        yield sim.sleep(rng.uniform(0.0, 2.0 * think_ms))
        if rng.random() < read_fraction:
            yield from register_op(client, node, "read", timeout_ms=timeout_ms)
        else:
            yield from register_op(client, node, "write", idx * 1000 + k, timeout_ms=timeout_ms)


def pacelc_latency(
    seed: int = 0,
    *,
    n: int = 3,
    ops_per_client: int = 200,
    network: str = "lan",
    read_fraction: float = 0.5,
    think_ms: float | None = None,
    policies: Iterable[str] = POLICIES,
    progress: bool = False,
) -> tuple[pd.DataFrame, dict[str, History]]:
    """Else-latency: no partition, one client per replica, reads and writes; CP against AP.

    ``network="lan"``: every link (client to replica, replica to replica) draws from
    :data:`LNKD_SSD`. ``"wan"``: replicas in different datacenters, so replica-to-replica links
    add 75 ms (the PBS paper's WAN setting); a client still sits next to its replica.
    Returns one row per operation (``policy``, ``process``, ``f``, ``type``, ``latency_ms``) and
    ``{policy: history}``. CP's deadlines scale with the network (``op_timeout_ms`` is 2 s on the
    WAN), so no operation times out here.
    """
    check_seed(seed)
    check_n(n)
    check_number("ops_per_client", ops_per_client, min=1, max=999, integer=True)
    check_type("network", network, str)
    check_choice("network", network, NETWORKS)
    check_probability("read_fraction", read_fraction)
    if think_ms is not None:
        _ms("think_ms", think_ms)
    policies = [check_policy(p) for p in policies]
    check_type("progress", progress, bool)
    wan = network == "wan"
    think = think_ms if think_ms is not None else (500.0 if wan else 20.0)
    options: dict[str, Any] = (
        dict(op_timeout_ms=2000.0, attempt_timeout_ms=400.0, backoff_ms=150.0)
        if wan else dict(op_timeout_ms=200.0, attempt_timeout_ms=20.0, backoff_ms=5.0)
    )
    frames, histories = [], {}
    for policy in tqdm(policies, disable=not progress, desc="policies"):
        sim = Sim(seed, latency=LNKD_SSD)
        cl = build_cluster(sim, policy, n, **options)
        if wan:
            far = Shifted(LNKD_SSD, 75.0)
            for a in cl.replicas:
                for b in cl.replicas:
                    if a != b:
                        sim.net.configure(src=a, dst=b, latency=far)
        procs = []
        for idx, c in enumerate(cl.clients, start=1):
            rng = sim.stream(f"workload/{c.name}")
            procs.append(sim.process(_counted_loop(
                sim, c, cl.home[c.name], rng, idx, ops_per_client, think, read_fraction,
                options["op_timeout_ms"] * 2,
            )))
        sim.run(until=sim.env.all_of(procs))  # AP replicas gossip forever
        frame = sim.history.ops_frame()
        frames.append(pd.DataFrame({
            "policy": policy, "process": frame["process"], "f": frame["f"],
            "type": frame["type"], "latency_ms": frame["end_ms"] - frame["start_ms"],
        }))
        histories[policy] = sim.history
    df = pd.concat(frames, ignore_index=True)
    df.attrs.update(seed=seed, n=n, network=network)
    return df, histories


# -- 4. service discovery ------------------------------------------------------------------------
REGISTRIES = ("cp", "ap")


def service_discovery(
    seed: int = 0,
    registry: str = "cp",
    *,
    n: int = 3,
    instances: int = 10,
    partition_start_ms: float = 1000.0,
    partition_ms: float = 2000.0,
    after_ms: float = 1500.0,
    heartbeat_ms: float = 100.0,
    poll_ms: float = 50.0,
    session_timeout_ms: float = 400.0,
    lease_ms: float = 300.0,
    renewal_percent_threshold: float = 0.85,
    self_preservation: bool = True,
    node_cls: type | None = None,
) -> Result:
    """Service discovery across a partition: a CP (ZooKeeper-like) or AP (Eureka-like) registry.

    ``n`` registry nodes ``z1..``; ``instances`` service instances ``i1..`` heartbeat the node
    they registered with (round robin), every ``heartbeat_ms``. The minority side (``z1``...,
    its instances and consumer ``c_min``) is cut off from ``partition_start_ms`` for
    ``partition_ms``. During it, a quarter of the way in, instance ``i_dead`` on the majority side
    crashes; half way in, ``new_min`` (minority side) and ``new_maj`` (majority side) try to
    register (retrying every ``heartbeat_ms``). Consumers ``c_min`` and ``c_maj`` ask their node
    for the instance list every ``poll_ms``.

    One row per consumer request and per registration attempt (columns :data:`SD_COLUMNS`):
    ``live_listed`` / ``dead_listed`` count listed instances that are alive / crashed (stale),
    ``live_missing`` the live registered instances the answer leaves out. ``node_cls`` replaces
    the registry's node class (:class:`~dslab.cap.registry.ZkRegistryNode` or
    :class:`~dslab.cap.registry.EurekaNode`; it gets the same options).
    """
    check_seed(seed)
    check_type("registry", registry, str)
    check_choice("registry", registry, REGISTRIES)
    check_n(n, min=2)
    check_number("instances", instances, min=1, integer=True)
    for name, v in (("partition_start_ms", partition_start_ms), ("partition_ms", partition_ms),
                    ("after_ms", after_ms)):
        _ms(name, v)
    for name, v in (("heartbeat_ms", heartbeat_ms), ("poll_ms", poll_ms),
                    ("session_timeout_ms", session_timeout_ms), ("lease_ms", lease_ms)):
        _ms(name, v, positive=True)
    check_probability("renewal_percent_threshold", renewal_percent_threshold)
    check_type("self_preservation", self_preservation, bool)

    sim = Sim(seed)
    nodes = [f"z{i}" for i in range(1, n + 1)]
    minority, majority = sides(nodes)
    if registry == "cp":
        cls: type = ZkRegistryNode
        options: dict[str, Any] = dict(session_timeout_ms=session_timeout_ms, tick_ms=heartbeat_ms)
    else:
        cls = EurekaNode
        options = dict(
            lease_ms=lease_ms, heartbeat_ms=heartbeat_ms, eviction_interval_ms=heartbeat_ms,
            renewal_window_ms=lease_ms, renewal_percent_threshold=renewal_percent_threshold,
            self_preservation=self_preservation,
        )
    cls = cls if node_cls is None else check_node_cls(node_cls)
    cls(**options)  # a bad option fails now, naming the parameter
    build_nodes(sim, n, cls, names=nodes, **options)
    inst_home = {f"i{k}": nodes[(k - 1) % n] for k in range(1, instances + 1)}
    maj_insts = [i for i, z in inst_home.items() if z in majority]
    dead = maj_insts[0]
    inst_home["new_min"] = minority[0]
    inst_home["new_maj"] = majority[-1]
    consumers = {"c_min": minority[0], "c_maj": majority[-1]}
    home = {**inst_home, **consumers}
    side = {a: ("minority" if z in minority else "majority") for a, z in home.items()}
    clients = {a: sim.add_client(a) for a in home}
    heal_at = partition_start_ms + partition_ms
    crash_at = partition_start_ms + partition_ms / 4
    join_at = partition_start_ms + partition_ms / 2
    end = heal_at + after_ms
    alive = {i: True for i in inst_home}
    registered = set()  # instances whose registration succeeded at least once
    rows: list[dict[str, Any]] = []
    timeout = max(4 * heartbeat_ms, 300.0)

    lo = minority + [a for a in home if side[a] == "minority"]
    hi = majority + [a for a in home if side[a] == "majority"]
    if partition_ms > 0:
        sim.partition(lo, hi, at=partition_start_ms)
        sim.heal(at=heal_at)

    def record(actor: str, op: str, res: Any, listed: list[str] | None) -> None:
        live_reg = sorted(i for i in registered if alive[i])
        row = {
            "time_ms": sim.now, "actor": actor, "side": side[actor], "op": op, "type": res.type,
            "error": res.error, "listed": listed,
            "n_listed": len(listed) if listed is not None else None,
            "live_listed": sum(1 for i in listed if alive.get(i, False)) if listed else
            (0 if listed is not None else None),
            "dead_listed": sum(1 for i in listed if not alive.get(i, True)) if listed else
            (0 if listed is not None else None),
            "live_missing": len([i for i in live_reg if i not in listed])
            if listed is not None else None,
            "sees_new_minority": ("new_min" in listed) if listed is not None else None,
            "sees_new_majority": ("new_maj" in listed) if listed is not None else None,
        }
        rows.append(row)

    def instance(name: str, start: float, stop: float | None) -> Generator[Any, Any, None]:
        c = clients[name]
        z = home[name]
        yield sim.sleep(start)
        beat = sim.now
        needs_register = True
        while stop is None or sim.now < stop:
            if needs_register:
                inv = c.invoke("register", name)
                res = yield from c.call(z, Register(name), timeout_ms=timeout)
                c.complete(inv, res, value=name)
                if name.startswith("new_"):
                    record(name, "register", res, None)
                if res.ok:
                    needs_register = False
                    registered.add(name)
            else:
                res = yield from c.call(z, Heartbeat(name), timeout_ms=timeout)
                if not res.ok and res.error in ("not_found", "session_expired"):
                    needs_register = True
                    continue
            beat += heartbeat_ms  # a fixed rate, like Eureka's and ZooKeeper's clients
            yield sim.sleep(max(0.0, beat - sim.now))
        alive[name] = False  # crashed: no deregistration, it just goes quiet
        sim.history.event(sim.now, name, "instance_crashed")

    def consumer(name: str) -> Generator[Any, Any, None]:
        c = clients[name]
        z = home[name]
        while sim.now < end:
            yield sim.sleep(poll_ms)
            inv = c.invoke("discover")
            res = yield from c.call(z, Discover(), timeout_ms=timeout)
            c.complete(inv, res)
            record(name, "discover", res, list(res.value) if res.ok else None)

    for k, name in enumerate(sorted(i for i in inst_home if i.startswith("i"))):
        sim.process(instance(name, 0.1 * k, crash_at if name == dead else None))
    sim.process(instance("new_min", join_at, None))
    sim.process(instance("new_maj", join_at, None))
    for name in consumers:
        sim.process(consumer(name))
    sim.run(until=end + timeout)
    df = pd.DataFrame(rows, columns=SD_COLUMNS)
    df.attrs.update(
        seed=seed, registry=registry, n=n, instances=instances,
        partition_start_ms=float(partition_start_ms), heal_ms=float(heal_at),
        crash_ms=float(crash_at), join_ms=float(join_at), dead=dead,
        self_preservation=self_preservation,
        minority_instances=sorted(i for i in inst_home if side[i] == "minority"),
    )
    return _result(df, sim.history)


__all__ = [
    "LNKD_SSD",
    "NETWORKS",
    "REGISTRIES",
    "gilbert_lynch",
    "lost_vs_skew",
    "pacelc_latency",
    "partition_sweep",
    "partition_workload",
    "random_partitions",
    "service_discovery",
]
