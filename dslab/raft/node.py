"""Raft consensus as a dslab handler: Figure 2 of Ongaro & Ousterhout's extended paper, plus §7.

A :class:`RaftNode` is one server. It never touches SimPy, the wall clock or the global ``random``
module: it reacts to a message (``on_message``), a timer (``on_timer``), a boot (``on_start``) or
a proposal (``start``), and acts on the world through its context ``ctx``.

The rules (Figure 2, "Rules for Servers")
-----------------------------------------
All servers
  * If commitIndex > lastApplied, apply log[lastApplied + 1] and increment lastApplied
    (:meth:`apply_committed`, which calls the service's :meth:`apply` hook in index order).
  * If a request or a reply carries a term T > currentTerm: set currentTerm = T and convert to
    follower (:meth:`on_message`, before any handler runs).
Followers (§5.2)
  * Answer candidates and leaders. If an election timeout elapses without AppendEntries from the
    current leader or granting a vote, become a candidate (:meth:`on_timer`).
Candidates (§5.2)
  * Increment currentTerm, vote for self, reset the election timer, send RequestVote to all
    (:meth:`become_candidate`). Votes from a majority: become leader. AppendEntries from the new
    leader: become follower. Election timeout: start a new election.
Leaders (§5.3, §5.4)
  * On election, and then every ``heartbeat_interval_ms``, send AppendEntries to every server
    (:meth:`become_leader`, :meth:`broadcast_append_entries`).
  * A command from a client: append it to the local log (:meth:`start`), replicate it.
  * If last log index >= nextIndex of a follower, send it the entries from nextIndex on; on
    success update its nextIndex and matchIndex; on a log inconsistency move nextIndex back and
    retry (:meth:`handle_append_entries_reply`, with the fast back-off of ``conflict_term`` /
    ``conflict_index``).
  * If a majority has matchIndex >= N, N > commitIndex and log[N].term == currentTerm, set
    commitIndex = N (:meth:`advance_commit_index`). Entries of earlier terms are never committed
    by counting replicas, only indirectly, by committing a later entry of the current term
    (§5.4.2, the Figure 8 scenario).

Map from the paper to the code
------------------------------
========================================  ====================================================
State (persistent: term, vote, log)       ``current_term``, ``voted_for``, ``log`` (a
                                          :class:`~dslab.raft.log.RaftLog`), saved by
                                          :class:`~dslab.raft.persist.Persister` before any
                                          message leaves
State (volatile)                          ``commit_index``, ``last_applied``, ``role``;
                                          leaders: ``next_index``, ``match_index``
RequestVote RPC, receiver (§5.2, §5.4.1)  :meth:`handle_request_vote` (up-to-date restriction:
                                          :meth:`RaftLog.is_up_to_date`)
AppendEntries RPC, receiver (§5.3)        :meth:`handle_append_entries` (steps 1-5)
InstallSnapshot RPC, receiver (§7)        :meth:`handle_install_snapshot`
Election timer, randomized (§5.2)         :meth:`reset_election_timer`
Log compaction (§7)                       :meth:`snapshot`, the hooks :meth:`snapshot_state`
                                          and :meth:`restore_snapshot`
========================================  ====================================================

For a service
-------------
Subclass :class:`RaftNode` and override :meth:`apply` (called once per committed entry, in
index order), :meth:`snapshot_state` / :meth:`restore_snapshot` (the state machine in and out
of a snapshot) and :meth:`on_request` (client ``Request`` messages); propose commands with
:meth:`start`. :class:`dslab.raft.kv.KVServer` is such a service.

Events in the history: ``role`` (``role=``, ``term=``) whenever the role or the term of a server
changes (and once at boot); ``commit`` when a leader advances its commit index; ``apply`` after a
batch of entries is applied (``index=`` the last one); ``snapshot`` when the log is compacted.

Choices the paper leaves open: a leader sends a follower new entries at once when the follower
has acknowledged everything sent to it so far, and otherwise with the reply that acknowledges it
or with the next heartbeat (so at most one batch per follower is outstanding, plus heartbeats,
however heavy the load); one
AppendEntries carries at most ``config.max_entries_per_append`` entries; a snapshot travels in
one InstallSnapshot message; a new leader does not append a no-op entry (§8 suggests one for
read-only requests; the 6.5840 scenarios count indices, and the KV service puts reads in the
log, so none is needed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dslab._validate import check_type
from dslab.core import Context, Handler, Request, Response
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
from dslab.raft.persist import Persister

FOLLOWER = "follower"
CANDIDATE = "candidate"
LEADER = "leader"

ELECTION_TIMER = "election"
HEARTBEAT_TIMER = "heartbeat"


class RaftNode(Handler):
    """One Raft server. ``peers`` defaults to every other node of the simulation."""

    def __init__(self, config: RaftConfig | None = None, *, peers: Iterable[str] | None = None):
        if config is not None:
            check_type("config", config, RaftConfig)
        self.config = config or RaftConfig()
        self._configured_peers = None if peers is None else tuple(peers)
        self.me = ""
        self.peers: tuple[str, ...] = ()
        self.disk: Persister | None = None
        # Persistent state on all servers (loaded from storage in on_start).
        self.current_term = 0
        self.voted_for: str | None = None
        self.log = RaftLog()
        self.snapshot_data: Any = None
        # Volatile state on all servers.
        self.commit_index = 0
        self.last_applied = 0
        self.role = FOLLOWER
        self.leader_id: str | None = None
        # Candidates: who voted for us this term.
        self.votes: set[str] = set()
        # Leaders, reinitialized after each election.
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}
        self.sent_up_to: dict[str, int] = {}  # last index sent to each peer (acked or not)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.me!r}, {self.role}, term={self.current_term}, "
            f"commit={self.commit_index}, applied={self.last_applied}, {self.log!r})"
        )

    # ============================================================================================
    # Boot, timers and the dispatcher
    # ============================================================================================
    def on_start(self, ctx: Context) -> None:
        """Boot or reboot: read the persistent state back, start as a follower (§5.2)."""
        self.me = ctx.node
        peers = self._configured_peers if self._configured_peers is not None else ctx.peers
        self.peers = tuple(p for p in peers if p != self.me)
        self.disk = Persister(ctx.storage)
        saved = self.disk.load()
        self.current_term, self.voted_for = saved.current_term, saved.voted_for
        self.log, self.snapshot_data = saved.log, saved.snapshot
        if self.log.snapshot_index > 0:
            # The snapshot holds committed, applied state: resume from there.
            self.restore_snapshot(self.snapshot_data)
            self.commit_index = self.last_applied = self.log.snapshot_index
        self.role = FOLLOWER
        ctx.log("role", role=FOLLOWER, term=self.current_term)
        self.reset_election_timer(ctx)

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == ELECTION_TIMER and self.role != LEADER:
            self.become_candidate(ctx)
        elif name == HEARTBEAT_TIMER and self.role == LEADER:
            self.broadcast_append_entries(ctx)
            ctx.set_timer(HEARTBEAT_TIMER, self.config.heartbeat_interval_ms)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        """Route a message to its handler, after Figure 2's rule on terms (``step`` in etcd)."""
        if isinstance(msg, Request):
            self.on_request(ctx, src, msg)
            return
        name = HANDLERS.get(type(msg))
        if name is None:
            ctx.log("unknown_message", src=src, type=type(msg).__name__)
            return
        if msg.term > self.current_term:
            self.become_follower(ctx, msg.term)
        getattr(self, name)(ctx, src, msg)

    def on_request(self, ctx: Context, src: str, req: Request) -> None:
        """A client request. A bare Raft node runs no service: say so (definitely not done)."""
        ctx.send(src, Response(req.id, ok=False, error="no_service"))

    def reset_election_timer(self, ctx: Context) -> None:
        """A fresh random timeout each time, so that split votes do not repeat forever (§5.2)."""
        timeout = ctx.rng.uniform(
            self.config.election_timeout_min_ms, self.config.election_timeout_max_ms
        )
        ctx.set_timer(ELECTION_TIMER, timeout)

    # ============================================================================================
    # Roles
    # ============================================================================================
    def become_follower(self, ctx: Context, term: int) -> None:
        """Adopt ``term`` (forgetting the vote if it is newer) and follow."""
        new_term = term > self.current_term
        if new_term:
            self.current_term, self.voted_for = term, None
            self.leader_id = None
            self.save_term_and_vote()
        was = self.role
        self.role = FOLLOWER
        if was == LEADER:
            ctx.cancel_timer(HEARTBEAT_TIMER)
            self.reset_election_timer(ctx)  # a leader had no election timer running
        if new_term or was != FOLLOWER:
            ctx.log("role", role=FOLLOWER, term=self.current_term)

    def become_candidate(self, ctx: Context) -> None:
        """Start an election: new term, vote for self, ask everyone else (§5.2)."""
        self.role = CANDIDATE
        self.current_term += 1
        self.voted_for = self.me
        self.leader_id = None
        self.save_term_and_vote()
        self.votes = {self.me}
        ctx.log("role", role=CANDIDATE, term=self.current_term)
        self.reset_election_timer(ctx)
        ask = RequestVote(self.current_term, self.me, self.log.last_index, self.log.last_term)
        for peer in self.peers:
            ctx.send(peer, ask)
        if self.is_majority(len(self.votes)):  # a cluster of one
            self.become_leader(ctx)

    def become_leader(self, ctx: Context) -> None:
        """Won: initialize nextIndex / matchIndex, assert leadership by heartbeats (§5.2, §5.3)."""
        self.role = LEADER
        self.leader_id = self.me
        ctx.cancel_timer(ELECTION_TIMER)
        self.next_index = {p: self.log.last_index + 1 for p in self.peers}
        self.match_index = {p: 0 for p in self.peers}
        self.sent_up_to = {p: 0 for p in self.peers}
        ctx.log("role", role=LEADER, term=self.current_term)
        self.broadcast_append_entries(ctx)
        ctx.set_timer(HEARTBEAT_TIMER, self.config.heartbeat_interval_ms)

    def is_majority(self, count: int) -> bool:
        return count > (len(self.peers) + 1) // 2

    # ============================================================================================
    # Elections (§5.2, §5.4.1)
    # ============================================================================================
    def handle_request_vote(self, ctx: Context, src: str, msg: RequestVote) -> None:
        """Grant at most one vote per term, and only to a candidate whose log is up to date."""
        # SOLUTION: RequestVote receiver (Figure 2): one vote per term, only to an up-to-date log
        # (§5.4.1); persist the vote before the reply leaves, and reset the election timer.
        grant = (
            msg.term == self.current_term  # an older term was refused (step 1)
            and self.voted_for in (None, msg.candidate_id)  # one vote per term (step 2)
            and self.log.is_up_to_date(msg.last_log_term, msg.last_log_index)  # §5.4.1
        )
        if grant:
            self.voted_for = msg.candidate_id
            self.save_term_and_vote()  # before the reply leaves
            self.reset_election_timer(ctx)
        ctx.send(src, RequestVoteReply(self.current_term, grant))
        # END SOLUTION

    def handle_request_vote_reply(self, ctx: Context, src: str, msg: RequestVoteReply) -> None:
        # SOLUTION: count votes of the current term; a majority makes this candidate the leader.
        if self.role != CANDIDATE or msg.term != self.current_term or not msg.vote_granted:
            return
        self.votes.add(src)
        if self.is_majority(len(self.votes)):
            self.become_leader(ctx)
        # END SOLUTION

    # ============================================================================================
    # Log replication (§5.3), leader side
    # ============================================================================================
    def start(self, ctx: Context, command: Any) -> tuple[int, int, bool]:
        """Propose ``command``: ``(index, term, is_leader)``.

        Only a leader accepts; it appends the command to its own log and starts replicating it.
        There is no guarantee the command will ever be committed (the leader may lose its
        leadership first); the service learns the outcome when :meth:`apply` is called at
        ``index`` with this or another command.
        """
        if self.role != LEADER:
            return -1, self.current_term, False
        index = self.log.append(Entry(self.current_term, command))
        self.save_entries(index)
        for peer in self.peers:
            if not self.unacknowledged(peer):
                self.send_append_entries(ctx, peer)
        self.advance_commit_index(ctx)  # a cluster of one commits at once
        return index, self.current_term, True

    def broadcast_append_entries(self, ctx: Context) -> None:
        for peer in self.peers:
            self.send_append_entries(ctx, peer)

    def send_append_entries(self, ctx: Context, peer: str) -> None:
        """Send ``peer`` the entries from its nextIndex on (or our snapshot, if compacted, §7)."""
        nxt = self.next_index[peer]
        if nxt <= self.log.snapshot_index:
            msg: Any = InstallSnapshot(
                self.current_term,
                self.me,
                self.log.snapshot_index,
                self.log.snapshot_term,
                self.snapshot_data,
            )
            self.sent_up_to[peer] = self.log.snapshot_index
        else:
            msg = AppendEntries(
                self.current_term,
                self.me,
                prev_log_index=nxt - 1,
                prev_log_term=self.log.term_at(nxt - 1),
                entries=self.log.slice(nxt, nxt + self.config.max_entries_per_append),
                leader_commit=self.commit_index,
            )
            self.sent_up_to[peer] = nxt - 1 + len(msg.entries)
        ctx.send(peer, msg)

    def unacknowledged(self, peer: str) -> bool:
        """Has ``peer`` yet to acknowledge some of what we sent it (lost, or still on its way)?"""
        return self.match_index[peer] < self.sent_up_to[peer]

    def handle_append_entries_reply(self, ctx: Context, src: str, msg: AppendEntriesReply) -> None:
        if self.role != LEADER or msg.term != self.current_term:
            return  # a reply to an older term's message: stale
        if msg.success:
            if msg.match_index > self.match_index[src]:
                self.match_index[src] = msg.match_index
                self.advance_commit_index(ctx)
            self.next_index[src] = max(self.next_index[src], self.match_index[src] + 1)
            # More to send: only once everything sent is acknowledged. A reply to an older
            # message would otherwise start a second stream of AppendEntries beside the first.
            if self.next_index[src] <= self.log.last_index and not self.unacknowledged(src):
                self.send_append_entries(ctx, src)
        else:
            self.next_index[src] = self.back_off(src, msg)
            self.send_append_entries(ctx, src)

    def back_off(self, peer: str, msg: AppendEntriesReply) -> int:
        """Where to retry after a rejected AppendEntries: skip the follower's conflicting term.

        If we hold entries of ``conflict_term``, the follower may agree with us up to our last
        one; otherwise none of its entries of that term can match, so retry from the first.
        """
        nxt = msg.conflict_index
        if msg.conflict_term:
            last = self.log.last_index_of_term(msg.conflict_term)
            if last:
                nxt = last + 1
        # Never below what the follower already acknowledged (a reordered, stale rejection),
        # never beyond our log.
        return max(self.match_index[peer] + 1, min(nxt, self.log.last_index + 1))

    def advance_commit_index(self, ctx: Context) -> None:
        """Commit the highest N replicated on a majority, if log[N] is from this term (§5.4.2)."""
        # SOLUTION: find the highest N on a majority (match_index) and commit it, but only if
        # log[N] is of the current term (Figure 8); log "commit" and apply what is committed.
        for n in range(self.log.last_index, self.commit_index, -1):
            if self.log.term_at(n) != self.current_term:
                break  # older terms are never committed by counting replicas (Figure 8)
            replicas = 1 + sum(1 for p in self.peers if self.match_index[p] >= n)
            if self.is_majority(replicas):
                self.commit_index = n
                ctx.log("commit", index=n, term=self.current_term)
                self.apply_committed(ctx)
                return
        # END SOLUTION

    # ============================================================================================
    # Log replication (§5.3), follower side
    # ============================================================================================
    def handle_append_entries(self, ctx: Context, src: str, msg: AppendEntries) -> None:
        def reply(success: bool, **fields: int) -> None:
            ctx.send(src, AppendEntriesReply(self.current_term, success, **fields))

        # 1. Reply false if term < currentTerm.
        if msg.term < self.current_term:
            reply(False)
            return
        self.recognize_leader(ctx, msg.term, msg.leader_id)
        prev, prev_term, entries = msg.prev_log_index, msg.prev_log_term, msg.entries
        last_new = msg.prev_log_index + len(msg.entries)
        if prev < self.log.snapshot_index:
            # The beginning is already in our snapshot: committed, hence identical to the
            # leader's. Skip it and check from the snapshot's boundary instead.
            if last_new <= self.log.snapshot_index:
                reply(True, match_index=last_new)
                return
            entries = entries[self.log.snapshot_index - prev :]
            prev, prev_term = self.log.snapshot_index, self.log.snapshot_term
        # SOLUTION: AppendEntries receiver steps 2-5 (Figure 2): the consistency check (with the
        # conflict_term / conflict_index hint), truncating conflicts, appending (persisted
        # before the reply), advancing commit_index, and the reply with match_index.
        # 2. Reply false if the log has no entry at prevLogIndex whose term matches prevLogTerm.
        if prev > self.log.last_index:
            reply(False, conflict_term=0, conflict_index=self.log.last_index + 1)
            return
        if self.log.term_at(prev) != prev_term:
            reply(
                False,
                conflict_term=self.log.term_at(prev),
                conflict_index=self.log.first_index_of_term_at(prev),
            )
            return
        # 3. If an existing entry conflicts with a new one (same index, different terms), delete
        #    it and all that follow. 4. Append any new entries not already in the log.
        for offset, entry in enumerate(entries):
            index = prev + 1 + offset
            if index <= self.log.last_index:
                if self.log.term_at(index) == entry.term:
                    continue  # already have it (this may be a late, duplicated message)
                self.log.truncate(index)
            self.log.extend(entries[offset:])
            self.save_entries(index)  # before the reply leaves
            break
        # 5. If leaderCommit > commitIndex, commitIndex = min(leaderCommit, index of last new
        #    entry). Only what this message proved we share with the leader may be committed.
        new_commit = min(msg.leader_commit, last_new)
        if new_commit > self.commit_index:
            self.commit_index = new_commit
            self.apply_committed(ctx)
        reply(True, match_index=last_new)
        # END SOLUTION

    def recognize_leader(self, ctx: Context, term: int, leader_id: str) -> None:
        """A message from the leader of our term: follow it and put off the next election."""
        if self.role == LEADER:
            raise RuntimeError(
                f"{self.me} is leader of term {term} and got a leader's message from "
                f"{leader_id}: two leaders in one term"
            )
        if self.role == CANDIDATE:
            self.become_follower(ctx, term)  # someone else won this term
        self.leader_id = leader_id
        self.reset_election_timer(ctx)

    # ============================================================================================
    # Applying committed entries
    # ============================================================================================
    def apply_committed(self, ctx: Context) -> None:
        """Apply log[lastApplied + 1 .. commitIndex] to the service, in order."""
        applied = self.last_applied
        while self.last_applied < self.commit_index:
            index = self.last_applied + 1
            command = self.log.entry(index).command
            self.last_applied = index
            self.apply(ctx, index, command)
        if self.last_applied > applied:
            ctx.log("apply", index=self.last_applied)

    def apply(self, ctx: Context, index: int, command: Any) -> None:
        """Hook: the service executes committed ``command`` (called once per index, in order)."""

    # ============================================================================================
    # Log compaction (§7)
    # ============================================================================================
    def snapshot(self, ctx: Context, index: int, data: Any) -> None:
        """The service has saved its state up to ``index`` in ``data``: drop the log up to there."""
        if index <= self.log.snapshot_index:
            return  # we already have a newer snapshot
        if index > self.last_applied:
            raise ValueError(
                f"index={index} has not been applied yet (last_applied={self.last_applied}); a "
                "snapshot can only hold applied state"
            )
        self.log.compact(index)
        self.snapshot_data = data
        self.disk.save_snapshot(self.log, data)
        ctx.log("snapshot", index=index, term=self.log.snapshot_term)

    def snapshot_state(self) -> Any:
        """Hook: the service's state, to put in a snapshot (see :meth:`snapshot`)."""
        return None

    def restore_snapshot(self, data: Any) -> None:
        """Hook: replace the service's state by a snapshot's (on reboot or InstallSnapshot)."""

    def handle_install_snapshot(self, ctx: Context, src: str, msg: InstallSnapshot) -> None:
        if msg.term < self.current_term:
            ctx.send(src, InstallSnapshotReply(self.current_term))
            return
        self.recognize_leader(ctx, msg.term, msg.leader_id)
        index, term = msg.last_included_index, msg.last_included_term
        if index > self.commit_index:  # otherwise our own log already holds all of it
            keep_tail = self.log.has(index) and self.log.term_at(index) == term
            if keep_tail:
                self.log.compact(index)  # the entries after the snapshot are still good
            else:
                self.log.reset(index, term)
            self.snapshot_data = msg.data
            self.disk.save_snapshot(self.log, msg.data)
            if not keep_tail:
                self.save_entries(index + 1)  # drops the stale tail from disk
            ctx.log("snapshot", index=index, term=term)
            self.restore_snapshot(msg.data)
            self.commit_index = self.last_applied = index
        ctx.send(src, InstallSnapshotReply(self.current_term, index))

    def handle_install_snapshot_reply(
        self, ctx: Context, src: str, msg: InstallSnapshotReply
    ) -> None:
        if self.role != LEADER or msg.term != self.current_term:
            return
        if msg.last_included_index > self.match_index[src]:
            self.match_index[src] = msg.last_included_index
            self.advance_commit_index(ctx)
        self.next_index[src] = max(self.next_index[src], self.match_index[src] + 1)
        if self.next_index[src] <= self.log.last_index:
            self.send_append_entries(ctx, src)

    # ============================================================================================
    # Persistence and inspection
    # ============================================================================================
    def save_term_and_vote(self) -> None:
        self.disk.save_term_and_vote(self.current_term, self.voted_for)

    def save_entries(self, start: int) -> None:
        self.disk.save_entries(self.log, start)

    def raft_state_size(self) -> int:
        """Bytes of persisted Raft state, snapshot excluded (compare with a ``maxraftstate``)."""
        return self.disk.raft_state_size() if self.disk is not None else 0

    def get_state(self) -> tuple[int, bool]:
        """``(current_term, is_leader)``, as the test harness asks it."""
        return self.current_term, self.role == LEADER


#: Which method handles each message type (by name, so a subclass may override a handler).
HANDLERS: dict[type, str] = {
    RequestVote: "handle_request_vote",
    RequestVoteReply: "handle_request_vote_reply",
    AppendEntries: "handle_append_entries",
    AppendEntriesReply: "handle_append_entries_reply",
    InstallSnapshot: "handle_install_snapshot",
    InstallSnapshotReply: "handle_install_snapshot_reply",
}
