"""Three-phase commit (3PC, the notes' 三阶段提交): CanCommit, PreCommit, DoCommit, timeouts, and a
termination protocol that lets the participants finish without the coordinator.

The protocol (Skeen, "Nonblocking Commit Protocols", SIGMOD 1981; the notes' "3PC" section)
-----------------------------------------------------------------------------------------
CanCommit
    The coordinator asks every participant whether it can commit
    (:class:`~dslab.commit.messages.CanCommit`). A participant locks, forces ``prepared`` (Skeen's
    state *w*, "wait") and votes YES, or forces ``aborted`` and votes NO.
PreCommit
    All YES: the coordinator forces a ``precommit`` record and sends
    :class:`~dslab.commit.messages.PreCommit`; each participant forces ``precommitted`` (state *p*)
    and acknowledges. Any NO, or a missing vote after ``vote_timeout_ms``: abort (as in 2PC).
DoCommit
    With every PreCommit acknowledged -- or after ``ack_timeout_ms``, taking a silent participant
    for crashed (Skeen's rule; it will learn the outcome when it recovers) -- the coordinator forces
    ``committed``, answers the client, sends :class:`~dslab.commit.messages.DoCommit` and resends
    until every participant acknowledges. An Ack that reports ``aborted`` instead makes it abort:
    an aborted participant never changes its outcome, so committing could only split the
    decision.

What the extra phase buys: no participant commits while another is still in *w*, and no state
is adjacent to both *committed* and *aborted*. So a participant that knows only the states of the
live participants can always tell which outcome is still possible: if anyone is *p* (or committed),
nobody can have aborted after a PreCommit; if everyone is *w*, nobody can have committed.

Participant timeouts (the notes' rule, ``termination="timeout"``)
    No word from the coordinator for ``timeout_ms`` in state *w*: abort. In state *p*: commit (the
    notes' reasoning: a PreCommit proves that every participant voted yes, so committing is a safe
    bet). This is the termination protocol below, run by a participant that hears from nobody.
Termination protocol (Skeen's, ``termination="elect"``, the default)
    On that timeout the participants elect a backup coordinator, in rounds: the backup of round
    ``r`` is the ``r``-th participant in sorted order (wrapping around). The backup asks every
    participant for its state (:class:`~dslab.commit.messages.StateRequest`), waits
    ``collect_ms``, and decides from the states it got: anyone committed: commit; anyone aborted:
    abort; anyone *p*: send PreCommit to those in *w*, wait ``collect_ms``, then commit; everyone
    *w*: abort. It sends the outcome to everyone and resends until acknowledged. A participant
    that is not the backup waits ``round_ms`` for the round's backup, then moves to the next round;
    a StateRequest from a later round moves it there. A participant that has not voted aborts when
    asked (it can: nobody can commit without its YES).
Recovery
    A participant that restarts in doubt (*w* or *p*) must not decide, nor take part in deciding:
    while it was down the others may have decided without it. It asks everyone
    (:class:`~dslab.commit.messages.DecisionRequest`) until someone tells it the outcome, and
    answers "recovering" to backups. It may decide on its own only after a *total failure*: in
    one round the coordinator answers that it restarted without a decision (``recovering``) and
    every other participant answers that it, too, restarted in doubt; then nobody is left who
    could decide, and it decides from that complete set of states with the same rule
    (:meth:`ThreePCParticipant._answered`). A live coordinator still running the transaction
    answers ``undecided``: it will decide, so the participant waits and follows it (PreCommit,
    DoCommit). An operational participant answers with its plain state: it will take part in the
    termination protocol, so that is no total failure either.
    A coordinator that restarts with a ``precommit`` record but no decision asks too: in 3PC the
    pre-commit is not the commit point.

What 3PC cannot do
------------------
Every rule above assumes that a participant that does not answer has *crashed*. That holds in a
synchronous system without partitions, where 3PC never blocks (the non-blocking theorem of Skeen
1981). Under a network partition it is false: the participants on one side can be in *p* (and
commit by timeout or by termination) while those on the other side are all in *w* (and abort).
The decision splits, and atomicity is lost; :func:`dslab.commit.experiments.partition_split` runs
exactly that, and :func:`dslab.commit.check.atomicity` catches it. No protocol can be both
non-blocking and safe when partitions are possible; Paxos Commit (Gray and Lamport, 2006) stays
safe and blocks only while a majority of its acceptors is unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_choice
from dslab.commit.coordinator import CoordinatorBase, Run
from dslab.commit.messages import (
    FINAL,
    Abort,
    Ack,
    CanCommit,
    DecisionReply,
    DecisionRequest,
    DoCommit,
    PreCommit,
    StateReply,
    StateRequest,
    Txn,
)
from dslab.commit.resource import ResourceManager, _ms
from dslab.commit.twopc import STEPS_2PC
from dslab.core import Context

#: The failpoints of the 3PC coordinator: 2PC's (``decision_logged`` is the *pre-commit* record,
#: ``mid_phase2`` sends PreCommit to the first participant only) plus ``mid_phase3`` (DoCommit to
#: the first participant only).
STEPS_3PC = STEPS_2PC + ("mid_phase3",)
#: How a 3PC participant ends a transaction when the coordinator falls silent.
TERMINATIONS = ("elect", "timeout")


class ThreePCCoordinator(CoordinatorBase):
    """The 3PC coordinator. ``ack_timeout_ms``: how long it waits for PreCommit acks before it
    commits anyway; the other parameters are those of the 2PC coordinator."""

    STEPS = STEPS_3PC

    def __init__(
        self,
        *,
        vote_timeout_ms: float = 50.0,
        ack_timeout_ms: float = 50.0,
        retry_ms: float = 20.0,
        crash_at: str | None = None,
        on_crash: Any = None,
    ) -> None:
        super().__init__(vote_timeout_ms=vote_timeout_ms, retry_ms=retry_ms, crash_at=crash_at,
                         on_crash=on_crash)
        self.ack_timeout_ms = _ms("ack_timeout_ms", ack_timeout_ms)
        #: tid -> participants, for transactions pre-committed before a crash and not decided
        self.recovering: dict[str, list[str]] = {}

    def _phase1_message(self, txn: Txn, participant: str) -> CanCommit:
        return CanCommit(txn.tid, txn.participants, txn.writes_for(participant),
                         participant in txn.vote_no)

    def _decision_message(self, tid: str, outcome: str) -> Any:
        return DoCommit(tid) if outcome == "committed" else Abort(tid)

    def _all_yes(self, ctx: Context, run: Run) -> None:
        tid = run.txn.tid
        parts = list(run.txn.participants)
        ctx.cancel_timer(f"vote/{tid}")
        ctx.cancel_timer(f"resend/{tid}")
        self._log(ctx, tid, "precommit", parts)  # forced: not a decision, an intention
        ctx.log("precommit", tid=tid)
        if self._failpoint(ctx, "decision_logged"):
            return
        run.phase = "precommitting"
        run.acks = set()
        if self._partial(ctx, "mid_phase2", parts, PreCommit(tid)):
            return
        for p in parts:
            ctx.send(p, PreCommit(tid))
        ctx.set_timer(f"acks/{tid}", self.ack_timeout_ms)

    def _commit(self, ctx: Context, run: Run, why: str) -> None:
        self._decide(ctx, run, "committed", why, logged_step=None, partial_step="mid_phase3")

    def _ack(self, ctx: Context, src: str, msg: Ack) -> None:
        run = self.runs.get(msg.tid)
        if run is not None and run.phase == "precommitting":
            if msg.state == "aborted" and src in run.txn.participants:
                # final at src: committing now could only split the decision
                self._decide(ctx, run, "aborted", f"{src} had aborted",
                             logged_step=None, partial_step="mid_phase3")
            elif msg.state == "precommitted" and src in run.txn.participants:
                run.acks.add(src)
                if len(run.acks) == len(run.txn.participants):
                    self._commit(ctx, run, "every participant pre-committed")
            return
        super()._ack(ctx, src, msg)

    def _timer(self, ctx: Context, kind: str, tid: str) -> None:
        run = self.runs.get(tid)
        if kind == "acks" and run is not None and run.phase == "precommitting":
            missing = [p for p in run.txn.participants if p not in run.acks]
            ctx.log("ack_timeout", tid=tid, missing=missing)
            self._commit(ctx, run, f"no PreCommit ack from {', '.join(missing)} (taken as crashed)")
        elif kind == "ask" and tid in self.recovering:
            for p in self.recovering[tid]:
                ctx.send(p, DecisionRequest(tid))
            ctx.set_timer(f"ask/{tid}", self.vote_timeout_ms)

    def _recover_more(self, ctx: Context) -> None:
        for key in ctx.storage:
            if key.startswith("txn/") and ctx.storage[key]["state"] == "precommit":
                tid, parts = key[4:], ctx.storage[key]["participants"]
                self.recovering[tid] = parts
                ctx.log("recovering", tid=tid)
                for p in parts:
                    ctx.send(p, DecisionRequest(tid))
                ctx.set_timer(f"ask/{tid}", self.vote_timeout_ms)

    def _other(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, DecisionReply) and msg.tid in self.recovering and msg.state in FINAL:
            parts = self.recovering.pop(msg.tid)
            self._log(ctx, msg.tid, msg.state, parts, why=f"learned from {src}", done=True)
            ctx.cancel_timer(f"ask/{msg.tid}")
            ctx.log("decide", tid=msg.tid, outcome=msg.state, why=f"learned from {src}")


@dataclass(eq=False)
class Termination:
    """A participant's part in the termination protocol of one transaction (volatile)."""

    round: int = 0
    backup: bool = False
    phase: str = "idle"  # idle | collect | preack | done (for the backup)
    replies: dict[str, str] = field(default_factory=dict)
    unacked: set[str] = field(default_factory=set)


