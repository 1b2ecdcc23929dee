"""Slow-request isolation (慢请求隔离): Pigeon moves a method that keeps timing out to a slow pool.

Rules (the notes' 执行过程, step 7; statistics and isolation are per **method**):

1. Time is cut into windows of ``window_ms``. In each window the server counts, per method, the
   requests that arrived and the **timeouts**: requests that ran on a worker for longer than
   ``timeout_ms``, counted when they finish, and requests *still running* past ``timeout_ms``
   when the window closes (at most once per window each: a request stuck for several windows is
   evidence in each of them). Time spent *waiting* in the queue does not count: a request stuck
   behind slow ones is their victim, not a cause, and must not be isolated with them.
2. At the end of a window, a method with at least ``max_timeouts`` timeouts (Pigeon: 300) **or**
   a timeout ratio of at least ``max_timeout_ratio`` (Pigeon: 5%) is **isolated**: its later
   requests go to the *slow* pool, so they can no longer take the shared pool's threads.
   ``min_requests`` keeps a window with a handful of requests from isolating a method on noise.
3. An isolated method goes back to the shared pool at the end of the first window in which it is
   healthy again: fewer timeouts than ``max_timeouts`` *and* a ratio below ``max_timeout_ratio``
   (whatever the number of requests: a quiet window with timeouts is not healthy).
   (The notes write "or" for the way back; with "or" a method with 301 timeouts out of 100000
   requests would be both slow and healthy, so this module reads it as the negation of rule 2.)

:class:`SlowRequestIsolation` is pure bookkeeping (no clock, no I/O); :class:`~dslab.rpc.RpcServer`
feeds it and asks :meth:`~SlowRequestIsolation.is_isolated` when it picks a pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dslab._validate import check_number, check_probability


@dataclass
class WindowCount:
    requests: int = 0
    timeouts: int = 0


@dataclass
class SlowRequestIsolation:
    timeout_ms: float
    window_ms: float = 1000.0
    max_timeouts: int = 300
    max_timeout_ratio: float = 0.05
    min_requests: int = 10
    counts: dict[str, WindowCount] = field(default_factory=dict, init=False)
    isolated: set[str] = field(default_factory=set, init=False)
    #: ``(window end, method, "slow" or "shared")`` for every move
    transitions: list[tuple[float, str, str]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        check_number("timeout_ms", self.timeout_ms, min=0, min_inclusive=False)
        check_number("window_ms", self.window_ms, min=0, min_inclusive=False)
        check_number("max_timeouts", self.max_timeouts, min=1, integer=True)
        check_probability("max_timeout_ratio", self.max_timeout_ratio)
        check_number("min_requests", self.min_requests, min=0, integer=True)

    def is_isolated(self, method: str) -> bool:
        return method in self.isolated

    def arrive(self, method: str) -> None:
        """A request of ``method`` arrived."""
        self.counts.setdefault(method, WindowCount()).requests += 1

    def record(self, method: str, running_ms: float) -> bool:
        """A request of ``method`` ran for ``running_ms``; returns whether that was a timeout."""
        timed_out = running_ms > self.timeout_ms
        if timed_out:
            self.counts.setdefault(method, WindowCount()).timeouts += 1
        return timed_out

    def is_slow(self, c: WindowCount, isolated: bool = False) -> bool:
        """Rule 2 (or, for an ``isolated`` method, the negation of rule 3)."""
        if c.timeouts >= self.max_timeouts:
            return True
        if c.timeouts == 0 or (not isolated and c.requests < self.min_requests):
            return False
        return c.timeouts / max(c.requests, 1) >= self.max_timeout_ratio

    def end_window(self, now: float) -> list[tuple[str, str]]:
        """Close the window: apply rules 2 and 3, reset the counts, return the moves made."""
        moves = []
        for m in sorted(set(self.counts) | self.isolated):
            slow = self.is_slow(self.counts.get(m, WindowCount()), m in self.isolated)
            if slow and m not in self.isolated:
                self.isolated.add(m)
                moves.append((m, "slow"))
            elif not slow and m in self.isolated:
                self.isolated.discard(m)
                moves.append((m, "shared"))
        self.transitions += [(now, m, to) for m, to in moves]
        self.counts = {}
        return moves


__all__ = ["SlowRequestIsolation", "WindowCount"]
