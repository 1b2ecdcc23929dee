"""The AP policy: every replica answers from its own copy and replicates in the background.

Rules
-----
1. A replica answers every client request at once from its local state: reads return the local
   value, writes and cas change the local state and are acknowledged immediately. Nothing waits
   for a peer, so a partition never makes a replica refuse (availability), and a read may return
   a value another replica has long overwritten (no consistency).
2. A write is pushed to every peer right away (:class:`~dslab.cap.messages.Replicate`), and every
   ``anti_entropy_ms`` each replica pushes its whole state to every peer again (anti-entropy), so a
   message lost to a partition is repaired within one period after the heal: replicas converge.
3. Merging two states must give the same answer in any order (commutative, associative,
   idempotent), otherwise replicas would not converge. Two resolutions are offered:

   - ``"lww"`` -- last writer wins. Each write is stamped with the accepting replica's *local* clock
     (``ctx.now()``, plus the node name and a counter to break ties) and the larger stamp wins.
     Simple, and silently wrong when clocks disagree: a replica whose clock is behind stamps its
     writes in the past, and they lose against writes that happened *before* them in real time,
     although every one of them was acknowledged (Cassandra's behaviour; Kingsbury's Jepsen
     analyses of Cassandra and Riak with LWW show it).
   - ``"siblings"`` -- version vectors (Dynamo, Riak). A write at replica ``r`` carries a vector
     that dominates everything ``r`` has seen, with ``r``'s own counter incremented. A merge keeps
     every write that no other write dominates, so two writes made on the two sides of a partition
     both survive as *siblings*; a read returns the sorted list of sibling values and the client
     must merge them (the next write at a replica supersedes the siblings it has seen). No write
     is lost, but the application does the reconciliation.
4. ``cas`` compares with the local value only (``lww``), or with a single local sibling
   (``siblings``): under a partition two sides can both "win" the same compare-and-set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslab._validate import check_choice, check_number
from dslab.cap.messages import Cas, Read, Replicate, Write
from dslab.core import Context, Handler, Request, Response

RESOLUTIONS = ("lww", "siblings")


@dataclass(frozen=True, slots=True)
class Version:
    """An LWW version: ordered by :attr:`stamp` ``(ts, node, seq)``; ``value`` and ``writer``
    ride along."""

    ts: float
    node: str
    seq: int
    value: Any = None
    writer: str = ""

    @property
    def stamp(self) -> tuple[float, str, int]:
        return (self.ts, self.node, self.seq)


#: The version every LWW replica starts with: the register holds ``None``.
INITIAL = Version(float("-inf"), "", 0, None, "")


@dataclass(frozen=True, slots=True)
class Sibling:
    """One surviving write in ``"siblings"`` mode: its value, version vector and writer."""

    value: Any
    vv: tuple[tuple[str, int], ...]
    writer: str


def vv_merge(*vvs: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    """The pointwise maximum of version vectors (sorted ``(node, counter)`` pairs)."""
    out: dict[str, int] = {}
    for vv in vvs:
        for node, c in vv:
            if c > out.get(node, 0):
                out[node] = c
    return tuple(sorted(out.items()))


def vv_leq(a: tuple[tuple[str, int], ...], b: tuple[tuple[str, int], ...]) -> bool:
    """``a <= b``: every counter of ``a`` is at most the one in ``b`` (b has seen all of a)."""
    bd = dict(b)
    return all(c <= bd.get(node, 0) for node, c in a)


def merge_siblings(*sets: tuple[Sibling, ...]) -> tuple[Sibling, ...]:
    """Union of sibling sets, keeping only writes that no other write dominates (sorted)."""
    by_writer: dict[str, Sibling] = {}
    for s in sets:
        for sib in s:
            by_writer[sib.writer] = sib
    sibs = list(by_writer.values())
    keep = [
        a for a in sibs
        if not any(b is not a and vv_leq(a.vv, b.vv) and a.vv != b.vv for b in sibs)
    ]
    return tuple(sorted(keep, key=lambda s: (s.vv, s.writer)))


def value_key(v: Any) -> tuple[int, Any]:
    """A total order on values for sorted sibling lists (numbers first, then by repr)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, v)
    return (1, repr(v))


