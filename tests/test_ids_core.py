"""Unit tests of the distributed-ID cores, each handler called with a bare Context (no simulator).

One behaviour per test, named after the rule in the notes or the module docstrings.
"""

from __future__ import annotations

import random
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dslab.core import Context, Request, Response, SetTimer
from dslab.ids.autoinc import AutoIncrementDB
from dslab.ids.leaf import FOREVER_KEY, LeafCoordinator
from dslab.ids.messages import (
    CheckIn,
    CheckInReply,
    NextId,
    ReadRow,
    ReportTime,
    RowIs,
    TimeQuery,
    TimeReply,
    UpdateResult,
    UpdateRow,
)
from dslab.ids.redis import AOF_KEY, RedisCounter
from dslab.ids.segment import SegmentDB, SegmentIdServer
from dslab.ids.server import SERVE_TIMER
from dslab.ids.snowflake import (
    DEFAULT_LAYOUT,
    UIDGENERATOR_LAYOUT,
    SnowflakeGenerator,
    SnowflakeLayout,
    SnowflakeNode,
)
from dslab.ids.uuids import (
    GREGORIAN_OFFSET_TICKS,
    UuidGenerator,
    collision_probability,
    n_for_probability,
    uuid1_fields,
    uuid4_from,
)


def ctx_for(node="n1", now=0.0, storage=None, seed=1):
    kwargs = {"now": now, "rng": random.Random(seed)}
    if storage is not None:
        kwargs["storage"] = storage
    return Context(node, **kwargs)


def answers(ctx):
    return [e.msg for e in ctx.sent(Response)]


def ask(handler, ctx, rid, src="c1", tag="order"):
    handler.on_message(ctx, src, Request(rid, NextId(tag)))


def fire(handler, ctx, name, times=1):
    for _ in range(times):
        handler.on_timer(ctx, name)


# -- database auto-increment -----------------------------------------------------------------------
def test_autoinc_hands_out_offset_then_steps():
    db = AutoIncrementDB(offset=2, step=3, service_ms=0.0)
    ctx = ctx_for()
    db.on_start(ctx)
    for rid in (1, 2, 3):
        ask(db, ctx, rid)
    assert [r.body for r in answers(ctx)] == [2, 5, 8]


def test_autoinc_commits_the_counter_before_answering_and_survives_a_restart():
    db = AutoIncrementDB(service_ms=0.0)
    ctx = ctx_for()
    db.on_start(ctx)
    ask(db, ctx, 1)
    ask(db, ctx, 2)
    assert ctx.storage["auto_increment"] == 3
    fresh = AutoIncrementDB(service_ms=0.0)
    ctx2 = ctx_for(storage=ctx.storage)
    fresh.on_start(ctx2)
    ask(fresh, ctx2, 3)
    assert answers(ctx2)[0].body == 3  # never reissued


def test_two_masters_with_step_two_never_collide():
    seen = set()
    for offset in (1, 2):
        db = AutoIncrementDB(offset=offset, step=2, service_ms=0.0)
        ctx = ctx_for()
        db.on_start(ctx)
        for rid in range(50):
            ask(db, ctx, rid)
        got = {r.body for r in answers(ctx)}
        assert not (got & seen)
        seen |= got
    assert seen == set(range(1, 101))


def test_a_single_threaded_server_serves_one_request_per_service_time():
    db = AutoIncrementDB(service_ms=0.25)
    ctx = ctx_for()
    db.on_start(ctx)
    ask(db, ctx, 1)
    ask(db, ctx, 2)
    assert answers(ctx) == [] and ctx.timers() == {SERVE_TIMER: 0.25}
    assert db.queue_length == 2
    fire(db, ctx, SERVE_TIMER)
    assert [r.id for r in answers(ctx)] == [1] and db.queue_length == 1
    fire(db, ctx, SERVE_TIMER)
    assert [r.id for r in answers(ctx)] == [1, 2] and db.queue_length == 0


@pytest.mark.parametrize(
    "kwargs, param",
    [({"step": 0}, "step=0"), ({"offset": 0}, "offset=0"), ({"offset": 3, "step": 2}, "offset=3"),
     ({"service_ms": -1.0}, "service_ms=-1.0")],
)
def test_autoinc_rejects_bad_parameters(kwargs, param):
    with pytest.raises(ValueError, match=param):
        AutoIncrementDB(**kwargs)


# -- segment mode: the database --------------------------------------------------------------------
def booted_db(rows=None):
    db = SegmentDB(rows or {"order": (1, 100)}, service_ms=0.0)
    ctx = ctx_for("db")
    db.on_start(ctx)
    return db, ctx


