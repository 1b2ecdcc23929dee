"""Governance (OCTO-style) tests: scanner rules with a bare context, detection bounds, the agent
cache during a naming-service outage, determinism and argument checks."""

from __future__ import annotations

import pandas as pd
import pytest

from dslab.core import Context, Request, Response
from dslab.governance import NamingService, Scanner, SgAgent
from dslab.governance import experiments as ex
from dslab.governance.messages import (
    AllProviders,
    Discover,
    Fetch,
    MarkDown,
    MarkUp,
    ProbeAck,
    Register,
    ServiceList,
)

SEEDS = [1, 2, 3, 4]


def scan_round(scanner, ctx, providers, acks, down=()):
    """One round: the registry lists ``providers`` (``down`` marked down), ``acks`` answer."""
    scanner.on_message(ctx, "mns", AllProviders(tuple(("pay", p) for p in providers),
                                                 down=tuple(down)))
    for p in acks:
        scanner.on_message(ctx, p, ProbeAck(scanner.round))
    scanner.on_timer(ctx, "verdict")


def test_scanner_marks_down_only_after_confirm_missed_rounds_and_up_again():
    s, ctx = Scanner(confirm=2), Context("scanner")
    ps = ["p1", "p2", "p3"]
    scan_round(s, ctx, ps, ["p2", "p3"])
    assert not ctx.sent(MarkDown)
    scan_round(s, ctx, ps, ["p2", "p3"])
    assert [e.msg for e in ctx.sent(MarkDown)] == [MarkDown("p1")]
    scan_round(s, ctx, ps, ps, down=["p1"])
    assert [e.msg for e in ctx.sent(MarkUp)] == [MarkUp("p1")]


def test_scanner_protects_itself_when_too_many_fail_at_once():
    s, ctx = Scanner(confirm=1, max_down_fraction=0.5), Context("scanner")
    scan_round(s, ctx, ["p1", "p2", "p3"], ["p3"])
    assert not ctx.sent(MarkDown)


def test_mns_pushes_changes_to_subscribers():
    m, ctx = NamingService("scanner"), Context("mns")
    m.on_message(ctx, "agent1", Register("pay", "p1"))
    m.on_message(ctx, "agent1", Fetch("pay"))
    m.on_message(ctx, "agent2", Fetch("pay"))
    ctx.effects.clear()
    m.on_message(ctx, "scanner", MarkDown("p1"))
    pushes = ctx.sent(ServiceList)
    assert [e.dst for e in pushes] == ["agent1", "agent2"]
    assert pushes[0].msg.providers == ()


def test_agent_answers_from_cache_without_asking_mns():
    a, ctx = SgAgent(), Context("agent1")
    a.on_message(ctx, "mns", ServiceList("pay", ("p1",), 1))
    a.on_message(ctx, "c1", Request(7, Discover("pay")))
    assert [e.msg for e in ctx.effects if hasattr(e, "msg")] == [Response(7, True, ("p1",))]


@pytest.mark.parametrize("seed", SEEDS)
def test_scanner_removes_dead_provider_within_its_bound(seed):
    interval, timeout, confirm = 500.0, 100.0, 2
    _, s = ex.detection(seed, mode="scanner", scan_interval_ms=interval,
                        probe_timeout_ms=timeout, confirm=confirm)
    bound = confirm * interval + timeout + 10.0  # + a few network delays
    assert s["detected_ms"] is not None and s["detected_ms"] <= bound, (
        f"detected after {s['detected_ms']} ms > {bound}; replay with seed={seed}")
    assert s["agents_updated_ms"] <= s["detected_ms"] + 5.0, f"replay with seed={seed}"


@pytest.mark.parametrize("seed", SEEDS)
def test_heartbeat_mode_removes_within_session_timeout(seed):
    _, s = ex.detection(seed, mode="heartbeat", heartbeat_ms=1000.0, session_timeout_ms=3000.0)
    assert s["detected_ms"] is not None and s["detected_ms"] <= 3000.0 + 100.0 + 10.0, (
        f"detected after {s['detected_ms']} ms; replay with seed={seed}")


@pytest.mark.parametrize("seed", SEEDS)
def test_consumers_keep_working_from_agent_cache_while_mns_is_down(seed):
    df = ex.mns_outage(seed, cache=True)
    during = df[(df["t_ms"] >= 1000) & (df["t_ms"] < 3000)]
    assert (during["outcome"] == "ok").all(), f"replay with seed={seed}"
    nocache = ex.mns_outage(seed, cache=False)
    during = nocache[(nocache["t_ms"] >= 1050) & (nocache["t_ms"] < 2950)]
    assert (during["outcome"] == "discover_failed").all(), f"replay with seed={seed}"


def test_same_seed_same_run():
    a, sa = ex.detection(5, mode="scanner", duration_ms=3000.0)
    b, sb = ex.detection(5, mode="scanner", duration_ms=3000.0)
    pd.testing.assert_frame_equal(a, b)
    assert sa == sb


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ex.detection(1, mode="gossip"), "mode='gossip'"),
        (lambda: ex.detection(1, victim="p9"), "victim='p9'"),
        (lambda: ex.run_cluster(-2), "seed=-2"),
        (lambda: ex.run_cluster(1, period_ms=0), "period_ms=0"),
        (lambda: ex.mns_outage(1, down_at_ms=2000, up_at_ms=1000), "up_at_ms=1000"),
        (lambda: Scanner(interval_ms=100, probe_timeout_ms=200), "probe_timeout_ms=200"),
        (lambda: Scanner(confirm=0), "confirm=0"),
        (lambda: SgAgent(cache="yes"), "cache='yes'"),
    ],
)
def test_bad_arguments_name_parameter_and_value(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
