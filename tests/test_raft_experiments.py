"""The Raft chapter's experiments, run small: each test asserts something a reader of the chapter
relies on (named after the rule of the paper it shows). Seed sweeps say "replay with seed=N"."""

from __future__ import annotations

import math

import matplotlib
import pandas as pd
import pytest

from dslab.check import linearizable
from dslab.raft import experiments as ex
from dslab.raft import plots as rp

matplotlib.use("Agg")


# ------------------------------------------------------------------------------------------------
# Figure 16: elections after a leader crash
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2])
def test_without_randomness_split_votes_make_downtime_much_longer(seed):
    df, summary = ex.election_downtime([(150, 150), (150, 300)], trials=6, seed=seed,
                                       cap_ms=3000.0)
    fixed = summary.set_index("timeouts").loc["150-150 ms"]
    spread = summary.set_index("timeouts").loc["150-300 ms"]
    assert fixed["median_ms"] > 5 * spread["median_ms"], (
        f"150-150 median {fixed['median_ms']} vs 150-300 median {spread['median_ms']}; "
        f"replay with seed={seed}"
    )
    assert spread["capped"] == 0, f"a 150-300 trial found no leader in 3 s; replay with seed={seed}"


@pytest.mark.parametrize("seed", [3, 4])
def test_downtime_is_never_less_than_the_minimum_timeout_minus_the_heartbeat_phase(seed):
    df, _ = ex.election_downtime([(12, 24), (50, 100), (150, 155), (150, 300)], trials=15,
                                 seed=seed)
    bound = df["timeout_min_ms"] - df["phase_ms"]
    low = df[df["downtime_ms"] < bound]
    assert low.empty, f"downtime below min - phase in trials {low.to_dict('records')}; " \
                      f"replay with seed={seed}"
    assert (df["phase_ms"] >= 0).all() and (df["phase_ms"] < df["timeout_min_ms"] / 2).all()


def test_the_lagging_servers_never_win_the_election_after_the_crash():
    df, _ = ex.election_downtime([(150, 175), (25, 50)], trials=20, seed=5)
    assert set(df["old_leader"]) <= {"s1", "s2", "s3"}, "replay with seed=5"
    assert set(df["new_leader"]) <= {"s1", "s2", "s3"}, "replay with seed=5"
    assert (df["new_leader"] != df["old_leader"]).all(), "replay with seed=5"


def test_a_trial_replays_alone_from_its_trial_seed():
    df, _ = ex.election_downtime([(150, 200)], trials=3, seed=7)
    row = df.iloc[2]
    again = ex.downtime_trial((150, 200), int(row["trial_seed"]))
    assert again["downtime_ms"] == row["downtime_ms"]
    assert again["trial_seed"] == ex.trial_seed(7, (150, 200), 2)


def test_capped_trials_are_reported_as_more_than_the_cap():
    df, summary = ex.election_downtime([(150, 150)], trials=2, seed=1, cap_ms=1000.0)
    assert df["capped"].all() and (df["downtime_ms"] == 1000.0).all()
    row = summary.iloc[0]
    assert math.isinf(row["median_ms"]) and row["median_text"].startswith("> ")
    table = ex.figure16_table(summary)
    assert table.iloc[0]["max (ours, ms)"] == "> 1000"
    assert "10 s" in table.iloc[0]["paper (§9.3 text)"]


def test_the_summary_puts_the_papers_numbers_beside_ours():
    _, summary = ex.election_downtime([(150, 155), (12, 24)], trials=3, seed=1)
    s = summary.set_index("timeouts")
    assert s.loc["150-155 ms", "paper_median_ms"] == 287.0
    assert s.loc["12-24 ms", "paper_max_ms"] == 152.0 and s.loc["12-24 ms", "paper_mean_ms"] == 35
    fig = rp.plot_downtime(ex.election_downtime([(150, 155), (12, 24)], trials=3, seed=1)[0])
    assert sum(1 for ax in fig.axes for line in ax.get_lines() if line.get_gid() == "paper") == 3
    assert "seed=1" in fig._suptitle.get_text()


