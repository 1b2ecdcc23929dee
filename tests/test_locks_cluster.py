"""Cluster tests of the lock chapter on the simulator.

The safe configuration (expiry + value-checked release + watchdog, no pauses or clock faults)
keeps mutual exclusion over many seeds; every unsafe scenario of the chapter really produces two
holders at once, caught by :func:`dslab.check.mutual_exclusion`; fencing keeps the storage
consistent in the same scenarios. Failure messages say ``replay with seed=N``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from dslab.check import mutual_exclusion
from dslab.locks import experiments as ex

SEEDS = range(30)


def replay(seed, what=""):
    return f"replay with seed={seed} {what}".strip()


def verdict(holds):
    return mutual_exclusion(holds[["holder", "start_ms", "end_ms"]].to_dict("records"))


@pytest.mark.parametrize("release", ["cad"])
def test_expiry_cad_and_watchdog_keep_mutual_exclusion_over_seeds(release):
    for seed in SEEDS:
        holds, _ = ex.run_locks(seed, clients=3, rounds=4, ttl_ms=60.0, watchdog=True,
                                release=release, work_ms=[40.0, 90.0, 150.0],
                                start_ms=[0.0, 3.0, 7.0], duration_ms=2500.0)
        v = verdict(holds)
        assert v.valid, f"{v}\n{replay(seed)}"
        s = holds.attrs["summary"]
        assert s["acquisitions"] >= 6, replay(seed, f"only {s['acquisitions']} acquisitions")
        assert s["lost_updates"] == 0, replay(seed)


def test_redlock_without_faults_keeps_mutual_exclusion_over_seeds():
    for seed in range(10):
        holds, _ = ex.run_locks(seed, mode="redlock", clients=3, rounds=3, ttl_ms=300.0,
                                work_ms=50.0, start_ms=[0.0, 2.0, 4.0], duration_ms=2000.0)
        assert verdict(holds).valid, f"{verdict(holds)}\n{replay(seed)}"
        assert len(holds) >= 3, replay(seed)


def test_safety_sweep_reports_no_overlap():
    df = ex.safety_sweep(range(5))
    assert df["mutual_exclusion"].all(), replay(list(df.loc[~df["mutual_exclusion"], "seed"]))


def summary(table, variant):
    return table.set_index("variant").loc[variant]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_expiry_deadlocks_when_the_holder_crashes(seed):
    table, runs = ex.deadlock(seed)
    holds, _ = runs["SETNX + DEL, no expiry"]
    assert list(holds["holder"]) == ["c1"], replay(seed)  # c2 waits forever
    holds, _ = runs["SET NX PX 200"]
    assert list(holds["holder"]) == ["c1", "c2"], replay(seed)
    assert verdict(holds).valid, replay(seed)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_plain_del_releases_someone_elses_lock(seed):
    table, runs = ex.wrong_release(seed)
    d, c = summary(table, "DEL"), summary(table, "compare-and-delete")
    assert d["foreign_deletes"] >= 1 and c["foreign_deletes"] == 0, replay(seed)
    # the c2/c3 overlap exists only with DEL
    pairs = [{o["a"]["holder"], o["b"]["holder"]} for o in verdict(runs["DEL"][0]).overlaps]
    assert {"c2", "c3"} in pairs, replay(seed)
    pairs = [{o["a"]["holder"], o["b"]["holder"]}
             for o in verdict(runs["compare-and-delete"][0]).overlaps]
    assert {"c2", "c3"} not in pairs, replay(seed)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_expiry_shorter_than_work_gives_two_holders_and_the_watchdog_fixes_it(seed):
    table, runs = ex.expiry_vs_work(seed)
    assert not verdict(runs["ttl < work"][0]).valid, replay(seed)
    assert verdict(runs["watchdog"][0]).valid, replay(seed)
    bad = verdict(runs["watchdog + 300 ms GC pause"][0])
    assert not bad.valid, replay(seed, "a GC pause longer than the ttl must break the watchdog")


def test_a_pause_shorter_than_the_ttl_is_harmless():
    for seed in (1, 2, 3):
        _, runs = ex.expiry_vs_work(seed, pause_ms=40.0)
        for label, (holds, _) in runs.items():
            if label != "ttl < work":
                assert verdict(holds).valid, replay(seed, label)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_failover_before_replication_gives_two_holders_and_redlock_survives_a_crash(seed):
    table, runs = ex.failover(seed)
    assert not verdict(runs["master + async replica, failover"][0]).valid, replay(seed)
    holds, _ = runs["Redlock, 5 servers, s1 crashes"]
    assert verdict(holds).valid and len(holds) == 2, replay(seed)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_redlock_breaks_under_a_clock_jump_and_a_client_pause(seed):
    table, runs = ex.redlock_faults(seed)
    assert len(runs) == 2
    for label, (holds, _) in runs.items():
        v = verdict(holds)
        assert not v.valid, replay(seed, label)
        assert v.overlaps[0]["overlap_ms"] > 50.0, replay(seed, label)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fencing_keeps_the_storage_consistent_under_the_same_faults(seed):
    table, _ = ex.fencing(seed)
    for row in table.itertuples():
        assert not row.mutual_exclusion, replay(seed, row.variant)  # the lock itself fails
        if row.fencing:
            assert row.lost_updates == 0 and row.writes_rejected >= 1, replay(seed, row.variant)
        else:
            assert row.lost_updates >= 1 and row.writes_rejected == 0, replay(seed, row.variant)


def test_reentrancy_counts_and_refuses_another_holder():
    df = ex.reentrancy(1)
    assert list(df["result"]) == ["ok", "ok", "fail", "ok", "fail", "ok", "ok"]
    assert list(df["count"].iloc[[0, 1, 3, 5, 6]]) == [1, 2, 1, 0, 1]


def test_reentrant_unlock_keeps_the_lock_alive_with_a_full_lease():
    # Lease 250 ms, a command every 100 ms: the second lock's lease ends near 350 ms, before c2
    # asks again at 400 ms; c1's unlock at 300 ms (count 2 -> 1) must have reset it to 250 ms.
    df = ex.reentrancy(1, lease_ms=250.0, gap_ms=100.0)
    unlock = df.iloc[3]
    assert unlock["count"] == 1 and unlock["lease_left_ms"] == pytest.approx(250.0, abs=2.0)
    assert df.iloc[4]["result"] == "fail" and df.iloc[4]["t_ms"] > 400.0


def test_same_seed_same_history():
    a = ex.run_locks(4, clients=3, rounds=3, watchdog=True, duration_ms=800.0)[1]
    b = ex.run_locks(4, clients=3, rounds=3, watchdog=True, duration_ms=800.0)[1]
    assert a.to_json() == b.to_json()
    c = ex.run_locks(5, clients=3, rounds=3, watchdog=True, duration_ms=800.0)[1]
    assert a.to_json() != c.to_json()


def test_same_history_under_another_hash_seed():
    code = ("from dslab.locks import experiments as ex;"
            "print(ex.redlock_faults(2)[1]['c1 paused 700 ms'][1].to_json())")
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": h, "PATH": ""}).stdout for h in ("1", "2")]
    assert outs[0] == outs[1] and outs[0]


def test_setnx_then_expire_crash_between_the_commands_leaves_a_lock_that_never_expires():
    # SETNX then PEXPIRE: c1 dies after sending SETNX, before sending PEXPIRE (one round trip).
    for seed in range(1, 6):
        df = ex.crash_window(seed, crash_ms=[0.25, 8.0], duration_ms=600.0).set_index(
            ["variant", "crash_ms"])
        assert df.loc[("SETNX, then PEXPIRE", 0.25), "stuck"], replay(seed, "crash at 0.25")
        assert not df.loc[("SETNX, then PEXPIRE", 8.0), "stuck"], replay(seed, "crash at 8")


def test_set_nx_px_has_no_crash_window():
    df = ex.crash_window(1, crash_ms=[0.25, 0.5, 1.0, 2.0, 4.0], ttl_ms=200.0)
    px = df[df["variant"] == "SET NX PX (one command)"]
    assert not px["stuck"].any()
    assert px["c2_acquired_ms"].between(200.0, 230.0).all()  # freed by the ttl, not later
