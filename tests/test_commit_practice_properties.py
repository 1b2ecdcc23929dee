"""Property tests: a TCC or saga participant ends in a consistent state whatever order and
however many times a correct coordinator's messages arrive (duplicated, delayed, reordered)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from dslab.commit.ledger import INITIAL_BALANCE
from dslab.commit.saga import Compensate, SagaParticipant, Step
from dslab.commit.tcc import Cancel, Confirm, TccParticipant, Try
from dslab.core import Context, Storage


def deliver(handler, msgs) -> Context:
    storage = Storage()
    ctx = None
    for m in msgs:
        ctx = Context("p1", rng=random.Random(0), storage=storage)
        handler.on_message(ctx, "co", m)
    return Context("p1", storage=storage)


@st.composite
def tcc_runs(draw):
    """What a correct TCC coordinator can make one participant receive: copies of Try, then the
    decision's copies; Confirm only if the participant's Try arrived before it (its TryReply was
    needed), any Try copy may be late (after the decision) if the decision is Cancel."""
    delta = draw(st.sampled_from([-30, 30]))
    confirm = draw(st.booleans())
    tries = draw(st.integers(min_value=1 if confirm else 0, max_value=3))
    decisions = draw(st.integers(min_value=1, max_value=3))
    msgs = [Try("t1", delta)] * tries + [Confirm("t1") if confirm else Cancel("t1")] * decisions
    if confirm:  # the first Try came first; the rest may be anywhere
        rest = draw(st.permutations(msgs[1:]))
        return delta, confirm, [msgs[0], *rest]
    return delta, confirm, draw(st.permutations(msgs))


@given(tcc_runs())
@settings(max_examples=300, deadline=None)
def test_tcc_participant_ends_confirmed_or_released_with_nothing_frozen(run):
    delta, confirm, msgs = run
    p = TccParticipant()
    ctx = deliver(p, msgs)
    assert p.frozen(ctx) == 0, f"frozen after {msgs}"
    assert p.balance(ctx) == INITIAL_BALANCE + (delta if confirm else 0), msgs


@st.composite
def saga_runs(draw):
    """Copies of a step and (if the saga goes back) copies of its compensation, in any order
    when compensating (a step may arrive late), the step first otherwise."""
    delta = draw(st.sampled_from([-30, 30]))
    back = draw(st.booleans())
    steps = draw(st.integers(min_value=0 if back else 1, max_value=3))
    comps = draw(st.integers(min_value=1, max_value=3)) if back else 0
    msgs = [Step("t1", 0, delta)] * steps + [Compensate("t1", 0)] * comps
    return delta, back, draw(st.permutations(msgs)) if back else msgs


@given(saga_runs())
@settings(max_examples=300, deadline=None)
def test_saga_participant_applies_once_or_ends_undone(run):
    delta, back, msgs = run
    p = SagaParticipant()
    ctx = deliver(p, msgs)
    assert p.balance(ctx) == INITIAL_BALANCE + (0 if back else delta), msgs
