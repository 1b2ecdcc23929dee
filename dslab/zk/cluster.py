"""Building a ZooKeeper ensemble on the simulator, and reading its state from outside."""

from __future__ import annotations

from typing import Any

from dslab._validate import check_number
from dslab.sim import Sim
from dslab.sim.latency import Uniform
from dslab.zk.server import ZkConfig, ZkServer


def build_ensemble(
    seed: int = 0,
    servers: int = 3,
    *,
    config: ZkConfig | None = None,
    latency: Any = None,
    observers: int = 0,
) -> tuple[Sim, list[str]]:
    """A ``Sim`` with ``servers`` voting ZooKeeper servers ``s1``.. (myid 1..) and ``observers``
    observers ``o1``.. (the next myids), on FIFO links as ZAB assumes (TCP). Returns
    ``(sim, names)`` (voters first); the servers boot at time 0 and elect a leader."""
    check_number("servers", servers, min=1, integer=True)
    check_number("observers", observers, min=0, max=64, integer=True)
    sim = Sim(seed, latency=latency if latency is not None else Uniform(1.0, 2.0), fifo=True)
    voters = [f"s{i}" for i in range(1, servers + 1)]
    obs = [f"o{i}" for i in range(1, observers + 1)]
    names = voters + obs
    ids = {n: i for i, n in enumerate(names, start=1)}
    cfg = config or ZkConfig()
    for n in names:
        sim.add_node(n, lambda n=n: ZkServer(n, ids, cfg, observers=obs))
    return sim, names


def leader_of(sim: Sim) -> str | None:
    """The established leader among the live servers (the one with the highest epoch)."""
    best = None
    for name in sim.node_names:
        h = sim.handler(name)
        if isinstance(h, ZkServer) and h.state == "leading" and h.established:
            if best is None or h.epoch > best[0]:
                best = (h.epoch, name)
    return best[1] if best else None


def run_until_leader(sim: Sim, limit_ms: float = 5000.0, step_ms: float = 5.0) -> str | None:
    """Run until some server is an established leader (or ``limit_ms`` more have passed)."""
    end = sim.now + limit_ms
    while sim.now < end:
        who = leader_of(sim)
        if who is not None:
            return who
        sim.run_for(step_ms)
    return leader_of(sim)


def trees(sim: Sim) -> dict[str, dict[str, Any]]:
    """Each live server's data tree (path -> data, czxid, mzxid, version)."""
    out = {}
    for name in sim.node_names:
        h = sim.handler(name)
        if isinstance(h, ZkServer):
            out[name] = h.tree.snapshot()
    return out
