"""What the 2PC and 3PC coordinators share: the client request, the decision log, retries until
every participant acknowledges, and *failpoints* to crash at a chosen step.

Rules
-----
1. A client sends ``Request(id, Begin(txn))``. The coordinator answers once the outcome is decided
   and logged: ``Response(ok=True, body="committed")``, or the definite failure
   ``Response(ok=False, error="aborted: <why>")``. If the coordinator crashes first, the client
   hears nothing: for it the outcome is indefinite (Jepsen's ``info``).
2. The decision is forced to the log (``ctx.storage["txn/<tid>"]``) before any message announces
   it, and resent every ``retry_ms`` to every participant that has not acknowledged it, across
   crashes (the record says which transactions are not ``done``).
3. **Presumed abort** (Mohan, Lindsay and Obermarck, 1986): the coordinator logs nothing before
   phase 1. A transaction it has no record of, and is not running, was never decided commit: asked
   about it, the coordinator logs and answers *abort*.

Failpoints
----------
``crash_at=<step>`` makes the coordinator stop at that step, as if it crashed there: it does the
sends that step lists (for ``after_some_prepares``, ``mid_phase2`` and ``mid_phase3``: the message
to the *first* participant only), logs a ``failpoint`` event, calls ``on_crash()`` and from then on
ignores everything. ``on_crash`` is how an experiment turns that into a real crash of the node at
the same instant (:func:`dslab.commit.experiments.coordinator_crash`); it is a hook for fault
injection, like the failpoints of FoundationDB or TiKV, not part of the protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_choice
from dslab.commit.messages import Ack, Begin, DecisionReply, DecisionRequest, Txn, Vote
from dslab.commit.resource import _ms
from dslab.core import Context, Handler, Request, Response


@dataclass(eq=False)
class Run:
    """A transaction the coordinator is driving (volatile: lost in a crash)."""

    txn: Txn
    client: str | None
    request_id: int | None
    phase: str = "voting"  # voting -> (precommitting ->) decided
    votes: dict[str, bool] = field(default_factory=dict)
    acks: set[str] = field(default_factory=set)


class CoordinatorBase(Handler):
    """The shared half of a commit coordinator (see the module rules)."""

    #: The failpoints this protocol knows, in protocol order.
    STEPS: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        vote_timeout_ms: float = 50.0,
        retry_ms: float = 20.0,
        crash_at: str | None = None,
        on_crash: Callable[[], None] | None = None,
    ) -> None:
        self.vote_timeout_ms = _ms("vote_timeout_ms", vote_timeout_ms)
        self.retry_ms = _ms("retry_ms", retry_ms)
        if crash_at is not None:
            check_choice("crash_at", crash_at, self.STEPS)
        if on_crash is not None and not callable(on_crash):
            raise TypeError(f"on_crash={on_crash!r} must be callable (or None)")
        self.crash_at = crash_at
        self.on_crash = on_crash
        self.halted = False
        self.runs: dict[str, Run] = {}
        #: tid -> participants that have not acknowledged the logged decision yet
        self.unacked: dict[str, set[str]] = {}

    # -- protocol-specific -----------------------------------------------------------------------
    def _phase1_message(self, txn: Txn, participant: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _decision_message(self, tid: str, outcome: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _all_yes(self, ctx: Context, run: Run) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _abort_steps(self) -> dict[str, Any]:
        """The failpoints around an abort decided in the voting phase."""
        return {"logged_step": "decision_logged", "partial_step": "mid_phase2"}

    # -- helpers ---------------------------------------------------------------------------------
    def _failpoint(self, ctx: Context, step: str) -> bool:
        """Stop here if this is the failpoint (see the module docstring)."""
        if self.crash_at != step or self.halted:
            return False
        ctx.log("failpoint", step=step)
        self.halted = True
        if self.on_crash is not None:
            self.on_crash()
        return True

    def _log(
        self, ctx: Context, tid: str, state: str, participants: list[str], **extra: Any
    ) -> None:
        rec = {"state": state, "participants": list(participants), "done": False, **extra}
        ctx.storage[f"txn/{tid}"] = rec

    def record(self, ctx: Context, tid: str) -> dict[str, Any] | None:
        return ctx.storage.get(f"txn/{tid}")

    def _reply(self, ctx: Context, run: Run, outcome: str, why: str) -> None:
        if run.client is None or run.request_id is None:
            return
        if outcome == "committed":
            ctx.send(run.client, Response(run.request_id, True, "committed"))
        else:
            ctx.send(run.client, Response(run.request_id, False, None, f"aborted: {why}"))

    # -- the decision ----------------------------------------------------------------------------
    def _decide(
        self,
        ctx: Context,
        run: Run,
        outcome: str,
        why: str,
        *,
        logged_step: str | None,
        partial_step: str,
    ) -> None:
        """Log ``outcome`` (forced), answer the client, send it to every participant and retry
        until each acknowledges. ``logged_step``: the failpoint right after the log write;
        ``partial_step``: the failpoint that sends to the first participant only."""
        tid = run.txn.tid
        parts = list(run.txn.participants)
        run.phase = "decided"
        ctx.cancel_timer(f"vote/{tid}")
        ctx.cancel_timer(f"resend/{tid}")
        ctx.cancel_timer(f"acks/{tid}")
        # SOLUTION: The commit point: force the decision (outcome, its participants parts and why)
        # to the log with self._log before any message can announce it.
        self._log(ctx, tid, outcome, parts, why=why)  # forced before phase 2 starts
        # END SOLUTION
        ctx.log("decide", tid=tid, outcome=outcome, why=why)
        if logged_step is not None and self._failpoint(ctx, logged_step):
            return
        self.unacked[tid] = set(parts)
        msg = self._decision_message(tid, outcome)
        if self._partial(ctx, partial_step, parts, msg):
            return
        # SOLUTION: Phase 2: answer the client (self._reply), send msg to every participant, and
        # set the timer f"retry/{tid}" (self.retry_ms) that resends it until each one acks.
        self._reply(ctx, run, outcome, why)
        for p in parts:
            ctx.send(p, msg)
        ctx.set_timer(f"retry/{tid}", self.retry_ms)
        # END SOLUTION

    def _partial(self, ctx: Context, step: str, parts: list[str], msg: Any) -> bool:
        """The ``mid_*`` failpoints: send ``msg`` to the first participant only, then stop."""
        if self.crash_at != step:
            return False
        ctx.send(parts[0], msg)
        return self._failpoint(ctx, step)

    # -- handlers --------------------------------------------------------------------------------
    def on_start(self, ctx: Context) -> None:
        # SOLUTION: Recovery after a restart (only ctx.storage survived). For every record
        # "txn/<tid>" holding a decision ("committed" / "aborted") that is not "done": note its
        # participants in self.unacked[tid], log a "resume_phase2" event (tid, outcome), resend
        # the logged decision (self._decision_message) to each participant and set the retry
        # timer. Never change a logged decision; a transaction with no record needs nothing here.
        for key in ctx.storage:
            if not key.startswith("txn/"):
                continue
            tid, rec = key[4:], ctx.storage[key]
            if rec["state"] in ("committed", "aborted") and not rec["done"]:
                self.unacked[tid] = set(rec["participants"])
                ctx.log("resume_phase2", tid=tid, outcome=rec["state"])
                msg = self._decision_message(tid, rec["state"])
                for p in rec["participants"]:
                    ctx.send(p, msg)
                ctx.set_timer(f"retry/{tid}", self.retry_ms)
        # END SOLUTION
        self._recover_more(ctx)

    def _recover_more(self, ctx: Context) -> None:
        """Protocol-specific recovery (3PC: transactions pre-committed but not decided)."""

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if self.halted:
            return
        if isinstance(msg, Request):
            if isinstance(msg.body, Begin):
                self._begin(ctx, src, msg)
            else:
                ctx.send(src, Response(msg.id, False, None, f"unknown request {msg.body!r}"))
        elif isinstance(msg, Vote):
            self._vote(ctx, src, msg)
        elif isinstance(msg, Ack):
            self._ack(ctx, src, msg)
        elif isinstance(msg, DecisionRequest):
            self._answer(ctx, src, msg.tid)
        else:
            self._other(ctx, src, msg)

    def _other(self, ctx: Context, src: str, msg: Any) -> None:
        """Messages only one protocol has."""

    def _begin(self, ctx: Context, src: str, req: Request) -> None:
        txn = req.body.txn
        # SOLUTION: A retried request. If the log already holds a decision for txn.tid, answer
        # the client with it (self._reply on a Run(txn, src, req.id); the record's "why", or
        # "decided") and run nothing again; if the transaction has a record or is running, ignore
        # the request.
        rec = self.record(ctx, txn.tid)
        if rec is not None and rec["state"] in ("committed", "aborted"):  # a retried request
            self._reply(ctx, Run(txn, src, req.id), rec["state"], rec.get("why", "decided"))
            return
        if rec is not None or txn.tid in self.runs:
            return  # already running
        # END SOLUTION
        if self._failpoint(ctx, "before_prepare"):
            return
        self.runs[txn.tid] = Run(txn, src, req.id)
        parts = list(txn.participants)
        ctx.log("begin", tid=txn.tid, participants=parts)
        if self._partial(ctx, "after_some_prepares", parts, self._phase1_message(txn, parts[0])):
            return
        for p in parts:
            ctx.send(p, self._phase1_message(txn, p))
        ctx.set_timer(f"vote/{txn.tid}", self.vote_timeout_ms)
        ctx.set_timer(f"resend/{txn.tid}", self.retry_ms)

    def _vote(self, ctx: Context, src: str, msg: Vote) -> None:
        run = self.runs.get(msg.tid)
        if run is None or run.phase != "voting" or src not in run.txn.participants:
            return  # late or duplicate: the decision is resent anyway
        run.votes[src] = msg.yes
        if not msg.yes:
            self._decide(ctx, run, "aborted", f"{src} voted no", **self._abort_steps())
        elif len(run.votes) == len(run.txn.participants):
            if self._failpoint(ctx, "after_votes"):
                return
            self._all_yes(ctx, run)

    def _ack(self, ctx: Context, src: str, msg: Ack) -> None:
        waiting = self.unacked.get(msg.tid)
        if waiting is None or src not in waiting or msg.state not in ("committed", "aborted"):
            return
        waiting.discard(src)
        if not waiting:
            del self.unacked[msg.tid]
            rec = self.record(ctx, msg.tid)
            if rec is not None:
                rec["done"] = True
                ctx.storage[f"txn/{msg.tid}"] = rec
            self.runs.pop(msg.tid, None)
            ctx.cancel_timer(f"retry/{msg.tid}")
            ctx.log("done", tid=msg.tid)

    def _answer(self, ctx: Context, src: str, tid: str) -> None:
        """Answer "what was decided?" from the log; presumed abort when there is no record."""
        # SOLUTION: Answer a participant's DecisionRequest with a DecisionReply: the logged
        # decision if there is one; "undecided" if the transaction is still running here (a
        # participant that voted YES must keep waiting); "recovering" for a record without a
        # decision (3PC after a restart); otherwise presumed abort: force an "aborted" record
        # (presumed=True, done=True), log a "decide" event, and answer "aborted".
        rec = self.record(ctx, tid)
        if rec is not None and rec["state"] in ("committed", "aborted"):
            ctx.send(src, DecisionReply(tid, rec["state"]))
        elif tid in self.runs:  # running: it will decide, ask again later
            ctx.send(src, DecisionReply(tid, "undecided"))
        elif rec is not None:  # a 3PC pre-commit record found after a restart: not running
            ctx.send(src, DecisionReply(tid, "recovering"))
        else:
            self._log(ctx, tid, "aborted", [], why="presumed abort", presumed=True)
            rec = self.record(ctx, tid)
            rec["done"] = True
            ctx.storage[f"txn/{tid}"] = rec
            ctx.log("decide", tid=tid, outcome="aborted", why="presumed abort")
            ctx.send(src, DecisionReply(tid, "aborted"))
        # END SOLUTION

    def on_timer(self, ctx: Context, name: str) -> None:
        if self.halted:
            return
        kind, _, tid = name.partition("/")
        run = self.runs.get(tid)
        if kind == "vote" and run is not None and run.phase == "voting":
            missing = [p for p in run.txn.participants if p not in run.votes]
            why = f"no vote from {', '.join(missing)}"
            self._decide(ctx, run, "aborted", why, **self._abort_steps())
        elif kind == "resend" and run is not None and run.phase == "voting":
            for p in run.txn.participants:
                if p not in run.votes:
                    ctx.send(p, self._phase1_message(run.txn, p))
            ctx.set_timer(name, self.retry_ms)
        elif kind == "retry" and tid in self.unacked:
            rec = self.record(ctx, tid)
            msg = self._decision_message(tid, rec["state"])
            for p in sorted(self.unacked[tid]):
                ctx.send(p, msg)
            ctx.set_timer(name, self.retry_ms)
        else:
            self._timer(ctx, kind, tid)

    def _timer(self, ctx: Context, kind: str, tid: str) -> None:
        """Timers only one protocol has."""


__all__ = ["CoordinatorBase", "Run"]
