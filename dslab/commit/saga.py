"""Saga: a long transaction as a sequence of local transactions, undone by compensations.

The pattern (Garcia-Molina and Salem, "Sagas", SIGMOD 1987; an *orchestrated* saga, whose saga
execution coordinator drives the steps)
-----------------------------------------------------------------------------------------------
Forward
    The saga is a sequence of steps T1, T2, ..., Tn, one per participant, in the order of the
    transfer's legs. Each step is a local transaction that **commits at once**: its effect is
    visible to everybody as soon as the participant applied it. The coordinator
    (:class:`SagaCoordinator`) sends :class:`Step` i, waits for :class:`StepReply`, logs its
    progress, and only then sends step i+1.
Backward (compensation, 补偿)
    If step i is refused (its business check failed), the saga cannot go on: the coordinator runs
    the compensations C(i-1), ..., C1 in reverse order, each a local transaction that semantically
    undoes its step (a refund, not a rollback: the step's effect was visible meanwhile). If step i
    did not answer within ``step_timeout_ms`` its outcome is unknown, so the coordinator
    compensates it too: Ci, C(i-1), ..., C1.

Rules that make it correct under crashes, loss and duplication
--------------------------------------------------------------
1. **The saga log.** The coordinator writes its position (``saga/<tid>``: ``forward`` at step i,
   ``compensating`` at step i, ``done``, ``compensated``) before it sends the message of that
   position, and resumes from it after a crash.
2. **Retry until done.** The current message is resent every ``retry_ms``. A compensation is
   never given up: a lost compensation would leave the saga half done for ever.
3. **Idempotent steps and compensations (幂等).** A participant records each leg by transaction id
   (``saga/<tid>`` in the same local transaction as the balance change) and answers a repeated
   Step or Compensate from that record without doing it again.
4. **Empty compensation, and no step after its compensation.** A compensation can reach a
   participant that never ran the step (the step was lost, or is still in the network): it
   records a tombstone and answers. A step that arrives after its tombstone is refused, exactly
   the *empty rollback* and *suspension* rules of TCC (:mod:`.tcc`).

Backward and forward recovery
-----------------------------
With ``recovery="backward"`` (the default) a step that does not answer in time is compensated, as
above. With ``recovery="forward"`` the coordinator never gives up a forward step for lack of an
answer: it keeps resending it until the participant answers (a step that is refused is still
compensated backwards). Forward recovery suits steps that can only fail transiently; it never
undoes work because of a slow or crashed participant, at the price of waiting for it.

What a saga gives up: isolation. Between T1 and Tn (or between T1 and C1) every intermediate
state is visible, and another transaction can read it or act on it (a reader sees the money
debited but not yet credited). The application must tolerate that (semantic locks, commutative
updates, or re-checking before each step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslab._validate import check_choice, check_number, check_type
from dslab.commit.ledger import Account, BeginTransfer, ReadBalance
from dslab.core import Context, Handler, Request, Response

STATES = ("forward", "compensating", "done", "compensated")
RECOVERY = ("backward", "forward")


@dataclass(frozen=True, slots=True)
class Step:
    """Forward step ``index`` of saga ``tid``: apply ``delta`` here. ``must_fail``: the business
    check fails (injected)."""

    tid: str
    index: int
    delta: int
    must_fail: bool = False


@dataclass(frozen=True, slots=True)
class StepReply:
    """A participant's answer to :class:`Step`: ``ok`` (applied) or refused."""

    tid: str
    index: int
    ok: bool


@dataclass(frozen=True, slots=True)
class Compensate:
    """Undo step ``index`` of saga ``tid`` (if it was applied)."""

    tid: str
    index: int


@dataclass(frozen=True, slots=True)
class Compensated:
    """A participant has compensated (or had nothing to compensate for) step ``index``."""

    tid: str
    index: int


def _ms(name: str, value: Any) -> float:
    return float(check_number(name, value, min=0, min_inclusive=False))


