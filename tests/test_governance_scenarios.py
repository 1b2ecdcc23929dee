"""The governance scenarios follow the shared scenario layer: Result, swappable roles, replay."""

from __future__ import annotations

import matplotlib
import pytest

from dslab.governance import Provider, SgAgent
from dslab.governance import evolution as ev
from dslab.governance import evolution_plots as ep
from dslab.governance import evolution_scenarios as es
from dslab.governance import experiments as ex
from dslab.governance import scenarios as sc
from dslab.governance.analysis import detection_summary
from dslab.sim import Sim
from dslab.sim.scenario import Result

matplotlib.use("Agg")


class StudentProvider(Provider):
    """A student's provider: the real one under another name."""


class StudentAgent(SgAgent):
    """A student's agent: the real one under another name."""


def test_build_adds_hosts_of_providers_of_the_given_class():
    sim = Sim(1)
    assert sc.build(sim, 2, StudentProvider) == ["p1", "p2", "p3", "p4"]
    sim.run(until=1.0)
    assert all(isinstance(sim.handler(p), StudentProvider) for p in ("p1", "p4"))
    assert {"mns", "scanner", "agent1", "agent2"} <= set(sim.node_names)


def test_build_refuses_a_role_class_of_the_wrong_kind():
    with pytest.raises(TypeError, match="node_cls"):
        sc.build(Sim(1), 3, SgAgent)
    with pytest.raises(TypeError, match="agent_cls"):
        sc.build(Sim(1), 3, agent_cls=Provider)


def test_detection_summary_is_a_function_of_the_history_and_the_facade_keeps_its_pair():
    result = sc.detection(3, duration_ms=3500.0, node_cls=StudentProvider)
    assert isinstance(result, Result) and result.seed == 3
    again = detection_summary(result.history, result.frame, victim="p1", crash_at_ms=2000.0,
                              mode="scanner", agents=3, seed=3)
    assert again == result.metadata["summary"]
    df, summary = ex.detection(3, duration_ms=3500.0)
    assert df.equals(result.frame) and summary == result.metadata["summary"]


def test_controller_tier_swaps_the_agent_class_and_replays():
    a = es.controller_run(2, 10, node_cls=StudentAgent, duration_ms=3000.0)
    assert isinstance(a.metadata["sim"].handler("agent1"), StudentAgent)
    b = es.controller_run(2, 10, duration_ms=3000.0)
    assert a.history.to_records() == b.history.to_records(), "replay with seed=2"
    assert ev.controller_run(2, 10, duration_ms=3000.0).history.to_records() == \
        b.history.to_records()


def test_weights_window_is_metadata_and_plots_read_it_from_either_place():
    result = es.weight_lowering(1, duration_ms=3000.0, sick_at_ms=1000.0, heal_at_ms=2000.0)
    assert (result.metadata["sick_at_ms"], result.metadata["heal_at_ms"]) == (1000.0, 2000.0)
    calls, weights = ev.weight_lowering(1, duration_ms=3000.0, sick_at_ms=1000.0,
                                        heal_at_ms=2000.0)
    assert weights.attrs["sick_at_ms"] == 1000.0  # the compatibility copy
    assert ev.weight_summary(calls, weights).equals(ev.weight_summary(
        result.frame, result.metadata["weights"], sick_at_ms=1000.0, heal_at_ms=2000.0))
    ep.plot_weights(result.frame, result.metadata["weights"], sick_at_ms=1000.0,
                    heal_at_ms=2000.0)
