"""Unit tests of the ZAB server handler and the data tree, with a bare ``Context`` (no simulator).

One behaviour per test, named after the rule (Junqueira et al. 2011; Hunt et al. 2010; the notes).
"""

from __future__ import annotations

from dslab.core import Context, Request
from dslab.zk.messages import (
    Ack,
    AckEpoch,
    AckNewLeader,
    Commit,
    Create,
    Delete,
    Exists,
    FollowerInfo,
    Forward,
    NewEpoch,
    NewLeader,
    Notification,
    Proposal,
    SetData,
    Txn,
    WatchEvent,
    make_zxid,
    zxid_counter,
    zxid_epoch,
)
from dslab.zk.server import ZkServer, vote_is_better
from dslab.zk.tree import DataTree, ZkError

IDS = {"s1": 1, "s2": 2, "s3": 3}


def server(name: str = "s1") -> tuple[ZkServer, Context]:
    h = ZkServer(name, IDS)
    ctx = Context(name, peers=tuple(n for n in IDS if n != name))
    return h, ctx


def follower_of(leader: str = "s3", epoch: int = 1) -> tuple[ZkServer, Context]:
    h, ctx = server("s1")
    ctx.storage["current_epoch"] = epoch
    ctx.storage["accepted_epoch"] = epoch
    h.state, h.leader, h.epoch, h.serving = "following", leader, epoch, True
    return h, ctx


def established_leader() -> tuple[ZkServer, Context]:
    h, ctx = server("s3")
    ctx.storage["current_epoch"] = 1
    h.state, h.leader, h.epoch, h.established, h.serving = "leading", "s3", 1, True, True
    h.forward_to = ["s1", "s2"]
    h.match = {"s1": 0, "s2": 0}
    return h, ctx


def txn(path: str) -> Txn:
    return Txn(Create(path, 1), "c1")


# -- zxid and votes ---------------------------------------------------------------------------
def test_zxid_is_epoch_in_high_32_bits_and_counter_in_low_32_bits():
    z = make_zxid(3, 7)
    assert z == (3 << 32) | 7
    assert (zxid_epoch(z), zxid_counter(z)) == (3, 7)
    assert make_zxid(2, 0xFFFF_FFFF) < make_zxid(3, 1)  # a new epoch beats any old counter


def test_vote_compares_zxid_first_then_myid():
    assert vote_is_better((1, make_zxid(1, 5), 1), (1, make_zxid(1, 4), 3))
    assert not vote_is_better((1, make_zxid(1, 4), 3), (1, make_zxid(1, 5), 1))
    assert vote_is_better((1, make_zxid(1, 5), 3), (1, make_zxid(1, 5), 2))


def test_vote_compares_epoch_before_zxid():
    assert vote_is_better((2, make_zxid(1, 3), 1), (1, make_zxid(1, 9), 3))


def test_a_looking_server_votes_for_itself_and_tells_everyone():
    h, ctx = server("s1")
    h.on_start(ctx)
    notes = ctx.sent(Notification)
    assert sorted(e.dst for e in notes) == ["s2", "s3"]
    assert all(e.msg.leader == 1 and e.msg.state == "looking" for e in notes)


def test_a_looking_server_adopts_a_better_vote_and_rebroadcasts_it():
    h, ctx = server("s1")
    h.on_start(ctx)
    ctx.take_effects()
    h.on_message(ctx, "s2", Notification(2, 0, 0, 1, "looking"))
    assert h.vote == (0, 0, 2)
    assert {e.msg.leader for e in ctx.sent(Notification)} == {2}


def test_a_quorum_of_equal_votes_elects_after_the_finalize_wait():
    h, ctx = server("s1")
    h.on_start(ctx)
    h.on_message(ctx, "s3", Notification(3, 0, 0, 1, "looking"))
    assert h.state == "looking" and "finalize" in ctx.timers()
    h.on_timer(ctx, "finalize")
    assert h.state == "following" and h.leader == "s3"
    assert ctx.sent(FollowerInfo)[-1].dst == "s3"


