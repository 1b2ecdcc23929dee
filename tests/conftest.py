"""Shared fixtures for the simulator tests (handlers and scenarios live in ``scenarios.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# ``scenarios.py`` is imported by name, whatever pytest's import mode or the worker's cwd.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scenarios import Scripted  # noqa: E402

from dslab.sim import Constant, Sim  # noqa: E402

NODES5 = ("n1", "n2", "n3", "n4", "n5")


@pytest.fixture
def sim5() -> Sim:
    """Five booted ``Scripted`` nodes and a client ``c1``; every link takes exactly 1 ms."""
    sim = Sim(seed=1, latency=Constant(1.0))
    for name in NODES5:
        sim.add_node(name, Scripted)
    sim.add_client("c1")
    sim.run(until=0.5)
    return sim
