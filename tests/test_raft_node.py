"""Figure 2's rules, one per test, on a bare RaftNode driven with a dslab Context (no simulator).

Each test builds a node, feeds it one event (a message, a timer, a proposal) and inspects what
it did: the effects it recorded (sends, timers, log events), its state, and its durable storage.
"""

from __future__ import annotations

import random

import pytest

from dslab.core import Context, Request, Storage
from dslab.raft.config import RaftConfig
from dslab.raft.log import RaftLog
from dslab.raft.messages import (
    AppendEntries,
    AppendEntriesReply,
    Entry,
    InstallSnapshot,
    InstallSnapshotReply,
    RequestVote,
    RequestVoteReply,
)
from dslab.raft.node import CANDIDATE, ELECTION_TIMER, FOLLOWER, HEARTBEAT_TIMER, LEADER, RaftNode
from dslab.raft.persist import CURRENT_TERM, SNAPSHOT, VOTED_FOR, Persister, entry_key

PEERS = ("s1", "s2", "s3")


class DiskAtSendContext(Context):
    """A Context that notes what durable storage held at the moment of each send."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.disk_at_send: list[tuple[object, dict]] = []

    def send(self, dst, msg):
        self.disk_at_send.append((msg, {k: self.storage[k] for k in self.storage}))
        super().send(dst, msg)


class Recorder(RaftNode):
    """A RaftNode whose service records what it applies and restores."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.applied: list[tuple[int, object]] = []
        self.restored: list[object] = []

    def apply(self, ctx, index, command):
        self.applied.append((index, command))

    def restore_snapshot(self, data):
        self.restored.append(data)


def boot(
    name: str = "s1",
    *,
    storage: Storage | None = None,
    config: RaftConfig | None = None,
    peers: tuple[str, ...] = PEERS,
    seed: int = 0,
) -> tuple[Recorder, DiskAtSendContext]:
    """A booted node and its context, with the boot's effects cleared."""
    ctx = DiskAtSendContext(
        name,
        rng=random.Random(seed),
        storage=storage if storage is not None else Storage(),
        peers=tuple(p for p in peers if p != name),
    )
    node = Recorder(config)
    node.on_start(ctx)
    ctx.take_effects()
    return node, ctx


def with_log(node: RaftNode, ctx: Context, terms: list[int], term: int | None = None) -> None:
    """Give ``node`` a log whose entries have ``terms`` (commands "c1", "c2", ...)."""
    node.current_term = term if term is not None else (terms[-1] if terms else 0)
    node.save_term_and_vote()
    for i, t in enumerate(terms, start=1):
        node.log.append(Entry(t, f"c{i}"))
    node.save_entries(1)


def make_leader(node: RaftNode, ctx: Context, term: int) -> None:
    node.current_term = term - 1
    node.become_candidate(ctx)
    for peer in node.peers:
        node.on_message(ctx, peer, RequestVoteReply(term, True))
    assert node.role == LEADER
    ctx.take_effects()


def sent(ctx: Context, msg_type: type) -> list:
    return [(s.dst, s.msg) for s in ctx.sent(msg_type)]


def events(ctx: Context, name: str) -> list[dict]:
    return [e.data for e in ctx.effects if getattr(e, "name", None) == name and hasattr(e, "data")]


# ================================================================================================
# Boot and election timer (§5.2)
# ================================================================================================
def test_boots_as_follower_in_term_zero_and_logs_its_role():
    ctx = Context("s1", peers=("s2", "s3"))
    node = RaftNode()
    node.on_start(ctx)
    assert (node.role, node.current_term, node.voted_for) == (FOLLOWER, 0, None)
    assert events(ctx, "role") == [{"role": FOLLOWER, "term": 0}]
    assert ELECTION_TIMER in ctx.timers()


def test_election_timeout_is_randomized_within_the_config_range():
    config = RaftConfig(election_timeout_min_ms=200, election_timeout_max_ms=400)
    draws = []
    for seed in range(50):
        ctx = Context("s1", rng=random.Random(seed), peers=("s2", "s3"))
        RaftNode(config).on_start(ctx)
        draws.append(ctx.timers()[ELECTION_TIMER])
    assert all(200 <= d <= 400 for d in draws)
    assert len(set(draws)) == len(draws)  # randomized: no two boots drew the same timeout


