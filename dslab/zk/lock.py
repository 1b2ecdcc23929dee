"""The ZooKeeper lock recipe (Hunt et al. 2010, §2.4 "Simple Locks without Herd Effect"; the
notes' "Zookeeper分布式锁"), and leader election on the same queue.

The rules of the recipe
-----------------------
1. **Join the queue.** Create an *ephemeral sequential* node ``<lock>/n-`` (the server appends a
   ten-digit sequence number). Ephemeral: if the client's session ends, the server deletes it,
   so a dead holder cannot keep the lock. Its ``czxid`` grows with every new holder: a fencing
   token.
2. **Lowest holds.** List the children of the lock node. If ours has the lowest sequence number,
   we hold the lock.
3. **Watch the predecessor only.** Otherwise set a watch (``exists(watch=True)``) on the node just
   before ours and wait for it to fire. Only one client waits on each node, so a release wakes
   exactly one client (no herd effect). If the predecessor is already gone, do not wait.
4. **Re-check after every wake-up.** A predecessor can vanish without its owner holding the
   lock (it gave up, or its session expired while waiting), so after a wake-up go back to step 2:
   never assume the lock is ours.
5. **Session expiry means the lock is lost.** If the session has expired, or our node is no
   longer among the children (the server deleted it), the client neither holds nor waits: the
   acquire fails with ``session_expired``.
6. **Release** by deleting our node; that fires the watch of the one successor.

``mode="herd"`` replaces step 3 by a child watch on the lock node itself, so every change wakes
every waiter: the herd effect the chapter measures.

Code is a generator run by the simulator (or by a real ZooKeeper client through an adapter, see
``tests/test_real_zookeeper.py``); the operations are those of :class:`RecipeClient`. This module
is also the reference solution of the ``zk-lock`` assignment (``dslab skeleton zk-lock``): the
student writes the bodies of its four SOLUTION blocks.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol, runtime_checkable

from dslab._validate import check_choice
from dslab.sim.world import RpcResult
from dslab.zk.tree import check_path

Gen = Generator[Any, Any, Any]


def seq_of(name: str) -> int:
    """The sequence number of a sequential node name (its last ten digits)."""
    return int(name[-10:])


@runtime_checkable
class RecipeClient(Protocol):
    """What the recipes use of a client: :class:`~dslab.zk.client.ZkClient` on the simulator, or
    an adapter over a real ZooKeeper client (``tests/test_real_zookeeper.py`` runs :class:`Lock`
    unchanged against ZooKeeper 3.8 through one backed by kazoo). Operations are generators
    returning an :class:`~dslab.sim.RpcResult`; with ``watch=True`` they return
    ``(result, event)`` and the recipe yields the event to wait for the watch to fire.
    ``expired`` is True once the client has learned that its session expired."""

    expired: bool

    def invoke(self, f: str, value: Any = None) -> Any: ...

    def complete(self, invocation: Any, result: Any, value: Any = None) -> Any: ...

    def create(
        self,
        path: str,
        data: Any = None,
        *,
        ephemeral: bool = False,
        sequential: bool = False,
        record: bool = True,
    ) -> Gen: ...

    def delete(self, path: str, version: int = -1, *, record: bool = True) -> Gen: ...

    def exists(self, path: str, *, watch: bool = False, record: bool = True) -> Gen: ...

    def get_children(self, path: str, *, watch: bool = False, record: bool = True) -> Gen: ...


def lost() -> RpcResult:
    """The result of an acquire whose session expired: the lock is lost (rule 5)."""
    return RpcResult("fail", None, "session_expired")


class Lock:
    """The lock recipe: an ephemeral sequential node per contender, lowest number holds.

    ``acquire()`` returns ``RpcResult("ok", token)`` once the lock is held (``token``: the czxid
    of our node, a fencing token) or a failed result; ``release()`` deletes our node. Both record
    themselves in the history as ``acquire`` / ``release`` operations of the client."""

    acquire_f = "acquire"
    release_f = "release"

    def __init__(
        self, client: RecipeClient, path: str = "/lock", mode: str = "predecessor"
    ) -> None:
        if not isinstance(client, RecipeClient):
            raise TypeError(
                f"client={client!r} has type {type(client).__name__}; expected a ZkClient (or "
                "an object with its recipe interface, dslab.zk.lock.RecipeClient)"
            )
        self.client = client
        self.path = check_path(path)
        self.mode = check_choice("mode", mode, ("predecessor", "herd"))
        self.node: str | None = None  # our lock node's full path, once created
        self.token: int | None = None

    def acquire(self) -> Gen:
        c = self.client
        inv = c.invoke(self.acquire_f, self.path)
        res = yield from self.join_queue()
        if res.ok:
            res = yield from self.wait_until_lowest()
        c.complete(inv, res, self.token if res.ok else None)
        return res

    def join_queue(self) -> Gen:
        """Rule 1: create our node; set ``self.node`` (its full path) and ``self.token``."""
        c = self.client
        # SOLUTION: Rule 1. Create an ephemeral, sequential node f"{self.path}/n-" (record=False),
        # return the failed result if that fails. Keep its full path (the create's value) in
        # self.node, and its czxid (from exists(self.node), whose value is a Stat) in self.token.
        res = yield from c.create(f"{self.path}/n-", ephemeral=True, sequential=True, record=False)
        if not res.ok:
            return res
        self.node = res.value
        stat = yield from c.exists(self.node, record=False)
        self.token = stat.value.czxid if stat.ok and stat.value else None
        return res
        # END SOLUTION

    def wait_until_lowest(self) -> Gen:
        """Rules 2-5: return ``RpcResult("ok", self.token)`` once our node is the lowest."""
        c = self.client
        mine = self.node.rsplit("/", 1)[1] if self.node else ""
        # SOLUTION: Rules 2-5, in a loop. If c.expired, return lost(). List the children of
        # self.path (record=False; return the result if it fails); sort them with seq_of. If
        # `mine` is not among them, return lost(). If it is first, return RpcResult("ok",
        # self.token). Otherwise wait with `yield from self.wait_turn(kids, i)` (i: our
        # position), then check again from the top.
        while True:
            if c.expired:
                return lost()
            res = yield from c.get_children(self.path, record=False)
            if not res.ok:
                return res
            kids = sorted(res.value, key=seq_of)
            if mine not in kids:
                return lost()
            i = kids.index(mine)
            if i == 0:
                return RpcResult("ok", self.token)
            yield from self.wait_turn(kids, i)
        # END SOLUTION

    def wait_turn(self, kids: list[str], i: int) -> Gen:
        """Wait until the queue may have moved for us (we are ``kids[i]``, not first)."""
        if self.mode == "herd":
            yield from self.wait_herd(kids)
            return
        c = self.client
        # SOLUTION: Rule 3. Watch only the node just before ours: exists(predecessor's full path,
        # watch=True, record=False) returns (result, event). If the predecessor still exists,
        # wait for the event (`yield event`); if it is already gone, return at once.
        pred = f"{self.path}/{kids[i - 1]}"
        st, ev = yield from c.exists(pred, watch=True, record=False)
        if st.ok and st.value is not None:
            yield ev
        # END SOLUTION

    def wait_herd(self, kids: list[str]) -> Gen:
        """The herd variant of rule 3: a child watch on the lock node, which fires on every
        change of the queue, for every waiter. Returns at once if the queue already changed."""
        res, ev = yield from self.client.get_children(self.path, watch=True, record=False)
        if res.ok and sorted(res.value, key=seq_of) == kids:
            yield ev

    def release(self) -> Gen:
        c = self.client
        inv = c.invoke(self.release_f, self.path)
        # SOLUTION: Rule 6. If we have no node, the result is RpcResult("fail", None, "not_held").
        # Otherwise delete self.node (record=False); once it is gone (deleted, or the server says
        # 'no_node') forget it (self.node = None); after any other failure keep it, to retry.
        if self.node is None:
            res = RpcResult("fail", None, "not_held")
        else:
            res = yield from c.delete(self.node, record=False)
            if res.ok or res.error == "no_node":
                self.node = None
        # END SOLUTION
        c.complete(inv, res)
        return res


class LeaderElection(Lock):
    """Leader election with ephemeral sequential nodes: the lowest node's owner leads; each
    candidate watches its predecessor; a leader whose session ends is replaced by the next."""

    acquire_f = "campaign"
    release_f = "resign"

    def __init__(self, client: RecipeClient, path: str = "/election") -> None:
        super().__init__(client, path, "predecessor")


__all__ = ["LeaderElection", "Lock", "RecipeClient", "lost", "seq_of"]
