"""Unit tests of the transactions-in-practice cores (TCC, saga, outbox, transactional messages),
each handler called with a bare Context, and of their checker on hand-made histories.

One behaviour per test, named after the rule: TCC's idempotency, empty rollback (空回滚) and
suspension (悬挂); the saga's compensation order; the outbox's single local transaction and
at-least-once relay; the consumer's deduplication; RocketMQ's half message and check-back (回查).
"""

from __future__ import annotations

import random

import pytest

from dslab.commit.ledger import (
    INITIAL_BALANCE,
    Balance,
    BeginTransfer,
    ReadBalance,
    Transfer,
    transfer,
)
from dslab.commit.outbox import DedupConsumer, Deliver, DeliverAck, OutboxService
from dslab.commit.practice_check import eventual_atomicity, visibility_windows
from dslab.commit.saga import (
    Compensate,
    Compensated,
    SagaCoordinator,
    SagaParticipant,
    Step,
    StepReply,
)
from dslab.commit.tcc import Cancel, Confirm, Done, TccCoordinator, TccParticipant, Try, TryReply
from dslab.commit.txmsg import (
    CheckTransaction,
    EndTransaction,
    HalfAck,
    HalfMessage,
    TxBroker,
    TxProducer,
)
from dslab.core import Context, Request, Response, Storage
from dslab.history import History

T = transfer("t1", "p1", ["p2", "p3"], 10)  # p1 pays 10 to p2 and to p3


def ctx_for(node: str, storage: Storage | None = None, now: float = 0.0) -> Context:
    return Context(node, now=now, rng=random.Random(1),
                   storage=storage if storage is not None else Storage())


def again(ctx: Context, now: float | None = None) -> Context:
    """A fresh context on the same node and disk (the next handler call)."""
    return ctx_for(ctx.node, ctx.storage, ctx.local_time if now is None else now)


def actions(ctx: Context) -> list[str]:
    return [e.data["action"] for e in ctx.effects if type(e).__name__ == "Log"
            and e.name == "leg"]


def sent(ctx: Context) -> list[tuple[str, object]]:
    return [(e.dst, e.msg) for e in ctx.sent()]


# -- TCC participant -----------------------------------------------------------------------------
def test_tcc_try_freezes_an_outgoing_amount_out_of_the_available_balance():
    ctx = ctx_for("p1")
    TccParticipant().on_message(ctx, "co", Try("t1", -20))
    assert sent(ctx) == [("co", TryReply("t1", True))]
    assert ctx.storage["balance"] == INITIAL_BALANCE - 20
    assert ctx.storage["frozen_out"] == 20
    assert actions(ctx) == ["reserve"]


def test_tcc_try_holds_an_incoming_amount_until_confirm():
    ctx = ctx_for("p2")
    p = TccParticipant()
    p.on_message(ctx, "co", Try("t1", 10))
    assert p.balance(ctx) == INITIAL_BALANCE and ctx.storage["frozen_in"] == 10
    ctx2 = again(ctx)
    p.on_message(ctx2, "co", Confirm("t1"))
    assert p.balance(ctx2) == INITIAL_BALANCE + 10 and ctx2.storage["frozen_in"] == 0
    assert sent(ctx2) == [("co", Done("t1", "confirm"))]


def test_tcc_try_is_refused_when_the_balance_cannot_cover_it():
    ctx = ctx_for("p1")
    TccParticipant().on_message(ctx, "co", Try("t1", -(INITIAL_BALANCE + 1)))
    assert sent(ctx) == [("co", TryReply("t1", False))]
    assert "frozen_out" not in ctx.storage and actions(ctx) == ["refuse"]


def test_tcc_confirm_is_idempotent():
    ctx = ctx_for("p1")
    p = TccParticipant()
    p.on_message(ctx, "co", Try("t1", -20))
    p.on_message(again(ctx), "co", Confirm("t1"))
    ctx3 = again(ctx)
    p.on_message(ctx3, "co", Confirm("t1"))  # a retry or a duplicate
    assert ctx.storage["balance"] == INITIAL_BALANCE - 20
    assert ctx.storage["frozen_out"] == 0
    assert actions(ctx3) == ["duplicate"]
    assert sent(ctx3) == [("co", Done("t1", "confirm"))]  # answered again, done nothing again


