"""Raft's log, with the prefix a snapshot replaced (§5.3, §7).

Indices start at 1, as in the paper. After log compaction the entries up to and including
``snapshot_index`` live only in the snapshot; the log still remembers the term of that last
compacted entry (``snapshot_term``, the paper's lastIncludedTerm) because the AppendEntries
consistency check and the up-to-date comparison need it::

    index:   1  2  3 | 4  5  6  7
                     ^ snapshot_index = 3, snapshot_term = term of entry 3
    entries:           4  5  6  7       (last_index = 7)

``term_at(i)`` works for ``snapshot_index <= i <= last_index`` (and gives 0 for index 0, the empty
log's "entry"); ``entry(i)`` for ``snapshot_index < i <= last_index``.
"""

from __future__ import annotations

from collections.abc import Iterable

from dslab.raft.messages import Entry


class RaftLog:
    def __init__(
        self, snapshot_index: int = 0, snapshot_term: int = 0, entries: Iterable[Entry] = ()
    ) -> None:
        self.snapshot_index = snapshot_index
        self.snapshot_term = snapshot_term
        self._entries: list[Entry] = list(entries)

    def __repr__(self) -> str:
        return (
            f"RaftLog(snapshot=({self.snapshot_index}, {self.snapshot_term}), "
            f"entries {self.snapshot_index + 1}..{self.last_index})"
        )

    # -- reading --------------------------------------------------------------------------------
    @property
    def last_index(self) -> int:
        return self.snapshot_index + len(self._entries)

    @property
    def last_term(self) -> int:
        return self._entries[-1].term if self._entries else self.snapshot_term

    def has(self, index: int) -> bool:
        """Does the log (or its snapshot boundary) know the term of ``index``?"""
        return self.snapshot_index <= index <= self.last_index

    def term_at(self, index: int) -> int:
        if index == self.snapshot_index:
            return self.snapshot_term
        return self.entry(index).term

    def entry(self, index: int) -> Entry:
        if not self.snapshot_index < index <= self.last_index:
            raise IndexError(
                f"index={index} is not in the log: it holds entries "
                f"{self.snapshot_index + 1}..{self.last_index} after a snapshot up to "
                f"{self.snapshot_index}"
            )
        return self._entries[index - self.snapshot_index - 1]

    def slice(self, start: int, stop: int | None = None) -> tuple[Entry, ...]:
        """Entries with ``start <= index < stop`` (``stop`` defaults to the end of the log)."""
        if start <= self.snapshot_index:
            raise IndexError(
                f"start={start} is compacted: the log holds entries from {self.snapshot_index + 1}"
            )
        stop = self.last_index + 1 if stop is None else stop
        base = self.snapshot_index + 1
        return tuple(self._entries[start - base : stop - base])

    def is_up_to_date(self, last_term: int, last_index: int) -> bool:
        """Is a log ending with (``last_term``, ``last_index``) at least as up-to-date as this one?

        §5.4.1: the log whose last entry has the later term is more up-to-date; if the last terms
        are equal, the longer log is.
        """
        return (last_term, last_index) >= (self.last_term, self.last_index)

    def first_index_of_term_at(self, index: int) -> int:
        """The first index of the run of entries that has the same term as entry ``index``."""
        term = self.term_at(index)
        while index - 1 > self.snapshot_index and self.term_at(index - 1) == term:
            index -= 1
        return index

    def last_index_of_term(self, term: int) -> int:
        """The last index whose entry has ``term``, or 0 if the log holds no such entry."""
        for index in range(self.last_index, self.snapshot_index - 1, -1):
            t = self.term_at(index)
            if t == term:
                return index
            if t < term:  # terms never decrease along a log
                break
        return 0

    # -- changing -------------------------------------------------------------------------------
    def append(self, entry: Entry) -> int:
        """Append one entry and return its index."""
        self._entries.append(entry)
        return self.last_index

    def extend(self, entries: Iterable[Entry]) -> None:
        self._entries.extend(entries)

    def truncate(self, index: int) -> None:
        """Delete the entry at ``index`` and all that follow it (AppendEntries step 3)."""
        if index <= self.snapshot_index:
            raise IndexError(
                f"index={index} is in the snapshot (up to {self.snapshot_index}); committed "
                "entries are never deleted"
            )
        del self._entries[index - self.snapshot_index - 1 :]

    def compact(self, index: int) -> None:
        """Drop entries up to ``index`` (now in a snapshot), keeping the ones after it."""
        if index <= self.snapshot_index:
            return
        term = self.term_at(index)
        del self._entries[: index - self.snapshot_index]
        self.snapshot_index, self.snapshot_term = index, term

    def reset(self, snapshot_index: int, snapshot_term: int) -> None:
        """Throw the whole log away: it now starts after a snapshot up to ``snapshot_index``."""
        self._entries.clear()
        self.snapshot_index, self.snapshot_term = snapshot_index, snapshot_term
