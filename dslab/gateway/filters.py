"""The filter chain (过滤器链): pre-filters that may stop a request before it is forwarded.

Rules
-----
- Filters run in the configured order; the first one that answers ends the chain, and the
  request is never forwarded (a *definite* failure: the backend did no work).
- ``auth``: the request's ``token`` header must be one of the gateway's tokens, else **401**
  (安全认证).
- ``validate``: every parameter the route requires must be present and non-empty, else **400**
  (参数校验).
- ``rate_limit``: the gateway's limiter must admit the request, else **429** (流量控制).
- ``log``: counts the request per route (日志 / 监控); it never stops anything.
- Order matters: authenticate before rate limiting, and an unauthenticated flood cannot use up
  the paying users' quota (tests check this).

Map to the notes: Spring Cloud Gateway's "Pre-Filters" (参数校验、权限校验、流量监控、日志输出)
and Zuul's filters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from dslab.gateway.limiters import RateLimiter
from dslab.gateway.messages import ApiRequest
from dslab.gateway.routing import Route

FILTERS = ("log", "auth", "validate", "rate_limit")


class FilterChain:
    """Pre-filters in ``order``; ``run(now_ms, request, route)`` returns ``None`` (go on) or
    ``(status, reason)``."""

    def __init__(
        self,
        order: Iterable[str] = FILTERS,
        *,
        tokens: Iterable[str] = (),
        limiter: RateLimiter | None = None,
    ) -> None:
        order = tuple(order)
        for i, name in enumerate(order):
            if name not in FILTERS:
                raise ValueError(
                    f"order[{i}]={name!r} is not a filter; choose from {list(FILTERS)}")
        if len(set(order)) != len(order):
            raise ValueError(f"order={list(order)} names a filter twice")
        if limiter is not None and not isinstance(limiter, RateLimiter):
            raise TypeError(f"limiter={limiter!r} must be a dslab.gateway.limiters.RateLimiter")
        self.order = order
        self.tokens = frozenset(tokens)
        self.limiter = limiter
        self.requests_by_route: Counter[str] = Counter()
        self.trace: list[str] = []  # names of the filters run, in order (for tests and teaching)

    def run(self, now_ms: float, request: ApiRequest, route: Route) -> tuple[int, str] | None:
        for name in self.order:
            self.trace.append(name)
            verdict = getattr(self, "_" + name)(now_ms, request, route)
            if verdict is not None:
                return verdict
        return None

    def _log(self, now_ms: float, request: ApiRequest, route: Route) -> None:
        self.requests_by_route[route.prefix] += 1
        return None

    def _auth(self, now_ms: float, request: ApiRequest, route: Route) -> tuple[int, str] | None:
        if request.header("token") not in self.tokens:
            return 401, "unauthorized"
        return None

    def _validate(self, now_ms: float, request: ApiRequest, route: Route
                  ) -> tuple[int, str] | None:
        for name in route.required_params:
            if not request.param(name):
                return 400, f"missing parameter {name!r}"
        return None

    def _rate_limit(self, now_ms: float, request: ApiRequest, route: Route
                    ) -> tuple[int, str] | None:
        if self.limiter is not None and not self.limiter.allow(now_ms):
            return 429, "rate limited"
        return None
