"""Differential tests: the ZooKeeper model (dslab.zk) against a real ZooKeeper 3.8 (marker `real`).

The same scripts of commands -- create (persistent, ephemeral, sequential), delete and set with
versions, exists / get / children, watches of both kinds, session expiry -- run against a
simulated three-server ensemble and against a standalone ZooKeeper through kazoo, and every
observable result must be equal: the paths created, versions, cversion and child counts, error
codes and watch events. Then the book's lock recipe (:class:`dslab.zk.client.Lock`, unchanged)
runs against the real server through an adapter backed by kazoo, with several contenders.

The server is started once per session by ``realservers_zk.ZooKeeperServer``; without Java or
ZooKeeper's jars every test here skips and says how to install them.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Generator
from typing import Any

import pytest
from realservers_zk import ZooKeeperServer, missing

from dslab.sim import RpcResult
from dslab.zk import add_zk_client, build_ensemble, run_until_leader
from dslab.zk.client import Lock, seq_of

pytestmark = pytest.mark.real

SESSION_TIMEOUT_S = 2.0  # real sessions; expiry is forced (see RealZk.expire)
RECONNECT_DELAY_S = 1.0
_roots = itertools.count()


@pytest.fixture(scope="session")
def zookeeper():
    why = missing()
    if why is not None:
        if os.environ.get("DSLAB_REQUIRE_REAL") == "1":
            pytest.fail(f"DSLAB_REQUIRE_REAL=1 but {why}")
        pytest.skip(why)
    server = ZooKeeperServer().start()
    try:
        yield server
    finally:
        server.stop()


# -- the two back ends, one interface --------------------------------------------------------
# A command is a tuple; its result is ("ok", value) or ("error", code), where values are plain:
# a stat is (version, cversion, num_children, is_ephemeral), data is a str.
def _stat(version: int, cversion: int, num_children: int, owner: Any) -> tuple:
    return (version, cversion, num_children, bool(owner))


class ModelZk:
    """dslab.zk: three simulated servers; each client connects to a different one."""

    def __init__(self, seed: int = 0) -> None:
        self.sim, self.names = build_ensemble(seed, 3)
        run_until_leader(self.sim)
        self.clients: dict[str, Any] = {}
        self.events: list[tuple[str, str, str]] = []

    def client(self, who: str) -> Any:
        if who not in self.clients:
            i = len(self.clients)
            c = add_zk_client(
                self.sim,
                who,
                self.names,
                server=self.names[i % 3],
                session_timeout_ms=SESSION_TIMEOUT_S * 1000,
            )
            self._run(c.connect())
            self.clients[who] = c
        return self.clients[who]

    def _run(self, gen: Generator) -> Any:
        proc = self.sim.process(gen)
        self.sim.run(until=proc)
        return proc.value

    def do(self, who: str, cmd: tuple) -> tuple:
        c = self.client(who)
        op, *args = cmd
        if op == "expire":
            return self.expire(c)
        if op == "watch":
            label, how, path = args
            gen = {"get": c.get_data, "exists": c.exists, "children": c.get_children}[how]
            res, ev = self._run(gen(path, watch=True))
            ev.callbacks.append(
                lambda e, label=label: self.events.append((label, e.value.event, e.value.path))
            )
            out = self._result(how, res)
        else:
            gen = {
                "create": lambda p, d, f="": c.create(
                    p, d, ephemeral="e" in f, sequential="s" in f
                ),
                "delete": lambda p, v=-1: c.delete(p, v),
                "set": lambda p, d, v=-1: c.set_data(p, d, v),
                "get": c.get_data,
                "exists": c.exists,
                "children": c.get_children,
            }[op](*args)
            out = self._result(op, self._run(gen))
        self.sim.run_for(30.0)  # let watch notifications arrive
        return out

    @staticmethod
    def _result(op: str, res: RpcResult) -> tuple:
        if not res.ok:
            return ("error", res.error)
        v = res.value
        if op == "get":
            data, st = v
            return (
                "ok",
                (data, _stat(st.version, st.cversion, st.num_children, st.ephemeral_owner)),
            )
        if op in ("exists", "set"):
            if v is None:
                return ("ok", None)
            return ("ok", _stat(v.version, v.cversion, v.num_children, v.ephemeral_owner))
        if op == "children":
            return ("ok", sorted(v))
        if op == "delete":
            return ("ok", None)
        return ("ok", v)

    def expire(self, c: Any) -> tuple:
        """The client goes silent past its session timeout; the leader expires the session."""
        silent_ms = 3 * c.session_timeout_ms
        c.pause(silent_ms)
        self.sim.run_for(silent_ms + 50.0)
        return ("ok", None)


class RealZk:
    """A real ZooKeeper through kazoo. ``/r`` (which each script creates first) stands for a
    fresh top-level node, so scripts never see each other's nodes on the shared server."""

    def __init__(self, server: ZooKeeperServer) -> None:
        from kazoo.client import KazooClient

        self.server = server
        self.root = f"/dslab-{next(_roots)}-{time.monotonic_ns()}"
        self.KazooClient = KazooClient
        self.clients: dict[str, Any] = {}
        self.events: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()

    def close(self) -> None:
        for c in self.clients.values():
            c.stop()
            c.close()

    def to_real(self, path: str) -> str:
        return self.root + path[2:] if path.startswith("/r") else path

    def to_model(self, path: str) -> str:
        return "/r" + path[len(self.root) :] if path.startswith(self.root) else path

    def client(self, who: str) -> Any:
        if who not in self.clients:
            # After a dropped connection kazoo waits RECONNECT_DELAY_S before trying again; an
            # expired session is then refused, every queued request fails SESSIONEXPIRED, and
            # requests keep failing so until the next try opens a *new* session.
            retry = {"max_tries": -1, "delay": RECONNECT_DELAY_S, "backoff": 1, "max_jitter": 0}
            c = self.KazooClient(
                hosts=self.server.hosts, timeout=SESSION_TIMEOUT_S, connection_retry=retry
            )
            c.start(timeout=10)
            self.clients[who] = c
        return self.clients[who]

    def settle(self) -> None:
        """Every watch notification caused so far has been delivered and handled: a sync is
        answered after the notifications queued before it on that connection, and a marker
        queued on kazoo's callback thread runs after the watch callbacks already there."""
        from kazoo.exceptions import KazooException
        from kazoo.protocol.states import Callback

        for c in self.clients.values():
            if not c.connected:
                continue  # an expired client, reconnecting
            try:
                c.sync("/")
            except KazooException:
                continue
            done = threading.Event()
            c.handler.dispatch_callback(Callback("watch", done.set, ()))
            assert done.wait(10), "kazoo's callback thread is stuck"

    def do(self, who: str, cmd: tuple) -> tuple:
        from kazoo.exceptions import KazooException

        c = self.client(who)
        op, *args = cmd
        try:
            if op == "expire":
                out = self.expire(c)
            elif op == "watch":
                label, how, path = args
                out = self.watch(c, label, how, self.to_real(path))
            else:
                out = self.call(c, op, args)
        except KazooException as exc:
            out = ("error", _code(exc))
        self.settle()
        return out

    def call(self, c: Any, op: str, args: list) -> tuple:
        p = self.to_real(args[0])
        if op == "create":
            data, flags = (args[1:] + [None, ""])[:2]
            made = c.create(
                p, _bytes(data), ephemeral="e" in (flags or ""), sequence="s" in (flags or "")
            )
            return ("ok", self.to_model(made))
        if op == "delete":
            c.delete(p, version=args[1] if len(args) > 1 else -1)
            return ("ok", None)
        if op == "set":
            st = c.set(p, _bytes(args[1]), version=args[2] if len(args) > 2 else -1)
            return ("ok", _kstat(st))
        if op == "get":
            data, st = c.get(p)
            return ("ok", (_text(data), _kstat(st)))
        if op == "exists":
            st = c.exists(p)
            return ("ok", None if st is None else _kstat(st))
        if op == "children":
            return ("ok", sorted(c.get_children(p)))
        raise ValueError(f"unknown command {op!r}")

    def watch(self, c: Any, label: str, how: str, path: str) -> tuple:
        def fired(event: Any) -> None:
            kind = _EVENT.get(event.type, event.type)
            with self.lock:
                self.events.append((label, kind, self.to_model(event.path)))

        if how == "get":
            data, st = c.get(path, watch=fired)
            return ("ok", (_text(data), _kstat(st)))
        if how == "exists":
            st = c.exists(path, watch=fired)
            return ("ok", None if st is None else _kstat(st))
        return ("ok", sorted(c.get_children(path, watch=fired)))

    def expire(self, c: Any) -> tuple:
        """Force expiry: a second handle resumes the session and closes it (the classic way to
        expire a ZooKeeper session in a test); the server then refuses the session for good."""
        session_id, password = c.client_id
        twin = self.KazooClient(hosts=self.server.hosts, client_id=(session_id, password))
        twin.start(timeout=10)
        twin.stop()
        twin.close()
        return ("ok", None)


