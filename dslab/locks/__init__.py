"""Distributed locks (the notes' section "二、分布式锁"): a Redis-like lock server, clients with a
watchdog, Redlock, fencing tokens, and the experiments that break each of them.

Map to the notes and the papers:

- :mod:`dslab.locks.redis` -- ``SETNX`` / ``SET NX PX`` (互斥, 过期时间), the Lua release
  (compare-and-delete), renewal (Redisson's 看门狗 watchdog), the reentrant lock (可重入, a hash of
  holder -> count), fencing counters, asynchronous replication to a replica (Redis 集群).
- :mod:`dslab.locks.lua` -- the same lock commands as Lua scripts for a real Redis (the
  differential tests in ``tests/test_real_redis.py`` run both).
- :mod:`dslab.locks.redisson` -- Redisson's fair lock (a FIFO queue of waiters) and read-write
  lock, as commands of :class:`~dslab.locks.redisson.RedissonLockServer`.
- :mod:`dslab.locks.curator` -- Curator's ``InterProcessMutex``: reentrancy counted in the client
  over the ZooKeeper lock recipe.
- :mod:`dslab.locks.dblock` -- database locks on a real SQLite file (unique-index row,
  transaction lock).
- :mod:`dslab.locks.client` -- lock / unlock with a random token, the watchdog, Redlock
  (antirez, "Distributed locks with Redis"), client GC pauses and crashes.
- :mod:`dslab.locks.storage` -- a storage service that checks fencing tokens (Kleppmann 2016,
  "How to do distributed locking"; Chubby's sequencers, Burrows 2006).
- :mod:`dslab.locks.experiments` / :mod:`dslab.locks.plots` / :mod:`dslab.locks.widgets` -- the
  chapter's experiments, figures and sliders.

The ZooKeeper lock recipe (ephemeral sequential znodes, watch the predecessor) lives with
ZooKeeper, in :mod:`dslab.zk`.
"""

from dslab.locks.client import LockClient
from dslab.locks.redis import (
    CompareAndDelete,
    Del,
    Get,
    HLock,
    HUnlock,
    PExpire,
    PExpireIfMine,
    PTtl,
    RedisLockServer,
    Replicate,
    SetNX,
    px_error,
    release_channel,
)
from dslab.locks.storage import FencedStorage, Read, Write

__all__ = [
    "CompareAndDelete",
    "Del",
    "FencedStorage",
    "Get",
    "HLock",
    "HUnlock",
    "LockClient",
    "PExpire",
    "PExpireIfMine",
    "PTtl",
    "Read",
    "RedisLockServer",
    "Replicate",
    "SetNX",
    "Write",
    "px_error",
    "release_channel",
]
