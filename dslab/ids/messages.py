"""Messages of the distributed-ID chapter: the client request and the servers' peer messages.

Every message is a frozen dataclass, so two nodes never share mutable state. A client asks any ID
server for an ID with :class:`NextId` inside a :class:`dslab.core.Request`; the server answers with
a :class:`dslab.core.Response` whose ``body`` is the ID (an ``int``, or a ``str`` for UUIDs), or
with ``ok=False`` and an ``error`` when it definitely did not hand one out (a Snowflake generator
that refuses to run on a clock that went backwards answers ``error="clock_moved_backwards"``).

Peer messages, by scheme:

- segment mode (号段模式): an ID server reads a row of the database with :class:`ReadRow`
  (answer :class:`RowIs`), then claims the next segment with :class:`UpdateRow`, an optimistic
  update that only applies if the row's version is still the one it read (answer
  :class:`UpdateResult`). This is the notes' ``UPDATE ... SET current_max_id = ..., version =
  version + 1 WHERE version = v AND biz_type = ...``.
- Leaf-snowflake's clock check: a generator asks the coordinator (ZooKeeper in Leaf) what it knows
  with :class:`CheckIn` (answer :class:`CheckInReply`: its own last reported time under
  ``leaf_forever`` and the running generators under ``leaf_temporary``), asks each running peer for
  its clock with :class:`TimeQuery` (answer :class:`TimeReply`), and reports its own time
  periodically with :class:`ReportTime`.
"""

from __future__ import annotations

from dataclasses import dataclass


# -- the client's request ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NextId:
    """Ask for one new ID for business ``biz_tag`` (servers that keep one sequence ignore it)."""

    biz_tag: str = "order"


# -- segment mode: ID server <-> database ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReadRow:
    """``SELECT max_id, step, version FROM segments WHERE biz_tag = ?`` (``req`` matches the
    answer to the fetch that asked)."""

    biz_tag: str
    req: int


@dataclass(frozen=True, slots=True)
class RowIs:
    """The database's answer to :class:`ReadRow` (``max_id`` is -1 for an unknown ``biz_tag``).
    ``delta`` and ``remainder``: Tinyid's columns (:mod:`dslab.ids.tinyid`); 1 and 0 for a
    database that hands out every number."""

    biz_tag: str
    req: int
    max_id: int
    step: int
    version: int
    delta: int = 1
    remainder: int = 0


@dataclass(frozen=True, slots=True)
class UpdateRow:
    """``UPDATE ... SET max_id = new_max_id, version = version + 1 WHERE biz_tag = ? AND
    version = expected_version``: claim ``[old max_id, new_max_id)`` if nobody else did first."""

    biz_tag: str
    req: int
    expected_version: int
    new_max_id: int


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """``ok``: the update applied (one row changed) and the segment ``[start, max_id)`` is the
    caller's (``start`` is the ``max_id`` the update replaced, as Leaf computes ``max_id - step``
    from the updated row); otherwise the version had moved on (another server claimed a segment in
    between), nothing changed, and ``start`` is ``None``. ``delta`` and ``remainder`` say which
    numbers of the segment are this database's IDs (:mod:`dslab.ids.tinyid`)."""

    biz_tag: str
    req: int
    ok: bool
    max_id: int
    version: int
    start: int | None = None
    delta: int = 1
    remainder: int = 0


# -- Leaf-snowflake: generator <-> coordinator, generator <-> generator --------------------------
@dataclass(frozen=True, slots=True)
class CheckIn:
    """A generator starting up asks the coordinator what it knows (``req`` matches the answer)."""

    node: str
    req: int


@dataclass(frozen=True, slots=True)
class CheckInReply:
    """``forever_ms``: the last time this node reported under ``leaf_forever/<node>`` (``None``
    for a node never seen); ``peers``: the other generators registered under ``leaf_temporary``
    whose session is alive."""

    req: int
    forever_ms: float | None
    peers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TimeQuery:
    """What does your clock read? (one generator to another, during the start-up check)"""

    req: int


@dataclass(frozen=True, slots=True)
class TimeReply:
    """A generator's local clock, in ms, when it answered."""

    req: int
    time_ms: float


@dataclass(frozen=True, slots=True)
class ReportTime:
    """Write ``time_ms`` under ``leaf_forever/<node>``; ``register`` also (re)creates the
    ephemeral ``leaf_temporary/<node>`` entry, whose session each report renews."""

    node: str
    time_ms: float
    register: bool = False
