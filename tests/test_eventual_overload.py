"""Basically available (基本可用): shedding or degrading non-core work keeps the core's latency
bounded under overload, where a plain queue makes everyone wait."""

from __future__ import annotations

import pytest

from dslab.core import Context, Request, Response
from dslab.eventual.overload import Job, OverloadServer, Served


def fill(server: OverloadServer, ctx: Context, n: int, kind: str = "core") -> None:
    for i in range(n):
        server.on_message(ctx, "c", Request(i, Job(kind)))


def test_jobs_queue_and_are_served_one_at_a_time():
    s, ctx = OverloadServer(), Context("s")
    fill(s, ctx, 3)
    assert list(ctx.timers()) == ["worker0"] and len(s.queue) == 2
    ctx.take_effects()
    s.on_timer(ctx, "worker0")
    (reply,) = ctx.sent(Response)
    assert reply.msg.ok and reply.msg.body == Served("core")
    assert len(s.queue) == 1


def test_a_full_queue_refuses_even_core_jobs_without_shedding():
    s, ctx = OverloadServer(queue_limit=2), Context("s")
    fill(s, ctx, 4)  # one in service, two waiting, one refused
    refused = [e for e in ctx.sent(Response) if not e.msg.ok]
    assert [e.msg.error for e in refused] == ["queue_full"]


@pytest.mark.parametrize(
    ("policy", "ok", "error"), [("shed", False, "shed"), ("degrade", True, None)]
)
def test_extra_jobs_are_shed_or_degraded_once_the_queue_is_long(policy, ok, error):
    s, ctx = OverloadServer(policy=policy, shed_at=2), Context("s")
    fill(s, ctx, 3)  # one in service, two waiting
    ctx.take_effects()
    s.on_message(ctx, "c", Request(99, Job("extra")))
    (reply,) = ctx.sent(Response)
    assert reply.msg.ok is ok and reply.msg.error == error
    if ok:
        assert reply.msg.body == Served("extra", degraded=True)
    s.on_message(ctx, "c", Request(100, Job("core")))  # core jobs still queue
    assert len(s.queue) == 3


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="policy='drop'"):
        OverloadServer(policy="drop")
    with pytest.raises(ValueError, match="workers=0"):
        OverloadServer(workers=0)


def test_shedding_bounds_core_latency_under_overload():
    from dslab.eventual.experiments import overload

    df = overload(loads=(0.5, 1.5), policies=("none", "shed", "degrade"), duration_ms=3000.0,
                  seed=1).set_index(["policy", "offered_load"])
    assert df.loc[("none", 1.5), "core_p99_ms"] >= 900.0  # everyone waits, or times out
    assert df.loc[("none", 1.5), "core_ok"] < 0.8
    for pol in ("shed", "degrade"):
        assert df.loc[(pol, 1.5), "core_ok"] == 1.0
        # bounded by the core's own load (75% of capacity here), far below the plain queue's
        assert df.loc[(pol, 1.5), "core_p99_ms"] < df.loc[("none", 1.5), "core_p99_ms"] / 2.5
        assert df.loc[(pol, 1.5), "extra_full"] < 0.6  # the price: feature loss
    assert df.loc[("degrade", 1.5), "extra_degraded"] > 0.3
    assert df.loc[("shed", 1.5), "extra_refused"] > 0.3
