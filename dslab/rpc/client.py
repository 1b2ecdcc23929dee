"""The client side of one RPC: proxy -> filters -> serialize -> connection -> network -> reply.

Rules (the notes' 执行过程, steps 1-5 and 13-15):

1. The :class:`~dslab.rpc.interface.Stub` turns a method call into a :class:`Call`.
2. The call passes the client filters in order (:mod:`dslab.rpc.filters`).
3. The transport serializes the arguments (costs ``codec.cost_ms``), takes a connection to the
   chosen server from the bounded pool (waiting if all are busy; ``pool_timeout`` if it waits
   longer than ``acquire_timeout_ms``: a definite failure, nothing was sent), sends the request
   (a fresh envelope id per attempt, the same ``call_id`` on every retry) and waits up to
   ``timeout_ms``. With ``corrupt_prob`` a request may have one bit flipped on the wire (see
   :mod:`dslab.rpc.pipeline` for the checksum that catches it).
4. A reply is handed to a client thread (bounded pool), deserialized, and returned. A timeout
   returns ``info``: the request may still be running on the server.

``call.timing`` records the stages of the last attempt, in true ms: ``serialize``, ``pool_wait``,
``network`` (both directions), ``server_queue``, ``service``, ``reply`` (thread + deserialize).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_number, check_probability, check_type
from dslab.rpc.codec import Codec, SchemaMismatch
from dslab.rpc.interface import Service, Stub
from dslab.rpc.messages import Invocation, Reply
from dslab.rpc.pipeline import flip_bit
from dslab.rpc.pool import ConnectionPool, ThreadPool
from dslab.sim.world import RpcResult, Sim

STAGES = ("serialize", "pool_wait", "network", "server_queue", "service", "reply")


@dataclass(frozen=True)
class Call:
    """One logical call as the filters see it (client-side only; never sent as such)."""

    iface: type[Service]
    method: str
    args: dict[str, Any]
    idempotent: bool
    call_id: str
    node: str | None = None
    timeout_ms: float = 1000.0
    attempt: int = 1
    headers: tuple[tuple[str, str], ...] = ()
    timing: dict[str, float] = field(default_factory=dict, compare=False)


class RpcClient:
    """An RPC client endpoint on ``sim``: a :class:`~dslab.sim.Client` plus pools and filters."""

    def __init__(
        self,
        sim: Sim,
        name: str,
        servers: Sequence[str],
        *,
        filters: Sequence[Any] = (),
        codec: Codec | None = None,
        connections_per_server: int = 4,
        acquire_timeout_ms: float | None = None,
        threads: int = 4,
        dispatch_ms: float = 0.02,
        timeout_ms: float = 1000.0,
        corrupt_prob: float = 0.0,
    ) -> None:
        check_type("sim", sim, Sim)
        if isinstance(servers, str) or not servers:
            raise ValueError(f"servers={servers!r} must be a non-empty list of node names")
        for i, s in enumerate(servers):
            sim._check_node(f"servers[{i}]", s)
        self.sim = sim
        self.env = sim.env
        self.name = name
        self.endpoint = sim.add_client(name)
        self.servers = list(servers)
        self.filters = list(filters)
        self.codec = codec if codec is not None else Codec()
        self.connections = ConnectionPool(sim.env, connections_per_server, acquire_timeout_ms)
        self.threads = ThreadPool(sim.env, threads, dispatch_ms)
        self.timeout_ms = check_number("timeout_ms", timeout_ms, min=0, min_inclusive=False)
        self.rng = sim.stream(f"rpc-client/{name}")
        #: chance that one bit of a request's bytes flips on the wire (a noisy link; 0 = never)
        self.corrupt_prob = check_probability("corrupt_prob", corrupt_prob)
        self.corrupted = 0
        self.calls = 0
        self.attempts = 0
        self.retries = 0
        #: one row per attempt that reached the transport: call id, attempt, outcome, stage times
        self.log: list[dict[str, Any]] = []

    def __repr__(self) -> str:
        return f"RpcClient({self.name!r}, servers={self.servers}, filters={len(self.filters)})"

    def stub(self, iface: type[Service]) -> Stub:
        """A proxy whose methods are remote calls through this client."""
        return Stub(iface, self)

    # -- the chain ---------------------------------------------------------------------------
    def invoke(
        self, iface: type[Service], method: str, args: dict[str, Any], idempotent: bool
    ) -> Generator[Any, Any, RpcResult]:
        self.calls += 1
        call = Call(
            iface,
            method,
            args,
            idempotent,
            f"{self.name}:{self.calls}",
            node=self.servers[0],
            timeout_ms=self.timeout_ms,
        )
        return self.run_chain(call)

    def run_chain(self, call: Call) -> Generator[Any, Any, RpcResult]:
        def step(i: int) -> Any:
            if i == len(self.filters):
                return self.transport
            f = self.filters[i]
            nxt = step(i + 1)
            return lambda c: f.invoke(self, c, nxt)

        return step(0)(call)

    # -- the transport -------------------------------------------------------------------------
    def transport(self, call: Call) -> Generator[Any, Any, RpcResult]:
        result = yield from self._transport(call)
        self.log.append(
            {
                "call_id": call.call_id,
                "attempt": call.attempt,
                "node": call.node,
                "type": result.type,
                "error": result.error,
                **call.timing,
            }
        )
        return result

    def _transport(self, call: Call) -> Generator[Any, Any, RpcResult]:
        env, codec, iface = self.env, self.codec, call.iface
        start = env.now
        timing = call.timing
        timing.clear()  # (the dict is shared by the copies filters make: it holds the last attempt)
        payload = codec.encode(iface.__name__, iface.version, call.args)
        yield env.timeout(codec.cost_ms(len(payload)))
        t_ser = env.now
        node = call.node
        if not (yield from self.connections.acquire(node)):
            timing.update(serialize=t_ser - start, pool_wait=env.now - t_ser)
            return RpcResult("fail", None, "pool_timeout", env.now - start)
        t_conn = env.now
        timing["sent_ms"] = t_conn
        self.attempts += 1
        if self.corrupt_prob and self.rng.random() < self.corrupt_prob:
            payload = flip_bit(payload, self.rng)
            self.corrupted += 1
        inv = Invocation(iface.__name__, call.method, payload, call.call_id, call.headers)
        try:
            res = yield from self.endpoint.call(node, inv, timeout_ms=call.timeout_ms)
        finally:
            self.connections.release(node)
        t_net = env.now
        timing.update(serialize=t_ser - start, pool_wait=t_conn - t_ser)
        if res.type == "info":
            timing["network"] = t_net - t_conn
            return RpcResult("info", None, res.error, env.now - start)
        reply = res.value
        queue_ms = reply.queue_ms if isinstance(reply, Reply) else 0.0
        service_ms = reply.service_ms if isinstance(reply, Reply) else 0.0
        timing.update(
            server_queue=queue_ms,
            service=service_ms,
            network=max(t_net - t_conn - queue_ms - service_ms, 0.0),
        )
        if res.type == "fail":
            return RpcResult("fail", None, res.error, env.now - start)
        yield from self.threads.dispatch(codec.cost_ms(len(reply.payload)))
        timing["reply"] = env.now - t_net
        try:
            value = codec.decode(reply.payload, iface.__name__, iface.version)
        except SchemaMismatch as exc:
            return RpcResult("fail", None, f"schema_mismatch: {exc}", env.now - start)
        return RpcResult("ok", value, None, env.now - start)
