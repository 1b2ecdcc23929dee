"""Merkle anti-entropy (Dynamo section 4.7): compare roots, descend only where hashes differ, and
exchange only the keys that differ (plus a bounded overhead of hashes and leaf digests)."""

from __future__ import annotations

import random

import pytest

from dslab.eventual.experiments import merkle_cost
from dslab.eventual.merkle import EMPTY_HASH, MerkleTree, differing_keys, exchange
from dslab.eventual.ring import HashRing

RING = HashRing(["n1", "n2", "n3"], vnodes=8)
RIDS = tuple(range(RING.num_ranges))
KEYS = [f"k{i:04d}" for i in range(2000)]
BASE = {k: "aaaa" for k in KEYS}
DEPTH = 5


def changed(n: int, seed: int = 1) -> dict[str, str]:
    out = dict(BASE)
    for k in random.Random(seed).sample(KEYS, n):
        out[k] = "bbbb"
    return out


def test_identical_replicas_exchange_only_the_roots():
    found, cost = exchange(RING, RIDS, DEPTH, BASE, dict(BASE))
    assert found == []
    assert cost.hashes == len(RIDS) and cost.digests == 0 and cost.rounds == 1


def test_empty_subtrees_hash_alike():
    tree = MerkleTree.build(RING, 0, 3, {})
    assert tree.root == EMPTY_HASH


@pytest.mark.parametrize("n", [1, 5, 40])
def test_exchange_finds_exactly_the_differing_keys(n):
    other = changed(n)
    other.pop(KEYS[-1])  # a key missing on one side differs too
    found, _ = exchange(RING, RIDS, DEPTH, BASE, other)
    assert found == differing_keys(BASE, other)


@pytest.mark.parametrize("n", [1, 3, 10, 30])
def test_cost_is_bounded_by_the_paths_to_the_differing_leaves(n):
    found, cost = exchange(RING, RIDS, DEPTH, BASE, changed(n))
    assert cost.differing == len(found) == n
    # roots, then two children per differing node on each of DEPTH levels below the root
    assert cost.hashes <= len(RIDS) + 2 * DEPTH * n
    # digests: only the keys in the differing leaves (about 2000 / (24 * 32) per leaf)
    assert n <= cost.digests <= 12 * n
    naive_digests = len(KEYS)
    assert cost.hashes + cost.digests < naive_digests / 4


def test_merkle_sync_in_the_cluster_sends_only_the_differing_keys():
    df = merkle_cost(keys=600, differing=(0, 1, 12), methods=("merkle", "naive"), seed=3)
    assert df["converged"].all()
    for _, row in df.iterrows():
        d = row["differing_keys"]
        # each differing key travels once, or twice if the older copy is sent first
        assert d <= row["keys_sent"] <= 2 * d, row.to_dict()
    merkle = df[df.method == "merkle"].set_index("differing_keys")
    naive = df[df.method == "naive"].set_index("differing_keys")
    assert merkle.loc[0, "messages"] == 1 and merkle.loc[0, "digests"] == 0
    assert (merkle["bytes"] < naive["bytes"]).all()
    assert (naive["digests"] == 600).all()
