"""Crash, restart and pause keep the promises of dslab.core's rules 4 and 5.

- A crash discards the handler (volatile state) and every pending timer; only ``storage``
  survives. Messages to a crashed node are dropped with reason ``"crashed"``.
- A restart builds a fresh handler and calls ``on_start``, which finds the durable storage.
- A pause (a GC-like stop of the world) handles nothing; what arrived meanwhile (messages and
  timer firings) is handled in order when it resumes; the node's clock kept running. A crash during
  a pause discards what was queued.
- Every fault is recorded in the history at the time it took effect.
"""

from __future__ import annotations

import pytest
from scenarios import CancelT, Ping, Scripted, SetT, Write, at, events

from dslab.sim import Constant, Sim


def make_sim(**timers: float) -> Sim:
    """Node ``n1`` (``Scripted`` with the given start timers), node ``n2`` and a client ``c1``;
    every message takes exactly 1 ms."""
    sim = Sim(seed=4, latency=Constant(1.0))
    sim.add_node("n1", lambda: Scripted(timers))
    sim.add_node("n2", Scripted)
    sim.add_client("c1")
    return sim


def send_at(sim: Sim, t: float, msg, dst: str = "n1", src: str = "c1") -> None:
    at(sim, t, lambda: sim.net.send(src, dst, msg))


def times(sim: Sim, node: str, name: str) -> list[float]:
    return [e.time for e in events(sim, node, name)]


# --- crash and restart ------------------------------------------------------------------------
def test_crash_loses_volatile_state_and_keeps_durable_storage():
    sim = make_sim()
    send_at(sim, 1.0, Write("x", 42))
    sim.run(until=10.0)
    before = sim.handler("n1")
    assert before.volatile == {"x": 42}
    sim.crash("n1")
    assert sim.handler("n1") is None
    sim.restart("n1")
    after = sim.handler("n1")
    assert after is not before
    assert after.volatile == {}  # volatile state died with the old handler
    assert sim.nodes["n1"].storage["x"] == 42
    assert events(sim, "n1", "start")[-1].data["storage"] == {"x": 42}


def test_restart_calls_on_start_on_a_fresh_handler_that_sees_storage():
    sim = make_sim()
    send_at(sim, 1.0, Write("term", 3))
    sim.crash("n1", at=5.0)
    sim.restart("n1", at=8.0)
    sim.run(until=10.0)
    starts = events(sim, "n1", "start")
    assert [e.time for e in starts] == [0.0, 8.0]
    assert [e.data["storage"] for e in starts] == [{}, {"term": 3}]
    assert sim.nodes["n1"].incarnation == 2


def test_restart_of_a_running_node_crashes_it_first():
    sim = make_sim(t=5.0)
    sim.run(until=1.0)
    old = sim.handler("n1")
    sim.restart("n1")
    assert sim.handler("n1") is not old and sim.nodes["n1"].incarnation == 2
    sim.run(until=20.0)
    # only the new incarnation's timer (set at t=1) fires, not the old one (set at t=0)
    assert times(sim, "n1", "timer") == [6.0]


def test_a_crashed_nodes_timers_never_fire():
    sim = make_sim(t=50.0)
    sim.crash("n1", at=10.0)
    sim.run(until=100.0)
    assert events(sim, "n1", "timer") == []


def test_timers_set_before_a_crash_do_not_fire_after_restart():
    sim = make_sim(t=50.0)  # every incarnation sets "t" for 50 ms in on_start
    sim.crash("n1", at=10.0)
    sim.restart("n1", at=20.0)
    sim.run(until=200.0)
    assert times(sim, "n1", "timer") == [70.0]  # 20 + 50; never 50 (the old incarnation's)


def test_messages_to_a_crashed_node_are_dropped_with_reason_crashed():
    sim = make_sim()
    sim.crash("n1", at=5.0)
    send_at(sim, 10.0, Ping(1))
    sim.run(until=20.0)
    rec = sim.history.messages[-1]
    assert (rec.status, rec.reason, rec.recv_time) == ("dropped", "crashed", 11.0)
    assert events(sim, "n1", "recv") == []
    assert sim.net.stats["dropped:crashed"] == 1


def test_a_message_in_flight_when_the_node_crashes_is_dropped():
    sim = make_sim()
    send_at(sim, 10.0, Ping(1))
    sim.crash("n1", at=10.5)
    sim.run(until=20.0)
    assert (sim.history.messages[-1].status, sim.history.messages[-1].reason) == (
        "dropped",
        "crashed",
    )


def test_faults_are_recorded_in_the_history_when_they_take_effect():
    sim = make_sim()
    sim.crash("n1", at=5.0)
    sim.restart("n1", at=7.5)
    sim.pause("n2", 3.0, at=9.0)
    sim.run(until=1.0)
    sim.isolate("n2")
    sim.run(until=20.0)
    got = [(f.time, f.verb, f.args) for f in sim.history.faults]
    assert got == [
        (1.0, "isolate", {"node": "n2"}),
        (5.0, "crash", {"node": "n1"}),
        (7.5, "restart", {"node": "n1"}),
        (9.0, "pause", {"node": "n2", "duration_ms": 3.0}),
    ]


# --- pause --------------------------------------------------------------------------------------
def test_a_paused_node_handles_nothing_during_the_pause():
    sim = make_sim(t=15.0)
    sim.pause("n1", 20.0, at=10.0)
    send_at(sim, 12.0, Ping(1))
    sim.run(until=29.9)
    assert events(sim, "n1", "recv") == [] and events(sim, "n1", "timer") == []
    assert sim.history.messages[-1].status == "in_flight"  # arrived, waiting to be handled


