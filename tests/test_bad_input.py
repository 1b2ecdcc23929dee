"""A wrong argument fails at once, with a message naming the parameter and the bad value.

Every public constructor and fault verb validates its arguments before touching the world
(DESIGN: Errors): a ``TypeError`` for the wrong kind of value, a ``ValueError`` for a value out of
range, never a traceback deep inside SimPy. A rejected call changes nothing: the history keeps
everything recorded before it, and the run can go on.
"""

from __future__ import annotations

import math

import pytest
from scenarios import Ask, Ping, RpcServer, Scripted

from dslab.core import Context, Storage
from dslab.history import History
from dslab.sim import (
    Constant,
    Exponential,
    LocalClock,
    LogNormal,
    Mixture,
    Pareto,
    Shifted,
    Sim,
    Uniform,
    pareto_exp_mixture,
)

NAN = math.nan


def world() -> Sim:
    """Nodes n1..n3, client c1, at t=100 ms with ops, events, faults and messages recorded."""
    sim = Sim(seed=5, latency=Constant(1.0))
    for name in ("n1", "n2", "n3"):
        sim.add_node(name, Scripted)
    sim.add_node("rpc", RpcServer)
    client = sim.add_client("c1")

    def workload():
        for _ in range(3):
            inv = client.invoke("ask", "ok")
            client.complete(inv, (yield from client.call("rpc", Ask("ok"), timeout_ms=10.0)))
            sim.net.send("c1", "n1", Ping(1))
            yield sim.sleep(5.0)

    sim.process(workload())
    sim.partition(["n1"], ["n2", "n3"], at=20.0)
    sim.heal(at=30.0)
    sim.crash("n3", at=40.0)
    sim.run(until=100.0)
    return sim


