"""ZAB discovery and synchronisation with truncation (Zab phases 1-2), as the chapter runs it.

:func:`dslab.zk.experiments.truncation_demo` partitions the leader of epoch 1 off right after it
logs a proposal that no follower receives; the majority elects a leader of epoch 2, which commits
new writes; after the heal the old leader rejoins and is synchronised.
"""

from __future__ import annotations

import pytest

from dslab.zk.experiments import truncation_demo
from dslab.zk.messages import fmt_zxid, zxid_epoch


@pytest.fixture(scope="module")
def run():
    return truncation_demo(seed=0)


def _log(df, phase, server):
    part = df[(df["phase"] == phase) & (df["server"] == server)].sort_values("pos")
    return list(part["zxid"])


def test_uncommitted_proposal_of_old_epoch_is_truncated_at_synchronisation(run):
    df, history = run
    old = df.attrs["old_leader"]
    dropped = df.attrs["dropped"]
    assert dropped == ["1:4"], f"expected one dropped epoch-1 proposal, got {dropped}"
    assert dropped[0] in _log(df, "before heal", old)
    assert dropped[0] not in _log(df, "after sync", old)
    truncs = [e for e in history.events if e.name == "truncate"]
    assert [e.node for e in truncs] == [old]
    assert [zxid_epoch(z) for z in truncs[0].data["dropped"]] == [1]


def test_a_proposal_that_never_committed_is_never_applied_nor_acknowledged(run):
    df, history = run
    dropped = set(df.attrs["dropped"])
    applied = [e for e in history.events if e.name in ("apply", "commit")]
    assert applied, "the run applied nothing at all"
    assert not [e for e in applied if fmt_zxid(e.data["zxid"]) in dropped]
    lost = [op for op in history.ops if op.f == "create" and op.value and "/lost" in str(op.value)]
    assert lost and all(op.type != "ok" for op in lost)
    assert df.attrs["lost_write"] != "ok"


def test_every_server_ends_with_the_same_log_all_applied(run):
    df, _ = run
    after = df[df["phase"] == "after sync"]
    logs = {s: _log(df, "after sync", s) for s in sorted(set(after["server"]))}
    assert len(set(map(tuple, logs.values()))) == 1, logs
    assert after["applied"].all()
    assert "2:1" in logs[df.attrs["old_leader"]]


def test_zxid_counter_restarts_in_the_new_epoch(run):
    df, _ = run
    after = df[(df["phase"] == "after sync") & (df["server"] == df.attrs["new_leader"])]
    epoch2 = after[after["epoch"] == 2].sort_values("pos")
    assert list(epoch2["counter"]) == list(range(1, len(epoch2) + 1))


def test_same_seed_same_history(run):
    df, history = run
    df2, history2 = truncation_demo(seed=0)
    assert history.to_json() == history2.to_json(), "replay with seed=0"
    assert df.equals(df2), "replay with seed=0"
    assert df.attrs == df2.attrs, "replay with seed=0"


@pytest.mark.parametrize(
    ("kwargs", "exc", "word"),
    [
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": "0"}, TypeError, "seed"),
        ({"new_writes": 0}, ValueError, "new_writes"),
        ({"new_writes": 2.5}, (TypeError, ValueError), "new_writes"),
    ],
)
def test_bad_arguments_are_refused_with_their_name(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        truncation_demo(**kwargs)
