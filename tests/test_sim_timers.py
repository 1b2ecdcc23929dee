"""Timers fire when they should, and a stale timer never fires (dslab.core rule 4).

A timer is set in *local* time: with drift ``d`` a delay of ``x`` local ms takes ``x / (1 + d)``
true ms. Setting a pending timer again replaces it; a cancelled, replaced, or pre-crash timer is
stale and its firing is ignored (timers carry a generation token).
"""

from __future__ import annotations

import pytest
from scenarios import CancelT, Scripted, SetT, at, events

from dslab.sim import Constant, Sim


def timer_sim(timers: dict[str, float] | None = None, **node_kw) -> Sim:
    """Node ``n1`` sets ``timers`` in on_start; client ``c1`` commands reach it in exactly 0 ms."""
    sim = Sim(seed=8, latency=Constant(0.0))
    sim.add_node("n1", lambda: Scripted(timers), **node_kw)
    sim.add_client("c1")
    return sim


def command_at(sim: Sim, t: float, cmd) -> None:
    at(sim, t, lambda: sim.net.send("c1", "n1", cmd))


def fired(sim: Sim) -> list[tuple[float, str]]:
    return [(e.time, e.data["name"]) for e in events(sim, "n1", "timer")]


def test_a_timer_fires_after_its_delay():
    sim = timer_sim({"t": 30.0})
    sim.run(until=100.0)
    assert fired(sim) == [(30.0, "t")]


def test_a_timer_fires_once():
    sim = timer_sim({"t": 10.0})
    sim.run(until=100.0)
    assert len(fired(sim)) == 1


def test_timers_with_different_names_are_independent():
    sim = timer_sim({"a": 30.0, "b": 10.0})
    command_at(sim, 5.0, CancelT("a"))
    sim.run(until=100.0)
    assert fired(sim) == [(10.0, "b")]


def test_a_zero_delay_timer_fires_at_the_same_time_after_the_handler_returns():
    sim = timer_sim()
    command_at(sim, 5.0, SetT("now", 0.0))
    sim.run(until=10.0)
    assert fired(sim) == [(5.0, "now")]
    names = [e.name for e in events(sim, "n1")]
    assert names == ["start", "recv", "timer"]


def test_a_cancelled_timer_never_fires():
    sim = timer_sim({"t": 30.0})
    command_at(sim, 10.0, CancelT("t"))
    sim.run(until=100.0)
    assert fired(sim) == []


def test_cancelling_an_unknown_timer_is_harmless():
    sim = timer_sim({"t": 30.0})
    command_at(sim, 10.0, CancelT("nope"))
    sim.run(until=100.0)
    assert fired(sim) == [(30.0, "t")]


@pytest.mark.parametrize("new_delay, expected", [(50.0, 60.0), (5.0, 15.0)])
def test_setting_a_pending_timer_replaces_it(new_delay, expected):
    sim = timer_sim({"t": 30.0})
    command_at(sim, 10.0, SetT("t", new_delay))
    sim.run(until=100.0)
    assert fired(sim) == [(expected, "t")]  # only the new deadline; the old one is stale


def test_a_timer_set_again_after_it_fired_fires_again():
    sim = timer_sim({"t": 10.0})
    command_at(sim, 20.0, SetT("t", 10.0))
    sim.run(until=100.0)
    assert fired(sim) == [(10.0, "t"), (30.0, "t")]


def test_a_timer_set_before_a_crash_never_fires():
    sim = timer_sim({"t": 30.0})
    sim.crash("n1", at=10.0)
    sim.run(until=100.0)
    assert fired(sim) == []


def test_a_timer_of_the_old_incarnation_never_fires_in_the_new_one():
    sim = timer_sim()
    command_at(sim, 1.0, SetT("t", 30.0))  # due at 31 in incarnation 1
    sim.restart("n1", at=10.0)
    command_at(sim, 20.0, SetT("t", 40.0))  # due at 60 in incarnation 2
    sim.run(until=100.0)
    assert fired(sim) == [(60.0, "t")]


@pytest.mark.parametrize("drift, true_ms", [(0.25, 80.0), (-0.2, 125.0), (0.0, 100.0)])
def test_timers_run_on_local_time_so_drift_changes_when_they_fire(drift, true_ms):
    sim = timer_sim({"lease": 100.0}, clock_drift=drift)
    sim.run(until=200.0)
    [(t, _)] = fired(sim)
    assert t == pytest.approx(true_ms)
    [ev] = events(sim, "n1", "timer")
    assert ev.data["local"] == pytest.approx(100.0)  # 100 local ms did elapse on the node


def test_a_timer_set_after_a_drift_change_uses_the_new_rate():
    sim = timer_sim()
    sim.clock_drift("n1", 0.25, at=10.0)
    command_at(sim, 20.0, SetT("t", 100.0))
    sim.run(until=200.0)
    assert fired(sim) == [(pytest.approx(100.0), "t")]  # 20 + 100 / 1.25


def test_a_clock_jump_does_not_move_pending_timers():
    sim = timer_sim({"t": 100.0})
    sim.clock_jump("n1", -50.0, at=10.0)
    sim.run(until=200.0)
    [ev] = events(sim, "n1", "timer")
    assert (ev.time, ev.data["local"]) == (100.0, 50.0)  # a monotonic timer; the reading jumped
