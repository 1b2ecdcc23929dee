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

import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dslab._validate import check_probability, check_type
from dslab.core import Request, Response
from dslab.history import MessageRecord
from dslab.sim.latency import Latency, as_latency

if TYPE_CHECKING:
    from dslab.sim.world import Sim

DROP = "drop"
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
        self._last_arrival: dict[tuple[str, str], float] = {}
        # connectivity
        self._group: dict[str, int] = {}
        self._oneway: set[tuple[str, str]] = set()
        self._cut: set[tuple[str, str]] = set()
        self._isolated: set[str] = set()
        self._faulty = False
        self._interceptors: list[Interceptor] = []
        self._next_id = 0
        self.journal: list[MessageRecord] = sim.history.messages
        self.stats: Counter[str] = Counter()
        self.sent_by: Counter[str] = Counter()
        self.bytes_by: Counter[str] = Counter()
        self.sent_by_type: Counter[str] = Counter()

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
    def send(self, src: str, dst: str, msg: Any) -> None:
        """Put ``msg`` on the wire. Never raises for network faults: messages just vanish."""
        if dst not in self.sim._endpoints:
            raise ValueError(
                f"dst={dst!r} is not a node or client of this sim; "
                f"known: {sorted(self.sim._endpoints)}"
            )
        now = self.env.now
        size = message_size(msg)
        mtype = message_type(msg)
        self.stats["sent"] += 1
        self.stats["bytes"] += size
        self.sent_by[src] += 1
        self.bytes_by[src] += size
        self.sent_by_type[mtype] += 1
        policy = self.policy(src, dst)
        rng = self.rng
        reason = self.blocked(src, dst)
        if reason is None and policy.loss and rng.random() < policy.loss:
            reason = "loss"
        copies = (
            2 if (reason is None and policy.duplicate and rng.random() < policy.duplicate) else 1
        )
        for copy_no in range(copies):
            rec = self._record(src, dst, mtype, now, size, copy_no > 0)
            if reason is not None:
                self._drop(rec, reason)
                continue
            delay = policy.latency.sample(rng)
            for fn in self._interceptors:
                verdict = fn(src, dst, msg, rng)
                if verdict == DROP:
                    delay = None
                    break
                if verdict:
                    delay += float(verdict)
            if delay is None:
                self._drop(rec, "intercepted")
                continue
            arrival = now + delay
            if self.fifo:
                link = (src, dst)
                arrival = max(arrival, self._last_arrival.get(link, 0.0))
                self._last_arrival[link] = arrival
            ev = self.env.timeout(arrival - now)
            ev.callbacks.append(lambda _ev, r=rec, s=src, d=dst, m=msg: self._arrive(r, s, d, m))

    def _record(
        self, src: str, dst: str, mtype: str, now: float, size: int, dup: bool
    ) -> MessageRecord:
        self._next_id += 1
        rec = MessageRecord(self._next_id, src, dst, mtype, now, None, "in_flight", size, None, dup)
        if self.journal_enabled:
            self.journal.append(rec)
        if dup:
            self.stats["duplicated"] += 1
        return rec

    def _drop(self, rec: MessageRecord, reason: str) -> None:
        rec.status = "dropped"
        rec.reason = reason
        self.stats["dropped"] += 1
        self.stats[f"dropped:{reason}"] += 1

    def _arrive(self, rec: MessageRecord, src: str, dst: str, msg: Any) -> None:
        reason = self.blocked(src, dst)
        if reason is not None:
            rec.recv_time = self.env.now
            self._drop(rec, reason)
            return
        self.sim._endpoints[dst].receive(rec, src, msg)

    def delivered(self, rec: MessageRecord) -> None:
        rec.status = "delivered"
        rec.recv_time = self.env.now
        self.stats["delivered"] += 1
