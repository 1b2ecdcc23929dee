"""A Dynamo cluster in the simulator: build it, drive it from client processes, measure it.

This module is the SimPy side of :mod:`dslab.eventual.dynamo`: clients are generator processes
(``result = yield from cluster.put("c1", "n1", "x", 1)``), and measurements read the replicas'
copies the way a checker reads a history, from outside the protocol:

- :meth:`Cluster.copies` -- each owner's digest of one key (``None``: the owner has no copy);
- :meth:`Cluster.divergence` -- how many keys are not identical on all their owners;
- :meth:`Cluster.replica_states` -- per node, the digest of every key it owns (for
  :func:`dslab.check.convergence`).

A node that is down is read from its durable storage, which is what it will come back with.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from functools import partial
from typing import Any

from dslab._validate import check_number, check_seed, check_type
from dslab.eventual.dynamo import DynamoNode
from dslab.eventual.messages import DynamoConfig, Get, Put, SyncWith
from dslab.eventual.ring import HashRing
from dslab.eventual.vclock import EMPTY, Version, VersionVector, digest
from dslab.sim import Latency, RpcResult, Sim, Uniform
from dslab.sim.scenario import check_node_cls

#: Default one-way delay between any two endpoints of a Dynamo cluster (one datacenter).
DEFAULT_LATENCY = Uniform(1.0, 3.0)


def node_names(nodes: int) -> list[str]:
    check_number("nodes", nodes, min=1, integer=True)
    return [f"n{i}" for i in range(1, nodes + 1)]


def placement(
    names: list[str],
    config: DynamoConfig,
    vnodes: int = 8,
    initial: Mapping[str, Any] | None = None,
    initial_by_node: Mapping[str, Mapping[str, tuple[Version, ...]]] | None = None,
) -> tuple[HashRing, dict[str, dict[str, tuple[Version, ...]]]]:
    """The ring of ``names`` and each node's starting copies: ``initial`` (key -> value) on
    every owner as one version with the dot ``("load", 1)``, then ``initial_by_node``."""
    if config.N > len(names):
        raise ValueError(
            f"N={config.N} is larger than nodes={len(names)}; a key needs N distinct replicas"
        )
    ring = HashRing(names, vnodes)
    per_node: dict[str, dict[str, tuple[Version, ...]]] = {n: {} for n in names}
    for key, value in sorted((initial or {}).items()):
        for owner in ring.preference_list(key, config.N):
            per_node[owner][key] = (Version(value, ("load", 1)),)
    for n, data in (initial_by_node or {}).items():
        if n not in per_node:
            raise ValueError(f"initial_by_node has node {n!r}; nodes are {names}")
        per_node[n].update(data)
    return ring, per_node


def build(
    sim: Sim,
    n: int = 5,
    node_cls: type = DynamoNode,
    *,
    config: DynamoConfig | None = None,
    vnodes: int = 8,
    initial: Mapping[str, Any] | None = None,
    initial_by_node: Mapping[str, Mapping[str, tuple[Version, ...]]] | None = None,
) -> list[str]:
    """Add ``n`` Dynamo nodes ``n1 .. nN`` on one ring to ``sim``, each running
    ``node_cls(ring, config, its_initial_copies)``; returns their names (the builder convention
    of :mod:`dslab.sim.scenario`; :class:`Cluster` builds this way and adds clients)."""
    check_type("sim", sim, Sim)
    check_node_cls(node_cls)
    config = config if config is not None else DynamoConfig()
    check_type("config", config, DynamoConfig)
    names = node_names(n)
    ring, per_node = placement(names, config, vnodes, initial, initial_by_node)
    for name in names:
        sim.add_node(name, partial(node_cls, ring, config, per_node[name]))
    return names


class Cluster:
    """``nodes`` Dynamo nodes ``n1..nK`` on one ring, and clients ``clients``.

    ``initial`` (key -> value) is stored on every owner before the run starts, as one version with
    the dot ``("load", 1)``, so experiments begin from replicas that agree. ``node_cls`` (built
    as ``node_cls(ring, config, initial)``) swaps in another node implementation.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        nodes: int = 5,
        config: DynamoConfig | None = None,
        vnodes: int = 8,
        latency: Latency | float = DEFAULT_LATENCY,
        initial: Mapping[str, Any] | None = None,
        initial_by_node: Mapping[str, Mapping[str, tuple[Version, ...]]] | None = None,
        clients: Iterable[str] = ("c1",),
        journal: bool = True,
        node_cls: type = DynamoNode,
    ) -> None:
        check_seed(seed)
        check_node_cls(node_cls)
        self.config = config if config is not None else DynamoConfig()
        check_type("config", self.config, DynamoConfig)
        names = node_names(nodes)
        self.ring, per_node = placement(names, self.config, vnodes, initial, initial_by_node)
        self.sim = Sim(seed, latency=latency, journal=journal)
        self.names = names
        self.keys: set[str] = {k for d in per_node.values() for k in d}
        self._owners: dict[str, tuple[str, ...]] = {}
        for n in names:
            self.sim.add_node(n, partial(node_cls, self.ring, self.config, per_node[n]))
        self.clients = {c: self.sim.add_client(c) for c in clients}

    def __repr__(self) -> str:
        return f"Cluster(seed={self.sim.seed}, nodes={self.names}, config={self.config})"

    # -- inspection ----------------------------------------------------------------------------
    def node(self, name: str) -> DynamoNode | None:
        """The live handler of ``name`` (``None`` while it is down)."""
        return self.sim.handler(name)  # type: ignore[return-value]

    def owners(self, key: str) -> tuple[str, ...]:
        got = self._owners.get(key)
        if got is None:
            got = self._owners[key] = self.ring.preference_list(key, self.config.N)
        return got

    def _digests(self) -> dict[str, Mapping[str, str]]:
        """Per node, key -> digest of its own copies (read from storage if the node is down)."""
        out: dict[str, Mapping[str, str]] = {}
        for n in self.names:
            h = self.node(n)
            if h is not None:
                out[n] = h.digest_of
            else:
                st = self.sim.nodes[n].storage
                out[n] = {name[2:]: digest(st[name]) for name in st if name.startswith("d|")}
        return out

    def copies(self, key: str) -> dict[str, str | None]:
        """Each owner's digest of ``key`` (``None``: no copy)."""
        dg = self._digests()
        return {o: dg[o].get(key) for o in self.owners(key)}

    def divergent_keys(self) -> list[str]:
        """Keys whose owners do not all hold the same sibling set."""
        dg = self._digests()
        out = []
        for k in sorted(self.keys):
            first, *rest = self.owners(k)
            d0 = dg[first].get(k)
            if any(dg[o].get(k) != d0 for o in rest):
                out.append(k)
        return out

    def divergence(self) -> int:
        """How many keys are not identical on all of their owners."""
        return len(self.divergent_keys())

    def replica_states(self) -> dict[str, dict[str, str | None]]:
        """Per node, the digest of every key it owns (missing copies as ``None``)."""
        dg = self._digests()
        out: dict[str, dict[str, str | None]] = {n: {} for n in self.names}
        for k in sorted(self.keys):
            for o in self.owners(k):
                out[o][k] = dg[o].get(k)
        return out

    def key_states(self, key: str) -> dict[str, str | None]:
        """``{owner: digest}`` of one key: the input :func:`dslab.check.convergence` expects."""
        return self.copies(key)

    def hints_pending(self) -> int:
        """Hints still held by live nodes (not yet handed off)."""
        return sum(len(h.hints) for n in self.names if (h := self.node(n)) is not None)

    def stats(self) -> dict[str, int]:
        """Counters of the live nodes, summed (volatile: a crash resets a node's share)."""
        total: dict[str, int] = {}
        for n in self.names:
            h = self.node(n)
            if h is not None:
                for k, v in h.stats.items():
                    total[k] = total.get(k, 0) + v
        return dict(sorted(total.items()))

    # -- clients ----------------------------------------------------------------------------------
    def get(
        self, client: str, node: str, key: str, timeout_ms: float = 1000.0
    ) -> Generator[Any, Any, RpcResult]:
        """Read ``key`` through ``node``; ``result.value`` is a :class:`GetResult` when ok."""
        return (yield from self.clients[client].call(node, Get(key), timeout_ms))

    def put(
        self,
        client: str,
        node: str,
        key: str,
        value: Any,
        context: VersionVector = EMPTY,
        timeout_ms: float = 1000.0,
    ) -> Generator[Any, Any, RpcResult]:
        """Write ``key = value`` through ``node`` with the ``context`` of an earlier read."""
        self.keys.add(key)
        return (yield from self.clients[client].call(node, Put(key, value, context), timeout_ms))

    def sync(
        self, client: str, node: str, peer: str, timeout_ms: float = 1000.0
    ) -> Generator[Any, Any, RpcResult]:
        """Ask ``node`` to run one anti-entropy exchange with ``peer`` now."""
        return (yield from self.clients[client].call(node, SyncWith(peer), timeout_ms))
