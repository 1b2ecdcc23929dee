"""The KV service on Raft: its rules on a bare server, then cluster runs with the Clerk, a
duplication fault, snapshots and restarts, and a seed sweep under a nemesis checked for
linearizability, Election Safety and Log Matching."""

from __future__ import annotations

import random

import pytest

from dslab.check import linearizable
from dslab.core import Context, Request, Response
from dslab.history import History
from dslab.raft.kv import Append, Cas, Clerk, Get, KVServer, Put
from dslab.raft.log import RaftLog
from dslab.raft.messages import AppendEntries, AppendEntriesReply, Entry, RequestVoteReply
from dslab.raft.node import ELECTION_TIMER, LEADER
from dslab.raft.persist import SNAPSHOT
from dslab.raft.safety import election_safety, log_matching, server_logs
from dslab.raft.workload import run_kv
from dslab.sim import Sim

SWEEP_SEEDS = range(100)


# ================================================================================================
# One server, no simulator
# ================================================================================================
def leader_kv(**kwargs) -> tuple[KVServer, Context]:
    """A KVServer that leads term 1 of a 3-server cluster, heartbeats answered."""
    ctx = Context("s1", rng=random.Random(0), peers=("s2", "s3"))
    kv = KVServer(**kwargs)
    kv.on_start(ctx)
    kv.on_timer(ctx, ELECTION_TIMER)
    kv.on_message(ctx, "s2", RequestVoteReply(1, True))
    for peer in ("s2", "s3"):
        kv.on_message(ctx, peer, AppendEntriesReply(1, True, match_index=0))
    assert kv.role == LEADER
    ctx.take_effects()
    return kv, ctx


def commit(kv: KVServer, ctx: Context) -> None:
    """s2 acknowledges the whole log: everything commits."""
    kv.on_message(ctx, "s2", AppendEntriesReply(kv.current_term, True, kv.log.last_index))


def responses(ctx: Context) -> list[Response]:
    return [s.msg for s in ctx.sent(Response)]


def test_a_follower_refuses_definitely_and_names_the_leader():
    ctx = Context("s1", peers=("s2", "s3"))
    kv = KVServer()
    kv.on_start(ctx)
    kv.leader_id = "s3"
    kv.on_message(ctx, "c1", Request(7, Put("x", 1, "c1", 1)))
    assert responses(ctx) == [Response(7, ok=False, body="s3", error="not_leader")]
    assert kv.log.last_index == 0  # nothing proposed: the refusal is definite


def test_the_leader_answers_only_after_the_op_is_committed_and_applied():
    kv, ctx = leader_kv()
    kv.on_message(ctx, "c1", Request(1, Put("x", 1, "c1", 1)))
    assert responses(ctx) == [] and kv.log.last_index == 1
    commit(kv, ctx)
    assert responses(ctx) == [Response(1, ok=True, body=None)]
    kv.on_message(ctx, "c1", Request(2, Get("x", "c1", 2)))
    commit(kv, ctx)
    assert responses(ctx)[-1] == Response(2, ok=True, body=1)  # reads go through the log too


def test_cas_swaps_only_when_the_value_is_the_expected_one():
    kv, _ = leader_kv()
    assert kv.execute(Cas("x", None, 1, "c1", 1)) is True
    assert kv.execute(Cas("x", 5, 2, "c1", 2)) is False
    assert kv.data == {"x": 1}


def test_a_retried_op_is_executed_once_and_gets_the_first_result():
    kv, _ = leader_kv()
    assert kv.execute(Append("k", "a", "c1", 1)) is None
    assert kv.execute(Append("k", "a", "c1", 1)) is None  # the same op again
    assert kv.execute(Cas("k", "a", "b", "c1", 2)) is True
    assert kv.execute(Cas("k", "a", "b", "c1", 2)) is True  # not re-run (it would fail now)
    assert kv.data == {"k": "b"}


