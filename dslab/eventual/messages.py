"""The Dynamo store's configuration and messages: client requests and results, replica traffic,
hinted handoff and Merkle anti-entropy (the protocol is in :mod:`dslab.eventual.dynamo`).

Kept apart from the node so that any implementation of the node (the reference, a variant, a
student's) speaks exactly the same messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslab._validate import check_choice, check_number, check_type
from dslab.eventual.merkle import HASH_BYTES, TreeNode
from dslab.eventual.vclock import EMPTY, Version, VersionVector

#: Bytes of a message header on the wire (type, sender, ids).
HEADER_BYTES = 16
#: Bytes of one tree node on the wire: range id, level, index and an 8-byte hash.
NODE_BYTES = 8 + HASH_BYTES

Versions = tuple[Version, ...]


# --- configuration ------------------------------------------------------------------------------
@dataclass(frozen=True)
class DynamoConfig:
    """Parameters of a Dynamo cluster (times in ms of each node's local clock)."""

    N: int = 3
    R: int = 2
    W: int = 2
    sloppy_quorum: bool = True
    read_repair: bool = True
    anti_entropy_ms: float | None = 500.0
    anti_entropy_mode: str = "merkle"
    merkle_depth: int = 4
    hint_interval_ms: float = 100.0
    heartbeat_ms: float = 50.0
    suspect_ms: float = 150.0
    replica_timeout_ms: float = 50.0
    request_timeout_ms: float = 300.0

    def __post_init__(self) -> None:
        check_quorum(self.N, self.R, self.W)
        check_type("sloppy_quorum", self.sloppy_quorum, bool)
        check_type("read_repair", self.read_repair, bool)
        if self.anti_entropy_ms is not None:
            check_number("anti_entropy_ms", self.anti_entropy_ms, min=0, min_inclusive=False)
        check_choice("anti_entropy_mode", self.anti_entropy_mode, ("merkle", "naive"))
        check_number("merkle_depth", self.merkle_depth, min=0, max=16, integer=True)
        for name in (
            "hint_interval_ms",
            "heartbeat_ms",
            "suspect_ms",
            "replica_timeout_ms",
            "request_timeout_ms",
        ):
            check_number(name, getattr(self, name), min=0, min_inclusive=False)


def check_quorum(N: Any, R: Any, W: Any) -> None:
    """``N >= 1`` and ``1 <= R, W <= N``, or a ValueError/TypeError naming the culprit."""
    check_number("N", N, min=1, integer=True)
    check_number("R", R, min=1, integer=True)
    check_number("W", W, min=1, integer=True)
    if R > N:
        raise ValueError(f"R={R} is not allowed; a read cannot wait for more than N={N} replicas")
    if W > N:
        raise ValueError(f"W={W} is not allowed; a write cannot wait for more than N={N} replicas")


# --- client requests (bodies of dslab.core.Request) and results ---------------------------------
@dataclass(frozen=True, slots=True)
class Get:
    key: str


@dataclass(frozen=True, slots=True)
class Put:
    """Write ``value``; ``context`` is what the client read (it supersedes those siblings)."""

    key: str
    value: Any
    context: VersionVector = EMPTY


@dataclass(frozen=True, slots=True)
class SyncWith:
    """Administrative: start one anti-entropy exchange with ``peer`` now."""

    peer: str


@dataclass(frozen=True, slots=True)
class GetResult:
    key: str
    values: tuple[Any, ...]  # one per sibling; empty if the key was never written
    context: VersionVector  # pass it to the next Put to supersede these siblings
    versions: Versions = ()


@dataclass(frozen=True, slots=True)
class PutResult:
    key: str
    context: VersionVector  # the new version's history


# --- messages between nodes -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


@dataclass(frozen=True, slots=True)
class ForwardPut:
    """A put received by a non-owner, forwarded to an owner that will answer ``client``."""

    client: str
    request_id: int
    put: Put


@dataclass(frozen=True, slots=True)
class ReplicaWrite:
    """Store ``versions`` of ``key``; ``hint`` names the owner this is held for (sloppy quorum).
    ``op`` is ``None`` for writes that need no acknowledgement (read repair)."""

    op: str | None
    key: str
    versions: Versions
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class ReplicaAck:
    op: str
    key: str


@dataclass(frozen=True, slots=True)
class ReplicaRead:
    op: str
    key: str


@dataclass(frozen=True, slots=True)
class ReplicaReadReply:
    op: str
    key: str
    versions: Versions


@dataclass(frozen=True, slots=True)
class Handoff:
    """Hinted handoff: ``versions`` of ``key`` that the sender held for the receiver."""

    key: str
    versions: Versions


@dataclass(frozen=True, slots=True)
class HandoffAck:
    key: str
    digest: str


@dataclass(frozen=True, slots=True)
class MerkleNodes:
    """Anti-entropy step: tree nodes ``(range, level, index, hash)`` for the receiver to compare."""

    nodes: tuple[TreeNode, ...]

    def size_bytes(self) -> int:
        return HEADER_BYTES + NODE_BYTES * len(self.nodes)


@dataclass(frozen=True, slots=True)
class LeafDigests:
    """Anti-entropy step: the sender's ``(key, digest)`` pairs in ``leaves`` ``(range, index)``;
    index ``-1`` means the whole range (the naive mode)."""

    leaves: tuple[tuple[int, int], ...]
    digests: tuple[tuple[str, str], ...]

    def size_bytes(self) -> int:
        return (
            HEADER_BYTES
            + 8 * len(self.leaves)
            + sum(len(k) + HASH_BYTES for k, _ in self.digests)
        )


@dataclass(frozen=True, slots=True)
class KeyVersions:
    """Anti-entropy step: the sender's sibling sets for some keys, and the keys it wants back."""

    entries: tuple[tuple[str, Versions], ...]
    want: tuple[str, ...] = ()

    def size_bytes(self) -> int:
        return (
            HEADER_BYTES
            + sum(len(k) + sum(v.size_bytes() for v in vs) for k, vs in self.entries)
            + sum(len(k) for k in self.want)
        )
