"""Assignment ``twopc-recovery``: the 2PC coordinator's log and its recovery (Gray 1978; presumed
abort, Mohan, Lindsay and Obermarck 1986).

The student writes the bodies marked ``# SOLUTION`` in :mod:`dslab.commit.coordinator`, the
coordinator the book runs: force the decision to the log before any message announces it (the
commit point), phase 2, recovery after a restart (resend every logged decision that is not
acknowledged), the answer to a participant's decision inquiry (the log; "undecided" while the
transaction still runs; presumed abort when there is no record) and the answer to a retried
request. Everything else (voting, retries, acknowledgements, the failpoints) is given. The
student's ``CoordinatorBase`` runs as 2PC with :class:`~dslab.commit.twopc.TwoPCCoordinator`'s
three protocol methods on top (:func:`coordinator_cls`).

Tests: unit tests of each rule through a bare :class:`~dslab.core.Context`; the chapter's
scenarios (:mod:`dslab.commit.scenarios`: the coordinator crashes before logging the decision,
right after, or in the middle of phase 2; a participant crashes after its YES vote and restarts)
plus a participant that restarts while the coordinator still waits for a slow vote; and seed
sweeps with crashes, partitions, loss and duplication. Every run is judged on its history by the
book's checkers: :func:`~dslab.commit.check.atomicity` (AC1-AC3, the client's view, and AC5 once
faults are repaired) and :func:`~dslab.commit.check.coordinator_agreement` (no logged decision
changes; every participant reaches the decision the coordinator logged).

The participants run with ``cooperative=False``: they ask only the coordinator, so its log is the
only place the outcome can come from (with the cooperative termination protocol a participant
that already committed would tell its peers and hide a coordinator that forgot).
"""

from __future__ import annotations

import random
from typing import Any

from dslab.check.verdict import Verdict
from dslab.commit.check import atomicity, coordinator_agreement
from dslab.commit.cluster import build_cluster, simple_txn, transaction
from dslab.commit.messages import (
    Abort,
    Ack,
    Begin,
    Commit,
    DecisionReply,
    DecisionRequest,
    Prepare,
    Txn,
    Vote,
)
from dslab.commit.scenarios import chaos, coordinator_crash, participant_failure
from dslab.commit.twopc import TwoPCCoordinator
from dslab.core import Context, Request, Response, Storage
from dslab.grade.framework import Assignment, GradedTest, Submission, per_seed, unit
from dslab.history import History
from dslab.sim import Sim

NAME = "twopc-recovery"
PARTS = ("p1", "p2", "p3")
#: Participants ask the coordinator only (see the module docstring).
ASK_COORDINATOR_ONLY = {"cooperative": False}
#: What TwoPCCoordinator adds to CoordinatorBase: the 2PC messages and the commit rule.
_TWOPC_METHODS = ("STEPS", "_phase1_message", "_decision_message", "_all_yes")


def coordinator_cls(sub: Submission) -> type:
    """The student's ``CoordinatorBase`` made a 2PC coordinator, exactly as
    :class:`~dslab.commit.twopc.TwoPCCoordinator` makes the package's."""
    base = sub.cls("CoordinatorBase")
    body = {name: TwoPCCoordinator.__dict__[name] for name in _TWOPC_METHODS}
    body.update(__module__=base.__module__, __doc__="The student's 2PC coordinator.")
    return type("TwoPCCoordinator", (base,), body)


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


