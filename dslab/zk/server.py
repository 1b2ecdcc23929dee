"""A ZooKeeper server running ZAB, as a dslab handler (no SimPy, no wall clock, no global random).

This is ZAB simplified but real: Junqueira, Reed and Serafini, "Zab: High-performance broadcast
for primary-backup systems" (DSN 2011), with the fast leader election of ZooKeeper 3.x, serving
the data tree and sessions of Hunt et al., "ZooKeeper: wait-free coordination for Internet-scale
systems" (USENIX ATC 2010). The course notes call the two modes 消息广播 (broadcast) and 崩溃恢复
(crash recovery).

The rules
---------
Identifiers
  * Each server has a ``myid``. A transaction id is ``zxid = (epoch << 32) | counter``: the high
    half is the epoch of the leader that proposed it, the low half counts its proposals.
Election (LOOKING, Zab §IV-A "Phase 0"; the notes' "Zookeeper选举机制")
  * A looking server votes for itself with ``(current_epoch, last_zxid, myid)`` and sends its vote
    to all. On a vote from a peer in the same round it adopts the better vote (compare the epoch,
    then the zxid, then the myid: :func:`vote_is_better`) and sends it again. When a quorum of the
    votes it holds equal its own (and no better vote arrives within ``finalize_wait_ms``), the
    candidate is elected: it becomes LEADING, the others
    FOLLOWING. A server that is not looking answers a looking one with its current vote and state,
    so a restarted server joins the existing leader (:meth:`ZkServer.handle_notification`) --
    but only when a quorum backs that leader: other servers that report it, the leader saying it
    leads. A server's own claim to lead is not enough (it may have won on stale votes).
Discovery (Zab phase 1)
  * Followers send ``FollowerInfo`` with their accepted epoch. Once a quorum is in, the leader picks
    a new epoch, larger than every accepted epoch it heard of, persists it and sends ``NewEpoch``.
    A follower accepts only a larger epoch (persisting it and the leader it came from) and
    answers ``AckEpoch`` with its log: a *vote* for that leader. It votes for each epoch once: a
    rival proposing the same epoch gets an ack that is not a vote (ZooKeeper acks with -1). A
    smaller epoch sends it back to LOOKING; a leader that hears of an accepted epoch above its
    own steps down, so the next election picks an epoch above it.
    (The election already chose a server with the most recent history of a quorum, so, as in
    ZooKeeper's implementation, the leader's own log is the history to install.)
Synchronisation (Zab phase 2)
  * For each follower the leader finds the longest common prefix of the two logs and sends
    ``NewLeader``: truncate to the prefix (proposals of an old epoch that were never committed),
    append what is missing. The follower persists the log and the new current epoch, then acks;
    it ignores a ``NewLeader`` computed from a log it no longer has, and proposals before it.
    On acks from a quorum, and a quorum of epoch votes, the leader is *established* (so an epoch
    has at most one established leader): its whole log is committed, and only now does it accept
    writes. A leader not established within ``init_limit_ms`` goes back to LOOKING.
Broadcast (Zab phase 3, the notes' 消息广播模式)
  * A write becomes a ``Proposal`` with the next zxid, sent to followers in zxid order. A follower
    appends it to its log and persists it before answering ``Ack``. When a quorum (the leader
    included) has acked zxid z and everything before it, the leader sends ``Commit(z)``; every
    server applies committed transactions to its data tree strictly in zxid order.
Liveness
  * Leader and followers ping each other every ``tick_ms``; a follower that hears nothing from
    its leader for ``sync_limit_ms``, or a leader that hears from less than a quorum, goes back to
    LOOKING. A leader counts only followers that acknowledged its epoch (``FollowerInfo`` from a
    server that moved on to a newer epoch does not keep it alive), and a follower counts only
    what a leader sends (two servers that each think the other leads must not keep each other
    alive).
Observers (ZooKeeper 3.3+, ZOOKEEPER-368; the ``observers`` argument)
  * An observer takes no part in the vote: it sends its notification to the voters only to
    learn who leads, never adopts or counts a vote, and joins a leader that a quorum of voters
    reports, in state OBSERVING. Voters never count an observer's vote, ACK or epoch, and a
    quorum is a majority of the voters only.
  * An established leader sends a joining observer the *committed* prefix of its log (a
    ``NewLeader`` that the observer does not acknowledge), then an ``Inform`` with each
    transaction it commits; the observer appends and applies it at once, in zxid order, and
    asks to be synchronised again when one is missing. It serves reads and sessions and
    forwards writes like a follower.
Capacity (:mod:`dslab.zk.capacity`, when ``ZkConfig.service`` is set)
  * A server handles received messages one at a time, in arrival order, each for its service
    time (timers are not queued), so throughput saturates.
Clients and sessions (Hunt et al. §2, §4)
  * Reads (``GetData``, ``Exists``, ``GetChildren``) are answered from the local tree of the server
    the client is connected to, so they may be stale; ``Sync`` makes the server catch up with the
    leader first. Writes are forwarded to the leader and answered by the client's own server once
    it has applied them.
  * A session is created and closed through the log. Clients ping their server; followers pass
    the session touches on to the leader, which expires a session not touched for its timeout by
    proposing ``CloseSession``: applying it deletes the session's ephemeral nodes everywhere.
  * Watches are one-shot, kept by the client's server, fired when it applies a change.

Map to the papers
-----------------
==========================================  ==================================================
Zab phase 0, leader election                ``start_looking``, ``handle_notification``,
                                            :func:`vote_is_better`
Zab phase 1, discovery (CEPOCH, NEWEPOCH)   ``FollowerInfo``, ``NewEpoch``, ``AckEpoch``
Zab phase 2, synchronisation (NEWLEADER)    ``send_new_leader``, ``handle_new_leader``
Zab phase 3, broadcast                      ``propose``, ``handle_proposal``, ``handle_ack``,
                                            ``try_commit``, ``apply_to``
Persistent state (acceptedEpoch,            ``ctx.storage``: ``accepted_epoch``,
currentEpoch, history)                      ``current_epoch``, ``log/<i>``
ZooKeeper data tree, sessions, watches      :class:`~dslab.zk.tree.DataTree`, ``on_request``,
                                            ``fire_watches``, ``check_sessions``
Observers (OBSERVERINFO, INFORM)            ``become_observing``, ``sync_observer``,
                                            ``handle_inform``
Request processing one at a time            ``on_message``, ``serve_next``, ``dispatch``
==========================================  ==================================================

Events in the history: ``state`` (``state=``, ``epoch=``) on every change of state; ``elected``
(``leader=``, ``vote=``); ``established`` (``epoch=``, ``truncated=``); ``commit`` at the leader
and ``apply`` at every server (``zxid=``); ``truncate`` when a follower drops uncommitted entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslab._validate import check_number
from dslab.core import Context, Handler, Request, Response
from dslab.zk.capacity import ServiceTimes
from dslab.zk.messages import (
    READ_OPS,
    WRITE_OPS,
    Ack,
    AckEpoch,
    AckNewLeader,
    CloseSession,
    Commit,
    CreateSession,
    Exists,
    FollowerInfo,
    FollowerPing,
    Forward,
    GetData,
    Inform,
    LeaderPing,
    NewEpoch,
    NewLeader,
    Notification,
    Ping,
    Proposal,
    Sync,
    SyncDone,
    Txn,
    WatchEvent,
    make_zxid,
)
from dslab.zk.tree import DataTree, ZkError, check_path


@dataclass(frozen=True)
class ZkConfig:
    """Timing of a ZAB ensemble, in ms of each server's local clock."""

    tick_ms: float = 20.0
    sync_limit_ms: float = 100.0
    election_timeout_ms: float = 60.0
    finalize_wait_ms: float = 8.0
    #: How long a new leader may take to be established (ZooKeeper's initLimit); ``None``
    #: means twice ``sync_limit_ms``.
    init_limit_ms: float | None = None
    #: Service times of a server's one-at-a-time queue (:mod:`dslab.zk.capacity`); ``None``
    #: means infinitely fast servers (every message handled the moment it arrives).
    service: ServiceTimes | None = None

    def __post_init__(self) -> None:
        if self.service is not None and not isinstance(self.service, ServiceTimes):
            raise TypeError(f"service={self.service!r} has type {type(self.service).__name__}; "
                            "expected a dslab.zk.capacity.ServiceTimes or None")
        check_number("tick_ms", self.tick_ms, min=0, min_inclusive=False)
        check_number("sync_limit_ms", self.sync_limit_ms, min=self.tick_ms, min_inclusive=False)
        if self.init_limit_ms is None:
            object.__setattr__(self, "init_limit_ms", 2 * self.sync_limit_ms)
        check_number("init_limit_ms", self.init_limit_ms, min=self.tick_ms, min_inclusive=False)
        check_number("election_timeout_ms", self.election_timeout_ms, min=0, min_inclusive=False)
        check_number("finalize_wait_ms", self.finalize_wait_ms, min=0)


