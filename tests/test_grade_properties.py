"""Properties of the grader's pieces, on random input: the limiter checkers accept exactly the
reference limiters' decisions (and reject any single flipped decision), and the skeleton of any
well-marked module compiles and keeps every line outside its blocks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dslab.gateway.limiters import SlidingWindow, TokenBucket
from dslab.grade.assignments.rate_limiter import bucket_verdict, window_verdict
from dslab.grade.skeleton import blocks, skeleton

gaps = st.lists(st.sampled_from([0.0, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0]), min_size=1,
                max_size=40)


def arrivals(steps: list[float]) -> list[float]:
    out, t = [], 0.0
    for g in steps:
        t += g
        out.append(t)
    return out


@settings(max_examples=150, deadline=None)
@given(gaps, st.integers(1, 4), st.sampled_from([10.0, 50.0, 100.0]), st.data())
def test_the_window_checker_accepts_the_reference_and_rejects_any_flip(steps, limit, window,
                                                                      data):
    times = arrivals(steps)
    lim = SlidingWindow(limit, window)
    decisions = [lim.allow(t) for t in times]
    assert window_verdict(times, decisions, limit, window).status == "ok"
    i = data.draw(st.integers(0, len(times) - 1))
    flipped = decisions[:i] + [not decisions[i]] + decisions[i + 1 :]
    assert window_verdict(times, flipped, limit, window).unsafe


@settings(max_examples=150, deadline=None)
@given(gaps, st.integers(1, 4), st.sampled_from([4.0, 10.0, 40.0]), st.data())
def test_the_bucket_checker_accepts_the_reference_and_rejects_any_flip(steps, capacity, rate,
                                                                      data):
    times = arrivals(steps)
    lim = TokenBucket(capacity, rate)
    decisions = [lim.allow(t) for t in times]
    assert bucket_verdict(times, decisions, capacity, rate).status == "ok"
    i = data.draw(st.integers(0, len(times) - 1))
    flipped = decisions[:i] + [not decisions[i]] + decisions[i + 1 :]
    verdict = bucket_verdict(times, flipped, capacity, rate)
    # A flip is caught unless the request sat exactly on the curve (a token exactly back).
    assert verdict.unsafe or abs(_slack(times[: i + 1], decisions[:i], capacity, rate)) < 1e-6


def _slack(times: list[float], before: list[bool], capacity: int, rate: float) -> float:
    t = times[-1]
    kept = [s for s, ok in zip(times, before, strict=False) if ok]
    worst = 1 - capacity
    for j, s in enumerate(kept):
        worst = max(worst, (len(kept) + 1 - j) - (capacity + rate * (t - s) / 1000.0))
    return worst


bodies = st.lists(st.sampled_from(["x = 1", "y = x + 1", "return x", "pass", "z = [x, y]"]),
                  min_size=1, max_size=4)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), bodies), min_size=1, max_size=6))
def test_a_skeleton_compiles_and_keeps_every_line_outside_the_blocks(methods):
    lines, marked = ["class C:"], 0
    for k, (solution, body) in enumerate(methods):
        lines.append(f"    def m{k}(self):")
        lines.append("        x = y = 0")
        if solution:
            marked += 1
            lines.append(f"        # SOLUTION: write m{k}")
        lines += [f"        {b}" for b in body]
        if solution:
            lines.append("        # END SOLUTION")
    source = "\n".join(lines) + "\n"
    if not marked:
        return
    sk = skeleton(source, "demo")
    compile(sk, "skeleton.py", "exec")
    inside = {i for b in blocks(source) for i in range(b.start, b.end + 1)}
    outside = [line for i, line in enumerate(lines, 1) if i not in inside]
    kept = [line for line in sk.splitlines() if "TODO" not in line]
    assert kept == outside
    assert sk.count("raise NotImplementedError") == marked
