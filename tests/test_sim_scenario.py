"""The shared scenario layer: one client operation, failover, client faults, builders, Result,
sweep, and the Verdict every checker answers with (computed from the history, never the clock)."""

from __future__ import annotations

import pytest

from dslab.check.verdict import OK, UNKNOWN, UNSAFE, Verdict, linearizable_verdict, worst
from dslab.core import Handler, Request, Response
from dslab.history import History
from dslab.lab.register import Read, RegisterServer, Write
from dslab.sim import Sim
from dslab.sim.scenario import (
    ClientFaults,
    Result,
    build_nodes,
    call_any,
    client_names,
    node_names,
    operation,
    sweep,
)


class Refuses(Handler):
    """Answers every request with a definite ``not_leader``."""

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Request):
            ctx.send(src, Response(msg.id, False, None, "not_leader"))


def test_names_are_the_same_in_every_topic():
    assert node_names(3) == ["n1", "n2", "n3"]
    assert client_names(2) == ["c1", "c2"]


def test_build_adds_n_nodes_of_the_given_class():
    sim = Sim(1)
    names = build_nodes(sim, n=3, node_cls=RegisterServer)
    sim.run(until=1.0)
    assert names == ["n1", "n2", "n3"]
    assert all(isinstance(sim.handler(n), RegisterServer) for n in names)


def test_build_rejects_a_class_that_is_not_a_handler():
    with pytest.raises(TypeError, match="node_cls=<class 'int'> must be a subclass"):
        build_nodes(Sim(1), n=1, node_cls=int)


def test_operation_records_invoke_and_completion_in_one_call():
    sim = Sim(2)
    build_nodes(sim, n=1, node_cls=RegisterServer)
    c = sim.add_client("c1")

    def script():
        yield from operation(c, "n1", "write", Write(5), value=5, timeout_ms=50)
        r = yield from operation(c, "n1", "read", Read(), timeout_ms=50)
        assert r.value == 5

    sim.run(until=sim.process(script()))
    assert [(o.type, o.f, o.value) for o in sim.history.ops] == [
        ("invoke", "write", 5), ("ok", "write", 5), ("invoke", "read", None), ("ok", "read", 5),
    ]


def test_operation_checks_its_arguments_at_once():
    sim = Sim(2)
    c = sim.add_client("c1")
    with pytest.raises(ValueError, match="dst='n9' is not a node"):
        operation(c, "n9", "read", Read(), timeout_ms=10)


def test_call_any_fails_over_past_refusals_and_silent_servers():
    sim = Sim(3)
    sim.add_node("n1", Refuses)
    sim.add_node("n2", Handler)  # never answers: a timeout
    sim.add_node("n3", RegisterServer)
    c = sim.add_client("c1")
    out = {}

    def script():
        out["r"] = yield from call_any(c, ["n1", "n2", "n3"], Read(), timeout_ms=20)

    sim.run(until=sim.process(script()))
    result, server = out["r"]
    assert (result.type, server) == ("ok", "n3")


def test_call_any_reports_indefinite_when_some_attempt_timed_out():
    sim = Sim(3)
    sim.add_node("n1", Handler)
    sim.add_node("n2", Refuses)
    c = sim.add_client("c1")
    out = {}

    def script():
        out["r"] = yield from call_any(c, ["n1", "n2"], Write(1), timeout_ms=20)

    sim.run(until=sim.process(script()))
    assert out["r"][0].type == "info"  # n1 may still apply the write


def test_a_paused_client_invokes_nothing_until_it_resumes_and_a_crashed_one_stops():
    sim = Sim(4)
    build_nodes(sim, n=1, node_cls=RegisterServer)
    c = sim.add_client("c1")
    faults = ClientFaults(sim)
    faults.pause("c1", 100.0, at=10.0)
    faults.crash("c1", at=300.0)

    def workload():
        while (yield from faults.ready(c)):
            yield from operation(c, "n1", "read", Read(), timeout_ms=50)
            yield sim.sleep(5.0)

    sim.process(workload())
    sim.run(until=500.0)
    invokes = [o.time for o in sim.history.ops if o.type == "invoke"]
    assert not [t for t in invokes if 10.0 < t < 110.0], "a paused client invoked"
    assert max(invokes) < 300.0 + 10.0
    assert [f.verb for f in sim.history.faults] == ["client_pause", "client_crash"]


def test_result_carries_frame_history_seed_and_metadata_and_unpacks():
    import pandas as pd

    h = History(seed=9)
    r = Result(pd.DataFrame({"x": [1]}), h, 9, {"faults": ["crash"]})
    df, hist = r
    assert hist is h and df.equals(r.frame) and r.metadata["faults"] == ["crash"]
    assert "seed=9" in repr(r)


