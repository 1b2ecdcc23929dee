"""Consistent hashing with virtual nodes, and Dynamo's preference lists.

Rules (DeCandia et al., "Dynamo", SOSP 2007, section 4.2 "Partitioning Algorithm" and 4.3
"Replication"):

1. Keys and nodes live on one ring of 64-bit positions ("tokens"). A key's token is the first 8
   bytes of the MD5 of its name (Dynamo hashes keys with MD5); the hash is :mod:`hashlib`'s, never
   Python's ``hash()``, so every machine and every ``PYTHONHASHSEED`` builds the same ring.
2. Each physical node owns ``vnodes`` virtual nodes: tokens hashed from ``"<node>#<i>"``. More
   virtual nodes spread the load more evenly and let a new node take a little from everyone.
3. A key belongs to the *range* ending at the first virtual-node token at or after the key's token
   (walking clockwise, wrapping at the end). The node owning that token is the key's coordinator.
4. The key's *preference list* continues clockwise and keeps the first ``N`` *distinct physical*
   nodes (skipping further virtual nodes of a node already listed). Those ``N`` nodes are the key's
   home replicas; the rest of the walk, in order, are the stand-ins a sloppy quorum falls back on.
5. Adding a node inserts its virtual nodes; only the keys in the ranges they cut move, and they all
   move *to* the new node: about ``1/(n+1)`` of the keys when there are ``n`` nodes before.

Every key in one range has the same preference list, so anti-entropy compares replicas range by
range (:mod:`dslab.eventual.merkle`).
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Sequence
from functools import cached_property, lru_cache

from dslab._validate import check_number, check_type

#: Size of the token space: tokens are integers in ``[0, RING_SIZE)``.
RING_SIZE = 1 << 64


def token(name: str) -> int:
    """The ring position of ``name``: the first 8 bytes of its MD5 digest, big-endian."""
    check_type("name", name, str)
    return _md5_token(name)


@lru_cache(maxsize=1 << 16)
def _md5_token(name: str) -> int:
    return int.from_bytes(hashlib.md5(name.encode("utf-8")).digest()[:8], "big")


class HashRing:
    """An immutable consistent-hashing ring of ``nodes``, each with ``vnodes`` virtual nodes.

    >>> ring = HashRing(["n1", "n2", "n3", "n4"], vnodes=8)
    >>> ring.preference_list("user:42", 3)  # the key's three home replicas, in order
    """

    def __init__(self, nodes: Iterable[str], vnodes: int = 8) -> None:
        if isinstance(nodes, str):
            raise TypeError(f"nodes={nodes!r} must be a list of node names, not one string")
        names = list(nodes)
        if not names:
            raise ValueError("nodes=[] is not allowed; a ring needs at least one node")
        for i, n in enumerate(names):
            check_type(f"nodes[{i}]", n, str)
        if len(set(names)) != len(names):
            raise ValueError(f"nodes={names!r} contains a duplicate name")
        check_number("vnodes", vnodes, min=1, integer=True)
        self.nodes: tuple[str, ...] = tuple(sorted(names))
        self.vnodes = vnodes
        pairs = sorted((token(f"{n}#{i}"), n) for n in self.nodes for i in range(vnodes))
        self._tokens = [t for t, _ in pairs]
        self._owners = [n for _, n in pairs]

    def __repr__(self) -> str:
        return f"HashRing(nodes={list(self.nodes)}, vnodes={self.vnodes})"

    # -- ranges --------------------------------------------------------------------------------
    @property
    def num_ranges(self) -> int:
        """How many ranges (arcs between consecutive virtual-node tokens) the ring has."""
        return len(self._tokens)

    def range_of(self, key: str) -> int:
        """The id of the range holding ``key``: the index of the first token at or after its own."""
        return self.range_of_token(token(key))

    def range_of_token(self, tok: int) -> int:
        i = bisect.bisect_left(self._tokens, tok)
        return 0 if i == len(self._tokens) else i

    def range_bounds(self, rid: int) -> tuple[int, int]:
        """``(start, end)`` of range ``rid``: it holds the tokens in ``(start, end]`` (wrapping)."""
        self._check_rid(rid)
        return self._tokens[rid - 1], self._tokens[rid]  # rid 0 wraps to the last token

    def range_width(self, rid: int) -> int:
        start, end = self.range_bounds(rid)
        width = (end - start) % RING_SIZE
        return width or RING_SIZE  # a ring with a single token: one range covering everything

    def range_owner(self, rid: int) -> str:
        """The node whose virtual node ends range ``rid`` (first in its preference list)."""
        self._check_rid(rid)
        return self._owners[rid]

    def _check_rid(self, rid: int) -> None:
        check_number("rid", rid, min=0, max=len(self._tokens) - 1, integer=True)

    # -- preference lists ------------------------------------------------------------------------
    def walk(self, rid: int) -> tuple[str, ...]:
        """Every physical node, in the order a clockwise walk from range ``rid`` first meets it."""
        return self._walks[rid]

    @cached_property
    def _walks(self) -> list[tuple[str, ...]]:
        out = []
        count = len(self._tokens)
        for rid in range(count):
            seen: list[str] = []
            for step in range(count):
                n = self._owners[(rid + step) % count]
                if n not in seen:
                    seen.append(n)
                    if len(seen) == len(self.nodes):
                        break
            out.append(tuple(seen))
        return out

    def preference_list(self, key: str, n: int | None = None) -> tuple[str, ...]:
        """The first ``n`` distinct nodes clockwise from ``key`` (all nodes if ``n`` is None)."""
        walk = self.walk(self.range_of(key))
        if n is None:
            return walk
        check_number("n", n, min=1, integer=True)
        if n > len(walk):
            raise ValueError(
                f"n={n} is larger than the number of nodes on the ring ({len(walk)}); "
                "a key cannot have more distinct replicas than there are nodes"
            )
        return walk[:n]

    def replicas_of_range(self, rid: int, n: int) -> tuple[str, ...]:
        """The ``n`` home replicas of every key in range ``rid``."""
        check_number("n", n, min=1, max=len(self.nodes), integer=True)
        return self.walk(rid)[:n]

    def shared_ranges(self, a: str, b: str, n: int) -> tuple[int, ...]:
        """Ranges whose ``n`` home replicas include both ``a`` and ``b`` (they must agree there)."""
        return tuple(
            rid
            for rid in range(self.num_ranges)
            if a in self.walk(rid)[:n] and b in self.walk(rid)[:n]
        )

    def ranges_of(self, node: str, n: int) -> tuple[int, ...]:
        """Ranges for which ``node`` is one of the ``n`` home replicas."""
        return tuple(rid for rid in range(self.num_ranges) if node in self.walk(rid)[:n])

    # -- membership --------------------------------------------------------------------------------
    def with_node(self, node: str) -> HashRing:
        """A new ring with ``node`` added (same ``vnodes``)."""
        check_type("node", node, str)
        if node in self.nodes:
            raise ValueError(f"node={node!r} is already on the ring")
        return HashRing([*self.nodes, node], self.vnodes)

    def without_node(self, node: str) -> HashRing:
        if node not in self.nodes:
            raise ValueError(f"node={node!r} is not on the ring; nodes: {list(self.nodes)}")
        return HashRing([n for n in self.nodes if n != node], self.vnodes)

    def load(self, keys: Sequence[str]) -> dict[str, int]:
        """How many of ``keys`` each node coordinates (is first in the preference list for)."""
        out = dict.fromkeys(self.nodes, 0)
        for k in keys:
            out[self.range_owner(self.range_of(k))] += 1
        return out
