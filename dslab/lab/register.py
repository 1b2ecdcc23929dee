"""Two register servers for the first chapter: one correct, one broken on purpose.

A *register* holds one value. Clients ``Read()`` it, ``Write(value)`` it, or ``Cas(expected, new)``
it (compare-and-set: replace the value with ``new`` only if it is ``expected``). Requests arrive
in a :class:`dslab.core.Request` envelope and are answered with a :class:`dslab.core.Response`.

Rules of :class:`RegisterServer` (one node, linearizable):

1. Requests are handled one at a time, in arrival order, and each takes effect at the instant it
   is handled -- between the client's invocation and the client's receipt of the reply. That
   instant is the operation's *linearization point*, so every history is linearizable.
2. The value lives in durable storage and is written *before* the reply leaves, so a crash and
   restart never forgets an acknowledged write.
3. A ``Cas`` whose comparison fails answers ``ok=False, error="cas_mismatch"``: a definite
   failure, the register did not change.

Rules of :class:`LaggyReplicaRegister` (N replicas, *not* linearizable):

1. Each replica holds its own copy. A client talks to one replica, which answers reads from its
   copy and acknowledges writes as soon as its own copy has changed.
2. The write reaches the other replicas later: after ``lag_ms`` (of the replica's local clock) it
   sends ``Replicate(value, version)`` to every peer. A replica applies a ``Replicate`` only if its
   version is newer (last writer wins; a version is a Lamport-style ``(counter, node)`` pair, the
   counter one more than the highest this replica has seen), so all copies converge once
   replication is done.
3. Meanwhile a client reading from another replica sees the old value, *after* the write was
   acknowledged: a stale read, which no single copy could produce. That is the violation of
   linearizability that :func:`dslab.check.linearizable` finds. (This is roughly what a primary
   with asynchronous replication does when reads are served by replicas.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslab._validate import check_number
from dslab.core import Context, Handler, Request, Response


# -- messages -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Read:
    """Client request: what is the value? (The reply's body is the value.)"""


@dataclass(frozen=True, slots=True)
class Write:
    """Client request: set the value to ``value``."""

    value: Any


@dataclass(frozen=True, slots=True)
class Cas:
    """Client request: if the value is ``expected``, set it to ``new``; else fail definitely."""

    expected: Any
    new: Any


@dataclass(frozen=True, slots=True)
class Replicate:
    """Replica to replica: a write accepted elsewhere, with its last-writer-wins ``version``."""

    value: Any
    version: tuple[int, str]


# -- the correct server ---------------------------------------------------------------------------
class RegisterServer(Handler):
    """A single-node register: every operation takes effect when the server handles it."""

    def on_start(self, ctx: Context) -> None:
        if "value" not in ctx.storage:
            ctx.storage["value"] = None

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if not isinstance(msg, Request):
            return
        body = msg.body
        if isinstance(body, Read):
            ctx.send(src, Response(msg.id, True, ctx.storage["value"]))
        elif isinstance(body, Write):
            ctx.storage["value"] = body.value  # persist, then acknowledge
            ctx.send(src, Response(msg.id, True, None))
        elif isinstance(body, Cas):
            if ctx.storage["value"] == body.expected:
                ctx.storage["value"] = body.new
                ctx.send(src, Response(msg.id, True, None))
            else:
                ctx.send(src, Response(msg.id, False, None, "cas_mismatch"))
        else:
            ctx.send(src, Response(msg.id, False, None, f"unknown request {type(body).__name__}"))


# -- the broken replicated register ---------------------------------------------------------------
class LaggyReplicaRegister(Handler):
    """One replica of a register that acknowledges writes locally and replicates them late.

    ``lag_ms``: how long (local time) a replica waits before copying an accepted write to its
    peers. Use ``sim.add_node(name, lambda: LaggyReplicaRegister(lag_ms=50.0))`` for each replica.
    """

    def __init__(self, lag_ms: float = 50.0) -> None:
        self.lag_ms = check_number("lag_ms", lag_ms, min=0)
        self.value: Any = None
        self.version: tuple[int, str] = (0, "")
        self.outbox: dict[str, Replicate] = {}
        self.next_timer = 0

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Replicate):
            if msg.version > self.version:  # last writer wins
                self.value, self.version = msg.value, msg.version
            return
        if not isinstance(msg, Request):
            return
        body = msg.body
        if isinstance(body, Read):
            ctx.send(src, Response(msg.id, True, self.value))  # local copy: maybe stale
        elif isinstance(body, Write):
            self._accept(ctx, body.value)
            ctx.send(src, Response(msg.id, True, None))  # acknowledged before replication
        elif isinstance(body, Cas):
            if self.value == body.expected:
                self._accept(ctx, body.new)
                ctx.send(src, Response(msg.id, True, None))
            else:
                ctx.send(src, Response(msg.id, False, None, "cas_mismatch"))
        else:
            ctx.send(src, Response(msg.id, False, None, f"unknown request {type(body).__name__}"))

    def _accept(self, ctx: Context, value: Any) -> None:
        self.version = (self.version[0] + 1, ctx.node)  # newer than anything this replica saw
        self.value = value
        self.next_timer += 1
        name = f"replicate/{self.next_timer}"
        self.outbox[name] = Replicate(value, self.version)
        ctx.set_timer(name, self.lag_ms)  # asynchronous: the client does not wait for this

    def on_timer(self, ctx: Context, name: str) -> None:
        update = self.outbox.pop(name, None)
        if update is not None:
            for peer in ctx.peers:
                ctx.send(peer, update)
