"""The twopc-recovery grader can fail: the reference coordinator scores full marks, the generated
skeleton zero, and each buggy coordinator (the reference plus one textual change, as a student's
near miss would be) loses the points of the rule it breaks, caught by the book's checkers on the
history (atomicity, agreement with the coordinator's log) or by a unit test."""

from __future__ import annotations

from pathlib import Path

import pytest

from dslab.commit.check import coordinator_agreement
from dslab.commit.scenarios import chaos, partition_split
from dslab.grade import assignments
from dslab.grade.assignments.twopc_recovery import restart_while_voting
from dslab.grade.cli import reference_source, skeleton_source
from dslab.grade.framework import grade

A = assignments.get("twopc-recovery")
NAME = "twopc-recovery"


def variant(tmp_path: Path, tag: str, *edits: tuple[str, str]) -> Path:
    src = reference_source(NAME)
    for old, new in edits:
        assert src.count(old) == 1, f"the bug's anchor is not unique in the reference: {old!r}"
        src = src.replace(old, new)
    path = tmp_path / f"{tag}.py"
    path.write_text(src)
    return path


def scores(report) -> dict[str, float]:
    return {t.name: t.score for t in report.tests}


def output(report, test: str) -> str:
    return next(t.output for t in report.tests if t.name == test)


def test_the_reference_scores_full_marks_and_the_skeleton_zero(tmp_path):
    ref = tmp_path / "ref.py"
    ref.write_text(reference_source(NAME))
    full = grade(A, ref, seeds=[1, 2, 3, 4], out_dir=tmp_path, plots=False)
    assert full.score == full.max_score == A.max_score == 28, full.table()
    skel = tmp_path / "skel.py"
    skel.write_text(skeleton_source(NAME))
    zero = grade(A, skel, out_dir=tmp_path, plots=False)
    assert zero.score == 0, zero.table()
    assert "not implemented yet" in zero.tests[0].output


# -- the decision is forced before anyone hears it ---------------------------------------------
SEND_THEN_LOG = (
    ("        self._log(ctx, tid, outcome, parts, why=why)  # forced before phase 2 starts\n", ""),
    ("            ctx.send(p, msg)\n        ctx.set_timer(f\"retry/{tid}\", self.retry_ms)\n",
     "            ctx.send(p, msg)\n        ctx.set_timer(f\"retry/{tid}\", self.retry_ms)\n"
     "        self._log(ctx, tid, outcome, parts, why=why)\n"),
)


def test_sending_the_decision_before_logging_it_splits_the_outcome(tmp_path):
    """Commit reaches p1, the coordinator crashes before its log write: after the restart it has
    no record, presumes abort, and p2 and p3 abort what p1 committed."""
    bug = variant(tmp_path, "send_then_log", *SEND_THEN_LOG)
    r = grade(A, bug, seeds=[1, 2],
              only=["unit.commit_forced_before_phase2", "unit.presumed_abort",
                    "scenario.crash_mid_phase2", "scenario.participant_restarts"],
              out_dir=tmp_path, plots=True)
    assert scores(r) == {"unit.commit_forced_before_phase2": 0.0, "unit.presumed_abort": 2.0,
                         "scenario.crash_mid_phase2": 0.0,
                         "scenario.participant_restarts": 2.0}, r.table()
    out = output(r, "scenario.crash_mid_phase2")
    assert "checker atomicity" in out and "(a split decision)" in out
    assert f"replay: dslab grade {NAME} {bug} --only scenario.crash_mid_phase2 --seeds 1" in out
    plot = out.split("space-time plot: ")[1].split("\n")[0]
    assert Path(plot).is_file()
    assert "must be forced to the log before phase 2" in output(
        r, "unit.commit_forced_before_phase2")


# -- recovery never changes a logged decision --------------------------------------------------
def test_a_restart_that_aborts_a_logged_commit_is_caught(tmp_path):
    """On restart the coordinator resends Abort for a transaction it logged as committed: the
    participants abort what the log says committed."""
    bug = variant(tmp_path, "restart_aborts",
                  ('                msg = self._decision_message(tid, rec["state"])\n',
                   '                msg = self._decision_message(tid, "aborted")\n'))
    r = grade(A, bug, only=["unit.restart_resends_logged_decisions", "unit.presumed_abort",
                            "scenario.crash_after_logging", "scenario.crash_before_decision"],
              out_dir=tmp_path, plots=False)
    assert scores(r) == {"unit.restart_resends_logged_decisions": 0.0,
                         "unit.presumed_abort": 2.0, "scenario.crash_after_logging": 0.0,
                         "scenario.crash_before_decision": 2.0}, r.table()
    out = output(r, "scenario.crash_after_logging")
    assert "checker coordinator_agreement" in out and "co logged committed, but p1 aborted" in out


