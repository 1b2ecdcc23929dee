"""Lock clients: SimPy processes that take a lock, do their work, and release it.

Rules:

1. Each acquisition draws a fresh random token (``SET key token NX PX ttl``) from the client's own
   stream, so a release can prove ownership (compare-and-delete). The hold is recorded in the
   history as ``acquire`` (``ok`` with ``{"token", "fence"}``) and ``release`` ops: the checker
   :func:`dslab.check.mutual_exclusion` judges the holds in **true** time.
2. Non-blocking (非阻塞): a refused acquire is retried every ``retry_ms`` (with jitter) until
   ``acquire_timeout_ms`` (``None``: forever), then reported as ``fail``.
3. The watchdog (Redisson's 看门狗) renews the lock every ``ttl_ms / 3`` while the work runs. It is
   code in the same process as the work, so a **pause** (a GC stop of the world, :meth:`pause`)
   stops it too: a pause longer than the ttl lets the lock expire under a holder that still
   believes it holds it.
4. Redlock (antirez): try ``SET NX PX`` on each of N independent servers in turn, with a short
   per-server timeout; the lock is held if a majority said yes and the time left,
   ``validity = ttl - elapsed - (ttl * drift_factor + 2 ms)``, is positive; otherwise release on
   all and retry. Release always goes to all N.
5. A client pause is modelled in the client: a process cannot run while ``sim.now`` is before
   ``paused_until``; whatever it was waiting for is handled when the pause ends. It is recorded as a
   ``pause`` fault of the client, like ``Sim.pause`` for a server node.
6. ``expiry="expire"`` is the notes' first, broken fix: ``SETNX key token`` then, in a second
   command, ``PEXPIRE key ttl``. A client that crashes between the two (after sending the first,
   before sending the second) leaves a key without expiry, held forever. The default
   ``expiry="px"`` sets both in one ``SET key token NX PX ttl``.

This module is also the reference of the classroom assignment ``lock-client``
(:mod:`dslab.grade.assignments.lock_client`): the marked solution blocks are what a student writes
(``dslab skeleton lock-client``); they change nothing when the book runs.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

from dslab._validate import check_choice, check_number, check_type
from dslab.locks.redis import CompareAndDelete, Del, PExpire, PExpireIfMine, SetNX
from dslab.locks.storage import Read, Write

RELEASES = ("cad", "del")
EXPIRIES = ("px", "expire")


class Crashed(Exception):
    """Raised inside a crashed client's processes to end them."""


