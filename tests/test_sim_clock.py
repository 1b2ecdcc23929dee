"""Each node reads its own local clock: offset, drift and jumps (dslab.sim.clock).

``local(t) = base_local + (t - base_true) * (1 + drift)``, re-based when the drift changes, so a
drift change never makes the clock jump; ``jump(delta)`` steps it (backwards if negative), which
is what breaks leases, Redlock and Snowflake on purpose. Handlers see the local clock through
``ctx.now()``; true time is for the simulator, checkers and plots only.
"""

from __future__ import annotations

import pytest
from scenarios import Ping, Scripted, at, events

from dslab.sim import Constant, LocalClock, Sim


# --- LocalClock on its own --------------------------------------------------------------------
def test_offset_is_added_to_true_time():
    clock = LocalClock(offset_ms=250.0)
    assert (clock.read(0.0), clock.read(1000.0)) == (250.0, 1250.0)


def test_drift_scales_elapsed_time():
    clock = LocalClock(drift=0.1)
    assert clock.read(1000.0) == pytest.approx(1100.0)


def test_changing_the_drift_does_not_make_the_clock_jump():
    clock = LocalClock(drift=0.1)
    before = clock.read(1000.0)
    clock.set_drift(1000.0, -0.1)
    assert clock.read(1000.0) == pytest.approx(before)
    assert clock.read(2000.0) == pytest.approx(before + 900.0)


def test_a_negative_jump_moves_the_clock_backwards():
    clock = LocalClock()
    clock.jump(100.0, -30.0)
    assert clock.read(100.0) == 70.0
    assert clock.read(110.0) == 80.0  # and it keeps running from there


def test_set_offset_keeps_the_drift():
    clock = LocalClock(drift=0.5)
    clock.set_offset(100.0, 10.0)
    assert clock.read(100.0) == 110.0
    assert clock.read(200.0) == pytest.approx(260.0)


def test_true_delay_is_local_delay_over_one_plus_drift():
    assert LocalClock(drift=0.25).true_delay(100.0) == pytest.approx(80.0)
    assert LocalClock(drift=-0.2).true_delay(100.0) == pytest.approx(125.0)


# --- clocks in a Sim --------------------------------------------------------------------------
def clock_sim(**node_kw) -> Sim:
    sim = Sim(seed=3, latency=Constant(1.0))
    sim.add_node("n1", Scripted, **node_kw)
    sim.add_client("c1")
    return sim


def ping_at(sim: Sim, t: float) -> None:
    at(sim, t, lambda: sim.net.send("c1", "n1", Ping(int(t))))


def local_readings(sim: Sim) -> list[tuple[float, float]]:
    """(true time, what ctx.now() said) for every message n1 handled."""
    return [(e.time, e.data["local"]) for e in events(sim, "n1", "recv")]


def test_a_handler_reads_its_local_clock_not_true_time():
    sim = clock_sim(clock_offset_ms=-500.0)
    ping_at(sim, 10.0)
    sim.run(until=20.0)
    assert local_readings(sim) == [(11.0, -489.0)]
    assert sim.local_time("n1") == -480.0 and sim.now == 20.0


def test_a_node_with_drift_sees_its_clock_run_fast():
    sim = clock_sim(clock_drift=0.02)
    ping_at(sim, 99.0)
    sim.run(until=200.0)
    [(true, local)] = local_readings(sim)
    assert (true, local) == (100.0, pytest.approx(102.0))


def test_clock_offset_verb_resets_the_reading_from_now_on():
    sim = clock_sim()
    sim.clock_offset("n1", 40.0, at=10.0)
    ping_at(sim, 19.0)
    sim.run(until=30.0)
    assert local_readings(sim) == [(20.0, 60.0)]


def test_clock_drift_verb_changes_the_rate_without_a_jump():
    sim = clock_sim()
    sim.clock_drift("n1", 0.5, at=100.0)
    sim.run(until=100.0)
    assert sim.local_time("n1") == 100.0
    sim.run(until=100.0 + 1e-9)
    assert sim.local_time("n1") == pytest.approx(100.0)  # no jump at the change
    sim.run(until=200.0)
    assert sim.local_time("n1") == pytest.approx(250.0)


def test_clock_jump_backwards_makes_ctx_now_decrease():
    sim = clock_sim()
    ping_at(sim, 10.0)
    sim.clock_jump("n1", -30.0, at=15.0)
    ping_at(sim, 20.0)
    sim.run(until=30.0)
    (t1, l1), (t2, l2) = local_readings(sim)
    assert t2 > t1 and l2 < l1, "after the jump the node's clock reads earlier than before"
    assert (l1, l2) == (11.0, -9.0)


def test_clock_faults_are_recorded_in_the_history():
    sim = clock_sim()
    sim.clock_offset("n1", 5.0, at=1.0)
    sim.clock_drift("n1", -0.1, at=2.0)
    sim.clock_jump("n1", -3.0, at=3.0)
    sim.run(until=5.0)
    assert [(f.time, f.verb, f.args) for f in sim.history.faults] == [
        (1.0, "clock_offset", {"node": "n1", "offset_ms": 5.0}),
        (2.0, "clock_drift", {"node": "n1", "drift": -0.1}),
        (3.0, "clock_jump", {"node": "n1", "delta_ms": -3.0}),
    ]


def test_the_clock_survives_a_crash_and_restart():
    sim = clock_sim(clock_offset_ms=1000.0)
    sim.crash("n1", at=5.0)
    sim.restart("n1", at=10.0)
    sim.run(until=20.0)
    assert [e.data["local"] for e in events(sim, "n1", "start")] == [1000.0, 1010.0]