class ThreePCParticipant(ResourceManager):
    """A 3PC participant.

    ``timeout_ms``: silence from the coordinator in *w* or *p* before the participant acts
    (it must exceed the coordinator's ``vote_timeout_ms`` / ``ack_timeout_ms`` plus a message delay,
    or a live coordinator is taken for dead). ``termination``: ``"elect"`` (Skeen's termination
    protocol) or ``"timeout"`` (the notes' rule: *w* aborts, *p* commits). ``round_ms`` and
    ``collect_ms``: the length of an election round and of a backup's wait for replies.
    """

    def __init__(
        self,
        *,
        timeout_ms: float = 100.0,
        termination: str = "elect",
        round_ms: float = 50.0,
        collect_ms: float = 10.0,
        lock_wait_ms: float = 40.0,
        no_probability: float = 0.0,
    ) -> None:
        super().__init__(lock_wait_ms=lock_wait_ms, no_probability=no_probability)
        self.timeout_ms = _ms("timeout_ms", timeout_ms)
        self.termination = check_choice("termination", termination, TERMINATIONS)
        self.round_ms = _ms("round_ms", round_ms)
        self.collect_ms = _ms("collect_ms", collect_ms)
        if self.round_ms <= 2 * self.collect_ms:
            raise ValueError(
                f"round_ms={round_ms!r} is not allowed; a round must outlast the backup's two "
                f"waits of collect_ms={collect_ms!r}: it must be > {2 * self.collect_ms}"
            )
        self.terms: dict[str, Termination] = {}
        self.recovering: set[str] = set()
        #: tid -> the answers to this recovering participant's last round of DecisionRequests
        self.answers: dict[str, dict[str, str]] = {}

    # -- recovery --------------------------------------------------------------------------------
    def on_start(self, ctx: Context) -> None:
        for tid in self._recover(ctx):
            self.recovering.add(tid)
            ctx.log("recovering", tid=tid, state=self.state_of(tid))
            self._ask(ctx, tid)
            ctx.set_timer(f"ask/{tid}", self.timeout_ms)

    def _ask(self, ctx: Context, tid: str) -> None:
        rec = self.txns[tid]
        self.answers[tid] = {}
        for p in [rec["coordinator"], *rec["participants"]]:
            if p is not None and p != ctx.node:
                ctx.send(p, DecisionRequest(tid))

    def _answered(self, ctx: Context, src: str, msg: DecisionReply) -> None:
        """A recovering participant hears back. A final answer settles it. Answers in one round
        from the coordinator (``recovering``: restarted, no decision) *and every other
        participant* (itself recovering in doubt) mean that every site failed and none has
        decided (Skeen's total failure, once the last site to fail is back): decide from the
        complete set of states, with the termination rule. Anything else means someone
        operational will decide (a live coordinator, or the others' termination protocol)."""
        tid = msg.tid
        if self.state_of(tid) not in ("prepared", "precommitted"):
            return
        if msg.state in FINAL:
            self._finish(ctx, tid, msg.state, "asked")
            return
        if tid not in self.recovering:
            return
        rec = self.txns[tid]
        total = msg.recovering or (src == rec["coordinator"] and msg.state == "recovering")
        got = self.answers.setdefault(tid, {})
        if not total:  # an operational site: it (or its termination protocol) will decide
            got.pop(src, None)
            return
        got[src] = msg.state
        everyone = {p for p in [rec["coordinator"], *rec["participants"]]
                    if p is not None and p != ctx.node}
        if not everyone <= set(got):
            return
        states = [self.state_of(tid)] + [got[p] for p in rec["participants"] if p != ctx.node]
        ctx.log("all_recovered", tid=tid, states={ctx.node: self.state_of(tid), **got})
        self.recovering.discard(tid)
        self.terms.setdefault(tid, Termination()).round += 1
        self._backup_final(ctx, tid, "committed" if "precommitted" in states else "aborted")

    # -- hooks of the resource manager -----------------------------------------------------------
    def _after_yes(self, ctx: Context, tid: str) -> None:
        ctx.set_timer(f"t/{tid}", self.timeout_ms)

    def _on_final(self, ctx: Context, tid: str) -> None:
        for kind in ("t", "round", "collect", "preack", "ask"):
            ctx.cancel_timer(f"{kind}/{tid}")
        self.recovering.discard(tid)

    def _by(self, src: str, tid: str) -> str:
        return "coordinator" if src == self.txns[tid]["coordinator"] else "backup"

    # -- messages --------------------------------------------------------------------------------
    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, CanCommit):
            self._phase1(ctx, src, msg.tid, msg.participants, msg.writes, msg.must_fail)
        elif isinstance(msg, PreCommit):
            self._precommit(ctx, src, msg.tid)
        elif isinstance(msg, (DoCommit, Abort)):
            outcome = "committed" if isinstance(msg, DoCommit) else "aborted"
            by = self._by(src, msg.tid) if msg.tid in self.txns else "coordinator"
            self._finish(ctx, msg.tid, outcome, by)
            ctx.send(src, Ack(msg.tid, self.state_of(msg.tid)))
        elif isinstance(msg, StateRequest):
            self._state_request(ctx, src, msg)
        elif isinstance(msg, StateReply):
            t = self.terms.get(msg.tid)
            if t is not None and t.backup and t.phase == "collect" and msg.round == t.round:
                t.replies[src] = msg.state
        elif isinstance(msg, Ack):
            t = self.terms.get(msg.tid)
            if t is not None and t.phase == "done" and msg.state in FINAL:
                t.unacked.discard(src)
                if not t.unacked:
                    ctx.cancel_timer(f"bretry/{msg.tid}")
        elif isinstance(msg, DecisionRequest):
            state = self._what_i_know(ctx, msg.tid)
            doubt = msg.tid in self.recovering and state not in FINAL
            ctx.send(src, DecisionReply(msg.tid, state, recovering=doubt))
        elif isinstance(msg, DecisionReply):
            self._answered(ctx, src, msg)

    def _what_i_know(self, ctx: Context, tid: str) -> str:
        """The answer to a DecisionRequest: the participant's state (``prepared`` and
        ``precommitted`` mean it does not know the outcome)."""
        state = self.state_of(tid)
        if state == "none":
            self._abort_unvoted(ctx, tid, "asked_before_voting")
            return "aborted"
        return state

    def _precommit(self, ctx: Context, src: str, tid: str) -> None:
        state = self.state_of(tid)
        if state == "none":
            return  # never voted yes: nobody can pre-commit us
        if state == "prepared":
            self._record(ctx, tid, "precommitted", self._by(src, tid))
            if tid not in self.terms and tid not in self.recovering:
                ctx.set_timer(f"t/{tid}", self.timeout_ms)  # now wait for DoCommit
        elif state == "aborted":
            ctx.log("conflict", tid=tid, state=state, decision="precommitted",
                    by=self._by(src, tid))
        ctx.send(src, Ack(tid, self.state_of(tid)))

    # -- termination -----------------------------------------------------------------------------
    def on_timer(self, ctx: Context, name: str) -> None:
        kind, _, tid = name.partition("/")
        state = self.state_of(tid)
        undecided = state in ("prepared", "precommitted")
        if kind == "lockwait":
            self._lock_timeout(ctx, tid)
        elif kind == "t" and undecided and tid not in self.recovering:
            if self.termination == "timeout":
                self._finish(ctx, tid, "committed" if state == "precommitted" else "aborted",
                             "timeout")
                return
            ctx.log("termination", tid=tid, state=state)
            t = self.terms.setdefault(tid, Termination())
            t.round += 1
            self._start_round(ctx, tid)
        elif kind == "round" and undecided:
            self.terms[tid].round += 1
            self._start_round(ctx, tid)
        elif kind == "collect" and undecided:
            self._collected(ctx, tid)
        elif kind == "preack" and undecided:
            self._backup_final(ctx, tid, "committed")
        elif kind == "bretry" and tid in self.terms and self.terms[tid].unacked:
            t = self.terms[tid]
            msg = DoCommit(tid) if state == "committed" else Abort(tid)
            for p in sorted(t.unacked):
                ctx.send(p, msg)
            ctx.set_timer(name, self.round_ms)
        elif kind == "ask" and undecided:
            self._ask(ctx, tid)
            ctx.set_timer(name, self.timeout_ms)

    def _start_round(self, ctx: Context, tid: str) -> None:
        t = self.terms[tid]
        parts = self.txns[tid]["participants"]
        backup = parts[(t.round - 1) % len(parts)]
        t.backup = backup == ctx.node
        t.phase = "idle"
        if t.backup:
            t.phase = "collect"
            t.replies = {}
            ctx.log("backup", tid=tid, round=t.round)
            for p in parts:
                if p != ctx.node:
                    ctx.send(p, StateRequest(tid, t.round))
            ctx.set_timer(f"collect/{tid}", self.collect_ms)
        ctx.set_timer(f"round/{tid}", self.round_ms)

    def _state_request(self, ctx: Context, src: str, msg: StateRequest) -> None:
        tid = msg.tid
        state = self.state_of(tid)
        if state == "none":
            self._abort_unvoted(ctx, tid, "asked_before_voting")
            state = "aborted"
        recovering = tid in self.recovering
        ctx.send(src, StateReply(tid, msg.round, "recovering" if recovering else state))
        if state in FINAL or recovering:
            return
        t = self.terms.setdefault(tid, Termination())
        if msg.round > t.round or (msg.round == t.round and not t.backup):
            if t.round == 0:
                ctx.log("termination", tid=tid, state=state)
            t.round, t.backup, t.phase = msg.round, False, "idle"  # follow this round's backup
            for kind in ("t", "collect", "preack"):
                ctx.cancel_timer(f"{kind}/{tid}")
            ctx.set_timer(f"round/{tid}", self.round_ms)

    def _collected(self, ctx: Context, tid: str) -> None:
        t = self.terms[tid]
        if not (t.backup and t.phase == "collect"):
            return
        mine = self.state_of(tid)
        states = [mine, *t.replies.values()]
        ctx.log("collected", tid=tid, round=t.round,
                states={ctx.node: mine, **dict(sorted(t.replies.items()))})
        if "committed" in states:
            self._backup_final(ctx, tid, "committed")
        elif "aborted" in states:
            self._backup_final(ctx, tid, "aborted")
        elif "precommitted" in states:
            if mine == "prepared":
                self._record(ctx, tid, "precommitted", "termination")
            t.phase = "preack"
            for p, s in sorted(t.replies.items()):
                if s == "prepared":
                    ctx.send(p, PreCommit(tid))
            ctx.set_timer(f"preack/{tid}", self.collect_ms)
        else:  # everyone that answered is in w: nobody can have committed
            self._backup_final(ctx, tid, "aborted")

    def _backup_final(self, ctx: Context, tid: str, outcome: str) -> None:
        t = self.terms[tid]
        self._finish(ctx, tid, outcome, "termination")
        t.phase = "done"
        others = [p for p in self.txns[tid]["participants"] if p != ctx.node]
        t.unacked = set(others)
        msg = DoCommit(tid) if outcome == "committed" else Abort(tid)
        for p in others:
            ctx.send(p, msg)
        ctx.set_timer(f"bretry/{tid}", self.round_ms)


__all__ = [
    "STEPS_3PC",
    "TERMINATIONS",
    "Termination",
    "ThreePCCoordinator",
    "ThreePCParticipant",
]