def test_a_restarted_server_joins_the_leader_a_quorum_reports():
    h, ctx = server("s1")
    h.on_start(ctx)
    h.round = 1
    h.on_message(ctx, "s3", Notification(3, 5, 1, 4, "leading"))
    assert h.state == "following" and h.leader == "s3"


# -- discovery and synchronisation ------------------------------------------------------------
def test_a_new_leaders_epoch_is_higher_than_any_epoch_seen():
    h, ctx = server("s3")
    ctx.storage["accepted_epoch"] = 2
    h.become_leading(ctx)
    h.on_message(ctx, "s1", FollowerInfo(accepted_epoch=5, zxids=()))
    assert ctx.storage["accepted_epoch"] == 6
    assert [e.msg for e in ctx.sent(NewEpoch)] == [NewEpoch(6)]


def test_a_follower_rejects_an_epoch_older_than_it_accepted():
    h, ctx = follower_of(epoch=4)
    h.on_message(ctx, "s3", NewEpoch(3))
    assert h.state == "looking"
    assert ctx.storage["accepted_epoch"] == 4


def test_a_follower_persists_a_new_epoch_before_acking_it():
    h, ctx = follower_of(epoch=1)
    h.on_message(ctx, "s3", NewEpoch(2))
    assert ctx.storage["accepted_epoch"] == 2
    assert isinstance(ctx.sent()[-1].msg, AckEpoch)


def test_synchronisation_truncates_uncommitted_proposals_and_sends_the_missing_ones():
    h, ctx = follower_of(epoch=1)
    for c in (1, 2):
        h.append(ctx, make_zxid(1, c), txn(f"/a{c}"))
    new = (make_zxid(2, 1), txn("/b"))
    h.on_message(ctx, "s3", NewLeader(2, keep=1, entries=(new,), commit_zxid=0))
    assert h.zxids() == (make_zxid(1, 1), make_zxid(2, 1))
    assert ctx.storage["log_len"] == 2 and ctx.storage["current_epoch"] == 2
    assert ctx.sent(AckNewLeader)[-1].msg == AckNewLeader(2, make_zxid(2, 1))


def test_the_leader_sends_only_what_follows_the_common_prefix():
    h, ctx = established_leader()
    for c in (1, 2, 3):
        h.append(ctx, make_zxid(1, c), txn(f"/a{c}"))
    h.send_new_leader(ctx, "s1", (make_zxid(1, 1), make_zxid(1, 2), make_zxid(0, 9)))
    msg = ctx.sent(NewLeader)[-1].msg
    assert msg.keep == 2 and [z for z, _ in msg.entries] == [make_zxid(1, 3)]


def test_the_leader_is_established_and_commits_its_history_on_a_quorum_of_acks():
    h, ctx = established_leader()
    h.established = False
    h.append(ctx, make_zxid(1, 1), txn("/a"))
    h.on_message(ctx, "s1", AckNewLeader(1, make_zxid(1, 1)))
    assert h.established and h.commit_index == 1
    assert "/a" in h.tree.nodes


# -- broadcast --------------------------------------------------------------------------------
def test_a_follower_acks_a_proposal_only_after_persisting_it():
    h, ctx = follower_of()
    z = make_zxid(1, 1)
    h.on_message(ctx, "s3", Proposal(1, z, 0, txn("/a")))
    assert ctx.storage["log/00000000"][0] == z and ctx.storage["log_len"] == 1
    assert ctx.sent(Ack)[-1].msg == Ack(1, z)


def test_a_follower_does_not_ack_a_proposal_after_a_gap():
    h, ctx = follower_of()
    h.on_message(ctx, "s3", Proposal(1, make_zxid(1, 2), make_zxid(1, 1), txn("/b")))
    assert not ctx.sent(Ack) and h.log == []
    assert isinstance(ctx.sent()[-1].msg, FollowerInfo)  # asks to be resynchronised


def test_a_follower_ignores_a_proposal_of_another_epoch():
    h, ctx = follower_of(epoch=2)
    h.on_message(ctx, "s3", Proposal(1, make_zxid(1, 1), 0, txn("/a")))
    assert not ctx.sent(Ack) and h.log == []


