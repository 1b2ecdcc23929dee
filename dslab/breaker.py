"""The circuit breaker (熔断, Nygard, "Release It!", 2007): stop calling a dependency that fails.

One state machine, shared by the RPC client's breaker filter (:mod:`dslab.rpc.filters`) and the
API gateway's per-service breakers (:mod:`dslab.gateway.breaker`).

Rules (a pure state machine: the caller passes the time in; no simulator needed):

- **closed**: calls go through; the outcomes of the last ``window`` calls are kept. When at least
  ``min_calls`` are known and the share of failures reaches ``failure_ratio``, the breaker
  **opens**.
- **open**: every call fails at once, *definitely* (``circuit_open``: nothing was sent), for
  ``open_ms``. The failing dependency gets time to recover and the caller stops waiting on it.
- **half-open**: after ``open_ms`` the breaker lets ``probes`` trial calls through. If they all
  succeed it **closes** (with a fresh window); one failure **opens** it again.

``transitions`` records ``(time, from_state, to_state)`` for plots and tests.
"""

from __future__ import annotations

from collections import deque

from dslab._validate import check_number

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        window: int = 20,
        min_calls: int = 10,
        failure_ratio: float = 0.5,
        open_ms: float = 200.0,
        probes: int = 3,
    ) -> None:
        self.window = check_number("window", window, min=1, integer=True)
        self.min_calls = check_number("min_calls", min_calls, min=1, max=window, integer=True)
        self.failure_ratio = check_number(
            "failure_ratio", failure_ratio, min=0, max=1, min_inclusive=False
        )
        self.open_ms = check_number("open_ms", open_ms, min=0, min_inclusive=False)
        self.probes = check_number("probes", probes, min=1, integer=True)
        self.state = CLOSED
        self.outcomes: deque[bool] = deque(maxlen=window)
        self.opened_at = 0.0
        self.probes_sent = 0
        self.probes_ok = 0
        self.transitions: list[tuple[float, str, str]] = []

    def __repr__(self) -> str:
        fails = self.outcomes.count(False)
        return f"CircuitBreaker({self.state}, failures={fails}/{len(self.outcomes)})"

    def _go(self, now: float, state: str) -> None:
        self.transitions.append((now, self.state, state))
        self.state = state
        if state == OPEN:
            self.opened_at = now
        elif state == HALF_OPEN:
            self.probes_sent = self.probes_ok = 0
        else:
            self.outcomes.clear()

    def allow(self, now: float) -> bool:
        """May a call go through at time ``now``? (Counts a half-open probe when it says yes.)"""
        if self.state == OPEN and now - self.opened_at >= self.open_ms:
            self._go(now, HALF_OPEN)
        if self.state == CLOSED:
            return True
        if self.state == HALF_OPEN and self.probes_sent < self.probes:
            self.probes_sent += 1
            return True
        return False

    def record(self, now: float, success: bool) -> None:
        """Report the outcome of a call that ``allow`` let through."""
        if self.state == HALF_OPEN:
            if not success:
                self._go(now, OPEN)
                return
            self.probes_ok += 1
            if self.probes_ok >= self.probes:
                self._go(now, CLOSED)
            return
        if self.state == OPEN:
            return  # a late outcome of a call sent before the breaker opened
        self.outcomes.append(success)
        failures = self.outcomes.count(False)
        if (
            len(self.outcomes) >= self.min_calls
            and failures / len(self.outcomes) >= self.failure_ratio
        ):
            self._go(now, OPEN)