def test_segment_db_answers_the_row():
    db, ctx = booted_db()
    db.on_message(ctx, "id1", ReadRow("order", 7))
    assert ctx.sent()[0].msg == RowIs("order", 7, 1, 100, 0)


def test_optimistic_update_applies_only_at_the_version_read():
    db, ctx = booted_db()
    db.on_message(ctx, "id1", UpdateRow("order", 1, 0, 101))
    db.on_message(ctx, "id2", UpdateRow("order", 1, 0, 101))  # read the same version: too late
    first, second = (e.msg for e in ctx.sent())
    assert first == UpdateResult("order", 1, True, 101, 1, start=1)
    assert second == UpdateResult("order", 1, False, 101, 1)
    assert ctx.storage["segment/order"] == {"max_id": 101, "step": 100, "version": 1}
    assert db.conflicts == 1


def test_a_granted_segment_is_logged_with_its_range():
    db, ctx = booted_db()
    db.on_message(ctx, "id1", UpdateRow("order", 1, 0, 101))
    logs = [e for e in ctx.effects if type(e).__name__ == "Log"]
    assert logs[0].name == "segment_granted"
    assert logs[0].data == {"biz_tag": "order", "to": "id1", "start": 1, "end": 101, "version": 1}


def test_segment_rows_are_written_once_and_survive_a_restart():
    db, ctx = booted_db()
    db.on_message(ctx, "id1", UpdateRow("order", 1, 0, 101))
    again = SegmentDB({"order": (1, 100)}, service_ms=0.0)
    again.on_start(ctx_for("db", storage=ctx.storage))
    assert again.row(ctx, "order")["max_id"] == 101


# -- segment mode: the ID server -------------------------------------------------------------------
def grant(server, ctx, start, step):
    """Play the database's side of one fetch: the row says max_id=start."""
    read = [e.msg for e in ctx.sent(ReadRow)][-1]
    server.on_message(ctx, "db", RowIs("order", read.req, start, step, 5))
    upd = [e.msg for e in ctx.sent(UpdateRow)][-1]
    assert upd.expected_version == 5 and upd.new_max_id == start + step
    server.on_message(ctx, "db", UpdateResult("order", upd.req, True, start + step, 6,
                                              start=start))


def test_the_id_server_fetches_a_segment_at_start_and_serves_it_in_order():
    s = SegmentIdServer(double_buffer=False)
    ctx = ctx_for("id1")
    s.on_start(ctx)
    assert isinstance(ctx.sent()[0].msg, ReadRow)
    ask(s, ctx, 1)
    ask(s, ctx, 2)
    assert answers(ctx) == []  # waiting for the segment
    grant(s, ctx, 1000, 10)
    assert [r.body for r in answers(ctx)] == [1000, 1001]


def test_a_used_up_segment_makes_requests_wait_without_double_buffering():
    s = SegmentIdServer(double_buffer=False)
    ctx = ctx_for("id1")
    s.on_start(ctx)
    grant(s, ctx, 0, 3)
    for rid in range(1, 5):
        ask(s, ctx, rid)
    assert [r.body for r in answers(ctx)] == [0, 1, 2]
    assert len(ctx.sent(ReadRow)) == 2 and s.fetching  # the fourth waits for the next segment
    grant(s, ctx, 50, 3)
    assert [r.body for r in answers(ctx)] == [0, 1, 2, 50]


def test_double_buffering_prefetches_when_ten_percent_is_used():
    s = SegmentIdServer(double_buffer=True, prefetch_at=0.1)
    ctx = ctx_for("id1")
    s.on_start(ctx)
    grant(s, ctx, 0, 20)
    ask(s, ctx, 1)
    assert len(ctx.sent(ReadRow)) == 1  # 1 of 20 used: 5%
    ask(s, ctx, 2)
    assert len(ctx.sent(ReadRow)) == 2  # 2 of 20: 10%, fetch the next one now
    grant(s, ctx, 100, 20)
    assert s.buffered == (100, 120)
    for rid in range(3, 22):
        ask(s, ctx, rid)
    assert [r.body for r in answers(ctx)][-2:] == [19, 100]  # switched without waiting


def test_a_version_conflict_makes_the_server_read_again():
    s = SegmentIdServer()
    ctx = ctx_for("id1")
    s.on_start(ctx)
    read = ctx.sent(ReadRow)[0].msg
    s.on_message(ctx, "db", RowIs("order", read.req, 0, 10, 0))
    upd = ctx.sent(UpdateRow)[0].msg
    s.on_message(ctx, "db", UpdateResult("order", upd.req, False, 10, 1))
    assert len(ctx.sent(ReadRow)) == 2 and s.fetching and s.remaining == 0