def test_a_duplicate_in_the_log_is_applied_once_and_both_requests_are_answered():
    kv, ctx = leader_kv()
    kv.on_message(ctx, "c1", Request(1, Append("k", "a", "c1", 1)))
    kv.on_message(ctx, "c1", Request(2, Append("k", "a", "c1", 1)))  # retry after a timeout
    assert kv.log.last_index == 2
    commit(kv, ctx)
    assert kv.data == {"k": "a"}
    assert [r.ok for r in responses(ctx)] == [True, True]


def test_a_retry_of_an_executed_op_is_answered_from_the_duplicate_table():
    kv, ctx = leader_kv()
    kv.on_message(ctx, "c1", Request(1, Get("k", "c1", 1)))
    commit(kv, ctx)
    kv.on_message(ctx, "c1", Request(2, Get("k", "c1", 1)))
    assert kv.log.last_index == 1  # no new entry
    assert responses(ctx)[-1] == Response(2, ok=True, body=None)


def test_a_proposal_replaced_in_the_log_is_refused_definitely():
    kv, ctx = leader_kv()
    kv.on_message(ctx, "c1", Request(1, Put("x", 1, "c1", 1)))
    # The leader is deposed; the new leader of term 2 puts another op at index 1.
    other = Put("x", 2, "c2", 1)
    kv.on_message(ctx, "s2", AppendEntries(2, "s2", 0, 0, (Entry(2, other),), 1))
    assert Response(1, ok=False, body="s2", error="not_leader") in responses(ctx)
    assert kv.data == {"x": 2}


def test_a_proposal_truncated_from_the_log_gets_no_answer_until_its_index_commits():
    """A truncated entry may survive on another server: only the commit of its index tells."""
    kv, ctx = leader_kv()
    kv.on_message(ctx, "c1", Request(1, Put("x", 1, "c1", 1)))  # index 1
    kv.on_message(ctx, "c3", Request(3, Put("y", 3, "c3", 1)))  # index 2
    # The leader of term 2 has another entry at index 1: ours at 1 and 2 are truncated.
    other = Put("z", 0, "c9", 1)
    kv.on_message(ctx, "s2", AppendEntries(2, "s2", 0, 0, (Entry(2, other),), 0))
    assert kv.log.last_index == 1
    # We lead term 3 and put a new request at index 2 again: no answer to c3 yet.
    kv.become_candidate(ctx)
    kv.on_message(ctx, "s2", RequestVoteReply(3, True))
    kv.on_message(ctx, "c2", Request(2, Put("x", 2, "c2", 1)))
    assert kv.log.last_index == 2 and responses(ctx) == []
    commit(kv, ctx)
    assert sorted(responses(ctx), key=lambda r: r.id) == [
        Response(1, ok=False, body="s1", error="not_leader"),  # index 1 holds `other`
        Response(2, ok=True, body=None),
        Response(3, ok=False, body="s1", error="not_leader"),  # index 2 holds c2's put
    ]


def test_the_duplicate_table_is_part_of_the_snapshot():
    kv, ctx = leader_kv(maxraftstate=1)  # snapshot after every apply
    kv.on_message(ctx, "c1", Request(1, Append("k", "a", "c1", 1)))
    commit(kv, ctx)
    saved = ctx.storage[SNAPSHOT]
    assert saved == {"data": {"k": "a"}, "sessions": {"c1": (1, None)}}
    fresh = KVServer()
    fresh.restore_snapshot(saved)
    assert fresh.execute(Append("k", "a", "c1", 1)) is None
    assert fresh.data == {"k": "a"}


# ================================================================================================
# A cluster and its clients
# ================================================================================================
def kv_cluster(seed: int, n: int = 3, **sim_kwargs) -> tuple[Sim, list[str]]:
    sim = Sim(seed=seed, **sim_kwargs)
    servers = [f"s{i}" for i in range(n)]
    for name in servers:
        sim.add_node(name, KVServer)
    return sim, servers


