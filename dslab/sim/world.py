"""The world: one ``Sim`` owns the clock, random streams, network, nodes and history.

Rules:

- Simulated time is a float in milliseconds (``sim.now``). Only the simulator, checkers and plots
  read it; a node reads its own ``LocalClock`` through its context.
- Server nodes run :class:`dslab.core.Handler` objects. The runtime calls a handler, takes the
  effects it recorded and applies them: sends go to the network, timers become SimPy timeouts
  tagged with a generation number (a stale firing, after a cancel, a reset or a crash, is ignored).
- Clients and fault schedules are SimPy generator processes (``sim.process``); ``Client.call``
  sends a :class:`~dslab.core.Request` and returns an :class:`RpcResult`: ``ok``, a definite
  ``fail``, or an indefinite ``info`` on timeout. A reply that arrives after its call timed out is
  discarded (SimPy's "message or timeout" trap cannot happen: there is no shared mailbox).
- Fault verbs (``partition``, ``heal``, ``crash``, ``restart``, ``pause``, ``clock_jump``...) act
  now, or at simulated time ``at=``. Each is recorded in the history when it takes effect.
- A crash drops the handler (volatile state), its timers and anything queued; durable
  ``Storage`` survives and the restarted handler finds it.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import simpy
from simpy.events import NORMAL

from dslab._validate import check_number, check_seed, check_type
from dslab.core import (
    CancelTimer,
    Context,
    Handler,
    Log,
    Request,
    Response,
    Send,
    SetTimer,
    Storage,
)
from dslab.history import RECV_TIME, STATUS, History, Op
from dslab.sim.clock import LocalClock
from dslab.sim.latency import Latency, Uniform
from dslab.sim.network import Arrival, Network
from dslab.sim.rng import stream

HandlerFactory = Callable[[], Handler]
DEFAULT_LATENCY = Uniform(1.0, 2.0)


@contextmanager
def _fewer_gc_pauses(gen0: int = 100_000) -> Iterator[None]:
    """Raise the young-generation GC threshold while the simulation runs, then restore it.

    A run allocates one journal record and one SimPy event per message and frees few of them, so
    CPython's default collector (every 700 allocations) rescans the growing journal again and
    again: about 15% of a message-heavy run. Collections still happen, just less often.
    """
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], gen0), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


class HandlerError(RuntimeError):
    """A protocol handler raised: a bug in the protocol, reported with the seed that replays it."""


@dataclass(frozen=True, slots=True)
class RpcResult:
    """The outcome of one client call, in Jepsen's terms.

    ``type`` is ``"ok"`` (it happened; ``value`` is the reply), ``"fail"`` (it definitely did not
    happen; ``error`` says why) or ``"info"`` (unknown: it timed out and may still take effect).
    """

    type: str
    value: Any = None
    error: str | None = None
    latency_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.type == "ok"


class Node:
    """The runtime around one server handler: incarnations, timers, pause and crash."""

    def __init__(self, sim: Sim, name: str, factory: HandlerFactory, clock: LocalClock) -> None:
        self.sim = sim
        self.name = name
        self.factory = factory
        self.clock = clock
        self.storage = Storage()
        self._env = sim.env
        self._net = sim.net
        self.rng = sim.stream(f"node/{name}")
        self.alive = False
        self.paused = False
        self.paused_until = 0.0
        self.incarnation = 0
        self.handler: Handler | None = None
        self.ctx: Context | None = None
        self._timers: dict[str, int] = {}
        self._timer_gen = 0
        self._queued: list[tuple[str, tuple[Any, ...]]] = []

    def __repr__(self) -> str:
        state = "down" if not self.alive else ("paused" if self.paused else "up")
        return f"Node({self.name!r}, {state}, incarnation={self.incarnation})"

    # -- lifecycle -------------------------------------------------------------------------------
    def boot(self) -> None:
        self.incarnation += 1
        self.alive = True
        self.paused = False
        self._timers.clear()
        self._queued.clear()
        handler = self.factory()
        if not isinstance(handler, Handler):
            raise TypeError(
                f"the factory of node {self.name!r} returned {handler!r}; "
                "expected a dslab.core.Handler"
            )
        self.handler = handler
        peers = tuple(n for n in self.sim.node_names if n != self.name)
        self.ctx = Context(self.name, rng=self.rng, storage=self.storage, peers=peers)
        self._run("on_start", ())

    def crash(self) -> None:
        self.alive = False
        self.paused = False
        self.paused_until = 0.0  # a crash ends the pause: its end time must not outlive it
        self.handler = None
        self.ctx = None
        self._timers.clear()
        # Input queued during a pause dies with the process: journal those messages as dropped
        # (not left "in_flight" forever).
        now = self.sim.env.now
        for kind, args in self._queued:
            if kind == "on_message":
                self.sim.net._drop(args[0], "crashed", now)
        self._queued.clear()

    # -- inputs ------------------------------------------------------------------------------------
    def receive(self, rec: list[Any], src: str, msg: Any) -> None:
        if not self.alive:
            self.sim.net._drop(rec, "crashed", self.sim.env.now)
            return
        if self.paused:
            self._queued.append(("on_message", (rec, src, msg)))
            return
        # net.delivered(rec) and _run("on_message", (src, msg)), inlined: the hottest path
        now = self._env.now
        rec[STATUS] = "delivered"
        rec[RECV_TIME] = now
        self._net._delivered += 1
        ctx = self.ctx
        clock = self.clock  # clock.read(now), inlined
        ctx.local_time = clock._base_local + (now - clock._base_true) * (1.0 + clock.drift)
        try:
            self.handler.on_message(ctx, src, msg)
        except Exception as exc:
            raise self._error(exc, "on_message", (src, msg)) from exc
        if ctx.effects:
            self._apply(ctx.take_effects())

    def _fire_event(self, event: Arrival) -> None:
        self._fire(*event.value)

    def _fire(self, name: str, gen: int) -> None:
        if not self.alive or self._timers.get(name) != gen:
            return  # stale: cancelled, replaced, or the node crashed since
        if self.paused:
            self._queued.append(("on_timer", (name, gen)))
            return
        del self._timers[name]
        self._run("on_timer", (name,))

    def resume(self) -> None:
        self.paused = False
        queued, self._queued = self._queued, []
        for kind, args in queued:
            if not self.alive or self.paused:
                if self.paused:
                    self._queued.append((kind, args))
                continue
            if kind == "on_message":
                self.receive(*args)
            else:
                self._fire(*args)

    # -- running the handler ---------------------------------------------------------------------
    def _run(self, method: str, args: tuple[Any, ...]) -> None:
        ctx = self.ctx
        assert ctx is not None and self.handler is not None
        ctx.local_time = self.clock.read(self.sim.env.now)
        try:
            getattr(self.handler, method)(ctx, *args)
        except Exception as exc:
            raise self._error(exc, method, args) from exc
        if ctx.effects:
            self._apply(ctx.take_effects())

    def _error(self, exc: Exception, method: str, args: tuple[Any, ...]) -> HandlerError:
        return HandlerError(
            f"node {self.name!r} raised {type(exc).__name__}: {exc} in {method}{args!r} at "
            f"t={self.sim.env.now:.3f} ms; replay with seed={self.sim.seed}"
        )

    def _apply(self, effects: list[Any]) -> None:
        sim = self.sim
        send, name = sim.net.send, self.name
        for eff in effects:
            cls = type(eff)
            if cls is Send:
                send(name, eff.dst, eff.msg)
            elif cls is SetTimer:
                self._timer_gen += 1
                gen = self._timer_gen
                self._timers[eff.name] = gen
                sim.env.schedule(
                    Arrival(self._fire_event, (eff.name, gen)),
                    NORMAL,
                    self.clock.true_delay(eff.delay_ms),
                )
            elif cls is CancelTimer:
                self._timers.pop(eff.name, None)
            elif cls is Log:
                sim.history.event(sim.env.now, self.name, eff.name, **eff.data)
            else:
                raise TypeError(f"node {self.name!r} produced an unknown effect {eff!r}")


class Client:
    """A client endpoint: SimPy processes use it to call servers and to record operations."""

    def __init__(self, sim: Sim, name: str) -> None:
        self.sim = sim
        self.name = name
        self.alive = True
        self._next_id = 0
        self._pending: dict[int, simpy.Event] = {}

    def __repr__(self) -> str:
        return f"Client({self.name!r})"

    def receive(self, rec: list[Any], src: str, msg: Any) -> None:
        if isinstance(msg, Response) and msg.id in self._pending:
            self.sim.net.delivered(rec)
            self._pending.pop(msg.id).succeed(msg)
        else:
            self.sim.net._drop(
                rec, "stale", self.sim.env.now
            )  # a late reply to a call that already timed out

    def call(self, dst: str, body: Any, timeout_ms: float) -> Generator[Any, Any, RpcResult]:
        """Send ``body`` to ``dst`` and wait for its reply or ``timeout_ms``.

        Use as ``result = yield from client.call("n1", Put("x", 1), timeout_ms=100)``. The
        arguments are checked here, when ``call`` is called, not when the generator first runs.
        """
        self.sim._check_node("dst", dst)
        check_number("timeout_ms", timeout_ms, min=0, min_inclusive=False)
        return self._call(dst, body, timeout_ms)

    def _call(self, dst: str, body: Any, timeout_ms: float) -> Generator[Any, Any, RpcResult]:
        env = self.sim.env
        self._next_id += 1
        rid = self._next_id
        reply = env.event()
        self._pending[rid] = reply
        start = env.now
        self.sim.net.send(self.name, dst, Request(rid, body))
        timer = env.timeout(timeout_ms)
        yield env.any_of([reply, timer])
        if reply.triggered:
            resp: Response = reply.value
            if resp.ok:
                return RpcResult("ok", resp.body, None, env.now - start)
            return RpcResult("fail", resp.body, resp.error, env.now - start)
        self._pending.pop(rid, None)
        return RpcResult("info", None, "timeout", env.now - start)

    # Recording operations in the history, Jepsen style.
    def invoke(self, f: str, value: Any = None) -> Op:
        return self.sim.history.invoke(self.name, f, value, self.sim.env.now)

    def complete(self, invocation: Op, result: RpcResult | str, value: Any = None) -> Op:
        """Complete ``invocation`` with an ``RpcResult`` (or a type string and a value)."""
        if isinstance(result, RpcResult):
            return self.sim.history.complete(
                invocation,
                result.type,
                value if value is not None else result.value,
                self.sim.env.now,
                result.error,
            )
        return self.sim.history.complete(invocation, result, value, self.sim.env.now)


class Sim:
    """A deterministic world. Same ``seed`` and scenario, same history, on any machine.

    Parameters
    ----------
    seed:
        The run's seed; every random stream derives from it.
    latency:
        Default link latency: a :mod:`dslab.sim.latency` distribution or a constant in ms.
    loss, duplicate:
        Default per-message loss and duplication probabilities, in [0, 1].
    fifo:
        If True, each link delivers in send order (no reordering).
    journal:
        Keep every message in ``history.messages`` (turn off for very long benchmark runs).
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        latency: Latency | float = DEFAULT_LATENCY,
        loss: float = 0.0,
        duplicate: float = 0.0,
        fifo: bool = False,
        journal: bool = True,
    ) -> None:
        self.seed = check_seed(seed)
        self.env = simpy.Environment(initial_time=0.0)  # float ms from the start, in every record
        self.history = History(seed=seed)
        self.nodes: dict[str, Node] = {}
        self.clients: dict[str, Client] = {}
        self._endpoints: dict[str, Node | Client] = {}
        self.net = Network(
            self, latency=latency, loss=loss, duplicate=duplicate, fifo=fifo, journal=journal
        )

    def __repr__(self) -> str:
        return (
            f"Sim(seed={self.seed}, now={self.now:.3f}ms, nodes={self.node_names}, "
            f"clients={sorted(self.clients)})"
        )

    # -- basics ------------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        """True simulated time in ms."""
        return self.env.now

    @property
    def node_names(self) -> list[str]:
        return list(self.nodes)

    def stream(self, name: str) -> random.Random:
        """The named random stream ``name`` of this run (fresh object, same sequence every run)."""
        check_type("name", name, str)
        return stream(self.seed, name)

    def add_node(
        self,
        name: str,
        factory: HandlerFactory,
        *,
        clock_offset_ms: float = 0.0,
        clock_drift: float = 0.0,
    ) -> Node:
        """Add a server node running ``factory()``; it boots at the current time."""
        self._check_new_name(name)
        if not callable(factory):
            raise TypeError(
                f"factory={factory!r} must be a callable returning a dslab.core.Handler"
            )
        node = Node(self, name, factory, LocalClock(clock_offset_ms, clock_drift))
        self.nodes[name] = node
        self._endpoints[name] = node
        ev = self.env.timeout(0)
        ev.callbacks.append(lambda _ev: node.boot())
        return node

    def add_client(self, name: str) -> Client:
        self._check_new_name(name)
        client = Client(self, name)
        self.clients[name] = client
        self._endpoints[name] = client
        return client

    def process(self, generator: Generator[Any, Any, Any]) -> simpy.Process:
        """Run a SimPy generator (a client workload or a fault schedule) in this world."""
        return self.env.process(generator)

    def sleep(self, ms: float) -> simpy.Timeout:
        """``yield sim.sleep(ms)`` inside a process."""
        check_number("ms", ms, min=0)
        return self.env.timeout(ms)

    def run(self, until: float | simpy.Event | None = None) -> None:
        """Run until simulated time ``until`` (ms), until the SimPy event or process ``until``
        has happened (say a workload's ``sim.process(...)``), or until nothing is left to do."""
        if isinstance(until, simpy.Event):
            if until.env is not self.env:
                raise ValueError(f"until={until!r} is an event of another simulation")
        elif until is not None:
            check_number("until", until, min=self.now)
            if until == self.now:
                return
        with _fewer_gc_pauses():
            self.env.run(until=until)

    def settle(self) -> None:
        """Process every event due at the current time (boots, zero-delay sends), and no more."""
        env = self.env
        with _fewer_gc_pauses():
            while env.peek() <= env.now:
                env.step()

    def call_handler(self, node: str, fn: Callable[[Handler, Context], Any]) -> Any:
        """Run ``fn(handler, ctx)`` on live ``node`` as if an input had arrived now, apply the
        effects it recorded, and return its result. For harnesses and notebooks that drive a
        core from outside, like 6.5840's ``rf.Start(command)``."""
        self._check_node("node", node)
        if not callable(fn):
            raise TypeError(f"fn={fn!r} must be callable as fn(handler, ctx)")
        n = self.nodes[node]
        if not n.alive:
            raise ValueError(f"node={node!r} is crashed; restart it before calling its handler")
        ctx = n.ctx
        ctx.local_time = n.clock.read(self.now)
        try:
            result = fn(n.handler, ctx)
        except BaseException:
            ctx.take_effects()  # a failed call leaves nothing half-done behind
            raise
        n._apply(ctx.take_effects())
        return result

    def run_for(self, ms: float) -> None:
        check_number("ms", ms, min=0)
        self.run(until=self.now + ms)

    def local_time(self, node: str) -> float:
        """What ``node``'s own clock reads now."""
        self._check_node("node", node)
        return self.nodes[node].clock.read(self.now)

    def handler(self, node: str) -> Handler | None:
        """The live handler object of ``node`` (``None`` while it is down), for inspection."""
        self._check_node("node", node)
        return self.nodes[node].handler

    # -- validation --------------------------------------------------------------------------------
    def _check_new_name(self, name: str) -> None:
        check_type("name", name, str)
        if not name:
            raise ValueError("name='' is not allowed; give the node a non-empty name")
        if name in self._endpoints:
            raise ValueError(f"name={name!r} is already used by {self._endpoints[name]!r}")

    def _check_node(self, param: str, name: Any) -> None:
        if name not in self.nodes:
            raise ValueError(
                f"{param}={name!r} is not a node of this sim; known nodes: {self.node_names}"
            )

    def _check_endpoint(self, param: str, name: Any) -> None:
        if name not in self._endpoints:
            raise ValueError(
                f"{param}={name!r} is not a node or client of this sim; "
                f"known: {sorted(self._endpoints)}"
            )

    def _check_names(self, param: str, names: Any) -> list[str]:
        if isinstance(names, str) or not isinstance(names, Iterable):
            raise TypeError(f"{param}={names!r} must be a list of node names")
        out = list(names)
        for i, n in enumerate(out):
            self._check_endpoint(f"{param}[{i}]", n)
        return out

    # -- faults ------------------------------------------------------------------------------
    def _fault(
        self, at: float | None, verb: str, args: dict[str, Any], action: Callable[[], None]
    ) -> None:
        def apply() -> None:
            action()
            self.history.fault(self.now, verb, **args)

        if at is None:
            apply()
            return
        check_number("at", at)
        if at < self.now:
            raise ValueError(
                f"at={at!r} is in the past; the sim is at {self.now} ms (use at >= now, or omit it)"
            )
        ev = self.env.timeout(at - self.now)
        ev.callbacks.append(lambda _ev: apply())

    def partition(self, *groups: Iterable[str], at: float | None = None) -> None:
        """Split the network into ``groups``; server nodes not named form one more group.

        ``sim.partition(["n1", "n2"], ["n3", "n4", "n5"])`` is a minority / majority split.
        A new partition replaces the groups of the previous one.
        """
        if not groups:
            raise ValueError("partition() needs at least one group of node names")
        lists = [self._check_names(f"groups[{i}]", g) for i, g in enumerate(groups)]
        seen: set[str] = set()
        for g in lists:
            for n in g:
                if n in seen:
                    raise ValueError(f"node {n!r} appears in more than one group of groups={lists}")
                seen.add(n)
        rest = [n for n in self.nodes if n not in seen]
        full = lists + ([rest] if rest else [])
        self._fault(
            at,
            "partition",
            {"groups": [sorted(g) for g in full]},
            lambda: self.net.set_groups(full),
        )

    def partition_oneway(
        self, srcs: Iterable[str], dsts: Iterable[str], *, at: float | None = None
    ) -> None:
        """Drop every message from a node in ``srcs`` to a node in ``dsts`` (not the reverse)."""
        a = self._check_names("srcs", srcs)
        b = self._check_names("dsts", dsts)
        self._fault(
            at,
            "partition_oneway",
            {"srcs": sorted(a), "dsts": sorted(b)},
            lambda: self.net.block_oneway(a, b),
        )

    def isolate(self, node: str, *, at: float | None = None) -> None:
        """Cut ``node`` off from every other endpoint (until ``reconnect`` or ``heal``)."""
        self._check_endpoint("node", node)
        self._fault(at, "isolate", {"node": node}, lambda: self.net.isolate(node))

    def reconnect(self, node: str, *, at: float | None = None) -> None:
        """Undo ``isolate(node)`` (other partitions stay)."""
        self._check_endpoint("node", node)
        self._fault(at, "reconnect", {"node": node}, lambda: self.net.reconnect(node))

    def cut(self, a: str, b: str, *, oneway: bool = False, at: float | None = None) -> None:
        """Cut the link between ``a`` and ``b`` (only ``a -> b`` if ``oneway``)."""
        self._check_endpoint("a", a)
        self._check_endpoint("b", b)
        check_type("oneway", oneway, bool)
        self._fault(
            at, "cut", {"a": a, "b": b, "oneway": oneway}, lambda: self.net.cut(a, b, oneway)
        )

    def bridge(
        self,
        left: Iterable[str],
        bridge_node: str,
        right: Iterable[str],
        *,
        at: float | None = None,
    ) -> None:
        """``left`` and ``right`` cannot talk to each other; ``bridge_node`` talks to both."""
        lft = self._check_names("left", left)
        rgt = self._check_names("right", right)
        self._check_endpoint("bridge_node", bridge_node)
        if bridge_node in lft or bridge_node in rgt:
            raise ValueError(f"bridge_node={bridge_node!r} must not also be in left or right")

        def action() -> None:
            self.net.block_oneway(lft, rgt)
            self.net.block_oneway(rgt, lft)

        self._fault(
            at, "bridge", {"left": sorted(lft), "bridge": bridge_node, "right": sorted(rgt)}, action
        )

    def heal(self, *, at: float | None = None) -> None:
        """Remove every partition, one-way block, cut link and isolation."""
        self._fault(at, "heal", {}, self.net.heal)

    def crash(self, node: str, *, at: float | None = None) -> None:
        """Stop ``node``: volatile state, timers and queued input are lost; storage survives."""
        self._check_node("node", node)

        def action() -> None:
            n = self.nodes[node]
            if n.alive:
                n.crash()

        self._fault(at, "crash", {"node": node}, action)

    def restart(self, node: str, *, at: float | None = None) -> None:
        """Boot a fresh handler on ``node`` with its durable storage (crashing it first if up)."""
        self._check_node("node", node)

        def action() -> None:
            n = self.nodes[node]
            if n.alive:
                n.crash()
            n.boot()

        self._fault(at, "restart", {"node": node}, action)

    def pause(self, node: str, duration_ms: float, *, at: float | None = None) -> None:
        """Stop the world on ``node`` for ``duration_ms`` (a GC pause): it handles nothing, its
        clock keeps running, and what arrives meanwhile is handled, in order, when it resumes."""
        self._check_node("node", node)
        check_number("duration_ms", duration_ms, min=0)

        def action() -> None:
            n = self.nodes[node]
            if not n.alive:
                return
            n.paused = True
            n.paused_until = max(n.paused_until, self.now + duration_ms)
            inc = n.incarnation

            def maybe_resume(_ev: Any) -> None:
                # a later, longer pause keeps the node stopped; a crash ends the pause anyway
                if n.alive and n.incarnation == inc and n.paused and self.now >= n.paused_until:
                    n.resume()

            self.env.timeout(duration_ms).callbacks.append(maybe_resume)

        self._fault(at, "pause", {"node": node, "duration_ms": duration_ms}, action)

    def clock_offset(self, node: str, offset_ms: float, *, at: float | None = None) -> None:
        """Make ``node``'s clock read true time plus ``offset_ms`` from now on."""
        self._check_node("node", node)
        check_number("offset_ms", offset_ms)
        self._fault(
            at,
            "clock_offset",
            {"node": node, "offset_ms": offset_ms},
            lambda: self.nodes[node].clock.set_offset(self.now, offset_ms),
        )

    def clock_drift(self, node: str, drift: float, *, at: float | None = None) -> None:
        """Make ``node``'s clock run at ``1 + drift`` times true speed (e.g. 0.01 = 1% fast)."""
        self._check_node("node", node)
        check_number("drift", drift, min=-0.5, max=0.5)
        self._fault(
            at,
            "clock_drift",
            {"node": node, "drift": drift},
            lambda: self.nodes[node].clock.set_drift(self.now, drift),
        )

    def clock_jump(self, node: str, delta_ms: float, *, at: float | None = None) -> None:
        """Step ``node``'s clock by ``delta_ms`` (negative: backwards). Pending timers keep their
        durations, like timers on a monotonic clock; code that compares ``ctx.now()`` with a
        deadline sees the jump."""
        self._check_node("node", node)
        check_number("delta_ms", delta_ms)
        self._fault(
            at,
            "clock_jump",
            {"node": node, "delta_ms": delta_ms},
            lambda: self.nodes[node].clock.jump(self.now, delta_ms),
        )
