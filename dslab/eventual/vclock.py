"""Version vectors, and versions that keep concurrent writes as siblings.

Dynamo (DeCandia et al. 2007, section 4.4 "Data Versioning") tags every version of a key with a
*vector clock*: one counter per node that coordinated a write. If one vector is ``<=`` another in
every entry, the older version is an ancestor and can be dropped; if neither is ``<=`` the other,
the writes were concurrent and both are kept as *siblings*, returned together by a read. The
client reconciles them and writes back with the *context* it read (the merge of the siblings'
clocks), and that write supersedes all of them.

Rules of this module:

1. :class:`VersionVector` is an immutable map ``node -> counter`` (absent = 0). ``a <= b`` when
   every counter of ``a`` is at most ``b``'s; this is a partial order. ``merge`` takes the
   pointwise maximum: the least vector at or above both.
2. A :class:`Version` is a value, a *dot* ``(node, n)`` naming the write event that created it, and
   the *context* (the version vector the writer had read). Its causal history is the context plus
   the dot.
3. Version ``x`` supersedes ``y`` when ``y``'s dot is inside ``x``'s context: the writer of ``x``
   had seen ``y``. Two versions neither of which supersedes the other are siblings. (A client's
   context summarises whole sibling sets, which replicas always ship together, so a counter
   ``n`` in it stands for every dot of that node up to ``n``.)
4. The coordinator ``i`` of a write picks the dot ``(i, n)`` with ``n`` one more than every counter
   of ``i`` it knows for that key (in the client's context and in its own stored siblings), so a
   dot is never reused.
5. Replicas exchange whole sibling sets and combine them with :func:`reconcile` (union, minus what
   is superseded), which is commutative, associative and idempotent: replicas that have exchanged
   everything hold the same set, whatever the order of the exchanges.

Why a dot and a context instead of Dynamo's single clock per version? With one clock, a server
that coordinates two writes with the *same* stale context must give the second a larger counter,
and the second then looks newer than the first although neither writer saw the other: a lost
update. Separating the event (the dot) from what its writer had seen (the context) keeps the two
as siblings. This is the idea of *dotted version vectors* (Preguica et al. 2010), adopted by Riak.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dslab._validate import check_number, check_type


@dataclass(frozen=True, slots=True)
class VersionVector:
    """An immutable version vector. Build one with :meth:`of`: ``VersionVector.of({"n1": 2})``."""

    entries: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, mapping: Mapping[str, int] | None = None) -> VersionVector:
        items = []
        for node, count in sorted((mapping or {}).items()):
            check_type("node", node, str)
            check_number(f"counter of {node!r}", count, min=0, integer=True)
            if count:
                items.append((node, count))
        return cls(tuple(items))

    def get(self, node: str) -> int:
        for n, c in self.entries:
            if n == node:
                return c
        return 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.entries)

    def __le__(self, other: VersionVector) -> bool:
        theirs = other.as_dict()
        return all(c <= theirs.get(n, 0) for n, c in self.entries)

    def __lt__(self, other: VersionVector) -> bool:
        return self <= other and self != other

    def __ge__(self, other: VersionVector) -> bool:
        return other <= self

    def __gt__(self, other: VersionVector) -> bool:
        return other < self

    def concurrent(self, other: VersionVector) -> bool:
        """Neither vector is ``<=`` the other: the events they summarise happened concurrently."""
        return not (self <= other) and not (other <= self)

    def compare(self, other: VersionVector) -> str:
        """``"equal"``, ``"before"``, ``"after"`` or ``"concurrent"``."""
        le, ge = self <= other, other <= self
        if le and ge:
            return "equal"
        if le:
            return "before"
        if ge:
            return "after"
        return "concurrent"

    def merge(self, other: VersionVector) -> VersionVector:
        """The pointwise maximum: the smallest vector that is ``>=`` both."""
        out = self.as_dict()
        for n, c in other.entries:
            out[n] = max(out.get(n, 0), c)
        return VersionVector(tuple(sorted(out.items())))

    def with_dot(self, node: str, n: int) -> VersionVector:
        """This vector with ``node``'s counter raised to at least ``n``."""
        return self.merge(VersionVector(((node, n),)))

    def covers(self, dot: tuple[str, int]) -> bool:
        """Whether the event ``dot = (node, n)`` is in the history this vector summarises."""
        return dot[1] <= self.get(dot[0])

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}:{c}" for n, c in self.entries)
        return f"VV({inner})"

    def size_bytes(self) -> int:
        """Bytes on the wire: a node name and an 8-byte counter per entry."""
        return sum(len(n) + 8 for n, _ in self.entries)

    def __deepcopy__(self, memo: dict[int, Any]) -> VersionVector:
        return self  # immutable all the way down (strings and ints)


