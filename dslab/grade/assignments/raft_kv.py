"""Assignment ``raft-kv``: a linearizable key-value service on Raft (6.5840's kvraft).

The student writes the bodies marked ``# SOLUTION`` in :mod:`dslab.raft.kv`: how
:class:`~dslab.raft.kv.KVServer` takes a client request (refuse unless leader, answer duplicates,
propose), applies a committed command (execute, answer the waiting clients, snapshot), and the
state machine with its duplicate table. Raft itself is the package's reference
:class:`~dslab.raft.node.RaftNode`; the client is :class:`~dslab.raft.clerk.Clerk`.

Tests: unit tests through a bare :class:`~dslab.core.Context`; the KV workload of
:func:`dslab.raft.workload.run_kv` on a quiet network, then a seed sweep under the nemesis
(partitions, isolation, crashes, pauses, loss, reordering), and with snapshots. Every history is
judged by :meth:`~dslab.raft.workload.KVRun.verdicts`: linearizability (model ``kv``), Election
Safety and Log Matching.
"""

from __future__ import annotations

import random
from typing import Any

from dslab.core import Context, Request, Response, Storage
from dslab.grade.framework import Assignment, Submission, per_seed, unit
from dslab.raft.messages import AppendEntriesReply, RequestVoteReply
from dslab.raft.ops import Append, Cas, Get, Put
from dslab.raft.workload import run_kv

NAME = "raft-kv"
PEERS = ("s0", "s1", "s2")


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def boot(sub: Submission, leader: bool) -> tuple[Any, Context]:
    node = sub.cls("KVServer")()
    ctx = Context("s0", rng=random.Random(0), storage=Storage(), peers=PEERS[1:])
    node.on_start(ctx)
    if leader:
        node.become_candidate(ctx)
        for p in PEERS[1:]:
            node.on_message(ctx, p, RequestVoteReply(node.current_term, True))
        _check(node.role == "leader", "a candidate with every vote did not become leader")
    ctx.take_effects()
    return node, ctx


def responses(ctx: Context) -> list[Response]:
    return [s.msg for s in ctx.sent(Response)]


def commit(node: Any, ctx: Context, index: int) -> None:
    """Both followers acknowledge up to ``index``: the leader commits and applies it."""
    for p in PEERS[1:]:
        node.on_message(ctx, p, AppendEntriesReply(node.current_term, True, match_index=index))


# -- unit tests ------------------------------------------------------------------------------------
def follower_refuses(sub: Submission) -> None:
    """A server that is not the leader answers at once with a definite not_leader (it proposed
    nothing), so the client may try another server safely."""
    node, ctx = boot(sub, leader=False)
    node.on_message(ctx, "c1", Request(1, Put("x", 1, "c1", 1)))
    got = responses(ctx)
    _check(len(got) == 1 and not got[0].ok and got[0].error == "not_leader",
           f"replies {got}; expected one Response(ok=False, error='not_leader')")
    _check(node.log.last_index == 0, "a follower appended a client's op to its log")


def reply_after_apply(sub: Submission) -> None:
    """The leader proposes the op and answers only once it is committed and applied; a Get sees
    the Put before it in the log."""
    node, ctx = boot(sub, leader=True)
    node.on_message(ctx, "c1", Request(1, Put("x", 7, "c1", 1)))
    _check(responses(ctx) == [], "the leader answered a Put before it was committed")
    _check(node.log.last_index == 1, f"log length {node.log.last_index}; expected the Put at 1")
    commit(node, ctx, 1)
    got = responses(ctx)
    _check(len(got) == 1 and got[0].ok and got[0].id == 1, f"replies after commit: {got}")
    node.on_message(ctx, "c2", Request(5, Get("x", "c2", 1)))
    commit(node, ctx, 2)
    got = responses(ctx)
    _check(got[-1].ok and got[-1].body == 7 and got[-1].id == 5,
           f"Get after Put(x, 7) answered {got[-1]!r}; expected ok with 7")


