"""CAP on the simulator: seed sweeps with faults, checkers over the histories."""

from __future__ import annotations

import math

import pytest

from dslab.cap import experiments as ex
from dslab.check import convergence, linearizable

SEEDS = range(50)


# -- CP: linearizable, and refuses rather than lies ----------------------------------------------
@pytest.mark.parametrize("n", [3, 5])
def test_cp_histories_are_linearizable_under_random_partitions(n):
    seeds = SEEDS if n == 3 else range(10)
    answered = 0
    for seed in seeds:
        df, h = ex.random_partitions(seed, "cp", n=n)
        r = linearizable(h, "cas-register", timeout_s=20)
        assert r.valid, f"CP history not linearizable (n={n}); replay with seed={seed}\n{r}"
        answered += int((df["type"] == "ok").sum())
    assert answered > 100 * len(seeds) // 2  # the sweep did real work


def test_cp_under_random_partitions_sometimes_refuses_definitely():
    errors = set()
    for seed in range(5):
        df, _ = ex.random_partitions(seed, "cp")
        errors |= set(df.loc[df["type"] == "fail", "error"])
    assert "unavailable" in errors


def test_cp_history_of_the_partition_workload_is_linearizable_and_the_minority_is_refused():
    df, h = ex.partition_workload(3, "cp")
    assert linearizable(h, "cas-register").valid, "replay with seed=3"
    s = ex.partition_summary(df).set_index("side")
    assert s.loc["majority", "ok_fraction_partition"] == 1.0
    assert s["stale_reads"].sum() == 0
    # every minority operation that both began and ended inside the partition was refused
    # (one invoked just before the heal may still succeed: the replica retries until its deadline)
    heal = df.attrs["heal_ms"]
    inside = df[(df["side"] == "minority") & (df["phase"] == "partition") & (df["end_ms"] < heal)]
    assert len(inside) > 3 and (inside["type"] != "ok").all()
    assert set(inside.loc[inside["type"] == "fail", "error"]) == {"unavailable"}


@pytest.mark.parametrize("seed", range(5))
def test_gilbert_lynch_cp_refuses_the_minority_and_stays_linearizable(seed):
    df, h = ex.gilbert_lynch(seed, "cp")
    assert df.attrs["linearizable"], f"replay with seed={seed}"
    part = df[df["phase"] == "partitioned"].set_index("step")
    assert list(part["type"]) == ["ok", "fail", "fail", "ok"], f"replay with seed={seed}"
    assert set(part.loc[[2, 3], "error"]) == {"unavailable"}
    assert part.loc[4, "value"] == 1


# -- AP: available, caught as non-linearizable ---------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_gilbert_lynch_ap_answers_stale_and_the_checker_catches_it(seed):
    df, h = ex.gilbert_lynch(seed, "ap")
    assert (df["type"] == "ok").all(), f"replay with seed={seed}"
    assert df.set_index("step").loc[2, "value"] is None  # the read missed write(1)
    assert not df.attrs["linearizable"], f"replay with seed={seed}"
    assert "Not linearizable" in df.attrs["explanation"]


def test_ap_partition_workload_is_caught_as_not_linearizable():
    for seed in range(5):
        df, h = ex.partition_workload(seed, "ap", partition_ms=500.0, after_ms=300.0)
        assert (df["type"] == "ok").sum() + (df["error"] == "cas_mismatch").sum() == len(df)
        r = linearizable(h, "cas-register", timeout_s=20)
        assert r.valid is False, f"AP history passed the checker; replay with seed={seed}"
        assert df["stale"].sum() > 0