def test_sweep_has_one_row_per_seed_with_the_seed_first():
    df = sweep(lambda s: {"double": 2 * s}, range(3))
    assert list(df.columns) == ["seed", "double"] and df["double"].tolist() == [0, 2, 4]
    with pytest.raises(TypeError, match="seeds='abc' must be an iterable"):
        sweep(lambda s: {}, "abc")


# -- verdicts ------------------------------------------------------------------------------------
def _stale_read_history() -> History:
    h = History(seed=5)
    w = h.invoke("c1", "write", 1, 0.0)
    h.complete(w, "ok", 1, 1.0)
    r = h.invoke("c2", "read", None, 2.0)
    h.complete(r, "ok", None, 3.0)  # reads the initial value after the write completed
    return h


def test_a_violation_is_unsafe_and_names_its_checker_and_seed():
    v = linearizable_verdict(_stale_read_history(), "register")
    assert v.status == UNSAFE and not v
    assert str(v).startswith("linearizable(register): unsafe: ")
    assert str(v).endswith("replay with seed=5")


def _hard_history(h: History, n: int = 12, key: str | None = None) -> History:
    """``n`` concurrent writes, ``n`` concurrent reads of them in a scrambled order, and a final
    read of a value nobody wrote: not linearizable, but proving it takes a long search (about
    30 s unbounded for n=12)."""

    def v(x):
        return x if key is None else [key, x]

    ws = [h.invoke(f"w{i}", "write", v(i), float(2 * i)) for i in range(n)]
    rs = [h.invoke(f"r{i}", "read", v(None), float(2 * i + 100)) for i in range(n)]
    for i, w in enumerate(ws):
        h.complete(w, "ok", v(i), 500.0 + i)
    for i, r in enumerate(rs):
        h.complete(r, "ok", v((i * 5) % n), 600.0 + i)
    last = h.invoke("z", "read", v(None), 700.0)
    h.complete(last, "ok", v(n + 1), 701.0)
    return h


def test_an_exhausted_search_budget_is_unknown_not_unsafe():
    """The rule: a checker that could not decide says so; it never calls the run unsafe."""
    h = _hard_history(History(seed=6))
    first = linearizable_verdict(h, "register", max_configs=100)
    assert first.status == UNKNOWN and "max_configs=100" in first.explanation
    assert linearizable_verdict(h, "register", max_configs=100) == first  # deterministic


def test_worst_orders_unsafe_over_unknown_over_ok():
    ok = Verdict("a", OK, "fine")
    unk = Verdict("b", UNKNOWN, "budget")
    bad = Verdict("c", UNSAFE, "broken")
    assert worst([ok, unk]) == UNKNOWN and worst([ok, unk, bad]) == UNSAFE and worst([]) == OK


def test_verdict_of_a_problem_string_or_none():
    assert Verdict.of("election_safety", "two leaders in term 3", seed=1).unsafe
    assert Verdict.of("election_safety", "").status == OK
    with pytest.raises(TypeError, match="result=3"):
        Verdict.of("x", 3)


def test_kv_run_reports_an_exhausted_budget_as_undecided_not_as_a_problem():
    """Regression: KVRun.problems used a wall-clock timeout and called it a safety failure."""
    from dslab.raft.workload import KVRun, run_kv

    sim = Sim(6)
    _hard_history(sim.history, key="x")
    run = KVRun(6, sim, [])
    assert run.problems(max_configs=100) == []
    undecided = run.undecided(max_configs=100)
    assert len(undecided) == 1 and "unknown" in undecided[0]
    assert "replay with seed=6" in undecided[0]
    ok = run_kv(0, duration_ms=600.0)
    assert ok.problems() == [] and ok.undecided() == []


def test_client_faults_name_a_client_not_a_node():
    sim = Sim(1)
    build_nodes(sim, n=1, node_cls=RegisterServer)
    sim.add_client("c1")
    with pytest.raises(ValueError, match="client='n1' is not a client"):
        ClientFaults(sim).crash("n1")


def test_raft_scenarios_return_results_with_metadata():
    from dslab.raft.experiments import figure8_replay, role_timeline_run

    r = role_timeline_run(1)
    assert r.seed == 1 and "crash" in r.metadata["faults"]
    leaders, history = r
    assert history is r.history and leaders is r.frame
    assert figure8_replay(1, "d").metadata["branch"] == "d"
