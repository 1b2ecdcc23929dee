"""Rate limiters (流量控制 / 限流): four small pure classes, one rule each.

Every limiter answers ``allow(now_ms) -> bool`` for one request arriving at ``now_ms`` (times must
not go backwards). None of them touches a clock or a random stream: the caller passes the time,
so each is unit-testable with a list of arrival times.

Rules
-----
- :class:`FixedWindow`: time is cut into windows ``[k*window_ms, (k+1)*window_ms)``; at most
  ``limit`` requests per window. Cheap (one counter) but a burst just before a window edge plus
  one just after it admits up to ``2 * limit`` requests within ``window_ms`` (the boundary burst).
- :class:`SlidingWindow`: at most ``limit`` admitted requests in *any* interval
  ``(now - window_ms, now]``; it keeps the admitted timestamps (a sliding log). No boundary burst.
- :class:`TokenBucket`: a bucket of ``capacity`` tokens, refilled at ``rate_per_s``; a request
  takes one token or is refused. The bucket starts full, so a burst of ``capacity`` passes at once;
  the long-run rate is ``rate_per_s``.
- :class:`LeakyBucket`: a queue of at most ``capacity`` requests drained at ``rate_per_s``; a
  request that finds the queue full is refused, the others leave at a *steady* pace
  (``departure_ms`` says when the last admitted one leaves). It smooths bursts instead of
  passing them.

Map to the notes: "流量控制：对请求的流量进行控制，也就是限制某一时刻内的请求数" (gateway
features), and the server-side "服务限流" filter of the RPC framework section.
"""

from __future__ import annotations

import math
from collections import deque

from dslab._validate import check_number


class RateLimiter:
    """Base class: ``allow(now_ms)`` admits (True) or refuses (False) one request."""

    name = "limiter"

    def __init__(self) -> None:
        self._last = -math.inf

    def _tick(self, now_ms: float) -> float:
        check_number("now_ms", now_ms)
        if now_ms < self._last:
            raise ValueError(f"now_ms={now_ms!r} goes backwards (last call at {self._last!r})")
        self._last = now_ms
        return float(now_ms)

    def allow(self, now_ms: float) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


class FixedWindow(RateLimiter):
    """At most ``limit`` requests per fixed window of ``window_ms`` (固定窗口计数器)."""

    name = "fixed window"

    def __init__(self, limit: int, window_ms: float) -> None:
        super().__init__()
        self.limit = check_number("limit", limit, min=1, integer=True)
        self.window_ms = check_number("window_ms", window_ms, min=0, min_inclusive=False)
        self._window = -1
        self._count = 0

    def allow(self, now_ms: float) -> bool:
        now_ms = self._tick(now_ms)
        window = int(now_ms // self.window_ms)
        if window != self._window:  # a new window: the counter starts again from zero
            self._window, self._count = window, 0
        if self._count < self.limit:
            self._count += 1
            return True
        return False


class SlidingWindow(RateLimiter):
    """At most ``limit`` admitted requests in any ``window_ms`` (a sliding log, 滑动窗口)."""

    name = "sliding window"

    def __init__(self, limit: int, window_ms: float) -> None:
        super().__init__()
        self.limit = check_number("limit", limit, min=1, integer=True)
        self.window_ms = check_number("window_ms", window_ms, min=0, min_inclusive=False)
        self._admitted: deque[float] = deque()

    def allow(self, now_ms: float) -> bool:
        now_ms = self._tick(now_ms)
        # SOLUTION: forget the admitted times that fell out of the window (now - window_ms, now],
        # then admit (and remember now_ms) only if fewer than limit remain.
        while self._admitted and self._admitted[0] <= now_ms - self.window_ms:
            self._admitted.popleft()  # fell out of the window (now - window_ms, now]
        if len(self._admitted) < self.limit:
            self._admitted.append(now_ms)
            return True
        return False
        # END SOLUTION


class TokenBucket(RateLimiter):
    """``capacity`` tokens, refilled at ``rate_per_s``; each request takes one (令牌桶)."""

    name = "token bucket"

    def __init__(self, capacity: int, rate_per_s: float) -> None:
        super().__init__()
        self.capacity = check_number("capacity", capacity, min=1, integer=True)
        self.rate_per_s = check_number("rate_per_s", rate_per_s, min=0, min_inclusive=False)
        self.tokens = float(capacity)  # starts full: a burst of `capacity` passes at once
        self._refilled_at: float | None = None

    def allow(self, now_ms: float) -> bool:
        now_ms = self._tick(now_ms)
        # SOLUTION: refill the bucket for the time since the last call (rate_per_s tokens per
        # second, never above capacity), then take one token if there is one.
        if self._refilled_at is not None:
            elapsed_s = (now_ms - self._refilled_at) / 1000.0
            self.tokens = min(self.capacity, self.tokens + elapsed_s * self.rate_per_s)
        self._refilled_at = now_ms
        if self.tokens >= 1.0 - 1e-9:
            self.tokens -= 1.0
            return True
        return False
        # END SOLUTION


class LeakyBucket(RateLimiter):
    """A queue of ``capacity`` requests that leaks at ``rate_per_s`` (漏桶): smooths bursts."""

    name = "leaky bucket"

    def __init__(self, capacity: int, rate_per_s: float) -> None:
        super().__init__()
        self.capacity = check_number("capacity", capacity, min=1, integer=True)
        self.rate_per_s = check_number("rate_per_s", rate_per_s, min=0, min_inclusive=False)
        self.departure_ms = -math.inf  # when the last admitted request leaves the bucket
        self._queue: deque[float] = deque()  # departure times of the requests still inside

    def allow(self, now_ms: float) -> bool:
        now_ms = self._tick(now_ms)
        while self._queue and self._queue[0] < now_ms:
            self._queue.popleft()  # already leaked out (one leaving right now still counts)
        if len(self._queue) >= self.capacity:
            return False
        gap_ms = 1000.0 / self.rate_per_s
        self.departure_ms = max(now_ms, self.departure_ms + gap_ms)
        self._queue.append(self.departure_ms)
        return True


def make_limiter(kind: str, limit: int, window_ms: float) -> RateLimiter:
    """One of the four limiters, tuned to the same average rate of ``limit`` per ``window_ms``.

    Buckets get ``capacity = limit`` and ``rate_per_s = limit * 1000 / window_ms``.
    """
    kinds = ("fixed", "sliding", "token", "leaky")
    if kind not in kinds:
        raise ValueError(f"kind={kind!r} is not allowed; choose one of {list(kinds)}")
    check_number("limit", limit, min=1, integer=True)
    check_number("window_ms", window_ms, min=0, min_inclusive=False)
    rate = limit * 1000.0 / window_ms
    if kind == "fixed":
        return FixedWindow(limit, window_ms)
    if kind == "sliding":
        return SlidingWindow(limit, window_ms)
    if kind == "token":
        return TokenBucket(limit, rate)
    return LeakyBucket(limit, rate)
