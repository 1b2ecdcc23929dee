"""The messages of Raft (Figure 2 and Figure 13 of the extended paper), as frozen dataclasses.

Raft is usually described with RPCs: a call and its reply. On dslab's network every message is
one-way, so each reply carries what the sender needs to act on it without remembering the call
(``AppendEntriesReply.match_index``, ``InstallSnapshotReply.last_included_index``).

Field names follow the paper, in snake_case (``prevLogIndex`` becomes ``prev_log_index``). Every
message carries ``term``: Figure 2's rule "if a request or a response contains a term T greater
than currentTerm, set currentTerm = T and convert to follower" applies to all of them.

The harness treats a message whose class name ends in ``Reply`` as a reply (for unreliable and
reordering networks, and for counting RPCs); everything else a server sends is a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry: the command and the term in which a leader received it (§5.3)."""

    term: int
    command: Any


@dataclass(frozen=True, slots=True)
class RequestVote:
    """Sent by candidates to gather votes (§5.2)."""

    term: int
    candidate_id: str
    last_log_index: int
    last_log_term: int


@dataclass(frozen=True, slots=True)
class RequestVoteReply:
    term: int
    vote_granted: bool


@dataclass(frozen=True, slots=True)
class AppendEntries:
    """Sent by the leader to replicate entries (§5.3); with no entries it is a heartbeat (§5.2)."""

    term: int
    leader_id: str
    prev_log_index: int
    prev_log_term: int
    entries: tuple[Entry, ...]
    leader_commit: int


@dataclass(frozen=True, slots=True)
class AppendEntriesReply:
    """The follower's answer to :class:`AppendEntries`.

    On success, ``match_index`` is the index of the last entry the follower now shares with the
    leader (``prev_log_index + len(entries)``). On failure, ``conflict_term`` and
    ``conflict_index`` let the leader skip a whole term of mismatching entries at once instead of
    backing up one entry per round trip (the optimisation sketched at the end of §5.3):
    ``conflict_term`` is the term of the follower's entry at ``prev_log_index`` (0 if the follower
    has no entry there) and ``conflict_index`` is the first index of that term in the follower's
    log (or, if the log is too short, its last index + 1).
    """

    term: int
    success: bool
    match_index: int = 0
    conflict_term: int = 0
    conflict_index: int = 0


@dataclass(frozen=True, slots=True)
class InstallSnapshot:
    """Sent by the leader to a follower that needs entries it has already compacted (§7).

    The whole snapshot travels in one message (the paper's ``offset`` and ``done`` fields split
    it into chunks; a simulated network does not need that).
    """

    term: int
    leader_id: str
    last_included_index: int
    last_included_term: int
    data: Any


@dataclass(frozen=True, slots=True)
class InstallSnapshotReply:
    """``last_included_index`` echoes the snapshot's index: the follower now matches up to it."""

    term: int
    last_included_index: int = 0


#: The messages Raft servers exchange (client traffic uses dslab.core.Request / Response).
RAFT_MESSAGES = (
    RequestVote,
    RequestVoteReply,
    AppendEntries,
    AppendEntriesReply,
    InstallSnapshot,
    InstallSnapshotReply,
)


def is_reply_type(name: str) -> bool:
    """Is a message type called ``name`` a reply (``...Reply``, or a client ``Response``)?"""
    return name.endswith("Reply") or name.startswith("Response")


def is_reply(msg: Any) -> bool:
    """Is ``msg`` a reply (see :func:`is_reply_type`)?"""
    return is_reply_type(type(msg).__name__)
