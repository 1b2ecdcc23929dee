"""The simulated network: links, partitions, loss, duplication, reordering, and a journal.

Rules:

- Every link ``src -> dst`` has a policy: a latency distribution, a loss probability and a
  duplication probability. A default applies to all links; ``configure`` overrides it for a
  source, a destination, or one link (the most specific setting wins).
- Delays are drawn independently per message, so messages reorder unless ``fifo=True``, which
  holds each message back until the previous one on its link has arrived (TCP-like).
- Partitions are connectivity rules: groups (nodes in different groups cannot talk; server nodes
  not named form one more group; clients not named reach everyone), one-way blocks, cut links, and
  isolated nodes. A message is dropped if its link is blocked when it is sent *or* when it
  arrives, so a partition also eats what was in flight.
- A message to a crashed node is dropped on arrival; one to a paused node waits for it to resume.
- Every message is journaled (id, src, dst, type, send and receive time, status, reason, size) and
  counted in ``stats``; the journal feeds space-time diagrams.
- Interceptors (``add_interceptor``) let a test harness shape traffic: each may return ``DROP``,
  extra delay in ms, or ``None`` (leave it alone).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from heapq import heappush
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from simpy.events import NORMAL

from dslab._validate import check_probability, check_type
from dslab.core import Request, Response
from dslab.history import DUPLICATE, REASON, RECV_TIME, SIZE, SRC, STATUS, TYPE
from dslab.sim.latency import Latency, as_latency

if TYPE_CHECKING:
    from dslab.sim.world import Sim

DROP = "drop"
Row = list  # one journal row, in dslab.history.MESSAGE_FIELDS order
Interceptor = Callable[[str, str, Any, random.Random], Any]


@dataclass(frozen=True)
class LinkPolicy:
    latency: Latency
    loss: float = 0.0
    duplicate: float = 0.0


def message_type(msg: Any) -> str:
    """``Request:Put`` for enveloped client traffic, else the message's class name."""
    if isinstance(msg, (Request, Response)):
        return (
            f"{type(msg).__name__}:{type(msg.body).__name__}"
            if msg.body is not None
            else type(msg).__name__
        )
    return type(msg).__name__


def message_size(msg: Any) -> int:
    """Bytes a message would take on the wire: its ``size_bytes()`` if it has one, else its repr."""
    size = getattr(msg, "size_bytes", None)
    if callable(size):
        return int(size())
    return len(repr(msg))


# -- the hot path's helpers (the simulator benchmark measures them: benchmarks/bench_sim.py) -----
def _generated_repr(cls: type) -> bool:
    """Does ``cls`` print with the ``__repr__`` that ``@dataclass`` generated for its own fields?

    (Not a hand-written one, and not a parent's, which would omit fields the child adds.)
    """
    if not dataclasses.is_dataclass(cls):
        return False
    owner = next(k for k in cls.__mro__ if "__repr__" in k.__dict__)
    if owner.__dict__.get("__dataclass_fields__") is not cls.__dataclass_fields__:
        return False
    fn = getattr(owner.__dict__["__repr__"], "__wrapped__", None)  # under recursive_repr
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_filename == "<string>" and fn.__name__ == "__repr__"


def _sizer(cls: type) -> Callable[[Any], int]:
    """A function equal to :func:`message_size` for messages of class ``cls``, made once per class.

    For a dataclass with the generated repr, ``len(repr(msg))`` is computed from the lengths of
    the field reprs, which skips building the whole string (about 4x faster for small messages).
    Anything else (a ``size_bytes`` method or field, a hand-written repr) uses ``message_size``.
    """
    if callable(getattr(cls, "size_bytes", None)) or not _generated_repr(cls):
        return message_size
    fields = dataclasses.fields(cls)
    if any(f.name == "size_bytes" for f in fields):
        return message_size
    names = [f.name for f in fields if f.repr]
    # ClassName(a=..., b=...): the name, "(" and ")", each "name=", and ", " between fields
    base = len(cls.__qualname__) + 2 + sum(len(n) + 1 for n in names) + 2 * max(len(names) - 1, 0)
    if not names:
        return lambda msg: base
    if len(names) == 1:
        get_one = attrgetter(names[0])
        return lambda msg: base + len(repr(get_one(msg)))
    get_all = attrgetter(*names)
    return lambda msg: base + sum(map(len, map(repr, get_all(msg))))


_ENVELOPES = (Request, Response)