def test_a_stale_database_answer_is_ignored():
    s = SegmentIdServer()
    ctx = ctx_for("id1")
    s.on_start(ctx)
    s.on_timer(ctx, SegmentIdServer.FETCH_TIMER)  # timed out: asks again with a new req
    old = ctx.sent(ReadRow)[0].msg
    s.on_message(ctx, "db", RowIs("order", old.req, 0, 10, 0))
    assert ctx.sent(UpdateRow) == []


def test_a_restarted_id_server_never_reuses_the_segment_it_held():
    s = SegmentIdServer(double_buffer=False)
    ctx = ctx_for("id1")
    s.on_start(ctx)
    grant(s, ctx, 0, 10)
    ask(s, ctx, 1)
    fresh = SegmentIdServer(double_buffer=False)  # the crash lost the segment [1, 10)
    ctx2 = ctx_for("id1", storage=ctx.storage)
    fresh.on_start(ctx2)
    grant(fresh, ctx2, 10, 10)  # the database had moved on
    ask(fresh, ctx2, 2)
    assert answers(ctx2)[0].body == 10


def test_a_database_answer_meant_for_an_earlier_incarnation_is_ignored():
    """Issue 7: request ids restarted at 1 after a restart, so the previous incarnation's grant
    was taken for the new fetch's. Ids are now unique across incarnations."""
    s = SegmentIdServer(double_buffer=False)
    ctx = ctx_for("id1")
    s.on_start(ctx)
    read = ctx.sent(ReadRow)[0].msg
    s.on_message(ctx, "db", RowIs("order", read.req, 100, 50, 5))
    old = ctx.sent(UpdateRow)[0].msg  # in flight when the server restarts
    fresh = SegmentIdServer(double_buffer=False)
    ctx2 = ctx_for("id1", storage=ctx.storage)
    fresh.on_start(ctx2)
    assert ctx2.sent(ReadRow)[0].msg.req != old.req
    fresh.on_message(ctx2, "db", UpdateResult("order", old.req, True, 150, 6, start=100))
    ask(fresh, ctx2, 1)
    assert answers(ctx2) == [] and fresh.held() == []  # the grant is a gap, not a segment


def test_the_segment_is_the_range_the_database_granted():
    """The segment comes from the database's answer to the update itself, never from a volatile
    value the server may not have set in this incarnation."""
    s = SegmentIdServer(double_buffer=False)
    ctx = ctx_for("id1")
    s.on_start(ctx)
    read = ctx.sent(ReadRow)[0].msg
    s.on_message(ctx, "db", RowIs("order", read.req, 100, 50, 5))
    upd = ctx.sent(UpdateRow)[0].msg
    s.on_message(ctx, "db", UpdateResult("order", upd.req, True, 150, 6, start=100))
    ask(s, ctx, 1)
    assert [r.body for r in answers(ctx)] == [100] and s.held() == [(101, 150)]


def test_the_database_says_which_segment_an_update_granted():
    db, ctx = booted_db()
    db.on_message(ctx, "id1", UpdateRow("order", 1, 0, 101))
    assert ctx.sent()[0].msg == UpdateResult("order", 1, True, 101, 1, start=1)


def test_segment_server_rejects_bad_parameters():
    with pytest.raises(ValueError, match="prefetch_at=0"):
        SegmentIdServer(prefetch_at=0)
    with pytest.raises(ValueError, match=r"rows\['order'\] step=0"):
        SegmentDB({"order": (1, 0)})


# -- Redis INCR ------------------------------------------------------------------------------------
def test_incr_counts_per_key():
    r = RedisCounter("none", service_ms=0.0)
    ctx = ctx_for("redis")
    r.on_start(ctx)
    ask(r, ctx, 1, tag="a")
    ask(r, ctx, 2, tag="a")
    ask(r, ctx, 3, tag="b")
    assert [x.body for x in answers(ctx)] == [1, 2, 1]


def test_incr_without_persistence_starts_again_from_zero():
    r = RedisCounter("none", service_ms=0.0)
    ctx = ctx_for("redis")
    r.on_start(ctx)
    ask(r, ctx, 1)
    again = RedisCounter("none", service_ms=0.0)
    ctx2 = ctx_for("redis", storage=ctx.storage)
    again.on_start(ctx2)
    ask(again, ctx2, 2)
    assert answers(ctx2)[0].body == 1  # handed out a second time


