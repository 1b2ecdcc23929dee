"""A Dynamo-style key-value store node: quorums, sloppy quorum, hinted handoff, read repair and
Merkle-tree anti-entropy, written as a :class:`dslab.core.Handler` (no SimPy in here).

The map to DeCandia et al., "Dynamo: Amazon's Highly Available Key-value Store", SOSP 2007:

======================================  ======================================================
Paper                                   Here
======================================  ======================================================
4.2 Partitioning (consistent hashing,   :class:`~dslab.eventual.ring.HashRing`
virtual nodes)
4.3 Replication (preference list, N)    ``HashRing.preference_list``; :meth:`DynamoNode._owners`
4.4 Data versioning (vector clocks,     :mod:`dslab.eventual.vclock`; ``Get`` returns siblings,
siblings, reconciliation by client)     ``Put(context=...)`` supersedes what the client read
4.5 get() and put() (coordinator,       :meth:`DynamoNode._coordinate_get`,
R and W quorums)                        :meth:`DynamoNode._coordinate_put`
4.6 Transient failures: sloppy quorum   :meth:`DynamoNode._put_targets`, ``ReplicaWrite.hint``,
and hinted handoff                      :meth:`DynamoNode._deliver_hints`
4.7 Permanent failures: replica         :meth:`DynamoNode._start_anti_entropy` and the
synchronization with Merkle trees       ``MerkleNodes`` / ``LeafDigests`` / ``KeyVersions`` steps
4.8 Membership and failure detection    heartbeats: a peer is *suspected* when nothing was heard
                                        from it for ``suspect_ms`` (local, like Dynamo's)
5 (read repair, mentioned in 4.5/6)     :meth:`DynamoNode._finish_get`
======================================  ======================================================

Rules:

1. Every node knows the same ring. A key's *owners* are the first ``N`` nodes of its preference
   list; the nodes after them are stand-ins. A node is *healthy* in another's eyes if it has sent
   anything (a heartbeat, a reply) within the last ``suspect_ms`` of local time.
2. ``Get(key)`` may go to any node, which coordinates it: it asks the first ``N`` healthy nodes of
   the preference list, answers the client with the reconciled siblings of the first ``R`` replies,
   and keeps listening until all asked nodes replied or ``request_timeout_ms`` passed. Then, with
   ``read_repair``, it writes the reconciled set back to every asked owner whose copy differed.
3. ``Put(key, value, context)`` is coordinated by an owner (another node forwards it to the first
   healthy owner). The coordinator creates the new version (a fresh dot and the client's context,
   :func:`dslab.eventual.vclock.write`), stores its new sibling set, and sends the whole set to the
   other owners. It answers the client once ``W`` nodes (itself included) have stored it.
4. Sloppy quorum: an owner that is suspected, or that does not acknowledge within
   ``replica_timeout_ms``, is replaced by the next healthy stand-in, which stores the set as a
   *hint* for that owner (apart from its own data) and counts towards ``W``. Without
   ``sloppy_quorum`` the write simply skips the missing owner.
5. Hinted handoff: every ``hint_interval_ms`` a node offers each hint to its owner if the owner
   looks healthy; the owner merges it and acknowledges with the digest it received, and the
   holder deletes the hint only if it has not changed since it was sent.
6. Anti-entropy: every ``anti_entropy_ms`` (with a random first delay) a node picks the next
   healthy peer, round robin, that shares ranges with it, and compares the ranges they both own:
   with Merkle trees (:mod:`dslab.eventual.merkle`) or, in ``"naive"`` mode, by sending the digest
   of every shared key. The keys found different are exchanged and merged on both sides.
7. Durable storage holds the data (``d|key``), the hints (``h|owner|key``) and a boot counter; all
   the rest (pending requests, the failure detector's view, Merkle caches, ``stats``) is volatile
   and lost in a crash. Operation ids include the boot counter, so a reply to a request from a
   previous life is never mistaken for a new one.
8. A failed ``Get`` (no quorum in time) answers ``ok=False``: a read has no effect, so the failure
   is definite. A ``Put`` without ``W`` acknowledgements gets no answer: some replicas may have
   stored it, so only the client's timeout (an indefinite ``info``) is honest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_type
from dslab.core import Context, Handler, Request, Response
from dslab.eventual.merkle import (
    MerkleTree,
    compare_nodes,
    differing_keys,
    leaf_of,
)
from dslab.eventual.messages import (
    DynamoConfig,
    ForwardPut,
    Get,
    GetResult,
    Handoff,
    HandoffAck,
    Heartbeat,
    KeyVersions,
    LeafDigests,
    MerkleNodes,
    Put,
    PutResult,
    ReplicaAck,
    ReplicaRead,
    ReplicaReadReply,
    ReplicaWrite,
    SyncWith,
    Versions,
)
from dslab.eventual.ring import HashRing, token
from dslab.eventual.vclock import (
    VersionVector,
    context_of,
    digest,
    reconcile,
    values,
    write,
)


# --- pending operations at a coordinator ----------------------------------------------------------
@dataclass
class _PutOp:
    client: str
    request_id: int
    key: str
    versions: Versions
    context: VersionVector
    targets: dict[str, str | None]  # node -> owner it stands in for (None: an owner itself)
    acks: set[str] = field(default_factory=set)
    replied: bool = False


@dataclass
class _GetOp:
    client: str
    request_id: int
    key: str
    targets: tuple[str, ...]
    replies: dict[str, Versions] = field(default_factory=dict)
    replied: bool = False


class DynamoNode(Handler):
    """One storage node. ``initial`` (key -> versions) is loaded into storage on the first boot."""

    def __init__(
        self,
        ring: HashRing,
        config: DynamoConfig,
        initial: Mapping[str, Versions] | None = None,
    ) -> None:
        check_type("ring", ring, HashRing)
        check_type("config", config, DynamoConfig)
        if config.N > len(ring.nodes):
            raise ValueError(
                f"N={config.N} is larger than the number of nodes on the ring ({len(ring.nodes)})"
            )
        self.ring = ring
        self.config = config
        self.initial = dict(initial or {})
        self.data: dict[str, Versions] = {}
        self.hints: dict[tuple[str, str], Versions] = {}
        self.digest_of: dict[str, str] = {}
        self.stats: Counter[str] = Counter()
        self._by_range: dict[int, dict[str, str]] = {}
        self._trees: dict[int, MerkleTree] = {}
        self._last_heard: dict[str, float] = {}
        self._puts: dict[str, _PutOp] = {}
        self._gets: dict[str, _GetOp] = {}
        self._boot = 0
        self._next_op = 0
        self._ae_peers: tuple[str, ...] = ()
        self._ae_next = 0
        self._shared_cache: dict[str, tuple[int, ...]] = {}
        self.me = ""

    # -- lifecycle -------------------------------------------------------------------------------
    def on_start(self, ctx: Context) -> None:
        self.me = ctx.node
        st = ctx.storage
        self._boot = st.get("boots", 0) + 1
        st["boots"] = self._boot
        if self._boot == 1:  # first boot: the initial data goes to disk (and stays in memory)
            for key in sorted(self.initial):
                vs = reconcile(self.initial[key])
                st[f"d|{key}"] = vs
                self._set_data(key, vs)
        else:
            for name in st:
                if name.startswith("d|"):
                    self._set_data(name[2:], st[name])
                elif name.startswith("h|"):
                    _, owner, key = name.split("|", 2)
                    self.hints[(owner, key)] = st[name]
        now = ctx.now()
        self._last_heard = {p: now for p in self.ring.nodes if p != self.me}
        cfg = self.config
        ctx.set_timer("heartbeat", ctx.rng.uniform(0.0, cfg.heartbeat_ms))
        ctx.set_timer("hints", cfg.hint_interval_ms)
        peers = [p for p in self.ring.nodes if p != self.me and self._shared(p)]
        self._ae_peers = tuple(peers)
        if peers:
            self._ae_next = ctx.rng.randrange(len(peers))
        if cfg.anti_entropy_ms is not None and peers:
            ctx.set_timer("anti_entropy", ctx.rng.uniform(0.0, cfg.anti_entropy_ms))

    def on_timer(self, ctx: Context, name: str) -> None:
        cfg = self.config
        if name == "heartbeat":
            for p in sorted(self._last_heard):
                ctx.send(p, Heartbeat())
            ctx.set_timer("heartbeat", cfg.heartbeat_ms)
        elif name == "hints":
            self._deliver_hints(ctx)
            ctx.set_timer("hints", cfg.hint_interval_ms)
        elif name == "anti_entropy":
            self._anti_entropy_tick(ctx)
            assert cfg.anti_entropy_ms is not None
            ctx.set_timer("anti_entropy", cfg.anti_entropy_ms)
        elif name.startswith("replica_timeout:"):
            self._replica_timeout(ctx, name.split(":", 1)[1])
        elif name.startswith("put_timeout:"):
            self._puts.pop(name.split(":", 1)[1], None)
            self.stats["put_quorum_failed"] += 1
        elif name.startswith("get_timeout:"):
            op = self._gets.get(name.split(":", 1)[1])
            if op is not None:
                if not op.replied:
                    op.replied = True
                    self.stats["get_quorum_failed"] += 1
                    ctx.send(op.client, Response(op.request_id, False, None, "read_quorum_timeout"))
                self._finish_get(ctx, name.split(":", 1)[1])

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if src in self._last_heard:
            self._last_heard[src] = ctx.now()
        kind = type(msg)
        if kind is Heartbeat:
            return
        if kind is Request:
            self._on_request(ctx, src, msg)
        elif kind is ForwardPut:
            self._coordinate_put(ctx, msg.client, msg.request_id, msg.put)
        elif kind is ReplicaWrite:
            self._on_replica_write(ctx, src, msg)
        elif kind is ReplicaAck:
            self._on_replica_ack(ctx, src, msg)
        elif kind is ReplicaRead:
            ctx.send(src, ReplicaReadReply(msg.op, msg.key, self.local_versions(msg.key)))
        elif kind is ReplicaReadReply:
            self._on_read_reply(ctx, src, msg)
        elif kind is Handoff:
            self._merge(ctx, msg.key, msg.versions)
            ctx.send(src, HandoffAck(msg.key, digest(msg.versions)))
        elif kind is HandoffAck:
            self._on_handoff_ack(ctx, src, msg)
        elif kind is MerkleNodes:
            self._on_merkle_nodes(ctx, src, msg)
        elif kind is LeafDigests:
            self._on_leaf_digests(ctx, src, msg)
        elif kind is KeyVersions:
            self._on_key_versions(ctx, src, msg)

    # -- helpers -----------------------------------------------------------------------------------
    def _owners(self, key: str) -> tuple[str, ...]:
        return self.ring.preference_list(key, self.config.N)

    def healthy(self, ctx: Context, node: str) -> bool:
        """Whether ``node`` looks alive from here (rule 1). A node always trusts itself."""
        if node == self.me:
            return True
        return ctx.now() - self._last_heard.get(node, float("-inf")) <= self.config.suspect_ms

    def _op_id(self) -> str:
        self._next_op += 1
        return f"{self._boot}.{self._next_op}"

    def local_versions(self, key: str) -> Versions:
        """What this node can say about ``key``: its own copy plus any hints it holds for it."""
        held = [vs for (_, k), vs in sorted(self.hints.items()) if k == key]
        if not held:
            return self.data.get(key, ())
        return reconcile([v for vs in (self.data.get(key, ()), *held) for v in vs])

    def _set_data(self, key: str, versions: Versions) -> None:
        self.data[key] = versions
        dg = digest(versions)
        self.digest_of[key] = dg
        rid = self.ring.range_of(key)
        self._by_range.setdefault(rid, {})[key] = dg
        self._trees.pop(rid, None)

    def _merge(self, ctx: Context, key: str, versions: Versions) -> bool:
        """Merge ``versions`` into this node's own copy of ``key``; True if it changed."""
        old = self.data.get(key, ())
        new = reconcile((*old, *versions))
        if new == old:
            return False
        ctx.storage[f"d|{key}"] = new
        self._set_data(key, new)
        return True

    # -- client requests -------------------------------------------------------------------------
    def _on_request(self, ctx: Context, src: str, req: Request) -> None:
        body = req.body
        if isinstance(body, Get):
            self._coordinate_get(ctx, src, req.id, body.key)
        elif isinstance(body, Put):
            owners = self._owners(body.key)
            if self.me in owners:
                self._coordinate_put(ctx, src, req.id, body)
                return
            alive = [o for o in owners if self.healthy(ctx, o)]
            if not alive:
                ctx.send(src, Response(req.id, False, None, "no_owner_reachable"))
                return
            ctx.send(alive[0], ForwardPut(src, req.id, body))
        elif isinstance(body, SyncWith):
            if body.peer not in self._ae_peers:
                ctx.send(src, Response(req.id, False, None, f"no ranges shared with {body.peer!r}"))
                return
            self._start_anti_entropy(ctx, body.peer)
            ctx.send(src, Response(req.id, True, None))
        else:
            ctx.send(src, Response(req.id, False, None, f"unknown request {body!r}"))

    # -- put (rules 3 and 4) -----------------------------------------------------------------------
    def _put_targets(self, ctx: Context, key: str) -> dict[str, str | None]:
        """Where the coordinator sends a write: each other owner, or a stand-in holding a hint."""
        walk = self.ring.walk(self.ring.range_of(key))
        owners, standins = walk[: self.config.N], [n for n in walk[self.config.N :]]
        targets: dict[str, str | None] = {}
        for o in owners:
            if o == self.me:
                continue
            if self.healthy(ctx, o):
                targets[o] = None
            elif self.config.sloppy_quorum:
                s = self._next_standin(ctx, standins, targets)
                if s is not None:
                    targets[s] = o
        return targets

    def _next_standin(
        self, ctx: Context, standins: list[str], used: Mapping[str, Any]
    ) -> str | None:
        for s in standins:
            if s not in used and s != self.me and self.healthy(ctx, s):
                return s
        return None

    def _coordinate_put(self, ctx: Context, client: str, request_id: int, put: Put) -> None:
        self.stats["puts_coordinated"] += 1
        new, siblings = write(self.me, put.value, put.context, self.data.get(put.key, ()))
        self._merge(ctx, put.key, siblings)
        op_id = self._op_id()
        op = _PutOp(
            client,
            request_id,
            put.key,
            self.data[put.key],
            new.history,
            self._put_targets(ctx, put.key),
            {self.me},
        )
        self._puts[op_id] = op
        for node, hint in sorted(op.targets.items()):
            ctx.send(node, ReplicaWrite(op_id, put.key, op.versions, hint))
        self._maybe_reply_put(ctx, op)
        ctx.set_timer(f"replica_timeout:{op_id}", self.config.replica_timeout_ms)
        ctx.set_timer(f"put_timeout:{op_id}", self.config.request_timeout_ms)

    def _maybe_reply_put(self, ctx: Context, op: _PutOp) -> None:
        # SOLUTION: answer the client once, as soon as W nodes (the coordinator included) have
        # stored the write: Response ok with PutResult(key, the new version's context).
        if not op.replied and len(op.acks) >= self.config.W:
            op.replied = True
            ctx.send(op.client, Response(op.request_id, True, PutResult(op.key, op.context)))
        # END SOLUTION

    def _on_replica_ack(self, ctx: Context, src: str, msg: ReplicaAck) -> None:
        op = self._puts.get(msg.op)
        if op is None:
            return
        op.acks.add(src)
        self._maybe_reply_put(ctx, op)
        if op.replied and all(n in op.acks for n in op.targets):
            del self._puts[msg.op]
            ctx.cancel_timer(f"replica_timeout:{msg.op}")
            ctx.cancel_timer(f"put_timeout:{msg.op}")

    def _replica_timeout(self, ctx: Context, op_id: str) -> None:
        """Owners that did not acknowledge in time are suspected; with a sloppy quorum the write
        goes to stand-ins instead (rule 4)."""
        op = self._puts.get(op_id)
        if op is None:
            return
        missing = [n for n, hint in sorted(op.targets.items()) if n not in op.acks and hint is None]
        if not missing:
            return
        for node in missing:
            self._last_heard[node] = float("-inf")  # suspect it until it is heard from again
        if not self.config.sloppy_quorum:
            return
        walk = self.ring.walk(self.ring.range_of(op.key))
        standins = list(walk[self.config.N :])
        for node in missing:
            s = self._next_standin(ctx, standins, op.targets)
            if s is None:
                break
            op.targets[s] = node
            ctx.send(s, ReplicaWrite(op_id, op.key, self.data.get(op.key, op.versions), node))

    def _on_replica_write(self, ctx: Context, src: str, msg: ReplicaWrite) -> None:
        if msg.hint is None or msg.hint == self.me:
            self._merge(ctx, msg.key, msg.versions)
        else:
            self._store_hint(ctx, msg.hint, msg.key, msg.versions)
        if msg.op is not None:
            ctx.send(src, ReplicaAck(msg.op, msg.key))

    # -- hinted handoff (rule 5) -------------------------------------------------------------------
    def _store_hint(self, ctx: Context, owner: str, key: str, versions: Versions) -> None:
        hk = (owner, key)
        old = self.hints.get(hk)
        new = reconcile((*(old or ()), *versions))
        if new == old:
            return
        self.hints[hk] = new
        ctx.storage[f"h|{owner}|{key}"] = new
        if old is None:
            self.stats["hints_stored"] += 1
            ctx.log("hint_stored", owner=owner, key=key)

    def _deliver_hints(self, ctx: Context) -> None:
        for (owner, key), vs in sorted(self.hints.items()):
            if self.healthy(ctx, owner):
                ctx.send(owner, Handoff(key, vs))

    def _on_handoff_ack(self, ctx: Context, src: str, msg: HandoffAck) -> None:
        hk = (src, msg.key)
        vs = self.hints.get(hk)
        if vs is None or digest(vs) != msg.digest:
            return  # already delivered, or changed since: the next round sends the new set
        del self.hints[hk]
        del ctx.storage[f"h|{src}|{msg.key}"]
        self.stats["hints_delivered"] += 1
        ctx.log("hint_delivered", owner=src, key=msg.key)

    # -- get and read repair (rule 2) --------------------------------------------------------------
    def _coordinate_get(self, ctx: Context, client: str, request_id: int, key: str) -> None:
        self.stats["gets_coordinated"] += 1
        walk = self.ring.walk(self.ring.range_of(key))
        targets = tuple(n for n in walk if self.healthy(ctx, n))[: self.config.N]
        if len(targets) < self.config.R:
            ctx.send(client, Response(request_id, False, None, "too_few_replicas_reachable"))
            return
        op_id = self._op_id()
        op = _GetOp(client, request_id, key, targets)
        self._gets[op_id] = op
        for n in targets:
            if n != self.me:
                ctx.send(n, ReplicaRead(op_id, key))
        ctx.set_timer(f"get_timeout:{op_id}", self.config.request_timeout_ms)
        if self.me in targets:
            mine = ReplicaReadReply(op_id, key, self.local_versions(key))
            self._on_read_reply(ctx, self.me, mine)

    def _on_read_reply(self, ctx: Context, src: str, msg: ReplicaReadReply) -> None:
        # SOLUTION: collect the replies of the asked nodes; after R of them answer the client
        # (once) with the reconciled siblings (GetResult); when every asked node has replied,
        # cancel the get timeout and finish the get (read repair).
        op = self._gets.get(msg.op)
        if op is None or src not in op.targets:
            return
        op.replies[src] = msg.versions
        if not op.replied and len(op.replies) >= self.config.R:
            op.replied = True
            merged = reconcile(v for vs in op.replies.values() for v in vs)
            result = GetResult(op.key, values(merged), context_of(merged), merged)
            ctx.send(op.client, Response(op.request_id, True, result))
        if len(op.replies) == len(op.targets):
            ctx.cancel_timer(f"get_timeout:{msg.op}")
            self._finish_get(ctx, msg.op)
        # END SOLUTION

    def _finish_get(self, ctx: Context, op_id: str) -> None:
        """Read repair: write the reconciled set back to every asked owner whose copy differs."""
        # SOLUTION: with read_repair on and at least two replies, reconcile every reply and
        # write the result back (ReplicaWrite with op None) to each asked *owner* whose copy
        # differs (merge locally if that is this node); count stats["read_repairs"].
        op = self._gets.pop(op_id, None)
        if op is None or not self.config.read_repair or len(op.replies) < 2:
            return
        merged = reconcile(v for vs in op.replies.values() for v in vs)
        want = digest(merged)
        owners = self._owners(op.key)
        for node, vs in sorted(op.replies.items()):
            if node in owners and digest(vs) != want:
                self.stats["read_repairs"] += 1
                if node == self.me:
                    self._merge(ctx, op.key, merged)
                else:
                    ctx.send(node, ReplicaWrite(None, op.key, merged))
        # END SOLUTION

    # -- anti-entropy (rule 6) ---------------------------------------------------------------------
    def _shared(self, peer: str) -> tuple[int, ...]:
        got = self._shared_cache.get(peer)
        if got is None:
            got = self._shared_cache[peer] = self.ring.shared_ranges(self.me, peer, self.config.N)
        return got

    def _tree(self, rid: int) -> MerkleTree:
        tree = self._trees.get(rid)
        if tree is None:
            tree = MerkleTree.build(
                self.ring, rid, self.config.merkle_depth, self._by_range.get(rid, {})
            )
            self._trees[rid] = tree
        return tree

    def _anti_entropy_tick(self, ctx: Context) -> None:
        peers = self._ae_peers
        for step in range(len(peers)):
            peer = peers[(self._ae_next + step) % len(peers)]
            if self.healthy(ctx, peer):
                self._ae_next = (self._ae_next + step + 1) % len(peers)
                self._start_anti_entropy(ctx, peer)
                return

    def _start_anti_entropy(self, ctx: Context, peer: str) -> None:
        self.stats["ae_rounds"] += 1
        shared = self._shared(peer)
        if self.config.anti_entropy_mode == "merkle":
            roots = tuple((r, 0, 0, self._tree(r).root) for r in shared)
            self._send_ae(ctx, peer, MerkleNodes(roots))
        else:
            leaves = tuple((r, -1) for r in shared)
            self._send_ae(ctx, peer, LeafDigests(leaves, self._digests_in(leaves)))

    def _send_ae(self, ctx: Context, peer: str, msg: Any) -> None:
        st = self.stats
        st["ae_messages"] += 1
        st["ae_bytes"] += msg.size_bytes()
        if isinstance(msg, MerkleNodes):
            st["ae_hashes"] += len(msg.nodes)
        elif isinstance(msg, LeafDigests):
            st["ae_digests"] += len(msg.digests)
        else:
            st["ae_keys"] += len(msg.entries)
        ctx.send(peer, msg)

    def _digests_in(self, leaves: tuple[tuple[int, int], ...]) -> tuple[tuple[str, str], ...]:
        out: list[tuple[str, str]] = []
        for rid, idx in leaves:
            if idx < 0:
                out.extend(sorted(self._by_range.get(rid, {}).items()))
            else:
                out.extend(self._tree(rid).leaf_digests(idx))
        return tuple(out)

    def _on_merkle_nodes(self, ctx: Context, src: str, msg: MerkleNodes) -> None:
        shared = set(self._shared(src))
        nodes = [n for n in msg.nodes if n[0] in shared]
        children, leaves = compare_nodes(self._tree, nodes)
        if children:
            self._send_ae(ctx, src, MerkleNodes(tuple(children)))
        if leaves:
            lv = tuple(leaves)
            self._send_ae(ctx, src, LeafDigests(lv, self._digests_in(lv)))

    def _on_leaf_digests(self, ctx: Context, src: str, msg: LeafDigests) -> None:
        shared = set(self._shared(src))
        leaves = tuple(lf for lf in msg.leaves if lf[0] in shared)
        mine = dict(self._digests_in(leaves))
        theirs = dict(msg.digests)
        diff = differing_keys(mine, theirs)
        if not diff:
            return
        entries = tuple((k, self.data[k]) for k in diff if k in self.data)
        want = tuple(k for k in diff if k in theirs)
        self._send_ae(ctx, src, KeyVersions(entries, want))

    def _on_key_versions(self, ctx: Context, src: str, msg: KeyVersions) -> None:
        owned = set(self._shared(src))
        sent: dict[str, str] = {}
        for key, vs in msg.entries:
            if self.ring.range_of(key) in owned:
                self._merge(ctx, key, vs)
                sent[key] = digest(vs)
        back = tuple(
            (k, self.data[k])
            for k in msg.want
            if k in self.data and sent.get(k) != self.digest_of[k]
        )
        if back:
            self._send_ae(ctx, src, KeyVersions(back))


def leaf_index(ring: HashRing, key: str, depth: int) -> tuple[int, int]:
    """``(range, leaf)`` of ``key`` in a tree of the given ``depth`` (for explanations)."""
    rid = ring.range_of(key)
    return rid, leaf_of(ring, rid, token(key), depth)
