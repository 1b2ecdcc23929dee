"""The first chapter's scenarios: pings, latency draws, a partition, replay, registers.

Each function validates its arguments, runs a :class:`dslab.sim.Sim` with the given ``seed`` and
returns a :class:`dslab.sim.scenario.Result` (``frame``, ``history``, ``seed``, ``metadata``;
``df, history = result`` unpacks), except :func:`latency_samples`, which draws numbers and returns
a DataFrame:

- :func:`ping` -- one node pings another; round-trip times as measured by the pinger's clock.
- :func:`latency_samples` -- draws from latency distributions that all have the same 2 ms mean
  and very different tails (summarised by :func:`dslab.lab.analysis.latency_summary`).
- :func:`partition_demo` -- nodes heartbeat each other; a partition cuts them apart, then heals.
- :func:`replay` -- the same seed twice gives the same history, record for record.
- :func:`broken_register` / :func:`correct_register` -- the same client workload against
  :class:`~dslab.lab.register.LaggyReplicaRegister` (not linearizable) and
  :class:`~dslab.lab.register.RegisterServer` (linearizable); :func:`register_sweep` checks both
  over many seeds. ``node_cls`` swaps in another server class (the builder convention of
  :mod:`dslab.sim.scenario`).

The handlers live in :mod:`dslab.lab.handlers` and :mod:`dslab.lab.register`; nothing here
defines a mechanism.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

import pandas as pd

from dslab._validate import check_choice, check_number, check_probability, check_seed
from dslab.check import linearizable
from dslab.lab.analysis import DEFAULT_LATENCIES, _check_dists, digest
from dslab.lab.handlers import Echo, Heartbeater, Pinger
from dslab.lab.register import LaggyReplicaRegister, Read, RegisterServer, Write
from dslab.sim import Client, Latency, LogNormal, Sim, Uniform, as_latency
from dslab.sim.scenario import Result, check_node_cls, check_seeds, operation, sweep
from dslab.sim.scenario import frame as _frame

#: Default one-way latencies of the experiments (module constants: defaults are never rebuilt).
PING_LATENCY = LogNormal(median_ms=1.0, sigma=0.4)
HEARTBEAT_LATENCY = Uniform(5.0, 15.0)
REGISTER_LATENCY = Uniform(1.0, 5.0)


# -- ping ------------------------------------------------------------------------------------------
def ping(
    seed: int = 0,
    n_pings: int = 200,
    latency: Latency | float = PING_LATENCY,
    *,
    interval_ms: float = 10.0,
    clock_drift: float = 0.0,
) -> Result:
    """Node ``n1`` pings ``n2`` ``n_pings`` times, every ``interval_ms``, over links with one-way
    ``latency``. ``clock_drift`` makes n1's clock run fast (> 0) or slow (< 0).

    Returns ``(df, history)``; ``df`` has one row per ping: ``seq``, ``sent_ms`` (true time),
    ``rtt_ms`` (measured by n1's local clock) and ``true_rtt_ms`` (true simulated time).
    """
    check_seed(seed)
    check_number("n_pings", n_pings, min=1, integer=True)
    lat = as_latency(latency)
    check_number("interval_ms", interval_ms, min=0, min_inclusive=False)
    check_number("clock_drift", clock_drift, min=-0.5, max=0.5)
    sim = Sim(seed, latency=lat)
    sim.add_node("n1", lambda: Pinger("n2", n_pings, interval_ms), clock_drift=clock_drift)
    sim.add_node("n2", Echo)
    sim.run()
    sent = {e.data["seq"]: e.time for e in sim.history.events if e.name == "ping"}
    rows = [
        {"seq": e.data["seq"], "sent_ms": sent[e.data["seq"]], "rtt_ms": e.data["rtt_ms"],
         "true_rtt_ms": e.time - sent[e.data["seq"]]}
        for e in sim.history.events if e.name == "pong"
    ]
    rows.sort(key=lambda r: r["seq"])
    df = _frame(rows, seed, ["seq", "sent_ms", "rtt_ms", "true_rtt_ms"])
    return Result(df, sim.history, seed, {"n_pings": n_pings, "clock_drift": clock_drift})


def latency_samples(
    seed: int = 0, n: int = 2000, dists: Mapping[str, Latency] | None = None
) -> pd.DataFrame:
    """``n`` draws from each distribution in ``dists`` (default :data:`DEFAULT_LATENCIES`).

    Returns a long DataFrame with columns ``dist`` and ``ms``. Each distribution draws from its own
    stream (``latency/<name>``), so adding one never changes the samples of the others.
    """
    check_seed(seed)
    check_number("n", n, min=1, integer=True)
    ds = _check_dists(DEFAULT_LATENCIES if dists is None else dists)
    sim = Sim(seed)
    rows = []
    for name, d in ds.items():
        rng = sim.stream(f"latency/{name}")
        rows += [{"dist": name, "ms": x} for x in d.samples(rng, n)]
    return _frame(rows, seed, ["dist", "ms"])


# -- a partition -----------------------------------------------------------------------------------
def partition_demo(
    seed: int = 0,
    *,
    n_nodes: int = 3,
    heartbeat_ms: float = 50.0,
    partition_at_ms: float = 200.0,
    partition_ms: float = 200.0,
    run_ms: float = 600.0,
    latency: Latency | float = HEARTBEAT_LATENCY,
) -> Result:
    """``n_nodes`` nodes heartbeat each other; at ``partition_at_ms`` the network splits the first
    ``(n_nodes - 1) // 2`` nodes (the minority) from the rest, and heals ``partition_ms`` later.

    Returns ``(df, history)``. ``df`` counts delivered and dropped messages per phase
    (``before``, ``partition``, ``after``); a message counts in the phase in which its fate was
    sealed: when it was delivered, or dropped (at sending, or on arrival).
    """
    check_seed(seed)
    check_number("n_nodes", n_nodes, min=2, max=9, integer=True)
    check_number("heartbeat_ms", heartbeat_ms, min=0, min_inclusive=False)
    check_number("partition_at_ms", partition_at_ms, min=0)
    check_number("partition_ms", partition_ms, min=0)
    check_number("run_ms", run_ms, min=0, min_inclusive=False)
    if partition_at_ms + partition_ms > run_ms:
        raise ValueError(
            f"partition_at_ms + partition_ms = {partition_at_ms + partition_ms} must be <= "
            f"run_ms={run_ms}: the partition must heal before the run ends"
        )
    sim = Sim(seed, latency=as_latency(latency))
    names = [f"n{i}" for i in range(1, n_nodes + 1)]
    for name in names:
        sim.add_node(name, lambda: Heartbeater(heartbeat_ms))
    k = max(1, (n_nodes - 1) // 2)
    heal_at = partition_at_ms + partition_ms
    sim.partition(names[:k], names[k:], at=partition_at_ms)
    sim.heal(at=heal_at)
    sim.run(until=run_ms)
    phases = [("before", 0.0, partition_at_ms), ("partition", partition_at_ms, heal_at),
              ("after", heal_at, run_ms)]
    counts = {p: {"delivered": 0, "dropped": 0} for p, _, _ in phases}
    for m in sim.history.messages:
        if m.status == "in_flight":
            continue
        t = m.recv_time if m.recv_time is not None else m.send_time
        phase = next(p for p, a, b in phases if t < b or p == "after")
        counts[phase][m.status] += 1
    rows = [{"phase": p, "from_ms": a, "to_ms": b, **counts[p]} for p, a, b in phases]
    df = _frame(rows, seed, ["phase", "from_ms", "to_ms", "delivered", "dropped"])
    return Result(df, sim.history, seed, {"minority": names[:k], "majority": names[k:]})


# -- registers -------------------------------------------------------------------------------------
def _client(
    sim: Sim, client: Client, server: str, n_ops: int, write_fraction: float, think_ms: float,
    timeout_ms: float, next_value: list[int],
) -> Generator[Any, Any, None]:
    """One client: ``n_ops`` reads or writes (of fresh values 1, 2, 3...), thinking in between."""
    rng = sim.stream(f"workload/{client.name}")
    for _ in range(n_ops):
        yield sim.sleep(rng.uniform(0.0, think_ms))
        if rng.random() < write_fraction:
            next_value[0] += 1
            v = next_value[0]
            yield from operation(client, server, "write", Write(v), value=v, timeout_ms=timeout_ms)
        else:
            yield from operation(client, server, "read", Read(), timeout_ms=timeout_ms)


def _register_run(
    seed: int, servers: list[str], factory: Any, clients: int, ops: int, write_fraction: float,
    think_ms: float, latency: Any, timeout_ms: float,
) -> Result:
    check_seed(seed)
    check_number("clients", clients, min=1, max=26, integer=True)
    check_number("ops", ops, min=1, integer=True)
    check_probability("write_fraction", write_fraction)
    check_number("think_ms", think_ms, min=0)
    check_number("timeout_ms", timeout_ms, min=0, min_inclusive=False)
    sim = Sim(seed, latency=as_latency(latency))
    for name in servers:
        sim.add_node(name, factory)
    next_value = [0]
    for i in range(clients):
        client = sim.add_client(f"c{i + 1}")
        server = servers[i % len(servers)]
        sim.process(_client(sim, client, server, ops, write_fraction, think_ms, timeout_ms,
                            next_value))
    sim.run()
    df = sim.history.ops_frame()
    # keep values as written (ints and None), not pandas' floats and NaN
    pairs = list(sim.history.pairs())
    df["invoke_value"] = pd.Series([inv.value for inv, _ in pairs], dtype=object)
    df["value"] = pd.Series([c.value if c else None for _, c in pairs], dtype=object)
    df.attrs["seed"] = seed
    return Result(df, sim.history, seed, {"servers": list(servers)})


def broken_register(
    seed: int = 0,
    clients: int = 3,
    ops: int = 6,
    *,
    replicas: int = 3,
    lag_ms: float = 60.0,
    write_fraction: float = 0.4,
    think_ms: float = 30.0,
    latency: Latency | float = REGISTER_LATENCY,
    timeout_ms: float = 100.0,
    node_cls: type = LaggyReplicaRegister,
) -> Result:
    """``clients`` clients each run ``ops`` reads and writes against a
    :class:`~dslab.lab.register.LaggyReplicaRegister` of ``replicas`` replicas (client ``ci``
    talks to replica ``n((i - 1) % replicas + 1)``), which copies writes to its peers after
    ``lag_ms``. Reads soon after another replica's write return stale values.

    Returns a :class:`Result` (``df, history = result``): ``df`` is :meth:`History.ops_frame`.
    ``node_cls`` (built as ``node_cls(lag_ms)``) swaps in another replica class. Check with
    ``dslab.check.linearizable(history, "register")``.
    """
    check_number("replicas", replicas, min=2, max=9, integer=True)
    check_number("lag_ms", lag_ms, min=0)
    servers = [f"n{i}" for i in range(1, replicas + 1)]
    check_node_cls(node_cls)
    return _register_run(seed, servers, lambda: node_cls(lag_ms), clients, ops,
                         write_fraction, think_ms, latency, timeout_ms)


def correct_register(
    seed: int = 0,
    clients: int = 3,
    ops: int = 6,
    *,
    write_fraction: float = 0.4,
    think_ms: float = 30.0,
    latency: Latency | float = REGISTER_LATENCY,
    timeout_ms: float = 100.0,
    node_cls: type = RegisterServer,
) -> Result:
    """The workload of :func:`broken_register` against one
    :class:`~dslab.lab.register.RegisterServer` (every client talks to ``n1``). Its histories are
    always linearizable (``node_cls`` swaps in another server class)."""
    check_node_cls(node_cls)
    return _register_run(seed, ["n1"], node_cls, clients, ops, write_fraction, think_ms,
                         latency, timeout_ms)


def register_sweep(
    seeds: Any = range(100), *, lag_ms: float = 60.0, progress: bool = False, **workload: Any
) -> pd.DataFrame:
    """Run :func:`broken_register` and :func:`correct_register` for each seed in ``seeds`` and
    check both histories with :func:`dslab.check.linearizable` (model ``"register"``).

    Returns one row per seed: ``seed``, ``laggy replicas`` and ``single server`` (True when that
    history is linearizable). ``workload`` passes ``clients``, ``ops``, ``think_ms``... to both.
    """
    def one(seed: int) -> dict[str, Any]:
        _, laggy = broken_register(seed, lag_ms=lag_ms, **workload)
        _, single = correct_register(seed, **workload)
        return {
            "laggy replicas": linearizable(laggy, "register").valid,
            "single server": linearizable(single, "register").valid,
        }

    return sweep(one, check_seeds(seeds), progress=progress)


# -- replay ----------------------------------------------------------------------------------------
SCENARIOS = ("register", "partition")


def replay(
    seed: int = 0, other_seed: int | None = None, *, scenario: str = "register"
) -> pd.DataFrame:
    """Run ``scenario`` twice with ``seed`` and once with ``other_seed`` (default ``seed + 1``).

    Returns one row per run: ``run``, ``seed``, ``records`` and ``messages`` (history sizes),
    ``digest`` (:func:`digest`) and ``same_as_first`` (``to_records()`` equal to run A's).
    """
    check_seed(seed)
    other = seed + 1 if other_seed is None else check_seed(other_seed)
    check_choice("scenario", scenario, SCENARIOS)
    run = broken_register if scenario == "register" else partition_demo
    rows = []
    first: list[dict[str, Any]] | None = None
    for label, s in (("A", seed), ("B", seed), ("C", other)):
        _, h = run(s)
        records = h.to_records()
        first = records if first is None else first
        rows.append({"run": label, "seed": s, "records": len(records), "messages": len(h.messages),
                     "digest": digest(h), "same_as_first": records == first})
    return _frame(rows, seed, ["run", "seed", "records", "messages", "digest", "same_as_first"])
