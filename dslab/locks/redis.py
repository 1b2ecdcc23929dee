"""A Redis-like lock server: ``SET key value NX PX ttl``, ``GET``, ``DEL``, the Lua release,
renewal, a reentrant hash lock, fencing tokens, and asynchronous replication to a replica.

Rules (the notes' section "基于 Redis 实现分布式锁"; Redis docs, "Distributed locks with Redis"):

1. **Mutual exclusion** (互斥) comes from ``SET key value NX``: set only if the key does not exist.
   The reply is a *definite* failure (``error="held"``) when someone else holds it.
2. **Expiry** (过期时间): ``PX ttl`` is set in the same command (atomic, as the notes insist). The
   server judges expiry on its **own local clock** (``ctx.now()``), lazily, whenever a command
   touches the key, as Redis does. A clock that jumps forward expires keys early: that is how
   a clock fault breaks a lock (Kleppmann 2016). ``PX`` counts whole milliseconds and must be
   positive, as in Redis: ``PX 0`` or ``PX -5`` is refused with ``ERR invalid expire time in
   'set' command`` and ``PX 1.5`` (or a string, a bool, NaN) with ``ERR value is not an integer
   or out of range``; the key is left untouched. The model's times are floats, so ``100.0`` is
   the integer 100. The lock scripts (rules 4 and 5) check their lease the same way before they
   write anything (:func:`px_error`). :class:`PTtl` reads the time left like Redis's ``PTTL``.
3. **Release only your own lock**: ``DEL`` deletes whatever is there, also a lock that expired and
   was taken by someone else. :meth:`RedisLockServer.compare_and_delete` is the notes' Lua script
   (``if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1])``): it
   deletes only when the value is the caller's random token.
4. **Renewal** (Redisson's watchdog, 看门狗): :class:`PExpireIfMine` resets the ttl only if the
   value is still the caller's. The plain :class:`PExpire` (Redis's ``PEXPIRE``) sets a ttl on
   whatever the key holds (1: set, 0: no such key; ``0`` or less deletes the key at once, as
   in Redis). ``SETNX`` followed by a separate ``PEXPIRE`` is the notes' broken lock: a client
   that dies between the two leaves a key that never expires.
5. **Reentrancy** (可重入): :class:`HLock` / :class:`HUnlock` keep ``holder -> count`` under the
   key, as Redisson's ``RLock`` does with a Redis hash. Lock: if the key is free or already the
   holder's, count + 1 and the lease is set to the full ``px_ms``; otherwise the refusal carries
   the lease left (Redisson's script returns ``PTTL``). Unlock (Redisson's ``unlockInnerAsync``):
   count - 1; if it is still above 0 the lease is reset to the full ``px_ms`` (the holder still
   holds it, so it gets a whole lease again); at 0 the key is deleted and the release is
   published on the lock's channel so that waiters can retry at once. The simulator's clients do
   not subscribe, so the model records the publication as a node event ``published``.
6. **Fencing tokens** are this model's *extension*, not Redis: plain ``SET NX`` answers only
   ``OK`` or nil. Here each successful lock grant of a key increments a per-key counter and
   returns it (``body={"fence": n}``); a storage service can reject writes carrying an older
   token (:mod:`dslab.locks.storage`).
7. **Asynchronous replication** (Redis 集群, 异步同步): with ``replica=`` set, the master buffers
   its changes and ships them every ``repl_interval_ms``, *after* replying to the client. If the
   master dies before shipping, the replica never learns of the lock, and after a failover a
   second client can take it: two holders.

Map to the code: commands are frozen dataclasses sent inside :class:`dslab.core.Request`; the
handler answers with :class:`dslab.core.Response` (``ok=False``: definitely not done). The same
commands as Lua scripts for a real Redis are in :mod:`dslab.locks.lua`; ``tests/test_real_redis.py``
runs both side by side and compares their replies and state.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from dslab._validate import check_number, check_type
from dslab.core import Context, Handler, Request, Response

REPL_TIMER = "replicate"
NOT_AN_INTEGER = "ERR value is not an integer or out of range"


def px_error(command: str, px_ms: Any) -> str | None:
    """Redis's check of an expiry in ms: ``None`` if ``px_ms`` is a positive whole number, else
    the error reply (``command`` names the command in it, as Redis does for ``'set'``)."""
    if isinstance(px_ms, bool) or not isinstance(px_ms, int | float):
        return NOT_AN_INTEGER
    if isinstance(px_ms, float) and not px_ms.is_integer():  # 1.5, nan, inf
        return NOT_AN_INTEGER
    if px_ms <= 0:
        return f"ERR invalid expire time in '{command}' command"
    return None


# --- commands -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SetNX:
    """``SET key value NX [PX px_ms]`` (``px_ms=None``: no expiry, the naive ``SETNX``)."""

    key: str
    value: str
    px_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Get:
    key: str


@dataclass(frozen=True, slots=True)
class Del:
    """``DEL key``: deletes whatever value is there (the unsafe release)."""

    key: str


@dataclass(frozen=True, slots=True)
class CompareAndDelete:
    """The Lua release: delete ``key`` only if its value is ``value``."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class PExpire:
    """``PEXPIRE key px_ms``: a ttl on whatever ``key`` holds (the second command of the naive
    ``SETNX`` + ``EXPIRE`` lock)."""

    key: str
    px_ms: float


