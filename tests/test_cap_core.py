"""Unit tests of the CAP chapter's protocol cores, called with a bare Context (no simulator)."""

from __future__ import annotations

import ast
import pathlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dslab.cap.ap import APReplica, Sibling, Version, merge_siblings
from dslab.cap.cp import CasPaxosReplica
from dslab.cap.messages import (
    Accept,
    Accepted,
    Cas,
    Discover,
    Heartbeat,
    Nack,
    Prepare,
    Promise,
    Read,
    Register,
    Replicate,
    ReplicateRenew,
    Write,
)
from dslab.cap.registry import EurekaNode, RegistryMachine, Tick
from dslab.core import Context, Request, Response

PEERS = ("n2", "n3")


def boot(handler, node="n1", peers=PEERS, now=0.0):
    ctx = Context(node, now=now, rng=random.Random(1), peers=peers)
    handler.on_start(ctx)
    ctx.take_effects()
    return ctx


def responses(ctx):
    return [e.msg for e in ctx.sent(Response)]


# -- CP: the acceptor (CASPaxos rules 1-3) -------------------------------------------------------
def test_acceptor_promises_only_a_higher_ballot():
    r = CasPaxosReplica()
    ctx = boot(r)
    r.on_message(ctx, "n2", Prepare((3, "n2")))
    r.on_message(ctx, "n3", Prepare((2, "n3")))
    r.on_message(ctx, "n3", Prepare((3, "n2")))
    msgs = [e.msg for e in ctx.sent()]
    assert isinstance(msgs[0], Promise) and msgs[0].ballot == (3, "n2")
    assert msgs[1] == Nack((2, "n3"), (3, "n2"))
    assert msgs[2] == Nack((3, "n2"), (3, "n2"))  # a promise is never given twice


def test_acceptor_accepts_at_or_above_its_promise_and_persists_first():
    r = CasPaxosReplica()
    ctx = boot(r)
    r.on_message(ctx, "n2", Prepare((3, "n2")))
    r.on_message(ctx, "n3", Accept((2, "n3"), (7, ())))
    r.on_message(ctx, "n2", Accept((3, "n2"), (8, ())))
    msgs = [e.msg for e in ctx.sent()]
    assert msgs[1] == Nack((2, "n3"), (3, "n2"))
    assert msgs[2] == Accepted((3, "n2"))
    assert ctx.storage["state"] == (8, ()) and tuple(ctx.storage["accepted"]) == (3, "n2")


def test_acceptor_state_survives_a_restart():
    r = CasPaxosReplica()
    ctx = boot(r)
    r.on_message(ctx, "n2", Accept((4, "n2"), (9, ())))
    fresh = CasPaxosReplica()
    fresh.on_start(Context("n1", storage=ctx.storage, peers=PEERS))
    assert fresh.data == 9 and fresh.frontier() == (4, "n2") and fresh.round == 4


# -- CP: the proposer (rules 2-5) ----------------------------------------------------------------
def test_proposer_prepares_at_every_peer_with_a_fresh_ballot():
    r = CasPaxosReplica()
    ctx = boot(r)
    r.on_message(ctx, "c1", Request(1, Write(5)))
    prepares = ctx.sent(Prepare)
    assert sorted(e.dst for e in prepares) == ["n2", "n3"]
    assert {e.msg.ballot for e in prepares} == {(1, "n1")}
    assert "deadline:c1#1" in ctx.timers() and "attempt:c1#1" in ctx.timers()


def test_proposer_applies_the_operation_to_the_highest_accepted_state():
    r = CasPaxosReplica()
    ctx = boot(r)
    r.on_message(ctx, "c1", Request(1, Cas(3, 4)))
    b = (1, "n1")
    # n2 accepted 3 at ballot (0, "n9"), higher than n1's own (nothing accepted)
    r.on_message(ctx, "n2", Promise(b, (0, "n9"), (3, ())))
    accepts = ctx.sent(Accept)
    assert {e.dst for e in accepts} == {"n2", "n3"}
    assert accepts[0].msg.state == (4, (("c1", 1, True, None),))
    r.on_message(ctx, "n3", Accepted(b))
    assert Response(1, True, None) in responses(ctx)


