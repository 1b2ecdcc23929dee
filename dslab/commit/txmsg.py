"""Transactional messages (事务消息) in the style of Apache RocketMQ: half message, local
transaction, commit or rollback, and the broker's check-back (回查).

The outbox of :mod:`.outbox` keeps the messages to send in the service's own database. A broker
with transactional messages keeps them itself and asks the service what happened when it is not
told. The protocol (RocketMQ's transactional message design):

1. **Half message (半消息).** The producer (:class:`TxProducer`, the initiating service) first sends
   the message to the broker as a *half message* (:class:`HalfMessage`). The broker stores it
   durably but does not deliver it: consumers cannot see it yet. It answers :class:`HalfAck`.
2. **Local transaction.** Only after the half message is safely stored does the producer run its
   local transaction (its own leg), and record the outcome by transaction id (``txn/<tid>``) in
   that same transaction.
3. **Commit or rollback.** The producer tells the broker the outcome with :class:`EndTransaction`.
   On commit the broker makes the message visible and delivers it to each consumer, again and
   again until each acknowledges (at least once; consumers deduplicate as in :mod:`.outbox`). On
   rollback it discards it.
4. **Check-back (回查).** ``EndTransaction`` is a single message: it can be lost, or the producer
   can crash before sending it. A half message still undecided ``check_after_ms`` after it arrived
   makes the broker ask the producer (:class:`CheckTransaction`). The producer answers from its
   record: committed, or rolled back. With no record, and no transaction of that id still running,
   the local transaction never happened: the producer records a rollback (so it can never commit
   it later) and says so. A producer still waiting for the half message's acknowledgement says
   nothing (RocketMQ's UNKNOW): the broker asks again later.

If the half message is never acknowledged within ``half_timeout_ms`` the producer gives up:
records a rollback and tells the client the transfer failed (a definite answer: the local
transaction did not run, and the check-back will say rollback).

As with the outbox, the consumers' legs may not refuse (rule 4 of :mod:`.outbox`).
``send_end=False`` makes the producer never send ``EndTransaction`` (as if it always crashed right
after its local transaction): every transfer then completes through check-back alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_number, check_type
from dslab.commit.ledger import Account, BeginTransfer, ReadBalance, Transfer
from dslab.commit.outbox import Deliver, DeliverAck
from dslab.core import Context, Handler, Request, Response


@dataclass(frozen=True, slots=True)
class HalfMessage:
    """Store this message, but do not deliver it yet. ``deliveries``: ``(consumer, delta)``."""

    msg_id: str
    tid: str
    deliveries: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class HalfAck:
    """The broker has stored half message ``msg_id``."""

    msg_id: str


@dataclass(frozen=True, slots=True)
class EndTransaction:
    """The producer's local transaction of ``msg_id`` committed (``commit=True``) or rolled
    back."""

    msg_id: str
    commit: bool


@dataclass(frozen=True, slots=True)
class CheckTransaction:
    """Broker -> producer: "what happened to the local transaction of ``tid``?" """

    msg_id: str
    tid: str


def _ms(name: str, value: Any) -> float:
    return float(check_number(name, value, min=0, min_inclusive=False))


class TxBroker(Handler):
    """A message broker with transactional messages (rules 1, 3 and 4 on the broker's side).

    Its log ``msg/<msg_id>`` holds ``state`` (``half``, ``committed``, ``rolled_back``), the
    producer, the deliveries and the consumers that acknowledged. Every ``scan_ms`` it asks about
    half messages older than ``check_after_ms`` and redelivers committed ones that some consumer
    has not acknowledged ``redeliver_ms`` after the last delivery.
    """

    def __init__(self, *, scan_ms: float = 10.0, check_after_ms: float = 30.0,
                 redeliver_ms: float = 20.0) -> None:
        self.scan_ms = _ms("scan_ms", scan_ms)
        self.check_after_ms = _ms("check_after_ms", check_after_ms)
        self.redeliver_ms = _ms("redeliver_ms", redeliver_ms)

    def on_start(self, ctx: Context) -> None:
        ctx.set_timer("scan", self.scan_ms)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, HalfMessage):
            key = f"msg/{msg.msg_id}"
            if key not in ctx.storage:
                ctx.storage[key] = {
                    "state": "half", "tid": msg.tid, "producer": src,
                    "deliveries": [list(d) for d in msg.deliveries], "acked": [],
                    "since": ctx.now(), "checks": 0,
                }
                ctx.log("half_stored", tid=msg.tid, msg_id=msg.msg_id)
            ctx.send(src, HalfAck(msg.msg_id))
        elif isinstance(msg, EndTransaction):
            self._end(ctx, msg.msg_id, msg.commit, "producer")
        elif isinstance(msg, DeliverAck):  # the delivery id is "<msg_id>/<consumer>"
            key = f"msg/{msg.msg_id.rsplit('/', 1)[0]}"
            rec = ctx.storage.get(key)
            if rec is not None and src not in rec["acked"]:
                rec["acked"] = sorted(rec["acked"] + [src])
                ctx.storage[key] = rec

    def _end(self, ctx: Context, msg_id: str, commit: bool, by: str) -> None:
        key = f"msg/{msg_id}"
        rec = ctx.storage.get(key)
        if rec is None or rec["state"] != "half":
            return  # unknown, or decided already (a duplicate)
        rec["state"] = "committed" if commit else "rolled_back"
        ctx.storage[key] = rec
        ctx.log("half_end", tid=rec["tid"], msg_id=msg_id, state=rec["state"], by=by)
        if commit:
            self._deliver(ctx, msg_id, rec)

    def _deliver(self, ctx: Context, msg_id: str, rec: dict[str, Any]) -> None:
        for dst, delta in rec["deliveries"]:
            if dst not in rec["acked"]:
                ctx.send(dst, Deliver(f"{msg_id}/{dst}", rec["tid"], delta))
        rec["sent_at"] = ctx.now()
        ctx.storage[f"msg/{msg_id}"] = rec

    def on_timer(self, ctx: Context, name: str) -> None:
        if name != "scan":
            return
        for key in ctx.storage:
            if not key.startswith("msg/"):
                continue
            rec = ctx.storage[key]
            if rec["state"] == "half" and ctx.now() - rec["since"] >= self.check_after_ms:
                rec["checks"] += 1
                rec["since"] = ctx.now()  # ask again check_after_ms from now
                ctx.storage[key] = rec
                ctx.log("check_back", tid=rec["tid"], msg_id=key[4:], attempt=rec["checks"])
                ctx.send(rec["producer"], CheckTransaction(key[4:], rec["tid"]))
            elif (rec["state"] == "committed" and len(rec["acked"]) < len(rec["deliveries"])
                  and ctx.now() - rec.get("sent_at", 0.0) >= self.redeliver_ms):
                self._deliver(ctx, key[4:], rec)
        ctx.set_timer("scan", self.scan_ms)


@dataclass(eq=False)
class _Pending:
    transfer: Transfer
    client: str
    request_id: int
    started: float = field(default=0.0)


class TxProducer(Account, Handler):
    """The initiating service (rules 1 to 4 on the producer's side).

    ``broker``: the broker's node name. ``retry_ms``: resend the half message until it is
    acknowledged, for at most ``half_timeout_ms``. ``send_end``: see the module docstring.
    """

    def __init__(self, *, broker: str = "mq", retry_ms: float = 20.0,
                 half_timeout_ms: float = 60.0, send_end: bool = True) -> None:
        self.broker = check_type("broker", broker, str)
        self.retry_ms = _ms("retry_ms", retry_ms)
        self.half_timeout_ms = _ms("half_timeout_ms", half_timeout_ms)
        self.send_end = check_type("send_end", send_end, bool)
        self.pending: dict[str, _Pending] = {}

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request) and isinstance(msg.body, BeginTransfer):
            self._begin(ctx, src, msg)
        elif isinstance(msg, Request) and isinstance(msg.body, ReadBalance):
            self.answer_read(ctx, src, msg)
        elif isinstance(msg, Request):
            ctx.send(src, Response(msg.id, False, None, f"unknown request {msg.body!r}"))
        elif isinstance(msg, HalfAck):
            self._local_transaction(ctx, msg.msg_id)
        elif isinstance(msg, CheckTransaction):
            self._check(ctx, msg)

    def _begin(self, ctx: Context, src: str, req: Request) -> None:
        t = req.body.transfer
        if t.initiator != ctx.node:
            ctx.send(src, Response(req.id, False, None,
                                   f"{ctx.node} is not the initiator of {t.tid}"))
            return
        rec = ctx.storage.get(f"txn/{t.tid}")
        if rec is not None:
            self._answer(ctx, src, req.id, rec["state"])
            return
        if t.tid in self.pending:
            return
        ctx.log("txn_begin", tid=t.tid, pattern="txmsg")
        self.pending[t.tid] = _Pending(t, src, req.id, ctx.now())
        self._send_half(ctx, t)
        ctx.set_timer(f"half/{t.tid}", self.retry_ms)

    def _send_half(self, ctx: Context, t: Transfer) -> None:
        ctx.send(self.broker, HalfMessage(t.tid, t.tid, tuple(t.legs[1:])))

    def _local_transaction(self, ctx: Context, msg_id: str) -> None:
        p = self.pending.pop(msg_id, None)
        if p is None:  # a duplicate ack, or we gave up / crashed meanwhile
            return
        ctx.cancel_timer(f"half/{msg_id}")
        t = p.transfer
        delta = t.delta_of(ctx.node)
        if ctx.node in t.refuse or self.balance(ctx) < -delta:
            state = "rolled_back"
            self.leg(ctx, t.tid, "refuse", delta)
        else:
            state = "committed"
            self.add(ctx, "balance", delta)
            self.leg(ctx, t.tid, "apply", delta)
        ctx.storage[f"txn/{t.tid}"] = {"state": state, "delta": delta}  # same local transaction
        self._answer(ctx, p.client, p.request_id, state)
        if self.send_end:
            ctx.send(self.broker, EndTransaction(msg_id, state == "committed"))

    def _check(self, ctx: Context, msg: CheckTransaction) -> None:
        rec = ctx.storage.get(f"txn/{msg.tid}")
        if rec is None:
            if msg.tid in self.pending:
                return  # UNKNOW: still waiting for the half ack; the broker will ask again
            # It never ran here (we crashed before it): make sure it never will.
            ctx.storage[f"txn/{msg.tid}"] = {"state": "rolled_back", "delta": 0}
            rec = ctx.storage[f"txn/{msg.tid}"]
        ctx.log("check_answer", tid=msg.tid, state=rec["state"])
        ctx.send(self.broker, EndTransaction(msg.msg_id, rec["state"] == "committed"))

    def _answer(self, ctx: Context, client: str, request_id: int, state: str) -> None:
        if state == "committed":
            ctx.send(client, Response(request_id, True, "committed"))
        else:
            ctx.send(client, Response(request_id, False, None, "rolled back"))

    def on_timer(self, ctx: Context, name: str) -> None:
        kind, _, tid = name.partition("/")
        p = self.pending.get(tid)
        if kind != "half" or p is None:
            return
        if ctx.now() - p.started >= self.half_timeout_ms:  # give up: roll back
            del self.pending[tid]
            ctx.storage[f"txn/{tid}"] = {"state": "rolled_back", "delta": 0}
            ctx.log("half_timeout", tid=tid)
            self._answer(ctx, p.client, p.request_id, "rolled_back")
            ctx.send(self.broker, EndTransaction(tid, False))
            return
        self._send_half(ctx, p.transfer)
        ctx.set_timer(name, self.retry_ms)


__all__ = [
    "CheckTransaction",
    "EndTransaction",
    "HalfAck",
    "HalfMessage",
    "TxBroker",
    "TxProducer",
]
