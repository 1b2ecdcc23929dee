"""Bad arguments fail at once, naming the parameter and the value; odd but legal sizes work."""

from __future__ import annotations

import math

import pytest

from dslab.cap import experiments as ex
from dslab.cap.ap import APReplica
from dslab.cap.cluster import build_cluster
from dslab.cap.cp import CasPaxosReplica
from dslab.cap.registry import EurekaNode, ZkRegistryNode
from dslab.check import linearizable
from dslab.sim import Sim


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: ex.partition_workload(0, "cp", n=0), ValueError, ["n=0", ">= 1"]),
        (lambda: ex.partition_workload(0, "cp", n=-3), ValueError, ["n=-3"]),
        (lambda: ex.partition_workload(0, "cp", n=2.5), TypeError, ["n=2.5", "int"]),
        (lambda: ex.partition_workload(0, "ca"), ValueError, ["policy='ca'", "'cp'", "'ap'"]),
        (lambda: ex.partition_workload(0, "cp", partition_ms=-1.0), ValueError,
         ["partition_ms=-1.0", ">= 0"]),
        (lambda: ex.partition_workload(0, "cp", start_ms=-5), ValueError, ["start_ms=-5"]),
        (lambda: ex.partition_workload(0, "ap", skew_ms=math.nan), ValueError, ["skew_ms=nan"]),
        (lambda: ex.partition_workload(0, "ap", resolution="max"), ValueError,
         ["resolution='max'", "'lww'", "'siblings'"]),
        (lambda: ex.partition_workload(0, "cp", read_fraction=0.8, cas_fraction=0.5),
         ValueError, ["read_fraction=0.8", "cas_fraction=0.5"]),
        (lambda: ex.partition_workload(-1, "cp"), ValueError, ["seed=-1"]),
        (lambda: ex.partition_workload(0, "cp", op_timeout_ms=0), ValueError,
         ["op_timeout_ms=0", "> 0"]),
        (lambda: ex.gilbert_lynch(0, "cp", n=1), ValueError, ["n=1", "two groups", ">= 2"]),
        (lambda: ex.gilbert_lynch(0, "AP"), ValueError, ["policy='AP'"]),
        (lambda: ex.random_partitions(0, "cp", duration_ms=-10), ValueError,
         ["duration_ms=-10"]),
        (lambda: ex.random_partitions(0, "cp", duplicate=1.5), ValueError, ["duplicate=1.5"]),
        (lambda: ex.random_partitions(0, "cp", mean_restart_gap_ms=0), ValueError,
         ["mean_restart_gap_ms=0"]),
        (lambda: ex.service_discovery(0, "zk"), ValueError, ["registry='zk'", "'cp'", "'ap'"]),
        (lambda: ex.service_discovery(0, "ap", heartbeat_ms=0), ValueError, ["heartbeat_ms=0"]),
        (lambda: ex.service_discovery(0, "ap", renewal_percent_threshold=1.5), ValueError,
         ["renewal_percent_threshold=1.5"]),
        (lambda: ex.pacelc_latency(0, network="moon"), ValueError, ["network='moon'"]),
        (lambda: ex.pacelc_latency(0, ops_per_client=0), ValueError, ["ops_per_client=0"]),
        (lambda: ex.availability(ex.pacelc_table(), bucket_ms=-1), ValueError,
         ["bucket_ms=-1"]),
        (lambda: ex.lost_vs_skew(skews_ms=[0.0, math.inf]), ValueError, ["skews_ms[1]=inf"]),
        (lambda: CasPaxosReplica(op_timeout_ms=-1), ValueError, ["op_timeout_ms=-1"]),
        (lambda: APReplica("max"), ValueError, ["resolution='max'"]),
        (lambda: APReplica(anti_entropy_ms=0), ValueError, ["anti_entropy_ms=0"]),
        (lambda: EurekaNode(lease_ms=-300), ValueError, ["lease_ms=-300"]),
        (lambda: ZkRegistryNode(session_timeout_ms=0), ValueError, ["session_timeout_ms=0"]),
        (lambda: build_cluster(Sim(0), "cp", 3, clock_offsets_ms={"n9": 5.0}), ValueError,
         ["'n9'", "not a replica"]),
        (lambda: build_cluster(Sim(0), "cp", 3, clients={"a": "n7"}), ValueError,
         ["clients['a']='n7'"]),
    ],
)
def test_bad_arguments_fail_with_a_clear_error(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value), f"{w!r} missing from: {info.value}"


@pytest.mark.parametrize("n", [1, 2, 4, 5])
def test_any_cluster_size_runs_and_cp_stays_linearizable(n):
    df, h = ex.partition_workload(0, "cp", n=n, partition_ms=300.0, after_ms=200.0)
    assert len(df) > 20
    assert linearizable(h, "cas-register").valid, f"n={n}; replay with seed=0"
    if n == 1:  # nothing to partition: always available
        assert (df["error"] != "unavailable").all()
    if n == 2:  # neither side holds a majority: both sides are refused
        s = ex.partition_summary(df).set_index("side")
        heal = df.attrs["heal_ms"]
        inside = df[(df["phase"] == "partition") & (df["end_ms"] < heal)]
        assert (inside["type"] != "ok").all()
        assert len(s) == 2
