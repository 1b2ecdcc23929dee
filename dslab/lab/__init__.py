"""The lab: the first chapter's experiments on the simulated network.

- :mod:`dslab.lab.register` -- a correct single-node register and a broken replicated one.
- :mod:`dslab.lab.experiments` -- ping, latency distributions, a partition, replay, registers.
"""

from dslab.lab.experiments import (
    DEFAULT_LATENCIES,
    HEARTBEAT_LATENCY,
    PING_LATENCY,
    REGISTER_LATENCY,
    Echo,
    Heartbeat,
    Heartbeater,
    Ping,
    Pinger,
    Pong,
    broken_register,
    correct_register,
    digest,
    latency_samples,
    latency_summary,
    partition_demo,
    ping,
    register_sweep,
    replay,
)
from dslab.lab.register import Cas, LaggyReplicaRegister, Read, RegisterServer, Replicate, Write

__all__ = [
    "DEFAULT_LATENCIES",
    "HEARTBEAT_LATENCY",
    "PING_LATENCY",
    "REGISTER_LATENCY",
    "Cas",
    "Echo",
    "Heartbeat",
    "Heartbeater",
    "LaggyReplicaRegister",
    "Ping",
    "Pinger",
    "Pong",
    "Read",
    "RegisterServer",
    "Replicate",
    "Write",
    "broken_register",
    "correct_register",
    "digest",
    "latency_samples",
    "latency_summary",
    "partition_demo",
    "ping",
    "register_sweep",
    "replay",
]