def test_clerk_records_ops_in_the_checkers_kv_format():
    sim, servers = kv_cluster(seed=1)
    clerk = Clerk(sim, sim.add_client("c1"), servers)
    outcomes = []

    def script():
        outcomes.append((yield from clerk.put("x", 1)))
        outcomes.append((yield from clerk.get("x")))
        outcomes.append((yield from clerk.cas("x", 1, 2)))
        outcomes.append((yield from clerk.cas("x", 1, 3)))
        outcomes.append((yield from clerk.get("missing")))

    sim.process(script())
    sim.run(until=5000)
    assert [(o.type, o.f, o.value) for o in outcomes] == [
        ("ok", "write", ["x", 1]),
        ("ok", "read", ["x", 1]),
        ("ok", "cas", ["x", [1, 2]]),
        ("fail", "cas", ["x", [1, 3]]),  # definite: the value was 2, not 1
        ("ok", "read", ["missing", None]),
    ], "replay with seed=1"
    assert linearizable(sim.history, "kv").valid is True, "replay with seed=1"


def test_clerk_gives_up_with_info_when_no_leader_can_be_reached():
    sim, servers = kv_cluster(seed=2)
    client = sim.add_client("c1")
    clerk = Clerk(sim, client, servers, op_timeout_ms=500)
    out = []

    def script():
        yield sim.sleep(1000)  # a leader exists by now
        for s in servers:
            sim.isolate(s)
        out.append((yield from clerk.put("x", 1)))

    sim.process(script())
    sim.run(until=3000)
    # The request may have reached a leader: indefinite.
    assert out[0].type == "info", f"{out[0]}; replay with seed=2"
    assert out[0].time == pytest.approx(1500.0), "replay with seed=2"


@pytest.mark.parametrize("seed", range(5))
def test_with_duplicated_and_lost_messages_each_append_applies_once(seed):
    """The network duplicates 30% of messages and the clerks retry: no append lands twice."""
    sim, servers = kv_cluster(seed, n=3, loss=0.1, duplicate=0.3)
    clerks = [Clerk(sim, sim.add_client(f"c{k}"), servers, attempt_timeout_ms=30) for k in range(3)]
    results = {}

    def client(clerk):
        for j in range(15):
            token = f"<{clerk.client_id}.{j}>"
            op = yield from clerk.append("log", token)
            results[token] = op.type

    for clerk in clerks:
        sim.process(client(clerk))
    sim.run(until=20_000)
    most_applied = max((sim.handler(s) for s in servers), key=lambda node: node.last_applied)
    value = most_applied.data.get("log", "")
    for token, outcome in results.items():
        count = value.count(token)
        if outcome == "ok":
            assert count == 1, f"{token} applied {count} times; replay with seed={seed}"
        else:
            assert count <= 1, f"{token} applied {count} times; replay with seed={seed}"
    assert sim.net.stats["duplicated"] > 0, f"replay with seed={seed}"


@pytest.mark.parametrize("seed", range(3))
def test_snapshots_bound_the_log_and_a_full_restart_keeps_the_data(seed):
    maxraftstate = 1000
    sim = Sim(seed=seed)
    servers = [f"s{i}" for i in range(3)]
    for name in servers:
        sim.add_node(name, lambda: KVServer(maxraftstate=maxraftstate))
    clerk = Clerk(sim, sim.add_client("c1"), servers)
    reads = {}

    def script():
        for i in range(120):
            op = yield from clerk.put(f"k{i % 7}", i)
            assert op.type == "ok", f"put {i} -> {op}; replay with seed={seed}"
        for s in servers:
            sim.crash(s)
        yield sim.sleep(100)
        for s in servers:
            sim.restart(s)
        for k in range(7):
            op = yield from clerk.get(f"k{k}")
            reads[f"k{k}"] = op.value[1]

    sim.process(script())
    sim.run(until=60_000)
    expected = {f"k{k}": max(i for i in range(120) if i % 7 == k) for k in range(7)}
    assert reads == expected, f"replay with seed={seed}"
    for s in servers:
        node = sim.handler(s)
        assert SNAPSHOT in node.disk.storage, f"{s} never snapshotted; replay with seed={seed}"
        assert node.raft_state_size() <= 8 * maxraftstate, f"replay with seed={seed}"
        assert node.log.snapshot_index > 0, f"replay with seed={seed}"
    result = linearizable(sim.history, "kv")
    assert result.valid is True, f"{result.explanation}; replay with seed={seed}"


