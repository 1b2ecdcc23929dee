"""Leaf's dynamic step (动态步长): a segment sized to the traffic, not fixed in the table.

A fixed step is wrong twice a day: at peak, segments run out within seconds and the ID servers
queue at the database; at night a large segment sits in memory for hours, and a crash throws it
away. Meituan's Leaf-segment lets each ID server choose the size of its next segment from how long
the previous one lasted (``SegmentIDGenImpl.updateSegmentFromDb``):

1. The first segment, and the first after a restart, has the step of the database row. That step
   is also the floor (``min_step``).
2. At every later fetch, ``duration`` is the time since the server's previous successful update
   of the row, roughly how long a segment lasted:

   - ``duration < segment_duration`` (Leaf: 15 minutes): the segments are too small for the
     traffic: **double** the step, unless that would exceed ``max_step`` (Leaf: 1,000,000);
   - ``segment_duration <= duration < 2 * segment_duration``: keep the step;
   - ``duration >= 2 * segment_duration``: **halve** it, unless that would go below
     ``min_step``.

3. The server claims ``[max_id, max_id + step)`` with its chosen step (``UPDATE ... SET max_id =
   max_id + step``); the database accepts any step, since the optimistic version check alone
   keeps segments disjoint.

So a segment settles to last between one and two ``segment_duration`` of the current traffic, and
follows the traffic up quickly (one doubling per fetch) and down slowly (one halving per segment,
which itself lasts long when traffic is low). :func:`next_step` is rule 2; the server is
:class:`~dslab.ids.segment.SegmentIdServer` with ``dynamic_step=True``.
"""

from __future__ import annotations

from dslab._validate import check_number

#: Leaf's ``SEGMENT_DURATION``: 15 minutes, in ms.
SEGMENT_DURATION_MS = 15 * 60 * 1000.0
#: Leaf's ``MAX_STEP``.
MAX_STEP = 1_000_000


def next_step(
    step: int,
    *,
    duration_ms: float,
    min_step: int,
    max_step: int = MAX_STEP,
    segment_duration_ms: float = SEGMENT_DURATION_MS,
) -> int:
    """The step of the next segment, given the current ``step`` and the ``duration_ms`` since the
    previous update (rule 2)."""
    check_number("step", step, min=1, integer=True)
    check_number("duration_ms", duration_ms, min=0)
    check_number("min_step", min_step, min=1, integer=True)
    check_number("max_step", max_step, min=1, integer=True)
    check_number("segment_duration_ms", segment_duration_ms, min=0, min_inclusive=False)
    if duration_ms < segment_duration_ms:
        return step if 2 * step > max_step else 2 * step
    if duration_ms < 2 * segment_duration_ms:
        return step
    return step // 2 if step // 2 >= min_step else step


__all__ = ["MAX_STEP", "SEGMENT_DURATION_MS", "next_step"]