def test_incr_with_always_writes_before_answering_and_costs_an_fsync():
    r = RedisCounter("always", service_ms=0.01, fsync_ms=0.05)
    ctx = ctx_for("redis")
    r.on_start(ctx)
    ask(r, ctx, 1)
    assert ctx.timers()[SERVE_TIMER] == pytest.approx(0.06)
    fire(r, ctx, SERVE_TIMER)
    assert ctx.storage[AOF_KEY] == {"order": 1} and answers(ctx)[0].body == 1


def test_incr_with_periodic_persistence_only_flushes_on_its_timer():
    r = RedisCounter("periodic", service_ms=0.0, flush_every_ms=100.0)
    ctx = ctx_for("redis")
    r.on_start(ctx)
    ask(r, ctx, 1)
    assert AOF_KEY not in ctx.storage
    r.on_timer(ctx, "flush")
    assert ctx.storage[AOF_KEY] == {"order": 1} and ctx.timers()["flush"] == 100.0


def test_redis_rejects_an_unknown_persistence_mode():
    with pytest.raises(ValueError, match="persistence='sometimes'"):
        RedisCounter("sometimes")


# -- UUIDs -----------------------------------------------------------------------------------------
def test_uuid4_comes_from_the_given_stream_and_has_version_4():
    a = uuid4_from(random.Random(3))
    assert a == uuid4_from(random.Random(3))
    u = uuid.UUID(a)
    assert u.version == 4 and u.variant == uuid.RFC_4122 and len(a) == 36


def test_uuid1_fields_round_trip():
    u = uuid.UUID(uuid1_fields(123456789012345, 0x1ABC, 0x010000000007))
    assert u.version == 1 and u.time == 123456789012345
    assert u.clock_seq == 0x1ABC and u.node == 0x010000000007


def test_uuid1_uses_the_local_clock_and_keeps_counting_when_it_goes_back():
    g = UuidGenerator(1, random.Random(1), node_id=5, clock_base_unix_ms=0)
    a, b, c = (uuid.UUID(g.next_uuid(t)) for t in (10.0, 10.0, 3.0))
    assert a.time == 10 * 10_000 + GREGORIAN_OFFSET_TICKS
    assert a.time < b.time < c.time  # same tick and a step back: still new timestamps
    assert len({a, b, c}) == 3


def test_uuid7_is_ordered_within_one_generator():
    g = UuidGenerator(7, random.Random(1))
    made = [g.next_uuid(t / 3) for t in range(50)]
    assert made == sorted(made) and len(set(made)) == 50
    assert {uuid.UUID(u).version for u in made} == {7}


def test_birthday_bound():
    assert collision_probability(0) == 0.0 and collision_probability(1) == 0.0
    assert collision_probability(2, bits=1) == pytest.approx(1 - 2.718281828 ** -0.5)
    assert n_for_probability(0.5) == pytest.approx(2.71e18, rel=0.01)
    assert collision_probability(1e9) < 1e-18


# -- Snowflake: the layout -------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    ts=st.integers(0, (1 << 41) - 1), dc=st.integers(0, 31), w=st.integers(0, 31),
    seq=st.integers(0, 4095),
)
def test_layout_round_trips(ts, dc, w, seq):
    id_ = DEFAULT_LAYOUT.encode(ts, dc, w, seq)
    assert 0 <= id_ < 1 << 63
    d = DEFAULT_LAYOUT.decode(id_)
    assert (d["timestamp"], d["datacenter_id"], d["worker_id"], d["sequence"]) == (ts, dc, w, seq)


def test_a_later_timestamp_always_gives_a_larger_id():
    lo = DEFAULT_LAYOUT.encode(100, 31, 31, 4095)
    hi = DEFAULT_LAYOUT.encode(101, 0, 0, 0)
    assert lo < hi


def test_the_layouts_capacities():
    assert DEFAULT_LAYOUT.lifetime_years == pytest.approx(69.7, abs=0.05)
    assert DEFAULT_LAYOUT.generators == 1024 and DEFAULT_LAYOUT.ids_per_second == 4_096_000
    assert UIDGENERATOR_LAYOUT.lifetime_years == pytest.approx(8.5, abs=0.05)
    assert UIDGENERATOR_LAYOUT.generators == 1 << 22


@pytest.mark.parametrize(
    "args, message",
    [((-1, 0, 0, 0), "timestamp=-1"), ((0, 32, 0, 0), "datacenter_id=32"),
     ((0, 0, 32, 0), "worker_id=32"), ((0, 0, 0, 4096), "sequence=4096")],
)
def test_encode_rejects_a_field_that_does_not_fit(args, message):
    with pytest.raises(ValueError, match=message):
        DEFAULT_LAYOUT.encode(*args)


