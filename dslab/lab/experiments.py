"""The first chapter's experiments: pings, latency distributions, a partition, replay, registers.

Each function validates its arguments, runs a :class:`dslab.sim.Sim` with the given ``seed`` and
returns a pandas DataFrame (with ``attrs["seed"]`` set, so plots can title themselves), plus the
run's :class:`~dslab.history.History` where there is one:

- :func:`ping` -- one node pings another; round-trip times as measured by the pinger's clock.
- :func:`latency_samples` / :func:`latency_summary` -- draws from latency distributions that all
  have the same 2 ms mean and very different tails.
- :func:`partition_demo` -- nodes heartbeat each other; a partition cuts them apart, then heals.
- :func:`replay` -- the same seed twice gives the same history, record for record.
- :func:`broken_register` / :func:`correct_register` -- the same client workload against
  :class:`~dslab.lab.register.LaggyReplicaRegister` (not linearizable) and
  :class:`~dslab.lab.register.RegisterServer` (linearizable); :func:`register_sweep` checks both
  over many seeds.

The small handlers used here (:class:`Pinger`, :class:`Echo`, :class:`Heartbeater`) follow the
rules of :mod:`dslab.core`: they see the world only through their context.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_choice, check_number, check_probability, check_seed, check_type
from dslab.check import linearizable
from dslab.core import Context, Handler
from dslab.history import History
from dslab.lab.register import LaggyReplicaRegister, Read, RegisterServer, Write
from dslab.sim import (
    Client,
    Constant,
    Exponential,
    Latency,
    LogNormal,
    Pareto,
    Sim,
    Uniform,
    as_latency,
    pareto_exp_mixture,
)

#: Default one-way latencies of the experiments (module constants: defaults are never rebuilt).
PING_LATENCY = LogNormal(median_ms=1.0, sigma=0.4)
HEARTBEAT_LATENCY = Uniform(5.0, 15.0)
REGISTER_LATENCY = Uniform(1.0, 5.0)


def _frame(rows: Any, seed: int, columns: list[str] | None = None) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    df.attrs["seed"] = seed
    return df


# -- ping ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Ping:
    seq: int
    sent_at: float  # the pinger's local clock when it sent the ping


@dataclass(frozen=True, slots=True)
class Pong:
    seq: int
    sent_at: float  # echoed back unchanged


class Pinger(Handler):
    """Sends ``Ping`` to ``target`` every ``interval_ms`` (local time), ``n_pings`` times, and logs
    each round trip as measured by its own clock: ``ctx.log("pong", seq=..., rtt_ms=...)``."""

    def __init__(self, target: str, n_pings: int, interval_ms: float) -> None:
        self.target, self.n_pings, self.interval_ms = target, n_pings, interval_ms
        self.seq = 0

    def on_start(self, ctx: Context) -> None:
        ctx.set_timer("ping", 0.0)

    def on_timer(self, ctx: Context, name: str) -> None:
        self.seq += 1
        ctx.log("ping", seq=self.seq)
        ctx.send(self.target, Ping(self.seq, ctx.now()))
        if self.seq < self.n_pings:
            ctx.set_timer("ping", self.interval_ms)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Pong):
            ctx.log("pong", seq=msg.seq, rtt_ms=ctx.now() - msg.sent_at)


class Echo(Handler):
    """Answers every ``Ping`` with a ``Pong`` carrying the same sequence number and timestamp."""

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Ping):
            ctx.send(src, Pong(msg.seq, msg.sent_at))


def ping(
    seed: int = 0,
    n_pings: int = 200,
    latency: Latency | float = PING_LATENCY,
    *,
    interval_ms: float = 10.0,
    clock_drift: float = 0.0,
) -> tuple[pd.DataFrame, History]:
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
    return _frame(rows, seed, ["seq", "sent_ms", "rtt_ms", "true_rtt_ms"]), sim.history


# -- latency distributions -----------------------------------------------------------------------
#: Six one-way latency distributions with the same 2 ms mean and very different tails.
DEFAULT_LATENCIES: dict[str, Latency] = {
    "constant": Constant(2.0),
    "uniform": Uniform(1.0, 3.0),
    "exponential": Exponential(2.0),
    "lognormal": LogNormal(median_ms=2.0 / 1.3248, sigma=0.75),  # median * e^(sigma^2/2) = 2
    "pareto": Pareto(xm_ms=2.0 / 3.0, alpha=1.5),  # heavy tail: infinite variance
    # PBS-style (Bailis et al.) trace fit: mostly Pareto, sometimes a slow exponential
    "pbs-mixture": pareto_exp_mixture(p_pareto=0.9, xm_ms=1.0, alpha=3.0, rate_per_ms=1 / 6.5),
}


def _check_dists(dists: Any) -> dict[str, Latency]:
    if not isinstance(dists, Mapping) or not dists:
        raise TypeError(f"dists={dists!r} must be a non-empty dict {{name: Latency}}")
    out = {}
    for name, d in dists.items():
        check_type(f"dists key {name!r}", name, str)
        out[name] = as_latency(d, f"dists[{name!r}]")
    return out


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


def latency_summary(
    samples: pd.DataFrame, dists: Mapping[str, Latency] | None = None
) -> pd.DataFrame:
    """Per distribution: analytic mean, sample mean, median, 99th and 99.9th percentiles, max (ms),
    rounded to 3 decimals."""
    check_type("samples", samples, pd.DataFrame)
    ds = _check_dists(DEFAULT_LATENCIES if dists is None else dists)
    rows = []
    for name, g in samples.groupby("dist", sort=False):
        x = g["ms"]
        rows.append({
            "dist": name,
            "mean (analytic)": ds[name].mean if name in ds else float("nan"),
            "mean": x.mean(), "p50": x.quantile(0.5), "p99": x.quantile(0.99),
            "p99.9": x.quantile(0.999), "max": x.max(),
        })
    df = _frame(rows, samples.attrs.get("seed"), None).set_index("dist").round(3)
    df.attrs["seed"] = samples.attrs.get("seed")
    return df


# -- a partition -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Heartbeat:
    seq: int


class Heartbeater(Handler):
    """Sends ``Heartbeat`` to every peer every ``heartbeat_ms``, starting at a random phase."""

    def __init__(self, heartbeat_ms: float) -> None:
        self.heartbeat_ms = heartbeat_ms
        self.seq = 0

    def on_start(self, ctx: Context) -> None:
        ctx.set_timer("beat", ctx.rng.uniform(0.0, self.heartbeat_ms))

    def on_timer(self, ctx: Context, name: str) -> None:
        self.seq += 1
        for peer in ctx.peers:
            ctx.send(peer, Heartbeat(self.seq))
        ctx.set_timer("beat", self.heartbeat_ms)


def partition_demo(
    seed: int = 0,
    *,
    n_nodes: int = 3,
    heartbeat_ms: float = 50.0,
    partition_at_ms: float = 200.0,
    partition_ms: float = 200.0,
    run_ms: float = 600.0,
    latency: Latency | float = HEARTBEAT_LATENCY,
) -> tuple[pd.DataFrame, History]:
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
    return _frame(rows, seed, ["phase", "from_ms", "to_ms", "delivered", "dropped"]), sim.history


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
            op = client.invoke("write", v)
            result = yield from client.call(server, Write(v), timeout_ms=timeout_ms)
            client.complete(op, result, value=v)
        else:
            op = client.invoke("read")
            result = yield from client.call(server, Read(), timeout_ms=timeout_ms)
            client.complete(op, result)


def _register_run(
    seed: int, servers: list[str], factory: Any, clients: int, ops: int, write_fraction: float,
    think_ms: float, latency: Any, timeout_ms: float,
) -> tuple[pd.DataFrame, History]:
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
    return df, sim.history


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
) -> tuple[pd.DataFrame, History]:
    """``clients`` clients each run ``ops`` reads and writes against a
    :class:`~dslab.lab.register.LaggyReplicaRegister` of ``replicas`` replicas (client ``ci``
    talks to replica ``n((i - 1) % replicas + 1)``), which copies writes to its peers after
    ``lag_ms``. Reads soon after another replica's write return stale values.

    Returns ``(df, history)``: ``df`` is :meth:`History.ops_frame`. Check the history with
    ``dslab.check.linearizable(history, "register")``.
    """
    check_number("replicas", replicas, min=2, max=9, integer=True)
    check_number("lag_ms", lag_ms, min=0)
    servers = [f"n{i}" for i in range(1, replicas + 1)]
    return _register_run(seed, servers, lambda: LaggyReplicaRegister(lag_ms), clients, ops,
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
) -> tuple[pd.DataFrame, History]:
    """The workload of :func:`broken_register` against one
    :class:`~dslab.lab.register.RegisterServer` (every client talks to ``n1``). Its histories are
    always linearizable."""
    return _register_run(seed, ["n1"], RegisterServer, clients, ops, write_fraction, think_ms,
                         latency, timeout_ms)


def register_sweep(
    seeds: Any = range(100), *, lag_ms: float = 60.0, progress: bool = False, **workload: Any
) -> pd.DataFrame:
    """Run :func:`broken_register` and :func:`correct_register` for each seed in ``seeds`` and
    check both histories with :func:`dslab.check.linearizable` (model ``"register"``).

    Returns one row per seed: ``seed``, ``laggy replicas`` and ``single server`` (True when that
    history is linearizable). ``workload`` passes ``clients``, ``ops``, ``think_ms``... to both.
    """
    check_type("progress", progress, bool)
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds={seeds!r} must be an iterable of seeds, e.g. range(100)")
    seeds = [check_seed(s) for s in seeds]
    rows = []
    for seed in tqdm(seeds, disable=not progress, desc="seeds"):
        _, laggy = broken_register(seed, lag_ms=lag_ms, **workload)
        _, single = correct_register(seed, **workload)
        rows.append({
            "seed": seed,
            "laggy replicas": linearizable(laggy, "register").valid,
            "single server": linearizable(single, "register").valid,
        })
    return _frame(rows, seeds[0] if seeds else None, ["seed", "laggy replicas", "single server"])


# -- replay ----------------------------------------------------------------------------------------
SCENARIOS = ("register", "partition")


def digest(history: History) -> str:
    """A short fingerprint of everything in ``history`` (SHA-256 of its JSON, 16 hex digits)."""
    check_type("history", history, History)
    return hashlib.sha256(history.to_json().encode()).hexdigest()[:16]


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
