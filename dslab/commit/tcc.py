"""TCC (Try-Confirm-Cancel): two phases like 2PC, but each phase is a business operation that
commits locally at once, so no lock is held between the phases.

The pattern (the tentative operations of Pat Helland, CIDR 2007; the name Try-Confirm/Cancel
comes from Atomikos and is used by Apache Seata; in Chinese: 资源预留 / 确认 / 取消)
------------------------------------------------------------------------------------------
Try
    The coordinator (transaction manager, :class:`TccCoordinator`) sends :class:`Try` to every
    participant. A participant checks its business rule and **reserves** the resource in a local
    transaction: an outgoing amount leaves the available balance into ``frozen_out``; an incoming
    amount waits in ``frozen_in``. It answers :class:`TryReply`.
Confirm / Cancel
    Every Try succeeded: the coordinator logs *confirm* and sends :class:`Confirm`, which
    **consumes** the reservation (the frozen money is gone, or becomes available). A Try failed or
    timed out: it logs *cancel* and sends :class:`Cancel`, which **releases** it. The coordinator
    resends the decision every ``retry_ms`` until each participant answers :class:`Done`, across
    its own crashes (the decision is in its log).

The three anomalies every TCC participant must handle (:class:`TccParticipant`)
--------------------------------------------------------------------------------
1. **Idempotency (幂等).** Confirm and Cancel are retried, and the network duplicates messages: a
   second Confirm or Cancel changes nothing and is answered again (``duplicate`` leg event).
2. **Empty rollback (空回滚).** A Cancel can arrive for a Try this participant never ran: the Try
   was lost, or is still on its way, or the participant was down. There is nothing to release, and
   the participant must still answer Done (or the coordinator retries forever). It records a
   *tombstone* (``cancelled`` without a reservation).
3. **Suspension (悬挂).** The late Try then arrives. Executing it would freeze money that no Confirm
   or Cancel will ever release: the reservation would hang. Because of the tombstone the
   participant refuses it (``suspend``).

Rules 2 and 3 are why a participant logs its leg state by transaction id (``tcc/<tid>``) in the
same local transaction as the balance change. A participant that crashes loses nothing but
volatile state.

What TCC gives and what it does not: eventual atomicity (every leg confirmed, or every leg
released) without blocking anybody's data, at the price of three business operations per service
and a visible intermediate state: the frozen money is out of the available balance from Try
until Confirm or Cancel, and a reader sees it gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_number, check_type
from dslab.commit.ledger import Account, BeginTransfer, ReadBalance, Transfer
from dslab.core import Context, Handler, Request, Response

STATES = ("trying", "confirming", "cancelling", "done")


@dataclass(frozen=True, slots=True)
class Try:
    """Phase 1: reserve ``delta`` for transaction ``tid``. ``must_fail``: the business check
    fails (injected)."""

    tid: str
    delta: int
    must_fail: bool = False


@dataclass(frozen=True, slots=True)
class TryReply:
    """A participant's answer to :class:`Try`: ``ok`` (reserved) or not (refused)."""

    tid: str
    ok: bool


@dataclass(frozen=True, slots=True)
class Confirm:
    """Phase 2: consume the reservation of ``tid``."""

    tid: str


@dataclass(frozen=True, slots=True)
class Cancel:
    """Phase 2: release the reservation of ``tid`` (if there is one)."""

    tid: str


@dataclass(frozen=True, slots=True)
class Done:
    """A participant has confirmed (``phase="confirm"``) or cancelled ``tid``."""

    tid: str
    phase: str


def _ms(name: str, value: Any) -> float:
    return float(check_number(name, value, min=0, min_inclusive=False))