def test_a_layout_must_fill_63_bits():
    with pytest.raises(ValueError, match="= 62 is not allowed"):
        SnowflakeLayout(timestamp_bits=40)


# -- Snowflake: the generator ----------------------------------------------------------------------
def gen(**kw):
    kw.setdefault("clock_base_unix_ms", DEFAULT_LAYOUT.epoch_ms)  # local 0 = the epoch
    return SnowflakeGenerator(1, 2, **kw)


def test_ids_within_one_ms_differ_by_the_sequence():
    g = gen()
    a, b, c = (g.next_id(7.2).value, g.next_id(7.5).value, g.next_id(7.9).value)
    assert (b - a, c - b) == (1, 1)
    assert DEFAULT_LAYOUT.decode(a) == {"timestamp": 7, "datacenter_id": 1, "worker_id": 2,
                                        "sequence": 0, "unix_ms": DEFAULT_LAYOUT.epoch_ms + 7}


def test_the_sequence_restarts_at_zero_in_a_new_ms():
    g = gen()
    g.next_id(7.0)
    g.next_id(7.0)
    assert DEFAULT_LAYOUT.decode(g.next_id(8.0).value)["sequence"] == 0


def test_a_full_sequence_waits_for_the_next_ms():
    layout = SnowflakeLayout(timestamp_bits=51, sequence_bits=2)
    g = gen(layout=layout)
    got = [g.next_id(5.25) for _ in range(5)]
    assert [o.kind for o in got] == ["ok"] * 4 + ["wait"]
    assert got[-1].value == pytest.approx(0.75)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=200))
def test_ids_strictly_increase_while_the_clock_does_not_go_back(times):
    g = gen()
    ids = []
    for t in sorted(times):
        out = g.next_id(t)
        if out.kind == "ok":
            ids.append(out.value)
    assert ids == sorted(set(ids))


def test_the_naive_generator_duplicates_after_a_rollback():
    g = gen(on_rollback="ignore")
    before = [g.next_id(t).value for t in (10.0, 11.0, 12.0)]
    after = [g.next_id(t).value for t in (10.5, 11.5)]  # the clock stepped back 2 ms
    assert set(after) <= set(before)


def test_refuse_on_rollback_names_how_far_behind_the_clock_is():
    g = gen(on_rollback="refuse")
    g.next_id(12.0)
    out = g.next_id(9.5)
    assert out.kind == "refuse" and out.value == pytest.approx(2.5)


def test_small_rollbacks_are_waited_out_and_large_ones_refused():
    g = gen(on_rollback="wait", max_wait_ms=5.0)
    g.next_id(20.0)
    assert g.next_id(17.0) == ("wait", 3.0)
    assert g.next_id(14.0).kind == "refuse"
    assert g.next_id(20.0).kind == "ok"  # caught up: the same ms, next sequence


@pytest.mark.parametrize(
    "kwargs, message",
    [({"worker_id": 32}, "worker_id=32"), ({"datacenter_id": -1}, "datacenter_id=-1"),
     ({"on_rollback": "pray"}, "on_rollback='pray'"), ({"max_wait_ms": -1}, "max_wait_ms=-1"),
     ({"clock_base_unix_ms": 5}, "clock_base_unix_ms=5")],
)
def test_the_generator_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SnowflakeGenerator(**kwargs)


# -- Snowflake: the node ---------------------------------------------------------------------------
def test_a_node_without_startup_check_serves_at_once():
    n = SnowflakeNode(1, 1)
    ctx = ctx_for("id1", now=3.0)
    n.on_start(ctx)
    ask(n, ctx, 1)
    assert answers(ctx)[0].ok and n.state == "running"


def test_requests_beyond_the_sequence_wait_in_order_for_the_next_ms():
    n = SnowflakeNode(1, 1, layout=SnowflakeLayout(timestamp_bits=52, sequence_bits=1))
    ctx = ctx_for("id1", now=3.5)
    n.on_start(ctx)
    for rid in (1, 2, 3, 4):
        ask(n, ctx, rid)
    assert [r.id for r in answers(ctx)] == [1, 2]
    assert ctx.timers()[SnowflakeNode.RETRY_TIMER] == pytest.approx(0.5)
    ctx.local_time = 4.0
    n.on_timer(ctx, SnowflakeNode.RETRY_TIMER)
    assert [r.id for r in answers(ctx)] == [1, 2, 3, 4]


