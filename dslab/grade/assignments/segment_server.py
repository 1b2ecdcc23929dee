"""Assignment ``segment-server``: a segment-mode ID server (号段模式, Leaf / Tinyid).

The student writes the bodies marked ``# SOLUTION`` in :class:`dslab.ids.segment.SegmentIdServer`:
fetch a segment from the database with the optimistic, versioned update; hand out IDs from memory
in order; prefetch the next segment (Leaf's double buffer); and survive restarts without ever
handing out an ID twice (request ids persisted, so unique across incarnations; the segment is the
range the database says it granted). The database (:class:`~dslab.ids.segment.SegmentDB`), the
clients and the Tinyid / dynamic-step helpers are the book's.

Tests:

- unit tests through a bare :class:`~dslab.core.Context`: read then versioned update, a version
  conflict, IDs in order up to (not including) the segment's end, request ids across a restart,
  stale and duplicated answers ignored;
- the chapter's seed sweep :func:`dslab.ids.experiments.segment_chaos` (quick restarts of
  servers and database, duplicated messages), judged by :func:`dslab.check.unique_ids`;
- quick restarts with each client pinned to one server, judged by ``unique_ids`` and
  :func:`dslab.check.monotonic` per client (so per server: the book claims IDs increase per
  server, also across its restarts);
- a latency test: with double buffering on, no request waits for the database.
"""

from __future__ import annotations

import random
from typing import Any

from dslab.check import monotonic, unique_ids
from dslab.check.verdict import OK, UNSAFE, Verdict
from dslab.core import Context, Request, Response, Storage
from dslab.grade.framework import Assignment, Submission, per_seed, unit
from dslab.history import History
from dslab.ids.cluster import build, start_clients
from dslab.ids.experiments import run_ids, segment_chaos
from dslab.ids.messages import NextId, ReadRow, RowIs, UpdateResult, UpdateRow
from dslab.sim import Mixture, Sim, Uniform

NAME = "segment-server"
TAG = "order"


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


class _DiskAtSend(Context):
    """A Context that notes what durable storage held when each message left."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.disk_at_send: list[tuple[Any, dict]] = []

    def send(self, dst: str, msg: Any) -> None:
        self.disk_at_send.append((msg, {k: self.storage[k] for k in self.storage}))
        super().send(dst, msg)


def boot(sub: Submission, storage: Storage | None = None, **kw: Any) -> tuple[Any, _DiskAtSend]:
    """A booted student server ``id1`` asking database ``db`` (double buffering off unless
    ``kw`` says otherwise); the boot's effects are left in the context."""
    kw.setdefault("double_buffer", False)
    node = sub.cls("SegmentIdServer")("db", TAG, **kw)
    ctx = _DiskAtSend("id1", rng=random.Random(0), storage=storage or Storage())
    node.on_start(ctx)
    return node, ctx


def _reads(ctx: Context) -> list[ReadRow]:
    return [s.msg for s in ctx.sent(ReadRow)]


def _load(node: Any, ctx: Context, start: int, step: int, version: int = 0) -> None:
    """Answer the fetch in flight: the row says ``max_id=start``, the update grants
    ``[start, start + step)``."""
    reads = _reads(ctx)
    _check(bool(reads), f"the server asked the database nothing; sent {ctx.effects}")
    req = reads[-1].req
    ctx.take_effects()
    node.on_message(ctx, "db", RowIs(TAG, req, start, step, version))
    ups = [s.msg for s in ctx.sent(UpdateRow)]
    _check(len(ups) == 1, f"after the row, the server sent {ctx.effects}; expected one UpdateRow")
    ctx.take_effects()
    node.on_message(ctx, "db", UpdateResult(TAG, ups[0].req, True, start + step, version + 1,
                                            start=start))


def _ask(node: Any, ctx: Context, n: int, first_id: int = 1) -> list[Any]:
    """Send ``n`` NextId requests; return the IDs answered (in order of the replies)."""
    for i in range(n):
        node.on_message(ctx, f"c{i}", Request(first_id + i, NextId(TAG)))
    return [s.msg.body for s in ctx.sent(Response) if s.msg.ok]


