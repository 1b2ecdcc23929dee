"""The gateway scenarios follow the shared scenario layer: Result, swappable gateway, replay."""

from __future__ import annotations

import pytest

from dslab import breaker
from dslab.gateway import CircuitBreaker, Gateway, GatewayBreaker
from dslab.gateway import experiments as ex
from dslab.gateway import scenarios as sc
from dslab.gateway import scg_experiments as sx
from dslab.gateway import scg_scenarios as ss
from dslab.sim import Sim
from dslab.sim.scenario import Result


class StudentGateway(Gateway):
    """A student's gateway: the real one under another name."""


def test_build_adds_the_gateway_of_the_given_class_and_the_backends():
    config = ss.filter_config()
    sim = Sim(1)
    assert sc.build(sim, 1, StudentGateway, config=config) == ["gw"]
    sim.run(until=1.0)
    assert isinstance(sim.handler("gw"), StudentGateway)


def test_build_refuses_a_class_that_is_not_a_gateway():
    with pytest.raises(TypeError, match="node_cls"):
        sc.build(Sim(1), 1, dict, config=ss.filter_config())


def test_a_scenario_runs_a_swapped_gateway_and_the_facade_returns_its_frame():
    kw = dict(duration_ms=1500.0, rate_per_s=100.0)
    result = sc.failing_backend(1, node_cls=StudentGateway, **kw)
    assert isinstance(result, Result) and result.seed == 1
    assert result.frame.equals(ex.failing_backend(1, **kw))


def test_cache_backend_calls_are_metadata_with_a_compatibility_copy_in_attrs():
    kw = dict(ttl_ms=200.0, duration_ms=800.0)
    result = sc.cache_run(2, **kw)
    assert result.metadata["backend_calls"] > 0
    assert ex.cache_run(2, **kw).attrs["backend_calls"] == result.metadata["backend_calls"]


def test_the_registry_summary_is_computed_from_the_history_alone():
    result = ss.registry_routes(1, duration_ms=3000.0)
    again = sx.route_summary(result.history, "push", 1200.0, 2300.0, 300.0)
    assert again == result.metadata["summary"]
    assert result.history.to_records() == ss.registry_routes(1, duration_ms=3000.0).history\
        .to_records(), "replay with seed=1"


def test_the_two_breakers_have_different_names_and_one_state_machine():
    assert GatewayBreaker.__name__ != breaker.CircuitBreaker.__name__
    assert issubclass(GatewayBreaker, breaker.CircuitBreaker)
    assert CircuitBreaker is GatewayBreaker  # the name the gateway chapter imports


@pytest.mark.parametrize("mode", ["push", "poll"])
def test_the_gateway_never_calls_an_instance_after_its_routes_dropped_it(mode):
    result = ss.registry_routes(4, mode=mode)
    verdict = sx.routes_follow_registry(result.history, 2300.0)
    assert verdict, str(verdict)


def test_the_registry_checker_catches_a_gateway_that_kept_calling_a_dropped_instance():
    from dslab.history import History, NodeEvent

    result = ss.registry_routes(4, mode="poll")  # polling: o2 is still called after it leaves
    assert result.metadata["summary"]["calls_after_leave"] > 0
    forged = History.from_records(result.history.to_records(), seed=4)
    # the gateway claims to have dropped o2 the moment it left, yet it went on calling it
    forged.events.insert(0, NodeEvent(2300.0, "gw", "routes_updated",
                                      {"instances": ["o1", "o3", "o4"]}))
    verdict = sx.routes_follow_registry(forged, 2300.0)
    assert verdict.unsafe and "replay with seed=4" in str(verdict)


def test_routes_follow_the_registry_over_a_seed_sweep_with_lost_pushes():
    from dslab.sim.scenario import sweep

    def one(seed):
        verdict = sx.routes_follow_registry(ss.registry_routes(seed, loss=0.05).history, 2300.0)
        return {"status": verdict.status, "why": str(verdict)}

    table = sweep(one, range(6))
    bad = table[table["status"] == "unsafe"]
    assert bad.empty, "\n".join(bad["why"])  # each line ends "replay with seed=N"