@dataclass(frozen=True, slots=True)
class PExpireIfMine:
    """Renewal: ``PEXPIRE key px_ms`` only if the value is still ``value``."""

    key: str
    value: str
    px_ms: float


@dataclass(frozen=True, slots=True)
class HLock:
    """Reentrant acquire: ``holder``'s count + 1 if free or already ``holder``'s."""

    key: str
    holder: str
    px_ms: float | None = None


@dataclass(frozen=True, slots=True)
class HUnlock:
    """Reentrant release: ``holder``'s count - 1; above 0 the lease is reset to ``px_ms`` (the
    lock's full lease, as Redisson passes it; ``None``: a lock without expiry); at 0 the key is
    deleted and the release published."""

    key: str
    holder: str
    px_ms: float | None = None


@dataclass(frozen=True, slots=True)
class PTtl:
    """``PTTL key``: ms left before the key expires; -1 if it never expires, -2 if absent."""

    key: str


@dataclass(frozen=True, slots=True)
class Replicate:
    """Master -> replica: the new state of ``key`` (``value=None``: deleted); ``ttl_ms`` is the
    time left on the master's clock, re-based on the replica's own clock."""

    key: str
    value: Any
    ttl_ms: float | None
    fence: int


@dataclass(slots=True)
class Entry:
    value: Any  # a token string, or {holder: count} for a reentrant lock
    expires_at: float | None  # on this server's local clock


def release_channel(key: str) -> str:
    """The pub/sub channel on which the release of the reentrant lock ``key`` is announced."""
    return f"lock_channel:{key}"


