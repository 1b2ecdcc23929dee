"""The property checkers: unique and monotonic IDs, mutual exclusion, convergence."""

from __future__ import annotations

import pytest

from dslab.check import (
    convergence,
    holds_from_history,
    monotonic,
    mutual_exclusion,
    unique_ids,
)
from dslab.history import History


def generated(*pairs, f="generate"):
    """Records: process p invokes ``f`` and gets ``value``, one op after another."""
    out = []
    for p, value in pairs:
        out.append({"process": p, "type": "invoke", "f": f, "value": None, "time": len(out)})
        out.append({"process": p, "type": "ok", "f": f, "value": value, "time": len(out)})
    return out


# -- unique_ids -----------------------------------------------------------------------------
def test_distinct_ids_are_unique():
    r = unique_ids(generated(("a", 1), ("b", 2), ("a", 3)))
    assert r.valid and bool(r)
    assert "all 3 values" in r.explanation


def test_an_id_handed_out_twice_is_named_with_the_processes_that_got_it():
    r = unique_ids(generated(("a", 1), ("b", 2), ("c", 1)))
    assert not r
    assert r.duplicates[0]["value"] == 1
    assert r.duplicates[0]["processes"] == ["a", "c"]
    assert "1 went to process 'a' (history[1]), process 'c' (history[5])" in r.explanation


def test_unique_ids_only_counts_ok_completions_of_f():
    recs = generated(("a", 1), ("b", 1), f="other") + generated(("a", 1))
    recs.append({"process": "z", "type": "invoke", "f": "generate", "value": None})
    recs.append({"process": "z", "type": "info", "f": "generate", "value": 1})
    assert unique_ids(recs).valid


def test_unique_ids_reads_a_history_and_keeps_its_seed():
    h = History(seed=5)
    for t, p in enumerate(["a", "b"]):
        op = h.invoke(p, "generate", time=2 * t)
        h.complete(op, "ok", [7, 0], time=2 * t + 1)  # a tuple-like id, JSON style
    r = unique_ids(h)
    assert (r.valid, r.seed) == (False, 5)
    assert "seed=5" in repr(r)


# -- monotonic ------------------------------------------------------------------------------
def test_ids_increasing_per_process_are_monotonic():
    assert monotonic(generated(("a", 1), ("b", 0), ("a", 2), ("b", 5))).valid


def test_an_id_smaller_than_the_process_previous_one_is_caught():
    r = monotonic(generated(("a", 5), ("b", 1), ("a", 3)))
    assert not r.valid
    v = r.violations[0]
    assert (v["process"], v["previous"], v["value"]) == ("a", 5, 3)
    assert "process 'a' got 3 (history[5]) after 5 (history[1])" in r.explanation


def test_a_repeated_id_is_not_strictly_increasing():
    assert not monotonic(generated(("a", 4), ("a", 4))).valid


def test_global_monotonicity_compares_across_processes_in_completion_order():
    recs = generated(("a", 5), ("b", 1), ("a", 6))
    assert monotonic(recs, per="process").valid
    r = monotonic(recs, per="global")
    assert not r.valid
    assert "process 'b' got 1 (history[3]) after process 'a' got 5 (history[1])" in r.explanation


def test_monotonic_rejects_an_unknown_per():
    with pytest.raises(ValueError, match=r"per='node'"):
        monotonic([], per="node")


def test_monotonic_names_values_that_cannot_be_ordered():
    with pytest.raises(ValueError, match=r"history_or_records\[3\]\['value'\]='x'"):
        monotonic(generated(("a", 1), ("a", "x")))


# -- mutual exclusion -----------------------------------------------------------------------
def test_disjoint_holds_respect_mutual_exclusion():
    r = mutual_exclusion([("c1", 0, 10), ("c2", 12, 20)])
    assert r.valid and r.overlaps == []


def test_holds_that_touch_at_an_endpoint_do_not_overlap():
    assert mutual_exclusion([("c1", 0, 10), ("c2", 10, 20)]).valid


