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

This module is also the reference of the classroom assignment ``segment-server``
(:mod:`dslab.grade.assignments.segment_server`): the marked solution blocks of
:class:`SegmentIdServer` are what a student writes (``dslab skeleton segment-server``).

IDs are unique and increasing per server; two servers hand out interleaved ranges, so IDs are not
increasing across servers (the order follows whichever segment a server happens to hold).

Two extensions, each in its own module: several databases that never collide, with fail-over
between them (Tinyid, :mod:`dslab.ids.tinyid`: a row may carry ``delta`` and ``remainder``, and a
server may be given several ``db`` names), and a step that follows the traffic (Leaf,
:mod:`dslab.ids.dynamic_step`: ``dynamic_step=True``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from dslab._validate import check_number, check_type
from dslab.core import Context, Handler, Request
from dslab.ids.dynamic_step import MAX_STEP, SEGMENT_DURATION_MS, next_step
from dslab.ids.messages import NextId, ReadRow, RowIs, UpdateResult, UpdateRow
from dslab.ids.server import QueuedServer, refuse, reply
from dslab.ids.tinyid import align, check_stride, ids_in

DEFAULT_ROWS: dict[str, tuple[int, int]] = {"order": (1, 1000)}


def check_rows(rows: Any) -> dict[str, tuple[int, int, int, int]]:
    """``{biz_tag: (first max_id, step)}`` or ``{biz_tag: (max_id, step, delta, remainder)}``
    (Tinyid's columns), validated: ``max_id >= 0``, ``step >= 1``, ``0 <= remainder < delta``.
    Returns 4-tuples (``delta=1, remainder=0`` when not given)."""
    check_type("rows", rows, Mapping)
    if not rows:
        raise ValueError("rows={} is not allowed; give at least one biz_tag: (max_id, step)")
    out = {}
    for tag, row in rows.items():
        check_type("rows key", tag, str)
        if not isinstance(row, (tuple, list)) or len(row) not in (2, 4):
            raise ValueError(f"rows[{tag!r}]={row!r} is not allowed; expected (max_id, step) or "
                             "(max_id, step, delta, remainder)")
        max_id, step = row[0], row[1]
        check_number(f"rows[{tag!r}] max_id", max_id, min=0, integer=True)
        check_number(f"rows[{tag!r}] step", step, min=1, integer=True)
        delta, remainder = (1, 0) if len(row) == 2 else (row[2], row[3])
        try:
            delta, remainder = check_stride(delta, remainder)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"rows[{tag!r}]={row!r}: {exc}") from None
        out[tag] = (max_id, step, delta, remainder)
    return out


def check_step(step: Any) -> int:
    """A segment length: an int >= 1."""
    return check_number("step", step, min=1, integer=True)


class SegmentDB(QueuedServer):
    """The database of segment mode: one row per ``biz_tag``, updated optimistically.

    ``rows``: ``{biz_tag: (initial max_id, step)}``, or with Tinyid's ``delta`` and ``remainder``
    (:func:`check_rows`), written to storage on the first boot only.
    ``service_ms``: time per statement (a read or an update).
    """

    def __init__(
        self, rows: Mapping[str, tuple[int, ...]] | None = None, service_ms: float = 0.5
    ) -> None:
        super().__init__(service_ms)
        self.initial = check_rows(DEFAULT_ROWS if rows is None else rows)
        self.conflicts = 0

    def on_start(self, ctx: Context) -> None:
        for tag in sorted(self.initial):
            key = f"segment/{tag}"
            if key not in ctx.storage:
                max_id, step, delta, remainder = self.initial[tag]
                row = {"max_id": max_id, "step": step, "version": 0}
                if (delta, remainder) != (1, 0):
                    row.update(delta=delta, remainder=remainder)
                ctx.storage[key] = row

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
                                    row["version"], row.get("delta", 1), row.get("remainder", 0)))
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
                                   start=start, delta=row.get("delta", 1),
                                   remainder=row.get("remainder", 0)))


