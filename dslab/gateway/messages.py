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
    """An HTTP-like request: ``path`` ("/orders/42"), query ``params``, ``headers``.

    ``params`` and ``headers`` are sorted tuples of ``(name, value)`` pairs (hashable, so a
    request can be a cache key); :func:`api` builds one from dicts.
    """

    path: str
    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    def header(self, name: str, default: str | None = None) -> str | None:
        return dict(self.headers).get(name, default)

    def param(self, name: str, default: str | None = None) -> str | None:
        return dict(self.params).get(name, default)


def api(path: str, params: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None) -> ApiRequest:
    """``ApiRequest`` from dicts: ``api("/orders/1", {"user": 7}, {"token": "t1"})``."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"path={path!r} must be a string starting with '/'")
    p = tuple(sorted((str(k), str(v)) for k, v in (params or {}).items()))
    h = tuple(sorted((str(k), str(v)) for k, v in (headers or {}).items()))
    return ApiRequest(path, p, h)


@dataclass(frozen=True, slots=True)
class ApiReply:
    """The gateway's answer: HTTP-like ``status``, the ``body``, which ``instance`` (and its
    ``version``) served it, and whether it came from the ``cache`` or a ``fallback``."""

    status: int
    body: Any = None
    instance: str | None = None
    version: str | None = None
    cached: bool = False
    fallback: bool = False


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
