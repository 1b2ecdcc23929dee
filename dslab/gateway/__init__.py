"""An API gateway (API 网关) on the simulated network: request forwarding + request filtering.

One concept per module:

- :mod:`~dslab.gateway.routing`: route table, order then longest prefix wins (请求转发);
- :mod:`~dslab.gateway.predicates`: route predicates (断言) beyond the path: method, header, query,
  host, time window, weight;
- :mod:`~dslab.gateway.filters`: the pre-filter chain: log, auth 401, validate 400, rate limit 429;
- :mod:`~dslab.gateway.ordered`: global and route filters merged by order number, pre halves in
  order and post halves in reverse (Spring Cloud Gateway's GlobalFilter / GatewayFilter);
- :mod:`~dslab.gateway.limiters`: fixed window, sliding window, token bucket, leaky bucket (限流);
- :mod:`~dslab.gateway.balancing`: load balancing and gray (canary) release (负载均衡, 灰度发布);
- :mod:`~dslab.gateway.breaker`: the circuit breaker :class:`GatewayBreaker`, fallback (熔断降级);
- :mod:`~dslab.gateway.cache`: the response cache with a ttl (响应缓存);
- :mod:`~dslab.gateway.node`: the :class:`Gateway` handler (routes may follow the service
  registry) and the :class:`Backend` instances;
- :mod:`~dslab.gateway.scenarios` (runs, returning Results; ``build(sim, n, node_cls)`` adds the
  gateway), :mod:`~dslab.gateway.analysis` (pure functions of their frames), and
  :mod:`~dslab.gateway.experiments` (the facade the chapter imports), :mod:`~dslab.gateway.plots`,
  :mod:`~dslab.gateway.widgets`; the same split in ``scg_scenarios`` / ``scg_analysis`` /
  ``scg_experiments`` and :mod:`~dslab.gateway.scg_plots` for predicates, ordered filters and
  registry-driven routes.
"""

from dslab.gateway.balancing import Balancer, CanaryRule
from dslab.gateway.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, GatewayBreaker
from dslab.gateway.cache import TtlCache
from dslab.gateway.filters import FILTERS, FilterChain
from dslab.gateway.limiters import (
    FixedWindow,
    LeakyBucket,
    RateLimiter,
    SlidingWindow,
    TokenBucket,
    make_limiter,
)
from dslab.gateway.messages import ApiReply, ApiRequest, BackendCall, BackendReply, api
from dslab.gateway.node import Backend, Gateway, GatewayConfig
from dslab.gateway.routing import Route, RouteTable

__all__ = [
    "CLOSED",
    "FILTERS",
    "HALF_OPEN",
    "OPEN",
    "ApiReply",
    "ApiRequest",
    "Backend",
    "BackendCall",
    "BackendReply",
    "Balancer",
    "CanaryRule",
    "CircuitBreaker",
    "GatewayBreaker",
    "FilterChain",
    "FixedWindow",
    "Gateway",
    "GatewayConfig",
    "LeakyBucket",
    "RateLimiter",
    "Route",
    "RouteTable",
    "SlidingWindow",
    "TokenBucket",
    "TtlCache",
    "api",
    "make_limiter",
]