def test_queued_messages_and_timers_are_handled_in_arrival_order_at_resume():
    sim = make_sim(t=15.0)
    sim.pause("n1", 20.0, at=10.0)
    send_at(sim, 12.0, Ping(1))  # arrives at 13
    send_at(sim, 17.0, Ping(2))  # arrives at 18, after the timer fired at 15
    sim.run(until=50.0)
    handled = [(e.time, e.name, e.data.get("msg", e.data.get("name"))) for e in events(sim, "n1")]
    assert handled[1:] == [
        (30.0, "recv", "Ping(seq=1)"),
        (30.0, "timer", "t"),
        (30.0, "recv", "Ping(seq=2)"),
    ]
    assert [m.recv_time for m in sim.history.messages] == [30.0, 30.0]  # handled at resume


def test_the_local_clock_keeps_running_during_a_pause():
    sim = make_sim()
    sim.pause("n1", 20.0, at=10.0)
    send_at(sim, 12.0, Ping(1))
    sim.run(until=50.0)
    [recv] = events(sim, "n1", "recv")
    assert recv.data["local"] == 30.0  # the handler sees the time it runs, not when it paused
    assert sim.local_time("n1") == 50.0


def test_a_message_arriving_after_resume_is_handled_at_once():
    sim = make_sim()
    sim.pause("n1", 5.0, at=10.0)
    send_at(sim, 20.0, Ping(1))
    sim.run(until=50.0)
    assert times(sim, "n1", "recv") == [21.0]


def test_a_timer_cancelled_by_a_queued_message_does_not_fire_at_resume():
    sim = make_sim(t=15.0)
    sim.pause("n1", 20.0, at=10.0)
    send_at(sim, 12.0, CancelT("t"))  # queued before the timer fires: handled first at resume
    sim.run(until=50.0)
    assert events(sim, "n1", "timer") == []


def test_a_longer_overlapping_pause_keeps_the_node_stopped():
    sim = make_sim()
    sim.pause("n1", 10.0, at=10.0)  # until 20
    sim.pause("n1", 30.0, at=15.0)  # until 45
    send_at(sim, 12.0, Ping(1))
    sim.run(until=60.0)
    assert times(sim, "n1", "recv") == [45.0]


def test_a_shorter_overlapping_pause_does_not_cut_a_longer_one_short():
    sim = make_sim()
    sim.pause("n1", 30.0, at=10.0)  # until 40
    sim.pause("n1", 5.0, at=15.0)  # until 20: must not resume the node at 20
    send_at(sim, 12.0, Ping(1))
    sim.run(until=60.0)
    assert times(sim, "n1", "recv") == [40.0]


def test_a_crash_during_a_pause_discards_the_queue():
    sim = make_sim(t=15.0)
    sim.pause("n1", 20.0, at=10.0)
    send_at(sim, 12.0, Ping(1))
    sim.crash("n1", at=20.0)
    sim.restart("n1", at=25.0)
    sim.run(until=35.0)
    assert events(sim, "n1", "recv") == []
    assert times(sim, "n1", "timer") == []  # the old timer died; the new one is due at 40
    rec = sim.history.messages[0]
    assert (rec.status, rec.reason, rec.recv_time) == ("dropped", "crashed", 20.0)
    sim.run(until=50.0)
    assert times(sim, "n1", "timer") == [40.0]


def test_the_restarted_node_is_not_paused():
    sim = make_sim()
    sim.pause("n1", 100.0, at=10.0)
    sim.restart("n1", at=20.0)
    send_at(sim, 30.0, Ping(1))
    sim.run(until=40.0)
    assert times(sim, "n1", "recv") == [31.0]


def test_a_pause_after_a_restart_ends_on_time_whatever_the_earlier_pause_was():
    # A crash ends a pause; the old pause's end time must not outlive it. Here the first pause
    # would have lasted until 110; after the restart a 5 ms pause at 30 must end at 35.
    sim = make_sim()
    sim.pause("n1", 100.0, at=10.0)
    sim.restart("n1", at=20.0)
    sim.pause("n1", 5.0, at=30.0)
    send_at(sim, 31.0, Ping(1))
    sim.run(until=60.0)
    assert times(sim, "n1", "recv") == [35.0]


def test_pausing_a_crashed_node_does_nothing():
    sim = make_sim()
    sim.crash("n1", at=5.0)
    sim.pause("n1", 10.0, at=6.0)
    sim.restart("n1", at=8.0)
    send_at(sim, 9.0, Ping(1))
    sim.run(until=40.0)
    assert times(sim, "n1", "recv") == [10.0]


def test_a_timer_set_by_a_message_handled_at_resume_counts_from_the_resume():
    sim = make_sim()
    sim.pause("n1", 20.0, at=10.0)
    send_at(sim, 12.0, SetT("late", 5.0))
    sim.run(until=50.0)
    assert times(sim, "n1", "timer") == [35.0]


@pytest.mark.parametrize("verb", ["crash", "restart"])
def test_scheduled_crash_and_restart_take_effect_at_their_time(verb):
    sim = make_sim()
    getattr(sim, verb)("n1", at=7.0)
    sim.run(until=6.9)
    assert sim.nodes["n1"].incarnation == 1 and sim.nodes["n1"].alive
    sim.run(until=7.1)
    assert sim.nodes["n1"].alive is (verb == "restart")
    assert sim.nodes["n1"].incarnation == (2 if verb == "restart" else 1)