class APReplica(Handler):
    """A replica of the AP policy (see the module rules).

    Parameters
    ----------
    resolution:
        ``"lww"`` (last writer wins, local clock) or ``"siblings"`` (version vectors).
    anti_entropy_ms:
        Period of the full-state push to every peer, in local-clock ms.
    """

    def __init__(self, resolution: str = "lww", *, anti_entropy_ms: float = 50.0) -> None:
        self.resolution = check_choice("resolution", resolution, RESOLUTIONS)
        self.anti_entropy_ms = check_number(
            "anti_entropy_ms", anti_entropy_ms, min=0, min_inclusive=False
        )

    def on_start(self, ctx: Context) -> None:
        self.node = ctx.node
        self.peers = tuple(sorted(ctx.peers))
        st = ctx.storage
        self.version: Version = st["version"] if "version" in st else INITIAL
        self.siblings: tuple[Sibling, ...] = st["siblings"] if "siblings" in st else ()
        self.seq: int = st["seq"] if "seq" in st else 0
        # A random phase: replicas that booted together must not gossip in lockstep.
        ctx.set_timer("anti_entropy", ctx.rng.uniform(0.0, self.anti_entropy_ms))

    # -- what experiments and tests read --------------------------------------------------------
    @property
    def value(self) -> Any:
        """What a read here returns now: the LWW value, or the sorted sibling values."""
        if self.resolution == "lww":
            return self.version.value
        return sorted((s.value for s in self.siblings), key=value_key)

    def writers(self) -> tuple[str, ...]:
        """Which writes (``"client#request"``) the local state holds."""
        if self.resolution == "lww":
            return (self.version.writer,) if self.version.writer else ()
        return tuple(sorted(s.writer for s in self.siblings))

    def frontier(self) -> Any:
        """How much this replica has seen: the LWW stamp, or the merged version vector."""
        if self.resolution == "lww":
            return self.version.stamp
        return vv_merge(*(s.vv for s in self.siblings))

    def covers(self, target: Any) -> bool:
        """Has this replica seen everything summarized by ``target`` (another frontier)?"""
        if self.resolution == "lww":
            return self.version.stamp >= target
        return vv_leq(target, self.frontier())

    def digest(self) -> Any:
        """The replica's state as plain data, for convergence checks."""
        if self.resolution == "lww":
            return [self.version.value, self.version.writer]
        return [[s.value, s.writer] for s in self.siblings]

    # -- inputs ---------------------------------------------------------------------------------
    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self._request(ctx, src, msg)
        elif isinstance(msg, Replicate):
            self._merge(ctx, msg.payload)

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == "anti_entropy":
            self._push(ctx)
            ctx.set_timer("anti_entropy", self.anti_entropy_ms)

    def _request(self, ctx: Context, src: str, req: Request) -> None:
        body = req.body
        writer = f"{src}#{req.id}"
        if isinstance(body, Read):
            ctx.send(src, Response(req.id, True, self.value))
        elif isinstance(body, Write):
            self._write(ctx, body.value, writer)
            ctx.send(src, Response(req.id, True, None))
        elif isinstance(body, Cas):
            if self.resolution == "lww":
                matches = self.version.value == body.expected
            else:  # one sibling holding the expected value (no sibling: the initial None)
                matches = self.value == ([body.expected] if self.siblings else [None])
                matches = matches or (not self.siblings and body.expected is None)
            if matches:
                self._write(ctx, body.new, writer)
                ctx.send(src, Response(req.id, True, None))
            else:
                ctx.send(src, Response(req.id, False, None, "cas_mismatch"))
        else:
            ctx.send(src, Response(req.id, False, None, f"unknown operation {body!r}"))

    def _write(self, ctx: Context, value: Any, writer: str) -> None:
        if self.resolution == "lww":
            self.seq += 1
            ctx.storage["seq"] = self.seq
            v = Version(ctx.now(), self.node, self.seq, value, writer)
            won = v.stamp > self.version.stamp
            # Logged with the local stamp, so an analysis can compare it with true time.
            ctx.log("ap_write", writer=writer, value=value, ts=v.ts, seq=self.seq, won=won)
            if won:  # a replica whose clock is behind may lose its own write at once
                self.version = v
                ctx.storage["version"] = v
            payload: Any = v
        else:
            seen = vv_merge(*(s.vv for s in self.siblings))
            self.seq = max(dict(seen).get(self.node, 0), self.seq) + 1
            ctx.storage["seq"] = self.seq
            mine = self.seq
            vv = vv_merge(seen, ((self.node, mine),))
            self.siblings = (Sibling(value, vv, writer),)
            ctx.storage["siblings"] = self.siblings
            ctx.log("ap_write", writer=writer, value=value, seq=mine)
            payload = self.siblings
        for peer in self.peers:
            ctx.send(peer, Replicate(payload))

    def _payload(self) -> Any:
        return self.version if self.resolution == "lww" else self.siblings

    def _push(self, ctx: Context) -> None:
        payload = self._payload()
        for peer in self.peers:
            ctx.send(peer, Replicate(payload))

    def _merge(self, ctx: Context, payload: Any) -> None:
        if self.resolution == "lww":
            if isinstance(payload, Version) and payload.stamp > self.version.stamp:
                self.version = payload
                ctx.storage["version"] = payload
        elif isinstance(payload, tuple):
            merged = merge_siblings(self.siblings, payload)
            if merged != self.siblings:
                self.siblings = merged
                ctx.storage["siblings"] = merged


def ap_replica(resolution: str = "lww", *, anti_entropy_ms: float = 50.0):
    """A factory of AP register replicas for :meth:`dslab.sim.Sim.add_node`.

    The arguments are checked now, not when the first node boots."""
    APReplica(resolution, anti_entropy_ms=anti_entropy_ms)
    return lambda: APReplica(resolution, anti_entropy_ms=anti_entropy_ms)