class _DiskAtSend(Context):
    """A Context that notes what durable storage held when each message left."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.disk_at_send: list[tuple[str, Any, dict[str, Any]]] = []

    def send(self, dst: str, msg: Any) -> None:
        self.disk_at_send.append((dst, msg, {k: self.storage[k] for k in self.storage}))
        super().send(dst, msg)


def boot(sub: Submission, storage: Storage | None = None) -> tuple[Any, _DiskAtSend]:
    """A student coordinator ``co`` booted on ``storage`` (a restart if it holds records)."""
    ctx = _DiskAtSend("co", rng=random.Random(0), storage=storage or Storage(), peers=PARTS)
    node = coordinator_cls(sub)()
    node.on_start(ctx)
    return node, ctx


def _txn(tid: str = "t1", vote_no: tuple[str, ...] = ()) -> Txn:
    return simple_txn(tid, PARTS, vote_no=vote_no)


def _begin(node: Any, ctx: Context, tid: str = "t1", req_id: int = 1) -> None:
    node.on_message(ctx, "c_co", Request(req_id, Begin(_txn(tid))))


def _state(disk: dict[str, Any], tid: str) -> str | None:
    rec = disk.get(f"txn/{tid}")
    return rec["state"] if rec else None


def _record(tid: str, state: str, parts: tuple[str, ...] = PARTS, done: bool = False,
            ) -> dict[str, Any]:
    return {"state": state, "participants": list(parts), "done": done, "why": "test"}


# -- unit tests ------------------------------------------------------------------------------------
def commit_forced_before_phase2(sub: Submission) -> None:
    """The commit point: once every participant voted YES, the decision "committed" is on disk
    before any Commit (or the client's answer) leaves; every participant gets Commit; a retry
    timer is set."""
    node, ctx = boot(sub)
    _begin(node, ctx)
    ctx.take_effects()
    ctx.disk_at_send.clear()
    for p in PARTS:
        node.on_message(ctx, p, Vote("t1", True))
    commits = [(dst, disk) for dst, msg, disk in ctx.disk_at_send if isinstance(msg, Commit)]
    _check(sorted(d for d, _ in commits) == list(PARTS),
           f"Commit went to {sorted(d for d, _ in commits)}; expected {list(PARTS)}")
    for dst, disk in commits:
        _check(_state(disk, "t1") == "committed",
               f"Commit left for {dst} while the log held {disk.get('txn/t1')!r}: the decision "
               "must be forced to the log before phase 2 announces it")
    answers = [(m, disk) for _, m, disk in ctx.disk_at_send if isinstance(m, Response)]
    _check(len(answers) == 1 and answers[0][0].ok and answers[0][0].body == "committed",
           f"the client got {[m for m, _ in answers]}; expected one Response 'committed'")
    _check(_state(answers[0][1], "t1") == "committed", "the client was told 'committed' before "
           "the decision was on disk")
    _check("retry/t1" in ctx.timers(), f"timers set: {ctx.timers()}; expected 'retry/t1'")


def abort_forced_before_phase2(sub: Submission) -> None:
    """A NO vote decides abort: "aborted" is on disk before Abort leaves; every participant gets
    Abort; the client gets a definite failure."""
    node, ctx = boot(sub)
    node.on_message(ctx, "c_co", Request(1, Begin(_txn(vote_no=("p2",)))))
    node.on_message(ctx, "p1", Vote("t1", True))
    ctx.disk_at_send.clear()
    node.on_message(ctx, "p2", Vote("t1", False))
    aborts = [(dst, disk) for dst, msg, disk in ctx.disk_at_send if isinstance(msg, Abort)]
    _check(sorted(d for d, _ in aborts) == list(PARTS),
           f"Abort went to {sorted(d for d, _ in aborts)}; expected {list(PARTS)}")
    _check(all(_state(disk, "t1") == "aborted" for _, disk in aborts),
           "Abort left before 'aborted' was on disk")
    answers = [m for _, m, _ in ctx.disk_at_send if isinstance(m, Response)]
    _check(len(answers) == 1 and not answers[0].ok and "aborted" in (answers[0].error or ""),
           f"the client got {answers}; expected one definite failure 'aborted: ...'")


def restart_resends_logged_decisions(sub: Submission) -> None:
    """Recovery: a restarted coordinator resends every logged decision not yet acknowledged
    (Commit for "committed", Abort for "aborted") to its participants, sets a retry timer for
    it, and changes no record; a finished transaction needs nothing."""
    disk = Storage()
    disk["txn/t1"] = _record("t1", "committed", ("p1", "p2"))
    disk["txn/t2"] = _record("t2", "aborted")
    disk["txn/t3"] = _record("t3", "committed", done=True)
    before = {k: disk[k] for k in disk}
    node, ctx = boot(sub, disk)
    sent = sorted((s.dst, type(s.msg).__name__, s.msg.tid) for s in ctx.sent())
    want = sorted([("p1", "Commit", "t1"), ("p2", "Commit", "t1")]
                  + [(p, "Abort", "t2") for p in PARTS])
    _check(sent == want, f"after the restart the coordinator sent {sent}; expected {want}")
    _check({"retry/t1", "retry/t2"} <= set(ctx.timers()),
           f"timers set: {sorted(ctx.timers())}; expected retry/t1 and retry/t2")
    after = {k: disk[k] for k in disk}
    _check(after == before, f"recovery rewrote the log: {before} became {after}")
    for p in ("p1", "p2"):
        node.on_message(ctx, p, Ack("t1", "committed"))
    _check(disk["txn/t1"]["done"] and disk["txn/t1"]["state"] == "committed",
           f"t1 after both acks: {disk['txn/t1']}; expected committed and done")


def inquiry_answered_from_the_log(sub: Submission) -> None:
    """A participant in doubt asks what was decided: a restarted coordinator (nothing in
    memory) answers with the logged decision, and the record stays as it was."""
    for state in ("committed", "aborted"):
        disk = Storage()
        disk["txn/t1"] = _record("t1", state)
        node, ctx = boot(sub, disk)
        ctx.take_effects()
        node.on_message(ctx, "p2", DecisionRequest("t1"))
        got = [(s.dst, s.msg) for s in ctx.sent(DecisionReply)]
        _check(got == [("p2", DecisionReply("t1", state))],
               f"logged {state!r}; the answer to p2's inquiry was {got}")
        _check(disk["txn/t1"]["state"] == state,
               f"answering an inquiry changed the logged {state!r} to {disk['txn/t1']['state']!r}")


def presumed_abort(sub: Submission) -> None:
    """Presumed abort: asked about a transaction it has no record of and is not running, the
    coordinator forces "aborted" to its log before answering "aborted"; a later request for that
    transaction is answered "aborted" and never runs (a logged decision never changes)."""
    node, ctx = boot(sub)
    node.on_message(ctx, "p1", DecisionRequest("t9"))
    got = [(dst, m, disk) for dst, m, disk in ctx.disk_at_send if isinstance(m, DecisionReply)]
    _check(len(got) == 1 and got[0][1] == DecisionReply("t9", "aborted"),
           f"answers to an inquiry about an unknown t9: {[m for _, m, _ in got]}; expected "
           "DecisionReply('t9', 'aborted')")
    _check(_state(got[0][2], "t9") == "aborted", "the presumed abort was answered before an "
           "'aborted' record was on disk: after a crash the coordinator could run t9 and commit")
    ctx.take_effects()
    _begin(node, ctx, "t9", req_id=7)
    _check(not ctx.sent(Prepare), "a request for the presumed-aborted t9 started phase 1")
    answers = [s.msg for s in ctx.sent(Response)]
    _check(len(answers) == 1 and answers[0].id == 7 and not answers[0].ok,
           f"the request for t9 got {answers}; expected a definite failure (aborted)")


def undecided_while_voting(sub: Submission) -> None:
    """A participant that voted YES may ask while votes are still coming in: the answer is
    "undecided" (it must keep waiting), nothing is logged, and the transaction can still
    commit."""
    node, ctx = boot(sub)
    _begin(node, ctx)
    node.on_message(ctx, "p1", Vote("t1", True))
    ctx.take_effects()
    node.on_message(ctx, "p1", DecisionRequest("t1"))
    got = [s.msg for s in ctx.sent(DecisionReply)]
    _check(got == [DecisionReply("t1", "undecided")],
           f"p1 (voted YES) asked while p2 and p3 had not voted; the answer was {got}; expected "
           "'undecided'")
    _check("txn/t1" not in ctx.storage, f"an inquiry during voting logged {ctx.storage['txn/t1']}"
           if "txn/t1" in ctx.storage else "")
    for p in ("p2", "p3"):
        node.on_message(ctx, p, Vote("t1", True))
    _check(ctx.storage.get("txn/t1", {}).get("state") == "committed",
           "after the inquiry, every YES vote no longer led to commit")


def retried_request_answered_from_the_log(sub: Submission) -> None:
    """A client that retries its request gets the logged outcome and nothing runs twice, before
    and after a restart."""
    node, ctx = boot(sub)
    _begin(node, ctx)
    for p in PARTS:
        node.on_message(ctx, p, Vote("t1", True))
    ctx.take_effects()
    _begin(node, ctx, req_id=2)
    got = [s.msg for s in ctx.sent(Response)]
    _check(got == [Response(2, True, "committed")] and not ctx.sent(Prepare),
           f"a retried request got {got} (and {len(ctx.sent(Prepare))} Prepare); expected "
           "Response(2, ok, 'committed') and no new phase 1")
    node2, ctx2 = boot(sub, ctx.storage)
    ctx2.take_effects()
    _begin(node2, ctx2, req_id=3)
    got = [s.msg for s in ctx2.sent(Response)]
    _check(got == [Response(3, True, "committed")] and not ctx2.sent(Prepare),
           f"after a restart, a retried request got {got}; expected Response(3, ok, 'committed')")


# -- the runs --------------------------------------------------------------------------------------
def verdicts(history: History, seed: int, *, decided: bool = True) -> list[Verdict]:
    """The book's checkers on a run: atomicity (with termination once faults are repaired) and
    agreement with the coordinator's log."""
    return [Verdict.of("atomicity", atomicity(history, require_decided=decided), seed),
            Verdict.of("coordinator_agreement", coordinator_agreement(history), seed)]


def _crash_at(step: str, what: str) -> Any:
    def run(sub: Submission, seed: int) -> tuple[list[Verdict], History]:
        r = coordinator_crash(seed, "2pc", step, cooperative=False,
                              coordinator_cls=coordinator_cls(sub))
        return verdicts(r.history, seed), r.history

    run.__doc__ = (f"The chapter's coordinator_crash at failpoint {step!r}: {what}; it restarts "
                   "400 ms later. Every participant must decide, all alike, as the log says.")
    return run


def participant_restarts(sub: Submission, seed: int) -> tuple[list[Verdict], History]:
    """The chapter's participant_failure: p2 crashes right after its YES vote and restarts
    300 ms later, in doubt, and asks the coordinator."""
    r = participant_failure(seed, "2pc", "crash_after_vote",
                            participant_options=ASK_COORDINATOR_ONLY,
                            coordinator_cls=coordinator_cls(sub))
    return verdicts(r.history, seed), r.history


def restart_while_voting(seed: int, coordinator: type | None = None, *,
                         slow_vote_ms: float = 30.0, restart_after_ms: float = 5.0,
                         run_ms: float = 600.0) -> History:
    """One transaction; p1 crashes as its YES vote leaves and restarts ``restart_after_ms``
    later, in doubt, asking the coordinator at once, while p3's vote is still on its way
    (``slow_vote_ms`` late). The coordinator is still collecting votes: its only safe answer is
    "undecided"."""
    sim = Sim(seed)
    cl = build_cluster(sim, "2pc", participant_options=ASK_COORDINATOR_ONLY,
                       coordinator_cls=coordinator)
    crashed: list[float] = []

    def shape(src: str, dst: str, msg: Any, rng: Any) -> float | None:
        if isinstance(msg, Vote) and src == "p1" and not crashed:
            crashed.append(sim.now)
            sim.crash("p1", at=sim.now)
            sim.restart("p1", at=sim.now + restart_after_ms)
        if isinstance(msg, Vote) and src == "p3":
            return slow_vote_ms
        return None

    sim.net.add_interceptor(shape)
    sim.process(transaction(cl.client("c_co"), "co", simple_txn("t1", cl.participants),
                            timeout_ms=200.0))
    sim.run(until=run_ms)
    return sim.history


def _restart_while_voting(sub: Submission, seed: int) -> tuple[list[Verdict], History]:
    """p1 crashes as its YES vote leaves and restarts 5 ms later, asking the coordinator at once,
    while p3's vote is 30 ms late: the coordinator is still collecting votes."""
    h = restart_while_voting(seed, coordinator_cls(sub))
    return verdicts(h, seed), h


def _chaos(sub: Submission, seed: int) -> tuple[list[Verdict], History]:
    """The chapter's chaos run: two coordinators, conflicting transactions, random crashes and
    restarts of every node, partitions, 5% loss and 2% duplication for 1.5 s, then every fault is
    repaired and every participant must decide."""
    r = chaos(seed, "2pc", participant_options=ASK_COORDINATOR_ONLY,
              coordinator_cls=coordinator_cls(sub))
    return verdicts(r.history, seed), r.history


def _lossy(sub: Submission, seed: int) -> tuple[list[Verdict], History]:
    """No crash: 30% of messages lost and 30% duplicated until the repair (retries and
    duplicate acknowledgements)."""
    r = chaos(seed, "2pc", crashes=False, partitions=False, loss=0.3, duplicate=0.3,
              participant_options=ASK_COORDINATOR_ONLY, coordinator_cls=coordinator_cls(sub))
    return verdicts(r.history, seed), r.history


def _sweep_seeds(seeds: list[int]) -> list[int]:
    """Ten runs per grading seed (a chaos run takes milliseconds)."""
    return sorted({s + 1000 * k for s in seeds for k in range(10)})


def assignment() -> Assignment:
    tests: list[GradedTest] = [
        unit("unit.commit_forced_before_phase2", 2, commit_forced_before_phase2),
        unit("unit.abort_forced_before_phase2", 1, abort_forced_before_phase2),
        unit("unit.restart_resends_logged_decisions", 2, restart_resends_logged_decisions),
        unit("unit.inquiry_answered_from_the_log", 2, inquiry_answered_from_the_log),
        unit("unit.presumed_abort", 2, presumed_abort),
        unit("unit.undecided_while_voting", 1, undecided_while_voting),
        unit("unit.retried_request_answered_from_the_log", 1,
             retried_request_answered_from_the_log),
        per_seed("scenario.crash_before_decision", 2,
                 _crash_at("after_votes", "every vote is in, nothing is logged")),
        per_seed("scenario.crash_after_logging", 2,
                 _crash_at("decision_logged", "commit is logged, nothing is sent")),
        per_seed("scenario.crash_mid_phase2", 3,
                 _crash_at("mid_phase2", "Commit reached p1 only")),
        per_seed("scenario.participant_restarts", 2, participant_restarts),
        per_seed("scenario.participant_restarts_while_voting", 2, _restart_while_voting),
        per_seed("sweep.lossy_network", 2, _lossy, seeds=_sweep_seeds),
        per_seed("sweep.chaos_with_faults", 4, _chaos, seeds=_sweep_seeds),
    ]
    return Assignment(NAME, "2PC: the coordinator's log and its recovery",
                      "dslab.commit.coordinator", ("CoordinatorBase",), tests, chapter="commit")
