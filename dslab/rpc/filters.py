"""Client filters (客户端Filter): a chain of responsibility around every call.

Rules:

- A filter is an object with ``invoke(client, call, proceed)``, a generator that returns an
  :class:`~dslab.sim.RpcResult`. It may change the call, call ``yield from proceed(call)`` zero,
  one or several times, and change the result. Filters run in list order on the way out, and in
  reverse order on the way back; the last ``proceed`` is the transport (serialize, take a
  connection, send, wait, deserialize).
- Outcomes keep Jepsen's meaning: ``ok``; ``fail`` = definitely not applied (the server said no,
  or nothing was sent); ``info`` = unknown (a timeout: the server may have applied it or may
  still apply it).
- :class:`RetryFilter` retries ``info`` and ``fail(overloaded)`` only for idempotent methods,
  unless ``retry_non_idempotent=True``: then a timed-out call that did apply is applied again. Its
  optional budget allows retries only while they are at most ``budget_ratio`` of first attempts.

The filters of the notes (monitoring, routing, fault injection, auth, degradation) map here to:
routing = :class:`LoadBalanceFilter`, degradation = :class:`CircuitBreakerFilter`,
timeouts = :class:`TimeoutFilter`, retries = :class:`RetryFilter`; tracing lives in
:mod:`dslab.tracing`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import replace
from typing import Any

from dslab._validate import check_number, check_type
from dslab.breaker import CircuitBreaker
from dslab.rpc.balance import Policy, make_policy
from dslab.sim.world import RpcResult

Proceed = Callable[[Any], Generator[Any, Any, RpcResult]]

#: Definite failures that mean "the server is busy", worth retrying.
RETRYABLE_FAILS = ("overloaded", "rate_limited")


class Filter:
    """Base: pass the call through unchanged."""

    def invoke(self, client: Any, call: Any, proceed: Proceed) -> Generator[Any, Any, RpcResult]:
        return (yield from proceed(call))


class HeaderFilter(Filter):
    """Attach fixed headers (metadata such as an auth token) to every call."""

    def __init__(self, **headers: str) -> None:
        for k, v in headers.items():
            check_type(f"headers[{k!r}]", v, str)
        self.headers = tuple(sorted(headers.items()))

    def invoke(self, client: Any, call: Any, proceed: Proceed) -> Generator[Any, Any, RpcResult]:
        return (yield from proceed(replace(call, headers=call.headers + self.headers)))


class TimeoutFilter(Filter):
    """Give up waiting for a reply after ``timeout_ms`` (an ``info`` outcome)."""

    def __init__(self, timeout_ms: float) -> None:
        self.timeout_ms = check_number("timeout_ms", timeout_ms, min=0, min_inclusive=False)

    def invoke(self, client: Any, call: Any, proceed: Proceed) -> Generator[Any, Any, RpcResult]:
        return (yield from proceed(replace(call, timeout_ms=self.timeout_ms)))


class RetryFilter(Filter):
    """Retry with exponential backoff and jitter, only where it is safe (see the module rules)."""

    def __init__(
        self,
        max_attempts: int = 3,
        *,
        backoff_ms: float = 10.0,
        multiplier: float = 2.0,
        budget_ratio: float | None = None,
        retry_non_idempotent: bool = False,
    ) -> None:
        self.max_attempts = check_number("max_attempts", max_attempts, min=1, integer=True)
        self.backoff_ms = check_number("backoff_ms", backoff_ms, min=0)
        self.multiplier = check_number("multiplier", multiplier, min=1)
        if budget_ratio is not None:
            check_number("budget_ratio", budget_ratio, min=0)
        self.budget_ratio = budget_ratio
        self.retry_non_idempotent = check_type("retry_non_idempotent", retry_non_idempotent, bool)
        self.first_attempts = 0
        self.retries = 0

    def _may_retry(self, call: Any, result: RpcResult) -> bool:
        if result.type == "ok" or (result.type == "fail" and result.error not in RETRYABLE_FAILS):
            return False
        if not (call.idempotent or self.retry_non_idempotent):
            return False
        if self.budget_ratio is not None and self.retries + 1 > self.budget_ratio * max(
            self.first_attempts, 1
        ):
            return False
        return True

    def invoke(self, client: Any, call: Any, proceed: Proceed) -> Generator[Any, Any, RpcResult]:
        self.first_attempts += 1
        delay = self.backoff_ms
        for attempt in range(1, self.max_attempts + 1):
            result = yield from proceed(replace(call, attempt=attempt))
            if attempt == self.max_attempts or not self._may_retry(call, result):
                return result
            self.retries += 1
            client.retries += 1
            yield client.env.timeout(delay * (0.5 + client.rng.random()))  # jitter: 0.5x to 1.5x
            delay *= self.multiplier
        return result  # pragma: no cover - the loop always returns


class LoadBalanceFilter(Filter):
    """Choose the server for each attempt with a :mod:`dslab.rpc.balance` policy."""

    def __init__(self, policy: str | Policy = "round_robin") -> None:
        self.policy = (
            make_policy(policy) if isinstance(policy, str) else check_type("policy", policy, Policy)
        )
        self.active: dict[str, int] = {}

    def invoke(self, client: Any, call: Any, proceed: Proceed) -> Generator[Any, Any, RpcResult]:
        node = self.policy.choose(client.servers, self.active, client.rng)
        self.active[node] = self.active.get(node, 0) + 1
        try:
            return (yield from proceed(replace(call, node=node)))
        finally:
            self.active[node] -= 1


class CircuitBreakerFilter(Filter):
    """Fail fast (definitely: ``circuit_open``) while the breaker for the service is open."""

    def __init__(self, breaker: CircuitBreaker | None = None, **kwargs: Any) -> None:
        self.breaker = breaker if breaker is not None else CircuitBreaker(**kwargs)

    def invoke(self, client: Any, call: Any, proceed: Proceed) -> Generator[Any, Any, RpcResult]:
        now = client.env.now
        if not self.breaker.allow(now):
            return RpcResult("fail", None, "circuit_open", 0.0)
        result = yield from proceed(call)
        self.breaker.record(client.env.now, result.type == "ok")
        return result