# ================================================================================================
# The seed sweep: randomized partitions, isolations, crashes, pauses, loss and reordering
# ================================================================================================
@pytest.mark.parametrize("seed", SWEEP_SEEDS)
def test_kv_history_is_linearizable_under_a_nemesis(seed):
    run = run_kv(seed)
    problems = run.problems()
    assert not problems, "\n".join(problems)
    completed = [op for op in run.history.ops if op.type == "ok"]
    assert len(completed) >= 10, f"only {len(completed)} ops succeeded; replay with seed={seed}"


@pytest.mark.parametrize("seed", range(10))
def test_kv_with_snapshots_under_a_nemesis(seed):
    run = run_kv(seed, maxraftstate=800, duration_ms=2000)
    problems = run.problems()
    assert not problems, "\n".join(problems)


def test_the_sweep_catches_a_server_that_reads_its_local_state():
    """A checker that never fails proves nothing: serving reads without the log is caught."""

    class LocalReads(KVServer):
        def on_request(self, ctx, src, req):
            if isinstance(req.body, Get) and self.role == LEADER:
                ctx.send(src, Response(req.id, ok=True, body=self.data.get(req.body.key)))
                return
            super().on_request(ctx, src, req)

    caught = [seed for seed in range(12) if run_kv(seed, server_cls=LocalReads).problems()]
    assert caught, "stale local reads went unnoticed on seeds 0-11"


def test_the_same_seed_gives_the_same_history():
    a, b = run_kv(3, duration_ms=1000), run_kv(3, duration_ms=1000)
    assert a.history.to_json() == b.history.to_json(), "replay with seed=3"


def test_safety_checks_report_violations():
    h = History(seed=5)
    h.event(1.0, "s1", "role", role="leader", term=2)
    h.event(2.0, "s2", "role", role="leader", term=2)
    assert "s1 and s2 were both leader of term 2" in election_safety(h)
    a = RaftLog(entries=[Entry(1, "x"), Entry(2, "y")])
    b = RaftLog(entries=[Entry(1, "z"), Entry(2, "y")])
    assert "differ at index 1" in log_matching({"s1": a, "s2": b})
    assert log_matching({"s1": a, "s2": RaftLog(entries=[Entry(1, "x"), Entry(3, "q")])}) is None


def test_server_logs_reads_a_crashed_servers_log_from_storage():
    run = run_kv(1, duration_ms=500, faults=())
    run.sim.crash("s0")
    logs = server_logs(run.sim)
    assert set(logs) == set(run.servers)
    assert logs["s0"].last_index > 0
    assert log_matching(logs) is None


def test_leader_keeps_one_append_entries_stream_per_follower_under_steady_load():
    """Regression: a reply to an older AppendEntries must not start a second stream of them
    beside the newest one, or the message rate grows every second at a constant load."""
    from dslab.sim import Constant

    def client(sim, clerk):
        i = 0
        while sim.now < 3000:
            i += 1
            yield from clerk.put("k", i)

    sim = Sim(seed=1, latency=Constant(1.0))
    names = ["s1", "s2", "s3"]
    for name in names:
        sim.add_node(name, KVServer)
    for k in range(2):
        sim.process(client(sim, Clerk(sim, sim.add_client(f"c{k}"), names)))
    sim.run(until=3000)
    sends = [m.send_time for m in sim.history.messages if m.type == "AppendEntries"]
    per_second = [sum(1 for t in sends if s * 1000 <= t < (s + 1) * 1000) for s in range(3)]
    assert per_second[2] <= 1.2 * per_second[1], f"{per_second}; replay with seed=1"
