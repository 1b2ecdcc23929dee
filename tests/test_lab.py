"""dslab.lab: the first chapter's experiments and its two register servers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dslab.check import linearizable
from dslab.core import Context, Request, Response, SetTimer
from dslab.lab import (
    DEFAULT_LATENCIES,
    Cas,
    LaggyReplicaRegister,
    Read,
    RegisterServer,
    Replicate,
    Write,
    broken_register,
    correct_register,
    digest,
    latency_samples,
    latency_summary,
    partition_demo,
    ping,
    register_sweep,
    replay,
)
from dslab.sim import Constant, Exponential

ROOT = Path(__file__).resolve().parent.parent
SEEDS = range(12)


# -- the register servers, as plain handlers -------------------------------------------------------
def test_the_register_server_persists_a_write_before_acknowledging_it():
    ctx = Context("n1")
    server = RegisterServer()
    server.on_start(ctx)
    server.on_message(ctx, "c1", Request(1, Write(5)))
    assert ctx.storage["value"] == 5
    assert [e.msg for e in ctx.sent()] == [Response(1, True, None)]


def test_a_cas_whose_comparison_fails_is_a_definite_failure():
    ctx = Context("n1")
    server = RegisterServer()
    server.on_start(ctx)
    server.on_message(ctx, "c1", Request(1, Cas(3, 4)))
    server.on_message(ctx, "c1", Request(2, Cas(None, 4)))
    server.on_message(ctx, "c1", Request(3, Read()))
    replies = [e.msg for e in ctx.sent()]
    assert replies[0] == Response(1, False, None, "cas_mismatch")
    assert replies[1].ok and replies[2] == Response(3, True, 4)


def test_a_restarted_register_server_remembers_acknowledged_writes():
    ctx = Context("n1")
    RegisterServer().on_start(ctx)
    RegisterServer().on_message(ctx, "c1", Request(1, Write(9)))
    fresh = RegisterServer()  # a restart: new object, same storage
    fresh.on_start(ctx)
    fresh.on_message(ctx, "c1", Request(2, Read()))
    assert ctx.sent()[-1].msg == Response(2, True, 9)


def test_a_laggy_replica_acknowledges_a_write_before_replicating_it():
    ctx = Context("n1", peers=("n2", "n3"))
    replica = LaggyReplicaRegister(lag_ms=40.0)
    replica.on_message(ctx, "c1", Request(1, Write(7)))
    assert [e.msg for e in ctx.sent()] == [Response(1, True, None)]  # no Replicate yet
    (timer,) = [e for e in ctx.effects if isinstance(e, SetTimer)]
    assert timer.delay_ms == 40.0
    ctx.take_effects()
    replica.on_timer(ctx, timer.name)
    assert [(e.dst, e.msg) for e in ctx.sent()] == [
        ("n2", Replicate(7, (1, "n1"))), ("n3", Replicate(7, (1, "n1")))
    ]


def test_a_laggy_replica_answers_reads_from_its_own_stale_copy():
    ctx = Context("n2", peers=("n1", "n3"))
    replica = LaggyReplicaRegister()
    replica.on_message(ctx, "c2", Request(1, Read()))
    replica.on_message(ctx, "n1", Replicate(7, (1, "n1")))
    replica.on_message(ctx, "n3", Replicate(6, (1, "n0")))  # older version: ignored
    replica.on_message(ctx, "c2", Request(2, Read()))
    assert [e.msg.body for e in ctx.sent()] == [None, 7]


def test_a_laggy_replica_rejects_a_negative_lag():
    with pytest.raises(ValueError, match="lag_ms"):
        LaggyReplicaRegister(lag_ms=-1.0)


# -- ping ------------------------------------------------------------------------------------------
def test_ping_rtt_is_twice_the_one_way_latency_for_a_constant_latency():
    df, history = ping(seed=3, n_pings=20, latency=Constant(1.5))
    assert len(df) == 20 and history.seed == 3
    assert df["rtt_ms"].tolist() == pytest.approx([3.0] * 20)
    assert df["true_rtt_ms"].tolist() == pytest.approx([3.0] * 20)


def test_ping_mean_rtt_is_twice_the_mean_one_way_latency():
    df, _ = ping(seed=1, n_pings=400, latency=Exponential(2.0))
    assert df["rtt_ms"].mean() == pytest.approx(4.0, rel=0.1), "replay with seed=1"


def test_a_fast_clock_measures_a_longer_round_trip():
    df, _ = ping(seed=0, n_pings=5, latency=2.0, clock_drift=0.1)
    assert df["true_rtt_ms"].tolist() == pytest.approx([4.0] * 5)
    assert df["rtt_ms"].tolist() == pytest.approx([4.4] * 5)


# -- latency samples -------------------------------------------------------------------------------
def test_latency_samples_are_reproducible_and_streams_are_independent():
    a = latency_samples(seed=5, n=50)
    b = latency_samples(seed=5, n=50)
    assert a.equals(b)
    only = latency_samples(seed=5, n=50, dists={"lognormal": DEFAULT_LATENCIES["lognormal"]})
    assert only["ms"].tolist() == a[a["dist"] == "lognormal"]["ms"].tolist()


def test_the_default_distributions_share_a_2ms_mean():
    df = latency_samples(seed=2, n=20000)
    summary = latency_summary(df)
    assert list(summary.index) == list(DEFAULT_LATENCIES)
    assert summary["mean (analytic)"].tolist() == pytest.approx([2.0] * 6, abs=1e-3)
    light = summary.loc[["constant", "uniform", "exponential", "lognormal"], "mean"]
    assert light.tolist() == pytest.approx([2.0] * 4, rel=0.05), "replay with seed=2"


# -- partition -------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_partition_demo_drops_messages_only_during_the_partition(seed):
    df, history = partition_demo(seed, partition_at_ms=200.0, partition_ms=150.0, run_ms=500.0)
    dropped = [m for m in history.messages if m.status == "dropped"]
    assert dropped, f"no message dropped; replay with seed={seed}"
    for m in dropped:
        fate = m.recv_time if m.recv_time is not None else m.send_time
        assert 200.0 <= fate <= 350.0, f"{m} dropped outside the partition; replay with seed={seed}"
        assert m.reason == "partition"
    counts = df.set_index("phase")
    assert counts.loc["before", "dropped"] == 0 and counts.loc["after", "dropped"] == 0
    assert counts.loc["partition", "dropped"] == len(dropped)
    assert (counts["delivered"] > 0).all(), f"replay with seed={seed}"


def test_partition_demo_cuts_the_minority_off():
    _, history = partition_demo(0, n_nodes=5)
    (partition, heal) = history.faults
    assert partition.args["groups"] == [["n1", "n2"], ["n3", "n4", "n5"]]
    assert heal.verb == "heal"


# -- replay ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("scenario", ["register", "partition"])
def test_replay_shows_the_same_seed_gives_the_same_history(scenario):
    df = replay(seed=4, scenario=scenario).set_index("run")
    assert df.loc["A", "digest"] == df.loc["B", "digest"]
    assert bool(df.loc["B", "same_as_first"]) is True
    assert bool(df.loc["C", "same_as_first"]) is False
    assert df.loc["C", "digest"] != df.loc["A", "digest"]


def test_the_broken_register_history_is_identical_under_another_pythonhashseed():
    code = "from dslab.lab import broken_register, digest; print(digest(broken_register(6)[1]))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == digest(broken_register(6)[1]), "replay with seed=6"


# -- registers and linearizability -----------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_the_laggy_replicated_register_is_not_linearizable(seed):
    df, history = broken_register(seed)
    assert len(df) == 3 * 6
    result = linearizable(history, "register")
    assert result.valid is False, f"no violation; replay with seed={seed}\n{result.explanation}"
    assert result.op["f"] == "read", f"replay with seed={seed}"


@pytest.mark.parametrize("seed", SEEDS)
def test_the_single_register_server_is_linearizable(seed):
    df, history = correct_register(seed)
    assert (df["type"] == "ok").all(), f"replay with seed={seed}"
    result = linearizable(history, "register")
    assert result.valid is True, f"replay with seed={seed}\n{result.explanation}"


def test_register_sweep_judges_both_registers_for_every_seed():
    sweep = register_sweep(range(3), ops=4)
    assert sweep["seed"].tolist() == [0, 1, 2]
    assert sweep["single server"].tolist() == [True, True, True]
    assert sweep["laggy replicas"].dtype == bool
    with pytest.raises(TypeError, match="seeds="):
        register_sweep(5)


def test_the_correct_register_is_linearizable_under_a_slow_heavy_workload():
    _, history = correct_register(9, clients=5, ops=20, think_ms=2.0, latency=Exponential(3.0))
    assert linearizable(history, "register").valid is True, "replay with seed=9"


def test_the_broken_register_with_instant_replication_still_answers_every_op():
    df, _ = broken_register(1, lag_ms=0.0)
    assert (df["type"] == "ok").all()


# -- argument checks -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda: ping(seed=-1), "seed"),
        (lambda: ping(n_pings=0), "n_pings"),
        (lambda: ping(latency="fast"), "latency"),
        (lambda: ping(interval_ms=0), "interval_ms"),
        (lambda: ping(clock_drift=2.0), "clock_drift"),
        (lambda: latency_samples(n=0), "n"),
        (lambda: latency_samples(dists={}), "dists"),
        (lambda: latency_samples(dists={"x": "slow"}), r"dists\['x'\]"),
        (lambda: partition_demo(n_nodes=1), "n_nodes"),
        (lambda: partition_demo(heartbeat_ms=-5.0), "heartbeat_ms"),
        (lambda: partition_demo(partition_at_ms=500.0, partition_ms=200.0), "run_ms"),
        (lambda: broken_register(clients=0), "clients"),
        (lambda: broken_register(ops=0), "ops"),
        (lambda: broken_register(replicas=1), "replicas"),
        (lambda: broken_register(write_fraction=1.5), "write_fraction"),
        (lambda: broken_register(timeout_ms=0), "timeout_ms"),
        (lambda: correct_register(seed="one"), "seed"),
        (lambda: replay(scenario="raft"), "scenario"),
        (lambda: replay(other_seed=-2), "seed"),
    ],
)
def test_bad_arguments_fail_at_once_naming_the_parameter(call, param):
    with pytest.raises((ValueError, TypeError), match=param):
        call()
