"""Bounded pools: the client's connection pool (连接池) and its reply thread pool (线程池).

Rules:

- A pool has ``size`` slots. ``acquire`` takes a free slot at once, or waits in FIFO order; with
  ``timeout_ms`` it gives up after that long and returns ``False`` (Pigeon's "get a connection,
  with a timeout"). ``release`` hands the slot to the oldest waiter, or frees it.
- :class:`ConnectionPool` keeps one bounded pool per server. A connection is held for the whole
  round trip of one call (one outstanding request per connection, like HTTP/1.1; Netty can
  multiplex, which this model leaves out).
- :class:`ThreadPool` is the pool of threads that wake the waiting caller when a reply arrives
  (ResponseThreadPoolProcessor in the notes); each wake-up costs ``dispatch_ms``.

Pools run inside SimPy processes but use only the environment the ``Sim`` owns (no SimPy import).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any

from dslab._validate import check_number


class BoundedPool:
    """``size`` slots with a FIFO queue of waiters."""

    def __init__(self, env: Any, size: int, name: str = "pool") -> None:
        check_number("size", size, min=1, integer=True)
        self.env = env
        self.size = size
        self.name = name
        self.busy = 0
        self.waiters: deque[Any] = deque()
        self.max_waiting = 0
        self.timeouts = 0

    def __repr__(self) -> str:
        return (
            f"BoundedPool({self.name!r}, busy={self.busy}/{self.size}, waiting={len(self.waiters)})"
        )

    def acquire(self, timeout_ms: float | None = None) -> Generator[Any, Any, bool]:
        """Take a slot (``yield from pool.acquire()``); ``False`` if ``timeout_ms`` passed first."""
        if self.busy < self.size:
            self.busy += 1
            return True
        ev = self.env.event()
        self.waiters.append(ev)
        self.max_waiting = max(self.max_waiting, len(self.waiters))
        if timeout_ms is None:
            yield ev
            return True
        yield self.env.any_of([ev, self.env.timeout(timeout_ms)])
        if ev.triggered:
            return True
        self.waiters.remove(ev)
        self.timeouts += 1
        return False

    def release(self) -> None:
        if self.busy <= 0:
            raise RuntimeError(f"release() on {self!r} with no slot taken")
        if self.waiters:
            self.waiters.popleft().succeed()  # the slot passes straight to the oldest waiter
        else:
            self.busy -= 1


class ConnectionPool:
    """At most ``per_server`` connections to each server; callers wait for a free one."""

    def __init__(self, env: Any, per_server: int, acquire_timeout_ms: float | None = None) -> None:
        check_number("per_server", per_server, min=1, integer=True)
        if acquire_timeout_ms is not None:
            check_number("acquire_timeout_ms", acquire_timeout_ms, min=0, min_inclusive=False)
        self.env = env
        self.per_server = per_server
        self.acquire_timeout_ms = acquire_timeout_ms
        self.pools: dict[str, BoundedPool] = {}

    def pool(self, server: str) -> BoundedPool:
        if server not in self.pools:
            self.pools[server] = BoundedPool(self.env, self.per_server, f"conn/{server}")
        return self.pools[server]

    def acquire(self, server: str) -> Generator[Any, Any, bool]:
        return self.pool(server).acquire(self.acquire_timeout_ms)

    def release(self, server: str) -> None:
        self.pool(server).release()


class ThreadPool(BoundedPool):
    """The client threads that deliver replies to callers; each delivery takes ``dispatch_ms``."""

    def __init__(self, env: Any, size: int, dispatch_ms: float = 0.02) -> None:
        super().__init__(env, size, "client-threads")
        self.dispatch_ms = check_number("dispatch_ms", dispatch_ms, min=0)

    def dispatch(self, extra_ms: float = 0.0) -> Generator[Any, Any, None]:
        """Wait for a thread, spend ``dispatch_ms + extra_ms`` on it, release it."""
        yield from self.acquire()
        yield self.env.timeout(self.dispatch_ms + extra_ms)
        self.release()