# -- AP: last-writer-wins loses exactly the writes the skew predicts -----------------------------
@pytest.mark.parametrize("skew", [-20.0, -5.0, 5.0, 20.0])
def test_lww_loses_exactly_the_writes_the_skew_predicts(skew):
    for seed in range(4):
        df, _ = ex.partition_workload(seed, "ap", skew_ms=skew, partition_ms=500.0)
        acked = df[df["f"].isin(["write", "cas"]) & (df["type"] == "ok")]
        assert acked["lost"].notna().all()
        assert list(acked["lost"]) == list(acked["predicted_lost"]), f"replay with seed={seed}"
        assert df.attrs["lost_writes"] > 0, f"replay with seed={seed}"
        # the side whose clock is behind is the side that loses
        losers = set(acked.loc[acked["lost"] == True, "side"])  # noqa: E712
        assert losers == ({"minority"} if skew < 0 else {"majority"}), f"replay with seed={seed}"
        # and a lost write is never what the replicas converge to
        final = df.attrs["final_value"]
        lost_values = {v[1] if f == "cas" else v for f, v in zip(
            acked.loc[acked["lost"] == True, "f"],  # noqa: E712
            acked.loc[acked["lost"] == True, "invoke_value"], strict=True)}  # noqa: E712
        assert final not in lost_values


def test_lww_with_synchronized_clocks_loses_nothing():
    for seed in range(5):
        df, _ = ex.partition_workload(seed, "ap", skew_ms=0.0, partition_ms=500.0)
        assert df.attrs["lost_writes"] == 0 == df.attrs["predicted_lost_writes"]


# -- AP: converges after the heal, every time ----------------------------------------------------
@pytest.mark.parametrize("resolution", ["lww", "siblings"])
def test_ap_converges_after_heal_in_every_seed(resolution):
    for seed in range(20):
        df, _ = ex.partition_workload(
            seed, "ap", resolution=resolution, partition_ms=400.0, start_ms=200.0,
            after_ms=200.0, read_only_after_heal=True, skew_ms=-7.0,
        )
        r = convergence(df.attrs["final_states"])
        assert r.valid, f"AP replicas did not converge; replay with seed={seed}\n{r}"
        # anti-entropy bounds it: one period (50 ms) plus a message delay (at most 2 ms)
        assert 0 <= df.attrs["converge_ms"] <= 52.5, f"replay with seed={seed}"


def test_siblings_keep_both_sides_writes_after_the_heal():
    df, _ = ex.partition_workload(
        2, "ap", resolution="siblings", partition_ms=400.0, read_only_after_heal=True,
    )
    after = df[(df["phase"] == "after") & (df["f"] == "read") & (df["type"] == "ok")]
    assert after["value"].map(len).max() == 2  # one write from each side survives


# -- service discovery ---------------------------------------------------------------------------
def test_cp_registry_refuses_the_minority_and_expires_its_sessions():
    df, _ = ex.service_discovery(0, "cp")
    a = df.attrs
    during = df[(df["time_ms"] > a["partition_start_ms"] + 100) & (df["time_ms"] < a["heal_ms"])]
    mine = during[during["side"] == "minority"]
    # refused (one request caught mid-round by the partition may be indefinite instead)
    assert (mine["type"] != "ok").all() and (mine["type"] == "info").sum() <= 1
    assert set(mine.loc[mine["type"] == "fail", "error"]) == {"unavailable"}
    late = during[(during["side"] == "majority") & (during["op"] == "discover")
                  & (during["time_ms"] > a["crash_ms"] + 600)]
    assert (late["type"] == "ok").all()
    # minority instances are alive but expired; the crashed one is gone too
    expired = [i for i in a["minority_instances"] if i != "new_min"]  # new_min never got in
    assert (late["live_missing"] == len(expired)).all()
    assert (late["dead_listed"] == 0).all()
    end = df[df["time_ms"] > a["heal_ms"] + 500]
    assert (end["type"] == "ok").all() and (end["live_missing"].dropna() == 0).all()


