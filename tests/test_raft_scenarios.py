"""The MIT 6.5840 Raft lab scenarios (3A election, 3B agreement, 3C persistence, 3D snapshots),
as :mod:`dslab.raft.scenarios` defines them, run against the reference :class:`RaftNode`.

Each scenario keeps the lab's bounds (10 s for ``one``, 2 elections' worth of waiting, RPC and
byte budgets). A failure raises ``HarnessError`` naming the step, ending with "replay with
seed=N". Every scenario finishes with ``check_safety()`` (Election Safety, Log Matching).

Grading another implementation with the same scenarios (see ``dslab.raft.harness`` for the
interface it must have): ``dslab grade raft-election my_raft.py``, or::

    RAFT_NODE=my_raft:MyRaft pytest tests/test_raft_scenarios.py       # module:Class
    RAFT_SEEDS=1,2,3,4,5 pytest tests/test_raft_scenarios.py           # more seeds
"""

from __future__ import annotations

import importlib
import os

import pytest

from dslab.raft.scenarios import SCENARIOS


def node_class() -> type:
    module, _, name = os.environ.get("RAFT_NODE", "dslab.raft.node:RaftNode").partition(":")
    return getattr(importlib.import_module(module), name)


NODE_CLS = node_class()
SEEDS = [int(s) for s in os.environ.get("RAFT_SEEDS", "1,2,3").split(",")]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario(name, seed):
    SCENARIOS[name](seed, node_cls=NODE_CLS)
