"""Scheme 2: segment mode (数据库号段模式), with Leaf-style double buffering (双号段缓存).

Instead of one database round trip per ID, an ID server claims a whole *segment* of IDs at once
and hands them out from memory. The notes' table has one row per business type; here a row is
``(biz_tag, max_id, step, version)`` (the notes' ``biz_type, current_max_id, step, version``).

Rules:

1. **The database** (:class:`SegmentDB`) keeps each row in durable storage. Claiming a segment is
   the notes' two statements: read the row (:class:`~dslab.ids.messages.ReadRow`), then
   ``UPDATE ... SET max_id = max_id + step, version = version + 1 WHERE version = v``
   (:class:`~dslab.ids.messages.UpdateRow`). The update is *optimistic* (乐观锁): it applies only if
   nobody changed the row since it was read; otherwise the server reads again and retries. A
   successful update gives its caller the segment ``[max_id, max_id + step)`` (old ``max_id``), and
   no other caller can ever get an overlapping one. The database's answer names that range
   (:class:`~dslab.ids.messages.UpdateResult` ``start`` and ``max_id``) and logs
   ``segment_granted``.
2. **An ID server** (:class:`SegmentIdServer`) hands out the next ID of its current segment, in
   order. When the segment is used up it needs another; without double buffering, requests that
   arrive meanwhile wait for the database (two round trips plus the database's queue).
3. **Double buffering** (Leaf's ``SegmentBuffer``; Tinyid does the same): as soon as a fraction
   ``prefetch_at`` of the current segment is consumed (Leaf: 10%), the server fetches the next
   segment in the background, so that when the current one runs out the next is already there
   and no client waits for the database. The database may even be down for a while.
4. **Crashes waste IDs, never reuse them.** Segments live in the server's memory: a crash loses
   what was left of the current segment and the whole prefetched one. The database has already
   moved ``max_id`` past them, so those IDs are skipped forever (a gap), never handed out twice.
   A restarted server simply claims a fresh segment.
5. **An answer belongs to one request of one incarnation.** Each fetch carries a request id
   (``req``) that the server persists before the request leaves, so ids never repeat across
   restarts: a grant meant for the previous incarnation (still in flight when the server
   restarted, or duplicated by the network) matches nothing and becomes a gap, never a segment.
   And the segment is the range the database says it granted, never a value the server kept in
   memory. (Before this rule a quick double restart handed out IDs twice: the counter restarted
   at 1, the old grant was accepted, and its start was read from an unset variable, -1.)

IDs are unique and increasing per server; two servers hand out interleaved ranges, so IDs are not
increasing across servers (the order follows whichever segment a server happens to hold).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from dslab._validate import check_number, check_type
from dslab.core import Context, Handler, Request
from dslab.ids.messages import NextId, ReadRow, RowIs, UpdateResult, UpdateRow
from dslab.ids.server import QueuedServer, refuse, reply

DEFAULT_ROWS: dict[str, tuple[int, int]] = {"order": (1, 1000)}


def check_rows(rows: Any) -> dict[str, tuple[int, int]]:
    """``{biz_tag: (first max_id, step)}``, validated: ``max_id >= 0`` and ``step >= 1``."""
    check_type("rows", rows, Mapping)
    if not rows:
        raise ValueError("rows={} is not allowed; give at least one biz_tag: (max_id, step)")
    out = {}
    for tag, row in rows.items():
        check_type("rows key", tag, str)
        if not isinstance(row, (tuple, list)) or len(row) != 2:
            raise ValueError(f"rows[{tag!r}]={row!r} is not allowed; expected (max_id, step)")
        max_id, step = row
        check_number(f"rows[{tag!r}] max_id", max_id, min=0, integer=True)
        check_number(f"rows[{tag!r}] step", step, min=1, integer=True)
        out[tag] = (max_id, step)
    return out


def check_step(step: Any) -> int:
    """A segment length: an int >= 1."""
    return check_number("step", step, min=1, integer=True)


class SegmentDB(QueuedServer):
    """The database of segment mode: one row per ``biz_tag``, updated optimistically.

    ``rows``: ``{biz_tag: (initial max_id, step)}``, written to storage on the first boot only.
    ``service_ms``: time per statement (a read or an update).
    """

    def __init__(
        self, rows: Mapping[str, tuple[int, int]] | None = None, service_ms: float = 0.5
    ) -> None:
        super().__init__(service_ms)
        self.initial = check_rows(DEFAULT_ROWS if rows is None else rows)
        self.conflicts = 0

    def on_start(self, ctx: Context) -> None:
        for tag in sorted(self.initial):
            key = f"segment/{tag}"
            if key not in ctx.storage:
                max_id, step = self.initial[tag]
                ctx.storage[key] = {"max_id": max_id, "step": step, "version": 0}

    def row(self, ctx: Context, tag: str) -> dict[str, int] | None:
        key = f"segment/{tag}"
        return ctx.storage[key] if key in ctx.storage else None

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, (ReadRow, UpdateRow)):
            self.enqueue(ctx, src, msg)

    def serve(self, ctx: Context, src: str, msg: Any) -> None:
        row = self.row(ctx, msg.biz_tag)
        if isinstance(msg, ReadRow):
            if row is None:
                ctx.send(src, RowIs(msg.biz_tag, msg.req, -1, 0, -1))
            else:
                ctx.send(src, RowIs(msg.biz_tag, msg.req, row["max_id"], row["step"],
                                    row["version"]))
            return
        # UpdateRow: ... WHERE biz_tag = ? AND version = expected_version
        if row is None or row["version"] != msg.expected_version or msg.new_max_id <= row["max_id"]:
            self.conflicts += 1
            max_id, version = (-1, -1) if row is None else (row["max_id"], row["version"])
            ctx.send(src, UpdateResult(msg.biz_tag, msg.req, False, max_id, version))
            return
        start = row["max_id"]
        row["max_id"] = msg.new_max_id
        row["version"] += 1
        ctx.storage[f"segment/{msg.biz_tag}"] = row  # committed before the answer leaves
        ctx.log("segment_granted", biz_tag=msg.biz_tag, to=src, start=start, end=msg.new_max_id,
                version=row["version"])
        ctx.send(src, UpdateResult(msg.biz_tag, msg.req, True, msg.new_max_id, row["version"],
                                   start=start))


class SegmentIdServer(Handler):
    """An ID server of segment mode (a Leaf or Tinyid node) for one ``biz_tag``.

    ``db``: the database node. ``double_buffer``: prefetch the next segment once ``prefetch_at``
    of the current one is used (0 < ``prefetch_at`` <= 1). ``fetch_timeout_ms``: local ms to wait
    for the database before asking again.

    Volatile state: ``current = [next_id, end)``, the prefetched ``buffered`` segment (or
    ``None``), and the requests ``waiting`` for a segment.
    """

    FETCH_TIMER = "fetch_timeout"

    def __init__(
        self,
        db: str = "db",
        biz_tag: str = "order",
        *,
        double_buffer: bool = True,
        prefetch_at: float = 0.1,
        fetch_timeout_ms: float = 50.0,
    ) -> None:
        check_type("db", db, str)
        check_type("biz_tag", biz_tag, str)
        check_type("double_buffer", double_buffer, bool)
        check_number("prefetch_at", prefetch_at, min=0, min_inclusive=False, max=1)
        check_number("fetch_timeout_ms", fetch_timeout_ms, min=0, min_inclusive=False)
        self.db = db
        self.biz_tag = biz_tag
        self.double_buffer = double_buffer
        self.prefetch_at = float(prefetch_at)
        self.fetch_timeout_ms = float(fetch_timeout_ms)
        self.next_id = 0
        self.end = 0
        self.segment_start = 0
        self.buffered: tuple[int, int] | None = None
        self.fetching = False
        self.req = 0  # the last request id used; loaded from storage in on_start
        self.waiting: deque[tuple[str, Request]] = deque()

    # -- the segments ------------------------------------------------------------------------------
    @property
    def remaining(self) -> int:
        """IDs left in the current segment."""
        return self.end - self.next_id

    def held(self) -> list[tuple[int, int]]:
        """The ranges this server still holds, unused (current remainder and buffered segment)."""
        out = [(self.next_id, self.end)] if self.end > self.next_id else []
        if self.buffered is not None:
            out.append(self.buffered)
        return out

    def _consumed_fraction(self) -> float:
        size = self.end - self.segment_start
        return 1.0 if size <= 0 else (self.next_id - self.segment_start) / size

    def _new_req(self, ctx: Context) -> int:
        """A request id never used before by this server, in any incarnation (rule 5)."""
        self.req += 1
        ctx.storage["req"] = self.req  # persisted before the request leaves
        return self.req

    def _start_fetch(self, ctx: Context) -> None:
        self.fetching = True
        self._new_req(ctx)
        ctx.log("segment_fetch", req=self.req, buffered=self.remaining > 0)
        ctx.send(self.db, ReadRow(self.biz_tag, self.req))
        ctx.set_timer(self.FETCH_TIMER, self.fetch_timeout_ms)

    def _maybe_prefetch(self, ctx: Context) -> None:
        if (
            self.double_buffer
            and not self.fetching
            and self.buffered is None
            and self.end > self.segment_start
            and self._consumed_fraction() >= self.prefetch_at
        ):
            self._start_fetch(ctx)

    def _serve(self, ctx: Context) -> None:
        while self.waiting:
            if self.next_id < self.end:
                src, req = self.waiting.popleft()
                new_id = self.next_id
                self.next_id += 1
                reply(ctx, src, req, new_id)
            elif self.buffered is not None:
                self.segment_start, self.end = self.buffered
                self.next_id = self.segment_start
                self.buffered = None
                ctx.log("segment_switch", start=self.segment_start, end=self.end)
            else:
                if not self.fetching:
                    self._start_fetch(ctx)
                break
        self._maybe_prefetch(ctx)

    # -- handler entry points ----------------------------------------------------------------------
    def on_start(self, ctx: Context) -> None:
        self.req = ctx.storage["req"] if "req" in ctx.storage else 0
        self._start_fetch(ctx)  # Leaf loads the first segment when the service starts

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            if isinstance(msg.body, NextId) and msg.body.biz_tag == self.biz_tag:
                self.waiting.append((src, msg))
                self._serve(ctx)
            else:
                refuse(ctx, src, msg, "unknown_biz_tag")
        elif isinstance(msg, RowIs) and msg.req == self.req and self.fetching:
            if msg.max_id < 0:
                raise ValueError(f"biz_tag={self.biz_tag!r} has no row in the database {self.db!r}")
            ctx.send(self.db, UpdateRow(self.biz_tag, self.req, msg.version,
                                        msg.max_id + msg.step))
        elif isinstance(msg, UpdateResult) and msg.req == self.req and self.fetching:
            if not msg.ok:  # another server claimed a segment since our read: read again
                ctx.log("version_conflict", req=self.req, version=msg.version)
                self._new_req(ctx)
                ctx.send(self.db, ReadRow(self.biz_tag, self.req))
                ctx.set_timer(self.FETCH_TIMER, self.fetch_timeout_ms)
                return
            ctx.cancel_timer(self.FETCH_TIMER)
            self.fetching = False
            if msg.start is None:
                raise ValueError(f"UpdateResult {msg!r} says ok but names no granted start")
            segment = (msg.start, msg.max_id)  # the range the database granted this request
            ctx.log("segment_loaded", start=segment[0], end=segment[1])
            if self.next_id >= self.end:
                self.segment_start, self.end = segment
                self.next_id = self.segment_start
            else:
                self.buffered = segment
            self._serve(ctx)

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == self.FETCH_TIMER and self.fetching:
            ctx.log("segment_fetch_timeout", req=self.req)
            self._new_req(ctx)
            ctx.send(self.db, ReadRow(self.biz_tag, self.req))
            ctx.set_timer(self.FETCH_TIMER, self.fetch_timeout_ms)
