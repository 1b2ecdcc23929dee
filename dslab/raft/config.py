"""Raft's timing parameters, checked when they are made.

Raft is safe whatever the timing, but it only stays available if (§5.6)::

    broadcastTime  <<  electionTimeout  <<  MTBF

A leader must reach its followers (one heartbeat, ``heartbeat_interval_ms`` apart, plus a network
delay) well before any of them gives up waiting (after an election timeout drawn uniformly from
``[election_timeout_min_ms, election_timeout_max_ms]``, a fresh draw each time, §5.2). The defaults
are the paper's: election timeouts of 150-300 ms, and heartbeats every 50 ms on a network whose
delays are a few ms.

``max_entries_per_append`` caps how many entries one AppendEntries carries (a follower far
behind catches up in several round trips instead of one huge message).
"""

from __future__ import annotations

from dataclasses import dataclass

from dslab._validate import check_number


@dataclass(frozen=True)
class RaftConfig:
    """Timing of one Raft cluster, in milliseconds of each node's local clock."""

    election_timeout_min_ms: float = 150.0
    election_timeout_max_ms: float = 300.0
    heartbeat_interval_ms: float = 50.0
    max_entries_per_append: int = 100

    def __post_init__(self) -> None:
        for name in ("election_timeout_min_ms", "election_timeout_max_ms", "heartbeat_interval_ms"):
            check_number(name, getattr(self, name), min=0, min_inclusive=False)
        check_number("max_entries_per_append", self.max_entries_per_append, min=1, integer=True)
        lo, hi = self.election_timeout_min_ms, self.election_timeout_max_ms
        if lo > hi:
            raise ValueError(
                f"election_timeout_min_ms={lo!r} is greater than election_timeout_max_ms={hi!r}; "
                "the election timeout is drawn from [min, max], so min must be <= max"
            )
        if self.heartbeat_interval_ms >= lo:
            raise ValueError(
                f"heartbeat_interval_ms={self.heartbeat_interval_ms!r} must be less than "
                f"election_timeout_min_ms={lo!r}: followers would time out between heartbeats "
                "(Raft needs broadcastTime << electionTimeout, §5.6)"
            )