class RedisLockServer(Handler):
    """One Redis instance serving lock commands (see the module rules).

    ``replica``: name of a replica node to ship changes to, every ``repl_interval_ms``.
    State is in memory only (a crash loses every key, like Redis without persistence).
    """

    def __init__(self, *, replica: str | None = None, repl_interval_ms: float = 50.0) -> None:
        if replica is not None:
            check_type("replica", replica, str)
        check_number("repl_interval_ms", repl_interval_ms, min=0, min_inclusive=False)
        self.replica = replica
        self.repl_interval_ms = float(repl_interval_ms)
        self.keys: dict[str, Entry] = {}
        self.fence: dict[str, int] = {}
        self.pending: set[str] = set()  # keys changed but not yet shipped to the replica
        self.timer_armed = False

    # -- helpers ---------------------------------------------------------------------------------
    def live(self, ctx: Context, key: str) -> Entry | None:
        """The entry of ``key``, after expiring it if its deadline has passed on *our* clock."""
        e = self.keys.get(key)
        if e is not None and e.expires_at is not None and ctx.now() >= e.expires_at:
            del self.keys[key]
            ctx.log("expired", key=key, value=e.value)
            self._changed(ctx, key)
            return None
        return e

    def _expiry(self, ctx: Context, px_ms: float | None) -> float | None:
        return None if px_ms is None else ctx.now() + px_ms

    def _grant(self, ctx: Context, key: str) -> int:
        self.fence[key] = self.fence.get(key, 0) + 1
        return self.fence[key]

    def _changed(self, ctx: Context, key: str) -> None:
        if self.replica is not None:
            self.pending.add(key)

    def _snapshot(self, ctx: Context, key: str) -> Replicate:
        """What the replica must know of ``key`` now (the ttl left on our clock)."""
        e = self.keys.get(key)
        ttl = None if e is None or e.expires_at is None else max(e.expires_at - ctx.now(), 0.0)
        value = None if e is None else copy.deepcopy(e.value)
        return Replicate(key, value, ttl, self.fence.get(key, 0))

    # -- the commands ----------------------------------------------------------------------------
    def set_nx(self, ctx: Context, key: str, value: str, px_ms: float | None) -> int | None:
        """``SET key value NX PX px_ms``: the new fencing token, or ``None`` if the key is held."""
        if self.live(ctx, key) is not None:
            return None
        self.keys[key] = Entry(value, self._expiry(ctx, px_ms))
        return self._grant(ctx, key)

    def compare_and_delete(self, ctx: Context, key: str, value: str) -> bool:
        """The Lua release script: delete ``key`` only if it still holds *my* ``value``."""
        entry = self.live(ctx, key)
        if entry is None or entry.value != value:
            return False  # expired, or someone else's lock now: leave it alone
        del self.keys[key]
        return True

    def pexpire(self, ctx: Context, key: str, px_ms: float) -> int:
        """Plain ``PEXPIRE``: 1 if ``key`` exists (a ttl of 0 or less deletes it), else 0."""
        entry = self.live(ctx, key)
        if entry is None:
            return 0
        if px_ms <= 0:
            del self.keys[key]
        else:
            entry.expires_at = ctx.now() + px_ms
        return 1

    def pexpire_if_mine(self, ctx: Context, key: str, value: str, px_ms: float) -> bool:
        entry = self.live(ctx, key)
        if entry is None or entry.value != value:
            return False
        entry.expires_at = ctx.now() + px_ms
        return True

    def pttl(self, ctx: Context, key: str) -> float:
        """``PTTL``: ms left on our clock; -1 for a key without expiry, -2 for no key."""
        entry = self.live(ctx, key)
        if entry is None:
            return -2
        return -1 if entry.expires_at is None else entry.expires_at - ctx.now()

    def hlock(self, ctx: Context, key: str, holder: str, px_ms: float | None) -> int | None:
        """Reentrant acquire: the holder's new count (and a full lease), or ``None`` if another
        holder has it."""
        entry = self.live(ctx, key)
        if entry is None:
            entry = self.keys[key] = Entry({}, None)
            self._grant(ctx, key)
        if not isinstance(entry.value, dict) or (entry.value and holder not in entry.value):
            return None
        entry.value[holder] = entry.value.get(holder, 0) + 1
        entry.expires_at = self._expiry(ctx, px_ms)
        return entry.value[holder]

    def hunlock(self, ctx: Context, key: str, holder: str, px_ms: float | None) -> int | None:
        """Reentrant release (Redisson's unlock script): the holder's count left, ``None`` if it
        is not the holder's lock. Still held: the lease is reset to the full ``px_ms``. Count 0:
        the key is deleted and the release published on :func:`release_channel`."""
        entry = self.live(ctx, key)
        if entry is None or not isinstance(entry.value, dict) or holder not in entry.value:
            return None
        entry.value[holder] -= 1
        left = entry.value[holder]
        if left > 0:
            entry.expires_at = self._expiry(ctx, px_ms)  # the holder gets a whole lease again
        else:
            del self.keys[key]
            ctx.log("published", channel=release_channel(key), message="unlocked")
        return left

    # -- dispatch --------------------------------------------------------------------------------
    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Replicate):
            self._apply_replica(ctx, msg)
            return
        if not isinstance(msg, Request):
            return
        body = msg.body
        bad_px = self._bad_px(body)
        if bad_px is not None:  # checked before anything is written, as Redis does
            ok, out, err = False, None, bad_px
        else:
            ok, out, err = self.execute(ctx, body)
        key = getattr(body, "key", None)
        if ok and key is not None and not isinstance(body, Get | PTtl):
            self._changed(ctx, key)
        ctx.send(src, Response(msg.id, ok, out, err))  # reply first: replication is async
        if self.pending and self.replica is not None and not self.timer_armed:
            ctx.set_timer(REPL_TIMER, self.repl_interval_ms)
            self.timer_armed = True

    def execute(self, ctx: Context, body: Any) -> tuple[bool, Any, str | None]:
        """Run one command: ``(ok, reply body, error)``. Subclasses add commands here."""
        ok, out, err = True, None, None
        if isinstance(body, SetNX):
            fence = self.set_nx(ctx, body.key, body.value, body.px_ms)
            ok, out, err = fence is not None, {"fence": fence}, None if fence else "held"
        elif isinstance(body, Get):
            e = self.live(ctx, body.key)
            out = None if e is None else e.value
        elif isinstance(body, Del):
            e = self.live(ctx, body.key)
            out = None if e is None else e.value  # the value it deleted (maybe not the caller's)
            self.keys.pop(body.key, None)
        elif isinstance(body, CompareAndDelete):
            ok = self.compare_and_delete(ctx, body.key, body.value)
            err = None if ok else "not_owner"
        elif isinstance(body, PExpire):
            out = self.pexpire(ctx, body.key, body.px_ms)
        elif isinstance(body, PExpireIfMine):
            ok = self.pexpire_if_mine(ctx, body.key, body.value, body.px_ms)
            err = None if ok else "not_owner"
        elif isinstance(body, PTtl):
            out = self.pttl(ctx, body.key)
        elif isinstance(body, HLock):
            count = self.hlock(ctx, body.key, body.holder, body.px_ms)
            if count is None:  # refused: Redisson's lock script answers with the lease left
                ok, out, err = False, self.pttl(ctx, body.key), "held"
            else:
                out = count
        elif isinstance(body, HUnlock):
            left = self.hunlock(ctx, body.key, body.holder, body.px_ms)
            ok, out, err = left is not None, left, None if left is not None else "not_owner"
        else:
            ok, err = False, f"unknown command {type(body).__name__}"
        return ok, out, err

    @staticmethod
    def _bad_px(body: Any) -> str | None:
        """The error reply for a command whose expiry argument Redis would refuse, or ``None``."""
        if not hasattr(body, "px_ms"):
            return None
        px = body.px_ms
        if isinstance(body, PExpire):  # Redis's PEXPIRE takes 0 or less: it deletes the key
            err = px_error("pexpire", px)
            return err if err == NOT_AN_INTEGER else None
        if px is None and not isinstance(body, PExpireIfMine):  # naive SETNX; no lease at all
            return None
        return px_error(_COMMAND_NAMES.get(type(body), type(body).__name__.lower()), px)

    def on_timer(self, ctx: Context, name: str) -> None:
        if name != REPL_TIMER:
            return
        self.timer_armed = False
        for key in sorted(self.pending):
            ctx.send(self.replica, self._snapshot(ctx, key))
        self.pending.clear()

    def _apply_replica(self, ctx: Context, msg: Replicate) -> None:
        if msg.value is None:
            self.keys.pop(msg.key, None)
        else:
            exp = None if msg.ttl_ms is None else ctx.now() + msg.ttl_ms
            self.keys[msg.key] = Entry(msg.value, exp)
        self.fence[msg.key] = max(self.fence.get(msg.key, 0), msg.fence)
        ctx.log("replicated", key=msg.key, value=msg.value)


# The command named in an expiry error: Redis's own for SET; the model's for the lock scripts.
_COMMAND_NAMES: dict[type, str] = {SetNX: "set", PExpireIfMine: "pexpireifmine", HLock: "hlock",
                                   HUnlock: "hunlock"}