_EVENT = {"CREATED": "created", "DELETED": "deleted", "CHANGED": "changed", "CHILD": "children"}


def _code(exc: Exception) -> str:
    from kazoo import exceptions as k

    codes = {
        k.NoNodeError: "no_node",
        k.NodeExistsError: "node_exists",
        k.BadVersionError: "bad_version",
        k.NotEmptyError: "not_empty",
        k.NoChildrenForEphemeralsError: "no_children_for_ephemerals",
        k.SessionExpiredError: "session_expired",
    }
    for cls, code in codes.items():
        if isinstance(exc, cls):
            return code
    return type(exc).__name__


def _bytes(data: Any) -> bytes:
    return b"" if data is None else str(data).encode()


def _text(data: bytes) -> Any:
    return data.decode() if data else None


def _kstat(st: Any) -> tuple:
    return _stat(st.version, st.cversion, st.numChildren, st.ephemeralOwner)


def run_both(zookeeper: ZooKeeperServer, script: list[tuple[str, tuple]]) -> tuple[list, list]:
    """Run ``script`` (steps ``(client, command)``) on both; per step: the result and the watch
    events that fired during it (sorted)."""
    model, real = ModelZk(), RealZk(zookeeper)
    outs: list[list] = [[], []]
    try:
        for who, cmd in script:
            for i, backend in enumerate((model, real)):
                seen = len(backend.events)
                res = backend.do(who, cmd)
                outs[i].append((who, cmd, res, sorted(backend.events[seen:])))
    finally:
        real.close()
    return outs[0], outs[1]