def test_ap_registry_self_preservation_keeps_every_instance_through_the_partition():
    df, h = ex.service_discovery(0, "ap")
    a = df.attrs
    evicted = [e for e in h.events if e.name == "evicted"]
    assert evicted and min(e.time for e in evicted) > a["heal_ms"]  # only i_dead, after heal
    assert {e.data["instance"] for e in evicted} == {a["dead"]}
    during = df[(df["time_ms"] > a["crash_ms"] + 100) & (df["time_ms"] < a["heal_ms"])]
    assert (during["type"] == "ok").all()  # every side can register and discover
    assert (during.loc[during["op"] == "discover", "dead_listed"] == 1).all()  # stale
    preserving = [e for e in h.events if e.name == "self_preservation" and e.data["on"]]
    assert preserving and all(
        e.data["renewals"] <= e.data["threshold"] for e in preserving
    )


def test_ap_registry_without_self_preservation_evicts_healthy_instances_in_a_partition():
    df, h = ex.service_discovery(0, "ap", self_preservation=False)
    a = df.attrs
    during = [e for e in h.events if e.name == "evicted" and e.time < a["heal_ms"]]
    assert {e.data["instance"] for e in during if e.node == "z1"} >= {"i2", "i3"}


# -- determinism ---------------------------------------------------------------------------------
def test_same_seed_same_history():
    a = ex.partition_workload(11, "cp", partition_ms=300.0)[1].to_json()
    b = ex.partition_workload(11, "cp", partition_ms=300.0)[1].to_json()
    assert a == b
    c = ex.service_discovery(11, "ap", partition_ms=500.0)[1].to_json()
    d = ex.service_discovery(11, "ap", partition_ms=500.0)[1].to_json()
    assert c == d


def test_pacelc_cp_pays_latency_without_a_partition():
    df, hs = ex.pacelc_latency(0, ops_per_client=60)
    s = ex.latency_summary(df).set_index(["policy", "f"])
    for f in ("read", "write"):
        assert s.loc[("cp", f), "median_ms"] > 2 * s.loc[("ap", f), "median_ms"]
    assert linearizable(hs["cp"], "cas-register").valid
    assert not math.isnan(s["p99_ms"].max())


def test_pacelc_table_has_abadis_labels_and_the_notes_placements():
    t = ex.pacelc_table().set_index("system")
    expected = {
        "Dynamo": "PA/EL", "Cassandra": "PA/EL", "Riak": "PA/EL", "BigTable / HBase": "PC/EC",
        "VoltDB / H-Store": "PC/EC", "Megastore": "PC/EC", "MongoDB": "PA/EC", "PNUTS": "PC/EL",
    }
    assert {k: t.loc[k, "pacelc"] for k in expected} == expected
    assert t.loc["ZooKeeper", "cap"] == "CP" and t.loc["Eureka", "cap"] == "AP"
    assert "Distro" in t.loc["Nacos", "source"] and "Raft" in t.loc["Nacos", "source"]


