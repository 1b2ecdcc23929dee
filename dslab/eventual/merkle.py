"""Merkle trees for anti-entropy: find the few keys two replicas disagree on, cheaply.

Dynamo (DeCandia et al. 2007, section 4.7 "Handling permanent failures: Replica
synchronization") keeps one Merkle tree per key range. Two replicas of a range exchange the roots;
equal roots mean the whole range agrees and nothing more is sent. Otherwise they exchange the
children of the nodes that differ, level by level, and only at the leaves do they list keys.

Rules of this module:

1. A tree covers one range of the ring (:mod:`dslab.eventual.ring`) and has ``2**depth`` leaves
   that split the range's token interval into equal slices. A key sits in the leaf its token falls
   in.
2. A leaf's hash is the hash of its sorted ``(key, digest)`` pairs, where a digest summarises the
   key's sibling set (:func:`dslab.eventual.vclock.digest`); an inner node hashes its two
   children. Empty subtrees all have the same hash, so two empty halves agree without a look.
3. The exchange is symmetric. A message carries tree nodes ``(range, level, index, hash)``; the
   receiver answers, for each node whose hash differs from its own, with that node's two children
   (its own hashes), or, at a differing leaf, with the leaf's ``(key, digest)`` list. The side that
   gets a digest list sends its versions of the keys whose digests differ and asks for the other
   side's; both then merge. Cost: a few hashes per level per differing path, plus the digests of
   the differing leaves, plus the differing keys themselves.
4. The *naive* alternative sends the digest of every key in the shared ranges at once (no tree).

Hashes are 16 hex digits (8 bytes on the wire); see the ``size_bytes`` of the messages in
:mod:`dslab.eventual.dynamo`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from dslab._validate import check_number
from dslab.eventual.ring import RING_SIZE, HashRing, token

#: Bytes of one hash on the wire (16 hex digits).
HASH_BYTES = 8
#: The hash of an empty leaf (and of a subtree with nothing in it).
EMPTY_HASH = "0" * 16

#: A tree node on the wire: (range id, level, index within level, hash). Level 0 is the root.
TreeNode = tuple[int, int, int, str]


def _h(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def leaf_of(ring: HashRing, rid: int, tok: int, depth: int) -> int:
    """Which of the ``2**depth`` leaves of range ``rid`` the token ``tok`` falls in."""
    start, _ = ring.range_bounds(rid)
    offset = (tok - start - 1) % RING_SIZE  # 0 for the first token after start
    return offset * (1 << depth) // ring.range_width(rid)


@dataclass(frozen=True)
class MerkleTree:
    """The hash tree of one range. ``levels[0]`` is ``[root]``; ``levels[depth]`` the leaves."""

    rid: int
    depth: int
    levels: tuple[tuple[str, ...], ...]
    leaves: tuple[tuple[tuple[str, str], ...], ...]  # per leaf: sorted (key, digest) pairs

    @classmethod
    def build(
        cls, ring: HashRing, rid: int, depth: int, digests: Mapping[str, str]
    ) -> MerkleTree:
        """The tree of range ``rid`` over ``digests`` (key -> digest of the keys in the range)."""
        check_number("depth", depth, min=0, max=20, integer=True)
        buckets: list[list[tuple[str, str]]] = [[] for _ in range(1 << depth)]
        for key, dg in digests.items():
            buckets[leaf_of(ring, rid, token(key), depth)].append((key, dg))
        leaves = tuple(tuple(sorted(b)) for b in buckets)
        level = tuple(_h(repr(b)) if b else EMPTY_HASH for b in leaves)
        levels = [level]
        while len(level) > 1:
            level = tuple(
                EMPTY_HASH
                if level[i] == EMPTY_HASH and level[i + 1] == EMPTY_HASH
                else _h(level[i] + level[i + 1])
                for i in range(0, len(level), 2)
            )
            levels.append(level)
        return cls(rid, depth, tuple(reversed(levels)), leaves)

    @property
    def root(self) -> str:
        return self.levels[0][0]

    def hash(self, level: int, index: int) -> str:
        return self.levels[level][index]

    def children(self, level: int, index: int) -> tuple[TreeNode, TreeNode]:
        lv = level + 1
        return (
            (self.rid, lv, 2 * index, self.levels[lv][2 * index]),
            (self.rid, lv, 2 * index + 1, self.levels[lv][2 * index + 1]),
        )

    def leaf_digests(self, index: int) -> tuple[tuple[str, str], ...]:
        return self.leaves[index]


def compare_nodes(
    tree_of: Callable[[int], MerkleTree], nodes: Iterable[TreeNode]
) -> tuple[list[TreeNode], list[tuple[int, int]]]:
    """One step of the exchange (rule 3), at the side that received ``nodes``.

    Returns the children to send back (own hashes, for differing inner nodes) and the differing
    leaves ``(range, index)``, whose digest lists go back next.
    """
    out: list[TreeNode] = []
    leaves: list[tuple[int, int]] = []
    for rid, level, index, h in nodes:
        tree = tree_of(rid)
        if tree.hash(level, index) == h:
            continue
        if level == tree.depth:
            leaves.append((rid, index))
        else:
            out.extend(tree.children(level, index))
    return out, leaves


def differing_keys(mine: Mapping[str, str], theirs: Mapping[str, str]) -> list[str]:
    """Keys present on one side only, or with different digests, sorted."""
    keys = set(mine) | set(theirs)
    return sorted(k for k in keys if mine.get(k) != theirs.get(k))


@dataclass(frozen=True)
class ExchangeCost:
    """What one in-process exchange sends: tree nodes (``hashes``), leaf digests, and how many
    message rounds it took; ``differing`` is the number of keys it found."""

    rounds: int
    hashes: int
    digests: int
    differing: int


def exchange(
    ring: HashRing,
    rids: Sequence[int],
    depth: int,
    a: Mapping[str, str],
    b: Mapping[str, str],
) -> tuple[list[str], ExchangeCost]:
    """Run the tree exchange between two digest maps in process (no network): which keys differ,
    and what the exchange would send. Used by tests and to explain the protocol; the Dynamo node
    runs the same steps, one message per step."""

    def trees(digests: Mapping[str, str]) -> dict[int, MerkleTree]:
        by_range: dict[int, dict[str, str]] = {rid: {} for rid in rids}
        for k, d in digests.items():
            rid = ring.range_of(k)
            if rid in by_range:
                by_range[rid][k] = d
        return {rid: MerkleTree.build(ring, rid, depth, m) for rid, m in by_range.items()}

    ta, tb = trees(a), trees(b)
    msg: list[TreeNode] = [(rid, 0, 0, ta[rid].root) for rid in rids]
    hashes, rounds, digests = len(msg), 1, 0
    sides = [ta, tb]  # sides[1] receives first
    turn = 1
    found: list[str] = []
    while msg:
        receiver = sides[turn]
        msg, leaves = compare_nodes(receiver.__getitem__, msg)
        if leaves:
            # the receiver sends its digests of those leaves; the other side computes the diff
            mine = {k: d for rid, i in leaves for k, d in receiver[rid].leaf_digests(i)}
            other = sides[1 - turn]
            theirs = {k: d for rid, i in leaves for k, d in other[rid].leaf_digests(i)}
            digests += len(mine)
            found.extend(differing_keys(theirs, mine))
        if msg:
            hashes += len(msg)
            rounds += 1
        turn = 1 - turn
    found = sorted(set(found))
    return found, ExchangeCost(rounds, hashes, digests, len(found))