def test_cas_that_does_not_match_is_a_definite_failure():
    r = CasPaxosReplica()
    ctx = boot(r)
    r.on_message(ctx, "c1", Request(1, Cas(3, 4)))
    b = (1, "n1")
    r.on_message(ctx, "n2", Promise(b, (0, ""), (None, ())))
    r.on_message(ctx, "n2", Accepted(b))
    assert responses(ctx) == [Response(1, False, None, "cas_mismatch")]


def test_read_runs_both_phases_before_answering():
    r = CasPaxosReplica()
    ctx = boot(r)
    r.on_message(ctx, "c1", Request(1, Read()))
    b = (1, "n1")
    r.on_message(ctx, "n2", Promise(b, (5, "n3"), (42, ())))
    assert responses(ctx) == []  # a majority promised, but nothing is chosen yet
    assert ctx.sent(Accept)[0].msg.state == (42, ())
    r.on_message(ctx, "n2", Accepted(b))
    assert responses(ctx) == [Response(1, True, 42)]


def test_unavailable_is_definite_only_when_no_accept_was_ever_sent():
    r = CasPaxosReplica(op_timeout_ms=100.0)
    ctx = boot(r)
    r.on_message(ctx, "c1", Request(1, Write(5)))  # the peers never answer: a partition
    r.on_timer(ctx, "deadline:c1#1")
    assert responses(ctx) == [Response(1, False, None, "unavailable")]


def test_no_answer_once_an_accept_may_have_landed():
    r = CasPaxosReplica()
    ctx = boot(r)
    r.on_message(ctx, "c1", Request(1, Write(5)))
    r.on_message(ctx, "n2", Promise((1, "n1"), (0, ""), (None, ())))
    assert ctx.sent(Accept)  # phase 2 started, then the partition ate the answers
    r.on_timer(ctx, "deadline:c1#1")
    assert responses(ctx) == []  # indefinite: the client's timeout records info


def test_a_retry_that_finds_its_own_write_does_not_apply_it_twice():
    r = CasPaxosReplica()
    ctx = boot(r)
    r.on_message(ctx, "c1", Request(1, Cas(None, 7)))
    r.on_message(ctx, "n2", Nack((1, "n1"), (5, "n3")))  # someone is ahead: back off, retry
    r.on_timer(ctx, "retry:c1#1")
    b = (6, "n1")
    assert ctx.sent(Prepare)[-1].msg.ballot == b
    # an earlier attempt's Accept was adopted: the chosen state already has our cas applied
    r.on_message(ctx, "n2", Promise(b, (5, "n3"), (7, (("c1", 1, True, None),))))
    assert ctx.sent(Accept)[-1].msg.state == (7, (("c1", 1, True, None),))
    r.on_message(ctx, "n2", Accepted(b))
    assert responses(ctx) == [Response(1, True, None)]  # not a cas_mismatch against 7


def test_a_single_replica_is_its_own_majority():
    r = CasPaxosReplica()
    ctx = boot(r, peers=())
    r.on_message(ctx, "c1", Request(1, Write(5)))
    r.on_message(ctx, "c1", Request(2, Read()))
    assert responses(ctx) == [Response(1, True, None), Response(2, True, 5)]


def test_late_answers_to_an_abandoned_attempt_are_ignored():
    r = CasPaxosReplica()
    ctx = boot(r)
    r.on_message(ctx, "c1", Request(1, Write(5)))
    r.on_timer(ctx, "attempt:c1#1")  # silent round: back off
    r.on_message(ctx, "n2", Promise((1, "n1"), (0, ""), (None, ())))
    assert not ctx.sent(Accept)


