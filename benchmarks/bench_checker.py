"""How fast is the linearizability checker? Prints wall times beside a same-run baseline.

Histories come from a simulated concurrent execution of a real atomic register (or key-value map):
each client runs operations one after another; every operation gets an invocation time, a
linearization point and a response time drawn at random, so operations of different clients
overlap; the real object executes the operations in linearization-point order, which gives each
read its value and each cas its outcome. A few operations time out (``info``): some of those took
effect, some did not. Everything is drawn from ``random.Random(seed)`` instances, so the same seed
gives the same history.

The baseline is the time to replay the same operations sequentially, in linearization order,
through the model (:meth:`dslab.check.models.Model.apply`): the cost of "checking" when the order
is already known. The bars the checker must meet: a 10,000-operation kv history (10 keys,
5 clients) in <= 2 s, and a 400-operation single-register history (5 clients) in <= 1 s. The
"bad read" rows change the last ok read to a value never written (the checker must say False);
the rows without a bar show histories with many timed-out operations, the hard case for every
linearizability checker. Exit status 1 if a bar or a verdict is missed.

Run: ``.venv/bin/python benchmarks/bench_checker.py``
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dslab.check import get_model, linearizable  # noqa: E402


def generate(
    seed: int,
    n_ops: int,
    clients: int,
    model: str,
    keys: int = 1,
    info_p: float = 0.02,
    values: int = 10,
) -> tuple[list[dict], list[tuple[str, object]]]:
    """``(records, sequential)``: a history and the ops that took effect, in linearization order."""
    rng = random.Random(seed)
    m = get_model(model)
    fs = ["read", "read", "write", "write"] + (["cas"] if "cas" in m.fs else [])
    planned = []  # (lin, seq, client, inv, resp, f, arg, timed_out)
    for c in range(clients):
        t = rng.uniform(0.0, 2.0)
        for _ in range(n_ops // clients + (c < n_ops % clients)):
            inv = t
            lin = inv + rng.uniform(0.05, 3.0)
            resp = lin + rng.uniform(0.05, 3.0)
            f = rng.choice(fs)
            key = f"k{rng.randrange(keys)}"
            if f == "cas":
                arg = [rng.randrange(values), rng.randrange(values)]
            else:
                arg = rng.randrange(values) if f == "write" else None
            timed_out = rng.random() < info_p
            if timed_out:
                resp += 20.0  # the client gives up long after sending
            planned.append((lin, len(planned), c, inv, resp, f, key, arg, timed_out))
            t = resp + rng.uniform(0.0, 1.0)
    planned.sort()
    state = m.initial()
    events = []  # (time, seq, record)
    sequential = []
    for _lin, seq, c, inv, resp, f, key, arg, timed_out in planned:
        value = [key, arg] if m.keyed else arg
        events.append((inv, 2 * seq, {"process": c, "type": "invoke", "f": f, "value": value}))
        took_effect = not timed_out or rng.random() < 0.5
        if f == "read":
            cur = state.get(key) if m.keyed else state
            out = [key, cur] if m.keyed else cur
            ok, state = m.apply(state, f, out)
            kind = "ok"
        else:
            ok, new = m.apply(state, f, value)
            out = value
            kind = "ok" if ok else "fail"
            if ok and took_effect:
                state = new
        if timed_out:
            kind = "info"
            out = value if f != "read" else None
        if kind == "ok" or (kind == "info" and took_effect and ok and f != "read"):
            sequential.append((f, out))
        events.append((resp, 2 * seq + 1, {"process": c, "type": kind, "f": f, "value": out}))
    events.sort(key=lambda e: (e[0], e[1]))
    records = [{**rec, "time": round(t, 3), "index": i} for i, (t, _, rec) in enumerate(events)]
    return records, sequential


def replay(model: str, sequential: list) -> float:
    """Wall time to run the ops through the model in a known order (and check every result)."""
    m = get_model(model)
    t0 = perf_counter()
    state = m.initial()
    for f, value in sequential:
        ok, state = m.apply(state, f, value)
        assert ok
    return perf_counter() - t0


def corrupt(records: list[dict], model: str) -> list[dict]:
    """Change the value of the last ok read to one never written, making the history invalid."""
    out = [dict(r) for r in records]
    for r in reversed(out):
        if r["f"] == "read" and r["type"] == "ok":
            r["value"] = [r["value"][0], 999] if model == "kv" else 999
            return out
    raise ValueError("no ok read to corrupt")


CASES = [
    # name, model, ops, clients, keys, info_p, corrupt, bar (s) or None (for information only)
    ("kv 10 keys", "kv", 10_000, 5, 10, 0.02, False, 2.0),
    ("register", "cas-register", 400, 5, 1, 0.02, False, 1.0),
    ("register (read/write only)", "register", 400, 5, 1, 0.02, False, 1.0),
    ("kv 10 keys, one bad read", "kv", 10_000, 5, 10, 0.02, True, 2.0),
    ("register, one bad read", "cas-register", 400, 5, 1, 0.02, True, 1.0),
    ("kv, 10% info", "kv", 10_000, 5, 10, 0.10, False, None),
    ("register, 10% info, bad read", "cas-register", 500, 5, 1, 0.10, True, None),
]


def main(seed: int = 1) -> int:
    header = (
        f"{'history':<30} {'ops':>6} {'info':>5} {'check s':>9} {'replay s':>9} {'ratio':>7} "
        f"{'bar s':>6} {'verdict':>8}  ok?"
    )
    print(f"linearizability checker, seed={seed}")
    print(header)
    print("-" * len(header))
    failed = 0
    for name, model, n, clients, keys, info_p, bad, bar in CASES:
        records, sequential = generate(seed, n, clients, model, keys=keys, info_p=info_p)
        if bad:
            records = corrupt(records, model)
        base = replay(model, sequential)
        t0 = perf_counter()
        result = linearizable(records, model, timeout_s=60)
        took = perf_counter() - t0
        n_info = sum(1 for r in records if r["type"] == "info")
        ok = result.valid is (not bad) and (bar is None or took <= bar)
        failed += not ok
        shown_bar = "-" if bar is None else f"{bar:.1f}"
        print(
            f"{name:<30} {n:>6} {n_info:>5} {took:>9.3f} {base:>9.4f} {took / base:>6.0f}x "
            f"{shown_bar:>6} {result.valid!s:>8}  {'yes' if ok else 'NO'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1))