# -- unit tests ------------------------------------------------------------------------------------
def fetch_is_read_then_versioned_update(sub: Submission) -> None:
    """On start the server reads the row, then claims max_id + step with an update conditioned
    on the version it read; a version conflict makes it read again under a new request id."""
    node, ctx = boot(sub)
    reads = _reads(ctx)
    _check(len(reads) == 1 and reads[0].biz_tag == TAG,
           f"on start the server sent {ctx.effects}; expected one ReadRow('order', req)")
    r1 = reads[0].req
    ctx.take_effects()
    node.on_message(ctx, "db", RowIs(TAG, r1, 1, 10, 3))
    ups = [s.msg for s in ctx.sent(UpdateRow)]
    _check(ups == [UpdateRow(TAG, r1, 3, 11)], f"after RowIs(max_id=1, step=10, version=3) the "
           f"server sent {ctx.effects}; expected UpdateRow('order', {r1}, expected_version=3, "
           "new_max_id=11)")
    ctx.take_effects()
    node.on_message(ctx, "db", UpdateResult(TAG, r1, False, 11, 4))
    again = _reads(ctx)
    _check(len(again) == 1 and again[0].req != r1, f"after a version conflict the server sent "
           f"{ctx.effects}; expected a new ReadRow under a new request id")


def ids_in_order_up_to_the_end(sub: Submission) -> None:
    """Requests wait for the first segment; then the granted segment [100, 110) is handed out as
    100, 101, ..., 109, and the 11th request waits while the next segment is fetched: the end
    belongs to the next segment."""
    node, ctx = boot(sub)
    early = _ask(node, ctx, 2)
    _check(early == [], f"before any segment the server answered {early}")
    _load(node, ctx, 100, 10)
    got = [s.msg.body for s in ctx.sent(Response) if s.msg.ok]
    _check(got == [100, 101], f"the two waiting requests got {got}; expected [100, 101]")
    ctx.take_effects()
    got = _ask(node, ctx, 9, first_id=10)
    _check(got == list(range(102, 110)), f"the next 9 requests got {got}; expected 102..109 and "
           "the 9th left waiting")
    _check(len(_reads(ctx)) == 1, f"with the segment used up the server sent {ctx.effects}; "
           "expected one ReadRow (a fetch)")


def request_ids_survive_restarts(sub: Submission) -> None:
    """A restarted server goes on from the request id in durable storage (here 7), and each
    request id is on disk before the request leaves: an answer meant for an earlier incarnation
    can never match a new request."""
    disk = Storage()
    disk["req"] = 7
    node, ctx = boot(sub, storage=disk)
    reads = _reads(ctx)
    _check(len(reads) == 1 and reads[0].req > 7, f"a server restarted with req=7 on disk sent "
           f"{reads}; its request id must be new (above 7)")
    on_disk = dict(ctx.disk_at_send)[reads[0]] if ctx.disk_at_send else {}
    _check(on_disk.get("req") == reads[0].req, f"when ReadRow(req={reads[0].req}) left, durable "
           f"storage held {on_disk}: the id must be persisted first")


def stale_and_duplicate_answers_are_ignored(sub: Submission) -> None:
    """An answer to an older request (a previous incarnation's, or a duplicate of one already
    used) changes nothing: no second copy of a segment, no ID handed out twice."""
    node, ctx = boot(sub)
    _load(node, ctx, 1, 3)
    ctx.take_effects()
    req = node.req
    node.on_message(ctx, "db", UpdateResult(TAG, req, True, 4, 1, start=1))  # duplicate
    node.on_message(ctx, "db", UpdateResult(TAG, req - 1, True, 4, 1, start=1))  # stale
    got = _ask(node, ctx, 5)
    _check(got == [1, 2, 3], f"after a duplicated and a stale grant of [1, 4), 5 requests got "
           f"{got}; expected [1, 2, 3] and the rest waiting")


# -- scenarios -------------------------------------------------------------------------------------
def _progress(history: History, at_least: int, seed: int) -> Verdict:
    ok = sum(1 for op in history.ops if op.f == "generate" and op.type == "ok")
    status = OK if ok >= at_least else UNSAFE
    return Verdict("progress", status, f"{ok} IDs handed out (at least {at_least} expected)",
                   seed)


def chaos_sweep(sub: Submission, seed: int) -> tuple[list[Verdict], History]:
    """The chapter's sweep (segment_chaos): 2 servers, step 50, double buffering, 8 clients that
    fail over; a nemesis restarts a random server or the database every 25 ms on average;
    10% of messages are duplicated. Judged by unique_ids."""
    _, h = segment_chaos(seed, node_cls=sub.cls("SegmentIdServer"))
    return [Verdict.of("unique_ids", unique_ids(h), seed), _progress(h, 100, seed)], h