def test_election_timeout_makes_a_follower_a_candidate_that_asks_every_peer():
    node, ctx = boot()
    with_log(node, ctx, [1, 1, 2], term=2)
    node.on_timer(ctx, ELECTION_TIMER)
    assert (node.role, node.current_term, node.voted_for) == (CANDIDATE, 3, "s1")
    assert sent(ctx, RequestVote) == [
        ("s2", RequestVote(3, "s1", last_log_index=3, last_log_term=2)),
        ("s3", RequestVote(3, "s1", last_log_index=3, last_log_term=2)),
    ]
    assert ELECTION_TIMER in ctx.timers()  # the election timer was reset
    assert events(ctx, "role")[-1] == {"role": CANDIDATE, "term": 3}


def test_candidate_persists_its_new_term_and_self_vote_before_asking_for_votes():
    node, ctx = boot()
    node.on_timer(ctx, ELECTION_TIMER)
    for msg, disk in ctx.disk_at_send:
        assert (disk[CURRENT_TERM], disk[VOTED_FOR]) == (msg.term, "s1")


def test_votes_from_a_majority_make_a_candidate_leader_that_sends_heartbeats_at_once():
    node, ctx = boot()
    node.on_timer(ctx, ELECTION_TIMER)
    ctx.take_effects()
    node.on_message(ctx, "s2", RequestVoteReply(1, True))
    assert node.role == LEADER
    assert sent(ctx, AppendEntries) == [
        ("s2", AppendEntries(1, "s1", 0, 0, (), 0)),
        ("s3", AppendEntries(1, "s1", 0, 0, (), 0)),
    ]
    timers = ctx.timers()
    assert timers[HEARTBEAT_TIMER] == RaftConfig().heartbeat_interval_ms
    assert events(ctx, "role") == [{"role": LEADER, "term": 1}]


def test_a_vote_refused_or_from_an_old_term_does_not_count():
    node, ctx = boot(peers=("s1", "s2", "s3", "s4", "s5"))
    node.current_term = 4
    node.on_timer(ctx, ELECTION_TIMER)  # term 5
    node.on_message(ctx, "s2", RequestVoteReply(5, False))
    node.on_message(ctx, "s3", RequestVoteReply(4, True))  # stale
    assert node.role == CANDIDATE
    node.on_message(ctx, "s4", RequestVoteReply(5, True))
    node.on_message(ctx, "s4", RequestVoteReply(5, True))  # a duplicate is one vote
    assert node.role == CANDIDATE
    node.on_message(ctx, "s5", RequestVoteReply(5, True))
    assert node.role == LEADER


def test_a_single_server_elects_itself():
    node, ctx = boot(peers=("s1",))
    node.on_timer(ctx, ELECTION_TIMER)
    assert node.role == LEADER
    index, term, ok = node.start(ctx, "x")
    assert (index, term, ok) == (1, 1, True)
    assert node.commit_index == 1 and node.applied == [(1, "x")]


# ================================================================================================
# RequestVote receiver (§5.2, §5.4.1)
# ================================================================================================
def test_grants_at_most_one_vote_per_term():
    node, ctx = boot()
    node.on_message(ctx, "s2", RequestVote(1, "s2", 0, 0))
    node.on_message(ctx, "s3", RequestVote(1, "s3", 0, 0))
    node.on_message(ctx, "s2", RequestVote(1, "s2", 0, 0))  # a retry of the granted request
    assert [m.vote_granted for _, m in sent(ctx, RequestVoteReply)] == [True, False, True]
    assert node.voted_for == "s2"


def test_a_vote_is_persisted_before_the_reply_leaves():
    node, ctx = boot()
    node.on_message(ctx, "s2", RequestVote(7, "s2", 0, 0))
    (msg, disk) = ctx.disk_at_send[-1]
    assert isinstance(msg, RequestVoteReply) and msg.vote_granted
    assert (disk[CURRENT_TERM], disk[VOTED_FOR]) == (7, "s2")