# -- AP ------------------------------------------------------------------------------------------
def test_ap_answers_at_once_from_the_local_copy():
    r = APReplica()
    ctx = boot(r, now=10.0)
    r.on_message(ctx, "c1", Request(1, Write(5)))
    r.on_message(ctx, "c1", Request(2, Read()))
    assert responses(ctx) == [Response(1, True, None), Response(2, True, 5)]
    assert {e.dst for e in ctx.sent(Replicate)} == {"n2", "n3"}


def test_lww_merge_keeps_the_larger_stamp_whatever_the_order():
    a, b = Version(5.0, "n2", 1, "a", "w1"), Version(7.0, "n1", 1, "b", "w2")
    r1, r2 = APReplica(), APReplica()
    c1, c2 = boot(r1), boot(r2)
    r1.on_message(c1, "n2", Replicate(a))
    r1.on_message(c1, "n3", Replicate(b))
    r2.on_message(c2, "n3", Replicate(b))
    r2.on_message(c2, "n2", Replicate(a))
    assert r1.value == r2.value == "b"


def test_lww_write_on_a_clock_that_is_behind_is_lost_at_once():
    r = APReplica()
    ctx = boot(r, now=100.0)
    r.on_message(ctx, "n2", Replicate(Version(120.0, "n2", 1, "older", "c2#1")))
    ctx.local_time = 110.0  # true time is later, but this clock reads 110 < 120
    r.on_message(ctx, "c1", Request(1, Write("newer")))
    assert Response(1, True, None) in responses(ctx)  # acknowledged...
    assert r.value == "older"  # ...and silently discarded


def test_siblings_keep_concurrent_writes_and_a_later_write_supersedes_them():
    r1, r2 = APReplica("siblings"), APReplica("siblings")
    c1, c2 = boot(r1, "n1", ("n2",)), boot(r2, "n2", ("n1",))
    r1.on_message(c1, "a", Request(1, Write("x")))
    r2.on_message(c2, "b", Request(1, Write("y")))  # concurrent: neither saw the other
    r1.on_message(c1, "n2", Replicate(r2.siblings))
    assert r1.value == ["x", "y"]
    r1.on_message(c1, "a", Request(2, Write("z")))  # made after seeing both
    r2.on_message(c2, "n1", Replicate(r1.siblings))
    assert r1.value == r2.value == ["z"]


def test_merge_siblings_is_commutative_and_idempotent():
    x = Sibling("x", (("n1", 1),), "a#1")
    y = Sibling("y", (("n2", 1),), "b#1")
    z = Sibling("z", (("n1", 1), ("n2", 1), ("n3", 1)), "c#1")
    assert merge_siblings((x,), (y,)) == merge_siblings((y,), (x,))
    assert merge_siblings((x, y), (x, y)) == merge_siblings((x, y),)
    assert merge_siblings((x, y), (z,)) == (z,)


# -- registries ----------------------------------------------------------------------------------
def test_registry_expires_a_stalled_nodes_sessions_only_if_its_counter_did_not_move():
    m = RegistryMachine()
    data = (((("i1", "z1"), ("i2", "z2"))), (("z1", 4), ("z2", 9)))
    stalled, _, _ = m.apply(data, Tick("z2", (), (("z1", 4),)))
    assert [i for i, _ in stalled[0]] == ["i2"]
    moved, _, _ = m.apply(data, Tick("z2", (), (("z1", 3),)))  # z1 ticked since: keep
    assert [i for i, _ in moved[0]] == ["i1", "i2"]


def eureka(n_instances=10, **kw):
    node = EurekaNode(lease_ms=300.0, heartbeat_ms=100.0, eviction_interval_ms=100.0,
                      renewal_window_ms=300.0, **kw)
    ctx = boot(node, "z1", ("z2",))
    for k in range(n_instances):
        node.on_message(ctx, f"i{k}", Request(1, Register(f"i{k}")))
    return node, ctx