def assert_same(model: list, real: list) -> None:
    for m, r in zip(model, real, strict=True):
        assert m == r, f"model and ZooKeeper differ at {m[1]}:\n  model: {m[2:]}\n  real:  {r[2:]}"


# -- the scripts ----------------------------------------------------------------------------
A = "a"
B = "b"


def test_sequential_suffixes_count_creations_and_cversion_counts_deletions_too(zookeeper):
    script = [
        (A, ("create", "/r", "root")),
        (A, ("create", "/r/q", None)),
        (A, ("create", "/r/q/n-", "x", "s")),
        (A, ("delete", "/r/q/n-0000000000")),
        (A, ("create", "/r/q/n-", "y", "s")),
        (A, ("exists", "/r/q")),
        (A, ("create", "/r/q/plain", None)),
        (A, ("delete", "/r/q/plain")),
        (A, ("create", "/r/q/n-", "z", "es")),
        (A, ("children", "/r/q")),
        (A, ("get", "/r/q")),
    ]
    model, real = run_both(zookeeper, script)
    assert_same(model, real)
    assert real[4][2] == ("ok", "/r/q/n-0000000001")  # not ...02: deletions do not count


def test_versions_and_errors_match(zookeeper):
    script = [
        (A, ("create", "/r", None)),
        (A, ("create", "/r/a", "1")),
        (A, ("create", "/r/a", "again")),
        (A, ("set", "/r/a", "2", 0)),
        (A, ("set", "/r/a", "3", 0)),
        (A, ("get", "/r/a")),
        (A, ("delete", "/r/a", 5)),
        (A, ("create", "/r/a/b", None)),
        (A, ("delete", "/r/a")),
        (A, ("create", "/r/missing/x", None)),
        (A, ("children", "/r/missing")),
        (A, ("get", "/r/missing")),
        (A, ("exists", "/r/missing")),
        (A, ("create", "/r/e", "eph", "e")),
        (A, ("create", "/r/e/child", None)),
        (A, ("get", "/r/e")),
        (A, ("delete", "/r/a/b", 0)),
        (A, ("delete", "/r/a", 1)),
        (A, ("delete", "/r/a")),
        (A, ("set", "/r/a", "x")),
    ]
    model, real = run_both(zookeeper, script)
    assert_same(model, real)


