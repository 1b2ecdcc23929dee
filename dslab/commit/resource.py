"""The resource manager every commit participant is built on: data, locks and a write-ahead log.

A participant of a distributed transaction is a small database (a *resource manager* in Gray's
terms; the notes' 参与者). Before it may vote YES it must be able to commit whatever happens to it
afterwards, including a crash. That is the job of this class; the 2PC and 3PC participants
(:mod:`.twopc`, :mod:`.threepc`) add only the protocol on top.

Rules
-----
1. **Locks.** A transaction's writes lock their keys (exclusive, all or nothing) from phase 1 until
   the outcome is known. A phase-1 request whose keys are locked by another transaction waits in a
   FIFO queue; after ``lock_wait_ms`` it gives up and votes NO (a *unilateral abort*: allowed
   because the participant has not voted yet). This is what makes blocking expensive: while a
   participant sits in doubt, every other transaction on the same keys waits and then aborts.
2. **Write-ahead log.** The record of every state change is written to durable storage
   (``ctx.storage["txn/<tid>"]``) *before* the message that announces it leaves: ``prepared``
   before the YES vote, ``aborted`` before the NO vote, ``committed`` before the Ack. (The notes'
   "write undo and redo to the transaction log, then answer" -- 数据库中的2PC: the ``writes`` in the
   record are the redo information; the undo information is that nothing is applied to the data
   before commit.)
3. **Commit** applies the writes to the data (``ctx.storage["kv/<key>"]``), then releases the locks;
   **abort** just releases them (rollback). Both are final: a participant never changes a decided
   outcome. A decision that contradicts it (possible only after a protocol's safety failed, as in
   3PC under a partition) is logged as a ``conflict`` event and otherwise ignored.
4. **Recovery.** After a restart the participant rebuilds its table of transactions from the log
   and takes the locks of every transaction it had voted YES for and not yet finished: an
   in-doubt transaction keeps its locks across a crash.

Events (``ctx.log``), read by :mod:`dslab.commit.check`: ``state`` (``tid``, ``state``, ``by``)
at every logged state change, ``vote`` (``tid``, ``yes``), ``lock_wait`` (``tid``, ``holders``),
``conflict`` (``tid``, ``state``, ``decision``).
"""

from __future__ import annotations

from typing import Any

from dslab._validate import check_number, check_probability
from dslab.commit.messages import FINAL, Vote
from dslab.core import Context, Handler


def _ms(name: str, value: Any, *, positive: bool = True) -> float:
    return float(check_number(name, value, min=0, min_inclusive=not positive))


