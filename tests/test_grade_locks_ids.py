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


# -- segment-server --------------------------------------------------------------------------------
SEG = assignments.get("segment-server")


@pytest.fixture(scope="module")
def seg_full(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seg")
    ref = tmp / "ref.py"
    ref.write_text(reference_source("segment-server"))
    return grade(SEG, ref, out_dir=tmp, plots=False)


def test_segment_server_reference_scores_full_marks_and_the_skeleton_zero(seg_full, tmp_path):
    assert seg_full.score == seg_full.max_score == SEG.max_score, seg_full.table()
    skel = tmp_path / "skel.py"
    skel.write_text(skeleton_source("segment-server"))
    zero = grade(SEG, skel, out_dir=tmp_path, plots=False)
    assert zero.score == 0, zero.table()
    assert all(t.score == 0 for t in zero.tests)


def test_a_request_counter_that_restarts_at_1_accepts_an_old_incarnations_grant(seg_full,
                                                                                 tmp_path):
    """Each incarnation's first fetch is request 1 again: a late duplicate of a grant that an
    earlier incarnation already used matches it, and its IDs are handed out a second time."""
    bug = variant(tmp_path, "segment-server",
                  '        self.req = ctx.storage["req"] if "req" in ctx.storage else 0\n',
                  "        self.req = 0\n", "volatile_req")
    r = grade(SEG, bug, out_dir=tmp_path, plots=True)
    assert lost(r, seg_full) == {"unit.request_ids_survive_restarts",
                                 "scenario.restarts_increasing_per_server"}, r.table()
    assert scores(r)["scenario.restarts_increasing_per_server"] == 0
    out = next(t.output for t in r.tests if t.name == "scenario.restarts_increasing_per_server")
    assert "checker unique_ids" in out or "checker monotonic(per client)" in out
    assert "replay: dslab grade segment-server" in out and "space-time plot: " in out


def test_handing_out_the_segment_end_gives_it_twice(seg_full, tmp_path):
    """[start, end) is half open: end is the first ID of the next segment."""
    bug = variant(tmp_path, "segment-server",
                  "            if self.next_id < self.end:\n",
                  "            if self.next_id <= self.end:\n", "inclusive_end")
    r = grade(SEG, bug, out_dir=tmp_path, plots=False)
    assert lost(r, seg_full) == {"unit.ids_in_order_up_to_the_end",
                                 "unit.stale_and_duplicate_answers_are_ignored",
                                 "sweep.restarts_and_duplicates",
                                 "scenario.restarts_increasing_per_server"}, r.table()
    assert "checker unique_ids" in next(t.output for t in r.tests
                                        if t.name == "sweep.restarts_and_duplicates")


def test_without_the_prefetch_only_the_latency_test_is_lost(seg_full, tmp_path):
    bug = variant(tmp_path, "segment-server",
                  "            self.double_buffer\n            and not self.fetching\n",
                  "            False\n            and not self.fetching\n", "no_prefetch")
    r = grade(SEG, bug, out_dir=tmp_path, plots=False)
    assert lost(r, seg_full) == {"scenario.double_buffer_latency"}, r.table()
    assert scores(r)["scenario.double_buffer_latency"] == 0
    assert "waited for the database" in next(t.output for t in r.tests
                                             if t.name == "scenario.double_buffer_latency")


def test_the_ids_builders_swap_in_the_server_class():
    from dslab.ids.cluster import build, build_segment
    from dslab.ids.segment import SegmentDB, SegmentIdServer
    from dslab.ids.snowflake import SnowflakeNode
    from dslab.sim import Sim

    class Mine(SegmentIdServer):
        pass

    sim = Sim(seed=1)
    assert build_segment(sim, 3, Mine, step=10) == ["id1", "id2", "id3"]
    sim.run(until=5.0)
    assert [type(sim.handler(n)) for n in ("id1", "id2", "id3")] == [Mine] * 3
    assert type(sim.handler("db")) is SegmentDB

    class Snow(SnowflakeNode):
        pass

    sim = Sim(seed=1)
    cl = build(sim, "snowflake", node_cls=Snow)
    sim.run(until=1.0)
    assert {type(sim.handler(n)) for n in cl.servers} == {Snow}
    with pytest.raises(ValueError, match="node_cls=.* is not allowed with scheme='redis'"):
        build(Sim(seed=1), "redis", node_cls=Mine)
    with pytest.raises(TypeError, match="node_cls=<class 'int'> must be a subclass"):
        build(Sim(seed=1), "segment", node_cls=int)