def test_answering_inquiries_without_the_log_loses_committed_transactions(tmp_path):
    """The coordinator answers "what was decided?" from memory only: after a restart it presumes
    abort for a transaction its log says committed, and overwrites the record."""
    bug = variant(tmp_path, "answer_from_memory",
                  ('"aborted".\n        rec = self.record(ctx, tid)\n',
                   '"aborted".\n        rec = None\n'))
    r = grade(A, bug, only=["unit.inquiry_answered_from_the_log", "unit.presumed_abort",
                            "sweep.chaos_with_faults"], out_dir=tmp_path, plots=False)
    s = scores(r)
    assert s["unit.inquiry_answered_from_the_log"] == 0 and s["unit.presumed_abort"] == 2
    assert s["sweep.chaos_with_faults"] < 4, r.table()
    assert "replay with seed=" in output(r, "sweep.chaos_with_faults")


# -- a participant in doubt is never told abort while the coordinator may still commit ---------
def test_answering_abort_while_still_collecting_votes_splits_the_outcome(tmp_path):
    bug = variant(tmp_path, "abort_while_undecided",
                  ('            ctx.send(src, DecisionReply(tid, "undecided"))\n',
                   '            ctx.send(src, DecisionReply(tid, "aborted"))\n'))
    r = grade(A, bug, only=["unit.undecided_while_voting", "scenario.participant_restarts",
                            "scenario.participant_restarts_while_voting",
                            "scenario.crash_mid_phase2"], out_dir=tmp_path, plots=False)
    assert scores(r) == {"unit.undecided_while_voting": 0.0,
                         "scenario.participant_restarts": 2.0,
                         "scenario.participant_restarts_while_voting": 0.0,
                         "scenario.crash_mid_phase2": 3.0}, r.table()
    out = output(r, "scenario.participant_restarts_while_voting")
    assert "committed at p2, p3 but aborted at p1" in out


def test_a_coordinator_without_recovery_loses_only_the_recovery_unit_test(tmp_path):
    """Without resending on restart, participants still learn the outcome by asking (the log
    answers them), so every history stays atomic: only the unit test can see the missing rule."""
    bug = variant(tmp_path, "no_recovery",
                  ('            if rec["state"] in ("committed", "aborted") and not rec["done"]:\n',
                   "            if False:\n"))
    r = grade(A, bug, out_dir=tmp_path, plots=False)
    lost = {n: s for n, s in scores(r).items() if s < next(t.max_score for t in A.tests
                                                            if t.name == n)}
    assert lost == {"unit.restart_resends_logged_decisions": 0.0}, r.table()


# -- the checker and the scenario on their own ---------------------------------------------------
def test_coordinator_agreement_accepts_2pc_and_catches_the_3pc_split():
    for seed in range(10):
        h = chaos(seed, "2pc", participant_options={"cooperative": False}).history
        assert coordinator_agreement(h).valid, f"replay with seed={seed}"
    bad = coordinator_agreement(partition_split(7, "3pc").history)
    assert not bad.valid
    assert "co logged committed, but p2 aborted" in bad.explanation
    assert "replay with seed=7" in bad.explanation


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_restart_while_voting_scenario_really_asks_during_the_vote(seed):
    """The scenario tests what it says: p1 asks while the coordinator is still collecting votes,
    and (told "undecided") ends up committing with everyone else."""
    h = restart_while_voting(seed)
    asked = [m for m in h.messages if m.src == "p1" and m.dst == "co"
             and m.type == "DecisionRequest" and m.status == "delivered"]
    decided = next(e.time for e in h.events if e.name == "decide")
    assert asked and asked[0].recv_time < decided
    finals = {e.node: e.data["state"] for e in h.events if e.name == "state"
              and e.data["state"] in ("committed", "aborted")}
    assert finals == {"p1": "committed", "p2": "committed", "p3": "committed"}


def test_the_same_submission_gets_the_same_report_twice(tmp_path):
    bug = variant(tmp_path, "restart_aborts",
                  ('                msg = self._decision_message(tid, rec["state"])\n',
                   '                msg = self._decision_message(tid, "aborted")\n'))
    a = grade(A, bug, out_dir=tmp_path / "a", plots=False).to_json()
    b = grade(A, bug, out_dir=tmp_path / "b", plots=False).to_json()
    assert a == b
