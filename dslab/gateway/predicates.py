"""Route predicates (断言, Predicate): conditions on a request that choose its route.

Spring Cloud Gateway's Handler Mapping tests each route's predicates against the request; the
route wins only if **all** of them hold (the path prefix of :class:`~dslab.gateway.routing.Route`
is one more predicate). Beyond the path, this module has:

- :class:`Method`: the HTTP method is one of ``methods`` (``Method("POST")``);
- :class:`Header`: header ``name`` is present and its value fully matches ``regex``;
- :class:`Query`: query parameter ``name`` is present (and fully matches ``regex`` if given);
- :class:`Host`: the ``host`` header matches a glob pattern (``*.example.com``; ``*`` stands for
  one or more whole labels, like Spring's ``**.example.com``);
- :class:`After`, :class:`Before`, :class:`Between`: the gateway's **local** clock is at or after
  ``at_ms``, strictly before ``at_ms``, or in ``[start_ms, end_ms)`` (a promotion route, a
  maintenance window). A skewed gateway clock opens the window early or late;
- :class:`Weight`: routes in the same ``group`` share the traffic in proportion to their
  ``weight``. As Spring's ``WeightCalculatorWebFilter`` does, the gateway draws **one** random
  number per request and group (from its own random stream) and picks the group's route by
  cumulative weight over the routes sorted by id; the Weight predicate holds only on that route.
  Every request is thus counted in exactly one route of the group, whatever the other predicates.

Map to the notes: "路由判断：客户端的请求到达网关后，先经过 Gateway Handler Mapping 处理，
这里面会做断言（Predicate）判断，看下符合哪个路由规则".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dslab._validate import check_number, check_type
from dslab.gateway.messages import METHODS, ApiRequest


class Predicate:
    """A condition on a request (and the gateway's local time)."""

    def matches(self, request: ApiRequest, now_ms: float) -> bool:  # pragma: no cover
        raise NotImplementedError


def _full(name: str, regex: str) -> re.Pattern[str]:
    check_type(name, regex, str)
    try:
        return re.compile(regex)
    except re.error as exc:
        raise ValueError(f"{name}={regex!r} is not a regular expression: {exc}") from None


@dataclass(frozen=True)
class Method(Predicate):
    methods: tuple[str, ...]

    def __init__(self, *methods: str) -> None:
        if not methods:
            raise ValueError("Method() needs at least one method")
        for m in methods:
            if m not in METHODS:
                raise ValueError(f"method={m!r} is not allowed; choose one of {list(METHODS)}")
        object.__setattr__(self, "methods", tuple(methods))

    def matches(self, request: ApiRequest, now_ms: float) -> bool:
        return request.method in self.methods


@dataclass(frozen=True)
class Header(Predicate):
    name: str
    regex: str = ".*"

    def __post_init__(self) -> None:
        check_type("name", self.name, str)
        _full("regex", self.regex)

    def matches(self, request: ApiRequest, now_ms: float) -> bool:
        value = request.header(self.name)
        return value is not None and re.fullmatch(self.regex, value) is not None


@dataclass(frozen=True)
class Query(Predicate):
    name: str
    regex: str | None = None

    def __post_init__(self) -> None:
        check_type("name", self.name, str)
        if self.regex is not None:
            _full("regex", self.regex)

    def matches(self, request: ApiRequest, now_ms: float) -> bool:
        value = request.param(self.name)
        if value is None:
            return False
        return self.regex is None or re.fullmatch(self.regex, value) is not None


@dataclass(frozen=True)
class Host(Predicate):
    pattern: str

    def __post_init__(self) -> None:
        check_type("pattern", self.pattern, str)
        if not self.pattern or any(c in self.pattern for c in " /"):
            raise ValueError(f"pattern={self.pattern!r} must be a host name like "
                             f"'api.example.com' or '*.example.com'")

    def matches(self, request: ApiRequest, now_ms: float) -> bool:
        host = (request.header("host") or "").lower().split(":")[0]
        # '*' matches one or more whole labels; everything else literally
        parts = [re.escape(p) for p in self.pattern.lower().split("*")]
        return re.fullmatch(r"[a-z0-9-]+(?:\.[a-z0-9-]+)*".join(parts), host) is not None


@dataclass(frozen=True)
class After(Predicate):
    at_ms: float

    def __post_init__(self) -> None:
        check_number("at_ms", self.at_ms)

    def matches(self, request: ApiRequest, now_ms: float) -> bool:
        return now_ms >= self.at_ms


@dataclass(frozen=True)
class Before(Predicate):
    at_ms: float

    def __post_init__(self) -> None:
        check_number("at_ms", self.at_ms)

    def matches(self, request: ApiRequest, now_ms: float) -> bool:
        return now_ms < self.at_ms


@dataclass(frozen=True)
class Between(Predicate):
    start_ms: float
    end_ms: float

    def __post_init__(self) -> None:
        check_number("start_ms", self.start_ms)
        check_number("end_ms", self.end_ms, min=self.start_ms, min_inclusive=False)

    def matches(self, request: ApiRequest, now_ms: float) -> bool:
        return self.start_ms <= now_ms < self.end_ms


@dataclass(frozen=True)
class Weight(Predicate):
    """Holds on the route the gateway drew for this request in ``group`` (see the module)."""

    group: str
    weight: int

    def __post_init__(self) -> None:
        check_type("group", self.group, str)
        check_number("weight", self.weight, min=1, integer=True)

    def matches(self, request: ApiRequest, now_ms: float) -> bool:
        raise TypeError("a Weight predicate is decided by the route table (RouteTable.select), "
                        "which draws one number per request and group")