EMPTY = VersionVector()


@dataclass(frozen=True, slots=True)
class Version:
    """One version of a key: ``value``, the write event ``dot`` and the writer's ``context``."""

    value: Any
    dot: tuple[str, int]
    context: VersionVector = EMPTY

    @property
    def history(self) -> VersionVector:
        """Everything this version's writer had seen, plus the write itself."""
        return self.context.with_dot(*self.dot)

    def supersedes(self, other: Version) -> bool:
        """``other`` is in this version's causal past: its writer had seen ``other``.

        Only the context counts, not this version's own dot: ``(n1, 2)`` does not imply that its
        writer saw ``(n1, 1)``, which may be a concurrent write the same node coordinated.
        """
        return self.dot != other.dot and self.context.covers(other.dot)

    def size_bytes(self) -> int:
        return len(repr(self.value)) + len(self.dot[0]) + 8 + self.context.size_bytes()

    def __deepcopy__(self, memo: dict[int, Any]) -> Version:
        # Durable storage deep-copies what it stores; an immutable version can be shared.
        if _immutable(self.value):
            return self
        return Version(copy.deepcopy(self.value, memo), self.dot, self.context)


def _immutable(value: Any) -> bool:
    if value is None or isinstance(value, (str, int, float, bool, bytes)):
        return True
    if isinstance(value, (tuple, frozenset)):
        return all(_immutable(v) for v in value)
    return False


def _sort_key(v: Version) -> tuple[str, int]:
    return v.dot


def reconcile(versions: Iterable[Version]) -> tuple[Version, ...]:
    """The union of ``versions`` without duplicates and without anything another one supersedes.

    The result is sorted by dot, so equal sets are equal tuples (and have equal digests).
    """
    unique: dict[tuple[str, int], Version] = {}
    for v in versions:
        check_type("version", v, Version)
        unique.setdefault(v.dot, v)
    vs = list(unique.values())
    kept = [v for v in vs if not any(w.supersedes(v) for w in vs)]
    return tuple(sorted(kept, key=_sort_key))


def context_of(versions: Iterable[Version]) -> VersionVector:
    """The context a client gets from a read: the merge of every sibling's history."""
    out = EMPTY
    for v in versions:
        out = out.merge(v.history)
    return out


def next_dot(node: str, context: VersionVector, local: Iterable[Version]) -> tuple[str, int]:
    """A fresh dot for a write coordinated by ``node`` (rule 4)."""
    n = context.get(node)
    for v in local:
        n = max(n, v.history.get(node))
    return (node, n + 1)


def write(
    node: str, value: Any, context: VersionVector, local: Iterable[Version]
) -> tuple[Version, tuple[Version, ...]]:
    """Coordinate a write at ``node``: return the new version and the node's new sibling set.

    Siblings the client had seen (covered by ``context``) are superseded; the others stay.
    """
    check_type("context", context, VersionVector)
    local = tuple(local)
    new = Version(value, next_dot(node, context, local), context)
    return new, reconcile((*local, new))


def digest(versions: Iterable[Version]) -> str:
    """A short, stable hash of a sibling set (what anti-entropy compares), as 16 hex digits."""
    canon = repr(tuple((v.dot, v.context.entries, repr(v.value)) for v in reconcile(versions)))
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()[:16]


def values(versions: Iterable[Version]) -> tuple[Any, ...]:
    """The sibling values, in dot order."""
    return tuple(v.value for v in versions)
