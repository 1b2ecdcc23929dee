"""Messages between clients, the gateway and backend instances (frozen dataclasses).

A client sends ``Request(id, ApiRequest(...))`` to the gateway and gets ``Response(id, ok, body=
ApiReply(...), error)``. ``ok`` is True only for status 200. 4xx answers and 503 rejections are
*definite* (the backend never saw the request); a 504 (``error="504 ..."``) is indefinite: the
backend may have done the work after the gateway gave up. The gateway calls an instance with
``BackendCall`` and the instance answers ``BackendReply`` with the same ``call_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """An HTTP-like request: ``path`` ("/orders/42"), query ``params``, ``headers``, ``method``.

    ``params`` and ``headers`` are sorted tuples of ``(name, value)`` pairs (hashable, so a
    request can be a cache key); :func:`api` builds one from dicts. The host a client asked for
    is the ``host`` header, as in HTTP/1.1.
    """

    path: str
    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    method: str = "GET"

    def header(self, name: str, default: str | None = None) -> str | None:
        return dict(self.headers).get(name, default)

    def param(self, name: str, default: str | None = None) -> str | None:
        return dict(self.params).get(name, default)

    def with_header(self, name: str, value: str) -> ApiRequest:
        """A copy with header ``name`` set to ``value`` (replacing an existing one)."""
        h = tuple(sorted({**dict(self.headers), name: value}.items()))
        return ApiRequest(self.path, self.params, h, self.method)

    def with_path(self, path: str) -> ApiRequest:
        return ApiRequest(path, self.params, self.headers, self.method)


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def api(path: str, params: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None, method: str = "GET") -> ApiRequest:
    """``ApiRequest`` from dicts: ``api("/orders/1", {"user": 7}, {"token": "t1"})``."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"path={path!r} must be a string starting with '/'")
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not allowed; choose one of {list(METHODS)}")
    p = tuple(sorted((str(k), str(v)) for k, v in (params or {}).items()))
    h = tuple(sorted((str(k), str(v)) for k, v in (headers or {}).items()))
    return ApiRequest(path, p, h, method)


@dataclass(frozen=True, slots=True)
class ApiReply:
    """The gateway's answer: HTTP-like ``status``, the ``body``, which ``instance`` (and its
    ``version``) served it, whether it came from the ``cache`` or a ``fallback``, and response
    ``headers`` (sorted ``(name, value)`` pairs, which post-filters may add)."""

    status: int
    body: Any = None
    instance: str | None = None
    version: str | None = None
    cached: bool = False
    fallback: bool = False
    headers: tuple[tuple[str, str], ...] = ()

    def header(self, name: str, default: str | None = None) -> str | None:
        return dict(self.headers).get(name, default)


@dataclass(frozen=True, slots=True)
class BackendCall:
    call_id: int
    request: ApiRequest


@dataclass(frozen=True, slots=True)
class BackendReply:
    call_id: int
    ok: bool
    body: Any = None
    version: str | None = None
    path: str | None = None  # the path the backend saw (after the gateway's rewrites)
