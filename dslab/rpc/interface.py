"""Service interfaces and the client proxy generated from them (客户端代理).

Rules:

- A service interface is a subclass of :class:`Service`. Its public methods are the remote
  methods; their bodies are the server-side implementation and run on ``self.state`` (a dict that
  lives in the server's memory). ``version`` is the schema version the codec checks.
- A method decorated with :func:`idempotent` may be retried safely: running it twice has the same
  effect as once. Everything else is *not* idempotent, and the retry filter leaves it alone unless
  told otherwise.
- :class:`Stub` is the proxy: ``stub.incr("x", by=2)`` checks the arguments against the method's
  signature *now* (a ``TypeError`` naming the method), then returns the generator that makes the
  remote call. Use it in a SimPy process: ``result = yield from stub.incr("x", by=2)``.

This is the notes' "客户端代理" (a JDK dynamic proxy in Pigeon) and Birrell & Nelson's (1984)
*user-stub*: the caller sees a local procedure; the stub hides packing, transport and waiting.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any


def idempotent(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a remote method as safe to run more than once."""
    fn.__rpc_idempotent__ = True  # type: ignore[attr-defined]
    return fn


class Service:
    """Base class of a service interface (and, through the method bodies, its implementation)."""

    version: int = 1

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}


@dataclass(frozen=True)
class MethodInfo:
    name: str
    idempotent: bool
    signature: inspect.Signature


def remote_methods(iface: type[Service]) -> dict[str, MethodInfo]:
    """The remote methods of ``iface``, by name (sorted)."""
    if not (isinstance(iface, type) and issubclass(iface, Service)):
        raise TypeError(f"iface={iface!r} must be a subclass of dslab.rpc.Service")
    out = {}
    for name in sorted(vars_all(iface)):
        fn = getattr(iface, name)
        if name.startswith("_") or not inspect.isfunction(fn):
            continue
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())[1:]  # drop self
        out[name] = MethodInfo(
            name, bool(getattr(fn, "__rpc_idempotent__", False)), sig.replace(parameters=params)
        )
    return out


def vars_all(cls: type) -> set[str]:
    names: set[str] = set()
    for k in cls.__mro__:
        if k in (Service, object):
            break
        names |= set(vars(k))
    return names


class Stub:
    """A client-side proxy for ``iface``: each remote method becomes a call through ``invoker``.

    ``invoker`` is anything with ``invoke(service, method, args, idempotent)`` returning a
    generator (an :class:`dslab.rpc.client.RpcClient`).
    """

    def __init__(self, iface: type[Service], invoker: Any) -> None:
        self._iface = iface
        self._methods = remote_methods(iface)
        self._invoker = invoker

    def __repr__(self) -> str:
        return f"Stub({self._iface.__name__}, methods={sorted(self._methods)})"

    def __getattr__(self, name: str) -> Callable[..., Generator[Any, Any, Any]]:
        methods = self.__dict__.get("_methods", {})
        if name not in methods:
            raise AttributeError(
                f"{self._iface.__name__} has no remote method {name!r}; it has {sorted(methods)}"
            )
        info = methods[name]

        def remote(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            try:
                bound = info.signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{self._iface.__name__}.{name}: {exc}") from None
            bound.apply_defaults()
            return self._invoker.invoke(self._iface, name, dict(bound.arguments), info.idempotent)

        remote.__name__ = name
        return remote