def test_a_refusing_node_answers_a_definite_failure():
    n = SnowflakeNode(1, 1, on_rollback="refuse")
    ctx = ctx_for("id1", now=50.0)
    n.on_start(ctx)
    ask(n, ctx, 1)
    ctx.local_time = 40.0
    ask(n, ctx, 2)
    r = answers(ctx)[1]
    assert (r.ok, r.error) == (False, "clock_moved_backwards")


def leaf_node(now=100.0, **kw):
    n = SnowflakeNode(1, 1, startup_check=kw.pop("check", "leaf"), threshold_ms=50.0, **kw)
    ctx = ctx_for("id1", now=now)
    n.on_start(ctx)
    return n, ctx


def test_leaf_asks_the_coordinator_first_and_refuses_requests_meanwhile():
    n, ctx = leaf_node()
    assert ctx.sent()[0].msg == CheckIn("id1", 1)
    ask(n, ctx, 1)
    assert answers(ctx)[0].error == "starting"


def test_leaf_refuses_to_start_behind_its_own_last_report():
    n, ctx = leaf_node(now=100.0)
    n.on_message(ctx, "zk", CheckInReply(1, 250.0, ()))
    assert n.state == "failed"
    ask(n, ctx, 1)
    assert answers(ctx)[0].error == "clock_check_failed"


def test_leaf_starts_after_its_own_last_report_and_reports_periodically():
    n, ctx = leaf_node(now=300.0, report_ms=3000.0)
    n.on_message(ctx, "zk", CheckInReply(1, 250.0, ("id2",)))
    assert n.state == "running"  # a known node is only compared with its own report
    assert ReportTime("id1", 300.0, True) in [e.msg for e in ctx.sent()]
    assert ctx.timers()[SnowflakeNode.REPORT_TIMER] == 3000.0


def test_a_new_leaf_node_writes_its_time_then_asks_every_running_peer():
    n, ctx = leaf_node(now=100.0)
    n.on_message(ctx, "zk", CheckInReply(1, None, ("id2", "id3")))
    sent = [(e.dst, e.msg) for e in ctx.sent()]
    assert ("zk", ReportTime("id1", 100.0, False)) in sent
    assert {d for d, m in sent if isinstance(m, TimeQuery)} == {"id2", "id3"}


@pytest.mark.parametrize("peer_times, state", [((90.0, 130.0), "running"), ((200.0, 180.0),
                                                                           "failed")])
def test_a_new_leaf_node_compares_its_clock_with_the_peers_average(peer_times, state):
    n, ctx = leaf_node(now=100.0)
    n.on_message(ctx, "zk", CheckInReply(1, None, ("id2", "id3")))
    req = ctx.sent(TimeQuery)[0].msg.req
    for peer, t in zip(("id2", "id3"), peer_times, strict=True):
        n.on_message(ctx, peer, TimeReply(req, t))
    assert n.state == state  # average 110 (within 50 ms) or 190 (90 ms off)


def test_leaf_plus_peers_also_compares_a_restarted_node():
    n, ctx = leaf_node(now=300.0, check="leaf+peers")
    n.on_message(ctx, "zk", CheckInReply(1, 250.0, ("id2",)))
    assert n.state == "starting" and ctx.sent(TimeQuery)


def test_a_generator_answers_a_time_query_with_its_local_clock():
    n = SnowflakeNode(1, 1)
    ctx = ctx_for("id2", now=42.5)
    n.on_start(ctx)
    n.on_message(ctx, "id1", TimeQuery(9))
    assert ctx.sent()[0].msg == TimeReply(9, 42.5)


def test_a_leaf_node_never_reports_an_older_time():
    n, ctx = leaf_node(now=300.0)
    n.on_message(ctx, "zk", CheckInReply(1, 250.0, ()))
    ctx.take_effects()
    ctx.local_time = 200.0  # the clock went back
    n.on_timer(ctx, SnowflakeNode.REPORT_TIMER)
    assert ctx.sent(ReportTime) == []


# -- Leaf's coordinator ----------------------------------------------------------------------------
def test_the_coordinator_keeps_leaf_forever_durably_and_lists_running_peers():
    zk = LeafCoordinator(session_ms=1000.0)
    ctx = ctx_for("zk", now=10.0)
    zk.on_start(ctx)
    zk.on_message(ctx, "id1", ReportTime("id1", 8.0, True))
    zk.on_message(ctx, "id2", ReportTime("id2", 9.0, True))
    zk.on_message(ctx, "id3", CheckIn("id3", 4))
    assert ctx.sent()[-1].msg == CheckInReply(4, None, ("id1", "id2"))
    assert ctx.storage[FOREVER_KEY] == {"id1": 8.0, "id2": 9.0}
    zk.on_message(ctx, "id1", CheckIn("id1", 5))
    assert ctx.sent()[-1].msg == CheckInReply(5, 8.0, ("id2",))


