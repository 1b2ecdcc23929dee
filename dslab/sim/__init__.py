"""The simulated world: ``Sim``, its network, clocks, latency distributions and faults.

Typical use::

    from dslab.sim import Sim, LogNormal
    sim = Sim(seed=7, latency=LogNormal(median_ms=2.0, sigma=0.5))
    sim.add_node("n1", MyHandler)
    client = sim.add_client("c1")
    sim.process(workload(sim, client))
    sim.partition(["n1"], ["n2", "n3"], at=500.0)
    sim.heal(at=1500.0)
    sim.run(until=3000.0)
    sim.history  # everything that happened
"""

from dslab.sim.clock import LocalClock
from dslab.sim.latency import (
    Constant,
    Exponential,
    Latency,
    LogNormal,
    Mixture,
    Pareto,
    Shifted,
    Uniform,
    as_latency,
    pareto_exp_mixture,
)
from dslab.sim.network import DROP, LinkPolicy, Network, message_size, message_type
from dslab.sim.rng import derive_seed, stream
from dslab.sim.world import Client, HandlerError, Node, RpcResult, Sim

__all__ = [
    "DROP",
    "Client",
    "Constant",
    "Exponential",
    "HandlerError",
    "Latency",
    "LinkPolicy",
    "LocalClock",
    "LogNormal",
    "Mixture",
    "Network",
    "Node",
    "Pareto",
    "RpcResult",
    "Shifted",
    "Sim",
    "Uniform",
    "as_latency",
    "derive_seed",
    "message_size",
    "message_type",
    "pareto_exp_mixture",
    "stream",
]