# ------------------------------------------------------------------------------------------------
# Figure 8: the commit rule
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_figure8_the_leader_never_commits_an_old_term_entry_by_counting_replicas(seed):
    df, history = ex.figure8_replay(seed, "d")
    c = df[(df["moment"] == ex.FIGURE8_MOMENTS["c"]) & (df["index"] == 2)]
    holders = set(c.loc[c["term"] == 2, "node"])
    assert holders == {"s1", "s2", "s3"}, f"y should be on 3 of 5 at (c); replay with seed={seed}"
    leader = df[(df["moment"] == ex.FIGURE8_MOMENTS["c"]) & (df["role"] == "leader")]
    assert set(leader["node"]) == {"s1"} and int(leader["current_term"].iloc[0]) == 4
    assert leader["commit_index"].iloc[0] < 2, f"replay with seed={seed}"
    commits = [e.data for e in history.events if e.name == "commit"]
    assert all(c["index"] < 2 for c in commits), f"{commits}; replay with seed={seed}"
    d = df[(df["moment"] == ex.FIGURE8_MOMENTS["d"]) & (df["index"] == 2) & (df["role"] != "down")]
    assert (d["term"] == 3).all(), f"S5 should overwrite index 2 at (d); replay with seed={seed}"


@pytest.mark.parametrize("seed", [1, 2])
def test_figure8_an_entry_of_the_current_term_commits_the_old_one_with_it(seed):
    df, history = ex.figure8_replay(seed, "e")
    commits = [(e.node, e.data["index"], e.data["term"]) for e in history.events
               if e.name == "commit"]
    assert ("s1", 3, 4) in commits, f"{commits}; replay with seed={seed}"
    end = df[(df["moment"] == ex.FIGURE8_MOMENTS["e2"]) & (df["role"] != "down")]
    assert (end[end["index"] == 2]["term"] == 2).all(), f"y must survive; replay with seed={seed}"
    assert set(end.loc[end["role"] == "leader", "node"]) == {"s2"}
    s5_candidacies = [e for e in history.events if e.node == "s5" and e.name == "role"
                      and e.data["role"] == "candidate"]
    assert s5_candidacies, f"s5 should have tried (and failed); replay with seed={seed}"
    assert not any(e.node == "s5" and e.data.get("role") == "leader" and e.data["term"] > 3
                   for e in history.events if e.name == "role")


def test_the_first_moments_of_both_figure8_branches_are_identical():
    d, _ = ex.figure8_replay(4, "d")
    e, _ = ex.figure8_replay(4, "e")
    first = [ex.FIGURE8_MOMENTS[k] for k in "abc"]
    pd.testing.assert_frame_equal(d[d["moment"].isin(first)].reset_index(drop=True),
                                  e[e["moment"].isin(first)].reset_index(drop=True))


def test_log_matrix_shows_a_crashed_server_with_what_its_disk_holds():
    df, _ = ex.figure8_replay(1, "d")
    b = df[(df["moment"] == ex.FIGURE8_MOMENTS["b"]) & (df["node"] == "s1")]
    assert set(b["role"]) == {"down"} and b["commit_index"].isna().all()
    assert list(b["term"]) == [1, 2] and list(b["command"]) == ["x", "y"]
    fig = rp.plot_log_matrix(df)
    assert len([a for a in fig.axes if a.get_title(loc="left")]) == 4
    assert "seed=1" in fig._suptitle.get_text()


# ------------------------------------------------------------------------------------------------
# Roles over time, the stepper
# ------------------------------------------------------------------------------------------------
def test_role_timeline_has_at_most_one_leader_per_term_but_two_leaders_at_once_in_a_partition():
    leaders, history = ex.role_timeline_run(seed=1)
    elected = leaders.dropna(subset=["elected_ms"])
    assert elected["term"].is_unique, "replay with seed=1"
    split = next(f.time for f in history.faults if f.verb == "partition")
    heal = next(f.time for f in history.faults if f.verb == "heal")
    during = elected[(elected["elected_ms"] < heal) & (elected["until_ms"] > split)]
    assert len(during) >= 2, f"the old leader and the new one should overlap; {during}; seed=1"
    assert {"crash", "restart", "partition", "heal", "isolate", "reconnect"} == {
        f.verb for f in history.faults
    }


def test_the_stepper_shows_an_election_message_by_message():
    st = ex.Stepper(seed=1)
    lines = st.until_leader(echo=False)
    assert "election timeout -> candidate for term 1" in lines[0]
    assert any("RequestVote(term 1" in line for line in lines)
    assert any("vote granted" in line for line in lines)
    assert ":L1" in lines[-1]
    again = ex.Stepper(seed=1).step(len(lines), echo=False)
    assert again == lines


# ------------------------------------------------------------------------------------------------
# The KV service
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_kv_under_faults_is_linearizable(seed):
    summary, history = ex.kv_under_faults(seed, duration_ms=2000.0)
    verdict = linearizable(history, "kv", timeout_s=30)
    assert verdict.valid is True, f"{verdict.explanation}; replay with seed={seed}"
    assert summary["ok"].sum() > 0 and summary.attrs["faults"], f"replay with seed={seed}"
    assert summary.attrs["safety"] == [], f"{summary.attrs['safety']}; replay with seed={seed}"


