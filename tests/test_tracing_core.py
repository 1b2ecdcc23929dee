"""Tracing: context propagation, span ids, tree reconstruction, skew correction, sampling."""

from __future__ import annotations

import math
import random

import pandas as pd
import pytest

from dslab.tracing import (
    TraceContext,
    check_tree,
    correct_skew,
    critical_path,
    spans_frame,
)
from dslab.tracing import experiments as ex
from dslab.tracing.span import SpanPart


def test_context_round_trips_through_headers():
    tc = TraceContext("t1", "s1", "p1", True)
    headers = tc.inject((("token", "x"),))
    assert ("token", "x") in headers
    assert TraceContext.extract(headers) == tc
    assert TraceContext.extract((("token", "x"),)) is None


def test_child_context_keeps_the_trace_and_points_to_its_parent():
    tc = TraceContext("t1", "s1", None, False)
    child = tc.child(random.Random(1))
    assert (child.trace_id, child.parent_id, child.sampled) == ("t1", "s1", False)
    assert child.span_id != "s1"


def test_client_and_server_parts_merge_into_one_span():
    parts = [
        SpanPart("t", "s", None, "X.m", "client", "c1", (("cs", 0.0), ("cr", 5.0))),
        SpanPart("t", "s", None, "X.m", "server", "n1", (("sr", 1.0), ("ss", 4.0))),
    ]
    df = spans_frame(parts)
    assert len(df) == 1
    assert df.iloc[0][["cs", "sr", "ss", "cr"]].tolist() == [0.0, 1.0, 4.0, 5.0]


@pytest.mark.parametrize("seed", range(3))
def test_traces_reconstruct_the_call_tree_exactly(seed):
    spans, reqs, _ = ex.run(seed, requests=10)
    assert spans.trace_id.nunique() == 10, f"replay with seed={seed}"
    for tid, t in spans.groupby("trace_id"):
        assert check_tree(t) == [], f"trace {tid}: {check_tree(t)}; replay with seed={seed}"
        edges = sorted((r.client_node, r.server_node) for r in t.itertuples())
        assert edges == [("A", "B"), ("A", "C"), ("C", "D"), ("c1", "A")], (
            f"replay with seed={seed}"
        )
        by_id = t.set_index("span_id")
        for r in t.itertuples():  # a child's parent is the span its caller was serving
            if isinstance(r.parent_id, str):
                assert by_id.loc[r.parent_id].server_node == r.client_node


def test_check_tree_reports_a_missing_parent_and_two_roots():
    t = pd.DataFrame({"span_id": ["a", "b", "c"], "parent_id": [None, "zz", None]})
    assert set(check_tree(t)) == {"2 roots", "missing parent zz"}


def test_server_span_can_appear_to_start_before_its_client_span_and_correction_fixes_it():
    spans, _, _ = ex.run(1, requests=1, clock_offsets_ms={"B": -3.0})
    b = spans[spans.server_node == "B"].iloc[0]
    assert b.sr < b.cs, "replay with seed=1"
    fixed = correct_skew(spans)
    fb = fixed[fixed.server_node == "B"].iloc[0]
    assert fb.cs < fb.sr < fb.ss < fb.cr, "replay with seed=1"
    assert fb.offset_ms == pytest.approx(-3.0, abs=0.1)


def test_critical_path_follows_the_last_finishing_child():
    spans, _, _ = ex.run(1, requests=1, slow_prob=1.0, slow_ms=20.0)
    path = critical_path(spans)
    nodes = spans.set_index("span_id").loc[path].server_node.tolist()
    assert nodes == ["A", "C", "D"], "replay with seed=1"


@pytest.mark.parametrize("seed", range(3))
def test_sampling_keeps_the_expected_fraction(seed):
    n, p = 400, 0.25
    spans, _, sim = ex.run(seed, requests=n, interval_ms=2.0, sample_rate=p)
    kept = spans.trace_id.nunique()
    sd = math.sqrt(n * p * (1 - p))
    assert abs(kept - n * p) <= 4 * sd, f"kept {kept} of {n}; replay with seed={seed}"
    for _, t in spans.groupby("trace_id"):  # sampled traces are complete: decided at the root
        assert len(t) == 4, f"replay with seed={seed}"


def test_lost_reports_leave_incomplete_traces_but_never_break_requests():
    spans, reqs, _ = ex.run(2, requests=50, report_loss=0.2)
    assert (reqs.type == "ok").all()
    assert spans[["cs", "sr"]].isna().any().any(), "replay with seed=2"


def test_the_slow_dependency_is_found_from_traces():
    blame, _ = ex.slow_dependency(1, requests=200)
    worst = blame.sort_values("increase_ms").service.iloc[-1]
    assert worst == "D", f"{blame}; replay with seed=1"


def test_same_seed_same_spans():
    a, _, _ = ex.run(5, requests=5)
    b, _, _ = ex.run(5, requests=5)
    assert a.equals(b), "replay with seed=5"


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ex.run(1, sample_rate=1.5), "sample_rate=1.5"),
        (lambda: ex.run(1, requests=0), "requests=0"),
        (lambda: ex.run(1, clock_offsets_ms={"Z": 1.0}), "'Z'"),
        (lambda: ex.sampling_sweep(1, rates=(2.0,)), "rates=2.0"),
        (lambda: ex.run(-3), "seed=-3"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