def restarts_pinned(sub: Submission, seed: int) -> tuple[list[Verdict], History]:
    """2 servers, step 20, 4 clients each pinned to one server (no fail-over). The database's
    answers to id1 are duplicated half of the time and 30% of copies take 3 to 20 ms (a slow
    path), so an old answer may reach a later incarnation of id1, which restarts every 2 to 8 ms
    (down 0.3 ms). Each client's IDs must strictly increase (they all come from one server,
    across its restarts) and all IDs be unique."""
    sim = Sim(seed, latency=Uniform(0.1, 0.3))
    cl = build(sim, "segment", n_servers=2, step=20, node_cls=sub.cls("SegmentIdServer"))
    sim.net.configure(src="db", dst="id1", duplicate=0.5, latency=Mixture(
        (Uniform(0.1, 0.3), Uniform(3.0, 20.0)), (0.7, 0.3)))
    rng = sim.stream("nemesis")
    at = 10.0
    while at < 150.0:
        sim.crash("id1", at=at)
        sim.restart("id1", at=at + 0.3)
        at += 0.3 + rng.uniform(2.0, 8.0)
    start_clients(cl, 4, start_ms=5.0, until_ms=160.0, timeout_ms=10.0, placement="round_robin",
                  failover=False)
    sim.run(until=175.0)
    h = sim.history
    return [Verdict.of("unique_ids", unique_ids(h), seed),
            Verdict.of("monotonic(per client)", monotonic(h, per="process"), seed),
            _progress(h, 100, seed)], h


#: No request may take longer than this with double buffering on: a request and its answer (the
#: LAN's 0.1-0.3 ms each way) plus a little queueing; a wait for the database (two round trips
#: and 0.5 ms per statement) takes more than 1.4 ms.
LATENCY_BOUND_MS = 1.0


def double_buffer_latency(sub: Submission, seed: int) -> tuple[list[Verdict], History]:
    """Leaf's double buffer: 2 servers, step 100, 8 closed-loop clients, no faults. With the next
    segment prefetched at 10%, no request waits for the database: every answer within
    LATENCY_BOUND_MS."""
    _, h = run_ids("segment", seed, clients=8, duration_ms=100.0, step=100, n_servers=2,
                   placement="round_robin", double_buffer=True,
                   node_cls=sub.cls("SegmentIdServer"))
    return [latency_bound(h, LATENCY_BOUND_MS), _progress(h, 500, seed)], h


def latency_bound(history: History, bound_ms: float) -> Verdict:
    """Every ok ``generate`` after the first segment arrived was answered within ``bound_ms``
    (true time, from the history's invoke and ok)."""
    loaded = min((e.time for e in history.events if e.name == "segment_loaded"), default=None)
    worst = None
    for inv, comp in history.pairs():
        if inv.f != "generate" or comp is None or comp.type != "ok":
            continue
        if loaded is None or inv.time <= loaded:
            continue  # the very first segment: everybody waits for it
        lat = comp.time - inv.time
        if worst is None or lat > worst[0]:
            worst = (lat, inv)
    name = f"latency(<= {bound_ms:g} ms)"
    if worst is not None and worst[0] > bound_ms:
        lat, inv = worst
        return Verdict(name, UNSAFE, f"{inv.process}'s request at {inv.time:.2f} ms took "
                       f"{lat:.2f} ms: it waited for the database, so the next segment was not "
                       "ready in time (double buffering)", history.seed)
    return Verdict(name, OK, "no request waited for the database", history.seed)


def _more_seeds(seeds: list[int]) -> list[int]:
    return sorted(set(seeds) | {s + 100 for s in seeds} | {s + 200 for s in seeds})


def assignment() -> Assignment:
    tests = [
        unit("unit.fetch_is_read_then_versioned_update", 2, fetch_is_read_then_versioned_update),
        unit("unit.ids_in_order_up_to_the_end", 2, ids_in_order_up_to_the_end),
        unit("unit.request_ids_survive_restarts", 2, request_ids_survive_restarts),
        unit("unit.stale_and_duplicate_answers_are_ignored", 2,
             stale_and_duplicate_answers_are_ignored),
        per_seed("sweep.restarts_and_duplicates", 5, chaos_sweep, seeds=_more_seeds),
        per_seed("scenario.restarts_increasing_per_server", 3, restarts_pinned),
        per_seed("scenario.double_buffer_latency", 2, double_buffer_latency),
    ]
    return Assignment(NAME, "A segment-mode ID server (Leaf's double buffer)",
                      "dslab.ids.segment", ("SegmentIdServer",), tests, chapter="ids")
