"""Request forwarding (请求转发): a route table from path prefixes to services.

Rules
-----
- A route maps a path prefix (``/orders``) to a service name. A prefix matches a path equal to
  it or continuing with ``/`` (``/orders`` matches ``/orders`` and ``/orders/7``, not
  ``/ordersx``); ``/`` matches everything.
- The **longest** matching prefix wins (``/orders/admin`` before ``/orders``), whatever the order
  of the table, as Spring Cloud Gateway's predicates do when given explicit precedence.
- No match: the gateway answers 404 without calling anything.
- A route may list the query ``params`` a request must carry (checked by the validation filter)
  and whether its answers may be cached (``cache_ttl_ms``).
- Beyond the path, a route may carry more **predicates** (:mod:`~dslab.gateway.predicates`:
  method, header, query parameter, host, time window, weight): :meth:`RouteTable.select` picks
  the first route, by ``order`` (lower first, as Spring Cloud Gateway's ``order``) then longest
  prefix, whose prefix **and** every predicate hold. ``match(path)`` looks at the prefix only.
- A route may carry its own **route filters** (``filters``, :mod:`~dslab.gateway.ordered`), which
  run only for requests on that route; global filters run for every route.
- Routes are named by ``id`` (default: the prefix); two routes may share a prefix (say a
  weighted ``v1`` / ``v2`` pair) if their ids differ.

Map to the notes: "路由判断 ... 看下符合哪个路由规则，这个路由映射后端的某个服务" (Spring
Cloud Gateway's Handler Mapping).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from dslab._validate import check_number, check_type
from dslab.gateway.messages import ApiRequest
from dslab.gateway.predicates import Predicate, Weight


@dataclass(frozen=True)
class Route:
    prefix: str
    service: str
    required_params: tuple[str, ...] = ()
    cache_ttl_ms: float = 0.0
    predicates: tuple[Predicate, ...] = ()
    filters: tuple[Any, ...] = ()  # GatewayFilter instances (dslab.gateway.ordered)
    order: int = 0
    id: str = ""

    def __post_init__(self) -> None:
        check_type("prefix", self.prefix, str)
        if not self.prefix.startswith("/"):
            raise ValueError(f"prefix={self.prefix!r} must start with '/'")
        check_type("service", self.service, str)
        object.__setattr__(self, "required_params", tuple(self.required_params))
        check_number("cache_ttl_ms", self.cache_ttl_ms, min=0)
        object.__setattr__(self, "predicates", tuple(self.predicates))
        for i, p in enumerate(self.predicates):
            check_type(f"predicates[{i}]", p, Predicate)
        if sum(isinstance(p, Weight) for p in self.predicates) > 1:
            raise ValueError(f"route {self.prefix!r} has more than one Weight predicate")
        object.__setattr__(self, "filters", tuple(self.filters))
        from dslab.gateway.ordered import GatewayFilter  # ordered imports this module

        for i, f in enumerate(self.filters):
            check_type(f"filters[{i}]", f, GatewayFilter)
        check_number("order", self.order, integer=True)
        check_type("id", self.id, str)
        if not self.id:
            object.__setattr__(self, "id", self.prefix)

    @property
    def weight(self) -> Weight | None:
        return next((p for p in self.predicates if isinstance(p, Weight)), None)

    def matches(self, path: str) -> bool:
        p = self.prefix.rstrip("/")
        return p == "" or path == p or path.startswith(p + "/")


class RouteTable:
    """``match(path)`` returns the route with the longest matching prefix, or None."""

    def __init__(self, routes: list[Route] | tuple[Route, ...]) -> None:
        routes = list(routes)
        for i, r in enumerate(routes):
            check_type(f"routes[{i}]", r, Route)
        ids = [r.id for r in routes]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"routes has duplicate prefixes {dup} without distinct ids; give "
                             f"routes that share a prefix different id=")
        # order first, then the longest prefix; ties broken by id (ids are unique)
        self.routes = sorted(routes, key=lambda r: (r.order, -len(r.prefix.rstrip("/")),
                                                    r.prefix, r.id))
        self.groups: dict[str, list[tuple[str, int]]] = {}
        for r in sorted(routes, key=lambda r: r.id):
            w = r.weight
            if w is not None:
                self.groups.setdefault(w.group, []).append((r.id, w.weight))

    def match(self, path: str) -> Route | None:
        """The route of ``path`` by prefix alone (other predicates ignored)."""
        for r in self.routes:
            if r.matches(path):
                return r
        return None

    def draw_weights(self, rng: random.Random) -> dict[str, str]:
        """For each weight group (sorted), the id of the route this request is counted in: one
        uniform draw per group, then the cumulative weights over the group's routes by id."""
        chosen = {}
        for group in sorted(self.groups):
            members = self.groups[group]
            x = rng.random() * sum(w for _, w in members)
            for rid, w in members:
                chosen[group] = rid
                if x < w:
                    break
                x -= w
        return chosen

    def select(self, request: ApiRequest, now_ms: float, rng: random.Random | None = None
               ) -> Route | None:
        """The first route (by order, then longest prefix) whose prefix and predicates all hold.
        ``rng`` is needed (and drawn from) only when some route has a Weight predicate."""
        chosen: dict[str, str] = {}
        if self.groups:
            if rng is None:
                raise ValueError("rng=None: routes with Weight predicates need a random stream")
            chosen = self.draw_weights(rng)
        for r in self.routes:
            if not r.matches(request.path):
                continue
            if all(chosen.get(p.group) == r.id if isinstance(p, Weight)
                   else p.matches(request, now_ms) for p in r.predicates):
                return r
        return None

    @property
    def services(self) -> list[str]:
        return sorted({r.service for r in self.routes})
