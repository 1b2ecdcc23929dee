"""BASE and eventual consistency: a Dynamo-style store, PBS, and graceful degradation.

- :mod:`.ring` -- consistent hashing with virtual nodes; preference lists.
- :mod:`.vclock` -- version vectors; versions with dots; siblings and reconciliation.
- :mod:`.merkle` -- Merkle trees per key range, and the exchange that finds differing keys.
- :mod:`.dynamo` -- the store node (a :class:`dslab.core.Handler`): N/R/W quorums, sloppy quorum
  with hinted handoff, read repair, Merkle anti-entropy.
- :mod:`.cluster` -- a cluster in the simulator (``build(sim, n, node_cls)``), client helpers,
  divergence measurements.
- :mod:`.pbs` -- Probabilistically Bounded Staleness: the closed form and the WARS Monte Carlo.
- :mod:`.overload` -- a finite-capacity server that sheds or degrades non-core requests.
- :mod:`.scenarios` -- the chapter's runs (Results); :mod:`.analysis` -- pure functions of
  what they recorded; :mod:`.experiments` -- the facade the chapter imports; :mod:`.plots`.

The three repair paths of the notes map to: read repair (读时修复) -> ``read_repair``; write-time
repair (写时修复) -> hinted handoff; asynchronous repair (异步修复) -> anti-entropy.
"""

from dslab.eventual.cluster import Cluster
from dslab.eventual.dynamo import DynamoNode
from dslab.eventual.merkle import MerkleTree, exchange
from dslab.eventual.messages import (
    DynamoConfig,
    Get,
    GetResult,
    Put,
    PutResult,
    SyncWith,
    check_quorum,
)
from dslab.eventual.overload import Job, OverloadServer, Served
from dslab.eventual.pbs import (
    CONFIGS,
    DISTRIBUTIONS,
    MODELS,
    PAPER_P_CONSISTENT,
    PAPER_TABLE,
    WarsModel,
    WarsTrials,
    pbs,
    pbs_closed_form,
    pbs_static,
    pbs_summary,
    sample_latency,
    wars_trials,
)
from dslab.eventual.ring import HashRing, token
from dslab.eventual.vclock import (
    Version,
    VersionVector,
    context_of,
    digest,
    reconcile,
    write,
)

__all__ = [
    "CONFIGS",
    "DISTRIBUTIONS",
    "MODELS",
    "PAPER_P_CONSISTENT",
    "PAPER_TABLE",
    "Cluster",
    "DynamoConfig",
    "DynamoNode",
    "Get",
    "GetResult",
    "HashRing",
    "Job",
    "MerkleTree",
    "OverloadServer",
    "Put",
    "PutResult",
    "Served",
    "SyncWith",
    "Version",
    "VersionVector",
    "WarsModel",
    "WarsTrials",
    "check_quorum",
    "context_of",
    "digest",
    "exchange",
    "pbs",
    "pbs_closed_form",
    "pbs_static",
    "pbs_summary",
    "reconcile",
    "sample_latency",
    "token",
    "wars_trials",
    "write",
]
