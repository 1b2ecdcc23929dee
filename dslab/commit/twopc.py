"""Two-phase commit (2PC, the notes' 两阶段提交): a coordinator and N participants.

The protocol (Gray, "Notes on Data Base Operating Systems", 1978, section 5.8.3.3; the notes'
"一致性协议和算法 / 2PC" and "数据库中的2PC")
-------------------------------------------------------------------------------------------------
Phase 1 (prepare / vote)
    The coordinator sends :class:`~dslab.commit.messages.Prepare` to every participant. A
    participant locks the keys, forces a ``prepared`` record (the redo information) to its log and
    votes YES -- or forces ``aborted`` and votes NO (its local work failed, or its locks did not
    come within ``lock_wait_ms``). (:meth:`TwoPCParticipant.on_message`, via
    :class:`~dslab.commit.resource.ResourceManager`.)
Decision (the commit point)
    All YES: commit. Any NO, or a vote missing after ``vote_timeout_ms``: abort. The coordinator
    forces the decision to its log *before* phase 2, then answers the client.
Phase 2 (commit / abort)
    The coordinator sends :class:`~dslab.commit.messages.Commit` or ``Abort`` to every participant
    and resends every ``retry_ms`` until each has acknowledged
    (:class:`~dslab.commit.messages.Ack`).
    A participant forces the outcome, applies or drops the writes, releases its locks, and acks.

Timeouts and blocking (the notes' 同步阻塞 and 单点问题)
-------------------------------------------------------
- *Before voting*, a participant may abort on its own (lock timeout, or a peer asks about a
  transaction it has not voted on): nobody can have decided commit without its YES.
- *After voting YES* it is **in doubt**: the coordinator may have decided either way, so it must
  not decide alone, and it keeps its locks. Every ``decision_timeout_ms`` it asks the coordinator
  (:class:`~dslab.commit.messages.DecisionRequest`) and, with ``cooperative=True``, every other
  participant: the **cooperative termination protocol** (Bernstein, Hadzilacos and Goodman,
  *Concurrency Control and Recovery in Database Systems*, 1987, section 7.4). A peer that committed
  or aborted says so; a peer that has not voted aborts on the spot and says "aborted"; a peer in
  doubt says "uncertain". If the coordinator is down and *every* peer is uncertain, the participant
  is **blocked** (it logs ``all_uncertain``) until the coordinator comes back. No timeout can fix
  that: it is the price of 2PC's safety.

Recovery
--------
- A participant restarts from its log: in-doubt transactions keep their locks and it asks at once;
  decided ones are done (:meth:`TwoPCParticipant.on_start`).
- The coordinator resends every logged decision that is not acknowledged yet; a transaction with no
  record was never decided commit, so it is aborted (presumed abort;
  :mod:`dslab.commit.coordinator`).

Why it is safe whatever the network does: commit is decided only after every participant forced
``prepared``, the decision is forced before anyone learns it, nobody in doubt decides alone, and
every decision anyone reports comes from that one log record (or, for abort, from a participant
that never voted YES). Loss, duplication, partitions and crashes can delay the outcome, never
split it. The space-time diagrams of :mod:`dslab.commit.experiments` show 4N messages and two
round trips from the coordinator per transaction.
"""

from __future__ import annotations

from typing import Any

from dslab.commit.coordinator import CoordinatorBase, Run
from dslab.commit.messages import (
    FINAL,
    Abort,
    Ack,
    Commit,
    DecisionReply,
    DecisionRequest,
    Prepare,
    Txn,
)
from dslab.commit.resource import ResourceManager, _ms
from dslab.core import Context

#: The failpoints of the 2PC coordinator, in protocol order (see :mod:`.coordinator`).
STEPS_2PC = ("before_prepare", "after_some_prepares", "after_votes", "decision_logged",
             "mid_phase2")


class TwoPCCoordinator(CoordinatorBase):
    """The 2PC coordinator (transaction manager; the notes' 协调者).

    ``vote_timeout_ms``: abort if a vote is missing this long after Prepare went out (Prepare is
    resent every ``retry_ms`` meanwhile). ``retry_ms``: resend the decision to participants that
    have not acknowledged it. ``crash_at`` / ``on_crash``: a failpoint, one of :data:`STEPS_2PC`.
    """

    STEPS = STEPS_2PC

    def _phase1_message(self, txn: Txn, participant: str) -> Prepare:
        return Prepare(txn.tid, txn.participants, txn.writes_for(participant),
                       participant in txn.vote_no)

    def _decision_message(self, tid: str, outcome: str) -> Any:
        return Commit(tid) if outcome == "committed" else Abort(tid)

    def _all_yes(self, ctx: Context, run: Run) -> None:
        self._decide(ctx, run, "committed", "every participant voted yes",
                     logged_step="decision_logged", partial_step="mid_phase2")