def test_granting_a_vote_resets_the_election_timer_and_refusing_does_not():
    node, ctx = boot()
    with_log(node, ctx, [2])
    ctx.take_effects()
    node.on_message(ctx, "s2", RequestVote(2, "s2", 0, 0))  # log older: refused
    assert ELECTION_TIMER not in ctx.timers()
    node.on_message(ctx, "s3", RequestVote(2, "s3", 1, 2))
    assert ELECTION_TIMER in ctx.timers()


def test_rejects_a_candidate_whose_last_term_is_older():
    node, ctx = boot()
    with_log(node, ctx, [1, 3])
    node.on_message(ctx, "s2", RequestVote(4, "s2", last_log_index=10, last_log_term=2))
    ((_, reply),) = sent(ctx, RequestVoteReply)
    assert reply == RequestVoteReply(4, False)
    assert node.voted_for is None


def test_rejects_a_candidate_with_the_same_last_term_but_a_shorter_log():
    node, ctx = boot()
    with_log(node, ctx, [1, 2, 2])
    node.on_message(ctx, "s2", RequestVote(3, "s2", last_log_index=2, last_log_term=2))
    assert sent(ctx, RequestVoteReply)[0][1].vote_granted is False


def test_grants_a_candidate_whose_log_is_as_up_to_date():
    node, ctx = boot()
    with_log(node, ctx, [1, 2, 2])
    node.on_message(ctx, "s2", RequestVote(3, "s2", last_log_index=3, last_log_term=2))
    assert sent(ctx, RequestVoteReply)[0][1].vote_granted is True


def test_rejects_a_vote_request_from_an_older_term():
    node, ctx = boot()
    with_log(node, ctx, [], term=5)
    node.on_message(ctx, "s2", RequestVote(4, "s2", 0, 0))
    assert sent(ctx, RequestVoteReply) == [("s2", RequestVoteReply(5, False))]


# ================================================================================================
# All servers: a higher term converts to follower
# ================================================================================================
@pytest.mark.parametrize(
    "msg",
    [
        RequestVote(9, "s2", 0, 0),
        RequestVoteReply(9, False),
        AppendEntries(9, "s2", 0, 0, (), 0),
        AppendEntriesReply(9, False),
        InstallSnapshotReply(9),
    ],
    ids=lambda m: type(m).__name__,
)
def test_any_message_with_a_higher_term_makes_a_leader_a_follower_of_that_term(msg):
    node, ctx = boot()
    make_leader(node, ctx, term=3)
    node.on_message(ctx, "s2", msg)
    assert (node.role, node.current_term) == (FOLLOWER, 9)
    assert node.voted_for in (None, "s2")  # the new term's vote, if any, went to the sender
    assert ctx.storage[CURRENT_TERM] == 9
    assert events(ctx, "role")[0] == {"role": FOLLOWER, "term": 9}
    assert HEARTBEAT_TIMER not in ctx.timers() and ELECTION_TIMER in ctx.timers()


def test_a_candidate_steps_down_for_a_leader_of_its_own_term():
    node, ctx = boot()
    node.on_timer(ctx, ELECTION_TIMER)  # candidate in term 1
    node.on_message(ctx, "s2", AppendEntries(1, "s2", 0, 0, (), 0))
    assert (node.role, node.current_term, node.leader_id) == (FOLLOWER, 1, "s2")
    assert sent(ctx, AppendEntriesReply)[-1][1].success


# ================================================================================================
# AppendEntries receiver (§5.3)
# ================================================================================================
def test_append_entries_from_an_older_term_is_rejected():
    node, ctx = boot()
    with_log(node, ctx, [1, 2], term=3)
    node.on_message(ctx, "s2", AppendEntries(2, "s2", 2, 2, (Entry(2, "x"),), 2))
    assert sent(ctx, AppendEntriesReply) == [("s2", AppendEntriesReply(3, False))]
    assert node.log.last_index == 2 and node.commit_index == 0


