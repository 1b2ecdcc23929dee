"""The KV service under a nemesis: one randomized run, as the tests and experiments use it.

:func:`run_kv` builds a cluster of :class:`~dslab.raft.kv.KVServer` on a lossy network that
reorders messages, starts concurrent clients (each a :class:`~dslab.raft.kv.Clerk` doing reads,
writes and compare-and-sets on a few keys), and a nemesis that partitions, isolates, crashes and
restarts servers at random times. At ``duration_ms`` the nemesis heals everything and restarts
every crashed server; the clients stop invoking new operations and finish the ones in flight.

Everything random comes from the run's seed: the network (stream ``network``), the nemesis
(``nemesis``), each client (``workload/<client>``) and each node (``node/<name>``). The same seed
gives the same history.

:meth:`KVRun.verdicts` judges the run from its history alone (:mod:`dslab.check.verdict`): the
client history is linearizable (model ``"kv"``), Election Safety and Log Matching hold.
:meth:`KVRun.problems` lists the violations found, each ending with "replay with seed=N". The
linearizability search has a budget counted in configurations, never in seconds: a history it
cannot decide within that budget is ``unknown``, not a violation, on every machine alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_number, check_probability, check_seed, check_type
from dslab.check.verdict import DEFAULT_MAX_CONFIGS, Verdict, linearizable_verdict
from dslab.history import History
from dslab.raft.config import RaftConfig
from dslab.raft.kv import Clerk, KVServer
from dslab.raft.node import RaftNode
from dslab.raft.safety import election_safety, log_matching, server_logs
from dslab.sim import Sim, Uniform

NEMESIS_FAULTS = ("partition", "isolate", "crash", "pause")


@dataclass
class KVRun:
    """One run: the world it ran in and what the clients saw."""

    seed: int
    sim: Sim
    servers: list[str]
    faults: list[str] = field(default_factory=list)

    @property
    def history(self) -> History:
        return self.sim.history

    def verdicts(self, *, max_configs: int = DEFAULT_MAX_CONFIGS) -> list[Verdict]:
        """The run judged from its history alone: linearizability of the client history (model
        ``"kv"``, with a deterministic search budget of ``max_configs`` configurations per key),
        Election Safety and Log Matching. A search that runs out of budget is ``unknown``."""
        return [
            linearizable_verdict(self.history, "kv", max_configs=max_configs, seed=self.seed),
            Verdict.of("election_safety", election_safety(self.history), self.seed),
            Verdict.of("log_matching", log_matching(server_logs(self.sim)), self.seed),
        ]

    def problems(self, *, max_configs: int = DEFAULT_MAX_CONFIGS) -> list[str]:
        """Every safety violation found (an empty list if none): the ``unsafe`` verdicts only.
        An undecided check is not a violation; see :meth:`undecided`."""
        return [str(v) for v in self.verdicts(max_configs=max_configs) if v.unsafe]

    def undecided(self, *, max_configs: int = DEFAULT_MAX_CONFIGS) -> list[str]:
        """The checks that ran out of budget (``unknown``), each with its replay line."""
        return [str(v) for v in self.verdicts(max_configs=max_configs) if v.unknown]


def run_kv(
    seed: int,
    *,
    n_servers: int = 5,
    n_clients: int = 4,
    duration_ms: float = 3000.0,
    keys: tuple[Any, ...] = ("x", "y", "z"),
    faults: tuple[str, ...] = NEMESIS_FAULTS,
    fault_interval_ms: tuple[float, float] = (100.0, 500.0),
    loss: float = 0.05,
    duplicate: float = 0.0,
    latency_ms: tuple[float, float] = (1.0, 10.0),
    maxraftstate: int | None = None,
    op_timeout_ms: float = 1500.0,
    config: RaftConfig | None = None,
    server_cls: type[RaftNode] = KVServer,
) -> KVRun:
    """Run the KV service for ``duration_ms`` of simulated time under ``faults``; see the module.

    ``faults`` is any subset of ``("partition", "isolate", "crash", "pause")`` (empty: no
    nemesis). The nemesis acts every ``fault_interval_ms`` (drawn uniformly) and never keeps more
    than a minority of the servers crashed at once. ``server_cls`` (a KV server class, built as
    ``server_cls(config, maxraftstate=...)``: :class:`KVServer`, a variant, or a student's)
    lets a test or the grader try another implementation.
    """
    check_seed(seed)
    check_number("n_servers", n_servers, min=1, integer=True)
    check_number("n_clients", n_clients, min=1, integer=True)
    check_number("duration_ms", duration_ms, min=0)
    check_type("keys", keys, tuple)
    if not keys:
        raise ValueError("keys=() is not allowed; give at least one key")
    for f in faults:
        if f not in NEMESIS_FAULTS:
            raise ValueError(f"faults contains {f!r}; choose from {list(NEMESIS_FAULTS)}")
    lo, hi = fault_interval_ms
    check_number("fault_interval_ms[0]", lo, min=0, min_inclusive=False)
    check_number("fault_interval_ms[1]", hi, min=lo)
    check_probability("loss", loss)
    check_probability("duplicate", duplicate)
    check_number("op_timeout_ms", op_timeout_ms, min=0, min_inclusive=False)
    if not (isinstance(server_cls, type) and issubclass(server_cls, RaftNode)):
        raise TypeError(f"server_cls={server_cls!r} must be a KV server class (a RaftNode)")

    sim = Sim(seed=seed, latency=Uniform(*latency_ms), loss=loss, duplicate=duplicate)
    servers = [f"s{i}" for i in range(n_servers)]
    for name in servers:
        sim.add_node(name, lambda: server_cls(config, maxraftstate=maxraftstate))
    run = KVRun(seed, sim, servers)
    for k in range(n_clients):
        client = sim.add_client(f"c{k}")
        clerk = Clerk(sim, client, servers, op_timeout_ms=op_timeout_ms)
        sim.process(_client(sim, clerk, k, keys, duration_ms))
    if faults:
        sim.process(_nemesis(sim, run, faults, (lo, hi), duration_ms))
    sim.run(until=duration_ms + op_timeout_ms + 500.0)
    return run


def _client(sim: Sim, clerk: Clerk, k: int, keys: tuple[Any, ...], duration_ms: float):
    """Reads, writes and cas on random keys; written values are unique (client k, counter)."""
    rng = sim.stream(f"workload/{clerk.client_id}")
    counter = 0
    seen: dict[Any, Any] = {}  # the last value this client saw for each key
    while sim.now < duration_ms:
        key = rng.choice(keys)
        roll = rng.random()
        counter += 1
        value = 1000 * (k + 1) + counter
        if roll < 0.4:
            op = yield from clerk.get(key)
            if op.type == "ok":
                seen[key] = op.value[1]
        elif roll < 0.8:
            yield from clerk.put(key, value)
        else:
            yield from clerk.cas(key, seen.get(key), value)
        yield sim.sleep(rng.uniform(0.0, 20.0))


def _nemesis(
    sim: Sim, run: KVRun, faults: tuple[str, ...], interval: tuple[float, float], until: float
):
    """Every ``interval`` ms, hit a server: half the time the current leader, else any server."""
    rng = sim.stream("nemesis")
    servers = run.servers
    down: set[str] = set()
    max_down = (len(servers) - 1) // 2  # a majority stays up
    while True:
        yield sim.sleep(rng.uniform(*interval))
        if sim.now >= until:
            break
        leader = _current_leader(sim, servers)
        target = leader if leader and rng.random() < 0.5 else rng.choice(servers)
        fault = rng.choice(faults)
        if fault == "partition":  # the target and a few others (a minority) on one side
            others = [s for s in servers if s != target]
            rng.shuffle(others)
            k = rng.randint(0, max_down - 1) if max_down > 0 else 0
            sim.partition([target, *others[:k]], others[k:])
        elif fault == "isolate":
            sim.heal()
            sim.isolate(target)
        elif fault == "crash":
            if target not in down and len(down) < max_down:
                down.add(target)
                sim.crash(target)
            elif down:
                back = rng.choice(sorted(down))
                down.discard(back)
                sim.restart(back)
        elif fault == "pause":
            sim.pause(target, rng.uniform(50.0, 400.0))
        run.faults.append(fault)
        if rng.random() < 0.3:
            sim.heal()
    sim.heal()
    for name in sorted(down):
        sim.restart(name)


def _current_leader(sim: Sim, servers: list[str]) -> str | None:
    """The live server that believes it leads the highest term (the nemesis may peek)."""
    best: tuple[int, str] | None = None
    for name in servers:
        handler = sim.handler(name)
        if handler is not None and handler.role == "leader":
            if best is None or handler.current_term > best[0]:
                best = (handler.current_term, name)
    return best[1] if best else None
