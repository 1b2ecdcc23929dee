"""The lock-client and segment-server assignments can fail: the reference scores full marks,
the generated skeleton scores zero, and each known-buggy variant (the reference plus one textual
change, as a student's near miss would be) loses the points of the rule it breaks, and only
those."""

from __future__ import annotations

from pathlib import Path

import pytest

from dslab.grade import assignments
from dslab.grade.cli import reference_source, skeleton_source
from dslab.grade.framework import grade


def variant(tmp_path: Path, name: str, old: str, new: str, tag: str) -> Path:
    src = reference_source(name)
    assert src.count(old) == 1, f"the bug's anchor is not unique in {name}'s reference: {old!r}"
    path = tmp_path / f"{tag}.py"
    path.write_text(src.replace(old, new))
    return path


def scores(report) -> dict[str, float]:
    return {t.name: t.score for t in report.tests}


def lost(report, full) -> set[str]:
    """The tests on which ``report`` scored less than ``full`` (the reference's report)."""
    ref = scores(full)
    return {name for name, s in scores(report).items() if s < ref[name]}


# -- lock-client -----------------------------------------------------------------------------------
LOCK = assignments.get("lock-client")


@pytest.fixture(scope="module")
def lock_full(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lock")
    ref = tmp / "ref.py"
    ref.write_text(reference_source("lock-client"))
    return grade(LOCK, ref, out_dir=tmp, plots=False)


def test_lock_client_reference_scores_full_marks_and_the_skeleton_zero(lock_full, tmp_path):
    assert lock_full.score == lock_full.max_score == LOCK.max_score, lock_full.table()
    skel = tmp_path / "skel.py"
    skel.write_text(skeleton_source("lock-client"))
    zero = grade(LOCK, skel, out_dir=tmp_path, plots=False)
    assert zero.score == 0, zero.table()
    assert all(t.score == 0 for t in zero.tests)
    assert "not implemented yet" in zero.tests[0].output


def test_a_release_without_the_owner_check_frees_another_clients_lock(lock_full, tmp_path):
    """DEL instead of compare-and-delete: c1's late release deletes c2's unexpired lock and c3
    takes it while c2 still holds a valid lease."""
    bug = variant(tmp_path, "lock-client",
                  "                self.primary, CompareAndDelete(self.key, token), "
                  "self.rpc_timeout_ms\n            )\n            self.client.complete(op, r)\n",
                  "                self.primary, Del(self.key), self.rpc_timeout_ms\n"
                  "            )\n            self.client.complete(op, r)\n", "del_release")
    r = grade(LOCK, bug, out_dir=tmp_path, plots=True)
    assert lost(r, lock_full) == {"unit.release_is_compare_and_delete",
                                  "scenario.expiry_while_working"}, r.table()
    assert scores(r)["scenario.expiry_while_working"] == 0
    out = next(t.output for t in r.tests if t.name == "scenario.expiry_while_working")
    assert "checker mutual_exclusion(valid leases)" in out
    assert f"replay: dslab grade lock-client {bug} --only scenario.expiry_while_working " \
           "--seeds 1" in out
    plot = out.split("space-time plot: ")[1].split("\n")[0]
    assert Path(plot).is_file()


def test_writes_without_the_fencing_token_lose_the_fencing_points(lock_full, tmp_path):
    bug = variant(tmp_path, "lock-client",
                  '            self.storage, Write("counter", r.value + 1, self.fence), '
                  "self.rpc_timeout_ms\n",
                  '            self.storage, Write("counter", r.value + 1, None), '
                  "self.rpc_timeout_ms\n", "no_token")
    r = grade(LOCK, bug, out_dir=tmp_path, plots=False)
    assert lost(r, lock_full) == {"unit.writes_carry_the_fencing_token", "scenario.gc_pause",
                                  "scenario.clock_jump", "sweep.pauses_and_clock_jumps"}, \
        r.table()
    assert "checker fenced_writes" in next(t.output for t in r.tests
                                           if t.name == "scenario.gc_pause")


def test_a_renewal_that_does_not_check_the_owner_keeps_a_dead_holders_lock(lock_full, tmp_path):
    """Plain PEXPIRE: after its GC pause c1's watchdog renews c2's lock, and when c2 crashes the
    lock outlives it by far more than the ttl."""
    bug = variant(tmp_path, "lock-client",
                  "                    self.primary, PExpireIfMine(self.key, token, self.ttl_ms), "
                  "self.rpc_timeout_ms\n",
                  "                    self.primary, PExpire(self.key, self.ttl_ms), "
                  "self.rpc_timeout_ms\n", "plain_renew")
    r = grade(LOCK, bug, out_dir=tmp_path, plots=False)
    assert lost(r, lock_full) == {"unit.watchdog_renews_only_as_owner",
                                  "scenario.crashed_holder"}, r.table()
    assert "checker crashed_holder_expires" in next(t.output for t in r.tests
                                                    if t.name == "scenario.crashed_holder")


def test_the_lock_checkers_can_fail_on_the_books_broken_variants():
    """Without fencing the GC pause loses an update; with DEL the late release frees c2's lock
    (the chapter's own broken runs, judged by the assignment's checkers)."""
    from dslab.grade.assignments.lock_client import fenced_writes, lease_exclusion
    from dslab.locks.experiments import FENCING_FAULTS, run_locks

    kw = dict(dict(clients=2, start_ms=[0.0, 20.0], duration_ms=600.0),
              **FENCING_FAULTS["GC pause (watchdog on)"])
    unfenced = run_locks(1, fencing=False, **kw)
    v = fenced_writes(unfenced.history)
    assert v.unsafe and "lost update" in v.explanation
    assert fenced_writes(run_locks(1, fencing=True, **kw).history).status == "ok"
    base = dict(clients=3, ttl_ms=100.0, work_ms=[150.0, 80.0, 60.0], start_ms=[0.0, 20.0, 110.0],
                duration_ms=350.0)
    assert lease_exclusion(run_locks(1, release="del", **base).history, 100.0).unsafe
    assert lease_exclusion(run_locks(1, release="cad", **base).history, 100.0).status == "ok"


def test_run_locks_swaps_in_the_client_and_server_classes():
    from dslab.locks.client import LockClient
    from dslab.locks.experiments import build, run_locks
    from dslab.locks.redis import RedisLockServer
    from dslab.sim import Sim
    from dslab.sim.scenario import Result

    made = []

    class Counting(LockClient):
        def __init__(self, *args, **kwargs):
            made.append(args[1])
            super().__init__(*args, **kwargs)

    res = run_locks(1, clients=2, client_cls=Counting)
    assert isinstance(res, Result) and made == ["c1", "c2"]
    assert res.metadata["summary"] == res.frame.attrs["summary"]
    sim = Sim(seed=1)
    assert build(sim, 3, RedisLockServer, mode="redlock") == ["s1", "s2", "s3"]
    with pytest.raises(ValueError, match="n=2 is not allowed with mode='single'"):
        build(Sim(seed=1), 2, mode="single")
    with pytest.raises(TypeError, match="node_cls=.* must be a subclass"):
        build(Sim(seed=1), 1, node_cls=int)
    with pytest.raises(TypeError, match="client_cls=3 must be a class"):
        run_locks(1, client_cls=3)