def test_tcc_cancel_releases_the_reservation_once():
    ctx = ctx_for("p1")
    p = TccParticipant()
    p.on_message(ctx, "co", Try("t1", -20))
    p.on_message(again(ctx), "co", Cancel("t1"))
    ctx3 = again(ctx)
    p.on_message(ctx3, "co", Cancel("t1"))
    assert ctx.storage["balance"] == INITIAL_BALANCE and ctx.storage["frozen_out"] == 0
    assert actions(ctx3) == ["duplicate"]


def test_tcc_empty_rollback_answers_done_and_leaves_a_tombstone():
    ctx = ctx_for("p2")
    TccParticipant().on_message(ctx, "co", Cancel("t1"))  # no Try ever arrived
    assert sent(ctx) == [("co", Done("t1", "cancel"))]
    assert ctx.storage["tcc/t1"]["state"] == "cancelled"
    assert "balance" not in ctx.storage and actions(ctx) == ["tombstone"]


def test_tcc_try_after_its_cancel_is_refused_no_suspension():
    ctx = ctx_for("p2")
    p = TccParticipant()
    p.on_message(ctx, "co", Cancel("t1"))
    ctx2 = again(ctx)
    p.on_message(ctx2, "co", Try("t1", -10))  # the late Try
    assert sent(ctx2) == [("co", TryReply("t1", False))]
    assert p.frozen(ctx2) == 0 and p.balance(ctx2) == INITIAL_BALANCE
    assert actions(ctx2) == ["suspend"]


def test_tcc_a_duplicate_try_reserves_only_once():
    ctx = ctx_for("p1")
    p = TccParticipant()
    p.on_message(ctx, "co", Try("t1", -20))
    ctx2 = again(ctx)
    p.on_message(ctx2, "co", Try("t1", -20))
    assert sent(ctx2) == [("co", TryReply("t1", True))]
    assert ctx.storage["frozen_out"] == 20


# -- TCC coordinator -----------------------------------------------------------------------------
def begin(handler, node: str, t: Transfer = T) -> Context:
    ctx = ctx_for(node)
    handler.on_start(ctx)
    ctx = again(ctx)
    handler.on_message(ctx, "client", Request(1, BeginTransfer(t)))
    return ctx


def test_tcc_coordinator_logs_the_transaction_before_the_first_try():
    ctx = begin(TccCoordinator(), "co")
    assert ctx.storage["tcc/t1"]["state"] == "trying"
    assert sorted(dst for dst, m in sent(ctx) if isinstance(m, Try)) == ["p1", "p2", "p3"]


def test_tcc_coordinator_confirms_only_after_every_try_succeeded():
    co = TccCoordinator()
    ctx = begin(co, "co")
    for p in ("p1", "p2"):
        c = again(ctx)
        co.on_message(c, p, TryReply("t1", True))
        assert not c.sent(Confirm)
    c = again(ctx)
    co.on_message(c, "p3", TryReply("t1", True))
    assert c.storage["tcc/t1"]["state"] == "confirming"
    assert sorted(d for d, m in sent(c) if isinstance(m, Confirm)) == ["p1", "p2", "p3"]
    assert ("client", Response(1, True, "confirmed")) in sent(c)


def test_tcc_coordinator_cancels_every_leg_when_one_try_is_refused():
    co = TccCoordinator()
    ctx = begin(co, "co")
    c = again(ctx)
    co.on_message(c, "p2", TryReply("t1", False))
    # Cancel goes to every leg, including those that never answered (empty rollback there)
    assert sorted(d for d, m in sent(c) if isinstance(m, Cancel)) == ["p1", "p2", "p3"]
    assert any(isinstance(m, Response) and not m.ok for _, m in sent(c))


def test_tcc_coordinator_retries_the_decision_until_every_participant_is_done():
    co = TccCoordinator()
    ctx = begin(co, "co")
    for p in ("p1", "p2", "p3"):
        co.on_message(again(ctx), p, TryReply("t1", True))
    co.on_message(again(ctx), "p1", Done("t1", "confirm"))
    c = again(ctx)
    co.on_timer(c, "retry/t1")
    assert sorted(d for d, m in sent(c) if isinstance(m, Confirm)) == ["p2", "p3"]
    for p in ("p2", "p3"):
        co.on_message(again(ctx), p, Done("t1", "confirm"))
    assert ctx.storage["tcc/t1"]["state"] == "done"


