"""What a protocol handler sees of the world: a context, and nothing else.

Rules (the sans-I/O contract every protocol core in dslab follows):

1. A server role is a :class:`Handler` with three entry points: ``on_start`` (boot or restart),
   ``on_message`` (a message arrived) and ``on_timer`` (a named timer fired). Handlers never import
   SimPy, never read the wall clock, never use the global ``random`` module.
2. Everything a handler does to the world goes through its :class:`Context`: ``send``,
   ``set_timer`` / ``cancel_timer``, ``now`` (the node's *local* clock, which may be wrong),
   ``rng`` (the node's own random stream), ``storage`` (durable: survives a crash) and ``log``.
3. Sends and timer changes are recorded as *effects* (plain data) and applied by the runtime after
   the handler returns, so a unit test can call a handler with a bare ``Context`` and inspect
   ``ctx.effects``. Storage writes take effect at once: a handler that writes then sends has
   persisted before the message leaves, as Raft's "persist before responding" rule requires.
4. Setting a timer that is already set replaces it; a cancelled or replaced timer never fires.
5. A crash discards the handler object (all volatile state) and every pending timer; only
   ``storage`` survives. A restart builds a fresh handler and calls ``on_start`` again.

Client RPC uses two envelope messages, like Maelstrom's ``msg_id`` / ``in_reply_to``: a client sends
``Request(id, body)`` and the server answers with ``ctx.send(src, Response(id, ...))`` whenever it
is ready (immediately, or after its log commits).
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

from dslab._validate import check_number


# --- client RPC envelopes -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Request:
    """A client's request; the server replies with a :class:`Response` carrying the same ``id``."""

    id: int
    body: Any


@dataclass(frozen=True, slots=True)
class Response:
    """A server's answer to :class:`Request` ``id``.

    ``ok=False`` is a *definite* failure: the server guarantees the operation did not and will not
    happen (say ``error="not_leader"``). Anything else the client cannot know is indefinite.
    """

    id: int
    ok: bool = True
    body: Any = None
    error: str | None = None


# --- effects ------------------------------------------------------------------------------------
# Effects are immutable records. They are named tuples (about 1.5x cheaper to build than frozen
# dataclasses, on the simulator's hottest path) that compare equal only to the same effect type,
# so ``Send("n1", 5.0)`` is never mistaken for ``SetTimer("n1", 5.0)`` or a plain tuple.
class Send(NamedTuple):
    dst: str
    msg: Any


class SetTimer(NamedTuple):
    name: str
    delay_ms: float


class CancelTimer(NamedTuple):
    name: str


class Log(NamedTuple):
    name: str
    data: dict[str, Any]


def _same_effect(self: tuple, other: object) -> bool:
    return type(other) is type(self) and tuple.__eq__(self, other)  # type: ignore[arg-type]


def _other_effect(self: tuple, other: object) -> bool:
    return not _same_effect(self, other)


for _cls in (Send, SetTimer, CancelTimer, Log):
    _cls.__eq__ = _same_effect  # type: ignore[method-assign,assignment]
    _cls.__ne__ = _other_effect  # type: ignore[method-assign,assignment]
    _cls.__hash__ = tuple.__hash__  # type: ignore[method-assign,assignment]

_new_send = partial(tuple.__new__, Send)

Effect = Send | SetTimer | CancelTimer | Log


class Storage(MutableMapping[str, Any]):
    """A node's durable storage: a key-value map that survives crashes.

    Values are deep-copied on write and on read, so a handler cannot keep a live reference into
    "disk" and mutate it behind the runtime's back. ``writes`` and ``bytes_written`` count I/O.
    """

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.writes = 0
        self.bytes_written = 0

    def __getitem__(self, key: str) -> Any:
        return copy.deepcopy(self._data[key])

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"storage key={key!r} has type {type(key).__name__}; expected str")
        self._data[key] = copy.deepcopy(value)
        self.writes += 1
        self.bytes_written += len(repr(value))

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def size_bytes(self) -> int:
        """Size of what is stored now (the length of each value's repr), like 6.5840's persister."""
        return sum(len(repr(v)) for v in self._data.values())

    def __repr__(self) -> str:
        return f"Storage(keys={sorted(self._data)}, size_bytes={self.size_bytes()})"


class Context:
    """A handler's only window on the world (see the module rules).

    The runtime creates one per node incarnation and refreshes ``local_time`` before each call. For
    unit tests, build one directly: ``Context("n1", now=0.0)`` and read ``ctx.effects`` afterwards.
    """

    def __init__(
        self,
        node: str,
        *,
        now: float = 0.0,
        rng: random.Random | None = None,
        storage: Storage | None = None,
        peers: tuple[str, ...] = (),
    ) -> None:
        self.node = node
        self.local_time = float(now)
        self.rng = rng if rng is not None else random.Random(node)
        self.storage = storage if storage is not None else Storage()
        self.peers = tuple(peers)
        self.effects: list[Effect] = []

    def now(self) -> float:
        """The node's local clock in ms (offset, drift and jumps included; not true time)."""
        return self.local_time

    def send(self, dst: str, msg: Any) -> None:
        """Send ``msg`` to ``dst``; the network may delay, lose or duplicate it."""
        self.effects.append(_new_send((dst, msg)))  # Send(dst, msg), minus one Python frame

    def set_timer(self, name: str, delay_ms: float) -> None:
        """Fire ``on_timer(name)`` after ``delay_ms`` of *local* time (replaces a pending one)."""
        if type(delay_ms) is not float or not (0.0 <= delay_ms < math.inf):  # fast path: a float
            try:
                check_number("delay_ms", delay_ms, min=0)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{exc} (timer {name!r} on node {self.node!r})") from None
            delay_ms = float(delay_ms)
        self.effects.append(SetTimer(name, delay_ms))

    def cancel_timer(self, name: str) -> None:
        self.effects.append(CancelTimer(name))

    def log(self, name: str, /, **data: Any) -> None:
        """Record a node event (``became_leader``, ``committed``...) in the run's history.

        ``name`` is positional-only, so the data may have any keys (``name=``, ``node=``...)."""
        self.effects.append(Log(name, data))

    def take_effects(self) -> list[Effect]:
        out, self.effects = self.effects, []
        return out

    # Conveniences for unit tests.
    def sent(self, msg_type: type | None = None) -> list[Send]:
        return [
            e
            for e in self.effects
            if isinstance(e, Send) and (msg_type is None or isinstance(e.msg, msg_type))
        ]

    def timers(self) -> dict[str, float]:
        """Timers set (name -> delay) by the effects so far, cancellations applied."""
        out: dict[str, float] = {}
        for e in self.effects:
            if isinstance(e, SetTimer):
                out[e.name] = e.delay_ms
            elif isinstance(e, CancelTimer):
                out.pop(e.name, None)
        return out


class Handler:
    """Base class of a server role. Override what you need; the defaults do nothing."""

    def on_start(self, ctx: Context) -> None:
        """Called when the node boots and again after every restart (on a fresh object)."""

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        """Called when ``msg`` from ``src`` is delivered."""

    def on_timer(self, ctx: Context, name: str) -> None:
        """Called when timer ``name`` fires (never after it was cancelled or replaced)."""