def test_append_entries_resets_the_election_timer():
    node, ctx = boot()
    node.on_message(ctx, "s2", AppendEntries(1, "s2", 0, 0, (), 0))
    assert ELECTION_TIMER in ctx.timers()
    assert node.leader_id == "s2"


def test_rejects_when_the_log_has_no_entry_at_prev_log_index_and_reports_its_length():
    node, ctx = boot()
    with_log(node, ctx, [1, 1])
    node.on_message(ctx, "s2", AppendEntries(2, "s2", 5, 2, (Entry(2, "x"),), 0))
    reply = sent(ctx, AppendEntriesReply)[0][1]
    assert (reply.success, reply.conflict_term, reply.conflict_index) == (False, 0, 3)


def test_rejects_a_prev_log_term_mismatch_and_reports_the_conflicting_term_and_its_first_index():
    node, ctx = boot()
    with_log(node, ctx, [1, 2, 2, 2], term=4)
    node.on_message(ctx, "s2", AppendEntries(4, "s2", 4, 3, (), 0))
    reply = sent(ctx, AppendEntriesReply)[0][1]
    assert (reply.success, reply.conflict_term, reply.conflict_index) == (False, 2, 2)
    assert node.log.last_index == 4  # a rejection changes nothing


def test_deletes_a_conflicting_entry_and_all_that_follow_then_appends_the_new_ones():
    node, ctx = boot()
    with_log(node, ctx, [1, 1, 2, 2])
    new = (Entry(3, "n3"), Entry(3, "n4"))
    node.on_message(ctx, "s2", AppendEntries(3, "s2", 2, 1, new, 0))
    assert [node.log.entry(i) for i in range(1, 5)] == [Entry(1, "c1"), Entry(1, "c2"), *new]
    assert sent(ctx, AppendEntriesReply)[0][1] == AppendEntriesReply(3, True, match_index=4)


def test_a_stale_append_entries_does_not_truncate_entries_that_match():
    """A delayed, shorter AppendEntries must not delete entries a later one appended."""
    node, ctx = boot()
    with_log(node, ctx, [1, 1, 1])
    node.on_message(ctx, "s2", AppendEntries(1, "s2", 0, 0, (Entry(1, "c1"),), 0))
    assert node.log.last_index == 3
    assert sent(ctx, AppendEntriesReply)[0][1].match_index == 1


def test_new_entries_are_persisted_before_the_reply_leaves():
    node, ctx = boot()
    entries = (Entry(1, "a"), Entry(1, "b"))
    node.on_message(ctx, "s2", AppendEntries(1, "s2", 0, 0, entries, 0))
    msg, disk = ctx.disk_at_send[-1]
    assert isinstance(msg, AppendEntriesReply) and msg.success
    assert disk[entry_key(1)] == (1, "a") and disk[entry_key(2)] == (1, "b")
    assert disk[CURRENT_TERM] == 1


def test_commit_index_is_min_of_leader_commit_and_index_of_last_new_entry():
    node, ctx = boot()
    node.on_message(ctx, "s2", AppendEntries(1, "s2", 0, 0, (Entry(1, "a"), Entry(1, "b")), 5))
    assert node.commit_index == 2  # leaderCommit 5, but we only know entries up to 2
    node.on_message(ctx, "s2", AppendEntries(1, "s2", 2, 1, (Entry(1, "c"),), 1))
    assert node.commit_index == 2  # never moves backwards


def test_a_heartbeat_commits_only_what_it_proved_we_share_with_the_leader():
    node, ctx = boot()
    with_log(node, ctx, [1, 1, 1])  # entries 2 and 3 might not be the leader's
    node.on_message(ctx, "s2", AppendEntries(2, "s2", 1, 1, (), 3))
    assert node.commit_index == 1


def test_committed_entries_are_applied_in_index_order():
    node, ctx = boot()
    entries = tuple(Entry(1, f"x{i}") for i in range(1, 4))
    node.on_message(ctx, "s2", AppendEntries(1, "s2", 0, 0, entries, 2))
    assert node.applied == [(1, "x1"), (2, "x2")]
    node.on_message(ctx, "s2", AppendEntries(1, "s2", 3, 1, (), 3))
    assert node.applied == [(1, "x1"), (2, "x2"), (3, "x3")]
    assert node.last_applied == 3


