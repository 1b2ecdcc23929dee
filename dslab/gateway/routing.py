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

Map to the notes: "路由判断 ... 看下符合哪个路由规则，这个路由映射后端的某个服务" (Spring
Cloud Gateway's Handler Mapping).
"""

from __future__ import annotations

from dataclasses import dataclass

from dslab._validate import check_number, check_type


@dataclass(frozen=True)
class Route:
    prefix: str
    service: str
    required_params: tuple[str, ...] = ()
    cache_ttl_ms: float = 0.0

    def __post_init__(self) -> None:
        check_type("prefix", self.prefix, str)
        if not self.prefix.startswith("/"):
            raise ValueError(f"prefix={self.prefix!r} must start with '/'")
        check_type("service", self.service, str)
        object.__setattr__(self, "required_params", tuple(self.required_params))
        check_number("cache_ttl_ms", self.cache_ttl_ms, min=0)

    def matches(self, path: str) -> bool:
        p = self.prefix.rstrip("/")
        return p == "" or path == p or path.startswith(p + "/")


class RouteTable:
    """``match(path)`` returns the route with the longest matching prefix, or None."""

    def __init__(self, routes: list[Route] | tuple[Route, ...]) -> None:
        routes = list(routes)
        for i, r in enumerate(routes):
            check_type(f"routes[{i}]", r, Route)
        prefixes = [r.prefix for r in routes]
        dup = sorted({p for p in prefixes if prefixes.count(p) > 1})
        if dup:
            raise ValueError(f"routes has duplicate prefixes {dup}")
        # longest prefix first; ties impossible (no duplicates)
        self.routes = sorted(routes, key=lambda r: (-len(r.prefix.rstrip("/")), r.prefix))

    def match(self, path: str) -> Route | None:
        for r in self.routes:
            if r.matches(path):
                return r
        return None

    @property
    def services(self) -> list[str]:
        return sorted({r.service for r in self.routes})
