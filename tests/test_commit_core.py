"""Unit tests of the commit protocol cores, each handler called with a bare Context (no simulator).

One behaviour per test, named after the rule (Gray 1978 for 2PC, Skeen 1981 for 3PC, Bernstein et
al. 1987 for the cooperative termination protocol, the course notes for the 3PC timeouts).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from dslab.commit.messages import (
    Abort,
    Ack,
    Begin,
    CanCommit,
    Commit,
    DecisionReply,
    DecisionRequest,
    DoCommit,
    PreCommit,
    Prepare,
    StateReply,
    StateRequest,
    Txn,
    Vote,
)
from dslab.commit.threepc import ThreePCCoordinator, ThreePCParticipant
from dslab.commit.twopc import TwoPCCoordinator, TwoPCParticipant
from dslab.core import Context, Request, Response, Send, Storage

PARTS = ("p1", "p2", "p3")


class SpyStorage(Storage):
    """Storage that notes, at each write, how many effects the handler had produced so far."""

    def __init__(self) -> None:
        super().__init__()
        self.ctx: Context | None = None
        self.log: list[tuple[str, Any, int]] = []

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.log.append((key, value, len(self.ctx.effects) if self.ctx is not None else -1))


def ctx_for(node: str, storage: Storage | None = None, now: float = 0.0) -> Context:
    ctx = Context(node, now=now, rng=random.Random(1),
                  storage=storage if storage is not None else Storage(),
                  peers=tuple(n for n in ("co", *PARTS) if n != node))
    if isinstance(storage, SpyStorage):
        storage.ctx = ctx
    return ctx


def started(handler, node: str, storage: Storage | None = None) -> Context:
    ctx = ctx_for(node, storage)
    handler.on_start(ctx)
    ctx.take_effects()
    return ctx


def prepare(tid="t1", key="x", must_fail=False) -> Prepare:
    return Prepare(tid, PARTS, ((key, 1),), must_fail)


def msgs(ctx, cls=None):
    return [(e.dst, e.msg) for e in ctx.sent(cls)]


def txn(tid="t1") -> Txn:
    return Txn(tid, tuple((p, "x", 1) for p in PARTS))


# -- 2PC participant: phase 1 -----------------------------------------------------------------
def test_participant_forces_its_prepared_record_before_it_votes_yes():
    st = SpyStorage()
    p = TwoPCParticipant()
    ctx = started(p, "p1", st)
    p.on_message(ctx, "co", prepare())
    assert msgs(ctx, Vote) == [("co", Vote("t1", True))]
    vote_at = next(i for i, e in enumerate(ctx.effects) if isinstance(e, Send))
    key, value, effects_before = st.log[0]
    assert key == "txn/t1" and value["state"] == "prepared"
    assert effects_before <= vote_at  # the record was durable before the vote was sent
    assert ctx.storage["txn/t1"]["writes"] == (("x", 1),)  # the redo information


def test_participant_that_fails_forces_aborted_before_voting_no():
    st = SpyStorage()
    p = TwoPCParticipant()
    ctx = started(p, "p1", st)
    p.on_message(ctx, "co", prepare(must_fail=True))
    assert msgs(ctx, Vote) == [("co", Vote("t1", False))]
    assert st.log[0][1]["state"] == "aborted" and p.locks == {}


def test_no_probability_one_always_votes_no():
    p = TwoPCParticipant(no_probability=1.0)
    ctx = started(p, "p1")
    p.on_message(ctx, "co", prepare())
    assert msgs(ctx, Vote) == [("co", Vote("t1", False))]


def test_a_duplicate_prepare_repeats_the_vote_without_a_new_record():
    p = TwoPCParticipant()
    ctx = started(p, "p1")
    p.on_message(ctx, "co", prepare())
    writes = ctx.storage.writes
    p.on_message(ctx, "co", prepare())
    assert msgs(ctx, Vote) == [("co", Vote("t1", True))] * 2
    assert ctx.storage.writes == writes


def test_prepared_participant_holds_its_locks_so_a_conflicting_prepare_waits():
    p = TwoPCParticipant(lock_wait_ms=40.0)
    ctx = started(p, "p1")
    p.on_message(ctx, "co", prepare("t1"))
    p.on_message(ctx, "co", prepare("t2"))
    assert msgs(ctx, Vote) == [("co", Vote("t1", True))]  # t2 has not voted
    assert ctx.timers()["lockwait/t2"] == 40.0
    assert p.locks == {"x": "t1"}


def test_a_lock_timeout_before_voting_is_a_unilateral_abort():
    p = TwoPCParticipant()
    ctx = started(p, "p1")
    p.on_message(ctx, "co", prepare("t1"))
    p.on_message(ctx, "co", prepare("t2"))
    p.on_timer(ctx, "lockwait/t2")
    assert msgs(ctx, Vote)[-1] == ("co", Vote("t2", False))
    assert p.state_of("t2") == "aborted" and p.txns["t2"]["by"] == "lock_timeout"


def test_commit_releases_the_locks_and_the_waiting_transaction_votes():
    p = TwoPCParticipant()
    ctx = started(p, "p1")
    p.on_message(ctx, "co", prepare("t1"))
    p.on_message(ctx, "co", prepare("t2"))
    p.on_message(ctx, "co", Commit("t1"))
    assert ("co", Ack("t1", "committed")) in msgs(ctx, Ack)
    assert msgs(ctx, Vote)[-1] == ("co", Vote("t2", True))
    assert p.locks == {"x": "t2"} and p.read(ctx, "x") == 1


def test_abort_rolls_back_nothing_applied():
    p = TwoPCParticipant()
    ctx = started(p, "p1")
    p.on_message(ctx, "co", prepare())
    p.on_message(ctx, "co", Abort("t1"))
    assert p.state_of("t1") == "aborted" and p.read(ctx, "x") is None and p.locks == {}
    assert msgs(ctx, Ack) == [("co", Ack("t1", "aborted"))]


def test_a_decision_is_never_reversed():
    p = TwoPCParticipant()
    ctx = started(p, "p1")
    p.on_message(ctx, "co", prepare())
    p.on_message(ctx, "co", Commit("t1"))
    p.on_message(ctx, "p2", Abort("t1"))
    assert p.state_of("t1") == "committed"
    assert [e.data for e in ctx.effects if getattr(e, "name", None) == "conflict"]


# -- 2PC participant: in doubt ----------------------------------------------------------------
def test_in_doubt_participant_does_not_decide_alone_however_long_it_waits():
    p = TwoPCParticipant(decision_timeout_ms=50.0)
    ctx = started(p, "p1")
    p.on_message(ctx, "co", prepare())
    for _ in range(10):
        p.on_timer(ctx, "doubt/t1")
    assert p.state_of("t1") == "prepared" and p.locks == {"x": "t1"}
    assert ctx.timers()["doubt/t1"] == 50.0


def test_in_doubt_participant_asks_the_coordinator_and_its_peers():
    p = TwoPCParticipant()
    ctx = started(p, "p1")
    p.on_message(ctx, "co", prepare())
    ctx.take_effects()
    p.on_timer(ctx, "doubt/t1")
    assert sorted(d for d, _ in msgs(ctx, DecisionRequest)) == ["co", "p2", "p3"]


def test_without_cooperation_it_asks_only_the_coordinator():
    p = TwoPCParticipant(cooperative=False)
    ctx = started(p, "p1")
    p.on_message(ctx, "co", prepare())
    ctx.take_effects()
    p.on_timer(ctx, "doubt/t1")
    assert [d for d, _ in msgs(ctx, DecisionRequest)] == ["co"]


def test_cooperative_termination_a_peer_that_committed_settles_it():
    p = TwoPCParticipant()
    ctx = started(p, "p1")
    p.on_message(ctx, "co", prepare())
    p.on_message(ctx, "p2", DecisionReply("t1", "committed"))
    assert p.state_of("t1") == "committed" and p.txns["t1"]["by"] == "peer"


def test_cooperative_termination_blocks_when_every_peer_is_uncertain():
    p = TwoPCParticipant()
    ctx = started(p, "p1")
    p.on_message(ctx, "co", prepare())
    p.on_timer(ctx, "doubt/t1")
    p.on_message(ctx, "p2", DecisionReply("t1", "uncertain"))
    p.on_message(ctx, "p3", DecisionReply("t1", "uncertain"))
    assert p.state_of("t1") == "prepared"
    assert any(getattr(e, "name", None) == "all_uncertain" for e in ctx.effects)


def test_a_participant_that_has_not_voted_aborts_when_asked_then_votes_no():
    p = TwoPCParticipant()
    ctx = started(p, "p2")
    p.on_message(ctx, "p1", DecisionRequest("t1"))
    assert msgs(ctx, DecisionReply) == [("p1", DecisionReply("t1", "aborted"))]
    p.on_message(ctx, "co", prepare())
    assert msgs(ctx, Vote) == [("co", Vote("t1", False))]


def test_an_in_doubt_participant_answers_uncertain():
    p = TwoPCParticipant()
    ctx = started(p, "p2")
    p.on_message(ctx, "co", prepare())
    p.on_message(ctx, "p1", DecisionRequest("t1"))
    assert msgs(ctx, DecisionReply) == [("p1", DecisionReply("t1", "uncertain"))]


# -- 2PC participant: recovery ----------------------------------------------------------------
def test_recovery_retakes_the_locks_of_in_doubt_transactions_and_asks_at_once():
    p = TwoPCParticipant()
    ctx = started(p, "p1")
    p.on_message(ctx, "co", prepare("t1", key="x"))
    p.on_message(ctx, "co", prepare("t2", key="y"))
    p.on_message(ctx, "co", Commit("t2"))
    fresh = TwoPCParticipant()
    ctx2 = ctx_for("p1", ctx.storage)
    fresh.on_start(ctx2)
    assert fresh.locks == {"x": "t1"} and fresh.state_of("t2") == "committed"
    assert sorted(d for d, _ in msgs(ctx2, DecisionRequest)) == ["co", "p2", "p3"]
    assert "doubt/t1" in ctx2.timers()


def test_recovery_forgets_a_prepare_that_was_only_waiting_for_locks():
    p = TwoPCParticipant()
    ctx = started(p, "p1")
    p.on_message(ctx, "co", prepare("t1"))
    p.on_message(ctx, "co", prepare("t2"))
    fresh = TwoPCParticipant()
    fresh.on_start(ctx_for("p1", ctx.storage))
    assert fresh.state_of("t2") == "none" and fresh.waiting == {}


# -- 2PC coordinator --------------------------------------------------------------------------
def begin(c, ctx, t=None):
    c.on_message(ctx, "client", Request(1, Begin(t or txn())))


def test_coordinator_sends_prepare_to_every_participant():
    c = TwoPCCoordinator()
    ctx = started(c, "co")
    begin(c, ctx)
    assert [d for d, _ in msgs(ctx, Prepare)] == list(PARTS)
    assert ctx.timers()["vote/t1"] == 50.0


def test_coordinator_logs_the_decision_before_phase_two():
    st = SpyStorage()
    c = TwoPCCoordinator()
    ctx = started(c, "co", st)
    begin(c, ctx)
    for p in PARTS:
        c.on_message(ctx, p, Vote("t1", True))
    first_commit = next(i for i, e in enumerate(ctx.effects)
                        if isinstance(e, Send) and isinstance(e.msg, Commit))
    key, value, effects_before = st.log[0]
    assert key == "txn/t1" and value["state"] == "committed"
    assert effects_before <= first_commit
    assert msgs(ctx, Response) == [("client", Response(1, True, "committed"))]


def test_coordinator_aborts_on_one_no_vote():
    c = TwoPCCoordinator()
    ctx = started(c, "co")
    begin(c, ctx)
    c.on_message(ctx, "p2", Vote("t1", False))
    assert ctx.storage["txn/t1"]["state"] == "aborted"
    assert sorted(d for d, _ in msgs(ctx, Abort)) == list(PARTS)
    (_, resp), = msgs(ctx, Response)
    assert not resp.ok and "p2 voted no" in resp.error


def test_coordinator_aborts_when_a_vote_is_missing_at_the_timeout():
    c = TwoPCCoordinator()
    ctx = started(c, "co")
    begin(c, ctx)
    c.on_message(ctx, "p1", Vote("t1", True))
    c.on_timer(ctx, "vote/t1")
    assert ctx.storage["txn/t1"]["state"] == "aborted"
    assert "no vote from p2, p3" in msgs(ctx, Response)[0][1].error


def test_coordinator_resends_the_decision_until_every_participant_acks():
    c = TwoPCCoordinator()
    ctx = started(c, "co")
    begin(c, ctx)
    for p in PARTS:
        c.on_message(ctx, p, Vote("t1", True))
    c.on_message(ctx, "p1", Ack("t1", "committed"))
    ctx.take_effects()
    c.on_timer(ctx, "retry/t1")
    assert sorted(d for d, _ in msgs(ctx, Commit)) == ["p2", "p3"]
    c.on_message(ctx, "p2", Ack("t1", "committed"))
    c.on_message(ctx, "p3", Ack("t1", "committed"))
    assert ctx.storage["txn/t1"]["done"] and "retry/t1" not in ctx.timers()


def test_coordinator_recovery_resends_a_logged_decision_not_yet_acknowledged():
    c = TwoPCCoordinator()
    ctx = started(c, "co")
    begin(c, ctx)
    for p in PARTS:
        c.on_message(ctx, p, Vote("t1", True))
    fresh = TwoPCCoordinator()
    ctx2 = ctx_for("co", ctx.storage)
    fresh.on_start(ctx2)
    assert sorted(d for d, _ in msgs(ctx2, Commit)) == list(PARTS)


def test_presumed_abort_a_transaction_without_a_record_is_aborted():
    c = TwoPCCoordinator()
    ctx = started(c, "co")
    c.on_message(ctx, "p1", DecisionRequest("t9"))
    assert msgs(ctx, DecisionReply) == [("p1", DecisionReply("t9", "aborted"))]
    assert ctx.storage["txn/t9"]["state"] == "aborted"  # and it will never start it again


def test_coordinator_still_voting_answers_undecided():
    c = TwoPCCoordinator()
    ctx = started(c, "co")
    begin(c, ctx)
    c.on_message(ctx, "p1", DecisionRequest("t1"))
    assert msgs(ctx, DecisionReply) == [("p1", DecisionReply("t1", "undecided"))]


ALL_PREPARES = [(p, "Prepare") for p in PARTS]


@pytest.mark.parametrize("step, sent", [
    ("before_prepare", []),
    ("after_some_prepares", [("p1", "Prepare")]),
    ("after_votes", ALL_PREPARES),
    ("decision_logged", ALL_PREPARES),
    ("mid_phase2", [*ALL_PREPARES, ("p1", "Commit")]),
])
def test_failpoints_stop_the_coordinator_where_asked(step, sent):
    crashed = []
    c = TwoPCCoordinator(crash_at=step, on_crash=lambda: crashed.append(True))
    ctx = started(c, "co")
    begin(c, ctx)
    for p in PARTS:
        c.on_message(ctx, p, Vote("t1", True))
    assert [(d, type(m).__name__) for d, m in msgs(ctx)] == sent  # and no reply to the client
    assert crashed == [True] and c.halted
    assert ("txn/t1" in ctx.storage) == (step == "decision_logged" or step == "mid_phase2")


# -- 3PC participant ---------------------------------------------------------------------------
def cancommit(tid="t1") -> CanCommit:
    return CanCommit(tid, PARTS, (("x", 1),))


@pytest.mark.parametrize("state_msgs, outcome", [((), "aborted"), ((PreCommit,), "committed")])
def test_3pc_timeout_rule_of_the_notes_aborts_before_precommit_and_commits_after(
        state_msgs, outcome):
    p = ThreePCParticipant(termination="timeout")
    ctx = started(p, "p2")
    p.on_message(ctx, "co", cancommit())
    for m in state_msgs:
        p.on_message(ctx, "co", m("t1"))
    p.on_timer(ctx, "t/t1")
    assert p.state_of("t1") == outcome and p.txns["t1"]["by"] == "timeout"


def test_3pc_participant_forces_precommitted_and_acks():
    p = ThreePCParticipant()
    ctx = started(p, "p2")
    p.on_message(ctx, "co", cancommit())
    p.on_message(ctx, "co", PreCommit("t1"))
    assert ctx.storage["txn/t1"]["state"] == "precommitted"
    assert msgs(ctx, Ack) == [("co", Ack("t1", "precommitted"))]


def test_3pc_termination_the_first_participant_is_the_first_backup():
    p = ThreePCParticipant(collect_ms=10.0)
    ctx = started(p, "p1")
    p.on_message(ctx, "co", cancommit())
    ctx.take_effects()
    p.on_timer(ctx, "t/t1")
    assert sorted(d for d, _ in msgs(ctx, StateRequest)) == ["p2", "p3"]
    assert ctx.timers()["collect/t1"] == 10.0


def test_3pc_non_backup_waits_for_the_round_then_moves_on():
    p = ThreePCParticipant(round_ms=50.0)
    ctx = started(p, "p2")
    p.on_message(ctx, "co", cancommit())
    p.on_timer(ctx, "t/t1")  # round 1: p1 is the backup
    assert msgs(ctx, StateRequest) == [] and ctx.timers()["round/t1"] == 50.0
    p.on_timer(ctx, "round/t1")  # round 2: p2 itself
    assert sorted(d for d, _ in msgs(ctx, StateRequest)) == ["p1", "p3"]


def test_3pc_backup_with_a_precommitted_peer_precommits_the_rest_then_commits():
    p = ThreePCParticipant()
    ctx = started(p, "p1")
    p.on_message(ctx, "co", cancommit())
    p.on_timer(ctx, "t/t1")
    p.on_message(ctx, "p2", StateReply("t1", 1, "precommitted"))
    p.on_message(ctx, "p3", StateReply("t1", 1, "prepared"))
    p.on_timer(ctx, "collect/t1")
    assert p.state_of("t1") == "precommitted"
    assert msgs(ctx, PreCommit) == [("p3", PreCommit("t1"))]
    p.on_timer(ctx, "preack/t1")
    assert p.state_of("t1") == "committed"
    assert sorted(d for d, _ in msgs(ctx, DoCommit)) == ["p2", "p3"]


def test_3pc_backup_that_sees_only_prepared_states_aborts():
    p = ThreePCParticipant()
    ctx = started(p, "p1")
    p.on_message(ctx, "co", cancommit())
    p.on_timer(ctx, "t/t1")
    p.on_message(ctx, "p2", StateReply("t1", 1, "prepared"))
    p.on_timer(ctx, "collect/t1")  # p3 never answered: taken for crashed
    assert p.state_of("t1") == "aborted"
    assert sorted(d for d, _ in msgs(ctx, Abort)) == ["p2", "p3"]


def test_3pc_a_state_request_makes_an_unvoted_participant_abort():
    p = ThreePCParticipant()
    ctx = started(p, "p3")
    p.on_message(ctx, "p1", StateRequest("t1", 1))
    assert msgs(ctx, StateReply) == [("p1", StateReply("t1", 1, "aborted"))]


def test_3pc_recovering_participant_does_not_decide_nor_help_decide():
    p = ThreePCParticipant()
    ctx = started(p, "p2")
    p.on_message(ctx, "co", cancommit())
    fresh = ThreePCParticipant()
    ctx2 = ctx_for("p2", ctx.storage)
    fresh.on_start(ctx2)
    assert sorted(d for d, _ in msgs(ctx2, DecisionRequest)) == ["co", "p1", "p3"]
    assert "t/t1" not in ctx2.timers()
    fresh.on_message(ctx2, "p1", StateRequest("t1", 1))
    assert msgs(ctx2, StateReply) == [("p1", StateReply("t1", 1, "recovering"))]
    fresh.on_message(ctx2, "p1", DecisionReply("t1", "prepared"))
    assert fresh.state_of("t1") == "prepared"


def test_3pc_recovering_participant_decides_only_after_a_total_failure():
    """Skeen's total failure: every other site restarted in doubt too (the coordinator with its
    pre-commit record, each participant recovering), and none decided: decide from all states."""
    p = ThreePCParticipant()
    ctx = started(p, "p2")
    p.on_message(ctx, "co", cancommit())
    fresh = ThreePCParticipant()
    ctx2 = ctx_for("p2", ctx.storage)
    fresh.on_start(ctx2)
    fresh.on_message(ctx2, "p1", DecisionReply("t1", "precommitted", recovering=True))
    fresh.on_message(ctx2, "p3", DecisionReply("t1", "prepared", recovering=True))
    assert fresh.state_of("t1") == "prepared"  # the coordinator has not answered yet
    fresh.on_message(ctx2, "co", DecisionReply("t1", "recovering"))
    assert fresh.state_of("t1") == "committed"


def test_3pc_recovering_participant_waits_for_a_live_coordinator():
    """Issue 7: a live coordinator that is still running the transaction answers "undecided"; it
    will decide, so this is no total failure and the recovering participant must not decide."""
    p = ThreePCParticipant()
    ctx = started(p, "p1")
    p.on_message(ctx, "co", cancommit())
    fresh = ThreePCParticipant()
    ctx2 = ctx_for("p1", ctx.storage)
    fresh.on_start(ctx2)
    for src in ("p2", "p3"):
        fresh.on_message(ctx2, src, DecisionReply("t1", "prepared", recovering=True))
    fresh.on_message(ctx2, "co", DecisionReply("t1", "undecided"))
    assert fresh.state_of("t1") == "prepared" and msgs(ctx2, Abort) == []
    fresh.on_message(ctx2, "co", PreCommit("t1"))  # the coordinator goes on: we follow it
    assert fresh.state_of("t1") == "precommitted"
    fresh.on_message(ctx2, "co", DoCommit("t1"))
    assert fresh.state_of("t1") == "committed"


def test_3pc_recovering_participant_does_not_decide_while_peers_are_operational():
    """Participants that never failed will run the termination protocol (without us): their
    "prepared" is no sign of a total failure."""
    p = ThreePCParticipant()
    ctx = started(p, "p1")
    p.on_message(ctx, "co", cancommit())
    fresh = ThreePCParticipant()
    ctx2 = ctx_for("p1", ctx.storage)
    fresh.on_start(ctx2)
    fresh.on_message(ctx2, "co", DecisionReply("t1", "recovering"))
    fresh.on_message(ctx2, "p2", DecisionReply("t1", "prepared"))
    fresh.on_message(ctx2, "p3", DecisionReply("t1", "prepared", recovering=True))
    assert fresh.state_of("t1") == "prepared" and msgs(ctx2, Abort) == []


def test_3pc_a_recovering_participant_says_so_when_asked_for_the_decision():
    p = ThreePCParticipant()
    ctx = started(p, "p1")
    p.on_message(ctx, "co", cancommit())
    fresh = ThreePCParticipant()
    ctx2 = ctx_for("p1", ctx.storage)
    fresh.on_start(ctx2)
    fresh.on_message(ctx2, "p2", DecisionRequest("t1"))
    assert msgs(ctx2, DecisionReply)[-1] == ("p2", DecisionReply("t1", "prepared",
                                                                   recovering=True))


# -- 3PC coordinator ---------------------------------------------------------------------------
def test_3pc_coordinator_logs_precommit_then_sends_precommit():
    c = ThreePCCoordinator()
    ctx = started(c, "co")
    begin(c, ctx)
    for p in PARTS:
        c.on_message(ctx, p, Vote("t1", True))
    assert ctx.storage["txn/t1"]["state"] == "precommit"
    assert [d for d, _ in msgs(ctx, PreCommit)] == list(PARTS)
    assert msgs(ctx, Response) == []  # not decided yet: pre-commit is not the commit point


def test_3pc_coordinator_commits_once_every_precommit_is_acked():
    c = ThreePCCoordinator()
    ctx = started(c, "co")
    begin(c, ctx)
    for p in PARTS:
        c.on_message(ctx, p, Vote("t1", True))
    for p in PARTS:
        c.on_message(ctx, p, Ack("t1", "precommitted"))
    assert ctx.storage["txn/t1"]["state"] == "committed"
    assert [d for d, _ in msgs(ctx, DoCommit)] == list(PARTS)


def test_3pc_coordinator_commits_after_the_ack_timeout_taking_silence_for_a_crash():
    c = ThreePCCoordinator()
    ctx = started(c, "co")
    begin(c, ctx)
    for p in PARTS:
        c.on_message(ctx, p, Vote("t1", True))
    c.on_message(ctx, "p1", Ack("t1", "precommitted"))
    c.on_timer(ctx, "acks/t1")
    assert ctx.storage["txn/t1"]["state"] == "committed"


def test_3pc_coordinator_recovering_a_precommit_asks_instead_of_deciding():
    c = ThreePCCoordinator()
    ctx = started(c, "co")
    begin(c, ctx)
    for p in PARTS:
        c.on_message(ctx, p, Vote("t1", True))
    fresh = ThreePCCoordinator()
    ctx2 = ctx_for("co", ctx.storage)
    fresh.on_start(ctx2)
    assert sorted(d for d, _ in msgs(ctx2, DecisionRequest)) == list(PARTS)
    assert msgs(ctx2, DoCommit) == [] and msgs(ctx2, Abort) == []
    fresh.on_message(ctx2, "p2", DecisionReply("t1", "aborted"))
    assert ctx2.storage["txn/t1"]["state"] == "aborted"


def test_3pc_coordinator_answers_undecided_while_running_and_recovering_after_a_restart():
    c = ThreePCCoordinator()
    ctx = started(c, "co")
    begin(c, ctx)
    for p in PARTS:
        c.on_message(ctx, p, Vote("t1", True))
    c.on_message(ctx, "p1", DecisionRequest("t1"))
    assert msgs(ctx, DecisionReply)[-1] == ("p1", DecisionReply("t1", "undecided"))
    fresh = ThreePCCoordinator()
    ctx2 = ctx_for("co", ctx.storage)
    fresh.on_start(ctx2)
    fresh.on_message(ctx2, "p1", DecisionRequest("t1"))
    assert msgs(ctx2, DecisionReply)[-1] == ("p1", DecisionReply("t1", "recovering"))


def test_3pc_coordinator_aborts_when_a_participant_acks_precommit_as_aborted():
    """An aborted participant never changes its outcome: committing could only split it."""
    c = ThreePCCoordinator()
    ctx = started(c, "co")
    begin(c, ctx)
    for p in PARTS:
        c.on_message(ctx, p, Vote("t1", True))
    c.on_message(ctx, "p1", Ack("t1", "precommitted"))
    c.on_message(ctx, "p2", Ack("t1", "aborted"))
    assert ctx.storage["txn/t1"]["state"] == "aborted"
    assert msgs(ctx, Response) == [("client", Response(1, False, None, "aborted: p2 had aborted"))]
    c.on_timer(ctx, "acks/t1")  # the ack timer was cancelled; a stale firing changes nothing
    assert ctx.storage["txn/t1"]["state"] == "aborted"


# -- property: the 2PC coordinator's log is the one source of every decision it announces -------
def _coordinator_actions():
    """Lists of (kind, participant, yes, timer): mostly YES votes, so that many runs commit."""
    from hypothesis import strategies as st

    kinds = ["vote"] * 6 + ["ask", "ask", "ack", "ack", "timer", "begin", "restart", "restart"]
    return st.lists(st.tuples(st.sampled_from(kinds), st.sampled_from(PARTS),
                              st.sampled_from([True, True, True, False]),
                              st.sampled_from(["vote/t1", "retry/t1", "resend/t1"])),
                    min_size=3, max_size=25)


def test_the_coordinator_never_announces_what_its_log_does_not_say():
    """Gray's commit point and presumed abort, for any order of votes, inquiries, acks, timers,
    retried requests and restarts: every Commit / Abort / decision reply / client answer matches
    the record on disk when it leaves; a decision, once logged, never changes; commit is logged
    only after a YES from every participant."""
    from hypothesis import given, settings

    @settings(max_examples=200, deadline=None)
    @given(_coordinator_actions())
    def run(actions):
        disk = Storage()
        txn = Txn("t1", tuple((p, "x", 1) for p in PARTS))
        node, ctx = TwoPCCoordinator(), Context("co", storage=disk, peers=PARTS)
        node.on_start(ctx)
        node.on_message(ctx, "c", Request(1, Begin(txn)))
        yes: set[str] = set()
        logged = None
        for i, (kind, who, flag, timer) in enumerate(actions):
            ctx.take_effects()
            if kind == "vote":
                yes |= {who} if flag else set()
                node.on_message(ctx, who, Vote("t1", flag))
            elif kind == "ask":
                node.on_message(ctx, who, DecisionRequest("t1"))
            elif kind == "ack" and logged is not None:
                node.on_message(ctx, who, Ack("t1", logged))
            elif kind == "timer":
                node.on_timer(ctx, timer)
            elif kind == "begin":
                node.on_message(ctx, "c", Request(2 + i, Begin(txn)))
            elif kind == "restart":
                node, ctx = TwoPCCoordinator(), Context("co", storage=disk, peers=PARTS)
                node.on_start(ctx)
            rec = disk.get("txn/t1")
            state = rec["state"] if rec else None
            if logged is not None:
                assert state == logged, f"the logged {logged} became {state} after {kind}"
            logged = state
            if state == "committed":
                assert yes >= set(PARTS), f"commit logged with YES only from {sorted(yes)}"
            for s in ctx.sent():
                m, said = s.msg, None
                if isinstance(m, (Commit, Abort)):
                    said = "committed" if isinstance(m, Commit) else "aborted"
                elif isinstance(m, DecisionReply) and m.state in ("committed", "aborted"):
                    said = m.state
                elif isinstance(m, Response):
                    said = "committed" if m.ok else "aborted"
                assert said in (None, state), f"{m} left after {kind} while the log held {state}"

    run()