def test_same_seed_same_history_under_another_hash_seed():
    import hashlib
    import os
    import subprocess
    import sys

    code = (
        "import hashlib; from dslab.cap import experiments as ex; "
        "h = ex.partition_workload(4, 'ap', partition_ms=300.0, after_ms=200.0)[1]; "
        "g = ex.service_discovery(4, 'cp', partition_ms=400.0, after_ms=300.0)[1]; "
        "print(hashlib.sha256((h.to_json() + g.to_json()).encode()).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
        digests.add(out.stdout.strip())
    h = ex.partition_workload(4, "ap", partition_ms=300.0, after_ms=200.0)[1]
    g = ex.service_discovery(4, "cp", partition_ms=400.0, after_ms=300.0)[1]
    digests.add(hashlib.sha256((h.to_json() + g.to_json()).encode()).hexdigest())
    assert len(digests) == 1


# -- CP under message duplication and quick restarts ---------------------------------------------
def test_cp_duplicated_requests_do_not_wedge_a_replica_after_the_heal():
    """Issue 7's repro: every message duplicated, n1 and its client cut off until 150 ms.

    A duplicate of a running request used to replace the proposal (same ``client#id`` key): its
    deadline answered a definite "unavailable" and cancelled the original's timers, so n1's
    proposer stayed busy forever and refused every later write."""
    from dslab.cap.cluster import build_cluster, register_op
    from dslab.sim import Sim

    sim = Sim(seed=0, duplicate=1.0)
    cl = build_cluster(sim, "cp", 3)
    c1 = cl.clients[0]
    sim.partition(["n1", "c1"], ["n2", "n3", "c2", "c3"])
    sim.heal(at=150.0)
    out = []

    def script():
        for k in range(1, 9):
            start = sim.now
            res = yield from register_op(c1, "n1", "write", k)
            out.append((start, res.type))
            yield sim.sleep(20.0)
        yield from register_op(c1, "n1", "read")

    sim.process(script())
    sim.run(until=3000.0)
    after_heal = [t for start, t in out if start > 150.0]
    assert after_heal and all(t == "ok" for t in after_heal), f"replay with seed=0: {out}"
    assert linearizable(sim.history, "cas-register").valid, "replay with seed=0"


@pytest.mark.parametrize("n", [3, 5])
def test_cp_histories_are_linearizable_under_partitions_duplication_and_quick_restarts(n):
    seeds = SEEDS if n == 3 else range(10)
    answered = 0
    restarts = 0
    for seed in seeds:
        df, h = ex.random_partitions(
            seed, "cp", n=n, duplicate=0.3, mean_restart_gap_ms=150.0, restart_down_ms=2.0
        )
        r = linearizable(h, "cas-register", timeout_s=20)
        assert r.valid, (
            f"CP history not linearizable with duplication and restarts (n={n}); "
            f"replay with seed={seed}\n{r}"
        )
        answered += int((df["type"] == "ok").sum())
        restarts += sum(1 for ft in h.faults if ft.verb == "restart")
    assert restarts >= 5 * len(seeds)  # the nemesis really restarted replicas
    assert answered > 100 * len(seeds) // 2  # and the cluster still did real work


# -- the builder convention: the replica class can be swapped ------------------------------------
def test_the_replica_class_can_be_swapped_and_an_identical_one_changes_nothing():
    from dslab.cap.ap import APReplica
    from dslab.cap.cluster import build_cluster, build_replicas
    from dslab.cap.cp import CasPaxosReplica
    from dslab.cap.registry import EurekaNode
    from dslab.sim import Sim

    class SameCp(CasPaxosReplica):
        pass

    class SameAp(APReplica):
        pass

    class SameEureka(EurekaNode):
        pass

    sim = Sim(0)
    cl = build_cluster(sim, "cp", 3, node_cls=SameCp)
    sim.run(until=1.0)
    assert all(type(sim.handler(r)) is SameCp for r in cl.replicas)
    assert build_replicas(Sim(0), n=2) == ["n1", "n2"]
    for policy, cls in (("cp", SameCp), ("ap", SameAp)):
        a = ex.gilbert_lynch(4, policy)
        b = ex.gilbert_lynch(4, policy, node_cls=cls)
        assert a.history.to_json() == b.history.to_json()
    a = ex.service_discovery(4, "ap", partition_ms=500.0, after_ms=200.0)
    b = ex.service_discovery(4, "ap", partition_ms=500.0, after_ms=200.0, node_cls=SameEureka)
    assert a.history.to_json() == b.history.to_json()


def test_a_replica_class_that_is_not_a_handler_is_a_clear_error():
    with pytest.raises(TypeError, match="node_cls=<class 'dict'> must be a subclass of "
                                        "dslab.core.Handler"):
        ex.partition_workload(0, "cp", node_cls=dict)


def test_single_runs_return_a_result_that_unpacks_like_the_old_pair():
    r = ex.gilbert_lynch(7, "ap")
    df, h = r
    assert df is r.frame and h is r.history and r.seed == 7
    assert r.metadata["linearizable"] is False and "explanation" in r.metadata
    assert df.attrs["explanation"] == r.metadata["explanation"]
