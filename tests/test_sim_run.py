"""Sim.run: by time, by event, and its argument checks."""

import pytest

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
