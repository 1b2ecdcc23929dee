"""Observers (ZooKeeper 3.3+): servers that learn committed transactions from the leader
(``INFORM``) and serve reads locally, but neither vote in elections nor count toward a quorum.

Unit tests drive :class:`ZkServer` through a bare ``Context``; cluster tests run ensembles with
observers on the simulator; ``tests/test_zk_nemesis.py`` sweeps them under the mixed nemesis.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from dslab.core import Context, Request, Response
from dslab.zk.client import add_zk_client
from dslab.zk.cluster import build_ensemble, run_until_leader, trees
from dslab.zk.messages import (
    Ack,
    AckNewLeader,
    Create,
    CreateSession,
    FollowerInfo,
    Forward,
    GetData,
    Inform,
    NewLeader,
    Notification,
    Txn,
    make_zxid,
)
from dslab.zk.nemesis import check_nemesis_run, mixed_nemesis_run
from dslab.zk.server import ZkServer

IDS = {"s1": 1, "s2": 2, "s3": 3, "o1": 4, "o2": 5}
OBS = ("o1", "o2")


def node(name: str) -> tuple[ZkServer, Context]:
    h = ZkServer(name, IDS, observers=OBS)
    h.tree.apply(0, Txn(CreateSession(1000.0), "c1"))
    return h, Context(name, peers=tuple(n for n in IDS if n != name))


def run(sim, gen):
    proc = sim.process(gen)
    sim.run(until=proc)
    return proc.value


def txn(path: str) -> Txn:
    return Txn(Create(path, 1), "c1")


def observing(leader: str = "s3", epoch: int = 1) -> tuple[ZkServer, Context]:
    h, ctx = node("o1")
    h.state, h.leader, h.epoch, h.serving = "observing", leader, epoch, True
    return h, ctx


def leader_with_observer() -> tuple[ZkServer, Context]:
    h, ctx = node("s3")
    ctx.storage["current_epoch"] = 1
    h.state, h.leader, h.epoch, h.established, h.serving = "leading", "s3", 1, True, True
    h.forward_to, h.match, h.observing = ["s1", "s2"], {"s1": 0, "s2": 0}, ["o1"]
    return h, ctx


# -- election -------------------------------------------------------------------------------------
def test_a_quorum_is_a_majority_of_the_voters_only():
    assert all(node(n)[0].quorum == 2 for n in IDS)  # 3 voters: 2, whatever the observers


def test_an_observer_never_votes_it_only_asks_the_voters_who_leads():
    h, ctx = node("o1")
    h.on_start(ctx)
    assert h.state == "looking"
    assert sorted(e.dst for e in ctx.sent(Notification)) == ["s1", "s2", "s3"]
    ctx.take_effects()
    # the voters' votes in a running election do not move it: it neither adopts nor decides
    for src in ("s1", "s2", "s3"):
        h.on_message(ctx, src, Notification(3, 0, 0, 1, "looking"))
    assert h.state == "looking" and not ctx.sent(Notification) and "finalize" not in ctx.timers()


def test_a_voter_never_counts_an_observers_vote():
    h, ctx = node("s1")
    h.on_start(ctx)
    assert "o1" not in {e.dst for e in ctx.sent(Notification)}  # votes go to voters only
    ctx.take_effects()
    h.on_message(ctx, "o1", Notification(5, make_zxid(9, 9), 9, 1, "looking"))
    h.on_message(ctx, "o2", Notification(5, make_zxid(9, 9), 9, 1, "looking"))
    assert h.vote == (0, 0, 1) and "o1" not in h.votes and "finalize" not in ctx.timers()


def test_an_observer_learns_the_leader_that_a_quorum_of_voters_reports():
    h, ctx = node("o1")
    h.on_start(ctx)
    h.on_message(ctx, "s3", Notification(3, 5, 1, 4, "leading"))
    assert h.state == "looking"  # the leader's own word is not enough
    h.on_message(ctx, "s2", Notification(3, 5, 1, 4, "following"))
    assert h.state == "observing" and h.leader == "s3"
    assert ctx.sent(FollowerInfo)[-1].dst == "s3"


# -- quorums --------------------------------------------------------------------------------------
def test_an_observer_is_never_counted_toward_a_write_quorum():
    h, ctx = leader_with_observer()
    h.on_message(ctx, "c1", Request(1, Create("/a", 1)))
    z = h.last_zxid
    assert {e.dst for e in ctx.sent()} == {"s1", "s2"}  # proposals to voters only
    h.on_message(ctx, "o1", Ack(1, z))  # even if an observer did ack, it would not count
    assert h.commit_index == 0
    h.on_message(ctx, "s1", Ack(1, z))
    assert h.commit_index == 1


def test_the_leader_informs_observers_of_commits_only():
    h, ctx = leader_with_observer()
    h.on_message(ctx, "c1", Request(1, Create("/a", 1)))
    z = h.last_zxid
    assert not ctx.sent(Inform)  # not before the quorum of voters has acked
    h.on_message(ctx, "s2", Ack(1, z))
    informs = ctx.sent(Inform)
    assert [(e.dst, e.msg.zxid, e.msg.prev_zxid) for e in informs] == [("o1", z, 0)]


def test_a_joining_observer_gets_the_committed_prefix_and_never_acks():
    h, ctx = leader_with_observer()
    h.observing = []
    h.on_message(ctx, "c1", Request(1, Create("/a", 1)))
    h.on_message(ctx, "s1", Ack(1, h.last_zxid))
    h.on_message(ctx, "c1", Request(2, Create("/b", 1)))  # proposed, not committed
    ctx.take_effects()
    h.on_message(ctx, "o1", FollowerInfo(0, ()))
    (nl,) = ctx.sent(NewLeader)
    assert nl.dst == "o1" and [z for z, _ in nl.msg.entries] == [h.log[0][0]]
    assert h.observing == ["o1"] and "o1" not in h.forward_to and "o1" not in h.infos
    obs, octx = node("o1")
    obs.state, obs.leader = "observing", "s3"
    obs.on_message(octx, "s3", nl.msg)
    assert obs.serving and obs.tree.exists("/a") and not octx.sent(AckNewLeader)


# -- applying and serving -------------------------------------------------------------------------
def test_an_observer_applies_informed_transactions_in_zxid_order():
    h, ctx = observing()
    z1, z2, z3 = (make_zxid(1, i) for i in (1, 2, 3))
    h.on_message(ctx, "s3", Inform(1, z1, 0, txn("/a")))
    h.on_message(ctx, "s3", Inform(1, z3, z2, txn("/c")))  # a gap: z2 is missing
    assert [z for z, _ in h.log] == [z1] and not h.tree.exists("/c")
    assert ctx.sent(FollowerInfo)[-1].dst == "s3"  # it asks to be synchronised again
    assert not ctx.sent(Ack)


def test_an_observer_serves_reads_from_its_own_tree():
    h, ctx = observing()
    h.on_message(ctx, "s3", Inform(1, make_zxid(1, 1), 0, txn("/a")))
    ctx.take_effects()
    h.on_message(ctx, "c1", Request(7, GetData("/a")))
    (reply,) = ctx.sent(Response)
    assert reply.dst == "c1" and reply.msg.ok and reply.msg.body[0] == 1
    assert not [e for e in ctx.sent() if e.dst == "s3"]  # no trip to the leader


def test_an_observer_forwards_writes_to_the_leader():
    h, ctx = observing()
    h.on_message(ctx, "c1", Request(8, Create("/w", 1)))
    (fwd,) = ctx.sent(Forward)
    assert fwd.dst == "s3" and fwd.msg.txn.origin == "o1"


def test_observers_must_be_servers_and_leave_a_voter():
    with pytest.raises(ValueError, match="observers=.*'x9'"):
        ZkServer("s1", IDS, observers=("x9",))
    with pytest.raises(ValueError, match="no voting server"):
        ZkServer("s1", {"s1": 1}, observers=("s1",))


# -- on the simulator ---------------------------------------------------------------------------
def test_writes_through_an_observer_reach_every_tree():
    sim, names = build_ensemble(3, 3, observers=2)
    assert run_until_leader(sim) in ("s1", "s2", "s3")
    c = add_zk_client(sim, "c", names, server="o2")
    sim.run(until=sim.process(c.connect()))
    for i in range(5):
        res = run(sim, c.create(f"/k{i}", i))
        assert res.ok, res
    sim.run_for(50.0)
    snaps = trees(sim)
    assert all(s == snaps["s1"] for s in snaps.values()) and "/k4" in snaps["o1"]
    states = {n: sim.handler(n).state for n in names}
    assert states["o1"] == states["o2"] == "observing"


def test_an_ensemble_of_observers_without_a_voter_quorum_serves_no_writes():
    """Observers add no fault tolerance: with two of three voters down, no write commits, however
    many observers are up."""
    sim, names = build_ensemble(4, 3, observers=3)
    leader = run_until_leader(sim)
    for n in ("s1", "s2", "s3"):
        if n != leader:
            sim.crash(n)
    c = add_zk_client(sim, "c", names, server="o1", op_timeout_ms=100.0)
    sim.run_for(400.0)
    res = run(sim, c.connect(attempts=4))
    assert not res.ok
    assert not [e for e in sim.history.events if e.name == "commit" and e.time > 100]


def test_same_seed_same_history_with_observers():
    a = mixed_nemesis_run(7, 3, observers=2).history.to_json()
    assert a == mixed_nemesis_run(7, 3, observers=2).history.to_json()


def test_the_nemesis_hits_observers_too():
    """The sweep means something for observers only if they are crashed and paused too."""
    hit = set()
    for seed in range(10):
        run = mixed_nemesis_run(seed, 3, observers=2)
        hit |= {(f.verb, f.args["node"]) for f in run.history.faults if "node" in f.args}
    assert {("crash", "o1"), ("pause", "o1")} <= hit or {("crash", "o2"), ("pause", "o2")} <= hit


def test_the_checker_catches_an_observer_that_votes():
    run = mixed_nemesis_run(0, 3, observers=1)
    assert check_nemesis_run(run) == []
    events = run.history.events
    i = next(i for i, e in enumerate(events) if e.node == "o1" and e.name == "state")
    events[i] = replace(events[i], data={**events[i].data, "state": "following"})
    assert any("observer o1 became following" in p for p in check_nemesis_run(run))


def test_same_history_with_observers_under_another_pythonhashseed():
    """An ensemble with observers, under the nemesis and under load (capacity model on), gives
    the same history and throughput in a subprocess with another PYTHONHASHSEED."""
    import os
    import subprocess
    import sys

    code = (
        "from dslab.zk.nemesis import mixed_nemesis_run\n"
        "from dslab.zk.scaling import throughput_run\n"
        "print(mixed_nemesis_run(7, 3, observers=2).history.to_json())\n"
        "print(throughput_run(3, 3, 2, 0.1, warmup_ms=50.0, measure_ms=100.0))\n"
    )
    outs = []
    for hashseed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        outs.append(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                   text=True, check=True, timeout=300).stdout)
    assert outs[0] == outs[1], "replay with seed=7 (nemesis) and seed=3 (throughput)"
