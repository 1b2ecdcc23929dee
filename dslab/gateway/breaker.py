"""Circuit breaking and degradation (熔断降级): stop calling a backend that keeps failing.

The breaker of one service is a three-state machine (Nygard, *Release It!*; Hystrix):

- **closed**: calls go through; the breaker keeps the outcomes of the last ``window`` calls.
  When at least ``min_calls`` are recorded and the failure ratio reaches ``failure_ratio``, it
  **opens**.
- **open**: calls are refused at once (the gateway answers with the *fallback*, a degraded
  default response, instead of waiting for a timeout). After ``open_ms`` it becomes half-open.
- **half_open**: up to ``probes`` trial calls go through. One failure re-opens the breaker (for
  another ``open_ms``); ``probes`` successes close it with an empty window.

The gateway's breaker is :class:`GatewayBreaker`, a subclass of
:class:`dslab.breaker.CircuitBreaker` (one state machine; the RPC chapter's client filter uses
the base class with its own defaults). The two used to share the name ``CircuitBreaker``;
``dslab.gateway.CircuitBreaker`` remains an alias of :class:`GatewayBreaker`, so the chapter's
``from dslab.gateway import CircuitBreaker`` keeps working.

``allow(now_ms)`` asks whether a call may go; ``record(now_ms, ok)`` reports its outcome.
``transitions`` lists ``(time, from, to)`` for plots and tests. The state machine is
:mod:`dslab.breaker`'s (the RPC chapter uses it too); a gateway's defaults differ: a breaker stays
open for a second and then lets one probe through at a time.

Map to the notes: "熔断降级：实时监控请求的统计信息，达到配置的失败阈值后，自动熔断，返回默认值".
"""

from __future__ import annotations

from dslab import breaker
from dslab.breaker import CLOSED, HALF_OPEN, OPEN

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "CircuitBreaker", "GatewayBreaker"]


class GatewayBreaker(breaker.CircuitBreaker):
    """:class:`dslab.breaker.CircuitBreaker` with a gateway's defaults."""

    def __init__(
        self,
        *,
        window: int = 20,
        min_calls: int = 10,
        failure_ratio: float = 0.5,
        open_ms: float = 1000.0,
        probes: int = 1,
    ) -> None:
        super().__init__(
            window=window,
            min_calls=min_calls,
            failure_ratio=failure_ratio,
            open_ms=open_ms,
            probes=probes,
        )


#: The name this class had before it was told apart from :class:`dslab.breaker.CircuitBreaker`;
#: kept because the gateway chapter imports it.
CircuitBreaker = GatewayBreaker