class Arrival:
    """A scheduled callback, lighter than a ``simpy.Timeout``: just what ``Environment.step``
    reads of an event (``callbacks``, ``_ok``), plus a payload. Scheduled with SimPy's public
    ``env.schedule(event, priority, delay)``; used for timers."""

    __slots__ = ("callbacks", "value")
    _ok = True

    def __init__(self, callback: Callable[[Any], None], value: Any) -> None:
        self.callbacks = [callback]
        self.value = value


class _Wire(list):
    """A journal row (a list in ``MESSAGE_FIELDS`` order) that is also the SimPy event of its
    own arrival: ``Environment.step`` reads only ``callbacks`` and ``_ok``. One object per message
    copy instead of two; ``msg`` is let go on arrival, so the journal does not keep messages."""

    __slots__ = ("callbacks", "link", "msg")
    _ok = True


class _Link:
    """Per-link state, made on the first send: cached policy, FIFO horizon, counters, endpoint."""

    __slots__ = ("src", "dst", "endpoint", "policy", "last_arrival", "sent", "bytes")

    def __init__(self, src: str, dst: str, endpoint: Any, policy: LinkPolicy) -> None:
        self.src = src
        self.dst = dst
        self.endpoint = endpoint
        self.policy = policy
        self.last_arrival: float | None = None
        self.sent = 0
        self.bytes = 0


