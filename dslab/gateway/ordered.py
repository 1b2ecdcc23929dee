"""Ordered gateway filters: global and route filters, pre and post phases (过滤器).

Spring Cloud Gateway's model, simplified:

- A filter has an **order** number and two halves: ``pre`` runs before the request is forwarded
  (it may rewrite the request, or answer at once and stop the chain), ``post`` runs after the
  backend answered (it may rewrite the response: add headers, translate errors, record metrics).
- **Global filters** (``GlobalFilter``) apply to every route; **route filters**
  (``GatewayFilter``) only to the route that lists them.
- For one request, the global filters and the route's filters are merged into **one** list sorted
  by order (a stable sort: on equal orders global filters come first, then the route's, each in
  the order given). ``pre`` halves run in that order; ``post`` halves run in the **reverse**
  order, like the layers of an onion: the filter with the lowest order sees the request first
  and the response last.
- A filter whose ``pre`` answers (say 403) stops the chain: nothing is forwarded, and only the
  filters that ran before it get their ``post`` (the answer travels back through them).
- Filters are frozen (shared by every request); what they measure goes into the
  :class:`Exchange`, which the gateway owns.

Filters here: :class:`AddRequestHeader`, :class:`StripPrefix` (pre, rewrite the request),
:class:`RequireHeader` (pre, may refuse with 403), :class:`AddResponseHeader` (post),
:class:`RewriteErrors` (post: hide backend error details, the notes' 异常处理) and
:class:`Metrics` (pre takes the time, post records route, status and latency: 流量监控).

Map to the notes: "Pre 类型 ... 参数校验、权限校验、流量监控、日志输出以及协议转换",
"Post 类型：微服务处理完请求后，返回响应给网关，网关可以再次进行处理，例如修改响应内容或响应头、
日志输出、流量监控", "GatewayFilter：局部过滤器 ... GlobalFilter：全局过滤器，应用在所有路由上".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from dslab._validate import check_number, check_type
from dslab.gateway.messages import ApiReply, ApiRequest
from dslab.gateway.routing import Route


@dataclass
class Exchange:
    """One request's passage through the gateway (Spring's ``ServerWebExchange``)."""

    request: ApiRequest
    route: Route
    start_ms: float
    attributes: dict[str, Any] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)  # "pre:<name>" / "post:<name>", in order
    ran: list[GatewayFilter] = field(default_factory=list)  # filters whose pre completed


@dataclass(frozen=True)
class GatewayFilter:
    """Base class: override ``pre`` and/or ``post``. ``order`` (keyword only): lower runs its
    pre earlier and its post later."""

    order: int = field(default=0, kw_only=True)

    def __post_init__(self) -> None:
        check_number("order", self.order, integer=True)

    @property
    def name(self) -> str:
        return type(self).__name__

    def pre(self, ex: Exchange, now_ms: float) -> ApiReply | None:
        return None

    def post(self, ex: Exchange, reply: ApiReply, now_ms: float) -> ApiReply:
        return reply


def chain_for(global_filters: Iterable[GatewayFilter], route: Route) -> list[GatewayFilter]:
    """The filters of one request: global then route filters, stable-sorted by order."""
    merged = list(global_filters) + list(route.filters)
    return sorted(merged, key=lambda f: f.order)


def run_pre(chain: list[GatewayFilter], ex: Exchange, now_ms: float) -> ApiReply | None:
    """Run the pre halves in order; return the first answer (the chain stops there)."""
    for f in chain:
        ex.trace.append(f"pre:{f.name}")
        reply = f.pre(ex, now_ms)
        if reply is not None:
            return reply
        ex.ran.append(f)
    return None


def run_post(ex: Exchange, reply: ApiReply, now_ms: float) -> ApiReply:
    """Run the post halves of the filters whose pre completed, in reverse order."""
    for f in reversed(ex.ran):
        ex.trace.append(f"post:{f.name}")
        reply = f.post(ex, reply, now_ms)
    return reply


def _check_header(name: str, value: str) -> None:
    check_type("name", name, str)
    check_type("value", value, str)
    if not name:
        raise ValueError("name='' : a header needs a name")


@dataclass(frozen=True)
class AddRequestHeader(GatewayFilter):
    header: str = "x-gateway"
    value: str = "dslab"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_header(self.header, self.value)

    def pre(self, ex: Exchange, now_ms: float) -> ApiReply | None:
        ex.request = ex.request.with_header(self.header, self.value)
        return None


@dataclass(frozen=True)
class StripPrefix(GatewayFilter):
    """Drop the first ``parts`` path segments before forwarding (``/api/orders/7`` ->
    ``/orders/7`` with ``parts=1``)."""

    parts: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("parts", self.parts, min=1, integer=True)

    def pre(self, ex: Exchange, now_ms: float) -> ApiReply | None:
        segments = [s for s in ex.request.path.split("/") if s]
        ex.request = ex.request.with_path("/" + "/".join(segments[self.parts:]))
        return None


@dataclass(frozen=True)
class RequireHeader(GatewayFilter):
    """Refuse with 403 a request without header ``header`` (an authorisation check)."""

    header: str = "x-role"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_header(self.header, "")

    def pre(self, ex: Exchange, now_ms: float) -> ApiReply | None:
        if ex.request.header(self.header) is None:
            return ApiReply(403, f"forbidden: missing {self.header}")
        return None


@dataclass(frozen=True)
class AddResponseHeader(GatewayFilter):
    header: str = "x-served-by"
    value: str = "gateway"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_header(self.header, self.value)

    def post(self, ex: Exchange, reply: ApiReply, now_ms: float) -> ApiReply:
        headers = tuple(sorted({**dict(reply.headers), self.header: self.value}.items()))
        return replace(reply, headers=headers)


@dataclass(frozen=True)
class RewriteErrors(GatewayFilter):
    """Replace the body of a 5xx answer with a friendly message (the details stay inside)."""

    message: str = "service temporarily unavailable, please retry"

    def post(self, ex: Exchange, reply: ApiReply, now_ms: float) -> ApiReply:
        if reply.status >= 500:
            ex.attributes["hidden_error"] = reply.body
            return replace(reply, body=self.message)
        return reply


@dataclass(frozen=True)
class Metrics(GatewayFilter):
    """pre: note the time; post: record ``route``, ``status`` and ``latency_ms``."""

    def pre(self, ex: Exchange, now_ms: float) -> ApiReply | None:
        ex.attributes["metrics_start_ms"] = now_ms
        return None

    def post(self, ex: Exchange, reply: ApiReply, now_ms: float) -> ApiReply:
        start = ex.attributes.get("metrics_start_ms", ex.start_ms)
        ex.metrics.append({"route": ex.route.id, "status": reply.status,
                           "latency_ms": now_ms - start, "t_ms": start})
        return reply
