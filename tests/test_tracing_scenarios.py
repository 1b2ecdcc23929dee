"""The tracing scenarios follow the shared scenario layer: Result, swappable server role, replay."""

from __future__ import annotations

import pytest

from dslab.rpc import RpcServer
from dslab.sim import Sim
from dslab.sim.scenario import Result
from dslab.tracing import experiments as ex
from dslab.tracing import scenarios as sc


class StudentServer(RpcServer):
    """A student's server class: the real one under another name."""


def test_build_adds_the_collector_and_the_four_traced_servers_of_the_given_class():
    sim = Sim(1)
    assert sc.build(sim, 4, StudentServer) == ["A", "B", "C", "D"]
    sim.run(until=1.0)
    assert all(isinstance(sim.handler(n), StudentServer) for n in "ABCD")
    assert "collector" in sim.nodes


def test_build_refuses_another_cluster_size_and_a_foreign_class():
    with pytest.raises(ValueError, match="n=3"):
        sc.build(Sim(1), 3)
    with pytest.raises(TypeError, match="node_cls"):
        sc.build(Sim(1), 4, dict)


def test_run_returns_a_result_whose_spans_the_facade_returns_unchanged():
    result = sc.run(2, requests=5, node_cls=StudentServer)
    assert isinstance(result, Result) and result.seed == 2
    spans, reqs, sim = ex.run(2, requests=5)
    assert spans.equals(result.frame) and reqs.equals(result.metadata["requests"])
    assert sim.history.to_records() == result.history.to_records(), "replay with seed=2"


def test_overhead_keeps_the_baseline_in_metadata_and_a_compatibility_copy_in_attrs():
    kw = dict(denominators=(1,), requests=40, saturate_ms=50.0, callers=4)
    result = sc.overhead(1, **kw)
    assert set(result.metadata["baseline"]) >= {"mean_latency_ms", "throughput_per_s"}
    assert ex.overhead(1, **kw).attrs["baseline"] == result.metadata["baseline"]