def test_data_and_child_watches_fire_separately_and_once(zookeeper):
    script = [
        (A, ("create", "/r", None)),
        (A, ("create", "/r/w", "0")),
        (B, ("watch", "data", "get", "/r/w")),
        (B, ("watch", "kids", "children", "/r/w")),
        (B, ("watch", "born", "exists", "/r/later")),
        (A, ("set", "/r/w", "1")),  # only the data watch
        (A, ("set", "/r/w", "2")),  # nothing: it was one-shot
        (A, ("create", "/r/w/c", None)),  # only the child watch
        (A, ("create", "/r/later", None)),  # the exists watch on a missing node
        (B, ("watch", "data2", "exists", "/r/w")),
        (B, ("watch", "kids2", "children", "/r/w")),
        (A, ("delete", "/r/w/c")),  # child watch of /r/w
        (A, ("delete", "/r/w")),  # the data watch hears of the deletion
        (A, ("watch", "own", "get", "/r/later")),  # a client's own change notifies it too
        (A, ("set", "/r/later", "x")),
        (B, ("watch", "d3", "get", "/r/later")),
        (B, ("watch", "k3", "children", "/r/later")),
        (A, ("delete", "/r/later")),  # both kinds hear of the deletion
    ]
    model, real = run_both(zookeeper, script)
    assert_same(model, real)
    fired = [e for step in real for e in step[3]]
    assert ("data", "changed", "/r/w") in fired and ("kids", "children", "/r/w") in fired


def test_session_expiry_deletes_ephemerals_notifies_watchers_and_fails_every_request(zookeeper):
    script = [
        (A, ("create", "/r", None)),
        (A, ("create", "/r/workers", None)),
        (A, ("create", "/r/workers/a", "host-a", "e")),
        (A, ("create", "/r/workers/seq-", None, "es")),
        (B, ("watch", "member", "exists", "/r/workers/a")),
        (B, ("watch", "group", "children", "/r/workers")),
        (A, ("expire",)),
        (A, ("get", "/r/workers")),
        (A, ("create", "/r/workers/b", None)),
        (A, ("set", "/r/workers", "x")),
        (B, ("children", "/r/workers")),
        (B, ("exists", "/r/workers/a")),
    ]
    model, real = run_both(zookeeper, script)
    assert_same(model, real)
    assert [s[2] for s in real[7:10]] == [("error", "session_expired")] * 3