class SagaParticipant(Account, Handler):
    """A saga participant: runs a step as a local transaction and compensates it on request
    (rules 3 and 4). Its leg record ``saga/<tid>`` holds ``state`` (``applied``, ``refused``,
    ``compensated``) and ``delta``."""

    def record(self, ctx: Context, tid: str) -> dict[str, Any] | None:
        return ctx.storage.get(f"saga/{tid}")

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Step):
            ctx.send(src, StepReply(msg.tid, msg.index, self.step(ctx, msg)))
        elif isinstance(msg, Compensate):
            self.compensate(ctx, msg.tid)
            ctx.send(src, Compensated(msg.tid, msg.index))
        elif isinstance(msg, Request) and isinstance(msg.body, ReadBalance):
            self.answer_read(ctx, src, msg)

    def step(self, ctx: Context, msg: Step) -> bool:
        """Run the step once; True if it is applied (now or before)."""
        rec = self.record(ctx, msg.tid)
        if rec is not None:
            if rec["state"] == "compensated":  # rule 4: too late, it was already compensated
                self.leg(ctx, msg.tid, "suspend", msg.delta)
                return False
            self.leg(ctx, msg.tid, "duplicate", msg.delta, request="step")
            return rec["state"] == "applied"
        if msg.must_fail or (msg.delta < 0 and self.balance(ctx) < -msg.delta):
            ctx.storage[f"saga/{msg.tid}"] = {"state": "refused", "delta": msg.delta}
            self.leg(ctx, msg.tid, "refuse", msg.delta)
            return False
        self.add(ctx, "balance", msg.delta)
        ctx.storage[f"saga/{msg.tid}"] = {"state": "applied", "delta": msg.delta}
        self.leg(ctx, msg.tid, "apply", msg.delta)
        return True

    def compensate(self, ctx: Context, tid: str) -> None:
        rec = self.record(ctx, tid)
        if rec is None:  # rule 4: nothing to undo, but remember it
            ctx.storage[f"saga/{tid}"] = {"state": "compensated", "delta": 0}
            self.leg(ctx, tid, "tombstone", 0)
        elif rec["state"] == "applied":
            self.add(ctx, "balance", -rec["delta"])
            ctx.storage[f"saga/{tid}"] = {"state": "compensated", "delta": rec["delta"]}
            self.leg(ctx, tid, "compensate", rec["delta"])
        else:  # compensated already, or refused (nothing was applied): rule 3
            self.leg(ctx, tid, "duplicate", rec["delta"], request="compensate")


