"""Messages of ZAB and of the ZooKeeper client protocol (frozen dataclasses, never shared state).

Names follow Junqueira, Reed and Serafini 2011 (Zab), section IV: ``FollowerInfo`` (CEPOCH),
``NewEpoch``, ``AckEpoch``, ``NewLeader`` (the synchronisation, carrying what the follower lacks),
``AckNewLeader``, ``Proposal``, ``Ack``, ``Commit``; and fast leader election's ``Notification``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EPOCH_SHIFT = 32
COUNTER_MASK = (1 << EPOCH_SHIFT) - 1


def make_zxid(epoch: int, counter: int) -> int:
    """ZXID = (epoch << 32) | counter: the high 32 bits are the leader's epoch."""
    return (epoch << EPOCH_SHIFT) | counter


def zxid_epoch(zxid: int) -> int:
    return zxid >> EPOCH_SHIFT


def zxid_counter(zxid: int) -> int:
    return zxid & COUNTER_MASK


def fmt_zxid(zxid: int) -> str:
    """``0x100000003`` shown as ``1:3`` (epoch 1, counter 3)."""
    return f"{zxid_epoch(zxid)}:{zxid_counter(zxid)}"


# --- client operations (bodies of dslab.core.Request) ---------------------------------------
@dataclass(frozen=True, slots=True)
class Create:
    path: str
    data: Any = None
    ephemeral: bool = False
    sequential: bool = False


@dataclass(frozen=True, slots=True)
class Delete:
    path: str
    version: int = -1


@dataclass(frozen=True, slots=True)
class SetData:
    path: str
    data: Any
    version: int = -1


@dataclass(frozen=True, slots=True)
class CreateSession:
    timeout_ms: float


@dataclass(frozen=True, slots=True)
class CloseSession:
    reason: str = "closed"


@dataclass(frozen=True, slots=True)
class GetData:
    path: str
    watch: bool = False


@dataclass(frozen=True, slots=True)
class Exists:
    path: str
    watch: bool = False


@dataclass(frozen=True, slots=True)
class GetChildren:
    path: str
    watch: bool = False


@dataclass(frozen=True, slots=True)
class Sync:
    path: str = "/"


@dataclass(frozen=True, slots=True)
class Ping:
    """A client's heartbeat on its session (also how a client reconnects to another server)."""


WRITE_OPS = (Create, Delete, SetData, CreateSession, CloseSession)
READ_OPS = (GetData, Exists, GetChildren)


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """Server -> client: a one-shot watch fired (``event``: created/deleted/changed/children)."""

    path: str
    event: str
    zxid: int


# --- a transaction in the log ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Txn:
    """A write as it travels in the log: the operation, its session, and who to answer."""

    op: Any
    session: str
    origin: str = ""  # the server the client is connected to (it answers the client)
    client: str = ""
    request_id: int = 0


# --- fast leader election --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Notification:
    """A vote ``(epoch, zxid, leader)`` in election round ``round``, and the sender's state."""

    leader: int  # myid of the proposed leader
    zxid: int
    epoch: int  # the proposed leader's current epoch
    round: int
    state: str  # looking / following / leading


# --- discovery and synchronisation -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FollowerInfo:
    accepted_epoch: int
    zxids: tuple[int, ...]  # the follower's log, so the leader can find the common prefix


@dataclass(frozen=True, slots=True)
class NewEpoch:
    epoch: int


@dataclass(frozen=True, slots=True)
class AckEpoch:
    """``vote`` is False when the follower already gave this epoch to another leader (ZooKeeper
    then acks with epoch -1): the leader may synchronise it but must not count it."""

    epoch: int
    current_epoch: int
    zxids: tuple[int, ...]
    vote: bool = True


@dataclass(frozen=True, slots=True)
class NewLeader:
    """Synchronisation: keep the first ``keep`` log entries, append ``entries``, then the log
    equals the leader's; the entries up to ``commit_zxid`` are committed. It answers one
    ``AckEpoch``: ``their_len`` and ``their_last`` describe the follower log it was computed
    from, so that a follower whose log has changed since ignores it as stale."""

    epoch: int
    keep: int
    entries: tuple[tuple[int, Txn], ...]
    commit_zxid: int
    their_len: int = 0
    their_last: int = 0


@dataclass(frozen=True, slots=True)
class AckNewLeader:
    epoch: int
    last_zxid: int


# --- broadcast -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Proposal:
    epoch: int
    zxid: int
    prev_zxid: int
    txn: Txn


@dataclass(frozen=True, slots=True)
class Ack:
    epoch: int
    zxid: int


@dataclass(frozen=True, slots=True)
class Commit:
    epoch: int
    zxid: int


@dataclass(frozen=True, slots=True)
class Inform:
    """Leader -> observer: a transaction that is already committed (ZooKeeper's INFORM). An
    observer never sees a proposal, so it never acks and is never part of a quorum."""

    epoch: int
    zxid: int
    prev_zxid: int
    txn: Txn


@dataclass(frozen=True, slots=True)
class Forward:
    """Follower -> leader: a client's write (or a ``Sync``) to be ordered by the leader."""

    txn: Txn


@dataclass(frozen=True, slots=True)
class SyncDone:
    """Leader -> follower: every proposal the leader committed before the sync is on its way."""

    epoch: int
    client: str
    request_id: int


@dataclass(frozen=True, slots=True)
class LeaderPing:
    epoch: int
    commit_zxid: int


@dataclass(frozen=True, slots=True)
class FollowerPing:
    """Follower -> leader: I am alive, and these sessions pinged me (ZooKeeper's session
    touches ride on the follower's ping replies)."""

    epoch: int
    sessions: tuple[str, ...]
