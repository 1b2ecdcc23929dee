"""Consistent hashing (Dynamo section 4.2): deterministic tokens, preference lists of distinct
nodes, and adding a node moves only about 1/(n+1) of the keys, all of them to the new node."""

from __future__ import annotations

import hashlib

import pytest

from dslab.eventual.ring import RING_SIZE, HashRing, token

KEYS = [f"user:{i}" for i in range(4000)]


def test_token_is_md5_prefix_not_python_hash():
    expected = int.from_bytes(hashlib.md5(b"cart:7").digest()[:8], "big")
    assert token("cart:7") == expected
    assert 0 <= token("x") < RING_SIZE


def test_preference_list_has_n_distinct_nodes_starting_at_the_range_owner():
    ring = HashRing([f"n{i}" for i in range(1, 6)], vnodes=8)
    for key in KEYS[:200]:
        pl = ring.preference_list(key, 3)
        assert len(set(pl)) == 3
        assert pl[0] == ring.range_owner(ring.range_of(key))
        assert ring.preference_list(key) [:3] == pl  # the full walk extends the top N


def test_every_key_of_a_range_has_the_same_preference_list():
    ring = HashRing(["a", "b", "c", "d"], vnodes=4)
    by_range: dict[int, set[tuple[str, ...]]] = {}
    for key in KEYS[:500]:
        by_range.setdefault(ring.range_of(key), set()).add(ring.preference_list(key, 2))
    assert all(len(lists) == 1 for lists in by_range.values())


@pytest.mark.parametrize("n", [4, 8])
def test_adding_a_node_moves_about_one_in_n_plus_one_keys_and_only_to_it(n):
    ring = HashRing([f"n{i}" for i in range(n)], vnodes=64)
    bigger = ring.with_node("new")
    moved = [k for k in KEYS if ring.preference_list(k, 1) != bigger.preference_list(k, 1)]
    assert all(bigger.preference_list(k, 1) == ("new",) for k in moved)
    fraction = len(moved) / len(KEYS)
    assert abs(fraction - 1 / (n + 1)) < 0.5 / (n + 1), f"moved {fraction:.3f} of the keys"


def test_more_virtual_nodes_balance_the_load():
    nodes = [f"n{i}" for i in range(5)]

    def spread(v: int) -> float:
        load = HashRing(nodes, vnodes=v).load(KEYS)
        return max(load.values()) / (len(KEYS) / len(nodes))

    assert spread(128) < spread(1)
    assert spread(128) < 1.3


def test_ring_rejects_bad_arguments_by_name():
    with pytest.raises(ValueError, match="nodes=\\[\\]"):
        HashRing([])
    with pytest.raises(ValueError, match="duplicate"):
        HashRing(["a", "a"])
    with pytest.raises(ValueError, match="vnodes=0"):
        HashRing(["a"], vnodes=0)
    with pytest.raises(ValueError, match="n=4"):
        HashRing(["a", "b", "c"]).preference_list("k", 4)
