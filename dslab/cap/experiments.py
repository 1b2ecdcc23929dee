"""The CAP chapter's experiments under one name: the scenarios of :mod:`dslab.cap.scenarios` and
the analysis of :mod:`dslab.cap.analysis` (the handlers are in :mod:`dslab.cap.cp`,
:mod:`dslab.cap.ap` and :mod:`dslab.cap.registry`; nothing here defines a mechanism). The
chapter's notebook imports this module as ``ex``.
"""

from dslab.cap.analysis import (
    OP_COLUMNS,
    SD_COLUMNS,
    availability,
    discovery_summary,
    latency_summary,
    lost_flags,
    lww_stamps,
    pacelc_table,
    partition_summary,
    stale_flags,
)
from dslab.cap.scenarios import (
    LNKD_SSD,
    NETWORKS,
    REGISTRIES,
    gilbert_lynch,
    lost_vs_skew,
    pacelc_latency,
    partition_sweep,
    partition_workload,
    random_partitions,
    service_discovery,
)

__all__ = [
    "LNKD_SSD",
    "NETWORKS",
    "OP_COLUMNS",
    "REGISTRIES",
    "SD_COLUMNS",
    "availability",
    "discovery_summary",
    "gilbert_lynch",
    "latency_summary",
    "lost_flags",
    "lost_vs_skew",
    "lww_stamps",
    "pacelc_latency",
    "pacelc_table",
    "partition_summary",
    "partition_sweep",
    "partition_workload",
    "random_partitions",
    "service_discovery",
    "stale_flags",
]