def beat(node, ctx, alive, t_from, t_to):
    """Every ``alive`` instance renews every 100 ms from ``t_from`` to ``t_to``; eviction runs
    after each round."""
    t = t_from
    while t <= t_to:
        ctx.local_time = t
        for i in alive:
            node.on_message(ctx, i, Request(2, Heartbeat(i)))
        ctx.local_time = t + 50.0
        node.on_timer(ctx, "evict")
        t += 100.0


def test_eviction_removes_a_dead_instance_while_renewals_stay_above_threshold():
    node, ctx = eureka()
    beat(node, ctx, [f"i{k}" for k in range(10)], 0.0, 400.0)
    beat(node, ctx, [f"i{k}" for k in range(9)], 500.0, 1200.0)  # 90% renew: above 85%
    assert "i9" not in node.instances() and not node.preserving


def test_self_preservation_stops_eviction_below_the_renewal_threshold():
    node, ctx = eureka()
    beat(node, ctx, [f"i{k}" for k in range(10)], 0.0, 400.0)
    beat(node, ctx, [f"i{k}" for k in range(6)], 500.0, 2000.0)  # 60% renew: a partition?
    assert node.preserving
    assert node.instances() == [f"i{k}" for k in range(10)]  # nobody evicted
    assert any(e.name == "self_preservation" and e.data["on"] for e in ctx.effects
               if hasattr(e, "data"))


def test_without_self_preservation_a_partition_empties_the_registry_gradually():
    node, ctx = eureka(self_preservation=False)
    beat(node, ctx, [f"i{k}" for k in range(10)], 0.0, 400.0)
    beat(node, ctx, [f"i{k}" for k in range(6)], 500.0, 2000.0)
    assert node.instances() == [f"i{k}" for k in range(6)]


def test_eviction_is_capped_per_pass_like_eureka():
    node, ctx = eureka(self_preservation=False)
    beat(node, ctx, [f"i{k}" for k in range(10)], 0.0, 200.0)
    ctx.local_time = 800.0  # every lease expired at once
    node.on_timer(ctx, "evict")
    assert len(node.instances()) == 8  # at most 10 - int(10 * 0.85) = 2 per pass


def test_a_replicated_renewal_for_an_unknown_instance_registers_it():
    node, ctx = eureka(0)
    node.on_message(ctx, "z2", ReplicateRenew("i7"))
    node.on_message(ctx, "c", Request(1, Discover()))
    assert responses(ctx)[-1] == Response(1, True, ["i7"])