class LockClient:
    """One application process using a lock on ``servers`` (one server, or N for Redlock)."""

    def __init__(
        self,
        sim: Any,
        name: str,
        servers: list[str],
        *,
        key: str = "lock",
        ttl_ms: float | None = 100.0,
        release: str = "cad",
        watchdog: bool = False,
        redlock: bool = False,
        storage: str | None = None,
        rpc_timeout_ms: float = 20.0,
        retry_ms: float = 10.0,
        acquire_timeout_ms: float | None = None,
        drift_factor: float = 0.01,
        expiry: str = "px",
    ) -> None:
        check_type("servers", servers, list)
        if not servers:
            raise ValueError("servers=[] is not allowed; name at least one lock server")
        if ttl_ms is not None:
            check_number("ttl_ms", ttl_ms, min=0, min_inclusive=False)
        check_choice("release", release, RELEASES)
        check_type("watchdog", watchdog, bool)
        check_type("redlock", redlock, bool)
        if (watchdog or redlock) and ttl_ms is None:
            raise ValueError(f"ttl_ms=None is not allowed with watchdog={watchdog}, "
                             f"redlock={redlock}: both need an expiry")
        check_number("rpc_timeout_ms", rpc_timeout_ms, min=0, min_inclusive=False)
        check_number("retry_ms", retry_ms, min=0, min_inclusive=False)
        if acquire_timeout_ms is not None:
            check_number("acquire_timeout_ms", acquire_timeout_ms, min=0)
        check_number("drift_factor", drift_factor, min=0, max=0.5)
        check_choice("expiry", expiry, EXPIRIES)
        if expiry == "expire" and (ttl_ms is None or redlock):
            raise ValueError(f"expiry='expire' is not allowed with ttl_ms={ttl_ms}, "
                             f"redlock={redlock}: it needs a ttl and a single server")
        self.sim = sim
        self.name = name
        self.client = sim.add_client(name)
        self.rng = sim.stream(f"lockclient/{name}")
        self.servers = list(servers)
        self.primary = self.servers[0]
        self.key, self.ttl_ms, self.release_mode = key, ttl_ms, release
        self.watchdog, self.redlock, self.storage = watchdog, redlock, storage
        self.rpc_timeout_ms, self.retry_ms = float(rpc_timeout_ms), float(retry_ms)
        self.acquire_timeout_ms = acquire_timeout_ms
        self.drift_factor = float(drift_factor)
        self.expiry = expiry
        self.paused_until = 0.0
        self.crashed = False
        self.holding = False
        self.token: str | None = None
        self.fence: int | None = None

    def __repr__(self) -> str:
        return f"LockClient({self.name!r}, servers={self.servers}, seed={self.sim.seed})"

    # -- faults of the client itself ---------------------------------------------------------------
    def pause(self, duration_ms: float, *, at: float) -> None:
        """A stop-the-world pause of this client (GC) for ``duration_ms`` from true time ``at``."""
        check_number("duration_ms", duration_ms, min=0)
        check_number("at", at, min=self.sim.now)

        def go() -> Generator[Any, Any, None]:
            yield self.sim.sleep(at - self.sim.now)
            self.paused_until = max(self.paused_until, self.sim.now + duration_ms)
            self.sim.history.fault(self.sim.now, "pause", node=self.name, duration_ms=duration_ms)

        self.sim.process(go())

    def crash(self, *, at: float) -> None:
        """The client process dies at ``at``: it never releases (its lock stays, or expires)."""
        check_number("at", at, min=self.sim.now)

        def go() -> Generator[Any, Any, None]:
            yield self.sim.sleep(at - self.sim.now)
            self.crashed = True
            self.sim.history.fault(self.sim.now, "crash", node=self.name)

        self.sim.process(go())

    # -- building blocks ---------------------------------------------------------------------------
    def _gc(self) -> Generator[Any, Any, None]:
        if self.crashed:
            raise Crashed(self.name)
        while self.sim.now < self.paused_until:
            yield self.sim.sleep(self.paused_until - self.sim.now)
        if self.crashed:
            raise Crashed(self.name)

    def _sleep(self, ms: float) -> Generator[Any, Any, None]:
        yield self.sim.sleep(ms)
        yield from self._gc()

    def _call(self, dst: str, body: Any, timeout_ms: float) -> Generator[Any, Any, Any]:
        yield from self._gc()
        result = yield from self.client.call(dst, body, timeout_ms=timeout_ms)
        yield from self._gc()
        return result

    def new_token(self) -> str:
        """A random value that identifies this acquisition (the notes' ``uniqueValue``)."""
        # SOLUTION: a value that no other acquisition (of any client, in any round) uses: draw
        # it from this client's own random stream self.rng (never the random module)
        return f"{self.name}-{self.rng.getrandbits(48):012x}"
        # END SOLUTION

    # -- the lock ----------------------------------------------------------------------------------
    def acquire(self) -> Generator[Any, Any, bool]:
        op = self.client.invoke("acquire", self.key)
        limit = math.inf if self.acquire_timeout_ms is None else self.acquire_timeout_ms
        deadline = self.sim.now + limit
        while True:
            token = self.new_token()
            if self.redlock:
                ok, fence = (yield from self._redlock_once(token)), None  # no common counter
            else:
                # SOLUTION: SET key token NX PX ttl on self.primary, in one command (px is None
                # only for the chapter's broken expiry="expire" lock); ok is r.ok and the fencing
                # token is the reply's {"fence": n}
                px = self.ttl_ms if self.expiry == "px" else None
                r = yield from self._call(
                    self.primary, SetNX(self.key, token, px), self.rpc_timeout_ms
                )
                ok, fence = r.ok, (r.value or {}).get("fence")
                # END SOLUTION
                if ok and self.expiry == "expire":  # the second command: a crash before it
                    yield from self._call(  # leaves the key without expiry
                        self.primary, PExpire(self.key, self.ttl_ms), self.rpc_timeout_ms
                    )
            if ok:
                self.token, self.fence, self.holding = token, fence, True
                self.client.complete(op, "ok", {"token": token, "fence": fence})
                if self.watchdog:
                    self.sim.process(self._watchdog(token))
                return True
            wait = self.retry_ms * (0.5 + self.rng.random())
            if self.sim.now + wait > deadline:
                self.client.complete(op, "fail", None)
                return False
            yield from self._sleep(wait)

    def _redlock_once(self, token: str) -> Generator[Any, Any, bool]:
        start = self.sim.now
        votes = 0
        for s in self.servers:
            r = yield from self._call(s, SetNX(self.key, token, self.ttl_ms), self.rpc_timeout_ms)
            votes += r.ok
        elapsed = self.sim.now - start
        validity = self.ttl_ms - elapsed - (self.ttl_ms * self.drift_factor + 2.0)
        if votes >= len(self.servers) // 2 + 1 and validity > 0:
            return True
        yield from self._release_all(token)  # failed: undo the partial locks
        return False

    def _release_all(self, token: str) -> Generator[Any, Any, None]:
        for s in self.servers:
            yield from self._call(s, CompareAndDelete(self.key, token), self.rpc_timeout_ms)

    def release(self) -> Generator[Any, Any, None]:
        op = self.client.invoke("release", self.token)
        token, self.holding = self.token, False
        if self.redlock:
            yield from self._release_all(token)
            self.client.complete(op, "ok", None)
        elif self.release_mode == "del":
            r = yield from self._call(self.primary, Del(self.key), self.rpc_timeout_ms)
            if r.ok and r.value not in (None, token):
                self.sim.history.event(self.sim.now, self.name, "deleted_foreign_lock",
                                       deleted=r.value)
            self.client.complete(op, r, {"deleted": r.value})
        else:
            # SOLUTION: release only if the lock is still ours: the compare-and-delete script
            # with this hold's token, then complete the op with the result
            r = yield from self._call(
                self.primary, CompareAndDelete(self.key, token), self.rpc_timeout_ms
            )
            self.client.complete(op, r)
            # END SOLUTION

    def _watchdog(self, token: str) -> Generator[Any, Any, None]:
        try:
            while True:
                # SOLUTION: every ttl/3: stop once this hold is over (released, or a new token);
                # else renew only if the lock is still ours (PExpireIfMine with the token); a
                # definite refusal means the lock was lost: record the node event
                # "renewal_refused" and stop
                yield from self._sleep(self.ttl_ms / 3)
                if not self.holding or self.token != token:
                    return
                r = yield from self._call(
                    self.primary, PExpireIfMine(self.key, token, self.ttl_ms), self.rpc_timeout_ms
                )
                if r.type == "fail" and self.holding and self.token == token:
                    self.sim.history.event(self.sim.now, self.name, "renewal_refused")
                    return
                # END SOLUTION
        except Crashed:
            return

    # -- the protected work ----------------------------------------------------------------------
    def work(self, work_ms: float) -> Generator[Any, Any, None]:
        """Read-modify-write of the shared counter on the storage service, taking ``work_ms``."""
        if self.storage is None:
            yield from self._sleep(work_ms)
            return
        # SOLUTION: read "counter", work work_ms, then write counter + 1 (recorded as a "write"
        # op); both requests carry this hold's fencing token, self.fence
        r = yield from self._call(self.storage, Read("counter", self.fence), self.rpc_timeout_ms)
        yield from self._sleep(work_ms)
        if not r.ok:
            return
        op = self.client.invoke("write", r.value + 1)
        w = yield from self._call(
            self.storage, Write("counter", r.value + 1, self.fence), self.rpc_timeout_ms
        )
        self.client.complete(op, w)
        # END SOLUTION

    def run(
        self, *, start_ms: float = 0.0, rounds: int = 1, work_ms: float = 50.0,
        think_ms: float = 10.0,
    ) -> Generator[Any, Any, None]:
        """The client's script: ``rounds`` times acquire, work, release, think."""
        try:
            yield from self._sleep(start_ms)
            for _ in range(rounds):
                if (yield from self.acquire()):
                    yield from self.work(work_ms)
                    yield from self.release()
                yield from self._sleep(think_ms * (0.5 + self.rng.random()))
        except Crashed:
            return
