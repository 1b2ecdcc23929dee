"""Assignment ``quorum-store``: a Dynamo-style quorum store with read repair (DeCandia et al. 2007,
§4.5; Gifford's quorums).

The student writes the bodies marked ``# SOLUTION`` in :mod:`dslab.eventual.dynamo`: when a
put is acknowledged (``W`` stores), when a get answers (``R`` replies, reconciled), and read
repair (write the reconciled set back to every asked owner whose copy differs). The rest of
:class:`~dslab.eventual.dynamo.DynamoNode` (ring, vector clocks, sloppy quorum, hinted
handoff, Merkle anti-entropy) is given.

Tests: unit tests through a bare :class:`~dslab.core.Context`; a per-seed run with ``N=3, R=2,
W=2`` (``R + W > N``) whose history is judged by :func:`quorum_reads` (a read never misses a
write acknowledged before it began); and a seed sweep with a partition, where anti-entropy and
hinted handoff are off so that only read repair can bring the replicas back together
(:func:`dslab.eventual.experiments.convergence_run`: every key's owners must agree again).
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

from dslab.check.verdict import OK, UNSAFE, Verdict
from dslab.core import Context, Request, Response, Storage
from dslab.eventual.cluster import Cluster
from dslab.eventual.experiments import convergence_run
from dslab.eventual.messages import (
    DynamoConfig,
    Get,
    GetResult,
    Put,
    PutResult,
    ReplicaAck,
    ReplicaRead,
    ReplicaReadReply,
    ReplicaWrite,
)
from dslab.eventual.ring import HashRing
from dslab.eventual.vclock import EMPTY, Version, context_of, digest, write
from dslab.grade.framework import Assignment, Submission, per_seed, unit
from dslab.history import History
from dslab.sim import Uniform
from dslab.sim.scenario import operation

NAME = "quorum-store"
NODES = ("n1", "n2", "n3")


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def boot(sub: Submission, *, R: int = 2, W: int = 2, read_repair: bool = True,
         initial: dict | None = None) -> tuple[Any, Context]:
    """Node n1 of a 3-node ring (every key is owned by all three), booted, effects cleared."""
    cfg = DynamoConfig(N=3, R=R, W=W, read_repair=read_repair, anti_entropy_ms=None)
    node = sub.cls("DynamoNode")(HashRing(list(NODES), 4), cfg, initial or {})
    ctx = Context("n1", rng=random.Random(0), storage=Storage(), peers=NODES[1:])
    node.on_start(ctx)
    ctx.take_effects()
    return node, ctx


def _ask(node: Any, ctx: Context, body: Any) -> dict[str, str]:
    """Send a client request; return {peer: op id} of the replica messages it caused."""
    node.on_message(ctx, "c1", Request(1, body))
    ops = {}
    for s in ctx.sent():
        if isinstance(s.msg, (ReplicaRead, ReplicaWrite)):
            ops[s.dst] = s.msg.op
    ctx.take_effects()
    return ops


def _old_and_new() -> tuple[Version, Version]:
    """A version ``old`` and a later write ``new`` by a client that had read it (supersedes)."""
    old = Version("old", ("n1", 1))
    new, _ = write("n2", "new", context_of((old,)), (old,))
    return old, new


# -- unit tests ------------------------------------------------------------------------------------
def put_waits_for_w(sub: Submission) -> None:
    """A put is acknowledged once W nodes (the coordinator included) stored it, and only once."""
    node, ctx = boot(sub, W=3)
    ops = _ask(node, ctx, Put("k", "v1", EMPTY))
    _check(sorted(ops) == ["n2", "n3"], f"the put went to {sorted(ops)}; expected n2 and n3")
    node.on_message(ctx, "n2", ReplicaAck(ops["n2"], "k"))
    _check(not ctx.sent(Response), "answered after 2 stores, with W=3")
    node.on_message(ctx, "n3", ReplicaAck(ops["n3"], "k"))
    got = [s.msg for s in ctx.sent(Response)]
    _check(len(got) == 1 and got[0].ok and isinstance(got[0].body, PutResult),
           f"replies after 3 stores: {got}; expected one ok with a PutResult")
    node.on_message(ctx, "n3", ReplicaAck(ops["n3"], "k"))
    _check(len(ctx.sent(Response)) == 1, "a duplicated ack answered the client twice")


def get_waits_for_r(sub: Submission) -> None:
    """A get answers after R replies (the coordinator's own copy counts), with the siblings of
    every reply reconciled: the newest version wins."""
    old, new = _old_and_new()
    node, ctx = boot(sub, R=2, initial={"k": (old,)})
    ops = _ask(node, ctx, Get("k"))
    _check(not ctx.sent(Response), "answered with one reply, with R=2")
    node.on_message(ctx, "n2", ReplicaReadReply(ops["n2"], "k", (new,)))
    got = [s.msg for s in ctx.sent(Response)]
    _check(len(got) == 1 and got[0].ok and isinstance(got[0].body, GetResult),
           f"replies after 2 of 3 replies: {got}; expected one ok GetResult")
    _check(list(got[0].body.values) == ["new"],
           f"the get returned {got[0].body.values}; expected ['new'] (it supersedes 'old')")


def read_repair_fixes_stale_owners(sub: Submission) -> None:
    """Read repair: once every asked node replied, each owner whose copy differs from the
    reconciled set gets it back (here n1 itself and n3); one that agrees gets nothing."""
    old, new = _old_and_new()
    node, ctx = boot(sub, R=2, initial={"k": (old,)})
    ops = _ask(node, ctx, Get("k"))
    node.on_message(ctx, "n2", ReplicaReadReply(ops["n2"], "k", (new,)))
    node.on_message(ctx, "n3", ReplicaReadReply(ops["n3"], "k", (old,)))
    writes = {s.dst: s.msg for s in ctx.sent(ReplicaWrite)}
    _check(sorted(writes) == ["n3"], f"repair writes went to {sorted(writes)}; expected n3 only")
    _check(digest(writes["n3"].versions) == digest((new,)), "n3 was repaired with "
           f"{writes['n3'].versions}, not the reconciled set")
    _check(digest(node.local_versions("k")) == digest((new,)),
           "the coordinator's own stale copy was not repaired")


def no_repair_when_off(sub: Submission) -> None:
    """With read_repair off, a get writes nothing back."""
    old, new = _old_and_new()
    node, ctx = boot(sub, R=2, read_repair=False, initial={"k": (old,)})
    ops = _ask(node, ctx, Get("k"))
    node.on_message(ctx, "n2", ReplicaReadReply(ops["n2"], "k", (new,)))
    node.on_message(ctx, "n3", ReplicaReadReply(ops["n3"], "k", (old,)))
    _check(not ctx.sent(ReplicaWrite), "read repair ran with read_repair=False")


# -- the checker of the quorum scenario ------------------------------------------------------------
def quorum_reads(history: History) -> Verdict:
    """R + W > N: every read quorum meets every write quorum, so a read returns (among its
    siblings) the last value acknowledged before the read was invoked, or a later one.

    Each key has one writer writing 1, 2, 3... in turn, so "later" is "larger"."""
    acked: dict[Any, list[tuple[float, int]]] = {}
    for inv, comp in history.pairs():
        if inv.f == "write" and comp is not None and comp.type == "ok":
            acked.setdefault(inv.value[0], []).append((comp.time, inv.value[1]))
    for inv, comp in history.pairs():
        if inv.f != "read" or comp is None or comp.type != "ok":
            continue
        key, seen = comp.value[0], comp.value[1]
        before = [v for t, v in acked.get(key, []) if t < inv.time]
        if before and max(seen, default=0) < max(before):
            return Verdict(
                "quorum_reads", UNSAFE,
                f"process {inv.process!r} read {key!r} at {inv.time:.2f} ms and got {seen}, but "
                f"write {max(before)} was acknowledged before the read began: with R + W > N the "
                "read quorum must include a replica holding it", history.seed)
    return Verdict("quorum_reads", OK, "every read saw the last acknowledged write",
                   history.seed)


def _writer(cl: Cluster, client: str, key: str, n: int) -> Generator[Any, Any, None]:
    c, ctx_vv = cl.clients[client], EMPTY
    rng = cl.sim.stream(f"workload/{client}")
    for v in range(1, n + 1):
        coord = rng.choice(cl.names)
        res = yield from operation(c, coord, "write", Put(key, v, ctx_vv), value=[key, v],
                                   timeout_ms=8000.0)
        if res.ok:
            ctx_vv = res.value.context
        yield cl.sim.sleep(rng.uniform(0.0, 15.0))


def _reader(cl: Cluster, client: str, keys: list[str], n: int) -> Generator[Any, Any, None]:
    c = cl.clients[client]
    rng = cl.sim.stream(f"workload/{client}")
    for _ in range(n):
        key = rng.choice(keys)
        yield from operation(
            c, rng.choice(cl.names), "read", Get(key), value=None, timeout_ms=8000.0,
            result_value=lambda r, k=key: [k, sorted(r.value.values) if r.ok else None])
        yield cl.sim.sleep(rng.uniform(0.0, 5.0))


def quorum_run(sub: Submission, seed: int) -> tuple[list[Verdict], History]:
    """N=3, R=2, W=2 on 5 nodes, one writer per key and three readers through random
    coordinators; one node hears the others 100-300 ms late, so it is often a stale owner: only
    a read quorum that meets the write quorum is safe."""
    # Nobody is ever suspected (suspect and replica timeouts far beyond any delay), so every get
    # asks exactly the key's N owners and every put is stored by owners only: then R + W > N
    # guarantees that the quorums meet, and the checker below is sound.
    cfg = DynamoConfig(N=3, R=2, W=2, sloppy_quorum=False, anti_entropy_ms=None,
                       suspect_ms=1e9, replica_timeout_ms=5000.0, request_timeout_ms=5000.0)
    keys = ["a", "b"]
    cl = Cluster(seed=seed, nodes=5, config=cfg, latency=Uniform(1.0, 5.0),
                 clients=("w1", "w2", "r1", "r2", "r3"), node_cls=sub.cls("DynamoNode"))
    # One node hears the other nodes late (100-300 ms; clients reach it at once): it is the
    # owner that lags, and often the only one a careless coordinator listens to.
    slow = cl.sim.stream("nemesis").choice(cl.names)
    for other in cl.names:
        if other != slow:
            cl.sim.net.configure(src=other, dst=slow, latency=Uniform(100.0, 300.0))
    for w, k in zip(("w1", "w2"), keys, strict=True):
        cl.sim.process(_writer(cl, w, k, 25))
    for r in ("r1", "r2", "r3"):
        cl.sim.process(_reader(cl, r, keys, 40))
    cl.sim.run(until=3000.0)
    done = sum(1 for op in cl.sim.history.ops if op.type == "ok")
    verdicts = [quorum_reads(cl.sim.history)]
    if done < 50:
        verdicts.append(Verdict("progress", UNSAFE, f"only {done} operations succeeded of 170",
                                seed))
    return verdicts, cl.sim.history


def repair_sweep(sub: Submission, seed: int) -> list[Verdict]:
    """Seed sweep with a partition: both sides write, the partition heals, then clients only
    read. Anti-entropy and hinted handoff are off: only read repair can make every key's owners
    agree again (each key's owners compared by digest, as :meth:`Cluster.divergence` does)."""
    df, _ = convergence_run(seed=seed, anti_entropy_ms=None, read_repair=True, keys=20,
                            partition_ms=400.0, read_rate_per_s=200.0, max_wait_ms=3000.0,
                            node_cls=sub.cls("DynamoNode"))
    at_heal = int(df.attrs["differing_at_heal"])
    last = int(df["differing_keys"].iloc[-1])
    if last == 0:
        return [Verdict("convergence (read repair)", OK,
                        f"{at_heal} keys differed at the heal; read repair fixed all", seed)]
    return [Verdict("convergence (read repair)", UNSAFE,
                    f"{at_heal} keys differed at the heal and {last} still differ after "
                    f"{df['t_after_heal_ms'].iloc[-1]:.0f} ms of reads on every key",
                    seed)]


def _more_seeds(seeds: list[int]) -> list[int]:
    return sorted(set(seeds) | {s + 100 for s in seeds})


def assignment() -> Assignment:
    tests = [
        unit("unit.put_waits_for_w", 2, put_waits_for_w),
        unit("unit.get_waits_for_r", 2, get_waits_for_r),
        unit("unit.read_repair_fixes_stale_owners", 2, read_repair_fixes_stale_owners),
        unit("unit.no_repair_when_off", 1, no_repair_when_off),
        per_seed("scenario.quorum_reads", 5, quorum_run, seeds=_more_seeds),
        per_seed("sweep.partition_then_read_repair", 5, repair_sweep),
    ]
    return Assignment(NAME, "A quorum store with read repair (Dynamo)", "dslab.eventual.dynamo",
                      ("DynamoNode",), tests, chapter="base")