class TwoPCParticipant(ResourceManager):
    """A 2PC participant (resource manager; the notes' 参与者).

    ``decision_timeout_ms``: how long after voting YES it waits before asking what was decided (and
    then asks again at that period). ``cooperative``: also ask the other participants (the
    cooperative termination protocol), not only the coordinator. ``lock_wait_ms`` and
    ``no_probability``: see :class:`~dslab.commit.resource.ResourceManager`.
    """

    def __init__(
        self,
        *,
        decision_timeout_ms: float = 50.0,
        lock_wait_ms: float = 40.0,
        cooperative: bool = True,
        no_probability: float = 0.0,
    ) -> None:
        super().__init__(lock_wait_ms=lock_wait_ms, no_probability=no_probability)
        self.decision_timeout_ms = _ms("decision_timeout_ms", decision_timeout_ms)
        if not isinstance(cooperative, bool):
            raise TypeError(f"cooperative={cooperative!r} has type "
                            f"{type(cooperative).__name__}; expected bool")
        self.cooperative = cooperative
        #: tid -> peers that answered "uncertain" since we last asked
        self.uncertain: dict[str, set[str]] = {}
        self.noticed: set[str] = set()  # transactions reported as all_uncertain
        self.reported: set[str] = set()  # transactions reported as in_doubt

    # -- recovery --------------------------------------------------------------------------------
    def on_start(self, ctx: Context) -> None:
        for tid in self._recover(ctx):
            ctx.log("recovered_in_doubt", tid=tid)
            self._ask(ctx, tid)
            ctx.set_timer(f"doubt/{tid}", self.decision_timeout_ms)

    # -- hooks of the resource manager -----------------------------------------------------------
    def _after_yes(self, ctx: Context, tid: str) -> None:
        ctx.set_timer(f"doubt/{tid}", self.decision_timeout_ms)

    def _on_final(self, ctx: Context, tid: str) -> None:
        ctx.cancel_timer(f"doubt/{tid}")
        self.uncertain.pop(tid, None)

    # -- messages --------------------------------------------------------------------------------
    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Prepare):
            self._phase1(ctx, src, msg.tid, msg.participants, msg.writes, msg.must_fail)
        elif isinstance(msg, (Commit, Abort)):
            outcome = "committed" if isinstance(msg, Commit) else "aborted"
            self._finish(ctx, msg.tid, outcome, "coordinator")
            ctx.send(src, Ack(msg.tid, self.state_of(msg.tid)))
        elif isinstance(msg, DecisionRequest):
            ctx.send(src, DecisionReply(msg.tid, self._what_i_know(ctx, msg.tid)))
        elif isinstance(msg, DecisionReply):
            self._learn(ctx, src, msg)

    def _what_i_know(self, ctx: Context, tid: str) -> str:
        """The answer to a peer's DecisionRequest (cooperative termination)."""
        state = self.state_of(tid)
        if state == "none":  # not voted yet: abort now, so that nobody can decide commit
            self._abort_unvoted(ctx, tid, "asked_before_voting")
            return "aborted"
        return state if state in FINAL else "uncertain"

    def _learn(self, ctx: Context, src: str, msg: DecisionReply) -> None:
        if self.state_of(msg.tid) != "prepared":
            return
        if msg.state in FINAL:
            coordinator = self.txns[msg.tid]["coordinator"]
            self._finish(ctx, msg.tid, msg.state, "coordinator" if src == coordinator else "peer")
        elif msg.state == "uncertain":
            seen = self.uncertain.setdefault(msg.tid, set())
            seen.add(src)
            peers = [p for p in self.txns[msg.tid]["participants"] if p != ctx.node]
            if set(peers) <= seen and msg.tid not in self.noticed:
                self.noticed.add(msg.tid)
                ctx.log("all_uncertain", tid=msg.tid, peers=peers)

    def _ask(self, ctx: Context, tid: str) -> None:
        rec = self.txns[tid]
        self.uncertain[tid] = set()
        if rec["coordinator"] is not None:
            ctx.send(rec["coordinator"], DecisionRequest(tid))
        if self.cooperative:
            for p in rec["participants"]:
                if p != ctx.node:
                    ctx.send(p, DecisionRequest(tid))

    # -- timers ----------------------------------------------------------------------------------
    def on_timer(self, ctx: Context, name: str) -> None:
        kind, _, tid = name.partition("/")
        if kind == "lockwait":
            self._lock_timeout(ctx, tid)
        elif kind == "doubt" and self.state_of(tid) == "prepared":
            if tid not in self.reported:
                self.reported.add(tid)
                ctx.log("in_doubt", tid=tid)
            self._ask(ctx, tid)
            ctx.set_timer(name, self.decision_timeout_ms)


__all__ = ["STEPS_2PC", "TwoPCCoordinator", "TwoPCParticipant"]