class Network:
    def __init__(
        self,
        sim: Sim,
        *,
        latency: Latency | float,
        loss: float,
        duplicate: float,
        fifo: bool,
        journal: bool,
    ) -> None:
        self.sim = sim
        self.env = sim.env
        self._queue, self._eid = sim.env._queue, sim.env._eid  # SimPy's event heap (simpy 4.x)
        self.rng = sim.stream("network")
        self.fifo = bool(check_type("fifo", fifo, bool))
        self.journal_enabled = bool(check_type("journal", journal, bool))
        self.default = LinkPolicy(
            as_latency(latency),
            check_probability("loss", loss),
            check_probability("duplicate", duplicate),
        )
        self._by_link: dict[tuple[str | None, str | None], LinkPolicy] = {}
        self._policy_cache: dict[tuple[str, str], LinkPolicy] = {}
        self._links: dict[tuple[str, str], _Link] = {}
        self._types: dict[type, tuple[str | None, Callable[[Any], int]]] = {}
        # connectivity
        self._group: dict[str, int] = {}
        self._oneway: set[tuple[str, str]] = set()
        self._cut: set[tuple[str, str]] = set()
        self._isolated: set[str] = set()
        self._faulty = False
        self._interceptors: list[Interceptor] = []
        self._ids = itertools.count(1)  # message ids, in send order
        # the journal, as rows (see MessageRecord); the history owns it, the network only appends
        self._rows = sim.history.message_rows
        # Counters are plain ints and dicts on the hot path; ``stats`` & co. are built on demand.
        self._delivered = 0
        self._duplicated = 0
        self._dropped: Counter[str] = Counter()
        self._by_type: dict[str, int] = {}

    # -- counters --------------------------------------------------------------------------------
    @property
    def stats(self) -> Counter[str]:
        """A snapshot of the counters: ``sent`` (send calls), ``bytes``, ``delivered``,
        ``duplicated``, ``dropped`` and ``dropped:<reason>``."""
        out: Counter[str] = Counter()
        sent_by, bytes_by, _ = self._sender_counts()
        sent = sum(sent_by.values())
        if sent:
            out["sent"] = sent
            out["bytes"] = sum(bytes_by.values())
        if self._duplicated:
            out["duplicated"] = self._duplicated
        if self._delivered:
            out["delivered"] = self._delivered
        dropped = sum(self._dropped.values())
        if dropped:
            out["dropped"] = dropped
            for reason, n in sorted(self._dropped.items()):
                out[f"dropped:{reason}"] = n
        return out

    def _sender_counts(self) -> tuple[Counter[str], Counter[str], Counter[str]]:
        """Messages and bytes per source, and messages per type: from the journal when it is
        kept (the send path then skips counting), else from the per-link counters."""
        sent: Counter[str] = Counter()
        size: Counter[str] = Counter()
        if self.journal_enabled:
            types: Counter[str] = Counter()
            for row in self._rows:
                if not row[DUPLICATE]:
                    sent[row[SRC]] += 1
                    size[row[SRC]] += row[SIZE]
                    types[row[TYPE]] += 1
            return sent, size, types
        for link in self._links.values():
            sent[link.src] += link.sent
            size[link.src] += link.bytes
        return sent, size, Counter(self._by_type)

    @property
    def sent_by(self) -> Counter[str]:
        """Messages sent, per source (a snapshot)."""
        return self._sender_counts()[0]

    @property
    def bytes_by(self) -> Counter[str]:
        """Bytes sent, per source (a snapshot)."""
        return self._sender_counts()[1]

    @property
    def sent_by_type(self) -> Counter[str]:
        """Messages sent, per message type (a snapshot)."""
        return self._sender_counts()[2]

    # -- configuration -------------------------------------------------------------------------
    def configure(
        self,
        *,
        src: str | None = None,
        dst: str | None = None,
        latency: Latency | float | None = None,
        loss: float | None = None,
        duplicate: float | None = None,
    ) -> None:
        """Set the policy of links from ``src`` to ``dst`` (``None`` means any)."""
        for name, value in (("src", src), ("dst", dst)):
            if value is not None:
                self.sim._check_endpoint(name, value)
        base = self._by_link.get((src, dst)) or (
            self.default if (src, dst) == (None, None) else None
        )
        if base is None:
            base = self._lookup(src, dst)
        policy = LinkPolicy(
            as_latency(latency) if latency is not None else base.latency,
            check_probability("loss", loss) if loss is not None else base.loss,
            check_probability("duplicate", duplicate) if duplicate is not None else base.duplicate,
        )
        if (src, dst) == (None, None):
            self.default = policy
        else:
            self._by_link[(src, dst)] = policy
        self._policy_cache.clear()
        for link in self._links.values():
            link.policy = self._lookup(link.src, link.dst)

    def _lookup(self, src: str | None, dst: str | None) -> LinkPolicy:
        for key in ((src, dst), (src, None), (None, dst)):
            if key in self._by_link:
                return self._by_link[key]
        return self.default

    def policy(self, src: str, dst: str) -> LinkPolicy:
        p = self._policy_cache.get((src, dst))
        if p is None:
            p = self._policy_cache[(src, dst)] = self._lookup(src, dst)
        return p

    def add_interceptor(self, fn: Interceptor) -> None:
        """Add ``fn(src, dst, msg, rng) -> DROP | extra_delay_ms | None`` to shape traffic."""
        if not callable(fn):
            raise TypeError(f"interceptor={fn!r} must be callable (src, dst, msg, rng) -> ...")
        self._interceptors.append(fn)

    def clear_interceptors(self) -> None:
        self._interceptors.clear()

    # -- connectivity --------------------------------------------------------------------------
    def set_groups(self, groups: list[list[str]]) -> None:
        self._group = {name: i for i, group in enumerate(groups) for name in group}
        self._update_faulty()

    def block_oneway(self, srcs: Iterable[str], dsts: Iterable[str]) -> None:
        self._oneway.update((a, b) for a in srcs for b in dsts if a != b)
        self._update_faulty()

    def cut(self, a: str, b: str, oneway: bool) -> None:
        self._cut.add((a, b))
        if not oneway:
            self._cut.add((b, a))
        self._update_faulty()

    def isolate(self, node: str) -> None:
        self._isolated.add(node)
        self._update_faulty()

    def reconnect(self, node: str) -> None:
        self._isolated.discard(node)
        self._update_faulty()

    def heal(self) -> None:
        self._group.clear()
        self._oneway.clear()
        self._cut.clear()
        self._isolated.clear()
        self._update_faulty()

    def _update_faulty(self) -> None:
        self._faulty = bool(self._group or self._oneway or self._cut or self._isolated)

    def blocked(self, src: str, dst: str) -> str | None:
        """Why ``src -> dst`` is blocked now (``"partition"``, ``"isolated"``...), or ``None``."""
        if not self._faulty or src == dst:
            return None
        if src in self._isolated or dst in self._isolated:
            return "isolated"
        g = self._group
        if src in g and dst in g and g[src] != g[dst]:
            return "partition"
        if (src, dst) in self._oneway:
            return "one-way partition"
        if (src, dst) in self._cut:
            return "link cut"
        return None

    def connectivity(self) -> dict[str, Any]:
        """The current partition state (for plots and for the history)."""
        groups: dict[int, list[str]] = {}
        for name, i in self._group.items():
            groups.setdefault(i, []).append(name)
        return {
            "groups": [sorted(g) for _, g in sorted(groups.items())],
            "oneway": sorted(self._oneway),
            "cut": sorted(self._cut),
            "isolated": sorted(self._isolated),
        }

    # -- the data path -------------------------------------------------------------------------
    # This is the simulator's hot path, written for speed (benchmarks/bench_sim.py): per-link and
    # per-type state is cached, counters are plain ints, and a message's (link, record, message)
    # rides in its SimPy timeout's value, so no closure is built per message. The order of random
    # draws is part of the behaviour (same seed, same history) and must not change.
    def _link(self, src: str, dst: str) -> _Link:
        endpoint = self.sim._endpoints.get(dst)
        if endpoint is None:
            raise ValueError(
                f"dst={dst!r} is not a node or client of this sim; "
                f"known: {sorted(self.sim._endpoints)}"
            )
        link = self._links[(src, dst)] = _Link(src, dst, endpoint, self._lookup(src, dst))
        return link

    def send(self, src: str, dst: str, msg: Any) -> None:
        """Put ``msg`` on the wire. Never raises for network faults: messages just vanish."""
        link = self._links.get((src, dst)) or self._link(src, dst)
        meta = self._types.get(type(msg))
        if meta is None:
            cls = type(msg)
            meta = self._types[cls] = (None if cls in _ENVELOPES else cls.__name__, _sizer(cls))
        mtype = meta[0] or message_type(msg)
        size = meta[1](msg)
        if not self.journal_enabled:  # with the journal on, the counters are read off it
            link.sent += 1
            link.bytes += size
            by_type = self._by_type
            by_type[mtype] = by_type.get(mtype, 0) + 1
        policy = link.policy
        rng = self.rng
        # Random draws, always in this order: loss, duplication, then per copy the latency (and
        # whatever the interceptors draw).
        reason = self.blocked(src, dst) if self._faulty else None
        if reason is None and policy.loss and rng.random() < policy.loss:
            reason = "loss"
        env = self.env
        now = env.now
        rec = _Wire((next(self._ids), src, dst, mtype, now, None, "in_flight", size, None, False))
        if self.journal_enabled:
            self._rows.append(rec)
        if reason is not None:
            self._drop(rec, reason)
            return
        if policy.duplicate and rng.random() < policy.duplicate:
            self._transmit(link, rec, msg, now)
            self._duplicated += 1
            rec = _Wire(
                (next(self._ids), src, dst, mtype, now, None, "in_flight", size, None, True)
            )
            if self.journal_enabled:
                self._rows.append(rec)
        if self._interceptors or self.fifo:
            self._transmit(link, rec, msg, now)
        else:  # the common case of _transmit, inlined
            # env.schedule(event, NORMAL, delay), inlined: SimPy's queue entry is exactly this
            rec.callbacks = [self._arrive]
            rec.link = link
            rec.msg = msg
            delay = policy.latency.sample(rng)
            heappush(self._queue, (now + delay, NORMAL, next(self._eid), rec))

    def _transmit(self, link: _Link, rec: _Wire, msg: Any, now: float) -> None:
        """Draw one copy's delay and schedule its arrival."""
        delay = link.policy.latency.sample(self.rng)
        if self._interceptors:
            for fn in self._interceptors:
                verdict = fn(link.src, link.dst, msg, self.rng)
                if verdict == DROP:
                    self._drop(rec, "intercepted")
                    return
                if verdict:
                    delay += float(verdict)
        if self.fifo:
            # Hold the message back until the previous one on its link has arrived. SimPy
            # schedules at ``now + delay``: compare exactly that float, or a message could
            # overtake its predecessor by one ulp of rounding.
            last = link.last_arrival
            if last is not None and now + delay < last:
                delay = last - now
                while now + delay < last:
                    delay = math.nextafter(delay, math.inf)
            link.last_arrival = now + delay
        rec.callbacks = [self._arrive]
        rec.link = link
        rec.msg = msg
        self.env.schedule(rec, NORMAL, delay)

    def _drop(self, rec: Row, reason: str, now: float | None = None) -> None:
        rec[STATUS] = "dropped"
        rec[REASON] = reason
        if now is not None:
            rec[RECV_TIME] = now
        self._dropped[reason] += 1

    def _arrive(self, rec: _Wire) -> None:
        """A message reached the end of its link (it may still be blocked there)."""
        link, msg = rec.link, rec.msg
        rec.msg = None
        if self._faulty:
            reason = self.blocked(link.src, link.dst)
            if reason is not None:
                self._drop(rec, reason, self.env.now)
                return
        link.endpoint.receive(rec, link.src, msg)

    def delivered(self, rec: Row) -> None:
        rec[STATUS] = "delivered"
        rec[RECV_TIME] = self.env.now
        self._delivered += 1
