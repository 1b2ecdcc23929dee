"""The ZooKeeper client library (SimPy side) and two recipes built on it.

A :class:`ZkClient` is a client endpoint of the simulated network, like ``dslab.sim.Client``,
that also receives watch notifications. It opens a session on one server, pings it every third of
the session timeout (moving to another server when its server stops answering), and offers the
operations of Hunt et al. 2010 §2.2 as generator methods that record themselves in the history:
``create``, ``delete``, ``set_data`` (recorded as ``set``), ``get_data`` (``get``),
``get_children`` (``children``), ``exists`` and ``sync``. Each returns an
:class:`~dslab.sim.RpcResult`; with ``watch=True`` a read returns ``(result, event)``, where the
SimPy ``event`` succeeds with the :class:`~dslab.zk.messages.WatchEvent` when the watch fires.

Recipes (Hunt et al. §2.4; the notes' "Zookeeper分布式锁"):

- :class:`Lock`: each contender creates an ephemeral sequential node under the lock's path; the
  lowest sequence number holds the lock. With ``mode="predecessor"`` a waiter watches only the node
  just before its own, so a release wakes exactly one client; with ``mode="herd"`` every waiter
  watches the whole parent, and every change wakes all of them (the herd effect).
- :class:`LeaderElection`: the same queue; the head of the queue is the leader.

``ZkClient.pause(ms)`` stops the client process for ``ms`` (a garbage-collection pause): it sends
nothing, not even pings, and handles what arrives only afterwards. It is the client-side twin of
``Sim.pause``, which only applies to server nodes.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from dslab._validate import check_number, check_type
from dslab.sim.world import Client, RpcResult, Sim
from dslab.zk.lock import LeaderElection, Lock, RecipeClient, seq_of
from dslab.zk.messages import (
    Create,
    CreateSession,
    Delete,
    Exists,
    GetChildren,
    GetData,
    Ping,
    SetData,
    Sync,
    WatchEvent,
)
from dslab.zk.tree import check_path

__all__ = [
    "LeaderElection",
    "Lock",
    "RecipeClient",
    "ZkClient",
    "add_zk_client",
    "seq_of",
]

Gen = Generator[Any, Any, Any]

#: Which pending watches an event fires, as in ZooKeeper: data watches (set by ``get_data`` and
#: ``exists``) hear of creation, data changes and deletion; child watches (``get_children``) hear
#: of children coming and going, and of the node's own deletion.
WATCH_KINDS_FIRED = {
    "created": ("data",),
    "changed": ("data",),
    "children": ("child",),
    "deleted": ("data", "child"),
}


class ZkClient(Client):
    """A ZooKeeper client with one session. Create it with :func:`add_zk_client`."""

    def __init__(
        self,
        sim: Sim,
        name: str,
        servers: list[str],
        server: str,
        session_timeout_ms: float,
        op_timeout_ms: float,
    ) -> None:
        super().__init__(sim, name)
        self.servers = list(servers)
        self.server = server
        self.session_timeout_ms = session_timeout_ms
        self.op_timeout_ms = op_timeout_ms
        self.connected = False
        self.expired = False
        self.paused_until = 0.0
        self._held: list[tuple[list[Any], str, Any]] = []
        # pending watches by (path, kind): "data" (get_data, exists) or "child" (get_children)
        self._watchers: dict[tuple[str, str], list[Any]] = {}
        self.notifications = 0

    # -- network input -----------------------------------------------------------------------
    def receive(self, rec: list[Any], src: str, msg: Any) -> None:
        if self.sim.now < self.paused_until:
            self._held.append((rec, src, msg))
            return
        if not isinstance(msg, WatchEvent):
            super().receive(rec, src, msg)
            return
        self.sim.net.delivered(rec)
        self.notifications += 1
        self.sim.history.event(
            self.sim.now, self.name, "notified", path=msg.path, event=msg.event, zxid=msg.zxid
        )
        if msg.event == "session_expired":
            self.expired = True
            waiting = [ev for _, evs in sorted(self._watchers.items()) for ev in evs]
            self._watchers = {}
        else:
            waiting = []
            for kind in WATCH_KINDS_FIRED[msg.event]:
                waiting += self._watchers.pop((msg.path, kind), [])
        for ev in waiting:
            if not ev.triggered:
                ev.succeed(msg)

    def pause(self, duration_ms: float) -> None:
        """Stop this client for ``duration_ms`` (a GC pause), recorded as a fault."""
        check_number("duration_ms", duration_ms, min=0)
        self.paused_until = max(self.paused_until, self.sim.now + duration_ms)
        self.sim.history.fault(self.sim.now, "pause", node=self.name, duration_ms=duration_ms)
        self.sim.env.timeout(duration_ms).callbacks.append(lambda _ev: self._resume())

    def _resume(self) -> None:
        if self.sim.now < self.paused_until:
            return
        held, self._held = self._held, []
        for rec, src, msg in held:
            self.receive(rec, src, msg)

    def stall(self) -> Gen:
        """Yield until a pause is over (call this before acting)."""
        while self.sim.now < self.paused_until:
            yield self.sim.env.timeout(self.paused_until - self.sim.now)

    # -- session -----------------------------------------------------------------------------
    def connect(self, *, attempts: int = 20) -> Gen:
        """Open the session (a write through the log), then start pinging. Returns ok/fail."""
        inv = self.invoke("connect", self.server)
        res = RpcResult("fail", None, "not_ready")
        for _ in range(attempts):
            res = yield from self.call(
                self.server, CreateSession(self.session_timeout_ms), self.op_timeout_ms
            )
            if res.ok or res.error == "node_exists":
                break
            self._next_server()
            yield self.sim.env.timeout(self.op_timeout_ms / 2)
        self.complete(inv, res, self.server)
        if res.ok:
            self.connected = True
            self.sim.process(self._pinger())
        return res

    def _next_server(self) -> None:
        i = self.servers.index(self.server)
        self.server = self.servers[(i + 1) % len(self.servers)]

    def _pinger(self) -> Gen:
        interval = self.session_timeout_ms / 3
        while not self.expired:
            yield self.sim.env.timeout(interval)
            yield from self.stall()
            res = yield from self.call(self.server, Ping(), interval)
            if res.error == "session_expired":
                self.expired = True
                self.sim.history.event(self.sim.now, self.name, "session_expired")
            elif not res.ok:
                self._next_server()  # connection loss: try the next server

    # -- operations --------------------------------------------------------------------------
    def _op(self, f: str, body: Any, value: Any, record: bool) -> Gen:
        yield from self.stall()
        inv = self.invoke(f, value) if record else None
        res = yield from self.call(self.server, body, self.op_timeout_ms)
        if inv is not None:
            self.complete(inv, res, _plain(res.value) if res.ok else None)
        return res

    def _read(self, f: str, body: Any, value: Any, watch: bool, record: bool) -> Gen:
        ev = None
        key = (body.path, "child" if isinstance(body, GetChildren) else "data")
        if watch:
            ev = self.sim.env.event()
            self._watchers.setdefault(key, []).append(ev)
        res = yield from self._op(f, body, value, record)
        if watch and not res.ok and ev in self._watchers.get(key, []):
            self._watchers[key].remove(ev)
        return (res, ev) if watch else res

    def create(
        self,
        path: str,
        data: Any = None,
        *,
        ephemeral: bool = False,
        sequential: bool = False,
        record: bool = True,
    ) -> Gen:
        check_path(path)
        check_type("ephemeral", ephemeral, bool)
        check_type("sequential", sequential, bool)
        body = Create(path, data, ephemeral, sequential)
        return (yield from self._op("create", body, [path, data], record))

    def delete(self, path: str, version: int = -1, *, record: bool = True) -> Gen:
        check_path(path)
        check_number("version", version, min=-1, integer=True)
        return (yield from self._op("delete", Delete(path, version), path, record))

    def set_data(self, path: str, data: Any, version: int = -1, *, record: bool = True) -> Gen:
        check_path(path)
        check_number("version", version, min=-1, integer=True)
        return (yield from self._op("set", SetData(path, data, version), [path, data], record))

    def get_data(self, path: str, *, watch: bool = False, record: bool = True) -> Gen:
        check_path(path)
        return (yield from self._read("get", GetData(path, watch), path, watch, record))

    def exists(self, path: str, *, watch: bool = False, record: bool = True) -> Gen:
        check_path(path)
        return (yield from self._read("exists", Exists(path, watch), path, watch, record))

    def get_children(self, path: str, *, watch: bool = False, record: bool = True) -> Gen:
        check_path(path)
        return (yield from self._read("children", GetChildren(path, watch), path, watch, record))

    def sync(self, path: str = "/", *, record: bool = True) -> Gen:
        check_path(path)
        return (yield from self._op("sync", Sync(path), path, record))


def _plain(value: Any) -> Any:
    """Results as JSON-like values for the history (a Stat becomes a dict)."""
    if hasattr(value, "__dataclass_fields__"):
        return {k: getattr(value, k) for k in value.__dataclass_fields__}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def add_zk_client(
    sim: Sim,
    name: str,
    servers: list[str],
    *,
    server: str | None = None,
    session_timeout_ms: float = 300.0,
    op_timeout_ms: float = 200.0,
) -> ZkClient:
    """Add a :class:`ZkClient` named ``name`` to ``sim``, connected to ``server`` (default: the
    first of ``servers``). Call ``yield from client.connect()`` in a process to open its session."""
    sim._check_new_name(name)
    if not servers:
        raise ValueError("servers=[] is not allowed; give the ZooKeeper servers' node names")
    for i, s in enumerate(servers):
        sim._check_node(f"servers[{i}]", s)
    server = servers[0] if server is None else server
    if server not in servers:
        raise ValueError(f"server={server!r} is not one of servers={servers!r}")
    check_number("session_timeout_ms", session_timeout_ms, min=0, min_inclusive=False)
    check_number("op_timeout_ms", op_timeout_ms, min=0, min_inclusive=False)
    client = ZkClient(sim, name, servers, server, session_timeout_ms, op_timeout_ms)
    sim.clients[name] = client
    sim._endpoints[name] = client
    return client
