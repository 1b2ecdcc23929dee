"""Assignment ``raft-election``: Raft's elections and log replication (Figure 2, §5.2-§5.4).

The student writes the bodies marked ``# SOLUTION`` in :mod:`dslab.raft.node`: the RequestVote
receiver and vote counting, the AppendEntries receiver (consistency check, conflicts, commit),
and the leader's commit rule with its Figure 8 restriction. Everything else of
:class:`~dslab.raft.node.RaftNode` (timers, persistence, the leader's replication loop,
snapshots) is given.

Tests: unit tests of each rule through a bare :class:`~dslab.core.Context` (no simulator), the
6.5840 scenarios of :mod:`dslab.raft.scenarios` (election, agreement, failures, persistence) on
every seed, and a seed sweep of the unreliable Figure 8 scenario, whose checks (one applied
command per index, Election Safety, Log Matching) run on the history.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from dslab.core import Context, Storage
from dslab.grade.framework import Assignment, GradedTest, Submission, per_seed, unit
from dslab.raft.messages import (
    AppendEntries,
    AppendEntriesReply,
    Entry,
    RequestVote,
    RequestVoteReply,
)
from dslab.raft.persist import CURRENT_TERM, VOTED_FOR, entry_key
from dslab.raft.scenarios import SCENARIOS

NAME = "raft-election"
PEERS = ("s1", "s2", "s3")


class _DiskAtSend(Context):
    """A Context that notes what durable storage held when each message left."""

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.disk_at_send: list[tuple[object, dict]] = []

    def send(self, dst, msg):  # noqa: ANN001
        self.disk_at_send.append((msg, {k: self.storage[k] for k in self.storage}))
        super().send(dst, msg)


def boot(sub: Submission, name: str = "s1", peers: tuple[str, ...] = PEERS):  # noqa: ANN201
    """A booted student node and its context, boot effects cleared."""
    cls = sub.cls("RaftNode")
    ctx = _DiskAtSend(name, rng=random.Random(0), storage=Storage(),
                      peers=tuple(p for p in peers if p != name))
    node = cls()
    node.applied = []
    node.apply = lambda _ctx, index, command: node.applied.append((index, command))
    node.on_start(ctx)
    ctx.take_effects()
    return node, ctx


def with_log(node, terms: list[int], term: int | None = None) -> None:  # noqa: ANN001
    node.current_term = term if term is not None else (terms[-1] if terms else 0)
    node.save_term_and_vote()
    for i, t in enumerate(terms, start=1):
        node.log.append(Entry(t, f"c{i}"))
    node.save_entries(1)


def replies(ctx: Context, cls: type) -> list:
    return [s.msg for s in ctx.sent(cls)]


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


# -- unit tests ------------------------------------------------------------------------------------
def one_vote_per_term(sub: Submission) -> None:
    """Figure 2, RequestVote step 2: at most one vote per term (a retry of the granted one is
    granted again)."""
    node, ctx = boot(sub)
    node.on_message(ctx, "s2", RequestVote(1, "s2", 0, 0))
    node.on_message(ctx, "s3", RequestVote(1, "s3", 0, 0))
    node.on_message(ctx, "s2", RequestVote(1, "s2", 0, 0))
    got = [m.vote_granted for m in replies(ctx, RequestVoteReply)]
    _check(got == [True, False, True], f"votes granted to s2, s3, s2 again: {got}; expected "
           "[True, False, True]")


def election_restriction(sub: Submission) -> None:
    """§5.4.1: refuse a candidate whose log is less up to date (older last term, or same last
    term and shorter); grant one whose log is as up to date."""
    for terms, last_index, last_term, want in (([1, 3], 10, 2, False), ([1, 2, 2], 2, 2, False),
                                               ([1, 2, 2], 3, 2, True)):
        node, ctx = boot(sub)
        with_log(node, terms)
        node.on_message(ctx, "s2", RequestVote(4, "s2", last_index, last_term))
        got = replies(ctx, RequestVoteReply)
        _check(len(got) == 1 and got[0].vote_granted is want,
               f"log terms {terms}, candidate's last entry (index {last_index}, term "
               f"{last_term}): replies {got}; the vote should be "
               + ("granted" if want else "refused"))


def vote_persisted_before_reply(sub: Submission) -> None:
    """Figure 2: currentTerm and votedFor are on disk before the vote reply leaves."""
    node, ctx = boot(sub)
    node.on_message(ctx, "s2", RequestVote(7, "s2", 0, 0))
    _check(bool(ctx.disk_at_send), "no reply was sent to RequestVote")
    msg, disk = ctx.disk_at_send[-1]
    _check(isinstance(msg, RequestVoteReply) and msg.vote_granted, f"reply {msg!r}: expected a "
           "granted vote")
    _check((disk.get(CURRENT_TERM), disk.get(VOTED_FOR)) == (7, "s2"),
           f"storage when the reply left: term={disk.get(CURRENT_TERM)}, "
           f"votedFor={disk.get(VOTED_FOR)}; expected 7 and 's2'")


def majority_makes_leader(sub: Submission) -> None:
    """§5.2: votes from a majority (self included) make a candidate leader; a refused vote, a
    stale one or a duplicate does not count."""
    node, ctx = boot(sub, peers=("s1", "s2", "s3", "s4", "s5"))
    node.current_term = 4
    node.become_candidate(ctx)  # term 5
    node.on_message(ctx, "s2", RequestVoteReply(5, False))
    node.on_message(ctx, "s3", RequestVoteReply(4, True))
    node.on_message(ctx, "s4", RequestVoteReply(5, True))
    node.on_message(ctx, "s4", RequestVoteReply(5, True))
    _check(node.role == "candidate", f"role {node.role!r} after 2 valid votes of 5; expected "
           "candidate")
    node.on_message(ctx, "s5", RequestVoteReply(5, True))
    _check(node.role == "leader", f"role {node.role!r} after 3 votes of 5; expected leader")


def consistency_check(sub: Submission) -> None:
    """Figure 2, AppendEntries step 2: reject when prevLogIndex/prevLogTerm does not match, with
    the conflict hint, and change nothing."""
    node, ctx = boot(sub)
    with_log(node, [1, 2, 2, 2], term=4)
    node.on_message(ctx, "s2", AppendEntries(4, "s2", 4, 3, (), 0))
    got = replies(ctx, AppendEntriesReply)
    _check(len(got) == 1 and not got[0].success, f"replies {got}; expected one rejection")
    _check((got[0].conflict_term, got[0].conflict_index) == (2, 2),
           f"conflict hint (term, index) = ({got[0].conflict_term}, {got[0].conflict_index}); "
           "expected (2, 2): the conflicting term and its first index")
    _check(node.log.last_index == 4, "a rejected AppendEntries changed the log")


def conflicts_truncated(sub: Submission) -> None:
    """Figure 2, steps 3-4: delete a conflicting entry and all that follow, append the new ones,
    persist them before replying; a stale, shorter message truncates nothing."""
    node, ctx = boot(sub)
    with_log(node, [1, 1, 2, 2])
    new = (Entry(3, "n3"), Entry(3, "n4"))
    node.on_message(ctx, "s2", AppendEntries(3, "s2", 2, 1, new, 0))
    log = [node.log.entry(i) for i in range(1, node.log.last_index + 1)]
    _check(log == [Entry(1, "c1"), Entry(1, "c2"), *new], f"log after the append: {log}")
    msg, disk = ctx.disk_at_send[-1]
    _check(isinstance(msg, AppendEntriesReply) and msg.success and msg.match_index == 4,
           f"reply {msg!r}; expected success with match_index=4")
    _check(disk.get(entry_key(3)) == (3, "n3"), "entry 3 was not on disk when the reply left")
    node, ctx = boot(sub)
    with_log(node, [1, 1, 1])
    node.on_message(ctx, "s2", AppendEntries(1, "s2", 0, 0, (Entry(1, "c1"),), 0))
    _check(node.log.last_index == 3, "a stale AppendEntries deleted entries that matched")


def follower_commit(sub: Submission) -> None:
    """Figure 2, step 5: commitIndex = min(leaderCommit, index of last new entry); never more
    than the message proved is shared with the leader."""
    node, ctx = boot(sub)
    node.on_message(ctx, "s2", AppendEntries(1, "s2", 0, 0, (Entry(1, "a"), Entry(1, "b")), 5))
    _check(node.commit_index == 2, f"commit_index {node.commit_index}; expected 2")
    _check(node.applied == [(1, "a"), (2, "b")], f"applied {node.applied}")
    node, ctx = boot(sub)
    with_log(node, [1, 1, 1])
    node.on_message(ctx, "s2", AppendEntries(2, "s2", 1, 1, (), 3))
    _check(node.commit_index == 1, f"commit_index {node.commit_index} after a heartbeat that "
           "proved only entry 1; expected 1")


def _leader(sub: Submission, terms: list[int], term: int):  # noqa: ANN202
    node, ctx = boot(sub)
    with_log(node, terms, term=term - 1)
    node.become_candidate(ctx)
    for peer in node.peers:
        node.on_message(ctx, peer, RequestVoteReply(term, True))
    _check(node.role == "leader", "a candidate with every vote did not become leader")
    ctx.take_effects()
    return node, ctx


def figure8_rule(sub: Submission) -> None:
    """§5.4.2 (Figure 8): a leader never commits an entry of an earlier term by counting
    replicas; once an entry of its own term is on a majority, everything before commits."""
    node, ctx = _leader(sub, [1, 2], term=4)
    node.on_message(ctx, "s2", AppendEntriesReply(4, True, match_index=2))
    _check(node.commit_index == 0, f"commit_index {node.commit_index}: an entry of term 2 was "
           "committed by counting replicas in term 4")
    node.start(ctx, "now")
    node.on_message(ctx, "s2", AppendEntriesReply(4, True, match_index=3))
    _check(node.commit_index == 3, f"commit_index {node.commit_index}; expected 3 once the "
           "term-4 entry is on a majority")


# -- scenario and sweep tests ----------------------------------------------------------------------
def _scenario(name: str) -> Callable[[Submission, int], None]:
    def run(sub: Submission, seed: int) -> None:
        SCENARIOS[name](seed, node_cls=sub.cls("RaftNode"))

    run.__doc__ = f"The 6.5840 scenario {name!r} (dslab.raft.scenarios.{name}) on each seed."
    return run


def _sweep(sub: Submission, seed: int) -> None:
    """Seed sweep with faults: the unreliable Figure 8 scenario (loss, long reordering, crashes,
    partitions) and unreliable agreement; the harness checks every apply and, at the end,
    Election Safety and Log Matching on the history."""
    cls = sub.cls("RaftNode")
    SCENARIOS["figure8_unreliable"](seed, node_cls=cls)
    SCENARIOS["unreliable_agree"](seed, node_cls=cls)


def _sweep_seeds(seeds: list[int]) -> list[int]:
    """The sweep runs on twice as many seeds as the scenarios (more interleavings)."""
    return sorted(set(seeds) | {s + 100 for s in seeds})


def assignment() -> Assignment:
    tests: list[GradedTest] = [
        unit("unit.one_vote_per_term", 1, one_vote_per_term),
        unit("unit.election_restriction", 1, election_restriction),
        unit("unit.vote_persisted_before_reply", 1, vote_persisted_before_reply),
        unit("unit.majority_makes_leader", 1, majority_makes_leader),
        unit("unit.appendentries_consistency_check", 1, consistency_check),
        unit("unit.conflicting_entries_truncated", 1, conflicts_truncated),
        unit("unit.follower_commit_index", 1, follower_commit),
        unit("unit.figure_8_commit_rule", 2, figure8_rule),
    ]
    for name, points in (("initial_election", 2), ("re_election", 2), ("basic_agree", 2),
                         ("fail_agree", 2), ("fail_no_agree", 2), ("backup", 2),
                         ("persist1", 2), ("figure8", 2)):
        tests.append(per_seed(f"scenario.{name}", points, _scenario(name)))
    tests.append(per_seed("sweep.figure8_unreliable_with_faults", 6, _sweep,
                          seeds=_sweep_seeds))
    return Assignment(NAME, "Raft: leader election and log replication", "dslab.raft.node",
                      ("RaftNode",), tests, chapter="raft")
