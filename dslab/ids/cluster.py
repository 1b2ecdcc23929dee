"""Building each ID scheme on a :class:`~dslab.sim.Sim`, and the clients that ask it for IDs.

This is the scripting layer between the protocol cores (handlers, no SimPy) and the experiments.

Schemes (:data:`SCHEMES`) and their nodes; clients call the *servers*:

==============  ==========================================  ====================================
scheme          servers (clients call these)                 other nodes
==============  ==========================================  ====================================
``autoinc``     ``db1``: one auto-increment database         --
``autoinc-2m``  ``db1, db2``: two masters, offsets 1, 2,      --
                step 2
``segment``     ``id1..idN``: segment-mode ID servers        ``db``: the segment table (Tinyid,
                                                             ``n_dbs > 1``: ``db1..dbN``)
``redis``       ``redis``: one ``INCR`` server               --
``uuid4``,      ``id1..idN``: UUID generators                --
``uuid1``,
``uuid7``
``snowflake``   ``id1..idN``: generators, datacenter 1,      ``zk``: Leaf's coordinator (defences
                workers 1..N                                 ``"leaf"`` and ``"leaf+peers"``)
==============  ==========================================  ====================================

Clients (:func:`start_clients`) run closed loops: ask, wait for the answer (or ``timeout_ms``),
think ``think_ms``, ask again. Each client sticks to one server (picked at random, or round
robin) and, after a failure or a timeout, moves to the next one (fail-over). Every request is
recorded in the run's history as operation ``generate`` (value: the ID), ready for
:func:`dslab.check.unique_ids` and :func:`dslab.check.monotonic`, and as a row for the
experiments' DataFrames.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_choice, check_number, check_type
from dslab.ids.autoinc import AutoIncrementDB
from dslab.ids.dynamic_step import MAX_STEP, SEGMENT_DURATION_MS
from dslab.ids.leaf import LeafCoordinator
from dslab.ids.messages import NextId
from dslab.ids.redis import PERSISTENCE, RedisCounter
from dslab.ids.segment import SegmentDB, SegmentIdServer, check_step
from dslab.ids.snowflake import DEFAULT_LAYOUT, SnowflakeLayout, SnowflakeNode
from dslab.ids.tinyid import tinyid_rows
from dslab.ids.uuids import UuidNode
from dslab.sim import Client, Sim
from dslab.sim.scenario import check_node_cls

PLACEMENTS = ("random", "round_robin")
SCHEMES = ("autoinc", "autoinc-2m", "segment", "redis", "uuid4", "uuid1", "uuid7", "snowflake")

#: The Snowflake defences against clock rollback: runtime rule and start-up check.
DEFENCES: dict[str, dict[str, str]] = {
    "none": {"on_rollback": "ignore", "startup_check": "none"},
    "refuse": {"on_rollback": "refuse", "startup_check": "none"},
    "wait": {"on_rollback": "wait", "startup_check": "none"},
    "leaf": {"on_rollback": "wait", "startup_check": "leaf"},
    "leaf+peers": {"on_rollback": "wait", "startup_check": "leaf+peers"},
}

#: Service times (ms of a server's single thread per request) used unless a run overrides them.
#: They are model parameters chosen to be plausible, not measurements of real products.
SERVICE_MS = {"db": 0.25, "segment_db": 0.5, "redis": 0.01, "fsync": 0.05}


def check_scheme(scheme: Any) -> str:
    check_type("scheme", scheme, str)
    return check_choice("scheme", scheme, SCHEMES)


def check_defence(defence: Any) -> str:
    check_type("defence", defence, str)
    return check_choice("defence", defence, list(DEFENCES))


@dataclass
class IdCluster:
    """The nodes of one scheme on ``sim``: clients call ``servers``; ``clock_nodes`` are the
    nodes whose local clock goes into the IDs (where clock faults matter)."""

    sim: Sim
    scheme: str
    servers: list[str]
    backends: list[str] = field(default_factory=list)
    clock_nodes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)


def build(
    sim: Sim,
    scheme: str,
    *,
    n_servers: int = 2,
    step: int = 1000,
    double_buffer: bool = True,
    prefetch_at: float = 0.1,
    persistence: str = "always",
    flush_every_ms: float = 1000.0,
    defence: str = "wait",
    layout: SnowflakeLayout = DEFAULT_LAYOUT,
    db_service_ms: float | None = None,
    threshold_ms: float = 50.0,
    report_ms: float = 3000.0,
    n_dbs: int = 1,
    fetch_timeout_ms: float = 50.0,
    dynamic_step: bool = False,
    segment_duration_ms: float = SEGMENT_DURATION_MS,
    max_step: int = MAX_STEP,
    node_cls: type | None = None,
) -> IdCluster:
    """Add the nodes of ``scheme`` to ``sim`` (see the module table) and return them.

    ``n_servers``: ID servers for ``segment``, ``uuid*`` and ``snowflake``. ``step``,
    ``double_buffer``, ``prefetch_at``: segment mode. ``persistence``, ``flush_every_ms``: Redis.
    ``defence``, ``layout``, ``threshold_ms``, ``report_ms``: Snowflake. ``db_service_ms``:
    overrides the database's time per statement. Segment mode also takes ``n_dbs`` (Tinyid's
    databases ``db1..dbN`` with ``delta = N``; server ``id<k>`` asks ``db<k>`` first and fails over
    in order after ``fetch_timeout_ms``) and Leaf's ``dynamic_step`` (with
    ``segment_duration_ms`` and ``max_step``). ``node_cls``: the class of the ID servers
    ``id1..idN`` of ``segment`` (default :class:`~dslab.ids.segment.SegmentIdServer`, built by
    :func:`build_segment`), ``uuid*`` (:class:`~dslab.ids.uuids.UuidNode`) or ``snowflake``
    (:class:`~dslab.ids.snowflake.SnowflakeNode`), constructed with the default's arguments: a
    student's class can take the server role.
    """
    check_type("sim", sim, Sim)
    check_scheme(scheme)
    check_number("n_servers", n_servers, min=1, max=31, integer=True)
    check_step(step)
    check_type("double_buffer", double_buffer, bool)
    check_choice("persistence", persistence, PERSISTENCE)
    check_defence(defence)
    check_type("layout", layout, SnowflakeLayout)
    if db_service_ms is not None:
        check_number("db_service_ms", db_service_ms, min=0)
    check_number("n_dbs", n_dbs, min=1, max=16, integer=True)
    if node_cls is not None:
        check_node_cls(node_cls)
        if scheme in ("autoinc", "autoinc-2m", "redis"):
            raise ValueError(f"node_cls={node_cls!r} is not allowed with scheme={scheme!r}: it "
                             "has no ID servers id1..idN (only segment, uuid* and snowflake do)")
    ids = [f"id{i}" for i in range(1, n_servers + 1)]
    opts: dict[str, Any] = {"n_servers": n_servers}
    if scheme == "autoinc":
        ms = SERVICE_MS["db"] if db_service_ms is None else db_service_ms
        sim.add_node("db1", lambda: AutoIncrementDB(1, 1, ms))
        return IdCluster(sim, scheme, ["db1"], ["db1"], [], opts)
    if scheme == "autoinc-2m":
        ms = SERVICE_MS["db"] if db_service_ms is None else db_service_ms
        for i in (1, 2):
            sim.add_node(f"db{i}", lambda i=i: AutoIncrementDB(i, 2, ms))
        return IdCluster(sim, scheme, ["db1", "db2"], ["db1", "db2"], [], opts)
    if scheme == "segment":
        ms = SERVICE_MS["segment_db"] if db_service_ms is None else db_service_ms
        server_opts = dict(double_buffer=double_buffer, prefetch_at=prefetch_at,
                           fetch_timeout_ms=fetch_timeout_ms, dynamic_step=dynamic_step,
                           segment_duration_ms=segment_duration_ms, max_step=max_step)
        SegmentIdServer("db", "order", **server_opts)  # check the options now
        build_segment(sim, n_servers, node_cls or SegmentIdServer, step=step, n_dbs=n_dbs,
                      db_service_ms=ms, **server_opts)
        dbs = ["db"] if n_dbs == 1 else [f"db{i}" for i in range(1, n_dbs + 1)]
        opts.update(step=step, double_buffer=double_buffer, prefetch_at=prefetch_at)
        if n_dbs > 1:
            opts.update(n_dbs=n_dbs)
        if dynamic_step:
            opts.update(dynamic_step=True, segment_duration_ms=segment_duration_ms,
                        max_step=max_step)
        return IdCluster(sim, scheme, ids, dbs, [], opts)
    if scheme == "redis":
        sim.add_node("redis", lambda: RedisCounter(
            persistence, service_ms=SERVICE_MS["redis"], fsync_ms=SERVICE_MS["fsync"],
            flush_every_ms=flush_every_ms))
        opts.update(persistence=persistence)
        return IdCluster(sim, scheme, ["redis"], ["redis"], [], opts)
    if scheme.startswith("uuid"):
        version = int(scheme[-1])
        for i, name in enumerate(ids, start=1):
            # a locally administered, multicast-flagged node id, as RFC 4122 asks for non-MACs
            sim.add_node(name, lambda i=i: (node_cls or UuidNode)(version,
                                                                  node_id=(1 << 40) | i))
        clock = ids if version in (1, 7) else []
        return IdCluster(sim, scheme, ids, [], clock, opts)
    # snowflake
    rule = DEFENCES[defence]
    backends = []
    if rule["startup_check"] != "none":
        sim.add_node("zk", lambda: LeafCoordinator(session_ms=3 * report_ms))
        backends = ["zk"]
    for i, name in enumerate(ids, start=1):
        sim.add_node(name, lambda i=i: (node_cls or SnowflakeNode)(
            1, i, layout=layout, on_rollback=rule["on_rollback"],
            startup_check=rule["startup_check"], threshold_ms=threshold_ms, report_ms=report_ms))
    opts.update(defence=defence, layout=layout.name)
    return IdCluster(sim, scheme, ids, backends, ids, opts)


def build_segment(
    sim: Sim,
    n: int = 2,
    node_cls: type = SegmentIdServer,
    *,
    step: int = 1000,
    n_dbs: int = 1,
    db_service_ms: float = SERVICE_MS["segment_db"],
    **server_opts: Any,
) -> list[str]:
    """Segment mode on ``sim`` by the shared builder convention (:mod:`dslab.sim.scenario`
    rule 2): the database ``db`` (Tinyid, ``n_dbs > 1``: ``db1..dbN``, each with its
    ``delta``/``remainder``) holding the row ``order`` (first ``max_id`` 1, ``step``), then ``n``
    ID servers ``id1..idN`` running ``node_cls(dbs, "order", **server_opts)``; server ``id<k>``
    asks ``db<k>`` first and fails over in order. Returns the ID servers' names."""
    check_type("sim", sim, Sim)
    check_number("n", n, min=1, max=31, integer=True)
    check_node_cls(node_cls)
    check_step(step)
    check_number("n_dbs", n_dbs, min=1, max=16, integer=True)
    check_number("db_service_ms", db_service_ms, min=0)
    ids = [f"id{i}" for i in range(1, n + 1)]
    if n_dbs == 1:
        dbs = ["db"]
        sim.add_node("db", lambda: SegmentDB({"order": (1, step)}, db_service_ms))
    else:
        dbs = [f"db{i}" for i in range(1, n_dbs + 1)]
        for name, rows in zip(dbs, tinyid_rows(n_dbs, step), strict=True):
            sim.add_node(name, lambda rows=rows: SegmentDB(rows, db_service_ms))
    for k, name in enumerate(ids):
        order = dbs[k % n_dbs:] + dbs[:k % n_dbs]  # id<k> prefers db<k>, then the next
        sim.add_node(name, lambda order=order: node_cls(order, "order", **server_opts))
    return ids