class SegmentIdServer(Handler):
    """An ID server of segment mode (a Leaf or Tinyid node) for one ``biz_tag``.

    ``db``: the database node, or several (Tinyid, :mod:`dslab.ids.tinyid`): the server asks the
    first and, when a fetch goes unanswered for ``fetch_timeout_ms`` local ms, fails over to the
    next in the list (with one database it just asks again). ``double_buffer``: prefetch the next
    segment once ``prefetch_at`` of the current one is used (0 < ``prefetch_at`` <= 1).
    ``dynamic_step``: choose each segment's size from how long the previous one lasted (Leaf,
    :mod:`dslab.ids.dynamic_step`), between the row's step and ``max_step``, aiming at segments
    that last ``segment_duration_ms`` to twice that (local ms).

    Volatile state: the current segment (``[segment_start, end)``, next ID ``next_id``, counting
    by ``delta``), the prefetched ``buffered`` segment (or ``None``), the requests ``waiting`` for
    a segment, ``step`` and ``updated_at`` for the dynamic step.
    """

    FETCH_TIMER = "fetch_timeout"

    def __init__(
        self,
        db: str | Sequence[str] = "db",
        biz_tag: str = "order",
        *,
        double_buffer: bool = True,
        prefetch_at: float = 0.1,
        fetch_timeout_ms: float = 50.0,
        dynamic_step: bool = False,
        segment_duration_ms: float = SEGMENT_DURATION_MS,
        max_step: int = MAX_STEP,
    ) -> None:
        dbs = (db,) if isinstance(db, str) else tuple(db) if isinstance(db, Sequence) else None
        if not dbs or not all(isinstance(d, str) for d in dbs):
            raise TypeError(f"db={db!r} must be a database name or a non-empty list of names")
        check_type("biz_tag", biz_tag, str)
        check_type("double_buffer", double_buffer, bool)
        check_number("prefetch_at", prefetch_at, min=0, min_inclusive=False, max=1)
        check_number("fetch_timeout_ms", fetch_timeout_ms, min=0, min_inclusive=False)
        check_type("dynamic_step", dynamic_step, bool)
        check_number("segment_duration_ms", segment_duration_ms, min=0, min_inclusive=False)
        check_number("max_step", max_step, min=1, integer=True)
        self.dbs = dbs
        self.db_index = 0
        self.biz_tag = biz_tag
        self.double_buffer = double_buffer
        self.prefetch_at = float(prefetch_at)
        self.fetch_timeout_ms = float(fetch_timeout_ms)
        self.dynamic_step = dynamic_step
        self.segment_duration_ms = float(segment_duration_ms)
        self.max_step = int(max_step)
        self.next_id = 0
        self.end = 0
        self.segment_start = 0
        self.delta, self.remainder = 1, 0
        self.buffered: tuple[int, int] | None = None
        self.buffered_stride = (1, 0)
        self.fetching = False
        self.req = 0  # the last request id used; loaded from storage in on_start
        self.step: int | None = None  # the size of the last segment loaded (dynamic step)
        self.updated_at: float | None = None  # local time of the last successful update
        self.waiting: deque[tuple[str, Request]] = deque()

    @property
    def db(self) -> str:
        """The database this server asks now."""
        return self.dbs[self.db_index]

    # -- the segments ------------------------------------------------------------------------------
    @property
    def remaining(self) -> int:
        """IDs left in the current segment."""
        return ids_in(self.next_id, self.end, self.delta, self.remainder)

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
        # SOLUTION: the next request id, never used by this server in any incarnation: count on
        # from self.req and write it to durable storage (key "req") before the request leaves
        self.req += 1
        ctx.storage["req"] = self.req  # persisted before the request leaves
        return self.req
        # END SOLUTION

    def _read(self, ctx: Context) -> None:
        """Ask the current database for its row, under a new request id."""
        self._new_req(ctx)
        ctx.send(self.db, ReadRow(self.biz_tag, self.req))
        ctx.set_timer(self.FETCH_TIMER, self.fetch_timeout_ms)

    def _start_fetch(self, ctx: Context) -> None:
        self.fetching = True
        ctx.log("segment_fetch", req=self.req + 1, buffered=self.remaining > 0, db=self.db)
        self._read(ctx)

    def _maybe_prefetch(self, ctx: Context) -> None:
        # SOLUTION: double buffering (rule 3): with double_buffer on, no fetch in flight and no
        # segment buffered yet, start fetching the next segment once prefetch_at of the current
        # one is consumed (self._consumed_fraction())
        if (
            self.double_buffer
            and not self.fetching
            and self.buffered is None
            and self.end > self.segment_start
            and self._consumed_fraction() >= self.prefetch_at
        ):
            self._start_fetch(ctx)
        # END SOLUTION

    def _use(self, segment: tuple[int, int], stride: tuple[int, int]) -> None:
        self.segment_start, self.end = segment
        self.delta, self.remainder = stride
        self.next_id = align(self.segment_start, self.delta, self.remainder)

    def _serve(self, ctx: Context) -> None:
        # SOLUTION: answer the waiting requests in order from memory (rule 2): the next ID of the
        # current segment [segment_start, end), counting by self.delta; when it is used up,
        # switch to the buffered segment (log "segment_switch"), else start a fetch (one at a
        # time) and let the rest wait; then consider a prefetch
        while self.waiting:
            if self.next_id < self.end:
                src, req = self.waiting.popleft()
                new_id = self.next_id
                self.next_id += self.delta
                reply(ctx, src, req, new_id)
            elif self.buffered is not None:
                self._use(self.buffered, self.buffered_stride)
                self.buffered = None
                ctx.log("segment_switch", start=self.segment_start, end=self.end)
            else:
                if not self.fetching:
                    self._start_fetch(ctx)
                break
        self._maybe_prefetch(ctx)
        # END SOLUTION

    def _choose_step(self, ctx: Context, row_step: int) -> int:
        """The size of the segment to claim now: the row's, or Leaf's dynamic step."""
        if not self.dynamic_step or self.step is None or self.updated_at is None:
            return row_step
        return next_step(self.step, duration_ms=max(0.0, ctx.now() - self.updated_at),
                         min_step=row_step, max_step=max(self.max_step, row_step),
                         segment_duration_ms=self.segment_duration_ms)

    # -- handler entry points ----------------------------------------------------------------------
    def on_start(self, ctx: Context) -> None:
        # SOLUTION: a (re)started server: take the last request id from durable storage (0 on the
        # first boot), then fetch the first segment at once, as Leaf does
        self.req = ctx.storage["req"] if "req" in ctx.storage else 0
        self._start_fetch(ctx)  # Leaf loads the first segment when the service starts
        # END SOLUTION

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            if isinstance(msg.body, NextId) and msg.body.biz_tag == self.biz_tag:
                self.waiting.append((src, msg))
                self._serve(ctx)
            else:
                refuse(ctx, src, msg, "unknown_biz_tag")
            return
        # SOLUTION: the database's answers (rules 1, 5): ignore any not for the fetch in flight
        # (self.fetching, from self.db, msg.req == self.req). RowIs: the optimistic UpdateRow
        # (the row's version; new max_id = max_id + self._choose_step(...)). UpdateResult not
        # ok: read again; ok: end the fetch (and its timer); the segment is exactly [msg.start,
        # msg.max_id), stride (msg.delta, msg.remainder): use it if the current one is used up,
        # else buffer it; set self.step, self.updated_at; log "segment_loaded"; serve.
        if not (self.fetching and src == self.db and getattr(msg, "req", None) == self.req):
            return  # not an answer to the request in flight: stale, duplicated, or another db's
        if isinstance(msg, RowIs):
            if msg.max_id < 0:
                raise ValueError(f"biz_tag={self.biz_tag!r} has no row in the database {src!r}")
            step = self._choose_step(ctx, msg.step)
            ctx.send(src, UpdateRow(self.biz_tag, self.req, msg.version, msg.max_id + step))
        elif isinstance(msg, UpdateResult):
            if not msg.ok:  # another server claimed a segment since our read: read again
                ctx.log("version_conflict", req=self.req, version=msg.version)
                self._read(ctx)
                return
            ctx.cancel_timer(self.FETCH_TIMER)
            self.fetching = False
            if msg.start is None:
                raise ValueError(f"UpdateResult {msg!r} says ok but names no granted start")
            segment = (msg.start, msg.max_id)  # the range the database granted this request
            stride = (msg.delta, msg.remainder)
            self.step = msg.max_id - msg.start
            self.updated_at = ctx.now()
            ctx.log("segment_loaded", start=segment[0], end=segment[1], db=src)
            if self.next_id >= self.end:
                self._use(segment, stride)
            else:
                self.buffered, self.buffered_stride = segment, stride
            self._serve(ctx)
        # END SOLUTION

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == self.FETCH_TIMER and self.fetching:
            ctx.log("segment_fetch_timeout", req=self.req, db=self.db)
            if len(self.dbs) > 1:  # Tinyid: this database is down or slow, ask the next one
                self.db_index = (self.db_index + 1) % len(self.dbs)
                ctx.log("db_failover", to=self.db)
            self._read(ctx)
