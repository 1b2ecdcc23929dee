"""Tinyid's several ID databases (the notes' 增加多 db 支持): segments that can never collide.

Didi's Tinyid is segment mode (:mod:`dslab.ids.segment`) with two additions, double buffering and
several databases. A single segment database is a single point of failure: once the ID servers
have used up the segments they hold, nobody gets an ID until it is back. Tinyid runs ``N``
databases that never talk to each other, and keeps them from handing out the same ID with two
extra columns in each row, ``delta`` and ``remainder``.

Rules:

1. **Residue classes.** Database ``i`` (of ``N``) has ``delta = N`` and its own
   ``remainder = i``, ``0 <= remainder < delta``. A segment ``[start, end)`` that database grants
   yields only the numbers ``n`` in it with ``n % delta == remainder`` (:func:`align` finds the
   first, then the server counts up by ``delta``). Each database still moves its own ``max_id``
   forward optimistically, exactly as in plain segment mode.
2. **No collision, whatever the max_ids.** Two databases with the same ``delta`` and different
   ``remainder`` hand out disjoint sets of IDs, even when their ``max_id`` columns overlap or one
   runs far ahead of the other: an ID's residue names the only database that could have issued it
   (:func:`source_db`).
3. **Fail-over.** The ID server (Tinyid's ``tinyid-server``, the proxy between clients and the
   databases) asks one database for its next segment. When a fetch goes unanswered for
   ``fetch_timeout_ms``, it abandons that request and asks the next database in its list
   (:class:`~dslab.ids.segment.SegmentIdServer` with several ``db`` names). A grant that the
   abandoned database made anyway is never used: a gap, not a duplicate.
4. **The price.** The IDs of different databases interleave, so the IDs a server hands out are no
   longer increasing across a fail-over (database 2's ``max_id`` may lag behind database 1's), and
   adding a database later means changing ``delta`` in every row at once, as for MySQL's
   ``auto_increment_increment``.

Map to Tinyid: its ``tiny_id_info`` table has the columns ``biz_type, begin_id, max_id, step,
delta, remainder, version``; its ``SegmentId`` starts at the first ID with the right remainder and
adds ``delta`` on every ``nextId``.
"""

from __future__ import annotations

from typing import Any

from dslab._validate import check_number


def check_stride(delta: Any, remainder: Any) -> tuple[int, int]:
    """``(delta, remainder)`` validated: ``delta >= 1`` and ``0 <= remainder < delta``."""
    check_number("delta", delta, min=1, integer=True)
    check_number("remainder", remainder, min=0, integer=True)
    if remainder >= delta:
        raise ValueError(
            f"remainder={remainder!r} is not allowed with delta={delta!r}; "
            f"expected 0 <= remainder < delta"
        )
    return int(delta), int(remainder)


def align(n: int, delta: int, remainder: int) -> int:
    """The smallest number ``>= n`` whose residue modulo ``delta`` is ``remainder`` (rule 1)."""
    return n + (remainder - n) % delta


def ids_in(start: int, end: int, delta: int, remainder: int) -> int:
    """How many IDs the segment ``[start, end)`` yields under ``(delta, remainder)``."""
    first = align(start, delta, remainder)
    return 0 if first >= end else (end - 1 - first) // delta + 1


def source_db(id_: int, n_dbs: int) -> int:
    """The index (0-based) of the only database of ``n_dbs`` that can have issued ``id_``."""
    return id_ % n_dbs


def tinyid_rows(
    n_dbs: int, step: int, *, biz_tag: str = "order", first: int = 1
) -> list[dict[str, tuple[int, int, int, int]]]:
    """The ``rows`` of each of ``n_dbs`` databases (for :class:`~dslab.ids.segment.SegmentDB`):
    the same first ``max_id`` and ``step``, ``delta = n_dbs`` and remainders ``0..n_dbs-1``."""
    check_number("n_dbs", n_dbs, min=1, integer=True)
    check_number("step", step, min=1, integer=True)
    check_number("first", first, min=0, integer=True)
    return [{biz_tag: (first, step, n_dbs, i)} for i in range(n_dbs)]


__all__ = ["align", "check_stride", "ids_in", "source_db", "tinyid_rows"]
