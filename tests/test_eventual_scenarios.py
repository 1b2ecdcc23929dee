"""The BASE scenarios follow the shared scenario layer: seed first, Result, swappable nodes."""

from __future__ import annotations

import math

import pytest

from dslab.eventual import DynamoNode
from dslab.eventual import experiments as ex
from dslab.eventual import scenarios as sc
from dslab.eventual.analysis import hint_rows
from dslab.eventual.cluster import build
from dslab.eventual.messages import DynamoConfig
from dslab.eventual.overload import OverloadServer
from dslab.sim import Sim
from dslab.sim.scenario import Result


class StudentNode(DynamoNode):
    """A student's Dynamo node: the real one under another name."""


def test_build_adds_n_dynamo_nodes_of_the_given_class():
    sim = Sim(1)
    assert build(sim, 4, StudentNode, config=DynamoConfig(N=3, R=1, W=1)) == [
        "n1", "n2", "n3", "n4"]
    sim.run(until=1.0)
    assert all(isinstance(sim.handler(n), StudentNode) for n in ("n1", "n4"))


def test_build_refuses_fewer_nodes_than_replicas():
    with pytest.raises(ValueError, match="N=3"):
        build(Sim(1), 2, config=DynamoConfig(N=3, R=1, W=1))


def test_the_seed_is_the_first_parameter_of_every_scenario():
    a = sc.merkle_cost(3, keys=50, differing=(5,))
    b = sc.merkle_cost(seed=3, keys=50, differing=(5,))
    assert a.seed == 3 and a.frame.equals(b.frame)


def test_hints_come_from_the_history_and_the_facade_keeps_its_triple():
    kw = dict(keys=20, end_ms=2000.0, writes_until_ms=1500.0)
    result = sc.hinted_handoff(0, node_cls=StudentNode, **kw)
    assert isinstance(result, Result) and len(result.frame) > 0
    assert len(hint_rows(result.history)) == len(result.frame)
    hints, summary, history = ex.hinted_handoff(0, **kw)
    assert hints.equals(result.frame) and summary.equals(result.metadata["summary"])
    assert history.to_records() == result.history.to_records(), "replay with seed=0"
    assert hints.attrs["restart_ms"] == result.metadata["restart_ms"]  # compatibility copy


def test_overload_swaps_the_server_class_and_keeps_metadata_and_attrs_alike():
    result = sc.overload(0, loads=(1.5,), policies=("shed",), duration_ms=500.0,
                         node_cls=OverloadServer)
    assert result.metadata["shed_at"] == result.frame.attrs["shed_at"] == 5
    with pytest.raises(TypeError, match="node_cls"):
        sc.overload(0, node_cls=DynamoNode)


def test_convergence_metadata_feeds_the_sweep():
    sweep = sc.convergence_sweep(seeds=[1], intervals=(100.0,), read_repair=(True,),
                                 keys=20, partition_ms=300.0, max_wait_ms=2000.0)
    run = sc.convergence_run(1, anti_entropy_ms=100.0, read_repair=True, keys=20,
                             partition_ms=300.0, max_wait_ms=2000.0)
    got = sweep.frame["converged_ms"].iloc[0]
    want = run.metadata["converged_ms"]
    assert got == want or (math.isnan(got) and math.isnan(want))


def test_plots_take_a_result_or_its_frame_and_draw_the_same_figure():
    import matplotlib

    matplotlib.use("Agg")
    from dslab.eventual import plots

    result = sc.merkle_cost(0, keys=100, differing=(0, 10))
    a, b = plots.plot_merkle(result), plots.plot_merkle(result.frame)
    assert a.axes[0].get_title() == b.axes[0].get_title()
    assert "100 keys" in a.axes[0].get_title() and "seed=0" in a.axes[0].get_title()
    kw = dict(keys=20, partition_ms=300.0, max_wait_ms=1500.0)
    run = sc.convergence_run(1, **kw)
    fig = plots.plot_divergence({"result": run, "frame": ex.convergence_run(1, **kw).frame})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[1].split(": ", 1)[1] == labels[2].split(": ", 1)[1]