def test_the_leader_commits_only_after_a_quorum_acks():
    h, ctx = established_leader()
    z = h.propose(ctx, txn("/a"))
    assert h.commit_index == 0 and not ctx.sent(Commit)
    h.on_message(ctx, "s1", Ack(1, z))
    assert h.commit_index == 1
    assert [e.msg for e in ctx.sent(Commit)] == [Commit(1, z), Commit(1, z)]


def test_commits_are_sent_in_zxid_order():
    h, ctx = established_leader()
    zs = [h.propose(ctx, txn(f"/a{i}")) for i in range(3)]
    h.on_message(ctx, "s2", Ack(1, zs[2]))  # an ack covers the proposals before it (FIFO)
    sent = [e.msg.zxid for e in ctx.sent(Commit) if e.dst == "s1"]
    assert sent == zs


def test_a_follower_applies_commits_in_zxid_order():
    h, ctx = follower_of()
    zs = [make_zxid(1, i) for i in (1, 2, 3)]
    prev = 0
    for i, z in enumerate(zs):
        h.on_message(ctx, "s3", Proposal(1, z, prev, txn(f"/a{i}")))
        prev = z
    h.on_message(ctx, "s3", Commit(1, zs[1]))
    assert h.applied == 2 and sorted(h.tree.nodes) == ["/", "/a0", "/a1"]


def test_a_follower_forwards_writes_to_the_leader():
    h, ctx = follower_of()
    h.on_message(ctx, "c1", Request(7, Create("/x", 1)))
    fwd = ctx.sent(Forward)[-1]
    assert fwd.dst == "s3" and fwd.msg.txn.request_id == 7 and fwd.msg.txn.origin == "s1"


def test_a_server_that_is_not_synchronised_refuses_requests_definitely():
    h, ctx = server("s1")
    h.on_start(ctx)
    h.on_message(ctx, "c1", Request(1, Exists("/")))
    resp = ctx.sent()[-1].msg
    assert resp.ok is False and resp.error == "not_ready"


# -- the data tree and watches ----------------------------------------------------------------
def test_sequential_suffix_comes_from_the_parents_cversion():
    t = DataTree()
    t.apply(1, Txn(Create("/q"), "c"))
    a, _ = t.apply(2, Txn(Create("/q/n-", sequential=True), "c"))
    t.apply(3, Txn(Delete(a), "c"))
    b, _ = t.apply(4, Txn(Create("/q/n-", sequential=True), "c"))
    assert (a, b) == ("/q/n-0000000000", "/q/n-0000000002")


def test_set_data_and_delete_check_the_version():
    t = DataTree()
    t.apply(1, Txn(Create("/a", 1), "c"))
    stat, _ = t.apply(2, Txn(SetData("/a", 2, version=0), "c"))
    assert stat.version == 1 and stat.mzxid == 2 and stat.czxid == 1
    err, _ = t.apply(3, Txn(SetData("/a", 3, version=0), "c"))
    assert isinstance(err, ZkError) and err.code == "bad_version"
    err, _ = t.apply(4, Txn(Delete("/a", version=5), "c"))
    assert err.code == "bad_version"


def test_ephemeral_nodes_need_a_live_session_and_die_with_it():
    from dslab.zk.messages import CloseSession, CreateSession

    t = DataTree()
    err, _ = t.apply(1, Txn(Create("/e", ephemeral=True), "s"))
    assert err.code == "session_expired"
    t.apply(2, Txn(CreateSession(100.0), "s"))
    t.apply(3, Txn(Create("/e", ephemeral=True), "s"))
    assert t.exists("/e").ephemeral_owner == "s"
    _, changes = t.apply(4, Txn(CloseSession("expired"), "s"))
    assert t.exists("/e") is None and ("/e", "deleted") in changes


def test_a_watch_fires_once():
    h, ctx = established_leader()
    h.on_message(ctx, "c1", Request(1, Exists("/w", watch=True)))
    for i in range(2):
        h.propose(ctx, Txn(Create("/w", 1) if i == 0 else SetData("/w", 2), "c9"))
        h.on_message(ctx, "s1", Ack(1, h.last_zxid))
    events = [e.msg for e in ctx.sent(WatchEvent)]
    assert events == [WatchEvent("/w", "created", make_zxid(1, 1))]
