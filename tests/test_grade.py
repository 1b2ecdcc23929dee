"""The grader can fail: the reference scores full marks, the generated skeleton scores zero, and
known-buggy variants lose exactly the points of the rule they break.

Buggy variants are made from the reference source by one textual change each (so they are the
reference plus one bug, as a student's near-miss would be)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dslab.grade import assignments
from dslab.grade.cli import main, parse_seeds, reference_source, skeleton_source
from dslab.grade.framework import grade
from dslab.grade.skeleton import blocks, skeleton


def variant(tmp_path: Path, name: str, old: str, new: str, tag: str) -> Path:
    src = reference_source(name)
    assert src.count(old) == 1, f"the bug's anchor is not unique in {name}'s reference: {old!r}"
    path = tmp_path / f"{tag}.py"
    path.write_text(src.replace(old, new))
    return path


def scores(report) -> dict[str, float]:
    return {t.name: t.score for t in report.tests}


# -- the skeleton ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", assignments.names())
def test_the_skeleton_keeps_everything_outside_the_solution_blocks(name):
    src = reference_source(name)
    sk = skeleton_source(name)
    compile(sk, f"{name}-skeleton.py", "exec")
    assert "# SOLUTION" not in sk and "# END SOLUTION" not in sk
    assert sk.count(f"NotImplementedError('TODO({name})") == len(blocks(src))
    inside = {i for b in blocks(src) for i in range(b.start, b.end + 1)}
    outside = [line for i, line in enumerate(src.splitlines(), 1) if i not in inside]
    todo = ("# TODO: ", f"raise NotImplementedError('TODO({name})")
    kept = [line for line in sk.splitlines()
            if not line.lstrip().startswith(todo) and not line.startswith("# ")]
    assert kept == [line for line in outside if not line.startswith("# ")]


def test_unbalanced_markers_are_errors_naming_the_line():
    with pytest.raises(ValueError, match="x.py:2: '# SOLUTION' is never closed"):
        blocks("a = 1\n    # SOLUTION\n    b = 2\n", "x.py")
    with pytest.raises(ValueError, match="x.py:1: '# END SOLUTION' without"):
        blocks("# END SOLUTION\n", "x.py")
    with pytest.raises(ValueError, match="no '# SOLUTION' block"):
        skeleton("a = 1\n", "demo")


def test_parse_seeds_reads_lists_ranges_and_comments():
    assert parse_seeds("1,2, 5-7\n# hidden\n40") == [1, 2, 5, 6, 7, 40]
    with pytest.raises(ValueError, match="'x' is not a seed"):
        parse_seeds("1,x")


# -- raft-election ---------------------------------------------------------------------------------
RAFT = assignments.get("raft-election")


def test_raft_reference_scores_full_marks_and_the_skeleton_zero(tmp_path):
    ref = tmp_path / "ref.py"
    ref.write_text(reference_source("raft-election"))
    full = grade(RAFT, ref, seeds=[1], out_dir=tmp_path, plots=False)
    assert full.score == full.max_score == RAFT.max_score, full.table()
    skel = tmp_path / "skel.py"
    skel.write_text(skeleton_source("raft-election"))
    zero = grade(RAFT, skel, seeds=[1], out_dir=tmp_path, plots=False)
    assert zero.score == 0, zero.table()
    assert "not implemented yet" in zero.tests[0].output


def test_raft_without_the_figure8_rule_loses_its_points(tmp_path):
    bug = variant(tmp_path, "raft-election",
                  "            if self.log.term_at(n) != self.current_term:\n"
                  "                break  # older terms are never committed by counting replicas "
                  "(Figure 8)\n", "", "no_figure8")
    r = grade(RAFT, bug, seeds=[1, 2, 3],
              only=["unit.figure_8_commit_rule", "unit.one_vote_per_term",
                    "sweep.figure8_unreliable_with_faults"],
              out_dir=tmp_path, plots=True)
    s = scores(r)
    assert s["unit.figure_8_commit_rule"] == 0 and s["unit.one_vote_per_term"] == 1
    assert s["sweep.figure8_unreliable_with_faults"] < 6, r.table()
    out = next(t.output for t in r.tests if t.name == "sweep.figure8_unreliable_with_faults")
    assert "checker raft harness" in out
    assert f"replay: dslab grade raft-election {bug} --only sweep.figure8_unreliable_with_faults " \
           "--seeds" in out
    assert "space-time plot: " in out
    plot = out.split("space-time plot: ")[1].split("\n")[0]
    assert Path(plot).is_file()


def test_raft_without_the_election_restriction_loses_its_points(tmp_path):
    bug = variant(tmp_path, "raft-election",
                  "            and self.log.is_up_to_date(msg.last_log_term, msg.last_log_index)"
                  "  # §5.4.1\n", "", "no_restriction")
    r = grade(RAFT, bug, seeds=[1], only=["unit.election_restriction", "unit.figure_8_commit_rule"],
              out_dir=tmp_path, plots=False)
    assert scores(r) == {"unit.election_restriction": 0.0, "unit.figure_8_commit_rule": 2.0}
    assert "the vote should be refused" in r.tests[0].output


def test_results_json_is_in_the_gradescope_format(tmp_path):
    ref = tmp_path / "ref.py"
    ref.write_text(reference_source("raft-election"))
    code = main(["grade", "raft-election", str(ref), "--seeds", "1", "--only",
                 "unit.one_vote_per_term", "--only", "scenario.initial_election",
                 "--out", str(tmp_path / "out")])
    assert code == 0
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["score"] == 3
    assert [sorted(t) for t in doc["tests"]] == [["max_score", "name", "output", "score"]] * 2


def test_hidden_seeds_come_from_a_file_and_a_failure_exits_nonzero(tmp_path, capsys):
    seeds = tmp_path / "hidden.txt"
    seeds.write_text("# grader only\n4\n5\n")
    skel = tmp_path / "skel.py"
    skel.write_text(skeleton_source("raft-election"))
    code = main(["grade", "raft-election", str(skel), "--hidden-seeds", str(seeds), "--only",
                 "scenario.initial_election", "--out", str(tmp_path / "o"), "--no-plots"])
    assert code == 1
    out = capsys.readouterr().out
    assert "(seeds [4, 5])" in out and "--seeds 4" in out


# -- raft-kv ---------------------------------------------------------------------------------------
KV = assignments.get("raft-kv")


def test_kv_reference_scores_full_marks_and_the_skeleton_zero(tmp_path):
    ref = tmp_path / "ref.py"
    ref.write_text(reference_source("raft-kv"))
    full = grade(KV, ref, out_dir=tmp_path, plots=False)
    assert full.score == full.max_score == KV.max_score, full.table()
    skel = tmp_path / "skel.py"
    skel.write_text(skeleton_source("raft-kv"))
    assert grade(KV, skel, out_dir=tmp_path, plots=False).score == 0


def test_kv_reads_served_from_local_state_fail_the_nemesis_sweep(tmp_path):
    """A deposed leader that still answers reads from its map returns stale values: the
    linearizability checker catches it on the history."""
    bug = variant(tmp_path, "raft-kv",
                  "        index, _, _ = self.start(ctx, op)\n",
                  "        if isinstance(op, Get):\n"
                  "            value = self.data.get(op.key)\n"
                  "            ctx.send(src, Response(req.id, ok=True, body=value))\n"
                  "            return\n"
                  "        index, _, _ = self.start(ctx, op)\n", "local_reads")
    r = grade(KV, bug, only=["unit.follower_refuses_definitely", "sweep.nemesis"],
              out_dir=tmp_path, plots=False)
    s = scores(r)
    assert s["unit.follower_refuses_definitely"] == 1 and s["sweep.nemesis"] < 6, r.table()
    assert "checker linearizable(kv)" in r.tests[1].output


def test_kv_without_duplicate_detection_loses_its_unit_points(tmp_path):
    bug = variant(tmp_path, "raft-kv",
                  "        if last is not None and op.seq <= last[0]:\n"
                  "            return last[1] if op.seq == last[0] else None\n", "", "no_dedup")
    r = grade(KV, bug, only=["unit.duplicates_run_once", "unit.reply_after_apply"],
              out_dir=tmp_path, plots=False)
    assert scores(r) == {"unit.duplicates_run_once": 0.0, "unit.reply_after_apply": 2.0}


# -- quorum-store ----------------------------------------------------------------------------------
QS = assignments.get("quorum-store")


def test_quorum_store_reference_scores_full_marks_and_the_skeleton_zero(tmp_path):
    ref = tmp_path / "ref.py"
    ref.write_text(reference_source("quorum-store"))
    full = grade(QS, ref, seeds=[1, 2, 3, 4], out_dir=tmp_path, plots=False)
    assert full.score == full.max_score == QS.max_score, full.table()
    skel = tmp_path / "skel.py"
    skel.write_text(skeleton_source("quorum-store"))
    assert grade(QS, skel, out_dir=tmp_path, plots=False).score == 0


def test_a_get_that_answers_after_one_reply_returns_stale_values(tmp_path):
    """R ignored: the coordinator answers with the first reply (often its own stale copy); the
    quorum-reads checker finds a read that missed an acknowledged write."""
    bug = variant(tmp_path, "quorum-store",
                  "        if not op.replied and len(op.replies) >= self.config.R:\n",
                  "        if not op.replied and len(op.replies) >= 1:\n", "r_is_one")
    r = grade(QS, bug, only=["unit.get_waits_for_r", "scenario.quorum_reads"],
              out_dir=tmp_path, plots=False)
    s = scores(r)
    assert s["unit.get_waits_for_r"] == 0 and s["scenario.quorum_reads"] < 5, r.table()
    assert "checker quorum_reads" in r.tests[1].output


def test_a_store_without_read_repair_never_converges_after_a_partition(tmp_path):
    bug = variant(tmp_path, "quorum-store",
                  "            if node in owners and digest(vs) != want:\n",
                  "            if False:\n", "no_repair")
    r = grade(QS, bug, only=["unit.read_repair_fixes_stale_owners",
                             "sweep.partition_then_read_repair", "unit.put_waits_for_w"],
              out_dir=tmp_path, plots=False)
    assert scores(r) == {"unit.put_waits_for_w": 2.0, "unit.read_repair_fixes_stale_owners": 0.0,
                         "sweep.partition_then_read_repair": 0.0}, r.table()
    assert "checker convergence (read repair)" in r.tests[2].output


# -- rate-limiter ----------------------------------------------------------------------------------
RL = assignments.get("rate-limiter")


def test_limiter_reference_scores_full_marks_and_the_skeleton_zero(tmp_path):
    ref = tmp_path / "ref.py"
    ref.write_text(reference_source("rate-limiter"))
    full = grade(RL, ref, seeds=range(1, 6), out_dir=tmp_path, plots=False)
    assert full.score == full.max_score == RL.max_score, full.table()
    skel = tmp_path / "skel.py"
    skel.write_text(skeleton_source("rate-limiter"))
    assert grade(RL, skel, out_dir=tmp_path, plots=False).score == 0


def test_a_token_bucket_that_hoards_tokens_breaks_its_arrival_curve(tmp_path):
    bug = variant(tmp_path, "rate-limiter",
                  "            self.tokens = min(self.capacity, self.tokens + elapsed_s * "
                  "self.rate_per_s)\n",
                  "            self.tokens = self.tokens + elapsed_s * self.rate_per_s\n", "hoard")
    r = grade(RL, bug, out_dir=tmp_path, plots=False)
    assert scores(r) == {"unit.sliding_window_basics": 2.0, "unit.token_bucket_basics": 0.0,
                         "trace.sliding_window": 3.0, "trace.token_bucket": 0.0}, r.table()
    assert "more than capacity 10" in r.tests[3].output


def test_a_sliding_window_that_keeps_the_oldest_request_a_tick_too_long(tmp_path):
    head = "        while self._admitted and self._admitted[0] "
    bug = variant(tmp_path, "rate-limiter", head + "<= now_ms - self.window_ms:\n",
                  head + "< now_ms - self.window_ms:\n", "off_by_one")
    r = grade(RL, bug, only=["unit.sliding_window_basics"], out_dir=tmp_path, plots=False)
    assert r.score == 0 and "expected [True, True, True, False, True, False, True]" in \
        r.tests[0].output


def test_the_limiter_checkers_can_fail_on_their_own():
    from dslab.grade.assignments.rate_limiter import bucket_verdict, window_verdict

    assert window_verdict([0, 1, 2], [True, True, True], 2, 10).unsafe  # over the bound
    assert window_verdict([0, 1, 20], [True, False, False], 2, 10).unsafe  # needless refusal
    assert window_verdict([0, 1, 2, 20], [True, True, False, True], 2, 10).status == "ok"
    assert bucket_verdict([0, 0, 0], [True, True, True], 2, 1.0).unsafe
    assert bucket_verdict([0, 0, 1500], [True, True, False], 2, 1.0).unsafe  # a token was back
    assert bucket_verdict([0, 0, 0, 1000], [True, True, False, True], 2, 1.0).status == "ok"


# -- determinism and the console script ------------------------------------------------------------
def test_the_same_submission_gets_the_same_report_twice(tmp_path):
    """A grade depends on the seeds and the code only: never on the machine or the clock."""
    bug = variant(tmp_path, "rate-limiter",
                  "            self.tokens = min(self.capacity, self.tokens + elapsed_s * "
                  "self.rate_per_s)\n",
                  "            self.tokens = self.tokens + elapsed_s * self.rate_per_s\n", "hoard")
    a = grade(RL, bug, out_dir=tmp_path / "a", plots=False).to_json()
    b = grade(RL, bug, out_dir=tmp_path / "b", plots=False).to_json()
    assert a == b


def test_the_dslab_console_script_lists_the_assignments():
    import shutil
    import subprocess
    import sys

    exe = shutil.which("dslab", path=str(Path(sys.executable).parent))
    assert exe, "the dslab console script is not installed next to this Python"
    out = subprocess.run([exe, "assignments"], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    assert [line.split()[0] for line in out.splitlines()] == assignments.names()


def test_an_unknown_assignment_or_test_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="assignment='paxos' is unknown; choose from"):
        assignments.get("paxos")
    ref = tmp_path / "ref.py"
    ref.write_text(reference_source("rate-limiter"))
    with pytest.raises(ValueError, match="only contains 'nope'; the tests of rate-limiter are"):
        grade(RL, ref, only=["nope"], out_dir=tmp_path)


def test_a_file_that_does_not_import_scores_zero_with_the_reason(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def oops(:\n")
    r = grade(RL, broken, out_dir=tmp_path)
    assert r.score == 0 and "does not import: SyntaxError" in r.tests[0].output
