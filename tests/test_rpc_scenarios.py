"""The RPC scenarios follow the shared scenario layer: Result, swappable server role, replay."""

from __future__ import annotations

import pytest

from dslab.rpc import RpcServer
from dslab.rpc import experiments as ex
from dslab.rpc import scenarios as sc
from dslab.sim import Sim
from dslab.sim.scenario import Result


class CountingServer(RpcServer):
    """A student's server: the real one, counting the requests it was handed."""

    booted = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        type(self).booted += 1


def test_build_adds_named_servers_of_the_given_class():
    sim = Sim(1)
    names = sc.build(sim, 2, CountingServer, workers=2)
    assert names == ["s1", "s2"]
    sim.run(until=1.0)
    assert all(isinstance(sim.handler(n), CountingServer) for n in names)


def test_build_refuses_a_class_that_is_not_an_rpc_server():
    with pytest.raises(TypeError, match="node_cls"):
        sc.build(Sim(1), 1, object)


def test_build_checks_server_arguments_at_once():
    with pytest.raises(ValueError, match="workers"):
        sc.build(Sim(1), 1, RpcServer, workers=0)


def test_node_cls_swaps_the_server_role_of_a_scenario():
    CountingServer.booted = 0
    result = sc.idempotency(1, calls=3, node_cls=CountingServer)
    assert isinstance(result, Result) and result.seed == 1
    assert CountingServer.booted >= 3  # one per variant (plus the argument checks)
    assert result.frame.equals(ex.idempotency(1, calls=3))


def test_each_variant_keeps_its_history_and_the_facade_returns_the_old_tables():
    result = sc.breaker(1, duration_ms=1600.0, fail_until_ms=1000.0)
    assert sorted(result.metadata["histories"]) == ["breaker", "no breaker"]
    series, summary, transitions = ex.breaker(1, duration_ms=1600.0, fail_until_ms=1000.0)
    assert series.equals(result.frame) and summary.equals(result.metadata["summary"])
    assert transitions == result.metadata["transitions"]


def test_the_same_seed_replays_the_same_history():
    a = sc.server_filters(3).history.to_records()
    assert a == sc.server_filters(3).history.to_records(), "replay with seed=3"
    assert a != sc.server_filters(4).history.to_records()
