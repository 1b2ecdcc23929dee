"""Passing the trace context between threads: ThreadLocal, Inheritable, Transmittable."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from dslab.tracing import experiments as ex
from dslab.tracing.pooldemo import MODES, compare_modes, pool_demo
from dslab.tracing.propagation import (
    InheritableThreadLocal,
    InheritingThreadPoolExecutor,
    ThreadLocal,
    TransmittableThreadLocal,
    Transmitter,
    TtlExecutor,
    capture,
    replay,
    restore,
    ttl_wrap,
)
from dslab.tracing.simthreads import SimThreadPool


# -- the three steps on plain slots ------------------------------------------------------------
def test_replay_installs_the_captured_slots_and_restore_puts_the_workers_back():
    caller, worker = {"trace": "t-1"}, {"trace": "stale", "other": 1}
    backup = replay(worker, capture(caller))
    assert worker == {"trace": "t-1"}
    caller["trace"] = "t-2"  # a later change on the caller does not reach a captured task
    assert worker == {"trace": "t-1"}
    restore(worker, backup)
    assert worker == {"trace": "stale", "other": 1}


# -- real threads ---------------------------------------------------------------------------------
def test_thread_local_is_invisible_to_another_thread():
    slot = ThreadLocal("t-invisible")
    slot.set("trace-1")
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(slot.get).result() is None
    assert slot.get() == "trace-1"
    slot.remove()


def test_inheritable_is_copied_when_the_pool_thread_is_created_and_never_again():
    slot = InheritableThreadLocal("t-inherit")
    slot.set("trace-1")
    pool = InheritingThreadPoolExecutor(2)
    slot.set("trace-2")  # the threads exist already: they keep trace-1
    try:
        assert [pool.submit(slot.get).result() for _ in range(4)] == ["trace-1"] * 4
    finally:
        pool.shutdown()
        slot.remove()


def test_transmittable_carries_the_submit_time_value_and_restores_the_worker():
    slot = TransmittableThreadLocal("t-ttl")
    raw = ThreadPoolExecutor(1)
    pool = TtlExecutor(raw)
    try:
        for i in range(3):
            slot.set(f"trace-{i}")

            def task() -> str:
                seen = slot.get()
                slot.set("changed-in-task")
                return seen

            assert pool.submit(task).result() == f"trace-{i}"
            assert raw.submit(slot.get).result() is None  # restored: nothing leaks
    finally:
        raw.shutdown()
        slot.remove()


def test_ttl_wrap_captures_at_wrap_time_not_at_run_time():
    slot = TransmittableThreadLocal("t-wrap")
    slot.set("at-submit")
    fn = ttl_wrap(slot.get)
    slot.set("later")
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    assert out == ["at-submit"] and Transmitter.capture() == {"t-wrap": "later"}
    slot.remove()


@pytest.mark.parametrize("workers", [1, 2])
def test_pool_demo_only_capture_and_replay_keep_every_trace_id(workers):
    df = compare_modes(requests=4, workers=workers).set_index("mode")
    assert df.correct.to_dict() == {
        "threading.local": 0,
        "InheritableThreadLocal": 1,  # only the request that created the pool
        "TransmittableThreadLocal": 4,
        "contextvars": 0,
        "contextvars + copy_context": 4,
    }
    assert df.loc["TransmittableThreadLocal", "worker_keeps_a_trace_id"] == 0
    assert df.loc["contextvars + copy_context", "worker_keeps_a_trace_id"] == 0


def test_with_one_worker_thread_local_first_loses_then_reuses_a_wrong_trace_id():
    df = pool_demo("threading.local", requests=3, workers=1)
    assert list(df.verdict) == ["lost", "wrong", "wrong"]
    assert list(df.used_by_task) == ["new-1", "new-1", "new-1"]


def test_pool_demo_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode='nope'"):
        pool_demo("nope")
    with pytest.raises(ValueError, match="workers=0"):
        pool_demo(MODES[0], workers=0)


# -- the same rules on simulated threads, inside the traced RPC servers -------------------------
def test_sim_pool_inheritable_keeps_the_first_callers_slots():
    pool = SimThreadPool(1, "inheritable")
    seen = [pool.run({"trace": f"t{i}"}, lambda s: s.get("trace")) for i in range(3)]
    assert seen == ["t0", "t0", "t0"]


def test_sim_pool_thread_local_leaks_what_a_task_set():
    pool = SimThreadPool(1, "thread_local")
    assert pool.run({"trace": "t0"}, lambda s: s.setdefault("trace", "new")) == "new"
    assert pool.run({"trace": "t1"}, lambda s: s.get("trace")) == "new"


@pytest.mark.parametrize("seed", range(3))
def test_traces_survive_a_thread_pool_only_with_capture_and_replay(seed):
    df = ex.propagation(seed, requests=12).set_index("propagation")
    msg = f"replay with seed={seed}"
    assert df.loc["request", "complete"] == 12, msg
    assert df.loc["transmittable", "complete"] == 12, msg
    assert df.loc["thread_local", "complete"] == 0 and df.loc["thread_local", "orphan"] > 0, msg
    assert df.loc["inheritable", "complete"] == 0, msg
    assert df.loc["inheritable", "foreign_spans"] > 0, msg  # filed under request 1's trace