class TccParticipant(Account, Handler):
    """A TCC participant: Try reserves, Confirm consumes, Cancel releases (see the module rules).

    The leg record ``tcc/<tid>`` holds ``state`` (``reserved``, ``confirmed``, ``cancelled``,
    ``refused``) and ``delta``. ``remember_empty_rollback=False`` answers an empty rollback
    without writing the tombstone: the broken variant whose late Try then hangs (rule 3), for
    the experiments and exercises.
    """

    def __init__(self, *, remember_empty_rollback: bool = True) -> None:
        self.remember_empty_rollback = check_type("remember_empty_rollback",
                                                  remember_empty_rollback, bool)

    def record(self, ctx: Context, tid: str) -> dict[str, Any] | None:
        return ctx.storage.get(f"tcc/{tid}")

    def _write(self, ctx: Context, tid: str, state: str, delta: int) -> None:
        ctx.storage[f"tcc/{tid}"] = {"state": state, "delta": delta}

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Try):
            ctx.send(src, TryReply(msg.tid, self.try_(ctx, msg)))
        elif isinstance(msg, Confirm):
            self.confirm(ctx, msg.tid)
            ctx.send(src, Done(msg.tid, "confirm"))
        elif isinstance(msg, Cancel):
            self.cancel(ctx, msg.tid)
            ctx.send(src, Done(msg.tid, "cancel"))
        elif isinstance(msg, Request) and isinstance(msg.body, ReadBalance):
            self.answer_read(ctx, src, msg)

    def try_(self, ctx: Context, msg: Try) -> bool:
        """Reserve; True if the leg is (now or already) reserved or confirmed."""
        rec = self.record(ctx, msg.tid)
        if rec is not None:
            if rec["state"] == "cancelled":  # rule 3: a Try after its Cancel would hang
                self.leg(ctx, msg.tid, "suspend", msg.delta)
                return False
            self.leg(ctx, msg.tid, "duplicate", msg.delta, request="try")
            return rec["state"] in ("reserved", "confirmed")
        if msg.must_fail or (msg.delta < 0 and self.balance(ctx) < -msg.delta):
            self._write(ctx, msg.tid, "refused", msg.delta)
            self.leg(ctx, msg.tid, "refuse", msg.delta)
            return False
        if msg.delta < 0:  # the money leaves the available balance now
            self.add(ctx, "balance", msg.delta)
            self.add(ctx, "frozen_out", -msg.delta)
        else:  # incoming money is held until Confirm
            self.add(ctx, "frozen_in", msg.delta)
        self._write(ctx, msg.tid, "reserved", msg.delta)
        self.leg(ctx, msg.tid, "reserve", msg.delta)
        return True

    def confirm(self, ctx: Context, tid: str) -> None:
        rec = self.record(ctx, tid)
        if rec is None or rec["state"] in ("cancelled", "refused"):
            # Only possible if the coordinator broke its own rule (confirm needs every Try ok).
            ctx.log("conflict", tid=tid, state=rec["state"] if rec else "none",
                    decision="confirm")
            return
        delta = rec["delta"]
        if rec["state"] == "confirmed":  # rule 1
            self.leg(ctx, tid, "duplicate", delta, request="confirm")
            return
        if delta < 0:
            self.add(ctx, "frozen_out", delta)
        else:
            self.add(ctx, "frozen_in", -delta)
            self.add(ctx, "balance", delta)
        self._write(ctx, tid, "confirmed", delta)
        self.leg(ctx, tid, "confirm", delta)

    def cancel(self, ctx: Context, tid: str) -> None:
        rec = self.record(ctx, tid)
        if rec is None:  # rule 2: empty rollback, remembered so that a late Try is refused
            if self.remember_empty_rollback:
                self._write(ctx, tid, "cancelled", 0)
            self.leg(ctx, tid, "tombstone", 0)
            return
        delta = rec["delta"]
        if rec["state"] == "confirmed":
            ctx.log("conflict", tid=tid, state="confirmed", decision="cancel")
            return
        if rec["state"] in ("cancelled", "refused"):  # rule 1 (a refused Try reserved nothing)
            self.leg(ctx, tid, "duplicate", delta, request="cancel")
            return
        if delta < 0:
            self.add(ctx, "frozen_out", delta)
            self.add(ctx, "balance", -delta)
        else:
            self.add(ctx, "frozen_in", -delta)
        self._write(ctx, tid, "cancelled", delta)
        self.leg(ctx, tid, "cancel", delta)


@dataclass(eq=False)
class _Run:
    transfer: Transfer
    client: str | None
    request_id: int | None
    replies: dict[str, bool] = field(default_factory=dict)


