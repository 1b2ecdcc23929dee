"""Handlers and scenarios shared by the simulator tests.

- :class:`Scripted` logs everything it handles as history events (so what a node saw survives its
  crash) and obeys small command messages (set or cancel a timer, write storage), which lets a test
  drive a node from outside at precise times.
- :class:`RpcServer` answers client requests: ok, a definite failure, late, or never.
- :func:`run_scenario` is the nontrivial run the determinism tests replay: five replicas of a toy
  gossiping key-value store, random latency, loss, duplication, partitions, crashes, pauses, clock
  drift and jumps, and a client workload. Run as a script, it prints the run's history as JSON:
  ``python tests/scenarios.py SEED`` (the determinism test runs it under other PYTHONHASHSEEDs).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from dslab.core import Context, Handler, Request, Response
from dslab.sim import LogNormal, Sim


# --- messages ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Ping:
    seq: int


@dataclass(frozen=True, slots=True)
class SetT:
    """Command: set timer ``name`` for ``delay_ms`` (local ms)."""

    name: str
    delay_ms: float


@dataclass(frozen=True, slots=True)
class CancelT:
    """Command: cancel timer ``name``."""

    name: str


@dataclass(frozen=True, slots=True)
class Write:
    """Command: write ``value`` under ``key`` in durable storage and in volatile state."""

    key: str
    value: int


@dataclass(frozen=True, slots=True)
class Ask:
    """An RPC body for :class:`RpcServer`: ``mode`` is ok, fail, late or ignore."""

    mode: str
    late_ms: float = 0.0


# --- handlers ---------------------------------------------------------------------------------
class Scripted(Handler):
    """Logs ``start`` / ``recv`` / ``timer`` events with its local clock; obeys commands."""

    def __init__(self, timers: dict[str, float] | None = None) -> None:
        self.timers = dict(timers or {})

    def on_start(self, ctx: Context) -> None:
        self.volatile: dict[str, int] = {}
        ctx.log("start", local=ctx.now(), storage={k: ctx.storage[k] for k in ctx.storage})
        for name, delay in sorted(self.timers.items()):
            ctx.set_timer(name, delay)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        ctx.log("recv", src=src, msg=repr(msg), local=ctx.now())
        if isinstance(msg, SetT):
            ctx.set_timer(msg.name, msg.delay_ms)
        elif isinstance(msg, CancelT):
            ctx.cancel_timer(msg.name)
        elif isinstance(msg, Write):
            self.volatile[msg.key] = msg.value
            ctx.storage[msg.key] = msg.value

    def on_timer(self, ctx: Context, name: str) -> None:
        ctx.log("timer", name=name, local=ctx.now())


class RpcServer(Handler):
    """Answers :class:`Ask` requests: at once (ok / fail), after ``late_ms``, or never."""

    def on_start(self, ctx: Context) -> None:
        self.pending: dict[str, tuple[str, int]] = {}

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if not isinstance(msg, Request):
            return
        ask = msg.body
        if ask.mode == "ok":
            ctx.send(src, Response(msg.id, ok=True, body=("done", msg.id)))
        elif ask.mode == "fail":
            ctx.send(src, Response(msg.id, ok=False, error="not_leader"))
        elif ask.mode == "late":
            timer = f"reply/{msg.id}"
            self.pending[timer] = (src, msg.id)
            ctx.set_timer(timer, ask.late_ms)

    def on_timer(self, ctx: Context, name: str) -> None:
        src, rid = self.pending.pop(name)
        ctx.send(src, Response(rid, ok=True, body=("late", rid)))


# --- helpers ----------------------------------------------------------------------------------
def events(sim: Sim, node: str | None = None, name: str | None = None) -> list[Any]:
    """History events, optionally only those of ``node`` and/or named ``name``."""
    return [
        e
        for e in sim.history.events
        if (node is None or e.node == node) and (name is None or e.name == name)
    ]


def at(sim: Sim, t: float, fn: Callable[[], Any]) -> None:
    """Call ``fn()`` at simulated time ``t`` (from a process, as a workload would)."""

    def proc() -> Generator[Any, Any, None]:
        yield sim.sleep(t - sim.now)
        fn()

    sim.process(proc())


# --- the determinism scenario -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Put:
    key: str
    value: int


@dataclass(frozen=True, slots=True)
class Get:
    key: str


@dataclass(frozen=True, slots=True)
class Gossip:
    key: str
    value: int


@dataclass(frozen=True, slots=True)
class Heartbeat:
    beat: int
    peers: frozenset[str]  # a set in a message: its repr order depends on PYTHONHASHSEED


class GossipKV(Handler):
    """A toy replicated store: a put is persisted, acknowledged and gossiped to every peer;
    heartbeats with random jitter; some requests are refused (a definite failure)."""

    def on_start(self, ctx: Context) -> None:
        self.kv: dict[str, int] = ctx.storage.get("kv", {})
        self.beats = 0
        self.last_heard: dict[str, float] = {}
        ctx.set_timer("heartbeat", 15.0 + 10.0 * ctx.rng.random())
        ctx.log("started", keys=sorted(self.kv), local=ctx.now())

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            if ctx.rng.random() < 0.1:
                ctx.send(src, Response(msg.id, ok=False, error="busy"))
                return
            body = msg.body
            if isinstance(body, Put):
                self.kv[body.key] = body.value
                ctx.storage["kv"] = self.kv
                for peer in ctx.peers:
                    ctx.send(peer, Gossip(body.key, body.value))
                ctx.send(src, Response(msg.id, ok=True, body=body.value))
            else:
                ctx.send(src, Response(msg.id, ok=True, body=self.kv.get(body.key)))
        elif isinstance(msg, Gossip):
            if self.kv.get(msg.key) != msg.value:
                self.kv[msg.key] = msg.value
                ctx.storage["kv"] = self.kv
                ctx.log("learned", key=msg.key, value=msg.value, src=src)
        elif isinstance(msg, Heartbeat):
            self.last_heard[src] = ctx.now()

    def on_timer(self, ctx: Context, name: str) -> None:
        self.beats += 1
        for peer in ctx.peers:
            ctx.send(peer, Heartbeat(self.beats, frozenset(ctx.peers)))
        ctx.set_timer("heartbeat", 15.0 + 10.0 * ctx.rng.random())
        if self.beats % 10 == 0:
            ctx.log("beat", n=self.beats, local=ctx.now(), heard=sorted(self.last_heard))


NODES = ("n1", "n2", "n3", "n4", "n5")


def _workload(sim: Sim, client_name: str, rng: Any, until: float) -> Generator[Any, Any, None]:
    client = sim.clients[client_name]
    while sim.now < until:
        key = rng.choice(("x", "y", "z"))
        node = rng.choice(NODES)
        if rng.random() < 0.5:
            inv = client.invoke("write", (key, rng.randrange(100)))
            body: Any = Put(key, inv.value[1])
        else:
            inv = client.invoke("read", key)
            body = Get(key)
        result = yield from client.call(node, body, timeout_ms=40.0)
        client.complete(inv, result)
        yield sim.sleep(rng.uniform(1.0, 20.0))


def run_scenario(seed: int, until_ms: float = 1500.0) -> Sim:
    """The determinism scenario: every source of randomness and every fault verb at once."""
    sim = Sim(seed, latency=LogNormal(median_ms=3.0, sigma=0.8), loss=0.03, duplicate=0.03)
    for i, name in enumerate(NODES):
        sim.add_node(name, GossipKV, clock_drift=0.01 * (i - 2))
    for name in ("c1", "c2", "c3"):
        sim.add_client(name)
    workload = sim.stream("workload")
    for name in ("c1", "c2", "c3"):
        sim.process(_workload(sim, name, workload, until_ms - 100.0))
    sim.net.configure(src="n5", latency=LogNormal(median_ms=8.0, sigma=1.0), loss=0.1)
    sim.partition(["n1", "n2"], ["n3", "n4", "n5"], at=200.0)
    sim.heal(at=400.0)
    sim.partition_oneway(["n1"], ["n2", "n3"], at=450.0)
    sim.crash("n3", at=500.0)
    sim.restart("n3", at=650.0)
    sim.pause("n2", 80.0, at=700.0)
    sim.isolate("n4", at=800.0)
    sim.reconnect("n4", at=900.0)
    sim.cut("n1", "n5", at=950.0)
    sim.bridge(["n1", "n2"], "n3", ["n4", "n5"], at=1000.0)
    sim.clock_drift("n1", 0.2, at=1050.0)
    sim.clock_jump("n2", -30.0, at=1100.0)
    sim.clock_offset("n4", 12.5, at=1150.0)
    sim.heal(at=1200.0)
    sim.crash("n5", at=1250.0)
    sim.run(until=until_ms)
    return sim


def scenario_json(seed: int) -> str:
    return run_scenario(seed).history.to_json()


if __name__ == "__main__":  # pragma: no cover - run by the determinism test in a subprocess
    sys.stdout.write(scenario_json(int(sys.argv[1])))
