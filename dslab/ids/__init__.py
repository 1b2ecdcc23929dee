"""Distributed IDs: six ways to hand out unique identifiers, and what breaks each of them.

- :mod:`dslab.ids.autoinc` -- a database's auto-increment key, with MySQL's offset / step for
  several masters.
- :mod:`dslab.ids.segment` -- segment mode (号段模式): ID servers claim ranges from a table with an
  optimistic version check, and prefetch the next range (Leaf's double buffering);
  :mod:`dslab.ids.tinyid` -- several segment databases that never collide, and fail-over between
  them (Tinyid); :mod:`dslab.ids.dynamic_step` -- a segment size that follows the traffic (Leaf).
- :mod:`dslab.ids.redis` -- Redis ``INCR``, with three persistence modes.
- :mod:`dslab.ids.uuids` -- UUID versions 4, 1 and 7, made deterministically; the birthday bound.
- :mod:`dslab.ids.snowflake` -- Snowflake's 64-bit layout and generator, and its defences against
  clock rollback; :mod:`dslab.ids.leaf` -- Leaf-snowflake's start-up check and coordinator.
- :mod:`dslab.ids.cluster` -- each scheme on a ``Sim``, and the clients that ask for IDs.
- :mod:`dslab.ids.experiments` -- the chapter's experiments; :mod:`dslab.ids.plots` -- its figures;
  :mod:`dslab.ids.widgets` -- its interactive views.

Map to the course notes (section 三、分布式ID): 数据库主键自增 -> ``autoinc``; 数据库号段模式 ->
``segment``; NoSQL (Redis ``incr``) -> ``redis``; UUID -> ``uuids``; Snowflake(雪花算法) ->
``snowflake``; 时钟回拨问题解决 (``leaf_forever`` / ``leaf_temporary``) -> ``leaf``; the open-source
frameworks: UidGenerator (Baidu) -> :data:`~dslab.ids.snowflake.UIDGENERATOR_LAYOUT`, Leaf
(Meituan) -> double buffering in ``segment``, ``dynamic_step`` and the clock check in ``leaf``,
Tinyid (Didi) -> segment mode with double buffering and several databases (增加多 db 支持,
``tinyid``).
"""

from dslab.ids.autoinc import AutoIncrementDB, auto_increment_db
from dslab.ids.cluster import (
    DEFENCES,
    SCHEMES,
    IdCluster,
    build,
    build_segment,
    start_clients,
)
from dslab.ids.dynamic_step import next_step
from dslab.ids.leaf import LeafCoordinator
from dslab.ids.messages import (
    CheckIn,
    CheckInReply,
    NextId,
    ReadRow,
    ReportTime,
    RowIs,
    TimeQuery,
    TimeReply,
    UpdateResult,
    UpdateRow,
)
from dslab.ids.redis import PERSISTENCE, RedisCounter
from dslab.ids.segment import SegmentDB, SegmentIdServer
from dslab.ids.server import QueuedServer
from dslab.ids.snowflake import (
    DEFAULT_LAYOUT,
    SIM_START_UNIX_MS,
    TWITTER_LAYOUT,
    UIDGENERATOR_LAYOUT,
    Outcome,
    SnowflakeGenerator,
    SnowflakeLayout,
    SnowflakeNode,
)
from dslab.ids.tinyid import source_db, tinyid_rows
from dslab.ids.uuids import (
    UuidGenerator,
    UuidNode,
    collision_probability,
    n_for_probability,
    uuid1_fields,
    uuid4_from,
    uuid7_fields,
)

__all__ = [
    "DEFAULT_LAYOUT",
    "DEFENCES",
    "PERSISTENCE",
    "SCHEMES",
    "SIM_START_UNIX_MS",
    "TWITTER_LAYOUT",
    "UIDGENERATOR_LAYOUT",
    "AutoIncrementDB",
    "CheckIn",
    "CheckInReply",
    "IdCluster",
    "LeafCoordinator",
    "NextId",
    "Outcome",
    "QueuedServer",
    "ReadRow",
    "RedisCounter",
    "ReportTime",
    "RowIs",
    "SegmentDB",
    "SegmentIdServer",
    "SnowflakeGenerator",
    "SnowflakeLayout",
    "SnowflakeNode",
    "TimeQuery",
    "TimeReply",
    "UpdateResult",
    "UpdateRow",
    "UuidGenerator",
    "UuidNode",
    "auto_increment_db",
    "build",
    "build_segment",
    "collision_probability",
    "n_for_probability",
    "next_step",
    "source_db",
    "start_clients",
    "tinyid_rows",
    "uuid1_fields",
    "uuid4_from",
    "uuid7_fields",
]
