"""Circuit breaking and degradation (熔断降级): stop calling a backend that keeps failing.

The breaker of one service is a three-state machine (Nygard, *Release It!*; Hystrix):

- **closed**: calls go through; the breaker keeps the outcomes of the last ``window`` calls.
  When at least ``min_calls`` are recorded and the failure ratio reaches ``failure_ratio``, it
  **opens**.
- **open**: calls are refused at once (the gateway answers with the *fallback*, a degraded
  default response, instead of waiting for a timeout). After ``open_ms`` it becomes half-open.
- **half_open**: up to ``probes`` trial calls go through. One failure re-opens the breaker (for
  another ``open_ms``); ``probes`` successes close it with an empty window.

``allow(now_ms)`` asks whether a call may go; ``record(now_ms, ok)`` reports its outcome.
``transitions`` lists ``(time, from, to)`` for plots and tests.

Map to the notes: "熔断降级：实时监控请求的统计信息，达到配置的失败阈值后，自动熔断，返回默认值".
"""

from __future__ import annotations

from collections import deque

from dslab._validate import check_number, check_probability

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        window: int = 20,
        min_calls: int = 10,
        failure_ratio: float = 0.5,
        open_ms: float = 1000.0,
        probes: int = 1,
    ) -> None:
        self.window = check_number("window", window, min=1, integer=True)
        self.min_calls = check_number("min_calls", min_calls, min=1, max=window, integer=True)
        self.failure_ratio = check_probability("failure_ratio", failure_ratio)
        if self.failure_ratio == 0:
            raise ValueError("failure_ratio=0 is not allowed; it must be in (0, 1]")
        self.open_ms = check_number("open_ms", open_ms, min=0, min_inclusive=False)
        self.probes = check_number("probes", probes, min=1, integer=True)
        self.state = CLOSED
        self._outcomes: deque[bool] = deque(maxlen=window)
        self._opened_at = 0.0
        self._probes_sent = 0
        self._probes_ok = 0
        self.transitions: list[tuple[float, str, str]] = []

    def _go(self, now_ms: float, state: str) -> None:
        self.transitions.append((now_ms, self.state, state))
        self.state = state
        if state == OPEN:
            self._opened_at = now_ms
        elif state == HALF_OPEN:
            self._probes_sent = self._probes_ok = 0
        else:
            self._outcomes.clear()

    def allow(self, now_ms: float) -> bool:
        if self.state == OPEN and now_ms - self._opened_at >= self.open_ms:
            self._go(now_ms, HALF_OPEN)
        if self.state == CLOSED:
            return True
        if self.state == HALF_OPEN and self._probes_sent < self.probes:
            self._probes_sent += 1
            return True
        return False

    def record(self, now_ms: float, ok: bool) -> None:
        if self.state == HALF_OPEN:
            if not ok:
                self._go(now_ms, OPEN)
            else:
                self._probes_ok += 1
                if self._probes_ok >= self.probes:
                    self._go(now_ms, CLOSED)
            return
        if self.state == OPEN:
            return  # a late outcome of a call made before opening changes nothing
        self._outcomes.append(bool(ok))
        failures = self._outcomes.count(False)
        if len(self._outcomes) >= self.min_calls and failures >= self.failure_ratio * len(
            self._outcomes
        ):
            self._go(now_ms, OPEN)