# -- layering ------------------------------------------------------------------------------------
@pytest.mark.parametrize("module", ["cp", "ap", "registry", "messages"])
def test_protocol_cores_import_no_simpy(module):
    path = pathlib.Path(__file__).parent.parent / "dslab" / "cap" / f"{module}.py"
    tree = ast.parse(path.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [n for n in names if n.split(".")[0] == "simpy" or n.startswith("dslab.sim")]


# -- property: AP merges do not depend on delivery order -----------------------------------------
def _payloads(resolution):
    """Six Replicate payloads: two writes on each of three replicas, some seeing earlier ones."""
    reps = {n: APReplica(resolution) for n in ("n1", "n2", "n3")}
    ctxs = {n: boot(r, n, tuple(p for p in reps if p != n)) for n, r in reps.items()}
    out = []
    for step, node in enumerate(["n1", "n2", "n1", "n3", "n2", "n3"]):
        ctx = ctxs[node]
        ctx.local_time = 10.0 * step + (3.0 if node == "n2" else 0.0)
        reps[node].on_message(ctx, "c", Request(step, Write(step)))
        sent = ctx.sent(Replicate)
        out.append(sent[-1].msg)
        if step == 2:  # n1's second write has seen n2's first: deliver it before writing
            reps["n3"].on_message(ctxs["n3"], "n1", out[2])
    return out


@settings(max_examples=60, deadline=None)
@given(order=st.permutations(list(range(6))), resolution=st.sampled_from(["lww", "siblings"]))
def test_ap_replicas_that_received_the_same_writes_agree_whatever_the_order(order, resolution):
    payloads = _payloads(resolution)
    a, b = APReplica(resolution), APReplica(resolution)
    ca, cb = boot(a, "n9"), boot(b, "n8")
    for i in order:
        a.on_message(ca, "x", payloads[i])
    for i in range(6):
        b.on_message(cb, "x", payloads[i])
    for i in order[:3]:  # duplicates change nothing
        a.on_message(ca, "x", payloads[i])
    assert a.digest() == b.digest()


# -- CP: a client request is proposed at most once (duplicates, late copies) ---------------------
def test_a_duplicated_request_does_not_replace_the_running_proposal():
    r = CasPaxosReplica()
    ctx = boot(r)
    r.on_message(ctx, "c1", Request(1, Write(5)))
    ctx.take_effects()
    r.on_message(ctx, "c1", Request(1, Write(5)))  # the network delivered a second copy
    assert ctx.sent() == [] and ctx.timers() == {}  # no new deadline, proposal or answer
    # the original proposal still runs: its round completes and it answers once
    b = (1, "n1")
    r.on_message(ctx, "n2", Promise(b, (0, ""), (None, ())))
    r.on_message(ctx, "n2", Accepted(b))
    assert responses(ctx) == [Response(1, True, None)]
    r.on_timer(ctx, "deadline:c1#1")  # cancelled timers never fire; a stale one changes nothing
    assert responses(ctx) == [Response(1, True, None)]


def test_a_late_copy_of_an_older_request_is_never_applied():
    r = CasPaxosReplica()
    ctx = boot(r, peers=())
    r.on_message(ctx, "c1", Request(1, Write(5)))
    r.on_message(ctx, "c1", Request(2, Write(6)))
    r.on_message(ctx, "c1", Request(1, Write(5)))  # a delayed duplicate of the first write
    r.on_message(ctx, "c1", Request(3, Read()))
    assert responses(ctx) == [Response(1, True, None), Response(2, True, None),
                              Response(3, True, 6)]


def test_a_request_refused_as_unavailable_is_not_proposed_by_a_later_copy_even_after_a_restart():
    r = CasPaxosReplica(op_timeout_ms=100.0)
    ctx = boot(r)
    r.on_message(ctx, "c1", Request(1, Write(5)))  # the peers never answer: a partition
    r.on_timer(ctx, "deadline:c1#1")
    assert responses(ctx) == [Response(1, False, None, "unavailable")]  # a definite no
    fresh = CasPaxosReplica()  # crash and restart: only the storage survives
    ctx2 = Context("n1", rng=random.Random(2), storage=ctx.storage, peers=PEERS)
    fresh.on_start(ctx2)
    fresh.on_message(ctx2, "c1", Request(1, Write(5)))  # a late copy arrives after the restart
    assert ctx2.sent(Prepare) == [] and responses(ctx2) == []  # never proposed after the no


def test_a_nack_of_a_duplicated_prepare_is_not_a_refusal():
    r = CasPaxosReplica()
    ctx = boot(r)
    r.on_message(ctx, "c1", Request(1, Write(5)))
    b = (1, "n1")
    # n2 promised b; the second copy of the same Prepare is refused since b is already promised
    r.on_message(ctx, "n2", Promise(b, (0, ""), (None, ())))
    r.on_message(ctx, "n2", Nack(b, b))
    assert ctx.sent(Accept) and "retry:c1#1" not in ctx.timers()  # phase 2 goes on
    rep = CasPaxosReplica()  # the same when the Nack of the copy overtakes the Promise
    r2 = boot(rep)
    rep.on_message(r2, "c1", Request(1, Write(5)))
    rep.on_message(r2, "n2", Nack(b, b))
    rep.on_message(r2, "n2", Promise(b, (0, ""), (None, ())))
    assert r2.sent(Accept) and "retry:c1#1" not in r2.timers()