def test_an_expired_session_drops_the_peer_but_not_its_forever_record():
    zk = LeafCoordinator(session_ms=100.0)
    ctx = ctx_for("zk", now=0.0)
    zk.on_start(ctx)
    zk.on_message(ctx, "id1", ReportTime("id1", 0.0, True))
    ctx.local_time = 150.0
    zk.on_message(ctx, "id2", CheckIn("id2", 1))
    assert ctx.sent()[-1].msg.peers == ()
    assert ctx.storage[FOREVER_KEY]["id1"] == 0.0


def test_timers_are_effects_not_calls():
    db = AutoIncrementDB(service_ms=1.0)
    ctx = ctx_for()
    db.on_start(ctx)
    ask(db, ctx, 1)
    assert ctx.effects == [SetTimer(SERVE_TIMER, 1.0)]


# -- Tinyid: several databases, residue classes, fail-over -----------------------------------------
def test_align_finds_the_first_id_of_the_databases_residue_class():
    from dslab.ids.tinyid import align, ids_in

    assert [align(n, 3, 1) for n in (0, 1, 2, 3, 4)] == [1, 1, 4, 4, 4]
    assert ids_in(10, 20, 3, 1) == len([n for n in range(10, 20) if n % 3 == 1]) == 4
    assert ids_in(10, 20, 1, 0) == 10 and ids_in(10, 11, 3, 0) == 0


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 5), st.data())
def test_databases_with_different_remainders_never_hand_out_the_same_id(delta, data):
    """Tinyid's rule: whatever segments two databases grant (overlapping ranges included), their
    IDs are disjoint because each keeps to its own residue class."""
    from dslab.ids.tinyid import align

    r1, r2 = data.draw(st.lists(st.integers(0, delta - 1), min_size=2, max_size=2, unique=True))
    s1, s2 = (data.draw(st.tuples(st.integers(0, 200), st.integers(1, 100))) for _ in range(2))
    a = set(range(align(s1[0], delta, r1), s1[0] + s1[1], delta))
    b = set(range(align(s2[0], delta, r2), s2[0] + s2[1], delta))
    assert not a & b
    assert all(x % delta == r1 for x in a) and all(x % delta == r2 for x in b)


def test_a_tinyid_database_names_its_delta_and_remainder():
    db, ctx = booted_db({"order": (1, 100, 2, 1)})
    db.on_message(ctx, "id1", ReadRow("order", 1))
    db.on_message(ctx, "id1", UpdateRow("order", 1, 0, 101))
    row, result = (e.msg for e in ctx.sent())
    assert row == RowIs("order", 1, 1, 100, 0, delta=2, remainder=1)
    assert result == UpdateResult("order", 1, True, 101, 1, start=1, delta=2, remainder=1)


def test_a_server_hands_out_only_its_databases_residue_class():
    s = SegmentIdServer(double_buffer=False)
    ctx = ctx_for("id1")
    s.on_start(ctx)
    read = ctx.sent(ReadRow)[0].msg
    s.on_message(ctx, "db", RowIs("order", read.req, 10, 10, 0, delta=3, remainder=2))
    upd = ctx.sent(UpdateRow)[0].msg
    s.on_message(ctx, "db", UpdateResult("order", upd.req, True, 20, 1, start=10, delta=3,
                                         remainder=2))
    for rid in range(1, 5):
        ask(s, ctx, rid)
    assert [r.body for r in answers(ctx)] == [11, 14, 17]  # the fourth waits for a segment
    assert s.fetching


def test_a_silent_database_makes_the_server_fail_over_to_the_next():
    s = SegmentIdServer(["db1", "db2"], fetch_timeout_ms=5.0)
    ctx = ctx_for("id1")
    s.on_start(ctx)
    first = ctx.sent(ReadRow)[0]
    assert first.dst == "db1"
    s.on_timer(ctx, SegmentIdServer.FETCH_TIMER)  # db1 is down
    second = ctx.sent(ReadRow)[-1]
    assert second.dst == "db2" and second.msg.req != first.msg.req
    # db1 comes back and answers the abandoned request: ignored, it is not the request in flight
    s.on_message(ctx, "db1", RowIs("order", first.msg.req, 0, 10, 0, delta=2, remainder=0))
    assert ctx.sent(UpdateRow) == []
    s.on_message(ctx, "db2", RowIs("order", second.msg.req, 0, 10, 0, delta=2, remainder=1))
    assert ctx.sent(UpdateRow)[-1].dst == "db2"


