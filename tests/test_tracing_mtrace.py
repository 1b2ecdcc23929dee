"""MTrace's additions to Dapper: hierarchical span ids, batched reporting, cache/DB spans; and
the shape of Dapper's overhead table."""

from __future__ import annotations

import pytest

from dslab.core import Context
from dslab.tracing import experiments as ex
from dslab.tracing.filters import child_span_id, parent_of
from dslab.tracing.reporter import FLUSH_TIMER, BatchReporter
from dslab.tracing.span import Collector, SpanBatch, SpanPart


def _part(i: int) -> SpanPart:
    return SpanPart(
        f"t{i}", "0", None, "X.m", "server", "n1", (("sr", 1.0), ("ss", 2.0)), (("k", "v"),)
    )


# -- hierarchical span ids ----------------------------------------------------------------------
def test_hierarchical_ids_spell_the_path_from_the_root():
    assert child_span_id("0", 1) == "0.1" and child_span_id("0.2", 1) == "0.2.1"
    assert parent_of("0.2.1") == "0.2" and parent_of("0.1") == "0" and parent_of("0") is None


def test_a_trace_with_hierarchical_ids_is_0_01_02_021_and_the_ids_give_the_tree():
    df = ex.hierarchical(seed=1)
    assert sorted(df.span_id) == ["0", "0.1", "0.2", "0.2.1"]

    def text(v):
        return v if isinstance(v, str) else None

    for r in df.itertuples():
        assert text(r.parent_from_id) == text(r.parent_id)
    by_id = df.set_index("span_id")
    assert by_id.loc["0.2.1", "server_node"] == "D" and by_id.loc["0.2", "server_node"] == "C"


# -- batched reporting ----------------------------------------------------------------------------
def test_a_batch_round_trips_through_real_compression():
    parts = [_part(i) for i in range(20)]
    batch = SpanBatch.pack(parts)
    assert batch.unpack() == parts and batch.count == 20
    assert batch.size_bytes() < sum(p.size_bytes() for p in parts)


def test_reporter_buffers_flushes_a_batch_per_timer_and_drops_when_full():
    r, ctx = BatchReporter("collector", batch_spans=2, flush_ms=5.0, buffer_spans=3), Context("n1")
    for i in range(4):
        r.report(ctx, _part(i))
    assert r.dropped == 1 and len(r.buffer) == 3 and ctx.timers() == {FLUSH_TIMER: 5.0}
    ctx.take_effects()
    r.on_timer(ctx, FLUSH_TIMER)
    (sent,) = ctx.sent(SpanBatch)
    assert sent.msg.count == 2 and len(r.buffer) == 1 and ctx.timers() == {FLUSH_TIMER: 5.0}
    ctx.take_effects()
    r.on_timer(ctx, FLUSH_TIMER)
    assert len(ctx.sent(SpanBatch)) == 1 and not r.armed and ctx.timers() == {}


def test_collector_unpacks_batches():
    c, ctx = Collector(), Context("collector")
    c.on_message(ctx, "n1", SpanBatch.pack([_part(1), _part(2)]))
    assert [p.trace_id for p in c.parts] == ["t1", "t2"] and c.batches == 1


def test_batches_cost_fewer_bytes_and_a_small_buffer_loses_spans_in_a_burst():
    df = ex.batching(seed=1, requests=200).set_index("reporting")
    direct = df.loc["one message per span"]
    small, big = df.loc["batches, buffer 64"], df.loc["batches, buffer 1024"]
    assert direct.dropped == 0 and direct.complete_traces == 200
    assert big.bytes_per_span < 0.6 * direct.bytes_per_span and big.messages < direct.messages / 10
    assert small.dropped > 0 and small.complete_traces < 200 and big.dropped == 0
    assert small.received + small.dropped == small.parts_recorded


# -- a span around a cache and a database call ----------------------------------------------------
def test_cache_and_db_calls_get_client_spans_and_a_miss_shows_the_database():
    spans, traces = ex.cache_db(seed=1, requests=30, keys=4)
    assert traces.hit.sum() > 0 and (~traces.hit).sum() > 0
    for tid, t in spans.groupby("trace_id"):
        names = sorted(t.name)
        hit = bool(traces.set_index("trace_id").loc[tid, "hit"])
        expected = (
            ["Cache.get", "KeyedFrontend.get"]
            if hit
            else ["Cache.get", "Cache.put", "Database.query", "KeyedFrontend.get"]
        )
        assert names == expected, "replay with seed=1"
        untraced = t[t.name != "KeyedFrontend.get"]
        assert untraced.server_node.isna().all() and untraced.sr.isna().all()
    assert traces[~traces.hit].duration_ms.min() > traces[traces.hit].duration_ms.max()


def test_first_request_for_each_key_misses_then_hits():
    _, traces = ex.cache_db(seed=2, requests=40, keys=1)
    assert list(traces.hit[:2]) == [False, True] and traces.hit[1:].all()


# -- Dapper's overhead table, in the simulation -------------------------------------------------
@pytest.fixture(scope="module")
def overhead():
    return ex.overhead(seed=1, denominators=(1, 4, 16), requests=300, saturate_ms=200.0)


def test_tracing_cost_falls_with_the_sampling_rate(overhead):
    o = overhead.set_index("sampling")
    assert o.latency_pct["1/1"] > o.latency_pct["1/4"] > o.latency_pct["1/16"] >= -0.5
    assert o.throughput_pct["1/1"] < o.throughput_pct["1/16"] <= 0.5
    assert o.report_bytes_per_request["1/1"] > 3 * o.report_bytes_per_request["1/4"]


def test_tracing_time_per_request_is_the_span_cost_times_the_spans_recorded(overhead):
    o = overhead.set_index("sampling")
    assert o.tracing_ms_per_request["1/1"] == pytest.approx(4 * 0.2)  # A, B, C, D each record one


def test_dapper_table_is_labelled_and_complete():
    t = ex.DAPPER_TABLE_2
    assert list(t.sampling) == ["1/1", "1/2", "1/4", "1/8", "1/16", "1/1024"]
    assert t.paper_latency_pct.is_monotonic_decreasing


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ex.propagation(modes=["nope"]), "modes='nope'"),
        (lambda: ex.batching(buffers=[0]), "buffers=0"),
        (lambda: ex.run(1, requests=1, span_ids="uuid"), "span_ids='uuid'"),
        (lambda: ex.run(1, requests=1, propagation="magic"), "propagation='magic'"),
        (lambda: BatchReporter("c", batch_spans=0), "batch_spans=0"),
        (lambda: ex.overhead(denominators=(0,), requests=10), "denominators=0"),
        (lambda: ex.cache_db(keys=0), "keys=0"),
    ],
)
def test_bad_arguments_name_the_parameter(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_same_seed_same_spans_with_batches_and_pools():
    kw = {"requests": 30, "interval_ms": 0.25, "propagation": "inheritable", "batch": {}}
    a, _, _ = ex.run(4, **kw)
    b, _, _ = ex.run(4, **kw)
    assert a.equals(b)
