"""The assignments, by name. Each module defines ``assignment() -> Assignment``."""

from __future__ import annotations

import importlib

from dslab.grade.framework import Assignment

#: Assignment name -> module (under dslab.grade.assignments) that builds it.
REGISTRY = {
    "raft-election": "raft_election",
    "raft-kv": "raft_kv",
    "rate-limiter": "rate_limiter",
    "quorum-store": "quorum_store",
    "twopc-recovery": "twopc_recovery",
    "lock-client": "lock_client",
    "segment-server": "segment_server",
    "zk-lock": "zk_lock",
}


def get(name: str) -> Assignment:
    """The assignment called ``name``; ValueError listing the known ones otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"assignment={name!r} is unknown; choose from {sorted(REGISTRY)}")
    module = importlib.import_module(f"dslab.grade.assignments.{REGISTRY[name]}")
    return module.assignment()


def names() -> list[str]:
    return sorted(REGISTRY)