def vote_is_better(new: tuple[int, int, int], current: tuple[int, int, int]) -> bool:
    """Fast leader election's total order on votes ``(epoch, zxid, myid)``.

    The most recent history wins: a higher epoch, then (same epoch) a higher zxid; only between
    equally recent histories does the higher myid win. So the leader elected by a quorum has
    every transaction any member of that quorum has accepted.
    """
    new_epoch, new_zxid, new_id = new
    cur_epoch, cur_zxid, cur_id = current
    if new_epoch != cur_epoch:
        return new_epoch > cur_epoch
    if new_zxid != cur_zxid:
        return new_zxid > cur_zxid
    return new_id > cur_id


class ZkServer(Handler):
    """One ZooKeeper server. ``servers`` maps every server's node name to its myid;
    ``observers`` names those of them that are observers (they vote in nothing)."""

    def __init__(
        self,
        name: str,
        servers: dict[str, int],
        config: ZkConfig | None = None,
        observers: Any = (),
    ):
        if name not in servers:
            raise ValueError(f"name={name!r} is not in servers={servers!r}")
        observers = frozenset(observers)
        strange = sorted(o for o in observers if o not in servers)
        if strange:
            raise ValueError(f"observers={sorted(observers)!r} names {strange}, which are not in "
                             f"servers={servers!r}")
        if len(observers) >= len(servers):
            raise ValueError(f"observers={sorted(observers)!r} leaves no voting server; at least "
                             "one server must be a participant")
        self.name = name
        self.servers = dict(servers)
        self.observers = observers
        self.voters = sorted(s for s in servers if s not in observers)
        self.is_observer = name in observers
        self.myid = servers[name]
        self.by_id = {i: n for n, i in servers.items()}
        self.config = config or ZkConfig()
        self.quorum = len(self.voters) // 2 + 1  # observers never count toward a quorum
        self.state = "looking"
        self.round = 0
        self.vote: tuple[int, int, int] = (0, 0, self.myid)
        self.votes: dict[str, tuple[int, int, int]] = {}
        self.out_of_election: dict[str, Notification] = {}
        self.leader: str | None = None
        self.tree = DataTree()
        self.log: list[tuple[int, Txn]] = []
        self.pos: dict[int, int] = {}
        self.applied = 0
        self.commit_index = 0
        self.serving = False
        # leader
        self.epoch = 0
        self.counter = 0
        self.established = False
        self.new_epoch: int | None = None
        self.infos: dict[str, int] = {}
        self.forward_to: list[str] = []
        self.match: dict[str, int] = {}
        self.new_leader_acks: set[str] = set()
        self.epoch_acks: set[str] = set()  # followers that acknowledged this leader's epoch
        self.epoch_votes: set[str] = set()  # ... and gave it their vote for that epoch
        self.queued: list[Txn] = []
        self.pending_syncs: list[tuple[int, Txn]] = []
        self.deadlines: dict[str, float] = {}
        self.closing: set[str] = set()
        self.last_heard: dict[str, float] = {}
        self.observing: list[str] = []  # observers synchronised with this leader (get INFORMs)
        # follower
        self.last_leader = 0.0
        self.touches: set[str] = set()
        # client side of this server
        self.data_watches: dict[str, set[str]] = {}
        self.child_watches: dict[str, set[str]] = {}
        self.connected: set[str] = set()  # sessions whose client talks to this server
        self.started_leading = 0.0
        # capacity model: one FIFO queue of received messages, handled one at a time
        self.cpu_queue: list[tuple[str, Any, float]] = []
        self.cpu_busy = False

    # -- persistence -------------------------------------------------------------------------
    def accepted_epoch(self, ctx: Context) -> int:
        return ctx.storage.get("accepted_epoch", 0)

    def current_epoch(self, ctx: Context) -> int:
        return ctx.storage.get("current_epoch", 0)

    @property
    def last_zxid(self) -> int:
        return self.log[-1][0] if self.log else 0

    def zxids(self) -> tuple[int, ...]:
        return tuple(z for z, _ in self.log)

    def append(self, ctx: Context, zxid: int, txn: Txn) -> None:
        """Append to the log and write it to durable storage (before any ack leaves)."""
        ctx.storage[f"log/{len(self.log):08d}"] = (zxid, txn)
        self.pos[zxid] = len(self.log)
        self.log.append((zxid, txn))
        ctx.storage["log_len"] = len(self.log)

    def truncate(self, ctx: Context, keep: int) -> None:
        for zxid, _ in self.log[keep:]:
            del self.pos[zxid]
        for i in range(keep, len(self.log)):
            del ctx.storage[f"log/{i:08d}"]
        del self.log[keep:]
        ctx.storage["log_len"] = keep

    # -- entry points ------------------------------------------------------------------------
    def on_start(self, ctx: Context) -> None:
        n = ctx.storage.get("log_len", 0)
        for i in range(n):
            zxid, txn = ctx.storage[f"log/{i:08d}"]
            self.pos[zxid] = i
            self.log.append((zxid, txn))
        self.start_looking(ctx)

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == "cpu":
            src, msg, _ = self.cpu_queue.pop(0)
            self.cpu_busy = False
            self.dispatch(ctx, src, msg)
            self.serve_next(ctx)
        elif name == "election" and self.state == "looking":
            self.broadcast_vote(ctx)
            ctx.set_timer("election", self.config.election_timeout_ms)
        elif name == "finalize" and self.state == "looking" and self.quorum_agrees():
            self.decide(ctx, self.vote)
        elif name == "tick":
            if self.state == "leading":
                self.leader_tick(ctx)
            elif self.state in ("following", "observing"):
                self.follower_tick(ctx)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        service = self.config.service
        if service is None:
            self.dispatch(ctx, src, msg)
            return
        cost = service.cost(msg)
        if isinstance(msg, Request) and self.state == "leading" and not isinstance(
            msg.body, (*READ_OPS, Ping)
        ):
            cost += service.propose_ms  # the leader orders its own clients' writes too
        self.cpu_queue.append((src, msg, cost))
        self.serve_next(ctx)

    def serve_next(self, ctx: Context) -> None:
        """Capacity model: start on the oldest queued message if the server is idle."""
        while self.cpu_queue and not self.cpu_busy:
            src, msg, cost = self.cpu_queue[0]
            if cost > 0:
                self.cpu_busy = True
                ctx.set_timer("cpu", cost)
                return
            self.cpu_queue.pop(0)
            self.dispatch(ctx, src, msg)

    def dispatch(self, ctx: Context, src: str, msg: Any) -> None:
        """Handle one received message (after its service time, with the capacity model)."""
        if isinstance(msg, Request):
            self.on_request(ctx, src, msg)
            return
        if isinstance(msg, Notification):
            self.handle_notification(ctx, src, msg)
            return
        if self.state == "leading":
            if self.acknowledges_my_epoch(src, msg):
                self.last_heard[src] = ctx.now()
            handler = {
                FollowerInfo: self.handle_follower_info,
                AckEpoch: self.handle_ack_epoch,
                AckNewLeader: self.handle_ack_new_leader,
                Ack: self.handle_ack,
                Forward: self.handle_forward,
                FollowerPing: self.handle_follower_ping,
            }.get(type(msg))
        elif self.state == "observing" and src == self.leader:
            handler = {
                NewLeader: self.handle_new_leader,
                Inform: self.handle_inform,
                SyncDone: self.handle_sync_done,
                LeaderPing: self.handle_leader_ping,
            }.get(type(msg))
            if handler is not None:
                self.last_leader = ctx.now()
        elif self.state == "following" and src == self.leader:
            handler = {
                NewEpoch: self.handle_new_epoch,
                NewLeader: self.handle_new_leader,
                Proposal: self.handle_proposal,
                Commit: self.handle_commit,
                SyncDone: self.handle_sync_done,
                LeaderPing: self.handle_leader_ping,
            }.get(type(msg))
            if handler is not None:  # only what a leader sends shows that it leads
                self.last_leader = ctx.now()
        else:
            handler = None
        if handler is not None:
            handler(ctx, src, msg)

    # -- election ----------------------------------------------------------------------------
    def set_state(self, ctx: Context, state: str) -> None:
        self.state = state
        ctx.log("state", state=state, epoch=self.current_epoch(ctx), leader=self.leader)

    def start_looking(self, ctx: Context) -> None:
        self.leader = None
        self.serving = False
        self.established = False
        self.forward_to = []
        self.queued = []
        self.pending_syncs = []
        self.set_state(ctx, "looking")
        ctx.cancel_timer("tick")
        self.round += 1
        self.vote = (self.current_epoch(ctx), self.last_zxid, self.myid)
        self.votes = {self.name: self.vote}
        self.out_of_election = {}
        self.broadcast_vote(ctx)
        ctx.set_timer("election", self.config.election_timeout_ms)

    def notification(self, ctx: Context) -> Notification:
        epoch, zxid, leader = self.vote
        return Notification(leader, zxid, epoch, self.round, self.state)

    def broadcast_vote(self, ctx: Context) -> None:
        note = self.notification(ctx)
        for peer in self.voters:  # observers neither vote nor need to hear votes
            if peer != self.name:
                ctx.send(peer, note)

    def handle_notification(self, ctx: Context, src: str, n: Notification) -> None:
        """Fast leader election: adopt better votes, decide when a quorum agrees."""
        if src not in self.servers:
            return
        theirs = (n.epoch, n.zxid, n.leader)
        if self.state != "looking":
            if n.state == "looking":
                ctx.send(src, self.notification(ctx))  # tell it who leads
            return
        if src in self.observers:
            return  # an observer's vote is never counted
        if self.is_observer and n.state == "looking":
            return  # an observer takes no part in the vote: it waits to be told who leads
        if n.state == "looking":
            if n.round > self.round:
                self.round = n.round
                self.votes = {}
                mine = (self.current_epoch(ctx), self.last_zxid, self.myid)
                self.vote = theirs if vote_is_better(theirs, mine) else mine
                self.broadcast_vote(ctx)
            elif n.round < self.round:
                ctx.send(src, self.notification(ctx))
                return
            elif vote_is_better(theirs, self.vote):
                self.vote = theirs
                self.broadcast_vote(ctx)
            self.votes[src] = theirs
            self.votes[self.name] = self.vote
            if self.quorum_agrees():
                # wait a little for a better vote before deciding (ZooKeeper's finalizeWait)
                ctx.set_timer("finalize", self.config.finalize_wait_ms)
        else:
            # A server outside the election tells us who leads. Join only if a quorum already
            # backs that leader: other servers that report it (the leader itself saying it
            # leads), plus this one if its own vote is the same. A server's claim to lead is
            # not enough: it may have been elected on stale votes, with an older history.
            self.out_of_election[src] = n
            backers = [s for s, m in self.out_of_election.items() if m.leader == n.leader]
            leader_name = self.by_id.get(n.leader)
            says_leading = leader_name in self.out_of_election and (
                self.out_of_election[leader_name].state == "leading"
            )
            mine = 1 if self.vote == theirs and not self.is_observer else 0
            if says_leading and len(backers) + mine >= self.quorum:
                self.decide(ctx, (n.epoch, n.zxid, n.leader))

    def quorum_agrees(self) -> bool:
        """A quorum of the votes this server holds equal its own vote."""
        return sum(1 for v in self.votes.values() if v == self.vote) >= self.quorum

    def decide(self, ctx: Context, vote: tuple[int, int, int]) -> None:
        self.vote = vote
        ctx.cancel_timer("election")
        ctx.cancel_timer("finalize")
        ctx.log("elected", leader=self.by_id[vote[2]], vote=list(vote), round=self.round)
        if self.is_observer:
            self.become_observing(ctx, self.by_id[vote[2]])
        elif vote[2] == self.myid:
            self.become_leading(ctx)
        else:
            self.become_following(ctx, self.by_id[vote[2]])

    # -- leader: discovery and synchronisation -----------------------------------------------
    def become_leading(self, ctx: Context) -> None:
        self.leader = self.name
        self.set_state(ctx, "leading")
        self.established = False
        self.new_epoch = None
        self.infos = {self.name: self.accepted_epoch(ctx)}
        self.match = {}
        self.new_leader_acks = set()
        self.epoch_acks = set()
        self.epoch_votes = set()
        self.forward_to = []
        self.observing = []
        self.last_heard = {}
        self.started_leading = ctx.now()
        ctx.set_timer("tick", self.config.tick_ms)

    def acknowledges_my_epoch(self, src: str, msg: Any) -> bool:
        """Does ``msg`` show that ``src`` is a follower of this leader's epoch?

        Only such messages keep a leader leading (ZooKeeper's leader likewise counts only the
        learners it has synchronised): an ``AckEpoch`` for the epoch it proposed, then acks and
        pings of that epoch from a server that sent it. A ``FollowerInfo`` does not count: it
        may come from a server that has accepted a newer epoch and will never follow this
        leader, and counting it let a stale leader "lead" forever while the others kept
        re-joining it and leaving (issue 7: an election storm, no write committing).
        """
        if isinstance(msg, AckEpoch):
            return self.new_epoch is not None and msg.epoch == self.new_epoch
        return (
            src in self.epoch_acks
            and isinstance(msg, (AckNewLeader, Ack, FollowerPing))
            and msg.epoch == self.epoch
        )

    def handle_follower_info(self, ctx: Context, src: str, msg: FollowerInfo) -> None:
        if src in self.observers:
            self.sync_observer(ctx, src, msg)
            return
        self.infos[src] = msg.accepted_epoch
        if self.new_epoch is not None and msg.accepted_epoch > self.new_epoch:
            # It promised a newer epoch and will never acknowledge ours: give way, so that the
            # next election picks an epoch above every accepted one and it can rejoin.
            ctx.log("newer_epoch", epoch=self.new_epoch, follower=src, accepted=msg.accepted_epoch)
            self.start_looking(ctx)
            return
        if self.new_epoch is not None:
            ctx.send(src, NewEpoch(self.new_epoch))
            return
        if len(self.infos) >= self.quorum:
            self.new_epoch = max(self.infos.values()) + 1
            ctx.storage["accepted_epoch"] = self.new_epoch
            ctx.storage["accepted_from"] = self.name
            for peer in sorted(self.infos):
                if peer != self.name:
                    ctx.send(peer, NewEpoch(self.new_epoch))

    def handle_ack_epoch(self, ctx: Context, src: str, msg: AckEpoch) -> None:
        if msg.epoch != self.new_epoch:
            return
        self.epoch_acks.add(src)
        if msg.vote:
            self.epoch_votes.add(src)
        if self.current_epoch(ctx) != self.new_epoch:
            ctx.storage["current_epoch"] = self.new_epoch  # the leader accepts its own NEWLEADER
            self.epoch = self.new_epoch
            self.counter = 0
        self.send_new_leader(ctx, src, msg.zxids)

    def send_new_leader(self, ctx: Context, dst: str, their: tuple[int, ...]) -> None:
        """Bring ``dst`` up to date: keep the common prefix, drop the rest, send what it lacks."""
        keep = 0
        for mine, other in zip(self.log, their, strict=False):
            if mine[0] != other:
                break
            keep += 1
        commit_zxid = self.log[self.commit_index - 1][0] if self.commit_index else 0
        last = their[-1] if their else 0
        entries = tuple(self.log[keep:])
        ctx.send(dst, NewLeader(self.epoch, keep, entries, commit_zxid, len(their), last))
        if dst not in self.forward_to:
            self.forward_to.append(dst)
        self.match[dst] = 0

    def sync_observer(self, ctx: Context, src: str, msg: FollowerInfo) -> None:
        """An observer joins an established leader: it gets the *committed* prefix of the log
        (an observer never holds a transaction that may still be dropped), then an ``Inform``
        for every later commit. It takes no part in discovery: no epoch vote, no ack."""
        if not self.established:
            return  # it asks again on its next tick
        committed = self.log[: self.commit_index]
        keep = 0
        for mine, other in zip(committed, msg.zxids, strict=False):
            if mine[0] != other:
                break
            keep += 1
        last = msg.zxids[-1] if msg.zxids else 0
        commit_zxid = committed[-1][0] if committed else 0
        entries = tuple(committed[keep:])
        ctx.send(src, NewLeader(self.epoch, keep, entries, commit_zxid, len(msg.zxids), last))
        if src not in self.observing:
            self.observing.append(src)

    def handle_ack_new_leader(self, ctx: Context, src: str, msg: AckNewLeader) -> None:
        if src in self.observers or msg.epoch != self.epoch:
            return
        self.match[src] = self.pos[msg.last_zxid] + 1 if msg.last_zxid else 0
        self.new_leader_acks.add(src)
        if (
            not self.established
            and len(self.new_leader_acks) + 1 >= self.quorum
            and len(self.epoch_votes) + 1 >= self.quorum  # one established leader per epoch
        ):
            self.established = True
            self.serving = True
            ctx.log("established", epoch=self.epoch, log_len=len(self.log))
            now = ctx.now()
            self.deadlines = {s: now + t for s, t in sorted(self.tree.sessions.items())}
            self.closing = set()
            self.commit_to(ctx, len(self.log))  # the leader's history is now committed
            queued, self.queued = self.queued, []
            for txn in queued:
                self.handle_forward(ctx, txn.origin, Forward(txn))
        else:
            self.try_commit(ctx)

    # -- leader: broadcast -------------------------------------------------------------------
    def propose(self, ctx: Context, txn: Txn) -> int:
        """Phase 3: give ``txn`` the next zxid, log it, send it to every synced follower."""
        prev = self.last_zxid
        self.counter += 1
        zxid = make_zxid(self.epoch, self.counter)
        self.append(ctx, zxid, txn)
        for peer in self.forward_to:
            ctx.send(peer, Proposal(self.epoch, zxid, prev, txn))
        self.try_commit(ctx)
        return zxid

    def handle_ack(self, ctx: Context, src: str, msg: Ack) -> None:
        if src in self.observers:
            return  # an observer is never part of a quorum, whatever it sends
        if msg.epoch != self.epoch or msg.zxid not in self.pos:
            return
        self.match[src] = max(self.match.get(src, 0), self.pos[msg.zxid] + 1)
        self.try_commit(ctx)

    def try_commit(self, ctx: Context) -> None:
        """Commit the longest prefix of the log that a quorum (leader included) has acked."""
        if not self.established:
            return
        acked = sorted([len(self.log)] + list(self.match.values()), reverse=True)
        n = acked[self.quorum - 1] if len(acked) >= self.quorum else 0
        if n > self.commit_index:
            self.commit_to(ctx, n)

    def commit_to(self, ctx: Context, n: int) -> None:
        for i in range(self.commit_index, n):
            zxid, txn = self.log[i]
            ctx.log("commit", zxid=zxid)
            for peer in self.forward_to:
                ctx.send(peer, Commit(self.epoch, zxid))
            prev = self.log[i - 1][0] if i else 0
            for peer in self.observing:
                ctx.send(peer, Inform(self.epoch, zxid, prev, txn))
        self.commit_index = max(self.commit_index, n)
        self.apply_to(ctx, self.commit_index)
        ready = [s for s in self.pending_syncs if s[0] <= self.commit_index]
        self.pending_syncs = [s for s in self.pending_syncs if s[0] > self.commit_index]
        for _, txn in ready:
            self.finish_sync(ctx, txn)

    def handle_forward(self, ctx: Context, src: str, msg: Forward) -> None:
        if not self.established:
            self.queued.append(msg.txn)
            return
        if isinstance(msg.txn.op, Sync):
            if self.commit_index >= len(self.log):
                self.finish_sync(ctx, msg.txn)
            else:
                self.pending_syncs.append((len(self.log), msg.txn))
            return
        self.propose(ctx, msg.txn)

    def finish_sync(self, ctx: Context, txn: Txn) -> None:
        if txn.origin == self.name:
            ctx.send(txn.client, Response(txn.request_id, True, None))
        else:
            ctx.send(txn.origin, SyncDone(self.epoch, txn.client, txn.request_id))

    def handle_follower_ping(self, ctx: Context, src: str, msg: FollowerPing) -> None:
        for s in msg.sessions:
            self.touch(ctx, s)

    def touch(self, ctx: Context, session: str) -> None:
        if session in self.tree.sessions and self.established:
            self.deadlines[session] = ctx.now() + self.tree.sessions[session]

    def leader_tick(self, ctx: Context) -> None:
        now = ctx.now()
        commit_zxid = self.log[self.commit_index - 1][0] if self.commit_index else 0
        for peer in self.forward_to + self.observing:
            ctx.send(peer, LeaderPing(self.epoch, commit_zxid))
        alive = 1 + sum(1 for t in self.last_heard.values() if now - t <= self.config.sync_limit_ms)
        if alive < self.quorum and now - self.started_leading > self.config.sync_limit_ms:
            ctx.log("lost_quorum", epoch=self.epoch)
            self.start_looking(ctx)
            return
        if not self.established and now - self.started_leading > self.config.init_limit_ms:
            # followers that answer but never give this epoch a quorum of votes (they promised
            # it to a rival) must not keep it "leading" forever: elect again, with a new epoch
            ctx.log("not_established", epoch=self.new_epoch)
            self.start_looking(ctx)
            return
        if self.established:
            self.check_sessions(ctx)
        ctx.set_timer("tick", self.config.tick_ms)

    def check_sessions(self, ctx: Context) -> None:
        """Expire every session not touched for its timeout: close it through the log."""
        now = ctx.now()
        for session, deadline in sorted(self.deadlines.items()):
            if now > deadline and session not in self.closing:
                self.closing.add(session)
                ctx.log("session_expired", session=session)
                self.propose(ctx, Txn(CloseSession("expired"), session))

    # -- follower ----------------------------------------------------------------------------
    def become_following(self, ctx: Context, leader: str) -> None:
        self.leader = leader
        self.set_state(ctx, "following")
        self.last_leader = ctx.now()
        self.touches = set()
        ctx.send(leader, FollowerInfo(self.accepted_epoch(ctx), self.zxids()))
        ctx.set_timer("tick", self.config.tick_ms)

    def become_observing(self, ctx: Context, leader: str) -> None:
        """An observer learns the leader like a follower, then asks it for the committed log."""
        self.leader = leader
        self.set_state(ctx, "observing")
        self.last_leader = ctx.now()
        self.touches = set()
        ctx.send(leader, FollowerInfo(self.accepted_epoch(ctx), self.zxids()))
        ctx.set_timer("tick", self.config.tick_ms)

    def handle_inform(self, ctx: Context, src: str, msg: Inform) -> None:
        """An observer appends a committed transaction and applies it at once (no ack)."""
        if msg.epoch != self.epoch or not self.serving or msg.zxid in self.pos:
            return
        if msg.prev_zxid != self.last_zxid:  # a gap: synchronise again
            self.serving = False
            ctx.send(src, FollowerInfo(self.accepted_epoch(ctx), self.zxids()))
            return
        self.append(ctx, msg.zxid, msg.txn)
        self.apply_to(ctx, len(self.log))

    def handle_new_epoch(self, ctx: Context, src: str, msg: NewEpoch) -> None:
        """Accept a newer epoch and vote for its leader; vote for each epoch once.

        Two would-be leaders can pick the same epoch (each from FollowerInfos sent before the
        other's NewEpoch arrived); a follower that voted for one answers the other with an
        ``AckEpoch`` that is not a vote, as ZooKeeper answers with epoch -1. A repeat from the
        leader it voted for is a vote again (the leader re-sends NewEpoch to a follower that has
        not been synchronised yet)."""
        accepted = self.accepted_epoch(ctx)
        if msg.epoch < accepted:
            self.start_looking(ctx)  # a stale leader
            return
        vote = msg.epoch > accepted or ctx.storage.get("accepted_from") == src
        if vote:
            ctx.storage["accepted_epoch"] = msg.epoch
            ctx.storage["accepted_from"] = src
        ctx.send(src, AckEpoch(msg.epoch, self.current_epoch(ctx), self.zxids(), vote))

    def handle_new_leader(self, ctx: Context, src: str, msg: NewLeader) -> None:
        """Synchronise with the leader: truncate, append, persist, then ack.

        Only if the NewLeader was computed from the log this follower has now: a follower may
        ask twice (on joining and on its next tick), and the second answer, computed from the
        older log, would truncate what the first one brought."""
        if (msg.their_len, msg.their_last) != (len(self.log), self.last_zxid):
            return
        if msg.keep < len(self.log):
            dropped = [z for z, _ in self.log[msg.keep :]]
            ctx.log("truncate", keep=msg.keep, dropped=dropped)
            if msg.keep < self.applied:  # never for a committed entry; rebuild to stay honest
                ctx.log("truncate_applied", keep=msg.keep, applied=self.applied)
                self.tree = DataTree()
                self.applied = 0
                self.commit_index = 0
            self.truncate(ctx, msg.keep)
        for zxid, txn in msg.entries:
            self.append(ctx, zxid, txn)
        if not self.is_observer:  # an observer's epoch takes no part in any election
            ctx.storage["current_epoch"] = msg.epoch
        self.epoch = msg.epoch
        self.serving = True
        if msg.commit_zxid:
            self.apply_to(ctx, self.pos[msg.commit_zxid] + 1)
        if not self.is_observer:
            ctx.send(src, AckNewLeader(msg.epoch, self.last_zxid))

    def handle_proposal(self, ctx: Context, src: str, msg: Proposal) -> None:
        if msg.epoch != self.current_epoch(ctx) or not self.serving:
            return  # another epoch, or not synchronised yet (NewLeader comes first)
        if msg.zxid in self.pos:
            ctx.send(src, Ack(msg.epoch, msg.zxid))  # a duplicate
            return
        if msg.prev_zxid != self.last_zxid:  # a gap: resynchronise
            ctx.send(src, FollowerInfo(self.accepted_epoch(ctx), self.zxids()))
            return
        self.append(ctx, msg.zxid, msg.txn)  # persisted before the ack is sent
        ctx.send(src, Ack(msg.epoch, msg.zxid))

    def handle_commit(self, ctx: Context, src: str, msg: Commit) -> None:
        if msg.zxid in self.pos:
            self.apply_to(ctx, self.pos[msg.zxid] + 1)

    def handle_leader_ping(self, ctx: Context, src: str, msg: LeaderPing) -> None:
        if msg.commit_zxid in self.pos:
            self.apply_to(ctx, self.pos[msg.commit_zxid] + 1)

    def handle_sync_done(self, ctx: Context, src: str, msg: SyncDone) -> None:
        ctx.send(msg.client, Response(msg.request_id, True, None))

    def follower_tick(self, ctx: Context) -> None:
        if ctx.now() - self.last_leader > self.config.sync_limit_ms:
            ctx.log("leader_lost", leader=self.leader)
            self.start_looking(ctx)
            return
        if not self.serving:  # the leader may not have been leading yet when we first wrote
            ctx.send(self.leader, FollowerInfo(self.accepted_epoch(ctx), self.zxids()))
        ctx.send(self.leader, FollowerPing(self.epoch, tuple(sorted(self.touches))))
        self.touches = set()
        ctx.set_timer("tick", self.config.tick_ms)

    # -- applying committed transactions (every server) --------------------------------------
    def apply_to(self, ctx: Context, n: int) -> None:
        """Apply log entries up to index ``n`` (exclusive), in zxid order, exactly once."""
        n = min(n, len(self.log))
        while self.applied < n:
            zxid, txn = self.log[self.applied]
            self.applied += 1
            result, changes = self.tree.apply(zxid, txn)
            ctx.log("apply", zxid=zxid, op=type(txn.op).__name__)
            self.fire_watches(ctx, zxid, changes)
            if isinstance(txn.op, CloseSession):
                self.deadlines.pop(txn.session, None)
                self.closing.discard(txn.session)
                self.drop_watches(txn.session)
                if txn.origin != self.name and txn.session in self.connected:
                    ctx.send(txn.session, WatchEvent("/", "session_expired", zxid))
            elif isinstance(txn.op, CreateSession) and self.state == "leading":
                self.touch(ctx, txn.session)
            if txn.origin == self.name and txn.client:
                if isinstance(result, ZkError):
                    ctx.send(txn.client, Response(txn.request_id, False, result.path, result.code))
                else:
                    ctx.send(txn.client, Response(txn.request_id, True, result))
        self.commit_index = max(self.commit_index, self.applied)

    def fire_watches(self, ctx: Context, zxid: int, changes: list[tuple[str, str]]) -> None:
        """One-shot watches: a change notifies the watchers once, then forgets them."""
        for path, event in changes:
            targets: set[str] = set()
            if event == "children":
                targets |= self.child_watches.pop(path, set())
            else:
                targets |= self.data_watches.pop(path, set())
                if event == "deleted":
                    targets |= self.child_watches.pop(path, set())
            for client in sorted(targets):
                ctx.send(client, WatchEvent(path, event, zxid))

    def drop_watches(self, session: str) -> None:
        for table in (self.data_watches, self.child_watches):
            for path in list(table):
                table[path].discard(session)
                if not table[path]:
                    del table[path]

    # -- client requests ---------------------------------------------------------------------
    def on_request(self, ctx: Context, src: str, req: Request) -> None:
        body = req.body
        if not self.serving:
            ctx.send(src, Response(req.id, False, None, "not_ready"))
            return
        if isinstance(body, Ping):
            if src in self.tree.sessions:
                self.connected.add(src)
                if self.state == "leading":
                    self.touch(ctx, src)
                else:
                    self.touches.add(src)
                ctx.send(src, Response(req.id, True, None))
            elif src in self.tree.closed_sessions:
                ctx.send(src, Response(req.id, False, None, "session_expired"))
            else:
                ctx.send(src, Response(req.id, False, None, "unknown_session"))
            return
        if src in self.tree.closed_sessions and not isinstance(body, CreateSession):
            # an expired (or closed) session is dead for good: nothing it sends is served
            ctx.send(src, Response(req.id, False, None, "session_expired"))
            return
        if isinstance(body, READ_OPS):
            self.serve_read(ctx, src, req)
            return
        if isinstance(body, (*WRITE_OPS, Sync)):
            if isinstance(body, CreateSession):
                self.connected.add(src)
            txn = Txn(body, src, self.name, src, req.id)
            if self.state == "leading":
                self.handle_forward(ctx, self.name, Forward(txn))
            else:
                ctx.send(self.leader, Forward(txn))
            return
        ctx.send(src, Response(req.id, False, None, "bad_request"))

    def serve_read(self, ctx: Context, src: str, req: Request) -> None:
        """Reads are local: answered from this server's copy of the tree, maybe stale."""
        body = req.body
        try:
            check_path(body.path)
            if isinstance(body, GetData):
                data, stat = self.tree.get(body.path)
                value: Any = (data, stat)
                watches = self.data_watches
            elif isinstance(body, Exists):
                value = self.tree.exists(body.path)
                watches = self.data_watches
            else:
                value = self.tree.children(body.path)
                watches = self.child_watches
        except ZkError as err:
            ctx.send(src, Response(req.id, False, err.path, err.code))
            return
        except (TypeError, ValueError) as err:
            ctx.send(src, Response(req.id, False, None, f"bad_arguments: {err}"))
            return
        if body.watch:
            watches.setdefault(body.path, set()).add(src)
        ctx.send(src, Response(req.id, True, value))


__all__ = ["ZkConfig", "ZkServer", "vote_is_better"]
