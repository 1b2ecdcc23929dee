"""Assignment ``rate-limiter``: a sliding-window limiter and a token bucket (限流).

The student writes the bodies marked ``# SOLUTION`` in :mod:`dslab.gateway.limiters`:
``SlidingWindow.allow`` and ``TokenBucket.allow``. A limiter is a pure object (the caller passes
the time), so the tests feed it arrival times and judge its decisions with two checkers that
know nothing of its code:

- :func:`window_verdict`: never more than ``limit`` admitted in any ``window_ms`` (the bound),
  and a request is refused only if ``limit`` were admitted in the window ending at it (no
  needless refusal);
- :func:`bucket_verdict`: the admitted requests conform to the token bucket's arrival curve
  (at most ``capacity + rate * (t - s)`` in any ``[s, t]``), and a request is refused only if
  admitting it would break that curve (a token bucket is the greedy regulator of its curve).

Per seed, the arrivals are the gateway chapter's bursty trace
(:func:`dslab.gateway.experiments.bursty_trace`): a steady rate plus bursts.
"""

from __future__ import annotations

from collections.abc import Sequence

from dslab.check.verdict import OK, UNSAFE, Verdict
from dslab.gateway.experiments import bursty_trace
from dslab.grade.framework import Assignment, Submission, per_seed, unit

NAME = "rate-limiter"
EPS = 1e-6


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def decide(limiter: object, times: Sequence[float]) -> list[bool]:
    return [bool(limiter.allow(t)) for t in times]  # type: ignore[attr-defined]


# -- checkers --------------------------------------------------------------------------------------
def window_verdict(times: Sequence[float], admitted: Sequence[bool], limit: int,
                   window_ms: float, seed: int | None = None) -> Verdict:
    """The sliding-window rule, judged from the decisions alone."""
    name = "sliding_window(bound, no needless refusal)"
    kept: list[float] = []
    for t, ok in zip(times, admitted, strict=True):
        inside = sum(1 for a in kept if a > t - window_ms)
        if ok and inside >= limit:
            return Verdict(name, UNSAFE, f"admitted the request at {t:.2f} ms although {inside} "
                           f"were admitted in ({t - window_ms:.2f}, {t:.2f}] ms (limit {limit})",
                           seed)
        if not ok and inside < limit:
            return Verdict(name, UNSAFE, f"refused the request at {t:.2f} ms although only "
                           f"{inside} were admitted in ({t - window_ms:.2f}, {t:.2f}] ms "
                           f"(limit {limit})", seed)
        if ok:
            kept.append(t)
    return Verdict(name, OK, f"{len(kept)} of {len(times)} admitted, never more than {limit} "
                   f"per {window_ms:g} ms, no needless refusal", seed)


def bucket_verdict(times: Sequence[float], admitted: Sequence[bool], capacity: int,
                   rate_per_s: float, seed: int | None = None) -> Verdict:
    """The token-bucket rule (its arrival curve ``capacity + rate * (t - s)``), judged from the
    decisions alone."""
    name = "token_bucket(arrival curve, greedy)"
    kept: list[float] = []

    def worst(t: float) -> tuple[float, float]:
        """The largest excess of admitted-in-[s, t] (one more included) over the curve."""
        best, at = -1e18, t
        n = len(kept) + 1
        for i, s in enumerate(kept):
            excess = (n - i) - (capacity + rate_per_s * (t - s) / 1000.0)
            if excess > best:
                best, at = excess, s
        if 1 - capacity > best:
            best, at = 1 - capacity, t
        return best, at

    for t, ok in zip(times, admitted, strict=True):
        excess, since = worst(t)
        if ok and excess > EPS:
            return Verdict(name, UNSAFE, f"admitted the request at {t:.2f} ms: that makes "
                           f"{excess + capacity + rate_per_s * (t - since) / 1000:.0f} requests in "
                           f"[{since:.2f}, {t:.2f}] ms, more than capacity {capacity} + "
                           f"{rate_per_s:g}/s x {(t - since) / 1000:.3f} s", seed)
        if not ok and excess <= -EPS:
            return Verdict(name, UNSAFE, f"refused the request at {t:.2f} ms although the bucket "
                           f"held a token (admitting it keeps every interval within capacity "
                           f"{capacity} + {rate_per_s:g}/s)", seed)
        if ok:
            kept.append(t)
    return Verdict(name, OK, f"{len(kept)} of {len(times)} admitted, all within the curve, no "
                   "needless refusal", seed)


# -- unit tests ------------------------------------------------------------------------------------
def sliding_window_basics(sub: Submission) -> None:
    """limit=3 per 100 ms: a burst of 3 passes and the 4th is refused; an admitted time leaves
    the window exactly window_ms later (the window is (now - 100, now])."""
    lim = sub.cls("SlidingWindow")(3, 100.0)
    got = decide(lim, [0.0, 10.0, 20.0, 30.0, 100.0, 105.0, 110.0])
    want = [True, True, True, False, True, False, True]
    _check(got == want, f"decisions at 0, 10, 20, 30, 100, 105, 110 ms: {got}; expected {want}")


def token_bucket_basics(sub: Submission) -> None:
    """capacity=2, 10 tokens/s: the full bucket passes a burst of 2; a token comes back every
    100 ms; tokens never pile up beyond the capacity."""
    lim = sub.cls("TokenBucket")(2, 10.0)
    got = decide(lim, [0.0, 0.0, 0.0, 100.0, 150.0, 200.0, 10_000.0, 10_000.0, 10_000.0])
    want = [True, True, False, True, False, True, True, True, False]
    _check(got == want, f"decisions at 0, 0, 0, 100, 150, 200, 10000 x3 ms: {got}; expected "
           f"{want}")


# -- per seed ------------------------------------------------------------------------------------
def _trace(seed: int) -> list[float]:
    return list(bursty_trace(seed, duration_ms=4000.0, base_per_s=4.0, limit=10,
                             window_ms=1000.0))


def sliding_on_trace(sub: Submission, seed: int) -> list[Verdict]:
    """The gateway chapter's bursty trace through SlidingWindow(10, 1000 ms) and (3, 150 ms)."""
    times = _trace(seed)
    out = []
    for limit, window in ((10, 1000.0), (3, 150.0)):
        lim = sub.cls("SlidingWindow")(limit, window)
        out.append(window_verdict(times, decide(lim, times), limit, window, seed))
    return out


def bucket_on_trace(sub: Submission, seed: int) -> list[Verdict]:
    """The gateway chapter's bursty trace through TokenBucket(10, 10/s) and (3, 20/s)."""
    times = _trace(seed)
    out = []
    for capacity, rate in ((10, 10.0), (3, 20.0)):
        lim = sub.cls("TokenBucket")(capacity, rate)
        out.append(bucket_verdict(times, decide(lim, times), capacity, rate, seed))
    return out


def assignment() -> Assignment:
    tests = [
        unit("unit.sliding_window_basics", 2, sliding_window_basics),
        unit("unit.token_bucket_basics", 2, token_bucket_basics),
        per_seed("trace.sliding_window", 3, sliding_on_trace),
        per_seed("trace.token_bucket", 3, bucket_on_trace),
    ]
    return Assignment(NAME, "Rate limiting: sliding window and token bucket",
                      "dslab.gateway.limiters", ("SlidingWindow", "TokenBucket"), tests,
                      chapter="gateway")
