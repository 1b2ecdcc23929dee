"""The network drops exactly what the rules say, keeps its books, and orders links as asked.

Rules (dslab.sim.network): partitions are groups (unnamed servers form one more group; unnamed
clients reach everyone), one-way blocks, cut links and isolated nodes; a message is dropped if its
link is blocked when it is sent *or* when it arrives; FIFO links deliver in send order; loss and
duplication are per-message probabilities; every message is journaled and counted. Also the client
RPC contract: ok / fail (definite) / info (timeout), and late replies are dropped as stale.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import pytest
from scenarios import Ask, Ping, RpcServer, Scripted, events

from dslab.core import Request, Response
from dslab.sim import DROP, Constant, Exponential, Pareto, Sim, message_size, message_type

Z = 4.5  # standard errors of tolerance for the probability checks


def probe(sim: Sim, pairs) -> dict[tuple[str, str], tuple[str, str | None]]:
    """Send one Ping on each ``(src, dst)`` now; run until all arrive; return (status, reason)."""
    first = len(sim.history.messages)
    for i, (src, dst) in enumerate(pairs):
        sim.net.send(src, dst, Ping(i))
    sim.run_for(20.0)
    return {(m.src, m.dst): (m.status, m.reason) for m in sim.history.messages[first:]}


def reachable(sim: Sim, pairs) -> dict[tuple[str, str], bool]:
    """Did a Ping on each pair arrive? (A client drops a Ping it did not ask for as "stale",
    but only after it arrived.)"""
    return {k: v == DELIVERED or v[1] == "stale" for k, v in probe(sim, pairs).items()}


DELIVERED = ("delivered", None)


# --- partitions -------------------------------------------------------------------------------
def test_groups_cannot_talk_across_but_talk_within(sim5):
    sim5.partition(["n1", "n2"], ["n3"])
    got = reachable(sim5, [("n1", "n2"), ("n2", "n1"), ("n1", "n3"), ("n3", "n2")])
    assert got == {("n1", "n2"): True, ("n2", "n1"): True, ("n1", "n3"): False, ("n3", "n2"): False}


def test_unnamed_servers_form_a_remainder_group(sim5):
    sim5.partition(["n1", "n2"], ["n3"])
    got = reachable(sim5, [("n4", "n5"), ("n5", "n4"), ("n4", "n1"), ("n3", "n5"), ("n5", "n2")])
    assert got == {
        ("n4", "n5"): True,
        ("n5", "n4"): True,
        ("n4", "n1"): False,
        ("n3", "n5"): False,
        ("n5", "n2"): False,
    }
    assert sim5.history.faults[-1].args == {"groups": [["n1", "n2"], ["n3"], ["n4", "n5"]]}


def test_unnamed_clients_reach_every_group(sim5):
    sim5.partition(["n1", "n2"], ["n3", "n4", "n5"])
    pairs = [("c1", n) for n in ("n1", "n3", "n5")] + [(n, "c1") for n in ("n2", "n4")]
    assert all(reachable(sim5, pairs).values())


def test_a_named_client_is_cut_off_with_its_group(sim5):
    sim5.partition(["n1", "n2", "c1"], ["n3", "n4", "n5"])
    got = reachable(sim5, [("c1", "n1"), ("c1", "n3"), ("n4", "c1")])
    assert got == {("c1", "n1"): True, ("c1", "n3"): False, ("n4", "c1"): False}


def test_cross_group_drops_are_journaled_with_reason_partition(sim5):
    sim5.partition(["n1"], ["n2"])
    assert probe(sim5, [("n1", "n2")])[("n1", "n2")] == ("dropped", "partition")


def test_a_new_partition_replaces_the_previous_groups(sim5):
    sim5.partition(["n1"], ["n2", "n3", "n4", "n5"])
    sim5.partition(["n1", "n2"], ["n3", "n4", "n5"])
    assert reachable(sim5, [("n1", "n2"), ("n2", "n3")]) == {
        ("n1", "n2"): True,
        ("n2", "n3"): False,
    }


def test_one_way_partition_drops_a_to_b_but_delivers_b_to_a(sim5):
    sim5.partition_oneway(["n1"], ["n2", "n3"])
    got = probe(sim5, [("n1", "n2"), ("n1", "n3"), ("n2", "n1"), ("n3", "n1"), ("n1", "n4")])
    assert got == {
        ("n1", "n2"): ("dropped", "one-way partition"),
        ("n1", "n3"): ("dropped", "one-way partition"),
        ("n2", "n1"): DELIVERED,
        ("n3", "n1"): DELIVERED,
        ("n1", "n4"): DELIVERED,
    }


def test_isolate_cuts_a_node_off_both_ways_until_reconnect(sim5):
    sim5.isolate("n3")
    pairs = [("n3", "n1"), ("n5", "n3"), ("c1", "n3"), ("n1", "n2")]
    assert probe(sim5, pairs) == {
        ("n3", "n1"): ("dropped", "isolated"),
        ("n5", "n3"): ("dropped", "isolated"),
        ("c1", "n3"): ("dropped", "isolated"),
        ("n1", "n2"): DELIVERED,
    }
    sim5.reconnect("n3")
    assert all(reachable(sim5, pairs).values())


def test_reconnect_keeps_other_partitions(sim5):
    sim5.partition(["n1"], ["n2", "n3", "n4", "n5"])
    sim5.isolate("n3")
    sim5.reconnect("n3")
    assert reachable(sim5, [("n3", "n2"), ("n3", "n1")]) == {
        ("n3", "n2"): True,
        ("n3", "n1"): False,
    }


def test_cut_drops_only_that_link_in_both_directions(sim5):
    sim5.cut("n1", "n2")
    got = probe(sim5, [("n1", "n2"), ("n2", "n1"), ("n1", "n3"), ("n3", "n2")])
    assert got == {
        ("n1", "n2"): ("dropped", "link cut"),
        ("n2", "n1"): ("dropped", "link cut"),
        ("n1", "n3"): DELIVERED,
        ("n3", "n2"): DELIVERED,
    }


def test_one_way_cut_drops_only_a_to_b(sim5):
    sim5.cut("n1", "n2", oneway=True)
    got = reachable(sim5, [("n1", "n2"), ("n2", "n1")])
    assert got == {("n1", "n2"): False, ("n2", "n1"): True}


def test_bridge_node_talks_to_both_sides_which_cannot_talk_to_each_other(sim5):
    sim5.bridge(["n1", "n2"], "n3", ["n4", "n5"])
    left, right = ("n1", "n2"), ("n4", "n5")
    across = [(a, b) for a in left for b in right] + [(b, a) for a in left for b in right]
    via_bridge = [(x, "n3") for x in left + right] + [("n3", x) for x in left + right]
    within = [("n1", "n2"), ("n5", "n4")]
    got = reachable(sim5, across + via_bridge + within)
    assert [p for p in across if got[p]] == []
    assert all(got[p] for p in via_bridge + within)


def test_heal_removes_every_kind_of_partition(sim5):
    sim5.partition(["n1"], ["n2"])
    sim5.partition_oneway(["n3"], ["n4"])
    sim5.cut("n4", "n5")
    sim5.isolate("n5")
    sim5.heal()
    pairs = list(itertools.permutations(["n1", "n2", "n3", "n4", "n5", "c1"], 2))
    assert all(reachable(sim5, pairs).values())
    assert sim5.net.connectivity() == {"groups": [], "oneway": [], "cut": [], "isolated": []}


def test_a_partition_installed_while_a_message_is_in_flight_drops_it_on_arrival(sim5):
    sim5.net.configure(latency=Constant(10.0))
    t0 = sim5.now
    sim5.net.send("n1", "n2", Ping(1))
    sim5.partition(["n1"], ["n2"], at=t0 + 5.0)
    sim5.run_for(20.0)
    rec = sim5.history.messages[-1]
    assert (rec.status, rec.reason) == ("dropped", "partition")
    assert rec.recv_time == pytest.approx(t0 + 10.0)  # dropped when it would have arrived
    assert events(sim5, "n2", "recv") == []


def test_a_message_sent_into_a_partition_stays_dropped_after_heal(sim5):
    sim5.net.configure(latency=Constant(10.0))
    sim5.partition(["n1"], ["n2"])
    sim5.net.send("n1", "n2", Ping(1))
    sim5.heal(at=sim5.now + 1.0)
    sim5.run_for(20.0)
    rec = sim5.history.messages[-1]
    assert (rec.status, rec.reason, rec.recv_time) == ("dropped", "partition", None)


def test_self_sends_are_never_partitioned(sim5):
    sim5.isolate("n1")
    assert reachable(sim5, [("n1", "n1")]) == {("n1", "n1"): True}


# --- journal and counters ---------------------------------------------------------------------
def test_journal_records_send_and_receive_times_status_and_size(sim5):
    t0 = sim5.now
    sim5.net.send("n1", "n2", Ping(7))
    sim5.run_for(5.0)
    rec = sim5.history.messages[-1]
    assert (rec.src, rec.dst, rec.type, rec.status, rec.reason) == (
        "n1",
        "n2",
        "Ping",
        "delivered",
        None,
    )
    assert (rec.send_time, rec.recv_time) == (t0, t0 + 1.0)
    assert rec.size == message_size(Ping(7)) == len(repr(Ping(7)))
    assert rec.duplicate is False
    assert [m.id for m in sim5.history.messages] == sorted({m.id for m in sim5.history.messages})


def test_stats_count_sent_delivered_dropped_and_bytes(sim5):
    sim5.cut("n1", "n2")
    pairs = [("n1", "n2"), ("n1", "n3"), ("n2", "n3"), ("n3", "n1"), ("n1", "n2")]
    sizes = 0
    for i, (src, dst) in enumerate(pairs):
        sim5.net.send(src, dst, Ping(i))
        sizes += message_size(Ping(i))
    sim5.run_for(5.0)
    stats = sim5.net.stats
    assert (stats["sent"], stats["delivered"], stats["dropped"]) == (5, 3, 2)
    assert stats["dropped:link cut"] == 2
    assert stats["bytes"] == sizes
    assert sim5.net.sent_by["n1"] == 3 and sim5.net.sent_by_type["Ping"] == 5
    assert sim5.net.bytes_by["n2"] == message_size(Ping(2))


def test_journal_off_keeps_counters_but_no_records():
    sim = Sim(seed=1, latency=1.0, journal=False)
    sim.add_node("n1", Scripted)
    sim.add_node("n2", Scripted)
    sim.run(until=0.5)
    sim.net.send("n1", "n2", Ping(0))
    sim.run_for(5.0)
    assert sim.history.messages == []
    assert sim.net.stats["delivered"] == 1
    assert len(events(sim, "n2", "recv")) == 1


# Message shapes for the size rule (the network computes sizes on a fast path; it must agree).
@dataclass(frozen=True, slots=True)
class Empty:
    pass


@dataclass(frozen=True)
class Wide:
    term: int
    leader: str
    entries: tuple
    commit: float
    hidden: str = field(default="x" * 50, repr=False)


@dataclass(frozen=True)
class Child(Wide):
    extra: int = 0


@dataclass(frozen=True, repr=False)
class ChildNoRepr(Wide):
    more: str = "more"


class PlainSub(Wide):
    pass


@dataclass(frozen=True)
class Sized:
    payload: bytes

    def size_bytes(self) -> int:
        return 1000 + len(self.payload)


@dataclass(frozen=True)
class SizeField:
    size_bytes: int


@dataclass(frozen=True)
class CustomRepr:
    x: int

    def __repr__(self) -> str:
        return "C"


class Outer:
    @dataclass(frozen=True)
    class Inner:
        v: str


WIDE = Wide(3, "n1", ((1, "set x"), (2, "del y")), 7.25)
MESSAGES = [
    Ping(12345),
    Empty(),
    WIDE,
    Child(1, "n'2", (), 0.1, extra=99),
    ChildNoRepr(1, "n2", (), 0.0),
    PlainSub(1, "n2", ("é", "\n"), 1e-9),
    Sized(b"abc"),
    SizeField(77),
    CustomRepr(5),
    Outer.Inner("v"),
    Wide(1, "n1", (WIDE,), 2.0),
    Request(4, Ping(1)),
    Response(4, ok=False, error="not_leader"),
    ("tuple", 1),
    {"a": [1, 2]},
    "text",
]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__qualname__)
def test_the_journal_records_each_message_size_by_the_size_rule(sim5, msg):
    expected = int(msg.size_bytes()) if callable(getattr(msg, "size_bytes", None)) else None
    expected = expected if expected is not None else len(repr(msg))
    for _ in range(2):  # the first send of a type and a cached one
        sim5.net.send("n1", "n2", msg)
        assert sim5.history.messages[-1].size == message_size(msg) == expected
    assert sim5.net.stats["bytes"] == 2 * expected


def test_sent_by_type_counts_rpc_envelopes_by_body(sim5):
    for msg in (Request(1, Ping(1)), Request(2, Ping(2)), Request(3, None), Ping(3)):
        sim5.net.send("c1", "n1", msg)
    assert sim5.net.sent_by_type == {"Request:Ping": 2, "Request": 1, "Ping": 1}


def test_message_type_names_the_body_of_rpc_envelopes():
    assert message_type(Request(1, Ping(1))) == "Request:Ping"
    assert message_type(Response(1, True, None)) == "Response"
    assert message_type(Ping(1)) == "Ping"


def test_the_most_specific_link_policy_wins(sim5):
    sim5.net.configure(latency=Constant(3.0))
    sim5.net.configure(src="n1", latency=Constant(5.0))
    sim5.net.configure(src="n1", dst="n2", latency=Constant(7.0))
    sim5.net.configure(dst="n4", latency=Constant(9.0))
    t0 = sim5.now
    for dst in ("n2", "n3"):
        sim5.net.send("n1", dst, Ping(0))
    sim5.net.send("n3", "n2", Ping(0))
    sim5.net.send("n3", "n4", Ping(0))
    sim5.run_for(20.0)
    delays = {(m.src, m.dst): m.recv_time - t0 for m in sim5.history.messages[-4:]}
    assert delays == {("n1", "n2"): 7.0, ("n1", "n3"): 5.0, ("n3", "n2"): 3.0, ("n3", "n4"): 9.0}


def test_interceptors_can_drop_or_delay_messages(sim5):
    sim5.net.add_interceptor(lambda src, dst, msg, rng: DROP if dst == "n2" else None)
    sim5.net.add_interceptor(lambda src, dst, msg, rng: 4.0 if dst == "n3" else None)
    t0 = sim5.now
    got = probe(sim5, [("n1", "n2"), ("n1", "n3")])
    assert got == {("n1", "n2"): ("dropped", "intercepted"), ("n1", "n3"): DELIVERED}
    assert sim5.history.messages[-1].recv_time == t0 + 1.0 + 4.0


# --- ordering ---------------------------------------------------------------------------------
def received_order(latency, fifo: bool, n: int = 300) -> list[int]:
    sim = Sim(seed=5, latency=latency, fifo=fifo)
    sim.add_node("a", Scripted)
    sim.add_node("b", Scripted)
    sim.run(until=0.5)
    for i in range(n):
        sim.net.send("a", "b", Ping(i))
        sim.run_for(0.1)  # sends 0.1 ms apart; delays are ~ms, so they overtake without FIFO
    sim.run_for(10_000.0)
    return [int(e.data["msg"][len("Ping(seq=") : -1]) for e in events(sim, "b", "recv")]


def test_fifo_links_deliver_in_send_order_under_highly_variable_latency():
    got = received_order(Pareto(0.5, 1.1), fifo=True)
    assert got == list(range(300))


def test_non_fifo_links_reorder_messages():
    got = received_order(Exponential(2.0), fifo=False)
    assert sorted(got) == list(range(300))
    inversions = sum(1 for x, y in itertools.pairwise(got) if x > y)
    assert inversions > 0


# --- loss and duplication ---------------------------------------------------------------------
def blast(n: int, **kw) -> Sim:
    sim = Sim(seed=9, latency=Constant(1.0), **kw)
    sim.add_node("a", Scripted)
    sim.add_node("b", Scripted)
    sim.run(until=0.5)
    for i in range(n):
        sim.net.send("a", "b", Ping(i))
    sim.run_for(5.0)
    return sim


def test_loss_probability_is_respected():
    n, p = 4000, 0.3
    sim = blast(n, loss=p)
    lost = sim.net.stats["dropped:loss"]
    assert abs(lost - n * p) <= Z * math.sqrt(n * p * (1 - p)), f"lost {lost} of {n}"
    assert lost == sum(1 for m in sim.history.messages if m.reason == "loss")
    assert len(events(sim, "b", "recv")) == n - lost


def test_duplication_probability_is_respected_and_duplicates_are_journaled():
    n, p = 4000, 0.2
    sim = blast(n, duplicate=p)
    dups = [m for m in sim.history.messages if m.duplicate]
    assert abs(len(dups) - n * p) <= Z * math.sqrt(n * p * (1 - p)), f"{len(dups)} duplicates"
    assert sim.net.stats["duplicated"] == len(dups)
    assert sim.net.stats["sent"] == n  # a duplicate is the network's doing, not a second send
    assert len(sim.history.messages) == n + len(dups)
    # the handler really sees each duplicated message twice
    assert len(events(sim, "b", "recv")) == n + len(dups)


def test_a_lost_message_is_never_duplicated():
    n, loss, dup = 4000, 0.5, 0.5
    sim = blast(n, loss=loss, duplicate=dup)
    recs = sim.history.messages
    originals = {m.id: m for m in recs if not m.duplicate}
    dups = [m for m in recs if m.duplicate]
    # a duplicate is journaled right after its original, which was not lost
    assert all(originals[m.id - 1].reason != "loss" for m in dups)
    p = (1 - loss) * dup
    assert abs(len(dups) - n * p) <= Z * math.sqrt(n * p * (1 - p)), f"{len(dups)} duplicates"


# --- client RPC -------------------------------------------------------------------------------
def rpc_sim() -> Sim:
    sim = Sim(seed=2, latency=Constant(1.0))
    sim.add_node("n1", RpcServer)
    sim.add_client("c1")
    return sim


def run_calls(sim: Sim, asks, timeout_ms: float = 10.0):
    results = []

    def workload():
        client = sim.clients["c1"]
        for ask in asks:
            results.append((yield from client.call("n1", ask, timeout_ms=timeout_ms)))

    sim.process(workload())
    sim.run()
    return results


def test_call_returns_ok_with_the_reply_body():
    sim = rpc_sim()
    [res] = run_calls(sim, [Ask("ok")])
    assert (res.type, res.value, res.error, res.latency_ms) == ("ok", ("done", 1), None, 2.0)
    assert res.ok


def test_a_response_with_ok_false_is_a_definite_fail():
    [res] = run_calls(rpc_sim(), [Ask("fail")])
    assert (res.type, res.error) == ("fail", "not_leader")
    assert not res.ok


def test_no_reply_within_the_timeout_is_an_indefinite_info():
    [res] = run_calls(rpc_sim(), [Ask("ignore")], timeout_ms=10.0)
    assert (res.type, res.error, res.latency_ms) == ("info", "timeout", 10.0)


def test_a_late_reply_is_dropped_as_stale_and_does_not_answer_the_next_call():
    sim = rpc_sim()
    # call 1 times out at t=10; its reply arrives at t=1+15+1=17, during call 2 (slow: 20 ms)
    res1, res2 = run_calls(sim, [Ask("late", 15.0), Ask("late", 5.0)], timeout_ms=10.0)
    assert res1.type == "info"
    assert (res2.type, res2.value) == ("ok", ("late", 2))
    stale = [m for m in sim.history.messages if m.reason == "stale"]
    assert len(stale) == 1 and stale[0].type == "Response:tuple" and stale[0].recv_time == 17.0


def test_client_operations_are_recorded_in_the_history():
    sim = rpc_sim()

    def workload():
        client = sim.clients["c1"]
        for ask in (Ask("ok"), Ask("fail"), Ask("ignore")):
            inv = client.invoke("write", ask.mode)
            client.complete(inv, (yield from client.call("n1", ask, timeout_ms=10.0)))

    sim.process(workload())
    sim.run()
    types = [(op.type, op.error) for op in sim.history.ops]
    assert types == [
        ("invoke", None),
        ("ok", None),
        ("invoke", None),
        ("fail", "not_leader"),
        ("invoke", None),
        ("info", "timeout"),
    ]