def test_tcc_coordinator_restarted_in_phase_one_cancels():
    ctx = begin(TccCoordinator(), "co")
    fresh = TccCoordinator()  # the crash lost everything but the log
    c = again(ctx)
    fresh.on_start(c)
    assert sorted(d for d, m in sent(c) if isinstance(m, Cancel)) == ["p1", "p2", "p3"]
    assert c.storage["tcc/t1"]["state"] == "cancelling"


# -- saga ----------------------------------------------------------------------------------------
def test_saga_step_applies_once_however_often_it_arrives():
    ctx = ctx_for("p1")
    p = SagaParticipant()
    p.on_message(ctx, "co", Step("t1", 0, -20))
    ctx2 = again(ctx)
    p.on_message(ctx2, "co", Step("t1", 0, -20))
    assert ctx.storage["balance"] == INITIAL_BALANCE - 20
    assert sent(ctx2) == [("co", StepReply("t1", 0, True))] and actions(ctx2) == ["duplicate"]


def test_saga_compensation_undoes_an_applied_step_once():
    ctx = ctx_for("p1")
    p = SagaParticipant()
    p.on_message(ctx, "co", Step("t1", 0, -20))
    p.on_message(again(ctx), "co", Compensate("t1", 0))
    ctx3 = again(ctx)
    p.on_message(ctx3, "co", Compensate("t1", 0))
    assert ctx.storage["balance"] == INITIAL_BALANCE
    assert sent(ctx3) == [("co", Compensated("t1", 0))] and actions(ctx3) == ["duplicate"]


def test_saga_step_after_its_compensation_is_refused():
    ctx = ctx_for("p2")
    p = SagaParticipant()
    p.on_message(ctx, "co", Compensate("t1", 1))  # empty compensation: nothing was applied
    ctx2 = again(ctx)
    p.on_message(ctx2, "co", Step("t1", 1, 10))  # the late step
    assert sent(ctx2) == [("co", StepReply("t1", 1, False))]
    assert p.balance(ctx2) == INITIAL_BALANCE and actions(ctx2) == ["suspend"]


def test_saga_runs_steps_one_at_a_time_in_leg_order():
    co = SagaCoordinator()
    ctx = begin(co, "co")
    assert [(d, m) for d, m in sent(ctx)] == [("p1", Step("t1", 0, -20))]
    c = again(ctx)
    co.on_message(c, "p1", StepReply("t1", 0, True))
    assert sent(c) == [("p2", Step("t1", 1, 10))]


def test_saga_compensates_backwards_after_a_refused_step():
    co = SagaCoordinator()
    ctx = begin(co, "co")
    co.on_message(again(ctx), "p1", StepReply("t1", 0, True))
    co.on_message(again(ctx), "p2", StepReply("t1", 1, True))
    c = again(ctx)
    co.on_message(c, "p3", StepReply("t1", 2, False))
    # the refused step changed nothing: compensation starts at the step before it
    assert ("p2", Compensate("t1", 1)) in sent(c)
    assert any(isinstance(m, Response) and not m.ok for _, m in sent(c))
    c = again(ctx)
    co.on_message(c, "p2", Compensated("t1", 1))
    assert sent(c) == [("p1", Compensate("t1", 0))]
    co.on_message(again(ctx), "p1", Compensated("t1", 0))
    assert ctx.storage["saga/t1"]["state"] == "compensated"


def test_saga_compensates_a_step_that_timed_out_as_well():
    co = SagaCoordinator()
    ctx = begin(co, "co")
    co.on_message(again(ctx), "p1", StepReply("t1", 0, True))
    c = again(ctx)
    co.on_timer(c, "step/t1")  # p2 never answered: its step may or may not have happened
    assert [(d, m) for d, m in sent(c) if isinstance(m, Compensate)] == [
        ("p2", Compensate("t1", 1))]


def test_saga_retries_a_compensation_until_it_is_acknowledged():
    co = SagaCoordinator()
    ctx = begin(co, "co")
    co.on_message(again(ctx), "p1", StepReply("t1", 0, True))
    co.on_message(again(ctx), "p2", StepReply("t1", 1, False))
    for _ in range(3):
        c = again(ctx)
        co.on_timer(c, "retry/t1")
        assert sent(c) == [("p1", Compensate("t1", 0))]


def test_saga_coordinator_resumes_compensation_after_a_restart():
    co = SagaCoordinator()
    ctx = begin(co, "co")
    co.on_message(again(ctx), "p1", StepReply("t1", 0, True))
    co.on_message(again(ctx), "p2", StepReply("t1", 1, False))
    c = again(ctx)
    SagaCoordinator().on_start(c)
    assert sent(c) == [("p1", Compensate("t1", 0))]


