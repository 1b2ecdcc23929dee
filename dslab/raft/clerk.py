"""The KV service's client, for SimPy processes: finds the leader, retries, records the history.

See :mod:`dslab.raft.kv` for the protocol and the history it records.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

from dslab._validate import check_number, check_type
from dslab.raft.ops import Append, Cas, Get, Put

if TYPE_CHECKING:
    from dslab.history import Op
    from dslab.sim import Client, Sim


class Clerk:
    """A client of the KV service, for SimPy processes (``yield from clerk.get("x")``).

    Each method records one op in the history (``client.invoke`` / ``client.complete``) and
    returns its completion record (an :class:`~dslab.history.Op` with ``type`` ok / fail / info
    and ``value``).
    """

    def __init__(
        self,
        sim: Sim,
        client: Client,
        servers: Sequence[str],
        *,
        op_timeout_ms: float = 2000.0,
        attempt_timeout_ms: float = 200.0,
        retry_pause_ms: float = 10.0,
    ) -> None:
        servers = list(servers)
        if not servers:
            raise ValueError("servers=[] is not allowed; give the Clerk at least one server")
        check_number("op_timeout_ms", op_timeout_ms, min=0, min_inclusive=False)
        check_number("attempt_timeout_ms", attempt_timeout_ms, min=0, min_inclusive=False)
        check_number("retry_pause_ms", retry_pause_ms, min=0)
        self.sim = sim
        self.client = client
        self.servers = servers
        self.client_id = client.name
        self.seq = 0
        self.leader = 0  # index into servers of the server we believe leads
        self.op_timeout_ms = op_timeout_ms
        self.attempt_timeout_ms = attempt_timeout_ms
        self.retry_pause_ms = retry_pause_ms

    def __repr__(self) -> str:
        return f"Clerk({self.client_id!r}, seq={self.seq}, leader={self.servers[self.leader]!r})"

    def put(self, key: Any, value: Any) -> Generator[Any, Any, Op]:
        self.seq += 1
        op = self.client.invoke("write", [key, value])
        result = yield from self._call(Put(key, value, self.client_id, self.seq))
        return self._complete(op, result, [key, value])

    def append(self, key: Any, value: str) -> Generator[Any, Any, Op]:
        check_type("value", value, str)
        self.seq += 1
        op = self.client.invoke("append", [key, value])
        result = yield from self._call(Append(key, value, self.client_id, self.seq))
        return self._complete(op, result, [key, value])

    def get(self, key: Any) -> Generator[Any, Any, Op]:
        self.seq += 1
        op = self.client.invoke("read", [key, None])
        result = yield from self._call(Get(key, self.client_id, self.seq))
        return self._complete(op, result, [key, result[1]])

    def cas(self, key: Any, expected: Any, new: Any) -> Generator[Any, Any, Op]:
        self.seq += 1
        op = self.client.invoke("cas", [key, [expected, new]])
        result = yield from self._call(Cas(key, expected, new, self.client_id, self.seq))
        if result[0] == "ok" and result[1] is False:
            result = ("fail", None, "cas_mismatch")  # definite: the value was not `expected`
        return self._complete(op, result, [key, [expected, new]])

    def _complete(self, op: Op, result: tuple[str, Any, str | None], value: Any) -> Op:
        kind, _, error = result
        return self.sim.history.complete(op, kind, value, self.sim.now, error)

    def _call(self, body: Any) -> Generator[Any, Any, tuple[str, Any, str | None]]:
        """Send ``body`` until a leader executes it: ``(type, result, error)``."""
        deadline = self.sim.now + self.op_timeout_ms
        indefinite = False  # did some attempt possibly reach a leader's log?
        while (remaining := deadline - self.sim.now) > 0:
            server = self.servers[self.leader]
            reply = yield from self.client.call(
                server, body, timeout_ms=min(self.attempt_timeout_ms, remaining)
            )
            if reply.type == "ok":
                return "ok", reply.value, None
            if reply.type == "info":  # no answer: maybe down, maybe slow; try the next one
                indefinite = True
                self.leader = (self.leader + 1) % len(self.servers)
                continue
            hint = reply.value  # a definite refusal, usually with a hint of who leads
            if hint in self.servers and hint != server:
                self.leader = self.servers.index(hint)
            else:
                self.leader = (self.leader + 1) % len(self.servers)
                yield self.sim.sleep(min(self.retry_pause_ms, max(remaining, 0.0)))
        if indefinite:
            return "info", None, "timeout"
        return "fail", None, "no_leader"