# ================================================================================================
# Leaders (§5.3, §5.4.2)
# ================================================================================================
def test_start_on_a_follower_is_refused():
    node, ctx = boot()
    assert node.start(ctx, "x")[2] is False
    assert node.log.last_index == 0


def test_start_on_a_leader_appends_persists_and_replicates():
    node, ctx = boot()
    make_leader(node, ctx, term=1)
    for peer in ("s2", "s3"):  # the heartbeats sent on election are answered
        node.on_message(ctx, peer, AppendEntriesReply(1, True, match_index=0))
    assert node.start(ctx, "x") == (1, 1, True)
    assert ctx.storage[entry_key(1)] == (1, "x")
    assert sent(ctx, AppendEntries) == [
        (p, AppendEntries(1, "s1", 0, 0, (Entry(1, "x"),), 0)) for p in ("s2", "s3")
    ]


def test_leader_commits_an_entry_of_its_term_stored_on_a_majority():
    node, ctx = boot()
    make_leader(node, ctx, term=1)
    node.start(ctx, "x")
    node.on_message(ctx, "s2", AppendEntriesReply(1, True, match_index=1))
    assert node.commit_index == 1 and node.applied == [(1, "x")]
    assert events(ctx, "commit") == [{"index": 1, "term": 1}]


def test_leader_does_not_commit_an_entry_of_an_earlier_term_by_counting_replicas():
    """Figure 8: an entry from term 2, now on a majority, may still be overwritten."""
    node, ctx = boot()
    with_log(node, ctx, [1, 2], term=3)
    make_leader(node, ctx, term=4)
    node.on_message(ctx, "s2", AppendEntriesReply(4, True, match_index=2))
    assert node.commit_index == 0
    # Once an entry of the current term is on a majority, everything before it commits too.
    node.start(ctx, "now")
    node.on_message(ctx, "s2", AppendEntriesReply(4, True, match_index=3))
    assert node.commit_index == 3
    assert [i for i, _ in node.applied] == [1, 2, 3]


def test_leader_skips_a_whole_conflicting_term_it_does_not_have():
    node, ctx = boot()
    with_log(node, ctx, [1, 1, 1, 4, 4], term=5)
    make_leader(node, ctx, term=6)
    node.on_message(ctx, "s2", AppendEntriesReply(6, False, conflict_term=3, conflict_index=2))
    assert node.next_index["s2"] == 2
    ((dst, retry),) = sent(ctx, AppendEntries)  # retried at once
    assert dst == "s2" and retry.prev_log_index == 1 and len(retry.entries) == 4


def test_leader_retries_after_its_last_entry_of_the_conflicting_term():
    node, ctx = boot()
    with_log(node, ctx, [1, 1, 2, 2, 4], term=5)
    make_leader(node, ctx, term=6)
    node.on_message(ctx, "s2", AppendEntriesReply(6, False, conflict_term=2, conflict_index=3))
    assert node.next_index["s2"] == 5


def test_leader_backs_up_to_the_end_of_a_short_follower_log():
    node, ctx = boot()
    with_log(node, ctx, [1, 1, 1, 1], term=1)
    make_leader(node, ctx, term=2)
    node.on_message(ctx, "s2", AppendEntriesReply(2, False, conflict_term=0, conflict_index=2))
    assert node.next_index["s2"] == 2


def test_a_stale_success_never_moves_match_index_backwards():
    node, ctx = boot()
    make_leader(node, ctx, term=1)
    for c in "abc":
        node.start(ctx, c)
    node.on_message(ctx, "s2", AppendEntriesReply(1, True, match_index=3))
    node.on_message(ctx, "s2", AppendEntriesReply(1, True, match_index=1))
    node.on_message(ctx, "s2", AppendEntriesReply(1, False, conflict_index=1))
    assert node.match_index["s2"] == 3 and node.next_index["s2"] == 4


