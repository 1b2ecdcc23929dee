"""The zk-lock grader can fail: the reference (the book's Lock recipe) scores full marks, the
generated skeleton scores zero, and each known-buggy recipe loses the points of the rule it
breaks. A bug is the reference plus one textual change, as a student's near-miss would be."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dslab.grade import assignments
from dslab.grade.assignments.zk_lock import (
    FakeClient,
    FakeZooKeeper,
    fifo_by_sequence,
    one_wakeup_per_change,
)
from dslab.grade.cli import main, reference_source, skeleton_source
from dslab.grade.framework import grade
from dslab.history import History

ZK = assignments.get("zk-lock")
SEEDS = [1, 2]


def variant(tmp_path: Path, old: str, new: str, tag: str) -> Path:
    src = reference_source("zk-lock")
    assert src.count(old) == 1, f"the bug's anchor is not unique in the reference: {old!r}"
    path = tmp_path / f"{tag}.py"
    path.write_text(src.replace(old, new))
    return path


def scores(report) -> dict[str, float]:
    return {t.name: t.score for t in report.tests}


def test_the_reference_is_the_books_lock_recipe():
    import dslab.zk.client
    import dslab.zk.lock

    assert ZK.module == "dslab.zk.lock" and dslab.zk.client.Lock is dslab.zk.lock.Lock


def test_reference_scores_full_marks_and_the_skeleton_zero(tmp_path):
    ref = tmp_path / "ref.py"
    ref.write_text(reference_source("zk-lock"))
    full = grade(ZK, ref, seeds=SEEDS, out_dir=tmp_path, plots=False)
    assert full.score == full.max_score == ZK.max_score, full.table()
    skel = tmp_path / "skel.py"
    skel.write_text(skeleton_source("zk-lock"))
    zero = grade(ZK, skel, seeds=SEEDS, out_dir=tmp_path, plots=False)
    assert zero.score == 0, zero.table()
    assert "not implemented yet" in zero.tests[0].output


HERD = (
    "        st, ev = yield from c.exists(pred, watch=True, record=False)\n"
    "        if st.ok and st.value is not None:\n"
    "            yield ev\n",
    "        st, ev = yield from c.get_children(self.path, watch=True, record=False)\n"
    "        if st.ok:\n"
    "            yield ev\n",
)


def test_watching_the_lock_nodes_children_is_the_herd_effect(tmp_path):
    bug = variant(tmp_path, *HERD, "herd")
    r = grade(ZK, bug, seeds=SEEDS, out_dir=tmp_path, plots=True,
              only=["unit.lowest_takes_the_lock", "unit.waiter_watches_only_its_predecessor",
                    "scenario.many_contenders"])
    s = scores(r)
    assert s["unit.lowest_takes_the_lock"] == 2, r.table()
    assert s["unit.waiter_watches_only_its_predecessor"] == 0, r.table()
    assert s["scenario.many_contenders"] == 0, r.table()
    out = r.tests[2].output
    assert "checker one_wakeup_per_change" in out and "the herd effect" in out
    assert f"replay: dslab grade zk-lock {bug} --only scenario.many_contenders --seeds" in out
    plot = out.split("space-time plot: ")[1].split("\n")[0]
    assert Path(plot).is_file()


def test_taking_the_lock_after_a_wakeup_without_checking_loses_its_points(tmp_path):
    bug = variant(tmp_path, "            yield from self.wait_turn(kids, i)\n",
                  "            yield from self.wait_turn(kids, i)\n"
                  "            return RpcResult(\"ok\", self.token)\n", "no_recheck")
    r = grade(ZK, bug, seeds=SEEDS, out_dir=tmp_path, plots=False,
              only=["unit.waiter_watches_only_its_predecessor", "unit.rechecks_after_every_wakeup",
                    "scenario.holder_crash_and_expiry"])
    s = scores(r)
    assert s["unit.waiter_watches_only_its_predecessor"] == 2, r.table()
    assert s["unit.rechecks_after_every_wakeup"] == 0, r.table()
    assert s["scenario.holder_crash_and_expiry"] < 4, r.table()
    assert "checker expired_waiter_gives_up" in r.tests[2].output  # woken by the expiry


def test_taking_the_lock_without_being_lowest_loses_nearly_everything(tmp_path):
    bug = variant(tmp_path, "            if i == 0:\n", "            if i >= 0:\n", "not_lowest")
    r = grade(ZK, bug, seeds=SEEDS, out_dir=tmp_path, plots=False)
    s = scores(r)
    assert s["unit.lowest_takes_the_lock"] == 2 and s["unit.release_deletes_the_node"] == 1
    for name in ("unit.waiter_watches_only_its_predecessor", "unit.rechecks_after_every_wakeup",
                 "scenario.many_contenders", "scenario.holder_crash_and_expiry",
                 "sweep.server_faults"):
        assert s[name] == 0, r.table()


def test_ignoring_session_expiry_loses_its_points(tmp_path):
    src = reference_source("zk-lock")
    checks = ("            if c.expired:\n                return lost()\n",
              "            if mine not in kids:\n                return lost()\n")
    for old in checks:
        assert src.count(old) == 1
        src = src.replace(old, "")
    bug = tmp_path / "no_expiry.py"
    bug.write_text(src)
    r = grade(ZK, bug, seeds=SEEDS, out_dir=tmp_path, plots=False,
              only=["unit.session_expiry_loses_the_lock", "unit.rechecks_after_every_wakeup"])
    assert scores(r) == {"unit.session_expiry_loses_the_lock": 0.0,
                         "unit.rechecks_after_every_wakeup": 2.0}, r.table()


def test_a_release_that_deletes_the_wrong_node_leaves_everyone_waiting(tmp_path):
    bug = variant(tmp_path, "            res = yield from c.delete(self.node, record=False)\n",
                  "            res = yield from c.delete(self.path, record=False)\n", "wrong_node")
    r = grade(ZK, bug, seeds=SEEDS, out_dir=tmp_path, plots=False,
              only=["unit.release_deletes_the_node", "scenario.many_contenders"])
    s = scores(r)
    assert s["unit.release_deletes_the_node"] == 0 and s["scenario.many_contenders"] == 0
    assert "checker progress" in r.tests[1].output


def test_results_json_and_the_command_line(tmp_path):
    ref = tmp_path / "ref.py"
    assert main(["solution", "zk-lock", "-o", str(ref)]) == 0
    code = main(["grade", "zk-lock", str(ref), "--seeds", "3", "--only",
                 "unit.release_deletes_the_node", "--only", "sweep.server_faults",
                 "--out", str(tmp_path / "out"), "--no-plots"])
    assert code == 0
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["score"] == 5 and [t["name"] for t in doc["tests"]] == [
        "unit.release_deletes_the_node", "sweep.server_faults"]


# -- the checkers themselves can fail --------------------------------------------------------------
def _history(events: list[tuple[float, str, str, dict]]) -> History:
    h = History(seed=0)
    for t, node, name, data in events:
        h.event(t, node, name, **data)
    return h


def test_fifo_checker_rejects_a_grant_out_of_queue_order():
    ok = _history([(1, "a", "lock_granted", {"seq": 0}), (2, "b", "lock_granted", {"seq": 1})])
    bad = _history([(1, "a", "lock_granted", {"seq": 1}), (2, "b", "lock_granted", {"seq": 0})])
    assert fifo_by_sequence(ok).status == "ok"
    v = fifo_by_sequence(bad)
    assert v.unsafe and "not in queue order" in v.explanation


def test_wakeup_checker_rejects_two_clients_woken_by_one_change():
    note = {"path": "/lock", "event": "children", "zxid": 7}
    bad = _history([(1, "a", "notified", note), (1, "b", "notified", note)])
    assert one_wakeup_per_change(bad).unsafe
    one = _history([(1, "a", "notified", note)])
    assert one_wakeup_per_change(one).status == "ok"


def test_the_fake_zookeeper_fires_one_shot_watches():
    zk = FakeZooKeeper()
    c = FakeClient(zk)
    gen = c.exists("/lock/x", watch=True)
    with pytest.raises(StopIteration) as stop:
        next(gen)
    _, w = stop.value.value
    zk.create("/lock/x", None, False)
    assert w.fired == "created" and zk.pending("me") == []
