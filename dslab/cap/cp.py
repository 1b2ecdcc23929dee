"""The CP policy: every operation goes through a majority (CASPaxos), or it is refused.

Why this protocol
-----------------
The register serves ``read``, ``write`` and ``cas``. Reads and writes alone could use ABD (Attiya,
Bar-Noy and Dolev, "Sharing memory robustly in message-passing systems", JACM 1995): no leader,
every operation talks to a majority, and a read writes back what it saw. ABD cannot do ``cas``:
a compare-and-set register solves consensus among any number of processes, a read/write register
not even between two (Herlihy, "Wait-free synchronization", 1991), so a ``cas`` needs a consensus
protocol. A primary that waits for majority acknowledgements is one answer, but it needs a leader
election with terms to survive the loss of the primary (the Raft chapter builds exactly that).
We use **CASPaxos** (Rystsov, "CASPaxos: replicated state machines without logs", 2018):
single-decree Paxos run again for every operation, where the proposer does not propose a value but
applies a *change function* to the latest state it finds. It is leaderless, as short as ABD, and
linearizable for every operation, ``cas`` included.

Rules (the paper's section 2, and where they are in the code)
--------------------------------------------------------------
1. A replica is both an acceptor and a proposer. Acceptor state: the highest ballot promised, the
   ballot of the last accepted state, and that state. It lives in durable storage and is written
   before the reply leaves (``_prepare``, ``_accept``).
2. Prepare (phase 1): the proposer picks a ballot ``(round, node)`` above every round it has seen
   and sends :class:`~dslab.cap.messages.Prepare` to every replica. An acceptor promises a ballot
   higher than any it promised before and answers with what it last accepted; otherwise it answers
   :class:`~dslab.cap.messages.Nack`.
3. With promises from a majority, the proposer takes the state accepted at the highest ballot
   among them, applies the operation to it (``read``: identity; ``write``: replace; ``cas``:
   replace if equal) and sends :class:`~dslab.cap.messages.Accept` with the new state (phase 2).
   An acceptor accepts a ballot at least as high as its promise.
4. With acceptances from a majority the new state is chosen: the proposer answers the client.
   Reads also run both phases: a read that skipped phase 2 could return a state that a later
   proposer never sees.
5. A Nack (other than the echo of a duplicated Prepare, which names our own ballot as the one
   already promised) or a silent attempt (``attempt_timeout_ms``) makes the proposer retry with
   a higher ballot after a random backoff (``backoff_ms``), until the operation's deadline
   (``op_timeout_ms``). Each replica runs one operation at a time (a FIFO queue), so its own
   clients do not duel with each other.

Definite and indefinite failures
--------------------------------
``Response(ok=False, error="unavailable")`` promises the operation did not and never will take
effect. That holds exactly when the deadline passes before this operation ever sent an ``Accept``:
a Prepare changes no state, so no acceptor can hold the new state. Once an Accept has left, some
acceptor may hold it and a later proposer may adopt it, so the outcome is unknown: the replica then
answers nothing, and the client's own timeout records the operation as ``info`` (indefinite), as
Jepsen and Maelstrom do. A failed comparison (``error="cas_mismatch"``) is definite too: it was
decided on a chosen state.

At most one proposal per request
--------------------------------
The network may deliver a request twice, or deliver a copy long after the original was answered,
and the replica may have crashed and restarted in between. Each replica therefore keeps, in
durable storage, the highest request id it has taken from each client (client ids only grow,
like Maelstrom's ``msg_id``); a request whose id is not above that mark is a copy and is dropped
before it can become a proposal (``_first_copy``). Without this, a copy of a running request
replaced its proposal: the copy's deadline answered a definite "unavailable" while the original's
Accept could still be chosen, and the original's timers were lost, wedging the proposer for good.
Commands a replica issues itself take their ids from a durable counter, so a restarted replica
never reuses one.

Exactly once
------------
A retry may find that an earlier attempt of the same operation was already adopted (its Accept
reached an acceptor that a later majority read). The chosen state therefore carries a *session
table*: for each client, the request id and result of its last write or cas (the same idea as the
client table of Raft's section 6.3). A proposer that finds its own request in the table answers the
recorded result instead of applying the operation twice; one that finds a *later* request of the
same client there knows its client has moved on, and drops the operation unapplied and
unanswered (an indefinite outcome the client has already recorded).

The protocol is generic over a *state machine* (``initial()``, ``apply(data, command)``,
``readonly(command)``): :class:`RegisterMachine` here, the service registry's machine in
:mod:`dslab.cap.registry`. No SimPy, no wall clock: everything goes through the handler context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_number
from dslab.cap.messages import (
    ZERO_BALLOT,
    Accept,
    Accepted,
    Ballot,
    Cas,
    Nack,
    Prepare,
    Promise,
    Read,
    Write,
)
from dslab.core import Context, Handler, Request, Response

#: The stored state: ``(data, sessions)``; ``sessions`` is a sorted tuple of
#: ``(client, request_id, ok, result)``, one entry per client (its last write or cas).
Stored = tuple[Any, tuple[tuple[str, int, bool, Any], ...]]


class RegisterMachine:
    """A single register with read, write and cas (the sequential object the checker models)."""

    def initial(self) -> Any:
        return None

    def readonly(self, command: Any) -> bool:
        return isinstance(command, Read)

    def accepts(self, command: Any) -> bool:
        return isinstance(command, (Read, Write, Cas))

    def apply(self, data: Any, command: Any) -> tuple[Any, bool, Any]:
        """``(new_data, ok, result)``: ``result`` is the reply body, or the error if not ``ok``."""
        if isinstance(command, Read):
            return data, True, data
        if isinstance(command, Write):
            return command.value, True, None
        if isinstance(command, Cas):
            if data == command.expected:
                return command.new, True, None
            return data, False, "cas_mismatch"
        raise TypeError(f"command={command!r} is not a register operation (Read, Write or Cas)")


@dataclass(eq=False)
class Proposal:
    """One operation a replica is driving through CASPaxos (volatile proposer state)."""

    key: str
    command: Any
    client: str  # who asked (a client name, or the replica itself for internal commands)
    request_id: int
    ballot: Ballot = ZERO_BALLOT
    phase: str = "queued"  # queued -> prepare -> accept -> (backoff -> prepare ...) -> done
    promises: dict[str, tuple[Ballot, Any]] = field(default_factory=dict)
    accepts: set[str] = field(default_factory=set)
    accept_sent: bool = False
    attempts: int = 0
    outcome: tuple[bool, Any] | None = None


class CasPaxosReplica(Handler):
    """A replica of the CP policy: CASPaxos acceptor and proposer (see the module rules).

    Parameters (local-clock milliseconds)
    -------------------------------------
    machine:
        The state machine (default: :class:`RegisterMachine`).
    op_timeout_ms:
        Deadline of one operation, from its arrival. Past it the replica answers ``unavailable``
        (definite) if no Accept was ever sent for it, and nothing otherwise (indefinite).
    attempt_timeout_ms:
        How long one Prepare or Accept round may stay unanswered before a retry.
    backoff_ms:
        Scale of the random pause before a retry (it grows with the attempt number, up to 4x).
    """

    def __init__(
        self,
        machine: Any = None,
        *,
        op_timeout_ms: float = 100.0,
        attempt_timeout_ms: float = 20.0,
        backoff_ms: float = 5.0,
    ) -> None:
        self.machine = machine if machine is not None else RegisterMachine()
        self.op_timeout_ms = check_number(
            "op_timeout_ms", op_timeout_ms, min=0, min_inclusive=False
        )
        self.attempt_timeout_ms = check_number(
            "attempt_timeout_ms", attempt_timeout_ms, min=0, min_inclusive=False
        )
        self.backoff_ms = check_number("backoff_ms", backoff_ms, min=0)

    # -- lifecycle ------------------------------------------------------------------------------
    def on_start(self, ctx: Context) -> None:
        self.node = ctx.node
        self.peers = tuple(sorted(ctx.peers))
        self.majority = (len(self.peers) + 1) // 2 + 1
        st = ctx.storage
        self.promised: Ballot = tuple(st["promised"]) if "promised" in st else ZERO_BALLOT
        self.accepted: Ballot = tuple(st["accepted"]) if "accepted" in st else ZERO_BALLOT
        self.state: Stored = st["state"] if "state" in st else (self.machine.initial(), ())
        self.round = max(self.promised[0], self.accepted[0])
        self.queue: list[Proposal] = []
        self.active: Proposal | None = None
        self.proposals: dict[str, Proposal] = {}
        # client -> highest request id taken (durable: a restart must not take a copy again)
        self.taken: dict[str, int] = dict(st["taken"]) if "taken" in st else {}
        self._internal: int = st["internal"] if "internal" in st else 0

    # -- what experiments and tests read --------------------------------------------------------
    @property
    def data(self) -> Any:
        """The state this acceptor last accepted (it may lag behind the chosen one)."""
        return self.state[0]

    def frontier(self) -> Ballot:
        """How far this replica has caught up: the ballot of its accepted state."""
        return self.accepted

    # -- acceptor (rules 1-3) -------------------------------------------------------------------
    def _prepare(self, ctx: Context, ballot: Ballot) -> Promise | Nack:
        if ballot > self.promised:
            self.promised = ballot
            ctx.storage["promised"] = ballot
            return Promise(ballot, self.accepted, self.state)
        return Nack(ballot, self.promised)

    def _accept(self, ctx: Context, ballot: Ballot, state: Stored) -> Accepted | Nack:
        if ballot >= self.promised:
            self.promised = self.accepted = ballot
            self.state = state
            ctx.storage["promised"] = ballot
            ctx.storage["accepted"] = ballot
            ctx.storage["state"] = state
            return Accepted(ballot)
        return Nack(ballot, self.promised)

    # -- inputs ---------------------------------------------------------------------------------
    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            if self._first_copy(ctx, src, msg.id):
                self.on_request(ctx, src, msg)
        elif isinstance(msg, Prepare):
            ctx.send(src, self._prepare(ctx, msg.ballot))
        elif isinstance(msg, Accept):
            ctx.send(src, self._accept(ctx, msg.ballot, msg.state))
        elif isinstance(msg, (Promise, Accepted, Nack)):
            self._on_reply(ctx, src, msg)

    def _first_copy(self, ctx: Context, client: str, request_id: int) -> bool:
        """Is this the first copy of ``client``'s request ``request_id`` to reach this replica?

        Client request ids only grow, so an id at or below the durable mark is a duplicate or a
        late copy of a request already taken (running, answered, or refused): it is dropped."""
        if request_id <= self.taken.get(client, 0):
            ctx.log("duplicate_request", client=client, request_id=request_id)
            return False
        self.taken[client] = request_id
        ctx.storage["taken"] = self.taken  # persisted before anything about it can leave
        return True

    def on_request(self, ctx: Context, src: str, req: Request) -> None:
        """A client request: queue it as a proposal (override to translate other bodies)."""
        if not self.machine.accepts(req.body):
            ctx.send(src, Response(req.id, False, None, f"unknown operation {req.body!r}"))
            return
        self.submit(ctx, req.body, src, req.id)

    def submit(self, ctx: Context, command: Any, client: str, request_id: int) -> Proposal:
        """Queue ``command`` on behalf of ``client``; its deadline starts now."""
        key = f"{client}#{request_id}"
        p = Proposal(key, command, client, request_id)
        self.proposals[key] = p
        ctx.set_timer(f"deadline:{key}", self.op_timeout_ms)
        self.queue.append(p)
        self._next(ctx)
        return p

    def submit_internal(self, ctx: Context, command: Any) -> Proposal:
        """Queue a command the replica issues itself (a session sweep of the registry)."""
        self._internal += 1
        ctx.storage["internal"] = self._internal  # ids never repeat across restarts
        return self.submit(ctx, command, self.node, self._internal)

    def on_timer(self, ctx: Context, name: str) -> None:
        kind, _, key = name.partition(":")
        p = self.proposals.get(key)
        if p is None:
            return
        if kind == "deadline":
            self._give_up(ctx, p)
        elif kind == "attempt" and p.phase in ("prepare", "accept"):
            self._backoff(ctx, p)  # the round went silent: a partition, or lost messages
        elif kind == "retry" and p.phase == "backoff":
            self._attempt(ctx, p)

    # -- proposer (rules 2-5) -------------------------------------------------------------------
    def _next(self, ctx: Context) -> None:
        while self.active is None and self.queue:
            p = self.queue.pop(0)
            if p.key in self.proposals:  # not given up while it waited
                self.active = p
                self._attempt(ctx, p)

    def _attempt(self, ctx: Context, p: Proposal) -> None:
        self.round += 1
        p.ballot = (self.round, self.node)
        p.phase = "prepare"
        p.attempts += 1
        p.promises = {}
        p.accepts = set()
        ctx.set_timer(f"attempt:{p.key}", self.attempt_timeout_ms)
        for peer in self.peers:
            ctx.send(peer, Prepare(p.ballot))
        self._on_reply(ctx, self.node, self._prepare(ctx, p.ballot))

    def _on_reply(self, ctx: Context, src: str, msg: Promise | Accepted | Nack) -> None:
        if isinstance(msg, Nack):
            self.round = max(self.round, msg.promised[0])
        elif isinstance(msg, Promise):
            self.round = max(self.round, msg.accepted[0])
        p = self.active
        if p is None or msg.ballot != p.ballot:
            return  # a late answer to an earlier attempt
        if isinstance(msg, Nack) and msg.promised == p.ballot:
            return  # the acceptor promised this very ballot: an echo of a duplicated Prepare
        if isinstance(msg, Nack):
            if p.phase in ("prepare", "accept"):
                self._backoff(ctx, p)
        elif isinstance(msg, Promise) and p.phase == "prepare":
            p.promises[src] = (msg.accepted, msg.state)
            if len(p.promises) >= self.majority:
                self._phase2(ctx, p)
        elif isinstance(msg, Accepted) and p.phase == "accept":
            p.accepts.add(src)
            if len(p.accepts) >= self.majority:
                self._chosen(ctx, p)

    def _phase2(self, ctx: Context, p: Proposal) -> None:
        # The state accepted at the highest ballot (ties between replicas hold the same state).
        _, (data, sessions) = max(p.promises.values(), key=lambda bs: bs[0])
        if self.machine.readonly(p.command):
            new_state: Stored = (data, sessions)
            ok, result = self.machine.apply(data, p.command)[1:]
        else:
            done = next((s for s in sessions if s[0] == p.client), None)
            if done is not None and done[1] > p.request_id:
                # the client's later request was chosen: it gave up on this one; never apply it
                self._superseded(ctx, p)
                return
            if done is not None and done[1] == p.request_id:
                # an earlier attempt of this very operation was adopted: do not apply it twice
                new_state, ok, result = (data, sessions), done[2], done[3]
            else:
                new_data, ok, result = self.machine.apply(data, p.command)
                table = [s for s in sessions if s[0] != p.client]
                table.append((p.client, p.request_id, ok, result))
                new_state = (new_data, tuple(sorted(table, key=lambda s: s[0])))
        p.outcome = (ok, result)
        p.phase = "accept"
        p.accept_sent = True
        ctx.set_timer(f"attempt:{p.key}", self.attempt_timeout_ms)
        for peer in self.peers:
            ctx.send(peer, Accept(p.ballot, new_state))
        self._on_reply(ctx, self.node, self._accept(ctx, p.ballot, new_state))

    def _backoff(self, ctx: Context, p: Proposal) -> None:
        p.phase = "backoff"
        ctx.cancel_timer(f"attempt:{p.key}")
        pause = ctx.rng.uniform(0.0, self.backoff_ms * min(p.attempts, 4))
        ctx.set_timer(f"retry:{p.key}", pause)

    def _finish(self, ctx: Context, p: Proposal) -> None:
        p.phase = "done"
        del self.proposals[p.key]
        for kind in ("deadline", "attempt", "retry"):
            ctx.cancel_timer(f"{kind}:{p.key}")
        if self.active is p:
            self.active = None

    def _chosen(self, ctx: Context, p: Proposal) -> None:
        assert p.outcome is not None
        ok, result = p.outcome
        self._finish(ctx, p)
        self.decided(ctx, p, ok, result)
        self._next(ctx)

    def _superseded(self, ctx: Context, p: Proposal) -> None:
        ctx.log("superseded", op=p.key, attempts=p.attempts)
        self._finish(ctx, p)
        self._next(ctx)

    def _give_up(self, ctx: Context, p: Proposal) -> None:
        definite = not p.accept_sent
        ctx.log("gave_up", op=p.key, definite=definite, attempts=p.attempts)
        self._finish(ctx, p)
        self.abandoned(ctx, p, definite)
        self._next(ctx)

    # -- outcomes (override for internal commands) ----------------------------------------------
    def decided(self, ctx: Context, p: Proposal, ok: bool, result: Any) -> None:
        """``p`` was chosen by a majority: answer the client (``ok=False``: a definite no)."""
        if p.client == self.node:
            return
        if ok:
            ctx.send(p.client, Response(p.request_id, True, result))
        else:
            ctx.send(p.client, Response(p.request_id, False, None, result))

    def abandoned(self, ctx: Context, p: Proposal, definite: bool) -> None:
        """``p`` missed its deadline: a definite ``unavailable``, or silence if indefinite."""
        if definite and p.client != self.node:
            ctx.send(p.client, Response(p.request_id, False, None, "unavailable"))


def cp_replica(
    *, op_timeout_ms: float = 100.0, attempt_timeout_ms: float = 20.0, backoff_ms: float = 5.0
):
    """A factory of CP register replicas for :meth:`dslab.sim.Sim.add_node`.

    The arguments are checked now, not when the first node boots."""
    CasPaxosReplica(
        op_timeout_ms=op_timeout_ms, attempt_timeout_ms=attempt_timeout_ms, backoff_ms=backoff_ms
    )
    return lambda: CasPaxosReplica(
        op_timeout_ms=op_timeout_ms, attempt_timeout_ms=attempt_timeout_ms, backoff_ms=backoff_ms
    )
