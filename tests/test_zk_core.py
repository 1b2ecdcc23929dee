"""Unit tests of the ZAB server handler and the data tree, with a bare ``Context`` (no simulator).

One behaviour per test, named after the rule (Junqueira et al. 2011; Hunt et al. 2010; the notes).
"""

from __future__ import annotations

from dslab.core import Context, Request
from dslab.zk.messages import (
    Ack,
    AckEpoch,
    AckNewLeader,
    CloseSession,
    Commit,
    Create,
    CreateSession,
    Delete,
    Exists,
    FollowerInfo,
    FollowerPing,
    Forward,
    GetChildren,
    GetData,
    NewEpoch,
    NewLeader,
    Notification,
    Proposal,
    SetData,
    Sync,
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
    """A server whose tree already holds the session of client ``c1`` (every operation needs
    a live session)."""
    h = ZkServer(name, IDS)
    h.tree.apply(0, Txn(CreateSession(1000.0), "c1"))
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
    h.on_message(ctx, "s2", Notification(3, 5, 1, 4, "following"))
    assert h.state == "following" and h.leader == "s3"


def test_a_looking_server_does_not_join_a_leader_on_its_own_word():
    """A server that says it leads may have been elected on stale votes with an old history;
    joining it needs a quorum of *other* servers that already follow it (ZooKeeper's
    out-of-election check), else a newer history could be truncated to its older one."""
    h, ctx = server("s1")
    h.on_start(ctx)
    h.on_message(ctx, "s3", Notification(3, 5, 1, 4, "leading"))
    assert h.state == "looking"


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
    h.on_message(ctx, "s3", NewLeader(2, 1, (new,), 0, their_len=2, their_last=make_zxid(1, 2)))
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
    h.established, h.new_epoch = False, 1
    h.append(ctx, make_zxid(1, 1), txn("/a"))
    h.on_message(ctx, "s1", AckEpoch(1, 0, ()))  # s1 voted for this leader's epoch
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
def tree_with_session(session: str = "c") -> DataTree:
    t = DataTree()
    t.apply(1, Txn(CreateSession(1000.0), session))
    return t


def test_sequential_suffix_counts_the_parents_child_creations_not_deletions():
    """Checked against ZooKeeper 3.8 (tests/test_real_zookeeper.py): create, delete, create
    gives n-0000000000 then n-0000000001, while the parent's cversion, which counts creations
    and deletions of children, is 3."""
    t = tree_with_session()
    t.apply(2, Txn(Create("/q"), "c"))
    a, _ = t.apply(3, Txn(Create("/q/n-", sequential=True), "c"))
    t.apply(4, Txn(Delete(a), "c"))
    b, _ = t.apply(5, Txn(Create("/q/n-", sequential=True), "c"))
    assert (a, b) == ("/q/n-0000000000", "/q/n-0000000001")
    assert t.exists("/q").cversion == 3
    t.apply(6, Txn(Create("/q/x"), "c"))  # any child creation counts, sequential or not
    c, _ = t.apply(7, Txn(Create("/q/n-", sequential=True, ephemeral=True), "c"))
    assert c == "/q/n-0000000003"


def test_every_operation_on_an_expired_session_fails():
    """After CloseSession commits, the session is gone for good: writes of any kind fail with
    session_expired at every server (ZooKeeper's SESSIONEXPIRED)."""
    t = tree_with_session()
    t.apply(2, Txn(Create("/a", 1), "c"))
    t.apply(3, Txn(CloseSession("expired"), "c"))
    for z, op in enumerate([Create("/b"), SetData("/a", 2), Delete("/a")], start=4):
        err, changes = t.apply(z, Txn(op, "c"))
        assert isinstance(err, ZkError) and err.code == "session_expired", op
        assert changes == []
    assert t.get("/a")[0] == 1 and t.exists("/b") is None


def test_a_server_refuses_reads_on_an_expired_session():
    h, ctx = established_leader()
    h.tree.apply(1, Txn(CreateSession(1000.0), "c1"))
    h.tree.apply(2, Txn(CloseSession("expired"), "c1"))
    for i, body in enumerate([Exists("/"), GetData("/"), GetChildren("/"), Sync("/")]):
        h.on_message(ctx, "c1", Request(i, body))
        resp = ctx.sent()[-1].msg
        assert (resp.ok, resp.error) == (False, "session_expired"), body


def test_set_data_and_delete_check_the_version():
    t = tree_with_session()
    t.apply(1, Txn(Create("/a", 1), "c"))
    stat, _ = t.apply(2, Txn(SetData("/a", 2, version=0), "c"))
    assert stat.version == 1 and stat.mzxid == 2 and stat.czxid == 1
    err, _ = t.apply(3, Txn(SetData("/a", 3, version=0), "c"))
    assert isinstance(err, ZkError) and err.code == "bad_version"
    err, _ = t.apply(4, Txn(Delete("/a", version=5), "c"))
    assert err.code == "bad_version"


def test_ephemeral_nodes_need_a_live_session_and_die_with_it():
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
        h.propose(ctx, Txn(Create("/w", 1) if i == 0 else SetData("/w", 2), "c1"))
        h.on_message(ctx, "s1", Ack(1, h.last_zxid))
    events = [e.msg for e in ctx.sent(WatchEvent)]
    assert events == [WatchEvent("/w", "created", make_zxid(1, 1))]


# -- issue 7, bug 4: a stale leader kept alive by followers of a newer epoch ------------------
def stale_leader(epoch: int = 3) -> tuple[ZkServer, Context]:
    """s3 leads epoch ``epoch`` (discovery done: it proposed ``epoch``), no follower synced."""
    h, ctx = server("s3")
    ctx.storage["accepted_epoch"] = epoch
    ctx.storage["current_epoch"] = epoch
    h.become_leading(ctx)
    h.new_epoch = h.epoch = epoch
    h.infos = {"s3": epoch, "s1": epoch - 1, "s2": epoch - 1}
    return h, ctx


def test_a_leader_counts_only_followers_that_acknowledged_its_epoch():
    h, ctx = stale_leader(3)
    # s1 and s2 have moved on to epoch 4: they keep (re)joining, but never ack epoch 3
    for t in range(0, 400, 20):
        ctx.local_time = float(t)
        for peer in ("s1", "s2"):
            h.on_message(ctx, peer, FollowerInfo(accepted_epoch=4, zxids=()))
        h.on_timer(ctx, "tick")
        if h.state != "leading":
            break
    assert h.state == "looking", "a leader heard only from followers of a newer epoch"
    assert ctx.local_time <= h.config.sync_limit_ms + 2 * h.config.tick_ms


def test_a_follower_that_acked_the_epoch_keeps_its_leader_leading():
    h, ctx = stale_leader(3)
    h.on_message(ctx, "s1", AckEpoch(3, 2, ()))
    h.on_message(ctx, "s1", AckNewLeader(3, 0))
    assert h.established
    for t in range(20, 400, 20):
        ctx.local_time = float(t)
        h.on_message(ctx, "s1", FollowerPing(3, ()))
        h.on_timer(ctx, "tick")
    assert h.state == "leading"


def test_a_follower_votes_for_each_epoch_once():
    """Zab: a follower acknowledges NEWEPOCH(e) as a vote for one leader only. A repeat from the
    same leader is a vote again; the same epoch from a rival gets an ack that is not a vote."""
    h, ctx = follower_of("s3", epoch=1)
    h.on_message(ctx, "s3", NewEpoch(2))
    h.on_message(ctx, "s3", NewEpoch(2))  # the same leader re-sends it: still a vote
    assert [(e.dst, e.msg.vote) for e in ctx.sent(AckEpoch)] == [("s3", True), ("s3", True)]
    h.state, h.leader = "following", "s2"  # it now follows a rival that also picked epoch 2
    h.on_message(ctx, "s2", NewEpoch(2))
    assert [(e.dst, e.msg.vote) for e in ctx.sent(AckEpoch)][-1] == ("s2", False)
    assert h.state == "following"  # it may still be synchronised if s2 gets a quorum


def test_only_a_quorum_of_epoch_votes_establishes_a_leader():
    """Two would-be leaders can pick the same epoch; only one can get a quorum of votes."""
    h, ctx = stale_leader(2)
    h.on_message(ctx, "s1", AckEpoch(2, 1, (), vote=False))  # s1 voted for a rival of epoch 2
    h.on_message(ctx, "s1", AckNewLeader(2, 0))
    assert not h.established
    h.on_message(ctx, "s2", AckEpoch(2, 1, ()))
    h.on_message(ctx, "s2", AckNewLeader(2, 0))
    assert h.established


def test_a_follower_hears_its_leader_only_in_messages_a_leader_sends():
    """Two servers that each think the other leads must not keep each other alive: the
    messages a follower sends (FollowerInfo, FollowerPing) are no sign of a leader."""
    h, ctx = follower_of("s3", epoch=2)
    for t in range(0, 400, 20):
        ctx.local_time = float(t)
        h.on_message(ctx, "s3", FollowerPing(2, ()))
        h.on_message(ctx, "s3", FollowerInfo(2, ()))
        h.on_timer(ctx, "tick")
        if h.state != "following":
            break
    assert h.state == "looking"


def test_a_leader_that_hears_of_a_newer_accepted_epoch_steps_down():
    """A server that accepted epoch 4 can never acknowledge epoch 3 (Zab's promise); a leader
    of epoch 3 that learns of it gives way, so the next election picks an epoch above 4
    instead of leaving that server re-joining and leaving forever."""
    h, ctx = stale_leader(3)
    h.on_message(ctx, "s2", AckEpoch(3, 2, ()))
    h.on_message(ctx, "s1", FollowerInfo(accepted_epoch=4, zxids=()))
    assert h.state == "looking"
    assert not ctx.sent(NewEpoch)


def test_a_leader_not_established_within_the_init_limit_gives_up():
    """Followers that ack the epoch without voting for it (they promised it to a rival) keep
    answering; without a quorum of votes the leader must elect again, not wait forever."""
    h, ctx = stale_leader(2)
    for t in range(0, 600, 20):
        ctx.local_time = float(t)
        for peer in ("s1", "s2"):
            h.on_message(ctx, peer, AckEpoch(2, 1, (), vote=False))
        h.on_timer(ctx, "tick")
        if h.state != "leading":
            break
    assert h.state == "looking"
    assert ctx.local_time <= h.config.init_limit_ms + 2 * h.config.tick_ms


def test_a_follower_ignores_a_synchronisation_computed_from_a_log_it_no_longer_has():
    """A follower may ask to be synchronised twice (FollowerInfo on joining, again on its tick):
    the second NewLeader, computed from the older log, must not truncate what the first one
    brought (committed transactions) - it is stale."""
    h, ctx = follower_of("s3", epoch=1)
    h.serving = False
    a, b = (make_zxid(1, 1), txn("/a")), (make_zxid(1, 2), txn("/b"))
    for _ in range(2):  # both computed from the empty log the follower had
        h.on_message(ctx, "s3", NewLeader(1, 0, (a, b), make_zxid(1, 2), their_len=0, their_last=0))
    assert h.zxids() == (make_zxid(1, 1), make_zxid(1, 2))
    assert not [e for e in ctx.effects if getattr(e, "name", "") == "truncate"]
    assert len(ctx.sent(AckNewLeader)) == 1


def test_a_follower_not_yet_synchronised_ignores_proposals():
    h, ctx = follower_of("s3", epoch=1)
    h.serving = False
    h.on_message(ctx, "s3", Proposal(1, make_zxid(1, 1), 0, txn("/a")))
    assert h.log == [] and not ctx.sent(Ack)
