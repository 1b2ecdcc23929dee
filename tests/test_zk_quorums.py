"""Quorum experiments of dslab.zk.quorums: the start-up election with servers powered on one after
another, split brain prevented by majority quorums, and the crash tolerance of 2N+1 servers."""

from __future__ import annotations

import pytest

from dslab.zk.quorums import fault_tolerance, split_brain, staggered_boot


def test_three_servers_booting_one_after_another_elect_the_second():
    """The notes' start-up election: s1 alone cannot win; when s2 boots, both vote for s2 (the
    larger myid of equal, empty histories) and that is a quorum; s3 then finds a leader."""
    for seed in range(5):
        df, _ = staggered_boot(seed, servers=3, gap_ms=100.0)
        where = f"replay with seed={seed}"
        assert df.attrs["leader"] == "s2", where
        assert df.attrs["established_ms"] < 200.0, where  # before s3 was even on
        final = df.groupby("server")["state"].last().to_dict()
        assert final == {"s1": "following", "s2": "leading", "s3": "following"}, where
        assert "leading" not in set(df.loc[df["server"] != "s2", "state"]), where


def test_servers_booting_together_elect_the_largest_myid():
    df, _ = staggered_boot(0, servers=3, gap_ms=0.0)
    assert df.attrs["leader"] == "s3"


def test_five_servers_booting_in_turn_elect_the_third():
    df, _ = staggered_boot(0, servers=5, gap_ms=100.0)
    assert df.attrs["leader"] == "s3"  # the first quorum is s1, s2, s3


@pytest.mark.parametrize("servers, minority", [(3, 1), (5, 2), (7, 3)])
def test_only_the_majority_side_of_a_split_commits(servers, minority):
    for seed in range(3):
        df, _ = split_brain(seed, servers, minority)
        a, b = df.set_index("side").loc["A"], df.set_index("side").loc["B"]
        where = f"replay with seed={seed}"
        assert (a["majority"], b["majority"]) == (False, True), where
        assert a["ok"] == 0 and a["new_leader"] == "none", where  # the old leader's side
        assert b["ok"] > 0 and b["new_leader"] != "none", where
        assert b["in_tree_after_heal"] >= b["ok"], f"acknowledged writes lost; {where}"


@pytest.mark.parametrize("servers", [2, 4, 6])
def test_an_even_split_leaves_no_side_able_to_write(servers):
    df, _ = split_brain(0, servers, servers // 2)
    assert (df["ok"] == 0).all() and (df["new_leader"] == "none").all()
    assert (df["fail"] > 0).all()  # refused at once: definitely not done


def test_a_majority_quorum_of_n_servers_survives_n_minus_1_over_2_crashes():
    ft = fault_tolerance(range(3, 9))
    assert ft.attrs["tolerated"] == {n: (n - 1) // 2 for n in range(3, 9)}
    # one more crash than that and no write commits: no quorum can be formed
    for n in range(3, 9):
        beyond = ft[(ft["servers"] == n) & (ft["crashed"] > (n - 1) // 2)]
        assert not beyond["commits"].any(), n


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: staggered_boot(0, servers=0), ValueError, ["servers=0"]),
        (lambda: staggered_boot(0, gap_ms=-1), ValueError, ["gap_ms=-1"]),
        (lambda: split_brain(0, servers=5, minority=5), ValueError, ["minority=5"]),
        (lambda: split_brain(0, servers=5, minority=1.5), TypeError, ["minority=1.5"]),
        (lambda: fault_tolerance([]), ValueError, ["sizes=[]"]),
        (lambda: fault_tolerance([3, 12]), ValueError, ["sizes[1]=12"]),
    ],
)
def test_bad_arguments_name_parameter_and_value(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value)


def test_same_seed_same_split_history():
    assert split_brain(3, 5, 2)[1].to_json() == split_brain(3, 5, 2)[1].to_json()
