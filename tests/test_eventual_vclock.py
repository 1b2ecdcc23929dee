"""Version vectors (Dynamo section 4.4): a partial order with merge as least upper bound;
concurrent writes become siblings; a write carrying the merged context supersedes them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dslab.eventual.vclock import (
    EMPTY,
    Version,
    VersionVector,
    context_of,
    digest,
    reconcile,
    write,
)

NODES = ("a", "b", "c")
vectors = st.dictionaries(st.sampled_from(NODES), st.integers(0, 4)).map(VersionVector.of)


@given(vectors)
def test_order_is_reflexive(x):
    assert x <= x and x.compare(x) == "equal"


@given(vectors, vectors)
def test_order_is_antisymmetric(x, y):
    if x <= y and y <= x:
        assert x == y


@given(vectors, vectors, vectors)
def test_order_is_transitive(x, y, z):
    if x <= y and y <= z:
        assert x <= z


@given(vectors, vectors)
def test_concurrent_means_neither_is_below_the_other(x, y):
    assert x.concurrent(y) == (not (x <= y) and not (y <= x))
    assert x.compare(y) in {"equal", "before", "after", "concurrent"}
    assert (x.compare(y) == "before") == (y.compare(x) == "after")


@given(vectors, vectors, vectors)
def test_merge_is_the_least_upper_bound(x, y, z):
    m = x.merge(y)
    assert x <= m and y <= m
    if x <= z and y <= z:
        assert m <= z
    assert m == y.merge(x)
    assert x.merge(y).merge(z) == x.merge(y.merge(z))
    assert x.merge(x) == x


def test_concurrent_writes_become_siblings_and_the_merged_context_supersedes_them():
    base = (Version("v0", ("load", 1)),)
    ctx = context_of(base)
    a, on_a = write("n1", "A", ctx, base)  # two coordinators, the same read, no coordination
    b, on_b = write("n2", "B", ctx, base)
    merged = reconcile((*on_a, *on_b))
    assert {v.value for v in merged} == {"A", "B"}
    assert a.history.concurrent(b.history)
    c, final = write("n3", "AB", context_of(merged), merged)
    assert final == (c,)
    assert c.supersedes(a) and c.supersedes(b)


def test_two_blind_writes_through_one_coordinator_are_both_kept():
    # With one clock per version the second would look newer and the first would be lost.
    _, s1 = write("n1", "x", EMPTY, ())
    _, s2 = write("n1", "y", EMPTY, s1)
    assert sorted(v.value for v in s2) == ["x", "y"]


def test_reconcile_is_order_insensitive_and_digest_depends_only_on_the_set():
    _, s1 = write("n1", "x", EMPTY, ())
    _, s2 = write("n2", "y", EMPTY, ())
    assert reconcile(s1 + s2) == reconcile(s2 + s1 + s1)
    assert digest(s1 + s2) == digest(s2 + s1)


ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 2), st.integers(0, 30)),
        st.tuples(st.just("read"), st.integers(0, 2), st.just(0)),
        st.tuples(st.just("sync"), st.integers(0, 2), st.integers(0, 2)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(ops)
def test_a_write_is_dropped_exactly_when_some_writer_had_seen_it(script):
    """Model check: three replicas of one key; clients write with the context of any earlier
    read; replicas exchange whole sibling sets. Each replica must hold exactly the writes it
    knows of that no other write it knows of had seen (transitively)."""
    names = ["n1", "n2", "n3"]
    sets: dict[str, tuple[Version, ...]] = {n: () for n in names}
    known: dict[str, set[int]] = {n: set() for n in names}
    seen: dict[int, set[int]] = {}  # write id -> ids its writer had seen (transitively)
    snapshots: list[tuple[Version, ...]] = [()]
    next_id = 0
    for op, i, j in script:
        node = names[i]
        if op == "read":
            snapshots.append(sets[node])
        elif op == "sync":
            other = names[j]
            sets[node] = reconcile((*sets[node], *sets[other]))
            known[node] |= known[other]
        else:
            snap = snapshots[j % len(snapshots)]
            next_id += 1
            seen[next_id] = {v.value for v in snap} | {s for v in snap for s in seen[v.value]}
            _, sets[node] = write(node, next_id, context_of(snap), sets[node])
            known[node].add(next_id)
        for n in names:
            expected = {w for w in known[n] if not any(w in seen[x] for x in known[n])}
            assert {v.value for v in sets[n]} == expected, f"replica {n} after {op}"