class ResourceManager(Handler):
    """Data, locks and write-ahead log of one participant (see the module rules)."""

    def __init__(self, *, lock_wait_ms: float = 40.0, no_probability: float = 0.0) -> None:
        self.lock_wait_ms = _ms("lock_wait_ms", lock_wait_ms)
        self.no_probability = check_probability("no_probability", no_probability)
        #: tid -> the durable record (a dict: state, coordinator, participants, writes, by)
        self.txns: dict[str, dict[str, Any]] = {}
        #: key -> the tid holding its lock
        self.locks: dict[str, str] = {}
        #: tid -> the phase-1 request waiting for its locks (coordinator, participants, writes)
        self.waiting: dict[str, tuple[str, tuple[str, ...], tuple[tuple[str, Any], ...]]] = {}

    # -- what subclasses hook into ---------------------------------------------------------------
    def _after_yes(self, ctx: Context, tid: str) -> None:
        """Called right after a YES vote left (set the protocol's timers)."""

    def _on_final(self, ctx: Context, tid: str) -> None:
        """Called once ``tid`` is committed or aborted here (cancel the protocol's timers)."""

    # -- the log ---------------------------------------------------------------------------------
    def state_of(self, tid: str) -> str:
        """``none``, ``prepared``, ``precommitted``, ``committed`` or ``aborted``."""
        rec = self.txns.get(tid)
        return rec["state"] if rec is not None else "none"

    def in_doubt(self) -> list[str]:
        """Transactions voted YES for and not finished (sorted)."""
        return sorted(t for t, r in self.txns.items() if r["state"] not in FINAL)

    def _record(self, ctx: Context, tid: str, state: str, by: str, **fields: Any) -> None:
        """Force the new state of ``tid`` to the log (durable at once), then report it."""
        rec = dict(self.txns.get(tid) or {"coordinator": None, "participants": (), "writes": ()})
        rec.update(fields)
        rec["state"] = state
        rec["by"] = by
        ctx.storage[f"txn/{tid}"] = rec
        self.txns[tid] = rec
        ctx.log("state", tid=tid, state=state, by=by)

    def _recover(self, ctx: Context) -> list[str]:
        """Rebuild the transaction table from the log; re-take the locks of in-doubt
        transactions. Returns those transactions."""
        for key in ctx.storage:
            if key.startswith("txn/"):
                self.txns[key[4:]] = ctx.storage[key]
        doubt = self.in_doubt()
        for tid in doubt:
            for k, _ in self.txns[tid]["writes"]:
                self.locks[k] = tid
        return doubt

    # -- locks -----------------------------------------------------------------------------------
    def _try_lock(self, tid: str, keys: list[str]) -> bool:
        if any(self.locks.get(k, tid) != tid for k in keys):
            return False
        for k in keys:
            self.locks[k] = tid
        return True

    def _release(self, ctx: Context, tid: str) -> None:
        """Release ``tid``'s locks and hand them to waiting requests, in arrival order."""
        freed = [k for k, holder in self.locks.items() if holder == tid]
        for k in freed:
            del self.locks[k]
        if freed:
            self._drain(ctx)

    def _drain(self, ctx: Context) -> None:
        for tid in list(self.waiting):
            if tid not in self.waiting:  # handled by a nested drain (a NO vote released locks)
                continue
            coordinator, participants, writes = self.waiting[tid]
            if self._try_lock(tid, sorted({k for k, _ in writes})):
                del self.waiting[tid]
                ctx.cancel_timer(f"lockwait/{tid}")
                self._vote(ctx, coordinator, tid, participants, writes, False)

    # -- phase 1 ---------------------------------------------------------------------------------
    def _phase1(
        self,
        ctx: Context,
        coordinator: str,
        tid: str,
        participants: tuple[str, ...],
        writes: tuple[tuple[str, Any], ...],
        must_fail: bool,
    ) -> None:
        """Handle Prepare / CanCommit: lock, force the log record, vote."""
        state = self.state_of(tid)
        if state != "none":  # a duplicate: repeat the vote already cast
            ctx.send(coordinator, Vote(tid, state != "aborted"))
            return
        if tid in self.waiting:
            return
        if must_fail:  # the local work failed: abort without locking anything
            self._vote(ctx, coordinator, tid, participants, writes, True)
            return
        keys = sorted({k for k, _ in writes})
        if self._try_lock(tid, keys):
            self._vote(ctx, coordinator, tid, participants, writes, False)
            return
        self.waiting[tid] = (coordinator, tuple(participants), tuple(writes))
        holders = sorted({self.locks[k] for k in keys if k in self.locks and self.locks[k] != tid})
        ctx.log("lock_wait", tid=tid, holders=holders)
        ctx.set_timer(f"lockwait/{tid}", self.lock_wait_ms)

    def _vote(
        self,
        ctx: Context,
        coordinator: str,
        tid: str,
        participants: tuple[str, ...],
        writes: tuple[tuple[str, Any], ...],
        must_fail: bool,
    ) -> None:
        fields = {
            "coordinator": coordinator,
            "participants": tuple(participants),
            "writes": tuple(tuple(w) for w in writes),
        }
        refuse = must_fail or (self.no_probability > 0 and ctx.rng.random() < self.no_probability)
        if refuse:
            self._record(ctx, tid, "aborted", "vote_no", **fields)  # forced before the NO vote
            self._release(ctx, tid)
            ctx.log("vote", tid=tid, yes=False)
            ctx.send(coordinator, Vote(tid, False))
            return
        self._record(ctx, tid, "prepared", "vote_yes", **fields)  # forced before the YES vote
        ctx.log("vote", tid=tid, yes=True)
        ctx.send(coordinator, Vote(tid, True))
        self._after_yes(ctx, tid)

    def _lock_timeout(self, ctx: Context, tid: str) -> None:
        """The locks did not come in time: abort unilaterally (we have not voted) and vote NO."""
        if tid not in self.waiting:
            return
        coordinator, participants, writes = self.waiting.pop(tid)
        self._record(
            ctx, tid, "aborted", "lock_timeout", coordinator=coordinator,
            participants=tuple(participants), writes=tuple(tuple(w) for w in writes),
        )
        ctx.log("vote", tid=tid, yes=False)
        ctx.send(coordinator, Vote(tid, False))

    def _abort_unvoted(self, ctx: Context, tid: str, by: str) -> None:
        """Abort a transaction this participant has not voted YES for (it knows nothing of it, or
        is still waiting for its locks). Safe: without our YES nobody can decide commit."""
        if tid in self.waiting:
            ctx.cancel_timer(f"lockwait/{tid}")
            coordinator, participants, writes = self.waiting.pop(tid)
            self._record(
                ctx, tid, "aborted", by, coordinator=coordinator,
                participants=tuple(participants), writes=tuple(tuple(w) for w in writes),
            )
            ctx.log("vote", tid=tid, yes=False)
            ctx.send(coordinator, Vote(tid, False))
        else:
            self._record(ctx, tid, "aborted", by)

    # -- the outcome -----------------------------------------------------------------------------
    def _finish(self, ctx: Context, tid: str, outcome: str, by: str) -> bool:
        """Commit or abort ``tid`` here (once). Returns True if the state changed."""
        state = self.state_of(tid)
        if state in FINAL:
            if state != outcome:
                ctx.log("conflict", tid=tid, state=state, decision=outcome, by=by)
            return False
        if state == "none":
            if outcome == "committed":  # a commit we never voted for: impossible when correct
                ctx.log("conflict", tid=tid, state=state, decision=outcome, by=by)
                return False
            self._abort_unvoted(ctx, tid, by)
            self._on_final(ctx, tid)
            return True
        rec = self.txns[tid]
        self._record(ctx, tid, outcome, by)
        if outcome == "committed":
            for k, v in rec["writes"]:
                ctx.storage[f"kv/{k}"] = v  # redo: apply the writes
        self._on_final(ctx, tid)
        self._release(ctx, tid)
        return True

    def read(self, ctx: Context, key: str) -> Any:
        """The committed value of ``key`` (None if never written)."""
        return ctx.storage.get(f"kv/{key}")


__all__ = ["ResourceManager"]
