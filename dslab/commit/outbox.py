"""The local message table (本地消息表, the *transactional outbox*) and the deduplicating consumer.

The problem it solves: a service must change its own database *and* tell other services about it.
Writing the database and then sending a message (a *dual write*) is not atomic: if the message is
lost, or the service crashes before sending it, the other services never hear of a change that
did happen. (eBay's Dan Pritchett described the table-based fix in "BASE: An Acid Alternative",
2008; the microservice literature calls it the transactional outbox.)

Rules
-----
1. **One local transaction.** The initiating service (:class:`OutboxService`) applies its own leg
   and inserts one *outbox row* per message to send (``outbox/<tid>/<dst>``) in the same local
   transaction. Either both are durable or neither is. It answers the client at once: the
   transfer *will* complete.
2. **A relay delivers at least once.** A relay (here: a timer of the same service, like a relay
   thread polling its own database every ``poll_ms``) sends every outbox row as a
   :class:`Deliver`, again and again, until the consumer acknowledges it (:class:`DeliverAck`);
   then it deletes the row. Crashes, loss and duplication can make it send a message many times,
   never zero times.
3. **The consumer deduplicates (幂等).** :class:`DedupConsumer` applies a message and records its id
   (``inbox/<msg_id>``) in one local transaction; a message whose id is recorded is acknowledged
   and not applied again. At-least-once delivery plus deduplication is effectively exactly-once
   processing.
4. **The downstream may not refuse.** There is no way back: a message-based transfer is committed
   when the initiator's local transaction commits, so the consumers' legs must be things that
   can always be done eventually (retried after any transient failure). A step that can fail for a
   business reason needs a saga (:mod:`.saga`) or TCC (:mod:`.tcc`). Only the initiator's own
   check can refuse the transfer, before anything is written.

``dual_write=True`` turns rule 1 and 2 off (apply, then send each message once, without a table):
the broken baseline, which the checker of :mod:`.practice_check` catches losing transfers under
message loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslab._validate import check_number, check_type
from dslab.commit.ledger import Account, BeginTransfer, ReadBalance
from dslab.core import Context, Handler, Request, Response


@dataclass(frozen=True, slots=True)
class Deliver:
    """A message to a consumer: apply ``delta`` for transfer ``tid``. ``msg_id`` is unique per
    (transfer, consumer) and is the deduplication key."""

    msg_id: str
    tid: str
    delta: int


@dataclass(frozen=True, slots=True)
class DeliverAck:
    """The consumer has processed (or had already processed) message ``msg_id``."""

    msg_id: str


def message_id(tid: str, dst: str) -> str:
    return f"{tid}/{dst}"


class DedupConsumer(Account, Handler):
    """A consumer that applies each message once, however many times it arrives (rule 3)."""

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Deliver):
            self.consume(ctx, msg)
            ctx.send(src, DeliverAck(msg.msg_id))
        elif isinstance(msg, Request) and isinstance(msg.body, ReadBalance):
            self.answer_read(ctx, src, msg)

    def consume(self, ctx: Context, msg: Deliver) -> bool:
        """Apply ``msg`` unless its id was seen; True if it was applied now."""
        key = f"inbox/{msg.msg_id}"
        if key in ctx.storage:
            self.leg(ctx, msg.tid, "duplicate", msg.delta, request="deliver")
            return False
        self.add(ctx, "balance", msg.delta)
        ctx.storage[key] = {"tid": msg.tid, "delta": msg.delta}  # same local transaction
        self.leg(ctx, msg.tid, "apply", msg.delta)
        return True


class OutboxService(Account, Handler):
    """The initiating service with its outbox table and relay (rules 1, 2 and 4).

    ``poll_ms``: how often the relay scans the table. ``dual_write``: the broken baseline (see
    the module docstring).
    """

    def __init__(self, *, poll_ms: float = 10.0, dual_write: bool = False) -> None:
        self.poll_ms = float(check_number("poll_ms", poll_ms, min=0, min_inclusive=False))
        self.dual_write = check_type("dual_write", dual_write, bool)

    def on_start(self, ctx: Context) -> None:
        ctx.set_timer("relay", self.poll_ms)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request) and isinstance(msg.body, BeginTransfer):
            self.begin(ctx, src, msg)
        elif isinstance(msg, Request) and isinstance(msg.body, ReadBalance):
            self.answer_read(ctx, src, msg)
        elif isinstance(msg, Request):
            ctx.send(src, Response(msg.id, False, None, f"unknown request {msg.body!r}"))
        elif isinstance(msg, DeliverAck):
            key = f"outbox/{msg.msg_id}"
            if key in ctx.storage:
                del ctx.storage[key]  # delivered: the row is done

    def begin(self, ctx: Context, src: str, req: Request) -> None:
        t = req.body.transfer
        if t.initiator != ctx.node:
            ctx.send(src, Response(req.id, False, None,
                                   f"{ctx.node} is not the initiator of {t.tid}"))
            return
        entry = ctx.storage.get(f"entry/{t.tid}")
        if entry is not None:  # a retried request: answer from the record
            self._answer(ctx, src, req.id, entry["state"])
            return
        delta = t.delta_of(ctx.node)
        if ctx.node in t.refuse or self.balance(ctx) < -delta:
            ctx.storage[f"entry/{t.tid}"] = {"state": "refused", "delta": delta}
            self.leg(ctx, t.tid, "refuse", delta)
            self._answer(ctx, src, req.id, "refused")
            return
        # rule 1: the business write and the outbox rows, in one local transaction
        ctx.log("txn_begin", tid=t.tid, pattern="outbox")
        self.add(ctx, "balance", delta)
        ctx.storage[f"entry/{t.tid}"] = {"state": "applied", "delta": delta}
        self.leg(ctx, t.tid, "apply", delta)
        for dst, d in t.legs[1:]:
            mid = message_id(t.tid, dst)
            if self.dual_write:  # the broken baseline: one send, no table, no retry
                ctx.send(dst, Deliver(mid, t.tid, d))
            else:
                ctx.storage[f"outbox/{mid}"] = {"dst": dst, "tid": t.tid, "delta": d}
        self._answer(ctx, src, req.id, "applied")

    def _answer(self, ctx: Context, client: str, request_id: int, state: str) -> None:
        if state == "applied":
            ctx.send(client, Response(request_id, True, "applied"))
        else:
            ctx.send(client, Response(request_id, False, None, "refused by the initiator"))

    def on_timer(self, ctx: Context, name: str) -> None:
        if name != "relay":
            return
        for key in ctx.storage:  # rule 2 (the storage iterates in sorted key order)
            if key.startswith("outbox/"):
                row = ctx.storage[key]
                ctx.send(row["dst"], Deliver(key[7:], row["tid"], row["delta"]))
        ctx.set_timer("relay", self.poll_ms)


__all__ = ["DedupConsumer", "Deliver", "DeliverAck", "OutboxService", "message_id"]