def test_an_answer_from_another_database_is_not_taken_for_the_one_asked():
    s = SegmentIdServer(["db1", "db2"])
    ctx = ctx_for("id1")
    s.on_start(ctx)
    read = ctx.sent(ReadRow)[0].msg
    s.on_message(ctx, "db2", UpdateResult("order", read.req, True, 30, 1, start=20, delta=2,
                                          remainder=1))
    assert s.held() == [] and s.fetching


# -- Leaf's dynamic step ---------------------------------------------------------------------------
@pytest.mark.parametrize("duration, expected", [
    (10.0, 200),     # under one segment duration: double
    (149.0, 200),
    (150.0, 100),    # between one and two: keep
    (299.0, 100),
    (300.0, 50),     # two or more: halve
    (5000.0, 50),
])
def test_leaf_dynamic_step_doubles_keeps_or_halves(duration, expected):
    from dslab.ids.dynamic_step import next_step

    assert next_step(100, duration_ms=duration, min_step=10, max_step=1000,
                     segment_duration_ms=150.0) == expected


def test_leaf_dynamic_step_stays_within_its_bounds():
    from dslab.ids.dynamic_step import next_step

    assert next_step(600, duration_ms=1.0, min_step=10, max_step=1000,
                     segment_duration_ms=150.0) == 600  # doubling would pass MAX_STEP
    assert next_step(15, duration_ms=1e9, min_step=10, max_step=1000,
                     segment_duration_ms=150.0) == 15  # halving would go below the row's step


def fetch(server, ctx, *, now, max_id, row_step=10):
    """One fetch, the database side played by hand; returns the step the server claimed."""
    ctx.local_time = now
    read = [e.msg for e in ctx.sent(ReadRow)][-1]
    server.on_message(ctx, "db", RowIs("order", read.req, max_id, row_step, 0))
    upd = [e.msg for e in ctx.sent(UpdateRow)][-1]
    server.on_message(ctx, "db", UpdateResult("order", upd.req, True, upd.new_max_id, 1,
                                              start=max_id))
    return upd.new_max_id - max_id


def test_a_dynamic_step_server_claims_a_larger_segment_when_the_last_ran_out_fast():
    s = SegmentIdServer(double_buffer=False, dynamic_step=True, segment_duration_ms=100.0,
                        max_step=1000)
    ctx = ctx_for("id1")
    s.on_start(ctx)
    assert fetch(s, ctx, now=0.0, max_id=0) == 10  # the first segment: the row's step
    for rid in range(1, 12):  # use it up in 20 ms: the next fetch starts
        ctx.local_time = 20.0
        ask(s, ctx, rid)
    assert fetch(s, ctx, now=20.0, max_id=10) == 20  # lasted 20 ms < 100 ms: double
    for rid in range(12, 40):
        ask(s, ctx, rid)
    assert fetch(s, ctx, now=500.0, max_id=30) == 10  # lasted 480 ms >= 200 ms: halve
    fixed = SegmentIdServer(double_buffer=False)
    ctx2 = ctx_for("id2")
    fixed.on_start(ctx2)
    assert fetch(fixed, ctx2, now=0.0, max_id=0) == 10
    for rid in range(1, 12):
        ask(fixed, ctx2, rid)
    assert fetch(fixed, ctx2, now=1.0, max_id=10) == 10  # without it the step never moves


def test_a_leaf_check_in_reply_meant_for_the_previous_incarnation_is_ignored():
    """The same rule as segment mode's: request ids are unique across restarts, so an answer
    still in flight from before a quick restart cannot pass the new incarnation's check."""
    n, ctx = leaf_node(now=100.0)
    old = ctx.sent()[0].msg
    fresh = SnowflakeNode(1, 1, startup_check="leaf", threshold_ms=50.0)
    ctx2 = ctx_for("id1", now=100.0, storage=ctx.storage)
    fresh.on_start(ctx2)
    assert ctx2.sent()[0].msg.req != old.req
    fresh.on_message(ctx2, "zk", CheckInReply(old.req, 50.0, ()))  # the stale, lenient answer
    assert fresh.state == "starting"
    fresh.on_message(ctx2, "zk", CheckInReply(ctx2.sent()[0].msg.req, 250.0, ()))
    assert fresh.state == "failed"  # the current answer: the clock is behind its last report