# -- outbox and consumer -------------------------------------------------------------------------
def test_outbox_business_write_and_outbox_rows_commit_in_one_local_transaction():
    svc = OutboxService()
    ctx = begin(svc, "p1")
    assert ctx.storage["balance"] == INITIAL_BALANCE - 20
    assert sorted(k for k in ctx.storage if k.startswith("outbox/")) == [
        "outbox/t1/p2", "outbox/t1/p3"]
    assert not ctx.sent(Deliver)  # nothing leaves before the relay polls
    assert ("client", Response(1, True, "applied")) in sent(ctx)


def test_outbox_relay_resends_until_acknowledged_then_deletes_the_row():
    svc = OutboxService()
    ctx = begin(svc, "p1")
    for _ in range(2):  # at least once: every poll until the ack
        c = again(ctx)
        svc.on_timer(c, "relay")
        assert sorted(d for d, m in sent(c) if isinstance(m, Deliver)) == ["p2", "p3"]
    svc.on_message(again(ctx), "p2", DeliverAck("t1/p2"))
    c = again(ctx)
    svc.on_timer(c, "relay")
    assert [(d, m) for d, m in sent(c)] == [("p3", Deliver("t1/p3", "t1", 10))]


def test_outbox_initiator_refusal_writes_nothing():
    svc = OutboxService()
    ctx = begin(svc, "p1", transfer("t1", "p1", ["p2", "p3"], 10, refuse=["p1"]))
    assert "balance" not in ctx.storage
    assert not [k for k in ctx.storage if k.startswith("outbox/")]
    assert any(isinstance(m, Response) and not m.ok for _, m in sent(ctx))


def test_dual_write_sends_once_and_keeps_no_outbox_row():
    svc = OutboxService(dual_write=True)
    ctx = begin(svc, "p1")
    assert sorted(d for d, m in sent(ctx) if isinstance(m, Deliver)) == ["p2", "p3"]
    assert not [k for k in ctx.storage if k.startswith("outbox/")]


def test_consumer_deduplicates_by_message_id():
    ctx = ctx_for("p2")
    c = DedupConsumer()
    c.on_message(ctx, "p1", Deliver("t1/p2", "t1", 10))
    ctx2 = again(ctx)
    c.on_message(ctx2, "p1", Deliver("t1/p2", "t1", 10))
    assert ctx.storage["balance"] == INITIAL_BALANCE + 10
    assert sent(ctx2) == [("p1", DeliverAck("t1/p2"))] and actions(ctx2) == ["duplicate"]


def test_read_balance_reports_available_and_frozen():
    ctx = ctx_for("p1")
    p = TccParticipant()
    p.on_message(ctx, "co", Try("t1", -20))
    c = again(ctx)
    p.on_message(c, "reader", Request(7, ReadBalance()))
    assert sent(c) == [("reader", Response(7, True, Balance(INITIAL_BALANCE - 20, 20)))]


# -- transactional messages ----------------------------------------------------------------------
def test_producer_sends_the_half_message_before_its_local_transaction():
    prod = TxProducer()
    ctx = begin(prod, "p1")
    assert sent(ctx) == [("mq", HalfMessage("t1", "t1", (("p2", 10), ("p3", 10))))]
    assert "balance" not in ctx.storage and "txn/t1" not in ctx.storage


def test_producer_runs_the_local_transaction_after_the_half_ack_then_commits():
    prod = TxProducer()
    ctx = begin(prod, "p1")
    c = again(ctx)
    prod.on_message(c, "mq", HalfAck("t1"))
    assert c.storage["balance"] == INITIAL_BALANCE - 20
    assert c.storage["txn/t1"]["state"] == "committed"
    assert ("mq", EndTransaction("t1", True)) in sent(c)


def test_half_message_is_not_delivered_before_commit():
    ctx = ctx_for("mq")
    b = TxBroker()
    b.on_start(ctx)
    c = again(ctx)
    b.on_message(c, "p1", HalfMessage("t1", "t1", (("p2", 10),)))
    assert sent(c) == [("p1", HalfAck("t1"))]
    c = again(ctx, now=5.0)
    b.on_timer(c, "scan")
    assert not c.sent(Deliver)
    c = again(ctx, now=6.0)
    b.on_message(c, "p1", EndTransaction("t1", True))
    assert sent(c) == [("p2", Deliver("t1/p2", "t1", 10))]


