"""Read and write throughput of a saturated ensemble, as voters or observers are added.

Hunt et al. 2010 (§5.1, Figure 5) measured a saturated ZooKeeper: read throughput grows with the
number of servers, because every server answers reads from its own replica; write throughput
falls as servers are added, because every write is proposed by the one leader and acknowledged by
every voter. Observers (added to ZooKeeper after the paper, in 3.3) are the way out: they serve
reads but do not vote, so they add read capacity without slowing writes.

:func:`throughput_run` reproduces that *shape* on the simulator, with the capacity model of
:mod:`dslab.zk.capacity` (each server handles one message at a time, with a service time):
``clients_per_server`` closed-loop clients per server, each issuing its next operation as soon
as the previous one is answered, a ``write_fraction`` of them ``setData`` and the rest
``getData``, on one znode. Throughput is operations completed per second of simulated time
during a measurement window after a warm-up. :func:`scaling_sweep` varies the voters or the
observers for several write fractions. The numbers are the model's, not the paper's: the service
times are round numbers chosen so that a read costs a server 1 ms and a write costs the leader a
few ms plus half a ms per voter's ack.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_number, check_probability, check_seed
from dslab.zk.capacity import ServiceTimes
from dslab.zk.client import add_zk_client
from dslab.zk.cluster import build_ensemble, run_until_leader
from dslab.zk.server import ZkConfig

#: Heartbeat limits loose enough that a saturated server's queue never looks like a failure
#: (ZooKeeper's own syncLimit is several seconds).
SATURATED_CONFIG = dict(tick_ms=50.0, sync_limit_ms=2000.0, election_timeout_ms=60.0)


def throughput_run(
    seed: int = 0,
    servers: int = 3,
    observers: int = 0,
    write_fraction: float = 0.0,
    *,
    clients_per_server: int = 6,
    warmup_ms: float = 200.0,
    measure_ms: float = 1000.0,
    service: ServiceTimes | None = None,
) -> dict[str, Any]:
    """One saturated run; returns a row: the ensemble, the workload, reads/s, writes/s, ops/s
    (completed in the measurement window), the mean latency, and the leader."""
    check_seed(seed)
    check_number("servers", servers, min=1, max=15, integer=True)
    check_number("observers", observers, min=0, max=15, integer=True)
    check_probability("write_fraction", write_fraction)
    check_number("clients_per_server", clients_per_server, min=1, max=64, integer=True)
    check_number("warmup_ms", warmup_ms, min=0, max=60_000)
    check_number("measure_ms", measure_ms, min=1, max=60_000)
    service = service if service is not None else ServiceTimes()
    if not isinstance(service, ServiceTimes):
        raise TypeError(f"service={service!r} has type {type(service).__name__}; expected a "
                        "dslab.zk.capacity.ServiceTimes")
    cfg = ZkConfig(**SATURATED_CONFIG, service=service)
    sim, names = build_ensemble(seed, servers, config=cfg, observers=observers)
    leader = run_until_leader(sim)
    for _ in range(400):  # every server (observers too) synchronised, so clients stay put
        if all(sim.handler(n).serving for n in names):
            break
        sim.run_for(5.0)
    clients = [
        add_zk_client(sim, f"c{i}", names, server=names[i % len(names)],
                      session_timeout_ms=60_000.0, op_timeout_ms=10_000.0)
        for i in range(clients_per_server * len(names))
    ]
    sim.run(until=sim.env.all_of([sim.process(c.connect()) for c in clients]))
    first = sim.process(clients[0].create("/k", 0, record=False))
    sim.run(until=first)
    start = sim.now + warmup_ms
    end = start + measure_ms
    done: list[tuple[str, float, float]] = []  # (kind, invoked, completed)
    rng = sim.stream("workload")

    def loop(c: Any) -> Any:
        i = 0
        while sim.now < end:
            write = rng.random() < write_fraction
            t0 = sim.now
            if write:
                res = yield from c.set_data("/k", i, record=False)
            else:
                res = yield from c.get_data("/k", record=False)
            if res.ok:
                done.append(("write" if write else "read", t0, sim.now))
            i += 1

    sim.run(until=sim.env.all_of([sim.process(loop(c)) for c in clients]))
    window = [d for d in done if start <= d[2] < end]
    reads = sum(1 for d in window if d[0] == "read")
    writes = len(window) - reads
    per_s = 1000.0 / measure_ms
    return {
        "servers": servers,
        "observers": observers,
        "write_fraction": write_fraction,
        "clients": len(clients),
        "reads_per_s": reads * per_s,
        "writes_per_s": writes * per_s,
        "ops_per_s": len(window) * per_s,
        "mean_latency_ms": (sum(d[2] - d[1] for d in window) / len(window)) if window else None,
        "leader": leader,
        "seed": seed,
    }


def scaling_sweep(
    vary: str = "servers",
    values: Any = (3, 5, 7, 9),
    write_fractions: Any = (0.0, 0.1, 1.0),
    seed: int = 0,
    *,
    base_servers: int = 3,
    progress: bool = False,
    **kwargs: Any,
) -> pd.DataFrame:
    """:func:`throughput_run` for each value of ``vary`` (``"servers"``: voters, no observers;
    ``"observers"``: ``base_servers`` voters plus that many observers) and each write fraction."""
    if vary not in ("servers", "observers"):
        raise ValueError(f"vary={vary!r} is not allowed; choose 'servers' or 'observers'")
    values, fractions = list(values), list(write_fractions)
    if not values or not fractions:
        raise ValueError(f"values={values!r} and write_fractions={fractions!r} must not be empty")
    rows = []
    runs = [(v, f) for v in values for f in fractions]
    for v, f in tqdm(runs, disable=not progress, desc=vary):
        if vary == "servers":
            rows.append(throughput_run(seed, v, 0, f, **kwargs))
        else:
            rows.append(throughput_run(seed, base_servers, v, f, **kwargs))
    out = pd.DataFrame(rows)
    out.attrs.update(seed=seed, vary=vary)
    return out


__all__ = ["SATURATED_CONFIG", "scaling_sweep", "throughput_run"]
