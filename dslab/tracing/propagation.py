"""Passing the trace context between threads: ThreadLocal, Inheritable, Transmittable.

Inside one process Dapper keeps the current trace context in a thread-local (the notes:
"在ThreadLocal中保存本次跟踪的上下文信息"). That breaks when the work moves to another thread,
and thread *pools* make it worse, because their threads are created once and reused. The notes
compare three kinds of slot; this module builds each on Python's own thread-local storage
(``threading.local``) so they can be run in a real :class:`~concurrent.futures.ThreadPoolExecutor`.

Rules:

1. :class:`ThreadLocal` (Java's ``ThreadLocal``): each thread sees only what it set itself. A task
   handed to a pool thread sees *nothing* of the submitting thread's context (trace **lost**), and
   sees whatever an earlier task on the same pool thread left behind (trace **wrong**).
2. :class:`InheritableThreadLocal`: a thread created by :class:`InheritingThreadPoolExecutor` gets
   a copy of its creator's values *when the thread is created*, never again. Pool threads are
   created once, so every later task sees the values of the request that happened to create the
   pool: a **stale**, wrong trace id ("在线程复用的线程池中是没有办法使用的").
3. :class:`TransmittableThreadLocal` (Alibaba's TTL; MTrace's TransmissibleThreadLocal): a
   :class:`Transmitter` **captures** the submitting thread's values at submit time, **replays**
   them on the worker just before the task runs (keeping a backup of the worker's own values), and
   **restores** the backup afterwards, so nothing leaks from one task into the next.
   :func:`ttl_wrap` decorates one callable (TtlRunnable); :class:`TtlExecutor` wraps a whole pool.

The same three steps, on plain dicts, are :func:`capture`, :func:`replay` and :func:`restore`;
the simulated RPC server (:mod:`dslab.tracing.filters`) uses them on its simulated threads.
Python's :mod:`contextvars` follows rule 1 in a pool (a worker runs in its own context) and rule 3
when the task is submitted through ``contextvars.copy_context().run``.

===========================================  ===============================================
notes                                        code
===========================================  ===============================================
ThreadLocal / ThreadLocalMap                 :class:`ThreadLocal` over ``threading.local``
InheritableThreadLocal, ``Thread.init()``    :class:`InheritableThreadLocal`,
                                             :class:`InheritingThreadPoolExecutor`
TransmittableThreadLocal, holder, TtlRunnable :class:`TransmittableThreadLocal`, :func:`ttl_wrap`
Transmitter capture() / replay() / restore() :class:`Transmitter`, :func:`capture`, ...
===========================================  ===============================================
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, MutableMapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

from dslab._validate import check_number, check_type


# -- the three steps on one thread's slots (a dict: slot name -> value) ---------------------------
def capture(values: Mapping[str, Any]) -> dict[str, Any]:
    """A snapshot of the submitting thread's transmittable slots."""
    return dict(values)


def replay(values: MutableMapping[str, Any], captured: Mapping[str, Any]) -> dict[str, Any]:
    """Make the worker's slots equal ``captured``; return a backup of what they were."""
    backup = dict(values)
    values.clear()
    values.update(captured)
    return backup


def restore(values: MutableMapping[str, Any], backup: Mapping[str, Any]) -> None:
    """Put the worker's own slots back as they were before :func:`replay`."""
    values.clear()
    values.update(backup)


# -- slots on real threads ------------------------------------------------------------------------
class _Storage(threading.local):
    """Per thread: a dict per kind of slot (what Java keeps in ``Thread.threadLocals`` etc.)."""

    def __init__(self) -> None:
        self.plain: dict[str, Any] = {}
        self.inheritable: dict[str, Any] = {}
        self.transmittable: dict[str, Any] = {}


_storage = _Storage()


class ThreadLocal:
    """A named slot with one value per thread (rule 1)."""

    kind = "plain"

    def __init__(self, name: str, default: Any = None) -> None:
        self.name = check_type("name", name, str)
        self.default = default

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def _slots(self) -> dict[str, Any]:
        return getattr(_storage, self.kind)

    def get(self) -> Any:
        return self._slots().get(self.name, self.default)

    def set(self, value: Any) -> None:
        self._slots()[self.name] = value

    def remove(self) -> None:
        self._slots().pop(self.name, None)


class InheritableThreadLocal(ThreadLocal):
    """Copied into a thread when that thread is created (rule 2)."""

    kind = "inheritable"


class TransmittableThreadLocal(ThreadLocal):
    """Carried to a pool thread by a :class:`Transmitter` at every submit (rule 3)."""

    kind = "transmittable"


def inheritable_snapshot() -> dict[str, dict[str, Any]]:
    """The calling thread's inheritable slots (what a thread it creates starts with); as in Java,
    a transmittable slot is also inheritable."""
    return {
        "inheritable": dict(_storage.inheritable),
        "transmittable": dict(_storage.transmittable),
    }


class Transmitter:
    """capture / replay / restore of the current thread's transmittable slots (rule 3)."""

    @staticmethod
    def capture() -> dict[str, Any]:
        return capture(_storage.transmittable)

    @staticmethod
    def replay(captured: Mapping[str, Any]) -> dict[str, Any]:
        return replay(_storage.transmittable, captured)

    @staticmethod
    def restore(backup: Mapping[str, Any]) -> None:
        restore(_storage.transmittable, backup)


def ttl_wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` decorated to run with the context captured *now* (Alibaba's ``TtlRunnable``)."""
    if not callable(fn):
        raise TypeError(f"fn={fn!r} must be callable")
    captured = Transmitter.capture()

    def run(*args: Any, **kwargs: Any) -> Any:
        backup = Transmitter.replay(captured)
        try:
            return fn(*args, **kwargs)
        finally:
            Transmitter.restore(backup)

    return run


def _install_inherited(snapshot: Mapping[str, Mapping[str, Any]]) -> None:
    for kind, values in snapshot.items():
        slots = getattr(_storage, kind)
        slots.clear()
        slots.update(values)


class InheritingThreadPoolExecutor(ThreadPoolExecutor):
    """A pool whose threads start with a copy of the creating thread's inheritable slots.

    Java copies them in the ``Thread`` constructor; here all ``max_workers`` threads are created
    at once, in the constructor (like ``prestartAllCoreThreads``), so the copy is the constructing
    thread's values at that moment, and every later task runs on a thread holding that copy.
    """

    def __init__(self, max_workers: int) -> None:
        check_number("max_workers", max_workers, min=1, integer=True)
        super().__init__(
            max_workers, initializer=_install_inherited, initargs=(inheritable_snapshot(),)
        )
        barrier = threading.Barrier(max_workers)  # every worker busy at once: all threads created
        for f in [self.submit(barrier.wait) for _ in range(max_workers)]:
            f.result()


class TtlExecutor(Executor):
    """Wraps an executor so every submitted task runs under the submitter's captured context."""

    def __init__(self, inner: Executor) -> None:
        self.inner = check_type("inner", inner, Executor)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        return self.inner.submit(ttl_wrap(fn), *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)


__all__ = [
    "InheritableThreadLocal",
    "InheritingThreadPoolExecutor",
    "ThreadLocal",
    "TransmittableThreadLocal",
    "Transmitter",
    "TtlExecutor",
    "capture",
    "inheritable_snapshot",
    "replay",
    "restore",
    "ttl_wrap",
]