def test_overlapping_holds_are_named_with_the_overlap_duration():
    r = mutual_exclusion(
        [
            {"holder": "c1", "start_ms": 10, "end_ms": 50},
            {"holder": "c2", "start_ms": 40, "end_ms": 70},
        ]
    )
    assert not r.valid
    assert r.overlaps[0]["overlap_ms"] == pytest.approx(10.0)
    assert "'c1' held the lock over [10, 50] ms and 'c2' over [40, 70] ms" in r.explanation
    assert "for 10 ms (from 40 to 50 ms)" in r.explanation


def test_every_overlapping_pair_is_reported():
    r = mutual_exclusion([("a", 0, 100), ("b", 10, 20), ("c", 30, 40)])
    assert [(o["a"]["holder"], o["b"]["holder"]) for o in r.overlaps] == [("a", "b"), ("a", "c")]


def test_a_hold_never_released_overlaps_every_later_hold():
    r = mutual_exclusion([("a", 0, None), ("b", 500, 510)])
    assert not r.valid and r.overlaps[0]["overlap_ms"] == pytest.approx(10.0)


def test_an_interval_ending_before_it_starts_is_rejected():
    with pytest.raises(ValueError, match=r"intervals\[0\] end_ms=1"):
        mutual_exclusion([("a", 5, 1)])


def test_a_malformed_interval_is_rejected():
    with pytest.raises(ValueError, match=r"intervals\[1\]=\('b', 1\)"):
        mutual_exclusion([("a", 0, 1), ("b", 1)])


def lock_history():
    h = History(seed=3)
    a = h.invoke("c1", "acquire", time=0.0)
    h.complete(a, "ok", time=1.0)
    b = h.invoke("c2", "acquire", time=2.0)
    h.complete(b, "ok", time=8.0)  # c1's lease expired... but c1 is still working (GC pause)
    r = h.invoke("c1", "release", time=11.0)
    h.complete(r, "ok", time=12.0)
    c = h.invoke("c3", "acquire", time=13.0)
    h.complete(c, "fail", time=14.0)
    h.invoke("c2", "release", time=20.0)
    return h


def test_holds_run_from_an_acquire_to_the_next_release_invocation():
    assert holds_from_history(lock_history()) == [
        {"holder": "c1", "start_ms": 1.0, "end_ms": 11.0},
        {"holder": "c2", "start_ms": 8.0, "end_ms": 20.0},
    ]


def test_a_hold_without_a_release_lasts_to_the_end_of_the_history():
    h = History()
    a = h.invoke("c1", "acquire", time=0.0)
    h.complete(a, "ok", time=1.0)
    g = h.invoke("c2", "get", time=30.0)
    h.complete(g, "ok", time=31.0)
    assert holds_from_history(h) == [{"holder": "c1", "start_ms": 1.0, "end_ms": 31.0}]


def test_mutual_exclusion_reads_a_history_of_acquire_and_release():
    r = mutual_exclusion(lock_history())
    assert not r.valid and r.seed == 3
    assert r.overlaps[0]["overlap_ms"] == pytest.approx(3.0)


# -- convergence ----------------------------------------------------------------------------
def test_replicas_with_equal_states_have_converged():
    r = convergence({"n1": {"x": 1, "y": [1, 2]}, "n2": {"y": (1, 2), "x": 1}})
    assert r.valid and r.differing == []


def test_diverged_replicas_and_keys_are_named():
    r = convergence(
        {"n1": {"x": 1, "y": 2}, "n2": {"x": 1, "y": 2}, "n3": {"x": 1, "y": 3, "z": 0}}
    )
    assert not r.valid
    assert r.differing == ["n3"] and r.differing_keys == ["y", "z"]
    assert "1 of 3 replicas differ from the state held by n1, n2: n3" in r.explanation
    assert "'y' -> n1, n2: 2; n3: 3" in r.explanation
    assert "'z' -> n1, n2: missing; n3: 0" in r.explanation


def test_diverged_plain_states_are_shown():
    r = convergence({"a": 5, "b": 5, "c": 4})
    assert r.differing == ["c"]
    assert "c: 4 (expected 5)" in r.explanation


def test_convergence_needs_a_mapping_of_replicas():
    with pytest.raises(TypeError, match=r"states=\[1, 2\]"):
        convergence([1, 2])
