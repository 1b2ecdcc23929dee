"""Cluster tests of the distributed-ID schemes on the simulator: scripted faults, then the
checkers of :mod:`dslab.check` over the run's history. Every failure says how to replay it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dslab.check import monotonic, unique_ids
from dslab.ids import experiments as ex
from dslab.ids.experiments import realtime_order, run_ids, segment_fetches

SEEDS = (0, 1, 2)
ROOT = Path(__file__).resolve().parent.parent


def replay(seed, **what):
    args = ", ".join(f"{k}={v!r}" for k, v in what.items())
    return f"replay with seed={seed} ({args})"


# -- unique under crash and restart, when the scheme promises it -----------------------------------
SAFE_UNDER_CRASH = [
    ("autoinc", {}),
    ("autoinc-2m", {}),
    ("segment", {}),
    ("segment", {"double_buffer": False}),
    ("redis", {"persistence": "always"}),
    ("uuid4", {}),
    ("uuid1", {}),
    ("uuid7", {}),
    ("snowflake", {"defence": "wait"}),
    ("snowflake", {"defence": "leaf"}),
]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scheme, options", SAFE_UNDER_CRASH)
def test_every_scheme_stays_unique_across_a_crash_and_restart(scheme, options, seed):
    df, h = run_ids(scheme, seed, clients=4, duration_ms=60.0, think_ms=0.5, fault="crash",
                    timeout_ms=5.0, **options)
    verdict = unique_ids(h)
    assert verdict.valid, f"{verdict.explanation}\n{replay(seed, scheme=scheme, **options)}"
    after = df[(df["type"] == "ok") & (df["start_ms"] > df.attrs["restart_ms"])]
    assert len(after) > 20, f"too few IDs after the restart to judge; {replay(seed)}"


@pytest.mark.parametrize("seed", SEEDS)
def test_the_single_database_is_a_single_point_of_failure(seed):
    df, _ = run_ids("autoinc", seed, clients=2, duration_ms=60.0, think_ms=0.5, fault="crash",
                    downtime_ms=20.0, timeout_ms=5.0)
    at, back = df.attrs["fault_at_ms"], df.attrs["restart_ms"]
    during = df[(df["start_ms"] >= at) & (df["end_ms"] <= back)]
    assert len(during) > 0 and (during["type"] == "ok").sum() == 0, replay(seed)


# -- the naive Snowflake duplicates, and the checker catches it ------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_the_naive_snowflake_duplicates_after_a_backward_clock_jump(seed):
    _, h = run_ids("snowflake", seed, clients=3, duration_ms=80.0, think_ms=0.5,
                   fault="clock_jump", rollback_ms=20.0, defence="none",
                   placement="round_robin", failover=False)
    verdict = unique_ids(h)
    assert not verdict.valid, f"the checker missed the duplicates; {replay(seed)}"
    assert "went to" in verdict.explanation and verdict.duplicates


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("defence", ["refuse", "wait"])
def test_runtime_defences_stop_duplicates_from_a_live_rollback(defence, seed):
    df, h = run_ids("snowflake", seed, clients=3, duration_ms=80.0, think_ms=0.5,
                    fault="clock_jump", rollback_ms=20.0, defence=defence,
                    placement="round_robin", failover=False)
    verdict = unique_ids(h)
    assert verdict.valid, f"{verdict.explanation}\n{replay(seed, defence=defence)}"
    refused = df[df["type"] == "fail"]
    assert len(refused) > 0 and set(refused["error"]) == {"clock_moved_backwards"}, replay(seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_rollback_of_at_most_5_ms_is_waited_out_not_refused(seed):
    df, h = run_ids("snowflake", seed, clients=3, duration_ms=60.0, think_ms=0.5,
                    fault="clock_jump", rollback_ms=3.0, defence="wait",
                    placement="round_robin", failover=False)
    assert unique_ids(h).valid and (df["type"] == "fail").sum() == 0, replay(seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_rollback_across_a_restart_beats_in_memory_defences(seed):
    _, h = run_ids("snowflake", seed, clients=3, duration_ms=200.0, think_ms=0.5, timeout_ms=5.0,
                   fault="crash_rollback", rollback_ms=60.0, downtime_ms=10.0, defence="refuse",
                   placement="round_robin", failover=False)
    assert not unique_ids(h).valid, f"expected duplicates; {replay(seed)}"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("defence, rollback_ms", [("leaf", 150.0), ("leaf+peers", 60.0)])
def test_leaf_refuses_to_restart_on_a_clock_that_went_back(defence, rollback_ms, seed):
    df, h = run_ids("snowflake", seed, clients=3, duration_ms=200.0, think_ms=0.5,
                    timeout_ms=5.0, fault="crash_rollback", rollback_ms=rollback_ms,
                    downtime_ms=10.0, n_servers=3, defence=defence, report_ms=50.0,
                    threshold_ms=40.0, placement="round_robin", failover=False)
    assert unique_ids(h).valid, replay(seed, defence=defence, rollback_ms=rollback_ms)
    events = [e for e in h.events if e.node == "id1" and e.name == "generator_refused_to_start"]
    assert events, replay(seed, defence=defence)
    assert set(df.loc[df["type"] == "fail", "error"]) == {"clock_check_failed"}


@pytest.mark.parametrize("seed", SEEDS)
def test_snowflake_ids_increase_per_generator_without_rollback(seed):
    df, h = run_ids("snowflake", seed, clients=6, duration_ms=60.0, placement="round_robin",
                    failover=False)
    assert monotonic(h, per="process").valid, replay(seed)
    for server, part in df[df["type"] == "ok"].groupby("server"):
        # the generator's own order: ids sorted by when the generator made them
        assert part["id"].is_unique, replay(seed, server=server)


def test_a_single_counter_is_ordered_in_real_time_but_not_in_completion_order():
    df, h = run_ids("redis", 3, clients=8, duration_ms=40.0)
    assert realtime_order(df)["valid"]
    assert not monotonic(h, per="global").valid  # concurrent replies overtake each other


# -- Redis persistence -----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("persistence, reissues", [("none", True), ("periodic", True),
                                                   ("always", False)])
def test_redis_reissues_ids_after_a_crash_unless_every_write_is_persisted(
    persistence, reissues, seed
):
    _, h = run_ids("redis", seed, clients=4, duration_ms=80.0, fault="crash", timeout_ms=5.0,
                   persistence=persistence, flush_every_ms=30.0)
    assert unique_ids(h).valid is not reissues, replay(seed, persistence=persistence)


# -- segment mode ----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_double_buffering_never_makes_a_client_wait_for_the_database(seed):
    slow_db = 2.0  # ms per statement: a fetch takes at least two of them
    args = dict(clients=6, think_ms=0.5, warmup_ms=30.0, duration_ms=150.0, step=100,
                db_service_ms=slow_db)
    df, h = run_ids("segment", seed, double_buffer=True, **args)
    ok = df[df["type"] == "ok"]
    assert ok["latency_ms"].max() < 1.0, replay(seed)  # one LAN round trip at most (0.6 ms)
    fetches = segment_fetches(h)
    assert len(fetches) >= 6 and fetches.iloc[2:]["had_ids"].all(), replay(seed)
    single, _ = run_ids("segment", seed, double_buffer=False, **args)
    assert single["latency_ms"].max() > 2 * slow_db, replay(seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_crashed_segment_server_skips_ids_and_never_reuses_them(seed):
    df = ex.segment_waste(seed, steps=[50], double_buffer=[True], crashes=2, duration_ms=120.0)
    row = df.iloc[0]
    assert row["unique"] and row["wasted"] > 0, replay(seed)
    assert row["granted"] == row["issued"] + row["held_at_end"] + row["wasted"]


def _two_quick_restarts(seed, restarts):
    from dslab.ids.cluster import build, start_clients
    from dslab.sim import Sim

    sim = Sim(seed)
    cl = build(sim, "segment", step=50, double_buffer=False)
    for at in restarts:
        sim.restart("id1", at=at)
    start_clients(cl, 8, start_ms=5.0, until_ms=105.0, placement="round_robin", failover=False)
    sim.run(until=160.0)
    return sim


def test_a_grant_for_the_previous_incarnation_never_becomes_a_segment():
    """Issue 7's repro: id1 restarts at 40 and 43.8 ms (step 50, no double buffer). The second
    incarnation took the first one's grant (its request counter restarted at 1) and served it
    from a segment start it never read (-1): IDs handed out before the crash came out again."""
    sim = _two_quick_restarts(0, (40.0, 43.8))
    verdict = unique_ids(sim.history)
    assert verdict.valid, f"{verdict}; replay with seed=0"
    loaded = [e.data for e in sim.history.events if e.name == "segment_loaded"]
    granted = {(e.data["start"], e.data["end"]) for e in sim.history.events
               if e.name == "segment_granted"}
    assert all((d["start"], d["end"]) in granted for d in loaded), "replay with seed=0"


@pytest.mark.parametrize("double_buffer, n_dbs, dynamic", [
    (False, 1, False), (True, 1, False), (True, 2, False), (True, 1, True), (False, 3, True),
])
def test_segment_ids_stay_unique_under_quick_restarts_and_duplication(double_buffer, n_dbs,
                                                                      dynamic):
    restarts = 0
    for seed in range(50):
        df, h = ex.segment_chaos(seed, double_buffer=double_buffer, duplicate=0.2, n_dbs=n_dbs,
                                 dynamic_step=dynamic)
        verdict = unique_ids(h)
        assert verdict.valid, (f"duplicate IDs (n_dbs={n_dbs}, dynamic_step={dynamic}); "
                               f"replay with seed={seed}\n{verdict}")
        assert (df["type"] == "ok").sum() > 100, replay(seed)
        restarts += sum(1 for f in h.faults if f.verb == "restart")
    assert restarts >= 5 * 50  # quick restarts really happened


# -- several databases (Tinyid) and the dynamic step (Leaf) ---------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_tinyid_databases_keep_ids_flowing_while_one_is_down_and_never_collide(seed):
    table, runs = ex.db_failover(seed)
    one, two = table.iloc[0], table.iloc[1]
    assert one["longest_gap_ms"] > 100.0 and one["info"] > 0, replay(seed)  # a single point
    assert two["longest_gap_ms"] < 5.0 and two["info"] == 0, replay(seed)   # fails over
    assert two["failovers"] >= 1 and two["ids_from_db1"] > 0 and two["ids_from_db2"] > 0
    assert one["unique"] and two["unique"], replay(seed)
    _, h = runs["2 databases (Tinyid)"]
    down = [e.data["db"] for e in h.events
            if e.name == "segment_loaded" and 100.0 < e.time < 300.0]
    assert len(down) >= 3 and set(down) == {"db2"}, replay(seed)  # served by db2 meanwhile


@pytest.mark.parametrize("seed", SEEDS)
def test_leaf_dynamic_step_follows_the_load_up_fast_and_down_slowly(seed):
    segs, ops = ex.step_adaptation(seed)
    summ = ex.step_summary(segs, ops).set_index(["mode", "phase"])
    fixed, dyn = "fixed step 20", "dynamic step (Leaf)"
    assert (segs[segs["mode"] == fixed]["size"] == 20).all(), replay(seed)
    assert summ.loc[(dyn, 2), "largest_segment"] >= 16 * 20, replay(seed)  # doubled in the burst
    assert summ.loc[(dyn, 2), "fetches_per_s"] * 10 < summ.loc[(fixed, 2), "fetches_per_s"]
    assert summ.loc[(dyn, 2), "ids_per_s"] > 1.5 * summ.loc[(fixed, 2), "ids_per_s"], replay(seed)
    quiet = segs[(segs["mode"] == dyn) & (segs["phase"] == 2)]["size"].tolist()
    assert quiet == sorted(quiet, reverse=True) and quiet[-1] < quiet[0], replay(seed)  # halving
    assert segs[segs["mode"] == dyn]["size"].between(20, 2000).all(), replay(seed)


# -- determinism -----------------------------------------------------------------------------------
def test_the_same_seed_gives_the_same_history():
    runs = [run_ids("snowflake", 5, clients=3, duration_ms=30.0, fault="crash_rollback",
                    rollback_ms=5.0, n_servers=3, defence="leaf")[1].to_json() for _ in range(2)]
    assert runs[0] == runs[1]
    other = run_ids("snowflake", 6, clients=3, duration_ms=30.0, fault="crash_rollback",
                    rollback_ms=5.0, n_servers=3, defence="leaf")[1].to_json()
    assert other != runs[0]


def test_the_same_seed_gives_the_same_history_under_another_hash_seed():
    code = (
        "from dslab.ids.experiments import run_ids\n"
        "import hashlib\n"
        "for s in ('segment', 'uuid4', 'redis'):\n"
        "    h = run_ids(s, 4, clients=3, duration_ms=20.0, fault='crash')[1]\n"
        "    print(hashlib.sha256(h.to_json().encode()).hexdigest())\n"
    )
    outs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                             capture_output=True, check=True)
        outs.append(res.stdout)
    assert outs[0] == outs[1]