def test_broker_discards_a_rolled_back_half_message():
    ctx = ctx_for("mq")
    b = TxBroker()
    b.on_message(ctx, "p1", HalfMessage("t1", "t1", (("p2", 10),)))
    b.on_message(again(ctx), "p1", EndTransaction("t1", False))
    c = again(ctx, now=100.0)
    b.on_timer(c, "scan")
    assert not c.sent(Deliver) and not c.sent(CheckTransaction)


def test_broker_checks_back_a_half_message_left_undecided():
    ctx = ctx_for("mq")
    b = TxBroker(check_after_ms=30.0)
    b.on_message(ctx, "p1", HalfMessage("t1", "t1", (("p2", 10),)))
    c = again(ctx, now=20.0)
    b.on_timer(c, "scan")
    assert not c.sent(CheckTransaction)  # not old enough yet
    c = again(ctx, now=31.0)
    b.on_timer(c, "scan")
    assert sent(c)[0] == ("p1", CheckTransaction("t1", "t1"))


def test_check_back_answers_from_the_local_transaction_record():
    prod = TxProducer()
    ctx = begin(prod, "p1")
    prod.on_message(again(ctx), "mq", HalfAck("t1"))
    c = again(ctx)
    TxProducer().on_message(c, "mq", CheckTransaction("t1", "t1"))  # even after a restart
    assert sent(c) == [("mq", EndTransaction("t1", True))]


def test_check_back_without_a_record_rolls_back_for_good():
    c = ctx_for("p1")
    prod = TxProducer()
    prod.on_message(c, "mq", CheckTransaction("t1", "t1"))  # crashed before its local txn
    assert sent(c) == [("mq", EndTransaction("t1", False))]
    assert c.storage["txn/t1"]["state"] == "rolled_back"
    c2 = again(c)
    prod.on_message(c2, "mq", HalfAck("t1"))  # a late ack cannot commit it any more
    assert "balance" not in c2.storage


def test_check_back_while_the_half_ack_is_awaited_says_nothing_yet():
    prod = TxProducer()
    ctx = begin(prod, "p1")
    c = again(ctx)
    prod.on_message(c, "mq", CheckTransaction("t1", "t1"))
    assert sent(c) == []  # RocketMQ's UNKNOW: ask again later


def test_broker_redelivers_until_each_consumer_acknowledges():
    ctx = ctx_for("mq")
    b = TxBroker()
    b.on_message(ctx, "p1", HalfMessage("t1", "t1", (("p2", 10), ("p3", 10))))
    b.on_message(again(ctx), "p1", EndTransaction("t1", True))
    b.on_message(again(ctx), "p2", DeliverAck("t1/p2"))
    c = again(ctx, now=50.0)
    b.on_timer(c, "scan")
    assert [(d, m) for d, m in sent(c) if isinstance(m, Deliver)] == [
        ("p3", Deliver("t1/p3", "t1", 10))]


# -- the checker on hand-made histories ----------------------------------------------------------
def history_of(*events: tuple[float, str, str, str, int]) -> History:
    h = History(seed=5)
    for time, node, tid, action, delta in events:
        h.event(time, node, "leg", tid=tid, action=action, delta=delta)
    return h


def test_checker_accepts_a_compensated_saga():
    h = history_of((1, "p1", "t1", "apply", -20), (2, "p2", "t1", "apply", 10),
                   (3, "p3", "t1", "refuse", 10), (4, "p2", "t1", "compensate", 10),
                   (5, "p1", "t1", "compensate", -20))
    r = eventual_atomicity(h, [T])
    assert r.valid and r.outcomes == {"t1": "undone"}


def test_checker_reports_a_lost_compensation():
    h = history_of((1, "p1", "t1", "apply", -20), (2, "p2", "t1", "apply", 10),
                   (3, "p3", "t1", "refuse", 10), (4, "p2", "t1", "compensate", 10))
    r = eventual_atomicity(h, [T])
    assert not r.valid and r.violations[0]["kind"] == "lost_compensation"
    assert "replay with seed=5" in r.explanation


def test_checker_reports_a_lost_message_as_incomplete():
    h = history_of((1, "p1", "t1", "apply", -20), (2, "p2", "t1", "apply", 10))
    r = eventual_atomicity(h, [T])
    assert [v["kind"] for v in r.violations] == ["incomplete"]