def test_heartbeat_timer_sends_append_entries_and_rearms():
    node, ctx = boot()
    make_leader(node, ctx, term=1)
    node.on_timer(ctx, HEARTBEAT_TIMER)
    assert [dst for dst, _ in sent(ctx, AppendEntries)] == ["s2", "s3"]
    assert HEARTBEAT_TIMER in ctx.timers()


# ================================================================================================
# Crash and restart: only storage survives
# ================================================================================================
def test_a_restarted_node_recovers_term_vote_and_log_from_storage():
    node, ctx = boot()
    node.on_message(ctx, "s2", RequestVote(3, "s2", 0, 0))
    node.on_message(ctx, "s2", AppendEntries(3, "s2", 0, 0, (Entry(3, "a"), Entry(3, "b")), 1))
    again, _ = boot(storage=ctx.storage)
    assert (again.current_term, again.voted_for) == (3, "s2")
    assert [again.log.entry(i) for i in (1, 2)] == [Entry(3, "a"), Entry(3, "b")]
    assert again.commit_index == 0  # volatile: learned again from the leader


def test_truncated_entries_are_gone_from_storage_too():
    node, ctx = boot()
    with_log(node, ctx, [1, 1, 1, 1])
    node.on_message(ctx, "s2", AppendEntries(2, "s2", 1, 1, (Entry(2, "z"),), 0))
    assert entry_key(3) not in ctx.storage and entry_key(4) not in ctx.storage
    again, _ = boot(storage=ctx.storage)
    assert again.log.last_index == 2 and again.log.entry(2) == Entry(2, "z")


# ================================================================================================
# Snapshots (§7)
# ================================================================================================
def test_snapshot_compacts_the_log_and_persists_the_snapshot():
    node, ctx = boot()
    entries = tuple(Entry(1, f"x{i}") for i in range(1, 6))
    node.on_message(ctx, "s2", AppendEntries(1, "s2", 0, 0, entries, 4))
    size_before = node.raft_state_size()
    node.snapshot(ctx, 3, "state@3")
    assert (node.log.snapshot_index, node.log.snapshot_term, node.log.last_index) == (3, 1, 5)
    assert ctx.storage[SNAPSHOT] == "state@3"
    assert entry_key(3) not in ctx.storage and entry_key(4) in ctx.storage
    assert node.raft_state_size() < size_before
    assert node.raft_state_size() == sum(
        len(repr(ctx.storage[k])) for k in ctx.storage if k != SNAPSHOT
    )


def test_a_snapshot_cannot_include_unapplied_entries():
    node, ctx = boot()
    node.on_message(ctx, "s2", AppendEntries(1, "s2", 0, 0, (Entry(1, "a"),), 0))
    with pytest.raises(ValueError, match="not been applied"):
        node.snapshot(ctx, 1, "too early")


def test_a_restarted_node_restores_its_snapshot_and_resumes_after_it():
    node, ctx = boot()
    entries = tuple(Entry(1, f"x{i}") for i in range(1, 6))
    node.on_message(ctx, "s2", AppendEntries(1, "s2", 0, 0, entries, 4))
    node.snapshot(ctx, 4, "state@4")
    again, _ = boot(storage=ctx.storage)
    assert again.restored == ["state@4"]
    assert (again.commit_index, again.last_applied, again.log.last_index) == (4, 4, 5)


def test_leader_sends_its_snapshot_to_a_follower_that_needs_compacted_entries():
    node, ctx = boot()
    make_leader(node, ctx, term=1)
    for c in "abcd":
        node.start(ctx, c)
    node.on_message(ctx, "s2", AppendEntriesReply(1, True, match_index=4))
    node.snapshot(ctx, 3, "state@3")
    ctx.take_effects()
    node.on_message(ctx, "s3", AppendEntriesReply(1, False, conflict_index=1))
    assert sent(ctx, InstallSnapshot) == [("s3", InstallSnapshot(1, "s1", 3, 1, "state@3"))]
    node.on_message(ctx, "s3", InstallSnapshotReply(1, 3))
    assert node.match_index["s3"] == 3
    assert sent(ctx, AppendEntries)[-1][1].prev_log_index == 3  # then the rest of the log


