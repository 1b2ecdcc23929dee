"""A node's local clock: true time seen through an offset, a drift rate and jumps.

``local(t) = base_local + (t - base_true) * (1 + drift)``, re-based whenever the drift changes, so
changing the drift never makes the clock jump. ``jump(delta)`` moves it by ``delta`` ms at once
(negative: the clock goes backwards, as after an NTP step -- the case that breaks Snowflake).
Timers are set in local time: with drift ``d``, a local delay of ``x`` ms takes ``x / (1 + d)``
true ms, so a fast clock makes a lease expire early and a slow one late.
"""

from __future__ import annotations

from dslab._validate import check_number


class LocalClock:
    def __init__(self, offset_ms: float = 0.0, drift: float = 0.0) -> None:
        check_number("offset_ms", offset_ms)
        check_number("drift", drift, min=-0.5, max=0.5)
        self._base_true = 0.0
        self._base_local = float(offset_ms)
        self.drift = float(drift)

    def read(self, true_ms: float) -> float:
        return self._base_local + (true_ms - self._base_true) * (1.0 + self.drift)

    def set_drift(self, true_ms: float, drift: float) -> None:
        check_number("drift", drift, min=-0.5, max=0.5)
        self._base_local = self.read(true_ms)
        self._base_true = true_ms
        self.drift = float(drift)

    def jump(self, true_ms: float, delta_ms: float) -> None:
        check_number("delta_ms", delta_ms)
        self._base_local = self.read(true_ms) + delta_ms
        self._base_true = true_ms

    def set_offset(self, true_ms: float, offset_ms: float) -> None:
        """Make the clock read ``true + offset_ms`` now (drift kept)."""
        check_number("offset_ms", offset_ms)
        self._base_local = true_ms + offset_ms
        self._base_true = true_ms

    def true_delay(self, local_delay_ms: float) -> float:
        """True ms that elapse while this clock advances ``local_delay_ms``."""
        return local_delay_ms / (1.0 + self.drift)

    def __repr__(self) -> str:
        return f"LocalClock(offset_at_0={self.read(0.0):.3f}ms, drift={self.drift})"
