"""CAP in practice: one replicated register under two policies, and two service registries.

- :mod:`dslab.cap.cp` -- the CP policy: every operation goes through a majority (CASPaxos); a
  replica that cannot reach one answers a definite ``unavailable``.
- :mod:`dslab.cap.ap` -- the AP policy: every replica answers locally and replicates in the
  background; conflicts resolved by last-writer-wins on local clocks, or kept as siblings.
- :mod:`dslab.cap.registry` -- service discovery: a ZooKeeper-like CP registry and a Eureka-like
  AP registry with self-preservation.
- :mod:`dslab.cap.cluster` -- building a cluster on a ``Sim`` and client processes.
- :mod:`dslab.cap.experiments` -- the chapter's experiments; :mod:`dslab.cap.plots` -- its figures.
"""

from dslab.cap.ap import APReplica, Sibling, Version, ap_replica
from dslab.cap.cluster import POLICIES, Cluster, build_cluster, random_clients, register_op
from dslab.cap.cp import CasPaxosReplica, RegisterMachine, cp_replica
from dslab.cap.experiments import (
    availability,
    discovery_summary,
    gilbert_lynch,
    latency_summary,
    lost_vs_skew,
    pacelc_latency,
    pacelc_table,
    partition_summary,
    partition_sweep,
    partition_workload,
    random_partitions,
    service_discovery,
)
from dslab.cap.messages import Cas, Deregister, Discover, Heartbeat, Read, Register, Write
from dslab.cap.registry import EurekaNode, ZkRegistryNode, eureka_registry, zk_registry

__all__ = [
    "POLICIES",
    "APReplica",
    "Cas",
    "CasPaxosReplica",
    "Cluster",
    "Deregister",
    "Discover",
    "EurekaNode",
    "Heartbeat",
    "Read",
    "Register",
    "RegisterMachine",
    "Sibling",
    "Version",
    "Write",
    "ZkRegistryNode",
    "ap_replica",
    "availability",
    "build_cluster",
    "cp_replica",
    "discovery_summary",
    "eureka_registry",
    "gilbert_lynch",
    "latency_summary",
    "lost_vs_skew",
    "pacelc_latency",
    "pacelc_table",
    "partition_summary",
    "partition_sweep",
    "partition_workload",
    "random_clients",
    "random_partitions",
    "register_op",
    "service_discovery",
    "zk_registry",
]