# -- the lock recipe, unchanged, on real ZooKeeper ------------------------------------------
class Signal:
    """A watch's event for the recipe to ``yield``: set from kazoo's callback thread."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self.value: Any = None

    @property
    def triggered(self) -> bool:
        return self._done.is_set()

    def set(self, value: Any) -> None:
        self.value = value
        self._done.set()

    def wait(self, timeout_s: float) -> Any:
        assert self._done.wait(timeout_s), "a watch never fired"
        return self.value


class KazooRecipeClient:
    """The recipe interface of :class:`dslab.zk.ZkClient` (``RecipeClient``) over kazoo. Its
    operations are generators that do the call at once and return an ``RpcResult``; a watch
    comes back as a :class:`Signal`, which :func:`drive` waits for when the recipe yields it."""

    def __init__(self, zk: Any, name: str) -> None:
        self.zk = zk
        self.name = name
        self.expired = False
        self.watches = 0

    def invoke(self, f: str, value: Any = None) -> tuple:
        return (self.name, f, value)

    def complete(self, invocation: Any, result: Any, value: Any = None) -> None:
        return None

    def _do(self, fn: Any) -> RpcResult:
        from kazoo.exceptions import KazooException

        try:
            return RpcResult("ok", fn())
        except KazooException as exc:
            if _code(exc) == "session_expired":
                self.expired = True
            return RpcResult("fail", None, _code(exc))

    def _watch(self) -> tuple[Signal, Any]:
        sig = Signal()

        def fired(event: Any) -> None:
            self.watches += 1
            sig.set(event)

        return sig, fired

    def create(self, path, data=None, *, ephemeral=False, sequential=False, record=True):
        yield from ()
        return self._do(
            lambda: self.zk.create(path, _bytes(data), ephemeral=ephemeral, sequence=sequential)
        )

    def delete(self, path, version=-1, *, record=True):
        yield from ()
        return self._do(lambda: self.zk.delete(path, version=version))

    def exists(self, path, *, watch=False, record=True):
        yield from ()
        if not watch:
            return self._do(lambda: self.zk.exists(path))
        sig, fn = self._watch()
        return self._do(lambda: self.zk.exists(path, watch=fn)), sig

    def get_children(self, path, *, watch=False, record=True):
        yield from ()
        if not watch:
            return self._do(lambda: self.zk.get_children(path))
        sig, fn = self._watch()
        return self._do(lambda: self.zk.get_children(path, watch=fn)), sig


def drive(gen: Generator, timeout_s: float = 20.0) -> Any:
    """Run a recipe generator outside the simulator: whatever it yields is a Signal to wait on."""
    value = None
    while True:
        try:
            item = gen.send(value)
        except StopIteration as stop:
            return stop.value
        value = item.wait(timeout_s)


@pytest.mark.parametrize("mode", ["predecessor", "herd"])
def test_the_books_lock_recipe_excludes_and_serves_in_sequence_order_on_real_zookeeper(
    zookeeper, mode
):
    from kazoo.client import KazooClient

    contenders = 5
    root = f"/dslab-lock-{next(_roots)}-{time.monotonic_ns()}"
    admin = KazooClient(hosts=zookeeper.hosts)
    admin.start(timeout=10)
    admin.create(root)
    inside, max_inside, order = [0], [0], []
    guard = threading.Lock()
    clients = [KazooClient(hosts=zookeeper.hosts) for _ in range(contenders)]
    for zk in clients:
        zk.start(timeout=10)
    adapters = [KazooRecipeClient(zk, f"c{i}") for i, zk in enumerate(clients)]
    start = threading.Barrier(contenders)
    errors: list[BaseException] = []

    def contender(adapter: KazooRecipeClient) -> None:
        try:
            lock = Lock(adapter, root, mode)  # the book's recipe, unchanged
            start.wait(10)
            res = drive(lock.acquire())
            assert res.ok, res
            with guard:
                inside[0] += 1
                max_inside[0] = max(max_inside[0], inside[0])
                order.append(lock.node)
            time.sleep(0.03)
            with guard:
                inside[0] -= 1
            assert drive(lock.release()).ok
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=contender, args=(a,)) for a in adapters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert not errors, errors
        assert not any(t.is_alive() for t in threads), "a contender never got the lock"
        assert max_inside[0] == 1, "two contenders held the lock at once"
        assert len(order) == contenders
        assert order == sorted(order, key=seq_of), "not served in the order of the queue"
        assert admin.get_children(root) == []
        releases = contenders - 1  # each release but the last wakes someone
        woken = sum(a.watches for a in adapters)
        if mode == "predecessor":
            assert woken <= releases, "the predecessor recipe woke more than one per release"
    finally:
        for zk in [*clients, admin]:
            zk.stop()
            zk.close()
