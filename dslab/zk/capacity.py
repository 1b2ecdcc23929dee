"""A server's capacity: each ZooKeeper server handles one message at a time, with a service time.

Without it every server of the model is infinitely fast, and throughput would grow with the number
of clients forever. With a :class:`ServiceTimes` in :class:`~dslab.zk.server.ZkConfig`, a server
puts every message it receives in one FIFO queue and handles them one after another, each taking
the service time of its kind (:meth:`ServiceTimes.cost`). So throughput saturates, and *where* the
work lands decides how it scales (Hunt et al. 2010, §5.1):

- a read costs ``read_ms`` at the server the client is connected to, and nowhere else;
- a write costs ``request_ms`` at the client's server, ``propose_ms`` at the leader (ordering it,
  logging it), ``log_ms`` at every follower (logging the proposal before its ack), ``ack_ms`` at
  the leader for *each* follower's ack, and ``apply_ms`` everywhere for the commit (an observer's
  INFORM costs ``log_ms + apply_ms``: it logs and applies the committed transaction).

The leader's share of a write grows with the number of voting servers (one ack each): that is
why writes get slower as voters are added, while reads, served locally, scale with the servers.
Observers receive committed transactions without acking them, so they add read capacity and cost
the leader nothing per write in this model (sending is free here; only receiving costs).

Messages of the election and heartbeats cost ``other_ms`` (0 by default) but still wait their turn
in the queue, so a message is never handled before one that arrived earlier on the same link.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslab._validate import check_number
from dslab.core import Request
from dslab.zk.messages import READ_OPS, Ack, Commit, Forward, Inform, Proposal


@dataclass(frozen=True)
class ServiceTimes:
    """Service times in ms of a server's local clock (see the module docstring)."""

    read_ms: float = 1.0
    request_ms: float = 1.0
    propose_ms: float = 2.0
    log_ms: float = 2.0
    ack_ms: float = 0.5
    apply_ms: float = 0.2
    other_ms: float = 0.0

    def __post_init__(self) -> None:
        for name in ("read_ms", "request_ms", "propose_ms", "log_ms", "ack_ms", "apply_ms",
                     "other_ms"):
            check_number(name, getattr(self, name), min=0, max=10_000)

    def cost(self, msg: Any) -> float:
        """How long handling ``msg`` keeps the server busy."""
        if isinstance(msg, Request):
            return self.read_ms if isinstance(msg.body, READ_OPS) else self.request_ms
        if isinstance(msg, Forward):
            return self.propose_ms
        if isinstance(msg, Proposal):
            return self.log_ms
        if isinstance(msg, Ack):
            return self.ack_ms
        if isinstance(msg, Commit):
            return self.apply_ms
        if isinstance(msg, Inform):
            return self.log_ms + self.apply_ms
        return self.other_ms


__all__ = ["ServiceTimes"]
