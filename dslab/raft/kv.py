"""A linearizable key-value service on Raft (6.5840's kvraft), and the client that talks to it.

Server: :class:`KVServer` is a :class:`~dslab.raft.node.RaftNode` whose state machine is a map.

- A client request (``Request(id, op)``, ``op`` one of :class:`Put`, :class:`Append`,
  :class:`Get`, :class:`Cas`) goes through the log, reads included: the leader proposes it with
  ``start`` and answers ``Response(id, ok=True, body=result)`` once it has applied the op. A read
  is linearizable because it is ordered in the log with the writes, and a deposed leader cannot
  commit it. (The paper's §8 ReadIndex would answer reads without a log entry; this service keeps
  to the simplest correct way.)
- A server that is not the leader answers at once ``Response(id, ok=False, error="not_leader",
  body=leader_hint)``: a definite failure, since it proposed nothing. When a server applies the
  index where it had put a request and finds another command there, that proposal is dead (the
  index is committed with something else, and entries never move), so it answers
  ``not_leader`` too. Nothing else is definite: an entry truncated from this server's log may
  still be committed from another server's copy. So in every other case (crash, lost
  leadership, partition, a snapshot that skipped the index) the client hears nothing and times
  out: an indefinite outcome.
- Duplicate detection: every op carries its client's ``client_id`` and a per-client sequence
  number ``seq``. The state machine remembers, per client, the last ``seq`` it executed and the
  result, so a retried op (same ``client_id``, ``seq``) is executed once, and a retry gets the
  first execution's result. The table is part of the snapshot.
- Log compaction: with ``maxraftstate`` set, the server snapshots its state (the map and the
  duplicate table) whenever its persisted Raft state reaches ``maxraftstate`` bytes.

Client: :class:`Clerk` is used from SimPy processes (``op = yield from clerk.put("x", 1)``). It
finds the leader, retries an op with the same ``(client_id, seq)`` across leaders and timeouts,
and records every op in the history in Jepsen's vocabulary for :func:`dslab.check.linearizable`
with ``model="kv"``:

========== ======================== ===================================================
op         history ``f`` and value  completion
========== ======================== ===================================================
put        write ``[k, v]``         ok; info if it gave up
get        read ``[k, None]``       ok ``[k, value_read]``; info if it gave up
cas        cas ``[k, [old, new]]``  ok if it swapped; fail if the value was not ``old``
append     append ``[k, v]``        ok; info if it gave up (not in the ``kv`` model)
========== ======================== ===================================================

A Clerk gives up after ``op_timeout_ms`` with ``info`` (the op may still happen), or with
``fail`` only if every attempt was definitely refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dslab._validate import check_number
from dslab.core import Context, Request, Response
from dslab.raft.clerk import Clerk
from dslab.raft.config import RaftConfig
from dslab.raft.node import LEADER, RaftNode
from dslab.raft.ops import KV_OPS, Append, Cas, Get, Put

__all__ = ["KV_OPS", "Append", "Cas", "Clerk", "Get", "KVServer", "Put"]


class KVServer(RaftNode):
    """A replicated map: each op is a Raft log entry, executed in log order on every server."""

    def __init__(
        self,
        config: RaftConfig | None = None,
        *,
        maxraftstate: int | None = None,
        peers: Iterable[str] | None = None,
    ) -> None:
        super().__init__(config, peers=peers)
        if maxraftstate is not None:
            check_number("maxraftstate", maxraftstate, min=1, integer=True)
        self.maxraftstate = maxraftstate
        self.data: dict[Any, Any] = {}
        # Duplicate detection: client_id -> (seq of its last executed op, that op's result).
        self.sessions: dict[str, tuple[int, Any]] = {}
        # Requests this server proposed and still owes an answer: index -> [(client, id, op)]
        # (a list: after a change of leadership the same index may be proposed again).
        self.pending: dict[int, list[tuple[str, int, Any]]] = {}

    # -- clients --------------------------------------------------------------------------------
    def on_request(self, ctx: Context, src: str, req: Request) -> None:
        op = req.body
        if not isinstance(op, KV_OPS):
            ctx.send(src, Response(req.id, ok=False, error="bad_request"))
            return
        # SOLUTION: a non-leader refuses definitely (not_leader, with its leader hint); a
        # duplicate of the client's last executed op gets its recorded result at once; anything
        # newer is proposed with start() and remembered in self.pending until it is applied.
        if self.role != LEADER:
            ctx.send(src, Response(req.id, ok=False, error="not_leader", body=self.leader_id))
            return
        last = self.sessions.get(op.client_id)
        if last is not None and op.seq <= last[0]:
            if op.seq == last[0]:  # already executed: answer with the first result
                ctx.send(src, Response(req.id, ok=True, body=last[1]))
            return  # an older op: its client has moved on and is not listening
        index, _, _ = self.start(ctx, op)
        self.pending.setdefault(index, []).append((src, req.id, op))
        # END SOLUTION

    # -- the state machine -----------------------------------------------------------------------
    def apply(self, ctx: Context, index: int, command: Any) -> None:
        # SOLUTION: execute the committed command, then answer every request proposed at this
        # index: ok with the result if it is the command applied, else a definite not_leader;
        # snapshot when the Raft state reaches maxraftstate.
        result = self.execute(command)
        for src, rid, op in self.pending.pop(index, []):
            if op == command:
                ctx.send(src, Response(rid, ok=True, body=result))
            else:  # another command won this index: that proposal can never commit
                ctx.send(src, Response(rid, ok=False, error="not_leader", body=self.leader_id))
        if self.maxraftstate is not None and self.raft_state_size() >= self.maxraftstate:
            self.snapshot(ctx, index, self.snapshot_state())
        # END SOLUTION

    def execute(self, op: Any) -> Any:
        """Run ``op`` once: a duplicate (same client, old seq) gets the recorded result."""
        # SOLUTION: the duplicate table (client_id -> (seq, result)) makes every op run once;
        # then Put, Append, Get and Cas on self.data, recording the result in the table.
        last = self.sessions.get(op.client_id)
        if last is not None and op.seq <= last[0]:
            return last[1] if op.seq == last[0] else None
        result = None
        if isinstance(op, Put):
            self.data[op.key] = op.value
        elif isinstance(op, Append):
            self.data[op.key] = self.data.get(op.key, "") + op.value
        elif isinstance(op, Get):
            result = self.data.get(op.key)
        elif isinstance(op, Cas):
            result = self.data.get(op.key) == op.expected
            if result:
                self.data[op.key] = op.new
        self.sessions[op.client_id] = (op.seq, result)
        return result
        # END SOLUTION

    def snapshot_state(self) -> Any:
        return {"data": dict(self.data), "sessions": dict(self.sessions)}

    def restore_snapshot(self, data: Any) -> None:
        self.data = dict(data["data"]) if data else {}
        self.sessions = dict(data["sessions"]) if data else {}
        # Proposals the snapshot covers were decided without us seeing them: their clients
        # will time out and retry (the duplicate table gives them the right answer).
        covered = self.log.snapshot_index
        self.pending = {i: p for i, p in self.pending.items() if i > covered}
