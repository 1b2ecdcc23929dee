"""A trace id handed to a real thread pool, five ways (see :mod:`dslab.tracing.propagation`).

The scenario: one request thread serves requests ``1..n`` one after another. For request ``i`` it
makes ``trace-i`` current, then hands an instrumented task to a pool of ``workers`` threads and
waits for it. The task does what a traced client library does: it reads the current trace id; if
there is none it starts a new trace (``new-i``) and makes that current. After each task a bare
probe runs on the pool and reads what the task left behind on its thread.

Verdicts: ``correct`` (the task used ``trace-i``), ``lost`` (it saw no context and started a new
trace: the request's trace is broken in two), ``wrong`` (it used another request's trace id).

Real threads, yet repeatable: every task is awaited before the next request, so with one worker
every task runs on the same thread, in order. With two workers which thread runs a task varies,
so for ``threading.local`` the split between ``lost`` and ``wrong`` may vary; ``correct`` does not.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import pandas as pd

from dslab._validate import check_choice, check_number
from dslab.tracing.propagation import (
    InheritableThreadLocal,
    InheritingThreadPoolExecutor,
    ThreadLocal,
    TransmittableThreadLocal,
    TtlExecutor,
)

MODES = (
    "threading.local",
    "InheritableThreadLocal",
    "TransmittableThreadLocal",
    "contextvars",
    "contextvars + copy_context",
)


class _VarSlot:
    """A :class:`contextvars.ContextVar` with the get / set / remove of a thread-local slot."""

    def __init__(self, name: str) -> None:
        self.var: contextvars.ContextVar[Any] = contextvars.ContextVar(name, default=None)
        self.token: Any = None

    def get(self) -> Any:
        return self.var.get()

    def set(self, value: Any) -> None:
        self.token = self.var.set(value)

    def remove(self) -> None:
        self.var.set(None)


def _instrumented_task(slot: Any, i: int) -> tuple[Any, Any]:
    seen = slot.get()
    used = seen
    if used is None:  # no context here: a traced client starts a new trace and makes it current
        used = f"new-{i}"
        slot.set(used)
    return seen, used


def pool_demo(mode: str, *, requests: int = 4, workers: int = 1) -> pd.DataFrame:
    """One row per request: what the pooled task saw, used, its verdict, what it left behind."""
    check_choice("mode", mode, MODES)
    check_number("requests", requests, min=1, integer=True)
    check_number("workers", workers, min=1, max=8, integer=True)
    name = f"trace-id/{mode}"
    slot: Any = {
        "threading.local": ThreadLocal,
        "InheritableThreadLocal": InheritableThreadLocal,
        "TransmittableThreadLocal": TransmittableThreadLocal,
    }.get(mode, _VarSlot)(name)
    raw: ThreadPoolExecutor | None = None
    pool: Executor | None = None
    rows = []
    ctx = contextvars.copy_context()  # the request thread's contextvars stay out of the caller's

    def serve(i: int) -> None:
        nonlocal raw, pool
        slot.set(f"trace-{i}")
        if pool is None:  # the pool is built lazily, while the first request is being served
            if mode == "InheritableThreadLocal":
                raw = InheritingThreadPoolExecutor(workers)
                pool = raw
            else:
                raw = ThreadPoolExecutor(workers)
                pool = TtlExecutor(raw) if mode == "TransmittableThreadLocal" else raw
        assert raw is not None and pool is not None
        if mode == "contextvars + copy_context":
            fut = pool.submit(contextvars.copy_context().run, _instrumented_task, slot, i)
        else:
            fut = pool.submit(_instrumented_task, slot, i)
        seen, used = fut.result()
        left = raw.submit(slot.get).result()
        expected = f"trace-{i}"
        verdict = "correct" if used == expected else ("lost" if seen is None else "wrong")
        rows.append(
            {
                "mode": mode,
                "request": i,
                "expected": expected,
                "seen_by_task": seen,
                "used_by_task": used,
                "verdict": verdict,
                "left_on_worker": left,
            }
        )

    try:
        for i in range(1, requests + 1):
            ctx.run(serve, i)
    finally:
        if raw is not None:
            raw.shutdown(wait=True)
        ctx.run(slot.remove)
    return pd.DataFrame(rows)


def compare_modes(*, requests: int = 4, workers: int = 1) -> pd.DataFrame:
    """Verdict counts per mode: ``correct``, ``lost``, ``wrong`` (columns), one row per mode."""
    frames = [pool_demo(m, requests=requests, workers=workers) for m in MODES]
    df = pd.concat(frames, ignore_index=True)
    out = (
        df.groupby("mode", sort=False)
        .verdict.value_counts()
        .unstack(fill_value=0)
        .reindex(columns=["correct", "lost", "wrong"], fill_value=0)
    )
    out["worker_keeps_a_trace_id"] = df.groupby("mode", sort=False).left_on_worker.apply(
        lambda s: int(s.notna().sum())
    )
    return out.reset_index()


__all__ = ["MODES", "compare_modes", "pool_demo"]
