"""ZooKeeper on the simulated network: ZAB, the data tree, sessions, watches and recipes.

- :mod:`dslab.zk.server` -- :class:`ZkServer`, a ZAB server (election, discovery,
  synchronisation, broadcast) serving the data tree; :func:`vote_is_better`.
- :mod:`dslab.zk.tree` -- the data tree: znodes, stats, ephemeral and sequential nodes.
- :mod:`dslab.zk.client` -- :class:`ZkClient` (sessions, operations, watches).
- :mod:`dslab.zk.lock` -- the recipes :class:`Lock` and :class:`LeaderElection` (also the
  reference of the ``zk-lock`` assignment).
- :mod:`dslab.zk.capacity` and :mod:`dslab.zk.scaling` -- servers that handle one message at a
  time, and read/write throughput as voters or observers are added.
- :mod:`dslab.zk.cluster` -- :func:`build_ensemble`, :func:`leader_of`, :func:`trees`.
- :mod:`dslab.zk.experiments` and :mod:`dslab.zk.plots` -- the chapter's experiments.
- :mod:`dslab.zk.quorums` -- the start-up election, split brain, and why 2N+1 servers.
- :mod:`dslab.zk.recipes` -- configuration pub-sub and group membership with watches.
- :mod:`dslab.zk.nemesis` -- ZAB under a mixed nemesis, and the rules every run must keep.
"""

from dslab.zk.client import LeaderElection, Lock, ZkClient, add_zk_client
from dslab.zk.cluster import build_ensemble, leader_of, run_until_leader, trees
from dslab.zk.messages import fmt_zxid, make_zxid, zxid_counter, zxid_epoch
from dslab.zk.server import ZkConfig, ZkServer, vote_is_better
from dslab.zk.tree import DataTree, Stat, ZkError

__all__ = [
    "DataTree",
    "LeaderElection",
    "Lock",
    "Stat",
    "ZkClient",
    "ZkConfig",
    "ZkError",
    "ZkServer",
    "add_zk_client",
    "build_ensemble",
    "fmt_zxid",
    "leader_of",
    "make_zxid",
    "run_until_leader",
    "trees",
    "vote_is_better",
    "zxid_counter",
    "zxid_epoch",
]
