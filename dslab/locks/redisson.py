"""Redisson's fair lock and read-write lock, as server-side scripts on the lock server.

Redisson builds more than the reentrant lock on Redis, each as a Lua script that runs atomically
on the server. :class:`RedissonLockServer` is :class:`~dslab.locks.redis.RedisLockServer` plus:

**Fair lock** (``RFairLock``; :class:`FLock`, released with
:class:`~dslab.locks.redis.HUnlock`):

1. Besides the lock's hash (holder -> count), the server keeps a **queue of waiters** per key, in
   the order they first asked (Redisson: a list plus a sorted set of timeouts).
2. A holder that already holds the lock re-enters (count + 1), as in the reentrant lock.
3. A free lock goes only to the waiter at the **head of the queue** (or to anyone if nobody
   waits); everyone else is put at (or kept in) its place and told its position. So the lock is
   handed out first-come, first-served, whatever the timing of the retries.
4. A waiter must ask again within ``wait_ms`` (each request renews its place); a waiter that has
   not (it crashed, or gave up) is **evicted** when the queue is next looked at, so a dead
   waiter cannot block the line for ever. Simplification: Redisson computes each waiter's timeout
   from the one ahead of it; here each waiter's deadline is simply its last request + ``wait_ms``.

**Read-write lock** (``RReadWriteLock``; :class:`RWLock`, :class:`RWUnlock`):

5. Many readers may hold the lock together; a writer holds it alone. A read is granted if there
   is no writer, or if the writer is the reader itself (a writer may also read: downgrading). A
   write is granted only if nobody holds the lock, or as a re-entry of the same writer. A reader
   cannot upgrade to a write (two readers upgrading at once would wait for each other forever).
6. Counts are per holder and per mode; each lock and each unlock that leaves the lock held sets
   the key's lease to ``px_ms`` (as the reentrant lock does); the last unlock deletes the key and
   publishes the release.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_number
from dslab.core import Context
from dslab.locks.redis import Entry, RedisLockServer, release_channel

MODES = ("read", "write")


@dataclass(frozen=True, slots=True)
class FLock:
    """Fair acquire: like :class:`~dslab.locks.redis.HLock`, but first come, first served."""

    key: str
    holder: str
    px_ms: float | None = None
    wait_ms: float = 5000.0


@dataclass(frozen=True, slots=True)
class RWLock:
    """Take the read (shared) or write (exclusive) side of the lock ``key``."""

    key: str
    holder: str
    mode: str
    px_ms: float | None = None


@dataclass(frozen=True, slots=True)
class RWUnlock:
    """Release one hold of ``mode`` by ``holder``; the lease is reset if the lock stays held."""

    key: str
    holder: str
    mode: str
    px_ms: float | None = None


@dataclass(slots=True)
class RWState:
    """The value of a read-write lock's key: read counts per reader, and the writer's count."""

    readers: dict[str, int] = field(default_factory=dict)
    writer: str | None = None
    writes: int = 0

    def empty(self) -> bool:
        return not self.readers and self.writer is None


class RedissonLockServer(RedisLockServer):
    """The lock server with Redisson's fair lock and read-write lock (see the module rules)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.queues: dict[str, list[list[Any]]] = {}  # key -> [[holder, deadline], ...]

    # -- fair lock -------------------------------------------------------------------------------
    def queue(self, ctx: Context, key: str) -> list[str]:
        """The waiters of ``key`` in order, after evicting those whose deadline has passed."""
        q = self.queues.get(key, [])
        now = ctx.now()
        for holder, deadline in q:
            if deadline <= now:
                ctx.log("waiter_evicted", key=key, holder=holder)
        live = [w for w in q if w[1] > now]
        if live:
            self.queues[key] = live
        else:
            self.queues.pop(key, None)
        return [h for h, _ in live]

    def flock(self, ctx: Context, key: str, holder: str, px_ms: float | None,
              wait_ms: float) -> tuple[int | None, int]:
        """Fair acquire: ``(count, 0)`` if granted, ``(None, position)`` if queued (1: next)."""
        waiting = self.queue(ctx, key)
        entry = self.live(ctx, key)
        if entry is not None and isinstance(entry.value, dict) and holder in entry.value:
            return self.hlock(ctx, key, holder, px_ms), 0  # re-entry (rule 2)
        if entry is None and (not waiting or waiting[0] == holder):
            if waiting:
                self.queues[key].pop(0)
                if not self.queues[key]:
                    del self.queues[key]
            return self.hlock(ctx, key, holder, px_ms), 0  # rule 3
        q = self.queues.setdefault(key, [])
        deadline = ctx.now() + wait_ms
        for w in q:
            if w[0] == holder:
                w[1] = deadline  # rule 4: asking again keeps the place
                break
        else:
            q.append([holder, deadline])
        return None, [w[0] for w in q].index(holder) + 1

    # -- read-write lock -------------------------------------------------------------------------
    def rwlock(self, ctx: Context, key: str, holder: str, mode: str,
               px_ms: float | None) -> int | None:
        """Rule 5: the holder's count in ``mode`` after the grant, or ``None`` if refused."""
        entry = self.live(ctx, key)
        if entry is None:
            entry = self.keys[key] = Entry(RWState(), None)
            self._grant(ctx, key)
        st = entry.value
        if not isinstance(st, RWState):
            return None  # another kind of lock lives under this key
        if mode == "read":
            if st.writer is not None and st.writer != holder:
                return None
            st.readers[holder] = st.readers.get(holder, 0) + 1
            count = st.readers[holder]
        else:
            if not (st.empty() or (st.writer == holder)):
                return None  # held by others, or by readers (no upgrade)
            st.writer, st.writes = holder, st.writes + 1
            count = st.writes
        entry.expires_at = self._expiry(ctx, px_ms)
        return count

    def rwunlock(self, ctx: Context, key: str, holder: str, mode: str,
                 px_ms: float | None) -> int | None:
        """Rule 6: the holder's count left in ``mode``, or ``None`` if it held no such lock."""
        entry = self.live(ctx, key)
        st = None if entry is None else entry.value
        if not isinstance(st, RWState):
            return None
        if mode == "read":
            if holder not in st.readers:
                return None
            st.readers[holder] -= 1
            left = st.readers[holder]
            if left == 0:
                del st.readers[holder]
        else:
            if st.writer != holder:
                return None
            st.writes -= 1
            left = st.writes
            if left == 0:
                st.writer = None
        if st.empty():
            del self.keys[key]
            ctx.log("published", channel=release_channel(key), message="unlocked")
        else:
            entry.expires_at = self._expiry(ctx, px_ms)
        return left

    # -- dispatch --------------------------------------------------------------------------------
    def execute(self, ctx: Context, body: Any) -> tuple[bool, Any, str | None]:
        if isinstance(body, FLock):
            try:
                check_number("wait_ms", body.wait_ms, min=0, min_inclusive=False)
            except (TypeError, ValueError) as exc:  # a bad request is answered, not a crash
                return False, None, f"ERR {exc}"
            count, position = self.flock(ctx, body.key, body.holder, body.px_ms, body.wait_ms)
            if count is None:
                return False, {"position": position, "pttl": self.pttl(ctx, body.key)}, "queued"
            return True, count, None
        if isinstance(body, RWLock | RWUnlock):
            if body.mode not in MODES:
                return False, None, f"ERR mode must be one of {list(MODES)}, not {body.mode!r}"
            if isinstance(body, RWLock):
                count = self.rwlock(ctx, body.key, body.holder, body.mode, body.px_ms)
                if count is None:
                    return False, self.pttl(ctx, body.key), "held"
                return True, count, None
            left = self.rwunlock(ctx, body.key, body.holder, body.mode, body.px_ms)
            return left is not None, left, None if left is not None else "not_owner"
        return super().execute(ctx, body)
