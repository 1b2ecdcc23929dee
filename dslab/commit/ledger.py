"""What the "transactions in practice" patterns share: a transfer, an account, and the leg log.

The patterns of :mod:`.tcc`, :mod:`.saga`, :mod:`.outbox` and :mod:`.txmsg` give up the locks
of two-phase commit and settle for *eventual* atomicity (the notes' BASE: 基本可用, 软状态,
最终一致性).
They are compared with 2PC on one workload: a :class:`Transfer` moves money between accounts held
by different services (one account per service), and each service's part is a *leg*
``(participant, delta)``. The deltas of a transfer sum to zero, so the total of all balances is a
conserved quantity a reader can audit.

Rules
-----
1. **One handler call is one local transaction.** A service changes its balance and its
   bookkeeping records (``ctx.storage``) inside a single handler call; the simulator crashes a node
   only between calls, so the writes of one call survive a crash all together or not at all (the
   ACID transaction of the service's own database). Nothing else is atomic across services.
2. **Every leg's effect is logged** as a ``leg`` event (``tid``, ``action``, ``delta``) in the
   same call that writes it (:meth:`Account.leg`). The checker of :mod:`.practice_check` reads
   those events; the actions are :data:`ACTIONS`.
3. A client asks a pattern's entry point to run a transfer with :class:`BeginTransfer` (inside a
   :class:`dslab.core.Request`); ``Response(ok=True)`` means "it will be applied everywhere",
   ``ok=False`` "it will be undone everywhere" (a definite answer in both cases; no answer: the
   client does not know).
4. Anyone may read an account with :class:`ReadBalance`: the *available* balance (what the service
   would let its owner spend) and the amount frozen by reservations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslab._validate import check_number, check_type
from dslab.core import Context, Request, Response

#: What a ``leg`` event can say happened to a leg at a participant.
#:
#: ``reserve`` (TCC Try froze the resource), ``confirm`` (TCC Confirm consumed it), ``cancel`` (TCC
#: Cancel released it), ``apply`` (a saga step, or a message consumer, applied the delta),
#: ``compensate`` (a saga compensation undid an applied step), ``refuse`` (the local business check
#: failed: nothing changed), ``tombstone`` (a Cancel or compensation arrived for a leg this service
#: never ran: nothing to undo, but it remembers, see the *empty rollback* rule of :mod:`.tcc`),
#: ``suspend`` (a Try or step arrived after its tombstone and was refused: the *suspension* rule),
#: ``duplicate`` (a repeated request was answered without doing anything again: idempotency).
ACTIONS = ("reserve", "confirm", "cancel", "apply", "compensate", "refuse", "tombstone",
           "suspend", "duplicate")
#: The balance every account starts with.
INITIAL_BALANCE = 1000


@dataclass(frozen=True, slots=True)
class Transfer:
    """A distributed transaction of the practice patterns: ``legs`` are ``(participant, delta)``
    pairs (one per participant, in the order a saga runs them; the first is the *initiator*, the
    service that debits). ``refuse`` names participants whose local business check will fail
    (a frozen account, a limit exceeded): their leg is refused."""

    tid: str
    legs: tuple[tuple[str, int], ...]
    refuse: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_type("tid", self.tid, str)
        if not self.tid or "/" in self.tid:
            raise ValueError(f"tid={self.tid!r} must be a non-empty string without '/'")
        if not isinstance(self.legs, tuple) or len(self.legs) < 2:
            raise ValueError(f"legs={self.legs!r} must be a tuple of at least two "
                             "(participant, delta) pairs")
        for i, leg in enumerate(self.legs):
            if not (isinstance(leg, tuple) and len(leg) == 2 and isinstance(leg[0], str)
                    and isinstance(leg[1], int) and not isinstance(leg[1], bool)):
                raise ValueError(f"legs[{i}]={leg!r} must be a (participant: str, delta: int) "
                                 "pair")
        names = [p for p, _ in self.legs]
        if len(set(names)) != len(names):
            raise ValueError(f"legs={self.legs!r} names a participant twice; one leg each")
        if sum(d for _, d in self.legs) != 0:
            raise ValueError(f"legs={self.legs!r}: the deltas sum to "
                             f"{sum(d for _, d in self.legs)}; a transfer must sum to 0")
        check_type("refuse", self.refuse, tuple)
        for p in self.refuse:
            if p not in names:
                raise ValueError(f"refuse={self.refuse!r} names {p!r}, which has no leg in "
                                 f"{self.tid!r}; participants: {names}")

    @property
    def participants(self) -> tuple[str, ...]:
        return tuple(p for p, _ in self.legs)

    @property
    def initiator(self) -> str:
        return self.legs[0][0]

    def delta_of(self, participant: str) -> int:
        for p, d in self.legs:
            if p == participant:
                return d
        raise ValueError(f"participant={participant!r} has no leg in {self.tid!r}")


def transfer(tid: str, src: str, dsts: tuple[str, ...] | list[str], amount: int = 10, *,
             refuse: tuple[str, ...] | list[str] = ()) -> Transfer:
    """``src`` pays ``amount`` to each of ``dsts`` (legs in that order)."""
    check_number("amount", amount, min=1, integer=True)
    dsts = tuple(dsts)
    legs = ((src, -amount * len(dsts)),) + tuple((d, amount) for d in dsts)
    return Transfer(tid, legs, tuple(refuse))


@dataclass(frozen=True, slots=True)
class BeginTransfer:
    """Client request body: run ``transfer`` through the pattern."""

    transfer: Transfer


@dataclass(frozen=True, slots=True)
class ReadBalance:
    """Request body: "what is your account's balance?" Answered with :class:`Balance`."""


@dataclass(frozen=True, slots=True)
class Balance:
    """The answer to :class:`ReadBalance`: ``available`` (spendable now) and ``frozen`` (held by
    reservations, in or out)."""

    available: int
    frozen: int


class Account:
    """A service's account and bookkeeping, in durable storage (a mixin for handlers).

    ``balance`` is the available balance; ``frozen_out`` money reserved for outgoing transfers
    (already taken out of ``balance``); ``frozen_in`` money reserved for incoming transfers (not
    in ``balance`` yet).
    """

    def balance(self, ctx: Context) -> int:
        return int(ctx.storage.get("balance", INITIAL_BALANCE))

    def frozen(self, ctx: Context) -> int:
        return int(ctx.storage.get("frozen_out", 0)) + int(ctx.storage.get("frozen_in", 0))

    def add(self, ctx: Context, field: str, amount: int) -> None:
        default = INITIAL_BALANCE if field == "balance" else 0
        ctx.storage[field] = int(ctx.storage.get(field, default)) + amount

    def leg(self, ctx: Context, tid: str, action: str, delta: int, **extra: Any) -> None:
        """Report what happened to leg ``tid`` here (rule 2)."""
        ctx.log("leg", tid=tid, action=action, delta=delta, **extra)

    def answer_read(self, ctx: Context, src: str, req: Request) -> None:
        ctx.send(src, Response(req.id, True, Balance(self.balance(ctx), self.frozen(ctx))))


__all__ = [
    "ACTIONS",
    "INITIAL_BALANCE",
    "Account",
    "Balance",
    "BeginTransfer",
    "ReadBalance",
    "Transfer",
    "transfer",
]
