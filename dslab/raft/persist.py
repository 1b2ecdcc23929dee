"""What Raft keeps on disk, and how it is laid out in a node's durable ``Storage``.

Figure 2 names three pieces of persistent state: ``currentTerm``, ``votedFor`` and ``log[]``;
§7 adds the snapshot with its ``lastIncludedIndex`` / ``lastIncludedTerm``. A server must write
them to stable storage *before* it answers an RPC or sends one: a vote or an acknowledged entry
that a crash could forget would break safety. In dslab a storage write takes effect at once and a
send leaves only after the handler returns, so writing first is all it takes.

Layout (one key per log entry, like an append-only file: appending writes one entry, not the
whole log)::

    raft/current_term      int
    raft/voted_for         node name or None
    raft/log_base          (lastIncludedIndex, lastIncludedTerm) of the snapshot, (0, 0) if none
    raft/log_last_index    index of the last entry
    raft/log/<i>           (term, command) of entry i, for lastIncludedIndex < i <= last index
    raft/snapshot          the service's snapshot (absent until the first one)

:meth:`Persister.raft_state_size` is the size of everything but the snapshot (6.5840's
``RaftStateSize``), the number a service compares with its ``maxraftstate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslab.core import Storage
from dslab.raft.log import RaftLog
from dslab.raft.messages import Entry

CURRENT_TERM = "raft/current_term"
VOTED_FOR = "raft/voted_for"
LOG_BASE = "raft/log_base"
LOG_LAST_INDEX = "raft/log_last_index"
SNAPSHOT = "raft/snapshot"


def entry_key(index: int) -> str:
    return f"raft/log/{index}"


@dataclass
class PersistentState:
    current_term: int
    voted_for: str | None
    log: RaftLog
    snapshot: Any


class Persister:
    """Reads and writes Raft's persistent state, keeping count of its size in bytes."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._sizes: dict[str, int] = {}
        self._state_bytes = 0
        self._first = 1  # entries self._first..self._last are on disk
        self._last = 0

    # -- low level: every write goes through here so the size stays known ----------------------
    def _put(self, key: str, value: Any) -> None:
        self.storage[key] = value
        size = len(repr(value))  # how dslab's Storage measures a value
        if key != SNAPSHOT:
            self._state_bytes += size - self._sizes.get(key, 0)
        self._sizes[key] = size

    def _delete(self, key: str) -> None:
        if key in self._sizes:
            del self.storage[key]
            if key != SNAPSHOT:
                self._state_bytes -= self._sizes[key]
            del self._sizes[key]

    def raft_state_size(self) -> int:
        """Bytes of persisted Raft state (term, vote, log), not counting the snapshot."""
        return self._state_bytes

    # -- loading -------------------------------------------------------------------------------
    def load(self) -> PersistentState:
        """Read everything back (on boot or after a crash). An empty storage is a fresh node."""
        s = self.storage
        for key in s:
            if key.startswith("raft/"):
                self._sizes[key] = len(repr(s[key]))
        self._state_bytes = sum(size for key, size in self._sizes.items() if key != SNAPSHOT)
        base_index, base_term = s.get(LOG_BASE, (0, 0))
        last = s.get(LOG_LAST_INDEX, base_index)
        entries = [Entry(*s[entry_key(i)]) for i in range(base_index + 1, last + 1)]
        self._first, self._last = base_index + 1, last
        return PersistentState(
            current_term=s.get(CURRENT_TERM, 0),
            voted_for=s.get(VOTED_FOR),
            log=RaftLog(base_index, base_term, entries),
            snapshot=s.get(SNAPSHOT),
        )

    # -- saving --------------------------------------------------------------------------------
    def save_term_and_vote(self, current_term: int, voted_for: str | None) -> None:
        self._put(CURRENT_TERM, current_term)
        self._put(VOTED_FOR, voted_for)

    def save_entries(self, log: RaftLog, start: int) -> None:
        """The log changed from index ``start`` on: write those entries, drop any stale tail."""
        for index in range(max(start, log.snapshot_index + 1), log.last_index + 1):
            e = log.entry(index)
            self._put(entry_key(index), (e.term, e.command))
        for index in range(log.last_index + 1, self._last + 1):
            self._delete(entry_key(index))
        self._last = log.last_index
        self._put(LOG_LAST_INDEX, log.last_index)

    def save_snapshot(self, log: RaftLog, data: Any) -> None:
        """A snapshot now covers the log up to ``log.snapshot_index``: save it, drop those entries.

        If the log was reset (an InstallSnapshot that replaced it), call :meth:`save_entries`
        too so that entries beyond the snapshot are rewritten or dropped.
        """
        self._put(SNAPSHOT, data)
        self._put(LOG_BASE, (log.snapshot_index, log.snapshot_term))
        for index in range(self._first, min(log.snapshot_index, self._last) + 1):
            self._delete(entry_key(index))
        self._first = log.snapshot_index + 1
        if self._last < log.snapshot_index:
            self._last = log.snapshot_index
            self._put(LOG_LAST_INDEX, log.last_index)
