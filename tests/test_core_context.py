"""A bare ``Context`` is the unit-test double of the world (dslab.core rules 2 and 3).

A handler's sends, timer changes and log lines are recorded as plain data (``Send``, ``SetTimer``,
``CancelTimer``, ``Log``) in call order, so a protocol transition can be tested without a
simulator. Storage takes effect at once and deep-copies values in and out.
"""

from __future__ import annotations

import random

import pytest
from scenarios import Ask, RpcServer, Scripted, SetT, Write

from dslab.core import (
    CancelTimer,
    Context,
    Handler,
    Log,
    Request,
    Response,
    Send,
    SetTimer,
    Storage,
)


class Candidate(Handler):
    """A tiny election-ish handler, used to show a unit test of a transition."""

    def on_timer(self, ctx: Context, name: str) -> None:
        ctx.storage["term"] = ctx.storage.get("term", 0) + 1
        for peer in ctx.peers:
            ctx.send(peer, ("vote?", ctx.storage["term"]))
        ctx.set_timer("election", 150.0 + ctx.rng.random() * 150.0)
        ctx.cancel_timer("heartbeat")
        ctx.log("candidate", term=ctx.storage["term"])


def test_handler_effects_are_recorded_as_data_in_call_order():
    ctx = Context("n1", peers=("n2", "n3"), rng=random.Random(1))
    Candidate().on_timer(ctx, "election")
    delay = ctx.effects[2].delay_ms
    assert ctx.effects == [
        Send("n2", ("vote?", 1)),
        Send("n3", ("vote?", 1)),
        SetTimer("election", delay),
        CancelTimer("heartbeat"),
        Log("candidate", {"term": 1}),
    ]
    assert 150.0 <= delay <= 300.0


def test_storage_writes_take_effect_immediately():
    ctx = Context("n1", peers=("n2",))
    Candidate().on_timer(ctx, "election")
    assert ctx.storage["term"] == 1  # persisted before any Send leaves


def test_take_effects_hands_over_and_clears_the_effects():
    ctx = Context("n1")
    ctx.send("n2", "hi")
    assert ctx.take_effects() == [Send("n2", "hi")]
    assert ctx.effects == []


def test_sent_filters_sends_by_message_type():
    ctx = Context("n1")
    RpcServer().on_start(ctx)
    RpcServer().on_message(ctx, "c1", Request(7, Ask("ok")))
    ctx.send("n2", "gossip")
    assert ctx.sent(Response) == [Send("c1", Response(7, ok=True, body=("done", 7)))]
    assert len(ctx.sent()) == 2


def test_a_definite_refusal_is_a_response_with_ok_false():
    ctx = Context("n1")
    RpcServer().on_message(ctx, "c1", Request(3, Ask("fail")))
    assert ctx.sent() == [Send("c1", Response(3, ok=False, error="not_leader"))]


def test_timers_view_applies_replacements_and_cancellations():
    ctx = Context("n1")
    ctx.set_timer("a", 10.0)
    ctx.set_timer("b", 20.0)
    ctx.set_timer("a", 30.0)
    ctx.cancel_timer("b")
    ctx.set_timer("c", 5)
    assert ctx.timers() == {"a": 30.0, "c": 5.0}


def test_set_timer_rejects_a_negative_delay():
    ctx = Context("n1")
    with pytest.raises(ValueError, match=r"delay_ms=-1.*'t'"):
        ctx.set_timer("t", -1)
    assert ctx.effects == []


def test_now_is_the_local_time_the_runtime_set():
    ctx = Context("n1", now=123.5)
    assert ctx.now() == 123.5
    ctx.local_time = 200.0
    assert ctx.now() == 200.0


def test_a_scripted_handler_reacts_to_commands_without_a_simulator():
    ctx = Context("n1", now=5.0)
    h = Scripted()
    h.on_start(ctx)
    h.on_message(ctx, "c1", SetT("t", 10.0))
    h.on_message(ctx, "c1", Write("k", 1))
    assert ctx.timers() == {"t": 10.0}
    assert ctx.storage["k"] == 1 and h.volatile == {"k": 1}
    logs = [e for e in ctx.effects if isinstance(e, Log)]
    assert [lg.name for lg in logs] == ["start", "recv", "recv"]
    assert logs[1].data == {"src": "c1", "msg": "SetT(name='t', delay_ms=10.0)", "local": 5.0}


def test_default_rng_is_seeded_from_the_node_name():
    a, b = Context("n1"), Context("n1")
    assert [a.rng.random() for _ in range(3)] == [b.rng.random() for _ in range(3)]
    assert Context("n1").rng.random() != Context("n2").rng.random()


# --- storage ------------------------------------------------------------------------------------
def test_storage_deep_copies_on_write():
    st = Storage()
    log = [1, 2]
    st["log"] = log
    log.append(3)
    assert st["log"] == [1, 2]


def test_storage_deep_copies_on_read():
    st = Storage()
    st["log"] = [[1], [2]]
    got = st["log"]
    got[0].append(99)
    assert st["log"] == [[1], [2]]


def test_storage_counts_writes_and_bytes():
    st = Storage()
    st["a"] = 12345
    st["b"] = "xy"
    assert (st.writes, st.bytes_written) == (2, len("12345") + len("'xy'"))
    assert st.size_bytes() == len("12345") + len("'xy'")


def test_storage_iterates_in_sorted_key_order():
    st = Storage()
    for k in ("c", "a", "b"):
        st[k] = 0
    assert list(st) == ["a", "b", "c"] and len(st) == 3
    del st["b"]
    assert list(st) == ["a", "c"]


def test_storage_keys_must_be_strings():
    with pytest.raises(TypeError, match=r"key=3"):
        Storage()[3] = "x"  # type: ignore[index]
