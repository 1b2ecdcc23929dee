"""2PC on the transfers of the practice patterns, and a reader that takes locks.

To run 2PC beside TCC, sagas and messages on the same :class:`~dslab.commit.ledger.Transfer`, a
transfer becomes a 2PC :class:`~dslab.commit.messages.Txn` that, at each leg's participant, writes
a ledger entry (key ``entry/<tid>``, value: the leg's delta) and the account row (key
``account``). The balance of an account is its initial balance plus its committed entries.
Locking the ``account`` row is what a database would do to update a balance: two transfers on the
same account are serialized, and a participant in doubt keeps its account locked. The 2PC
protocol itself is :mod:`dslab.commit.twopc`, unchanged.

:class:`LedgerTwoPCParticipant` adds a reader that follows two-phase locking: a
:class:`~dslab.core.Request` with :class:`~dslab.commit.ledger.ReadBalance` takes the ``account``
lock for the reader and answers with the balance; the reader keeps the lock until it has read
every account, then sends :class:`ReleaseRead`. If a transaction holds the lock, the read is
refused at once (``Response(ok=False, error="locked")``): the reader releases what it holds and
tries again later. (Waiting instead could deadlock: the reader holding ``p2`` and waiting for
``p1``, a transfer holding ``p1`` and waiting for ``p2``; refusing is the *no-wait* way out.)
A reader that holds every account's lock at once sees a state in which every transfer is either
wholly done or not at all: that is how 2PC with locks hides the intermediate states the other
patterns show. The price: readers are turned away while a transfer is in flight (for as long as
a participant stays in doubt), and writers wait for readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslab.commit.ledger import INITIAL_BALANCE, Balance, ReadBalance, Transfer
from dslab.commit.messages import Txn
from dslab.commit.twopc import TwoPCParticipant
from dslab.core import Context, Request, Response

#: The lock key of the account row.
ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class ReleaseRead:
    """Request body: the reader has read every account; release its ``account`` lock here."""


def as_txn(t: Transfer) -> Txn:
    """The 2PC transaction of transfer ``t`` (``refuse`` becomes ``vote_no``)."""
    writes = tuple(w for p, d in t.legs for w in ((p, ACCOUNT, t.tid), (p, f"entry/{t.tid}", d)))
    return Txn(t.tid, writes, t.refuse)


class LedgerTwoPCParticipant(TwoPCParticipant):
    """A 2PC participant whose data is an account's ledger, with a locking reader."""

    def balance_of(self, ctx: Context) -> int:
        return INITIAL_BALANCE + sum(int(ctx.storage[k]) for k in ctx.storage
                                     if k.startswith("kv/entry/"))

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request) and isinstance(msg.body, ReadBalance):
            holder = f"read/{src}"
            if self.locks.get(ACCOUNT, holder) != holder:
                ctx.send(src, Response(msg.id, False, None, "locked"))
                return
            self.locks[ACCOUNT] = holder
            ctx.send(src, Response(msg.id, True, Balance(self.balance_of(ctx), 0)))
        elif isinstance(msg, Request) and isinstance(msg.body, ReleaseRead):
            if self.locks.get(ACCOUNT) == f"read/{src}":
                self._release(ctx, f"read/{src}")  # also lets waiting Prepares go
            ctx.send(src, Response(msg.id, True, None))
        else:
            super().on_message(ctx, src, msg)


__all__ = ["ACCOUNT", "LedgerTwoPCParticipant", "ReleaseRead", "as_txn"]
