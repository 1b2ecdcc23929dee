"""Building a replicated register on a :class:`~dslab.sim.Sim` and driving it with clients.

This is the scripting layer between the protocol cores (:mod:`.cp`, :mod:`.ap`: handlers, no
SimPy) and the experiments: it adds replicas ``n1..nN`` and clients ``c1..``, each client bound to
"its" replica, splits them into the two sides of a partition, and offers client processes
(generators for :meth:`Sim.process`) that record every operation in the run's history in
Jepsen's format, ready for :func:`dslab.check.linearizable` with the ``"cas-register"`` model.

The builder convention of :mod:`dslab.sim.scenario` (rule 2): :func:`build_replicas`
``(sim, n=3, node_cls=...)`` adds the replicas ``n1..nN``; :func:`build_cluster` uses it, and its
``node_cls`` swaps the policy's replica class (:class:`~dslab.cap.cp.CasPaxosReplica` or
:class:`~dslab.cap.ap.APReplica`) for another that takes the same options (a student's, say).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from dslab._validate import check_choice, check_number, check_type
from dslab.cap.ap import RESOLUTIONS, APReplica
from dslab.cap.cp import CasPaxosReplica
from dslab.cap.messages import Cas, Read, Write
from dslab.sim import Client, RpcResult, Sim
from dslab.sim.scenario import check_node_cls

POLICIES = ("cp", "ap")
#: The replica class of each policy.
REPLICA_CLASSES = {"cp": CasPaxosReplica, "ap": APReplica}


def check_policy(policy: Any) -> str:
    check_type("policy", policy, str)
    return check_choice("policy", policy, POLICIES)


def check_n(n: Any, *, min: int = 1) -> int:
    """The number of replicas: an int >= ``min`` (1 for a cluster, 2 to split it in two)."""
    check_type("n", n, int)
    if n < min:
        what = "a cluster needs at least one replica" if min == 1 else (
            f"the experiment splits the replicas into two groups, so it needs at least {min}"
        )
        raise ValueError(f"n={n!r} is not allowed; {what} (n >= {min})")
    return n


def replica_names(n: int) -> list[str]:
    return [f"n{i}" for i in range(1, n + 1)]


def sides(names: list[str]) -> tuple[list[str], list[str]]:
    """``(minority, majority)``: the first ``max(1, (N-1)//2)`` replicas, and the rest.

    With N=1 there is no minority; with N=2 both sides hold one replica (neither is a majority).
    """
    if len(names) <= 1:
        return [], list(names)
    k = max(1, (len(names) - 1) // 2)
    return list(names[:k]), list(names[k:])


def replica_options(
    policy: str,
    *,
    resolution: str = "lww",
    op_timeout_ms: float = 100.0,
    attempt_timeout_ms: float = 20.0,
    backoff_ms: float = 5.0,
    anti_entropy_ms: float = 50.0,
) -> dict[str, Any]:
    """The constructor options of a ``policy`` replica: CP takes the timeouts, AP the
    resolution and the anti-entropy period."""
    check_policy(policy)
    check_choice("resolution", resolution, RESOLUTIONS)
    if policy == "cp":
        return dict(op_timeout_ms=op_timeout_ms, attempt_timeout_ms=attempt_timeout_ms,
                    backoff_ms=backoff_ms)
    return dict(resolution=resolution, anti_entropy_ms=anti_entropy_ms)


def replica_factory(policy: str, *, node_cls: type | None = None, **options: Any):
    """A handler factory for replicas of ``policy`` (``"cp"`` or ``"ap"``), of class ``node_cls``
    (default: the policy's own). The options are checked now, by building one replica."""
    cls = REPLICA_CLASSES[check_policy(policy)] if node_cls is None else check_node_cls(node_cls)
    opts = replica_options(policy, **options)
    cls(**opts)
    return lambda: cls(**opts)


def build_replicas(
    sim: Sim,
    n: int = 3,
    node_cls: type = CasPaxosReplica,
    *,
    clock_offsets_ms: dict[str, float] | None = None,
    **options: Any,
) -> list[str]:
    """Add replicas ``n1..nN`` running ``node_cls(**options)``, with the clock offsets
    ``clock_offsets_ms`` (replica name -> ms); their names (rule 2)."""
    check_n(n)
    check_node_cls(node_cls)
    names = replica_names(n)
    offsets = dict(clock_offsets_ms or {})
    for name in offsets:
        if name not in names:
            raise ValueError(
                f"clock_offsets_ms has key {name!r}, which is not a replica; replicas: {names}"
            )
    for name in names:
        sim.add_node(name, lambda: node_cls(**options), clock_offset_ms=offsets.get(name, 0.0))
    return names


@dataclass
class Cluster:
    """Replicas and clients of one run. ``home[c]`` is client ``c``'s replica."""

    sim: Sim
    policy: str
    replicas: list[str]
    minority: list[str]
    majority: list[str]
    clients: list[Client]
    home: dict[str, str]

    def side_of(self, name: str) -> str:
        """``"minority"`` or ``"majority"`` for a replica or a client."""
        node = self.home.get(name, name)
        return "minority" if node in self.minority else "majority"

    def groups(self) -> tuple[list[str], list[str]]:
        """The two sides as partition groups: replicas with their clients."""
        def with_clients(nodes: list[str]) -> list[str]:
            return list(nodes) + [c.name for c in self.clients if self.home[c.name] in nodes]

        return with_clients(self.minority), with_clients(self.majority)

    def partition(self, *, at: float | None = None) -> None:
        """Cut the minority side (replicas and their clients) off from the majority side."""
        lo, hi = self.groups()
        if lo and hi:
            self.sim.partition(lo, hi, at=at)

    def replica(self, name: str) -> Any:
        return self.sim.handler(name)


def build_cluster(
    sim: Sim,
    policy: str,
    n: int = 3,
    *,
    clients_per_replica: int = 1,
    clients: dict[str, str] | None = None,
    clock_offsets_ms: dict[str, float] | None = None,
    node_cls: type | None = None,
    **options: Any,
) -> Cluster:
    """Add ``n`` replicas of ``policy`` and ``clients_per_replica`` clients per replica to ``sim``.

    Client ``c{k}`` talks to replica ``n{(k-1) // clients_per_replica + 1}``; or pass ``clients``
    (client name -> replica name) to choose them. ``clock_offsets_ms`` maps replica names to
    clock offsets (a skewed local clock). ``node_cls`` replaces the policy's replica class;
    ``options`` are those of :func:`replica_options`.
    """
    check_policy(policy)
    check_n(n)
    check_number("clients_per_replica", clients_per_replica, min=1, integer=True)
    cls = REPLICA_CLASSES[policy] if node_cls is None else check_node_cls(node_cls)
    opts = replica_options(policy, **options)
    cls(**opts)  # a bad option fails now, naming the parameter
    names = build_replicas(sim, n, cls, clock_offsets_ms=clock_offsets_ms, **opts)
    if clients is None:
        pairs = [
            (f"c{i * clients_per_replica + j + 1}", name)
            for i, name in enumerate(names)
            for j in range(clients_per_replica)
        ]
    else:
        check_type("clients", clients, dict)
        pairs = list(clients.items())
        for cname, node in pairs:
            if node not in names:
                raise ValueError(
                    f"clients[{cname!r}]={node!r} is not a replica; replicas: {names}"
                )
    endpoints, home = [], {}
    for cname, node in pairs:
        endpoints.append(sim.add_client(cname))
        home[cname] = node
    lo, hi = sides(names)
    return Cluster(sim, policy, names, lo, hi, endpoints, home)


# -- client processes ----------------------------------------------------------------------------
def body_of(f: str, value: Any) -> Any:
    if f == "read":
        return Read()
    if f == "write":
        return Write(value)
    if f == "cas":
        expected, new = value
        return Cas(expected, new)
    raise ValueError(f"f={f!r} is not allowed; choose one of ['read', 'write', 'cas']")


def register_op(
    client: Client, node: str, f: str, value: Any = None, *, timeout_ms: float = 250.0
) -> Generator[Any, Any, RpcResult]:
    """Run one register operation and record it: invoke, then ok / fail / info.

    ``value``: ``None`` for a read, the value for a write, ``[expected, new]`` for a cas.
    Use as ``result = yield from register_op(client, "n1", "write", 3)``.
    """
    body = body_of(f, value)
    inv = client.invoke(f, None if f == "read" else value)
    res = yield from client.call(node, body, timeout_ms=timeout_ms)
    if f == "read":
        client.complete(inv, res, value=res.value if res.ok else None)
    else:
        client.complete(inv, res, value=value)
    return res


def random_clients(
    cluster: Cluster,
    *,
    until_ms: float,
    think_ms: float = 10.0,
    read_fraction: float = 0.5,
    cas_fraction: float = 0.1,
    timeout_ms: float = 250.0,
    read_only_from_ms: float | None = None,
) -> None:
    """Start one closed-loop process per client: read, write or cas, until ``until_ms``.

    Values are unique per write (client ``c3``'s writes are 3001, 3002...); a cas expects the
    value its client last read. Each client draws from its own stream ``workload/<client>``.
    From ``read_only_from_ms`` on (if given), clients only read.
    """
    sim = cluster.sim
    for idx, client in enumerate(cluster.clients, start=1):
        rng = sim.stream(f"workload/{client.name}")
        sim.process(
            _client_loop(
                sim, client, cluster.home[client.name], rng, idx, until_ms, think_ms,
                read_fraction, cas_fraction, timeout_ms, read_only_from_ms,
            )
        )


def _client_loop(
    sim: Sim, client: Client, node: str, rng: Any, idx: int, until_ms: float, think_ms: float,
    read_fraction: float, cas_fraction: float, timeout_ms: float, read_only_from_ms: float | None,
) -> Generator[Any, Any, None]:
    written = 0
    last_read: Any = None
    while True:
        yield sim.sleep(rng.uniform(0.0, 2.0 * think_ms))
        if sim.now >= until_ms:
            return
        u = rng.random()
        late = read_only_from_ms is not None and sim.now >= read_only_from_ms
        read_only = late or written >= 999  # values must stay unique per client
        if u < read_fraction or read_only:
            res = yield from register_op(client, node, "read", timeout_ms=timeout_ms)
            if res.ok:
                v = res.value
                if isinstance(v, list):  # siblings: expect the single value, if there is one
                    v = v[0] if len(v) == 1 else None
                last_read = v
        else:
            written += 1
            new = idx * 1000 + written
            if u < read_fraction + cas_fraction:
                yield from register_op(client, node, "cas", [last_read, new], timeout_ms=timeout_ms)
            else:
                yield from register_op(client, node, "write", new, timeout_ms=timeout_ms)
