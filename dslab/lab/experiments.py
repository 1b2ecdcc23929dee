"""The first chapter's experiments: the scenarios of :mod:`dslab.lab.scenarios` and the analysis
of :mod:`dslab.lab.analysis`, under one name (the handlers are in :mod:`dslab.lab.handlers`).
"""

from dslab.lab.analysis import DEFAULT_LATENCIES, digest, latency_summary
from dslab.lab.handlers import Echo, Heartbeat, Heartbeater, Ping, Pinger, Pong
from dslab.lab.scenarios import (
    HEARTBEAT_LATENCY,
    PING_LATENCY,
    REGISTER_LATENCY,
    SCENARIOS,
    broken_register,
    correct_register,
    latency_samples,
    partition_demo,
    ping,
    register_sweep,
    replay,
)

__all__ = [
    "DEFAULT_LATENCIES",
    "HEARTBEAT_LATENCY",
    "PING_LATENCY",
    "REGISTER_LATENCY",
    "SCENARIOS",
    "Echo",
    "Heartbeat",
    "Heartbeater",
    "Ping",
    "Pinger",
    "Pong",
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