class SagaCoordinator(Handler):
    """The saga execution coordinator (see the module rules).

    ``step_timeout_ms``: a forward step that has not answered this long after it was first sent
    is given up and compensated (``recovery="backward"``) or kept on retrying
    (``recovery="forward"``). ``retry_ms``: resend the current Step or Compensate.
    """

    def __init__(self, *, step_timeout_ms: float = 60.0, retry_ms: float = 20.0,
                 recovery: str = "backward") -> None:
        self.step_timeout_ms = _ms("step_timeout_ms", step_timeout_ms)
        self.retry_ms = _ms("retry_ms", retry_ms)
        check_type("recovery", recovery, str)
        self.recovery = check_choice("recovery", recovery, RECOVERY)
        #: tid -> (client, request id) waiting for the outcome (volatile)
        self.waiting: dict[str, tuple[str, int]] = {}

    def record(self, ctx: Context, tid: str) -> dict[str, Any] | None:
        return ctx.storage.get(f"saga/{tid}")

    def _save(self, ctx: Context, tid: str, rec: dict[str, Any]) -> None:
        ctx.storage[f"saga/{tid}"] = rec

    def on_start(self, ctx: Context) -> None:
        for key in ctx.storage:
            if key.startswith("saga/"):
                rec = ctx.storage[key]
                if rec["state"] in ("forward", "compensating"):
                    self._send(ctx, key[5:], rec, fresh=True)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request) and isinstance(msg.body, BeginTransfer):
            self._begin(ctx, src, msg)
        elif isinstance(msg, Request):
            ctx.send(src, Response(msg.id, False, None, f"unknown request {msg.body!r}"))
        elif isinstance(msg, StepReply):
            self._step_reply(ctx, src, msg)
        elif isinstance(msg, Compensated):
            self._compensated(ctx, src, msg)

    def _begin(self, ctx: Context, src: str, req: Request) -> None:
        t = req.body.transfer
        rec = self.record(ctx, t.tid)
        if rec is not None:
            if rec["state"] in ("forward",):
                self.waiting[t.tid] = (src, req.id)
            else:
                self._reply(ctx, t.tid, rec, (src, req.id))
            return
        rec = {"state": "forward", "step": 0, "legs": [list(leg) for leg in t.legs],
               "refuse": list(t.refuse), "why": ""}
        self._save(ctx, t.tid, rec)  # rule 1: logged before step 0 leaves
        ctx.log("txn_begin", tid=t.tid, pattern="saga")
        self.waiting[t.tid] = (src, req.id)
        self._send(ctx, t.tid, rec, fresh=True)

    def _send(self, ctx: Context, tid: str, rec: dict[str, Any], *, fresh: bool) -> None:
        """Send the message of the saga's current position; ``fresh``: a new position (restart
        the step timeout)."""
        i = rec["step"]
        p, d = rec["legs"][i]
        if rec["state"] == "forward":
            ctx.send(p, Step(tid, i, d, p in rec["refuse"]))
            if fresh:
                ctx.set_timer(f"step/{tid}", self.step_timeout_ms)
        else:
            ctx.send(p, Compensate(tid, i))
        ctx.set_timer(f"retry/{tid}", self.retry_ms)

    def _step_reply(self, ctx: Context, src: str, msg: StepReply) -> None:
        rec = self.record(ctx, msg.tid)
        if rec is None or rec["state"] != "forward" or rec["step"] != msg.index:
            return  # late or duplicate
        if src != rec["legs"][msg.index][0]:
            return
        ctx.cancel_timer(f"step/{msg.tid}")
        if not msg.ok:  # the refused step changed nothing: compensate the ones before it
            self._backward(ctx, msg.tid, rec, msg.index - 1, f"step {msg.index} refused by {src}")
        elif msg.index + 1 == len(rec["legs"]):
            rec = dict(rec, state="done", why="every step applied")
            self._save(ctx, msg.tid, rec)
            ctx.cancel_timer(f"retry/{msg.tid}")
            ctx.log("decide", tid=msg.tid, outcome="committed", why=rec["why"])
            self._reply(ctx, msg.tid, rec)
            ctx.log("done", tid=msg.tid)
        else:
            rec = dict(rec, step=msg.index + 1)
            self._save(ctx, msg.tid, rec)
            self._send(ctx, msg.tid, rec, fresh=True)

    def _backward(self, ctx: Context, tid: str, rec: dict[str, Any], start: int,
                  why: str) -> None:
        ctx.log("decide", tid=tid, outcome="aborted", why=why)
        if start < 0:  # the first step was refused: nothing to compensate
            rec = dict(rec, state="compensated", why=why)
            self._save(ctx, tid, rec)
            ctx.cancel_timer(f"retry/{tid}")
            self._reply(ctx, tid, rec)
            ctx.log("done", tid=tid)
            return
        rec = dict(rec, state="compensating", step=start, why=why)
        self._save(ctx, tid, rec)
        self._reply(ctx, tid, rec)
        self._send(ctx, tid, rec, fresh=True)

    def _compensated(self, ctx: Context, src: str, msg: Compensated) -> None:
        rec = self.record(ctx, msg.tid)
        if rec is None or rec["state"] != "compensating" or rec["step"] != msg.index:
            return
        if src != rec["legs"][msg.index][0]:
            return
        if msg.index == 0:
            rec = dict(rec, state="compensated")
            self._save(ctx, msg.tid, rec)
            ctx.cancel_timer(f"retry/{msg.tid}")
            ctx.log("done", tid=msg.tid)
            return
        rec = dict(rec, step=msg.index - 1)
        self._save(ctx, msg.tid, rec)
        self._send(ctx, msg.tid, rec, fresh=True)

    def _reply(self, ctx: Context, tid: str, rec: dict[str, Any],
               to: tuple[str, int] | None = None) -> None:
        target = to if to is not None else self.waiting.pop(tid, None)
        if target is None:
            return
        client, request_id = target
        if rec["state"] == "done":
            ctx.send(client, Response(request_id, True, "applied"))
        else:
            ctx.send(client, Response(request_id, False, None, f"compensated: {rec['why']}"))

    def on_timer(self, ctx: Context, name: str) -> None:
        kind, _, tid = name.partition("/")
        rec = self.record(ctx, tid)
        if rec is None or rec["state"] not in ("forward", "compensating"):
            return
        if kind == "retry":
            self._send(ctx, tid, rec, fresh=False)
        elif kind == "step" and rec["state"] == "forward" and self.recovery == "forward":
            ctx.log("step_slow", tid=tid, step=rec["step"])  # keep retrying: forward recovery
        elif kind == "step" and rec["state"] == "forward":  # outcome unknown: compensate it too
            p = rec["legs"][rec["step"]][0]
            self._backward(ctx, tid, rec, rec["step"], f"step {rec['step']} ({p}) timed out")


__all__ = [
    "RECOVERY",
    "STATES",
    "Compensate",
    "Compensated",
    "SagaCoordinator",
    "SagaParticipant",
    "Step",
    "StepReply",
]