class TccCoordinator(Handler):
    """The TCC transaction manager (see the module rules).

    ``try_timeout_ms``: cancel if a Try reply is missing this long after the Trys went out
    (they are resent every ``retry_ms`` meanwhile). ``retry_ms``: resend Confirm / Cancel to
    participants that have not answered Done.

    Its log ``tcc/<tid>`` is written *before* the first Try leaves (state ``trying``), so a
    coordinator that crashes in phase 1 finds the transaction on restart and cancels it: no Try
    can stay reserved for ever.
    """

    def __init__(self, *, try_timeout_ms: float = 60.0, retry_ms: float = 20.0) -> None:
        self.try_timeout_ms = _ms("try_timeout_ms", try_timeout_ms)
        self.retry_ms = _ms("retry_ms", retry_ms)
        self.runs: dict[str, _Run] = {}
        #: tid -> participants that have not answered Done to the logged decision
        self.unacked: dict[str, set[str]] = {}

    def record(self, ctx: Context, tid: str) -> dict[str, Any] | None:
        return ctx.storage.get(f"tcc/{tid}")

    def on_start(self, ctx: Context) -> None:
        for key in ctx.storage:
            if not key.startswith("tcc/"):
                continue
            tid, rec = key[4:], ctx.storage[key]
            if rec["state"] == "trying":  # crashed in phase 1: nobody was told confirm
                self._decide(ctx, tid, rec, "cancelling", "coordinator restarted in phase 1")
            elif rec["state"] in ("confirming", "cancelling"):
                self._phase2(ctx, tid, rec)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request) and isinstance(msg.body, BeginTransfer):
            self._begin(ctx, src, msg)
        elif isinstance(msg, Request):
            ctx.send(src, Response(msg.id, False, None, f"unknown request {msg.body!r}"))
        elif isinstance(msg, TryReply):
            self._try_reply(ctx, src, msg)
        elif isinstance(msg, Done):
            self._done(ctx, src, msg)

    def _begin(self, ctx: Context, src: str, req: Request) -> None:
        t = req.body.transfer
        rec = self.record(ctx, t.tid)
        if rec is not None and rec["state"] != "trying":  # a retried request: answer again
            self._reply(ctx, src, req.id, rec)
            return
        if rec is not None:
            return
        rec = {"state": "trying", "legs": [list(leg) for leg in t.legs],
               "refuse": list(t.refuse), "why": ""}
        ctx.storage[f"tcc/{t.tid}"] = rec  # forced before any Try leaves
        ctx.log("txn_begin", tid=t.tid, pattern="tcc")
        self.runs[t.tid] = _Run(t, src, req.id)
        self._send_tries(ctx, self.runs[t.tid])
        ctx.set_timer(f"try/{t.tid}", self.try_timeout_ms)
        ctx.set_timer(f"resend/{t.tid}", self.retry_ms)

    def _send_tries(self, ctx: Context, run: _Run) -> None:
        for p, d in run.transfer.legs:
            if p not in run.replies:
                ctx.send(p, Try(run.transfer.tid, d, p in run.transfer.refuse))

    def _try_reply(self, ctx: Context, src: str, msg: TryReply) -> None:
        run = self.runs.get(msg.tid)
        rec = self.record(ctx, msg.tid)
        if run is None or rec is None or rec["state"] != "trying":
            return  # late or duplicate: the decision is resent anyway
        if src not in run.transfer.participants:
            return
        run.replies[src] = msg.ok
        if not msg.ok:
            self._decide(ctx, msg.tid, rec, "cancelling", f"Try refused by {src}")
        elif len(run.replies) == len(run.transfer.legs):
            self._decide(ctx, msg.tid, rec, "confirming", "every Try succeeded")

    def _decide(self, ctx: Context, tid: str, rec: dict[str, Any], state: str, why: str) -> None:
        rec = dict(rec, state=state, why=why)
        ctx.storage[f"tcc/{tid}"] = rec  # forced before any Confirm / Cancel leaves
        ctx.log("decide", tid=tid, outcome="committed" if state == "confirming" else "aborted",
                why=why)
        ctx.cancel_timer(f"try/{tid}")
        ctx.cancel_timer(f"resend/{tid}")
        run = self.runs.get(tid)
        if run is not None:
            self._reply(ctx, run.client, run.request_id, rec)
        self._phase2(ctx, tid, rec)

    def _phase2(self, ctx: Context, tid: str, rec: dict[str, Any]) -> None:
        self.unacked[tid] = {p for p, _ in rec["legs"]}
        self._resend(ctx, tid, rec)

    def _resend(self, ctx: Context, tid: str, rec: dict[str, Any]) -> None:
        msg = Confirm(tid) if rec["state"] == "confirming" else Cancel(tid)
        for p in sorted(self.unacked[tid]):
            ctx.send(p, msg)
        ctx.set_timer(f"retry/{tid}", self.retry_ms)

    def _reply(self, ctx: Context, client: str | None, request_id: int | None,
               rec: dict[str, Any]) -> None:
        if client is None or request_id is None:
            return
        committed = rec["state"] == "confirming" or (rec["state"] == "done"
                                                     and rec.get("outcome") == "confirming")
        if committed:
            ctx.send(client, Response(request_id, True, "confirmed"))
        else:
            ctx.send(client, Response(request_id, False, None, f"cancelled: {rec['why']}"))

    def _done(self, ctx: Context, src: str, msg: Done) -> None:
        rec = self.record(ctx, msg.tid)
        waiting = self.unacked.get(msg.tid)
        if rec is None or waiting is None or src not in waiting:
            return
        if msg.phase != ("confirm" if rec["state"] == "confirming" else "cancel"):
            return
        waiting.discard(src)
        if not waiting:
            del self.unacked[msg.tid]
            ctx.storage[f"tcc/{msg.tid}"] = dict(rec, state="done", outcome=rec["state"])
            ctx.cancel_timer(f"retry/{msg.tid}")
            self.runs.pop(msg.tid, None)
            ctx.log("done", tid=msg.tid)

    def on_timer(self, ctx: Context, name: str) -> None:
        kind, _, tid = name.partition("/")
        rec = self.record(ctx, tid)
        if rec is None:
            return
        run = self.runs.get(tid)
        if kind == "try" and rec["state"] == "trying":
            missing = [p for p, _ in rec["legs"] if run is None or p not in run.replies]
            self._decide(ctx, tid, rec, "cancelling", f"no Try reply from {', '.join(missing)}")
        elif kind == "resend" and rec["state"] == "trying" and run is not None:
            self._send_tries(ctx, run)
            ctx.set_timer(name, self.retry_ms)
        elif kind == "retry" and tid in self.unacked:
            self._resend(ctx, tid, rec)


__all__ = [
    "STATES",
    "Cancel",
    "Confirm",
    "Done",
    "TccCoordinator",
    "TccParticipant",
    "Try",
    "TryReply",
]
