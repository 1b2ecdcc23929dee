"""Curator's ``InterProcessMutex``: a reentrant lock whose hold count lives in the **client**.

Redisson makes its lock reentrant on the server: every re-entry is a round trip that adds one to
a count stored in Redis (:class:`~dslab.locks.redis.HLock`). Apache Curator, on ZooKeeper, keeps
the count where the re-entry happens, in the client process (the notes: a map from thread to lock
data, with a count incremented on re-entry). Rules:

1. The first acquire by a thread runs the ZooKeeper lock recipe
   (:class:`dslab.zk.client.Lock`: an ephemeral sequential znode, wait for the predecessor) and
   records ``thread -> (its lock, count 1)``.
2. A re-entry by the same thread only adds one to the count in the client: **no request** goes to
   ZooKeeper, and ZooKeeper sees one znode however deep the nesting is.
3. A release by the holding thread subtracts one; only the last release deletes the znode.
   A release by a thread that holds nothing is refused (Curator throws
   ``IllegalMonitorStateException``).
4. Another thread is another contender: it runs the recipe with its own znode and waits in line
   (the count is per thread). In the simulator a client records one operation at a time, like a
   Jepsen process, so threads that contend *concurrently* are modelled as separate clients;
   ``thread`` names the holder within one client.

The price: the count is lost with the client, which is fine, since the znode is ephemeral and
goes with the client's session anyway.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from dslab._validate import check_type
from dslab.sim.world import RpcResult
from dslab.zk.client import Lock, ZkClient


class InterProcessMutex:
    """A reentrant mutex at ``path`` for the threads of one ZooKeeper client (module rules)."""

    def __init__(self, client: ZkClient, path: str = "/lock") -> None:
        check_type("client", client, ZkClient)
        self.client = client
        self.path = path
        self.threads: dict[str, list[Any]] = {}  # thread -> [its recipe Lock, count]

    def count(self, thread: str = "main") -> int:
        """How many times ``thread`` holds the mutex now (0: not at all)."""
        held = self.threads.get(thread)
        return 0 if held is None else held[1]

    def acquire(self, thread: str = "main") -> Generator[Any, Any, RpcResult]:
        """Rules 1, 2 and 4: the recipe the first time, a local count after that."""
        check_type("thread", thread, str)
        held = self.threads.get(thread)
        if held is not None:
            held[1] += 1  # re-entry: nothing is sent
            return RpcResult("ok", held[0].token)
        lock = Lock(self.client, self.path)
        res = yield from lock.acquire()
        if res.ok:
            self.threads[thread] = [lock, 1]
        return res

    def release(self, thread: str = "main") -> Generator[Any, Any, RpcResult]:
        """Rule 3: the count down by one; the znode is deleted by the last release only."""
        held = self.threads.get(thread)
        if held is None:
            return RpcResult("fail", None, "not_owner")
        if held[1] > 1:
            held[1] -= 1
            return RpcResult("ok", held[1])
        del self.threads[thread]
        res = yield from held[0].release()
        return res
