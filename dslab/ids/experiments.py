"""The distributed-ID chapter's experiments under one name: the scenarios of
:mod:`dslab.ids.scenarios` and the analysis of :mod:`dslab.ids.analysis` (the handlers are in the
role modules, :mod:`dslab.ids.autoinc`, :mod:`dslab.ids.segment`, :mod:`dslab.ids.redis`,
:mod:`dslab.ids.snowflake`, :mod:`dslab.ids.uuids`...; nothing here defines a mechanism). The
chapter's notebook, its widgets and the segment-server grader import this module as ``ex``; the
definitions used in the tables are in :mod:`dslab.ids.analysis`.
"""

from dslab.ids.analysis import (
    OP_COLUMNS,
    SCHEME_NOTES,
    collision_table,
    comparison_table,
    decode_table,
    layout_table,
    realtime_order,
    segment_fetches,
    step_summary,
    summarize,
    v1_wrap_ms,
)
from dslab.ids.scenarios import (
    FAULTS,
    LAN,
    STEP_PHASES,
    compare_schemes,
    db_failover,
    leaf_startup,
    ordering_table,
    redis_persistence,
    rollback_sweep,
    run_ids,
    segment_chaos,
    segment_waste,
    snowflake_capacity,
    step_adaptation,
    uuid_table,
)

__all__ = [
    "FAULTS",
    "LAN",
    "OP_COLUMNS",
    "SCHEME_NOTES",
    "STEP_PHASES",
    "collision_table",
    "compare_schemes",
    "comparison_table",
    "db_failover",
    "decode_table",
    "layout_table",
    "leaf_startup",
    "ordering_table",
    "realtime_order",
    "redis_persistence",
    "rollback_sweep",
    "run_ids",
    "segment_chaos",
    "segment_fetches",
    "segment_waste",
    "snowflake_capacity",
    "step_adaptation",
    "step_summary",
    "summarize",
    "uuid_table",
    "v1_wrap_ms",
]