# (what to call, exception type, substrings the message must contain)
# Each call gets a fresh world at t=100 ms.
CASES = {
    # --- Sim ---
    "negative seed": (lambda s: Sim(seed=-1), ValueError, ["seed=-1"]),
    "float seed": (lambda s: Sim(seed=1.5), TypeError, ["seed=1.5"]),
    "string seed": (lambda s: Sim(seed="7"), TypeError, ["seed='7'"]),
    "negative latency": (lambda s: Sim(latency=-1.0), ValueError, ["latency=-1.0"]),
    "nan latency": (lambda s: Sim(latency=NAN), ValueError, ["latency=nan"]),
    "string latency": (lambda s: Sim(latency="fast"), TypeError, ["latency='fast'"]),
    "loss above 1": (lambda s: Sim(loss=1.5), ValueError, ["loss=1.5", "[0, 1]"]),
    "negative loss": (lambda s: Sim(loss=-0.1), ValueError, ["loss=-0.1"]),
    "nan loss": (lambda s: Sim(loss=NAN), ValueError, ["loss=nan"]),
    "duplicate above 1": (lambda s: Sim(duplicate=2), ValueError, ["duplicate=2"]),
    "string duplicate": (lambda s: Sim(duplicate="0.1"), TypeError, ["duplicate='0.1'"]),
    "fifo not bool": (lambda s: Sim(fifo="yes"), TypeError, ["fifo='yes'"]),
    "journal not bool": (lambda s: Sim(journal=1), TypeError, ["journal=1"]),
    # --- latency distributions ---
    "negative constant": (lambda s: Constant(-1.0), ValueError, ["ms=-1.0"]),
    "nan constant": (lambda s: Constant(NAN), ValueError, ["ms=nan"]),
    "string constant": (lambda s: Constant("1"), TypeError, ["ms='1'"]),
    "uniform negative low": (lambda s: Uniform(-1.0, 2.0), ValueError, ["low_ms=-1.0"]),
    "uniform high below low": (lambda s: Uniform(5.0, 1.0), ValueError, ["high_ms=1.0"]),
    "uniform nan high": (lambda s: Uniform(1.0, NAN), ValueError, ["high_ms=nan"]),
    "exponential zero mean": (lambda s: Exponential(0.0), ValueError, ["mean_ms=0.0"]),
    "exponential negative rate": (
        lambda s: Exponential.from_rate(-2.0),
        ValueError,
        ["rate_per_ms=-2.0"],
    ),
    "lognormal zero median": (lambda s: LogNormal(0.0, 1.0), ValueError, ["median_ms=0.0"]),
    "lognormal negative sigma": (lambda s: LogNormal(1.0, -1.0), ValueError, ["sigma=-1.0"]),
    "pareto zero alpha": (lambda s: Pareto(1.0, 0.0), ValueError, ["alpha=0.0"]),
    "pareto negative xm": (lambda s: Pareto(-1.0, 2.0), ValueError, ["xm_ms=-1.0"]),
    "pareto nan xm": (lambda s: Pareto(NAN, 2.0), ValueError, ["xm_ms=nan"]),
    "mixture weights sum above 1": (
        lambda s: Mixture((Constant(1.0), Constant(2.0)), (0.5, 0.6)),
        ValueError,
        ["weights=[0.5, 0.6]", "sum to 1"],
    ),
    "mixture weights sum below 1": (
        lambda s: Mixture((Constant(1.0), Constant(2.0)), (0.2, 0.2)),
        ValueError,
        ["weights=[0.2, 0.2]"],
    ),
    "mixture negative weight": (
        lambda s: Mixture((Constant(1.0), Constant(2.0)), (-0.5, 1.5)),
        ValueError,
        ["weights[0]=-0.5"],
    ),
    "mixture length mismatch": (
        lambda s: Mixture((Constant(1.0),), (0.5, 0.5)),
        ValueError,
        ["components", "weights"],
    ),
    "mixture non-latency component": (
        lambda s: Mixture((3.0,), (1.0,)),
        TypeError,
        ["components[0]=3.0"],
    ),
    "pbs mixture probability": (
        lambda s: pareto_exp_mixture(1.2, 1.0, 2.0, 0.1),
        ValueError,
        ["p_pareto=1.2"],
    ),
    "shifted negative shift": (
        lambda s: Shifted(Constant(1.0), -5.0),
        ValueError,
        ["shift_ms=-5.0"],
    ),
    "shifted non-latency base": (lambda s: Shifted(3.0, 1.0), TypeError, ["base=3.0"]),
    "samples negative n": (
        lambda s: Constant(1.0).samples(s.stream("x"), -1),
        ValueError,
        ["n=-1"],
    ),
    # --- nodes and clients ---
    "duplicate node name": (lambda s: s.add_node("n1", Scripted), ValueError, ["name='n1'"]),
    "client named like a node": (lambda s: s.add_client("n2"), ValueError, ["name='n2'"]),
    "duplicate client name": (lambda s: s.add_client("c1"), ValueError, ["name='c1'"]),
    "empty node name": (lambda s: s.add_node("", Scripted), ValueError, ["name=''"]),
    "non-string node name": (lambda s: s.add_node(7, Scripted), TypeError, ["name=7"]),
    "factory not callable": (lambda s: s.add_node("n9", Scripted()), TypeError, ["factory="]),
    "node clock drift too big": (
        lambda s: s.add_node("n9", Scripted, clock_drift=2.0),
        ValueError,
        ["drift=2.0"],
    ),
    "node clock offset nan": (
        lambda s: s.add_node("n9", Scripted, clock_offset_ms=NAN),
        ValueError,
        ["offset_ms=nan"],
    ),
    "local clock drift": (lambda s: LocalClock(drift=-0.9), ValueError, ["drift=-0.9"]),
    "stream name not a string": (lambda s: s.stream(3), TypeError, ["name=3"]),
    "unknown node for local_time": (lambda s: s.local_time("zz"), ValueError, ["node='zz'"]),
    # --- fault verbs ---
    "crash unknown node": (lambda s: s.crash("zz"), ValueError, ["node='zz'", "n1"]),
    "crash a client": (lambda s: s.crash("c1"), ValueError, ["node='c1'"]),
    "restart unknown node": (lambda s: s.restart("zz"), ValueError, ["node='zz'"]),
    "pause unknown node": (lambda s: s.pause("zz", 5.0), ValueError, ["node='zz'"]),
    "pause negative duration": (lambda s: s.pause("n1", -5.0), ValueError, ["duration_ms=-5.0"]),
    "pause nan duration": (lambda s: s.pause("n1", NAN), ValueError, ["duration_ms=nan"]),
    "pause string duration": (lambda s: s.pause("n1", "5"), TypeError, ["duration_ms='5'"]),
    "isolate unknown node": (lambda s: s.isolate("zz"), ValueError, ["node='zz'"]),
    "reconnect unknown node": (lambda s: s.reconnect("zz"), ValueError, ["node='zz'"]),
    "partition unknown node": (
        lambda s: s.partition(["n1", "zz"], ["n2"]),
        ValueError,
        ["groups[0][1]='zz'"],
    ),
    "partition node in two groups": (
        lambda s: s.partition(["n1", "n2"], ["n2", "n3"]),
        ValueError,
        ["'n2'", "groups="],
    ),
    "partition a bare string": (lambda s: s.partition("n1"), TypeError, ["groups[0]='n1'"]),
    "partition no groups": (lambda s: s.partition(), ValueError, ["at least one group"]),
    "one-way unknown src": (
        lambda s: s.partition_oneway(["zz"], ["n1"]),
        ValueError,
        ["srcs[0]='zz'"],
    ),
    "one-way unknown dst": (
        lambda s: s.partition_oneway(["n1"], ["n2", "zz"]),
        ValueError,
        ["dsts[1]='zz'"],
    ),
    "cut unknown endpoint": (lambda s: s.cut("n1", "zz"), ValueError, ["b='zz'"]),
    "cut oneway not bool": (lambda s: s.cut("n1", "n2", oneway="yes"), TypeError, ["oneway='yes'"]),
    "bridge unknown node": (
        lambda s: s.bridge(["n1"], "zz", ["n3"]),
        ValueError,
        ["bridge_node='zz'"],
    ),
    "bridge node on a side": (
        lambda s: s.bridge(["n1", "n2"], "n2", ["n3"]),
        ValueError,
        ["bridge_node='n2'"],
    ),
    "clock drift too big": (lambda s: s.clock_drift("n1", 0.9), ValueError, ["drift=0.9"]),
    "clock jump nan": (lambda s: s.clock_jump("n1", NAN), ValueError, ["delta_ms=nan"]),
    "clock offset string": (lambda s: s.clock_offset("n1", "5"), TypeError, ["offset_ms='5'"]),
    "clock jump unknown node": (lambda s: s.clock_jump("zz", 1.0), ValueError, ["node='zz'"]),
    "fault at a time in the past": (
        lambda s: s.crash("n1", at=50.0),
        ValueError,
        ["at=50.0", "past"],
    ),
    "heal at a time in the past": (lambda s: s.heal(at=99.0), ValueError, ["at=99.0"]),
    "partition at nan": (lambda s: s.partition(["n1"], at=NAN), ValueError, ["at=nan"]),
    "fault at a string time": (lambda s: s.isolate("n1", at="soon"), TypeError, ["at='soon'"]),
    # --- running ---
    "run until the past": (lambda s: s.run(until=50.0), ValueError, ["until=50.0"]),
    "run_for negative": (lambda s: s.run_for(-1.0), ValueError, ["ms=-1.0"]),
    "sleep negative": (lambda s: s.sleep(-1.0), ValueError, ["ms=-1.0"]),
    # --- network ---
    "configure loss above 1": (lambda s: s.net.configure(loss=2.0), ValueError, ["loss=2.0"]),
    "configure unknown src": (lambda s: s.net.configure(src="zz"), ValueError, ["src='zz'"]),
    "configure bad latency": (
        lambda s: s.net.configure(dst="n1", latency=-3.0),
        ValueError,
        ["latency=-3.0"],
    ),
    "send to unknown node": (lambda s: s.net.send("n1", "zz", Ping(1)), ValueError, ["dst='zz'"]),
    "interceptor not callable": (
        lambda s: s.net.add_interceptor("drop"),
        TypeError,
        ["interceptor='drop'"],
    ),
    # --- client RPC: checked when call() is called, not when its generator first runs ---
    "call timeout zero": (
        lambda s: s.clients["c1"].call("n1", Ask("ok"), timeout_ms=0),
        ValueError,
        ["timeout_ms=0"],
    ),
    "call timeout negative": (
        lambda s: s.clients["c1"].call("n1", Ask("ok"), timeout_ms=-5.0),
        ValueError,
        ["timeout_ms=-5.0"],
    ),
    "call timeout nan": (
        lambda s: s.clients["c1"].call("n1", Ask("ok"), timeout_ms=NAN),
        ValueError,
        ["timeout_ms=nan"],
    ),
    "call unknown node": (
        lambda s: s.clients["c1"].call("zz", Ask("ok"), timeout_ms=5.0),
        ValueError,
        ["dst='zz'"],
    ),
    "complete with a bad type": (
        lambda s: (h := History()).complete(h.invoke("c1", "read"), "maybe"),
        ValueError,
        ["type='maybe'"],
    ),
    "invoke with a non-string f": (lambda s: s.clients["c1"].invoke(3), TypeError, ["f=3"]),
    # --- handler context and storage ---
    "set_timer negative": (
        lambda s: Context("n1").set_timer("t", -1.0),
        ValueError,
        ["delay_ms=-1.0", "'t'"],
    ),
    "set_timer nan": (lambda s: Context("n1").set_timer("t", NAN), ValueError, ["delay_ms=nan"]),
    "set_timer infinite": (
        lambda s: Context("n1").set_timer("t", math.inf),
        ValueError,
        ["delay_ms=inf"],
    ),
    "set_timer string": (lambda s: Context("n1").set_timer("t", "5"), TypeError, ["delay_ms='5'"]),
    "storage key not a string": (
        lambda s: Storage().__setitem__(("a", 1), 1),
        TypeError,
        ["key=('a', 1)"],
    ),
    "history record kind": (
        lambda s: History.from_records([{"kind": "msg"}]),
        ValueError,
        ["records[0]['kind']='msg'"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_argument_fails_at_once_naming_the_parameter_and_the_value(case):
    call, exc_type, needles = CASES[case]
    sim = world()
    with pytest.raises(exc_type) as info:
        call(sim)
    msg = str(info.value)
    missing = [n for n in needles if n not in msg]
    assert not missing, f"{case}: message {msg!r} does not mention {missing}"


def test_a_bad_call_loses_nothing_recorded_before_it():
    sim = world()
    before = sim.history.to_records()
    stats = dict(sim.net.stats)
    assert {r["kind"] for r in before} == {"op", "event", "fault", "message"}
    for case, (call, exc_type, _) in CASES.items():
        with pytest.raises(exc_type):
            call(sim)
        assert sim.history.to_records() == before, f"{case} changed the history"
    assert dict(sim.net.stats) == stats
    # ... and nothing was half-done: the world runs on exactly as it would have
    sim.run(until=200.0)
    untouched = world()
    untouched.run(until=200.0)
    assert sim.history.to_records() == untouched.history.to_records()