def test_checker_reports_a_reservation_left_frozen():
    h = history_of((1, "p1", "t1", "reserve", -20), (2, "p2", "t1", "tombstone", 0),
                   (3, "p2", "t1", "reserve", 10), (4, "p1", "t1", "cancel", -20))
    r = eventual_atomicity(h, [T])
    assert [v["kind"] for v in r.violations] == ["frozen"]


def test_checker_reports_a_double_apply():
    h = history_of((1, "p1", "t1", "apply", -20), (2, "p2", "t1", "apply", 10),
                   (3, "p3", "t1", "apply", 10), (4, "p3", "t1", "apply", 10))
    r = eventual_atomicity(h, [T])
    assert [v["kind"] for v in r.violations] == ["double_apply"]


def test_checker_reports_a_client_told_ok_for_an_undone_transfer():
    h = History(seed=1)
    inv = h.invoke("c", "txn", "t1", 0.0)
    h.complete(inv, "ok", "t1", 1.0)
    r = eventual_atomicity(h, [T])
    assert [v["kind"] for v in r.violations] == ["client_mismatch"]


def test_visibility_a_saga_is_half_done_between_its_first_and_last_step():
    h = history_of((1, "p1", "t1", "apply", -20), (3, "p2", "t1", "apply", 10),
                   (5, "p3", "t1", "apply", 10))
    w = visibility_windows(h, [T])
    assert list(zip(w["start_ms"], w["end_ms"], strict=True)) == [(1.0, 5.0)]


def test_visibility_locked_2pc_legs_hide_the_intermediate_state():
    h = History(seed=1)
    for time, node, state in [(1, "p1", "prepared"), (1, "p2", "prepared"),
                              (1, "p3", "prepared"), (3, "p1", "committed"),
                              (4, "p2", "committed"), (5, "p3", "committed")]:
        h.event(time, node, "state", tid="t1", state=state, by="x")
    assert visibility_windows(h, [T]).empty
    assert eventual_atomicity(h, [T]).outcomes == {"t1": "applied"}


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("legs", [(("p1", -1),), (("p1", -1), ("p2", 2)), (("p1", 1), ("p1", -1))])
def test_transfer_rejects_bad_legs(legs):
    with pytest.raises(ValueError, match="legs"):
        Transfer("t1", legs)


def test_transfer_rejects_a_refusal_outside_its_legs():
    with pytest.raises(ValueError, match="refuse"):
        Transfer("t1", (("p1", -1), ("p2", 1)), ("p9",))


def test_checker_rejects_a_single_transfer_instead_of_a_list():
    with pytest.raises(TypeError, match="transfers"):
        eventual_atomicity(History(), T)


def test_tcc_without_the_tombstone_a_late_try_hangs():
    """Why rule 3 needs rule 2's record: forget the empty rollback and the late Try freezes
    money that no Confirm or Cancel will ever release."""
    ctx = ctx_for("p2")
    p = TccParticipant(remember_empty_rollback=False)
    p.on_message(ctx, "co", Cancel("t1"))
    ctx2 = again(ctx)
    p.on_message(ctx2, "co", Try("t1", -10))
    assert sent(ctx2) == [("co", TryReply("t1", True))]
    assert p.frozen(ctx2) == 10


def test_saga_forward_recovery_keeps_retrying_a_slow_step():
    co = SagaCoordinator(recovery="forward")
    ctx = begin(co, "co")
    co.on_message(again(ctx), "p1", StepReply("t1", 0, True))
    c = again(ctx)
    co.on_timer(c, "step/t1")  # p2 is slow: do not compensate
    assert not c.sent(Compensate) and not c.sent(Response)
    c = again(ctx)
    co.on_timer(c, "retry/t1")
    assert sent(c) == [("p2", Step("t1", 1, 10))]


def test_saga_forward_recovery_still_compensates_a_refused_step():
    co = SagaCoordinator(recovery="forward")
    ctx = begin(co, "co")
    co.on_message(again(ctx), "p1", StepReply("t1", 0, True))
    c = again(ctx)
    co.on_message(c, "p2", StepReply("t1", 1, False))
    assert ("p1", Compensate("t1", 0)) in sent(c)


def test_saga_recovery_must_be_backward_or_forward():
    with pytest.raises(ValueError, match="recovery='sideways'"):
        SagaCoordinator(recovery="sideways")