def test_install_snapshot_replaces_a_conflicting_log():
    node, ctx = boot()
    with_log(node, ctx, [1, 1, 1])
    node.on_message(ctx, "s2", InstallSnapshot(2, "s2", 5, 2, "state@5"))
    assert node.restored == ["state@5"]
    assert (node.log.snapshot_index, node.log.last_index, node.commit_index) == (5, 5, 5)
    assert sent(ctx, InstallSnapshotReply) == [("s2", InstallSnapshotReply(2, 5))]
    assert all(entry_key(i) not in ctx.storage for i in (1, 2, 3))
    assert ctx.storage[SNAPSHOT] == "state@5"


def test_install_snapshot_keeps_the_entries_that_follow_a_matching_prefix():
    node, ctx = boot()
    with_log(node, ctx, [1, 1, 1, 1])
    node.on_message(ctx, "s2", InstallSnapshot(1, "s2", 2, 1, "state@2"))
    assert (node.log.snapshot_index, node.log.last_index) == (2, 4)
    assert Persister(ctx.storage).load().log.last_index == 4


def test_install_snapshot_older_than_the_commit_index_is_ignored():
    node, ctx = boot()
    entries = tuple(Entry(1, f"x{i}") for i in range(1, 4))
    node.on_message(ctx, "s2", AppendEntries(1, "s2", 0, 0, entries, 3))
    node.on_message(ctx, "s2", InstallSnapshot(1, "s2", 2, 1, "old"))
    assert node.restored == [] and node.log.last_index == 3
    assert sent(ctx, InstallSnapshotReply)[-1][1] == InstallSnapshotReply(1, 2)


def test_append_entries_overlapping_the_snapshot_skips_the_compacted_part():
    node, ctx = boot()
    node.on_message(ctx, "s2", InstallSnapshot(1, "s2", 3, 1, "state@3"))
    entries = tuple(Entry(1, f"x{i}") for i in range(2, 6))  # entries 2..5
    node.on_message(ctx, "s2", AppendEntries(1, "s2", 1, 1, entries, 5))
    assert node.log.last_index == 5 and node.log.entry(4) == Entry(1, "x4")
    assert node.applied == [(4, "x4"), (5, "x5")]


# ================================================================================================
# Client requests on a bare node, and the log
# ================================================================================================
def test_a_bare_raft_node_refuses_client_requests_definitely():
    node, ctx = boot()
    node.on_message(ctx, "c1", Request(1, "anything"))
    (resp,) = [s.msg for s in ctx.sent()]
    assert resp.ok is False and resp.error == "no_service"


def test_log_indices_terms_and_slices_across_a_snapshot():
    log = RaftLog(3, 2, [Entry(2, "d"), Entry(3, "e"), Entry(3, "f")])
    assert (log.last_index, log.last_term) == (6, 3)
    assert log.term_at(3) == 2 and log.term_at(5) == 3
    assert log.slice(5) == (Entry(3, "e"), Entry(3, "f"))
    assert log.slice(4, 5) == (Entry(2, "d"),)
    assert log.first_index_of_term_at(6) == 5
    assert log.last_index_of_term(2) == 4 and log.last_index_of_term(1) == 0
    with pytest.raises(IndexError, match="not in the log"):
        log.entry(3)
    with pytest.raises(IndexError, match="committed entries are never deleted"):
        log.truncate(2)
    log.compact(5)
    assert (log.snapshot_index, log.snapshot_term, log.last_index) == (5, 3, 6)


@pytest.mark.parametrize(
    "theirs, ok",
    [
        ((3, 1), True),  # a later last term wins, however short the log
        ((1, 10), False),  # an earlier last term loses, however long the log
        ((2, 5), True),  # same last term: the longer log wins
        ((2, 4), True),  # same last term and length: as up to date
        ((2, 3), False),
        ((0, 0), False),
    ],
)
def test_up_to_date_compares_last_terms_then_lengths(theirs, ok):
    log = RaftLog(entries=[Entry(1, "a"), Entry(1, "b"), Entry(2, "c"), Entry(2, "d")])
    assert log.is_up_to_date(*theirs) is ok
