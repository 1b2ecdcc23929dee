"""Raft: consensus on a replicated log (Ongaro & Ousterhout, 2014), and a KV service on top.

Modules, one concept each:

- :mod:`dslab.raft.messages` -- RequestVote, AppendEntries, InstallSnapshot and their replies.
- :mod:`dslab.raft.config` -- :class:`RaftConfig`, the timing parameters.
- :mod:`dslab.raft.log` -- :class:`RaftLog`, the log with its snapshot offset.
- :mod:`dslab.raft.persist` -- what is kept on disk, and how.
- :mod:`dslab.raft.node` -- :class:`RaftNode`, the server (Figure 2, as a dslab handler).
- :mod:`dslab.raft.kv` -- :class:`KVServer` (a linearizable map on Raft) and its :class:`Clerk`.
- :mod:`dslab.raft.safety` -- Election Safety and Log Matching, checked after a run.
- :mod:`dslab.raft.harness` -- the 6.5840-style test harness, in simulated time.
- :mod:`dslab.raft.workload` -- a KV run under a nemesis (:func:`~dslab.raft.workload.run_kv`).

This package imports only the protocol core; the harness and the workload, which drive a
simulator, are imported from their modules.
"""

from dslab.raft.config import RaftConfig
from dslab.raft.kv import Append, Cas, Clerk, Get, KVServer, Put
from dslab.raft.log import RaftLog
from dslab.raft.messages import (
    AppendEntries,
    AppendEntriesReply,
    Entry,
    InstallSnapshot,
    InstallSnapshotReply,
    RequestVote,
    RequestVoteReply,
)
from dslab.raft.node import CANDIDATE, FOLLOWER, LEADER, RaftNode

__all__ = [
    "CANDIDATE",
    "FOLLOWER",
    "LEADER",
    "Append",
    "AppendEntries",
    "AppendEntriesReply",
    "Cas",
    "Clerk",
    "Entry",
    "Get",
    "InstallSnapshot",
    "InstallSnapshotReply",
    "KVServer",
    "Put",
    "RaftConfig",
    "RaftLog",
    "RaftNode",
    "RequestVote",
    "RequestVoteReply",
]