def test_kv_without_faults_completes_every_operation():
    summary, _ = ex.kv_under_faults(1, duration_ms=1000.0, partitions=False, unreliable=False,
                                    crashes=False)
    assert summary["info"].sum() == 0 and summary.attrs["faults"] == []


def test_throughput_grows_with_clients_until_it_saturates():
    df = ex.kv_throughput(1, clients=(1, 2, 4, 32, 64), duration_ms=1200.0, warmup_ms=400.0)
    tp = df.set_index("clients")["throughput_ops_s"]
    assert tp.is_monotonic_increasing, f"{tp.to_dict()}; replay with seed=1"
    assert tp[2] > 1.5 * tp[1] and tp[4] > 1.5 * tp[2], f"{tp.to_dict()}; replay with seed=1"
    assert tp[64] < 1.3 * tp[32], f"no saturation: {tp.to_dict()}; replay with seed=1"
    assert tp[64] <= 1000.0 / df.attrs["service_ms"]
    p50 = df.set_index("clients")["p50_ms"]
    assert p50[64] > 3 * p50[1], "replay with seed=1"


# ------------------------------------------------------------------------------------------------
# Determinism and arguments
# ------------------------------------------------------------------------------------------------
def test_same_seed_same_dataframes():
    a, _ = ex.election_downtime([(50, 100)], trials=4, seed=11)
    b, _ = ex.election_downtime([(50, 100)], trials=4, seed=11)
    pd.testing.assert_frame_equal(a, b)
    c, _ = ex.election_downtime([(50, 100)], trials=4, seed=12)
    assert not a["downtime_ms"].equals(c["downtime_ms"])
    pd.testing.assert_frame_equal(ex.role_timeline_run(3)[0], ex.role_timeline_run(3)[0])
    pd.testing.assert_frame_equal(ex.kv_under_faults(3, duration_ms=800.0)[0],
                                  ex.kv_under_faults(3, duration_ms=800.0)[0])
    pd.testing.assert_frame_equal(ex.kv_throughput(2, clients=(2,), duration_ms=800.0),
                                  ex.kv_throughput(2, clients=(2,), duration_ms=800.0))


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (lambda: ex.election_downtime([(150, 100)], 2), ValueError, "timeout_range_ms[0][1]"),
        (lambda: ex.election_downtime([150], 2), TypeError, "timeout_range_ms[0]=150"),
        (lambda: ex.election_downtime("150-300", 2), TypeError, "timeout_range_ms"),
        (lambda: ex.election_downtime([(150, 300)], 0), ValueError, "trials=0"),
        (lambda: ex.election_downtime([(150, 300)], {(150, 200): 3}), ValueError, "no entry"),
        (lambda: ex.election_downtime([(150, 300)], 2, seed=-1), ValueError, "seed=-1"),
        (lambda: ex.election_downtime([(150, 300)], 2, servers=2), ValueError, "servers=2"),
        (lambda: ex.election_downtime([(150, 300)], 2, progress=1), TypeError, "progress=1"),
        (lambda: ex.downtime_trial((150, 300), 1, cap_ms=0), ValueError, "cap_ms=0"),
        (lambda: ex.figure8_replay(1, "f"), ValueError, "branch='f'"),
        (lambda: ex.role_timeline_run(1, duration_ms=10), ValueError, "duration_ms=10"),
        (lambda: ex.kv_under_faults(1, clients=0), ValueError, "clients=0"),
        (lambda: ex.kv_under_faults(1, crashes="yes"), TypeError, "crashes='yes'"),
        (lambda: ex.kv_throughput(1, clients=[]), ValueError, "clients=[]"),
        (lambda: ex.kv_throughput(1, clients=(1, 2.5)), TypeError, "clients[1]=2.5"),
        (lambda: ex.kv_throughput(1, duration_ms=100, warmup_ms=500), ValueError,
         "duration_ms=100"),
        (lambda: ex.Stepper(seed=1, n=0), ValueError, "n=0"),
        (lambda: ex.Stepper(seed=1).step(0), ValueError, "k=0"),
        (lambda: ex.log_matrix("sim"), TypeError, "sim='sim'"),
        (lambda: rp.plot_downtime(pd.DataFrame({"x": [1]})), ValueError, "lacks the columns"),
        (lambda: rp.plot_log_matrix(ex.figure8_replay(1)[0], moments=["(z)"]), ValueError,
         "moments contains '(z)'"),
    ],
)
def test_bad_arguments_fail_at_once_naming_the_parameter(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)
