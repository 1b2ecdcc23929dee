"""Sim.run: by time, by event, and its argument checks."""

import pytest

from dslab.core import Handler
from dslab.sim import Sim


def test_run_until_a_process_stops_when_the_process_ends():
    sim = Sim(seed=1)

    def script():
        yield sim.sleep(7.5)

    sim.run(until=sim.process(script()))
    assert sim.now == 7.5


def test_run_until_an_event_of_another_sim_is_refused():
    a, b = Sim(seed=1), Sim(seed=2)
    with pytest.raises(ValueError, match="another simulation"):
        a.run(until=b.env.event())


def test_run_until_a_time_in_the_past_is_refused_and_names_until():
    sim = Sim(seed=1)
    sim.run(until=10.0)
    with pytest.raises(ValueError, match=r"until=5\.0"):
        sim.run(until=5.0)
    assert sim.now == 10.0


class _Echo(Handler):
    def on_start(self, ctx):
        self.proposals = []

    def propose(self, ctx, value):
        self.proposals.append(value)
        ctx.send("n2", value)
        return len(self.proposals)


def test_call_handler_applies_the_effects_and_returns_the_result():
    sim = Sim(seed=1, latency=1.0)
    sim.add_node("n1", _Echo)
    sim.add_node("n2", _Echo)
    sim.settle()  # boots both nodes, at t=0
    assert sim.now == 0.0
    assert sim.call_handler("n1", lambda h, ctx: h.propose(ctx, "x")) == 1
    sim.run(until=5.0)
    assert [m.status for m in sim.history.messages] == ["delivered"]


def test_call_handler_that_raises_leaves_no_effects_behind():
    sim = Sim(seed=1, latency=1.0)
    sim.add_node("n1", _Echo)
    sim.add_node("n2", _Echo)
    sim.settle()

    def broken(h, ctx):
        ctx.send("n2", "half-done")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        sim.call_handler("n1", broken)
    sim.call_handler("n1", lambda h, ctx: None)
    sim.run(until=5.0)
    assert sim.history.messages == []


def test_call_handler_on_a_crashed_node_is_refused_by_name():
    sim = Sim(seed=1)
    sim.add_node("n1", _Echo)
    sim.settle()
    sim.crash("n1")
    with pytest.raises(ValueError, match="node='n1' is crashed"):
        sim.call_handler("n1", lambda h, ctx: None)
