"""The lock commands of :mod:`dslab.locks.redis` as Lua scripts for a real Redis (``EVAL``).

Redis runs a script atomically: no other command runs between its first and its last line, which
is what makes "compare, then delete" safe (the notes' Lua release). Each script here does on a real
Redis what one command of the model does, and ``tests/test_real_redis.py`` runs both on the same
command sequences and compares replies, values and TTLs.

Rules the scripts share with the model:

1. A lease argument is checked *before* anything is written (:data:`CHECK_LEASE`, the Lua twin of
   :func:`dslab.locks.redis.px_error`): a whole number of ms above 0, else an error reply. An empty
   string means "no lease" (the model's ``px_ms=None``).
2. Ownership is by value: the string lock's token, or the holder's field in the hash lock. A key of
   the other type is "not mine" (no ``WRONGTYPE`` error), as in the model.

Map to the model: :data:`COMPARE_AND_DELETE` = :class:`~dslab.locks.redis.CompareAndDelete`,
:data:`PEXPIRE_IF_MINE` = :class:`~dslab.locks.redis.PExpireIfMine`, :data:`HLOCK` =
:class:`~dslab.locks.redis.HLock` (Redisson's lock script), :data:`HUNLOCK` =
:class:`~dslab.locks.redis.HUnlock` (Redisson's unlock script). ``SET key token NX PX ms`` needs no
script: it is one Redis command.

This module holds strings only; dslab does not depend on a Redis client.
"""

from __future__ import annotations

import math
from typing import Any

# Rule 1. ``^%-?%d+$`` accepts what Redis's integer parser accepts for a lease (no "1.5", "1e3",
# "0x10", " 5"); Lua's ``tonumber`` alone would take all of those.
CHECK_LEASE = """
local function lease_error(arg, command)
  if arg == '' then return nil end
  if not string.match(arg, '^%-?%d+$') then
    return 'ERR value is not an integer or out of range'
  end
  if tonumber(arg) <= 0 then
    return "ERR invalid expire time in '" .. command .. "' command"
  end
  return nil
end
local function set_lease(key, arg)
  if arg == '' then redis.call('PERSIST', key) else redis.call('PEXPIRE', key, arg) end
end
"""

COMPARE_AND_DELETE = """
-- KEYS[1] lock, ARGV[1] my token. 1: deleted; 0: not my lock (expired, or someone else's).
if redis.call('TYPE', KEYS[1])['ok'] ~= 'string' then return 0 end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
"""

PEXPIRE_IF_MINE = CHECK_LEASE + """
-- KEYS[1] lock, ARGV[1] my token, ARGV[2] lease ms. 1: renewed; 0: not my lock.
local bad = lease_error(ARGV[2], 'pexpireifmine')
if bad then return redis.error_reply(bad) end
if redis.call('TYPE', KEYS[1])['ok'] ~= 'string' then return 0 end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""

HLOCK = CHECK_LEASE + """
-- KEYS[1] lock (a hash holder -> count), ARGV[1] holder, ARGV[2] lease ms.
-- {1, count}: taken (free, or already mine), with a full lease; {0, pttl}: someone else's.
local bad = lease_error(ARGV[2], 'hlock')
if bad then return redis.error_reply(bad) end
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' or (kind == 'hash' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1) then
  local count = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
  set_lease(KEYS[1], ARGV[2])
  return {1, count}
end
return {0, redis.call('PTTL', KEYS[1])}
"""

HUNLOCK = CHECK_LEASE + """
-- KEYS[1] lock, KEYS[2] release channel, ARGV[1] holder, ARGV[2] the full lease ms.
-- The count left (a full lease again if above 0; deleted and published at 0); nil: not mine.
local bad = lease_error(ARGV[2], 'hunlock')
if bad then return redis.error_reply(bad) end
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return false end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return false end
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left > 0 then
  set_lease(KEYS[1], ARGV[2])
else
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', KEYS[2], 'unlocked')
end
return left
"""


def lease_arg(px_ms: Any) -> str:
    """How a lease travels to Redis: ``None`` as ``''``; a whole number as its digits (the model's
    ``100.0`` is ``'100'``); anything else as its text, which Redis then refuses (``'1.5'``)."""
    if px_ms is None:
        return ""
    if isinstance(px_ms, float) and math.isfinite(px_ms) and px_ms.is_integer():
        return str(int(px_ms))
    return str(px_ms)