def duplicates_run_once(sub: Submission) -> None:
    """The duplicate table: an op retried with the same (client_id, seq) is executed once, and
    the retry gets the first execution's result."""
    node, _ = boot(sub, leader=False)
    r1 = node.execute(Append("k", "a", "c1", 1))
    node.execute(Append("k", "a", "c1", 1))  # the same op, applied twice from the log
    _check(node.data.get("k") == "a", f"after a duplicated Append, k = {node.data.get('k')!r}; "
           "expected 'a'")
    _check(node.execute(Cas("k", "a", "b", "c1", 2)) is True, "Cas(a -> b) on 'a' failed")
    _check(node.execute(Cas("k", "a", "b", "c1", 2)) is True,
           "a retried Cas got a different answer than its first execution")
    _check(node.data.get("k") == "b" and r1 is None, f"k = {node.data.get('k')!r}")


def retry_gets_recorded_result(sub: Submission) -> None:
    """A request retried after its op was executed is answered from the duplicate table,
    without proposing it again."""
    node, ctx = boot(sub, leader=True)
    node.on_message(ctx, "c1", Request(1, Put("x", 1, "c1", 1)))
    commit(node, ctx, 1)
    ctx.take_effects()
    node.on_message(ctx, "c1", Request(2, Put("x", 1, "c1", 1)))
    got = responses(ctx)
    _check(len(got) == 1 and got[0].ok and got[0].id == 2, f"replies to the retry: {got}")
    _check(node.log.last_index == 1, "the retry was proposed again")


def lost_index_fails_definitely(sub: Submission) -> None:
    """If another command is applied at the index where a request was proposed, that proposal
    can never commit: its client gets a definite not_leader."""
    node, ctx = boot(sub, leader=True)
    node.on_message(ctx, "c1", Request(3, Put("x", 1, "c1", 1)))
    ctx.take_effects()
    node.apply(ctx, 1, Put("x", 2, "c9", 1))  # another leader's entry won index 1
    got = responses(ctx)
    _check(len(got) == 1 and not got[0].ok and got[0].error == "not_leader" and got[0].id == 3,
           f"replies {got}; expected a definite not_leader for request 3")


# -- runs on the simulator ------------------------------------------------------------------------
def quiet(sub: Submission, seed: int) -> tuple[list, Any]:
    """The KV workload (4 clerks, reads, writes, cas) on 5 servers, without faults."""
    run = run_kv(seed, faults=(), loss=0.0, duration_ms=1500.0, server_cls=sub.cls("KVServer"))
    return _judge(run)


def nemesis(sub: Submission, seed: int) -> tuple[list, Any]:
    """Seed sweep with faults: partitions, isolation, crashes, pauses, 5% loss, reordering."""
    run = run_kv(seed, duration_ms=2500.0, server_cls=sub.cls("KVServer"))
    return _judge(run)


def snapshots(sub: Submission, seed: int) -> tuple[list, Any]:
    """Under the nemesis with maxraftstate=800 bytes: the service must snapshot and restore its
    map and its duplicate table."""
    run = run_kv(seed, duration_ms=2000.0, maxraftstate=800, server_cls=sub.cls("KVServer"))
    return _judge(run)


def _judge(run: Any) -> tuple[list, Any]:
    verdicts = run.verdicts()
    done = sum(1 for op in run.history.ops if op.type == "ok")
    if done < 10:
        from dslab.check.verdict import UNSAFE, Verdict

        verdicts.append(Verdict("progress", UNSAFE, f"only {done} operations succeeded "
                                "(at least 10 expected): the service makes no progress",
                                run.seed))
    return verdicts, run.history


def _more_seeds(seeds: list[int]) -> list[int]:
    return sorted(set(seeds) | {s + 100 for s in seeds})


def assignment() -> Assignment:
    tests = [
        unit("unit.follower_refuses_definitely", 1, follower_refuses),
        unit("unit.reply_after_apply", 2, reply_after_apply),
        unit("unit.duplicates_run_once", 2, duplicates_run_once),
        unit("unit.retry_gets_recorded_result", 1, retry_gets_recorded_result),
        unit("unit.lost_index_fails_definitely", 1, lost_index_fails_definitely),
        per_seed("scenario.quiet_network", 3, quiet),
        per_seed("sweep.nemesis", 6, nemesis, seeds=_more_seeds),
        per_seed("sweep.nemesis_with_snapshots", 4, snapshots),
    ]
    return Assignment(NAME, "A linearizable key-value service on Raft", "dslab.raft.kv",
                      ("KVServer",), tests, chapter="raft")