def start_clients(
    cluster: IdCluster,
    n_clients: int,
    *,
    start_ms: float,
    until_ms: float,
    think_ms: float = 0.0,
    timeout_ms: float = 50.0,
    retry_ms: float = 1.0,
    failover: bool = True,
    placement: str = "random",
) -> list[dict[str, Any]]:
    """Start ``n_clients`` closed-loop clients ``c1..``; return the list their rows go into.

    Each client asks from ``start_ms`` (plus a small random stagger) until ``until_ms``, and
    pauses ``think_ms`` after an answer, at least ``retry_ms`` after a failure. ``placement``:
    how a client picks its first server: ``"round_robin"`` (client ``c<i>`` starts with server
    ``(i - 1) mod N``) or ``"random"`` (the first ``N`` clients one per server, the others at
    random, as a load balancer would, so the servers' loads differ).
    A row is a dict ``client, server, start_ms, end_ms, latency_ms, type, id, error``.
    """
    sim = cluster.sim
    check_number("n_clients", n_clients, min=1, integer=True)
    check_number("start_ms", start_ms, min=sim.now)
    check_number("until_ms", until_ms, min=start_ms)
    check_number("think_ms", think_ms, min=0)
    check_number("timeout_ms", timeout_ms, min=0, min_inclusive=False)
    check_number("retry_ms", retry_ms, min=0)
    check_type("failover", failover, bool)
    check_choice("placement", placement, PLACEMENTS)
    rows: list[dict[str, Any]] = []
    n = len(cluster.servers)
    for i in range(1, n_clients + 1):
        client = sim.add_client(f"c{i}")
        rng = sim.stream(f"workload/c{i}")
        first = rng.uniform(0.0, 0.2)
        home = rng.randrange(n) if placement == "random" and i > n else (i - 1) % n
        sim.process(_client_loop(cluster, client, home, start_ms + first, until_ms, think_ms,
                                 timeout_ms, retry_ms, failover, rows))
    return rows


def _client_loop(
    cluster: IdCluster, client: Client, k: int, start_ms: float, until_ms: float, think_ms: float,
    timeout_ms: float, retry_ms: float, failover: bool, rows: list[dict[str, Any]],
) -> Generator[Any, Any, None]:
    sim = cluster.sim
    servers = cluster.servers
    yield sim.sleep(start_ms - sim.now)
    body = NextId()
    while sim.now < until_ms:
        server = servers[k]
        inv = client.invoke("generate")
        res = yield from client.call(server, body, timeout_ms=timeout_ms)
        client.complete(inv, res, value=res.value if res.ok else None)
        rows.append({
            "client": client.name, "server": server, "start_ms": inv.time, "end_ms": sim.now,
            "latency_ms": res.latency_ms, "type": res.type, "id": res.value if res.ok else None,
            "error": res.error,
        })
        if res.ok:
            if think_ms > 0:
                yield sim.sleep(think_ms)
        else:
            if failover:
                k = (k + 1) % len(servers)
            if max(think_ms, retry_ms) > 0:
                yield sim.sleep(max(think_ms, retry_ms))
