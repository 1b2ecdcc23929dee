"""A real redis-server for the differential tests, and two adapters with one interface.

- :func:`start_redis` / :func:`stop_redis`: a throw-away ``redis-server`` on a free 127.0.0.1
  port, no persistence, its files in a temporary directory; start waits (bounded) for ``PING``.
- :class:`RealLocks` sends the lock commands to that server (``SET NX PX`` and the Lua scripts
  of :mod:`dslab.locks.lua`, by ``EVAL``).
- :class:`ModelLocks` sends the same commands to the model, :class:`dslab.locks.RedisLockServer`,
  by calling its handler with a bare :class:`dslab.core.Context` whose clock is the test's own
  real clock (ms since the adapter was made), so both sides are asked at the same real instants.

Both answer in Redis's terms: ``"OK"`` / ``None`` for ``SET NX``, 1 / 0 for the scripts, the
error text for an error reply. The model's fencing token (an extension) is dropped here, because
plain Redis answers ``SET NX`` with ``OK`` or nil.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from itertools import count
from typing import Any

from dslab.core import Context, Log, Request, Response
from dslab.locks import lua
from dslab.locks.redis import (
    CompareAndDelete,
    Get,
    HLock,
    HUnlock,
    PExpire,
    PExpireIfMine,
    PTtl,
    RedisLockServer,
    SetNX,
    release_channel,
)

SKIP_NO_SERVER = "redis-server not installed: run sudo .ci/system-deps"
START_TIMEOUT_S = 5.0


def redis_server_binary() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RedisProcess:
    proc: subprocess.Popen
    port: int
    tmp: tempfile.TemporaryDirectory


def start_redis(binary: str, attempts: int = 3) -> RedisProcess:
    """Start ``redis-server`` and wait until it answers ``PING`` (at most START_TIMEOUT_S each
    attempt; a new port if another process took ours in between)."""
    import redis

    last = ""
    for _ in range(attempts):
        tmp = tempfile.TemporaryDirectory(prefix="dslab-redis-")
        port = free_port()
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tmp.name],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if redis.Redis(port=port, socket_timeout=0.5).ping():
                    return RedisProcess(proc, port, tmp)
            except redis.exceptions.ConnectionError:
                time.sleep(0.02)
        last = f"redis-server on port {port} did not answer PING within {START_TIMEOUT_S} s"
        stop_redis(RedisProcess(proc, port, tmp))
    raise RuntimeError(last)


def stop_redis(server: RedisProcess) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(timeout=5)
    if server.proc.stdout is not None:
        server.proc.stdout.close()
    server.tmp.cleanup()


def _error_text(exc: Exception) -> str:
    """The error reply as Redis sent it. redis-py drops the leading ``ERR`` code (it picks the
    exception class from it), so it is put back; Redis 7 appends `` script: <sha>, on
    @user_script:N.`` to an error raised by a command inside a script, which is cut off."""
    text = str(exc).split(" script: ")[0]
    return text if text.startswith("ERR") else f"ERR {text}"


class RealLocks:
    """The lock commands on a real Redis (``client`` built with ``decode_responses=True``)."""

    def __init__(self, client: Any) -> None:
        self.r = client
        self.pubsub = client.pubsub()

    def _eval(self, script: str, keys: list[str], args: list[str]) -> Any:
        import redis

        try:
            return self.r.eval(script, len(keys), *keys, *args)
        except redis.exceptions.ResponseError as exc:
            return _error_text(exc)

    def set_nx(self, key: str, value: str, px: Any = None) -> Any:
        import redis

        extra = [] if px is None else ["PX", lua.lease_arg(px)]
        try:
            return "OK" if self.r.execute_command("SET", key, value, "NX", *extra) else None
        except redis.exceptions.ResponseError as exc:
            return _error_text(exc)

    def get(self, key: str) -> Any:
        return self.r.get(key)

    def compare_and_delete(self, key: str, value: str) -> Any:
        return self._eval(lua.COMPARE_AND_DELETE, [key], [value])

    def pexpire(self, key: str, px: Any) -> Any:
        import redis

        try:
            # the reply is the integer 1 or 0; redis-py turns it into a bool
            return int(self.r.execute_command("PEXPIRE", key, lua.lease_arg(px)))
        except redis.exceptions.ResponseError as exc:
            return _error_text(exc)

    def pexpire_if_mine(self, key: str, value: str, px: Any) -> Any:
        return self._eval(lua.PEXPIRE_IF_MINE, [key], [value, lua.lease_arg(px)])

    def hlock(self, key: str, holder: str, px: Any) -> Any:
        out = self._eval(lua.HLOCK, [key], [holder, lua.lease_arg(px)])
        return tuple(out) if isinstance(out, list) else out

    def hunlock(self, key: str, holder: str, px: Any) -> Any:
        return self._eval(lua.HUNLOCK, [key, release_channel(key)], [holder, lua.lease_arg(px)])

    def pttl(self, key: str) -> int:
        return self.r.pttl(key)

    def state(self, key: str) -> Any:
        """The key's value: a string, ``{holder: count}`` for a hash, ``None`` if absent."""
        kind = self.r.type(key)
        if kind == "hash":
            return {h: int(n) for h, n in self.r.hgetall(key).items()}
        return self.r.get(key) if kind == "string" else None

    def subscribe(self, key: str) -> None:
        self.pubsub.subscribe(release_channel(key))
        self.pubsub.get_message(timeout=1.0)  # the subscription's confirmation

    def published(self, timeout_s: float = 0.05) -> list[str]:
        msg = self.pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout_s)
        return [] if msg is None else [msg["data"]]


class ModelLocks:
    """The lock commands on the model, its clock read from ``clock()`` (ms) before each command."""

    def __init__(self, clock: Any) -> None:
        self.server = RedisLockServer()
        self.ctx = Context("redis")
        self.clock = clock
        self.ids = count(1)
        self.channels: set[str] = set()
        self.outbox: list[str] = []

    def ask(self, body: Any) -> Response:
        self.ctx.local_time = float(self.clock())
        self.ctx.effects.clear()
        rid = next(self.ids)
        self.server.on_message(self.ctx, "test", Request(rid, body))
        for e in self.ctx.effects:
            if isinstance(e, Log) and e.name == "published" and e.data["channel"] in self.channels:
                self.outbox.append(e.data["message"])
        (reply,) = [e.msg for e in self.ctx.sent() if isinstance(e.msg, Response)]
        assert reply.id == rid
        return reply

    @staticmethod
    def _error(r: Response) -> str | None:
        return r.error if r.error is not None and r.error.startswith("ERR") else None

    def set_nx(self, key: str, value: str, px: Any = None) -> Any:
        r = self.ask(SetNX(key, value, px))
        return self._error(r) or ("OK" if r.ok else None)

    def get(self, key: str) -> Any:
        return self.ask(Get(key)).body

    def compare_and_delete(self, key: str, value: str) -> Any:
        r = self.ask(CompareAndDelete(key, value))
        return self._error(r) or int(r.ok)

    def pexpire(self, key: str, px: Any) -> Any:
        r = self.ask(PExpire(key, px))
        return self._error(r) or r.body

    def pexpire_if_mine(self, key: str, value: str, px: Any) -> Any:
        r = self.ask(PExpireIfMine(key, value, px))
        return self._error(r) or int(r.ok)

    def hlock(self, key: str, holder: str, px: Any) -> Any:
        r = self.ask(HLock(key, holder, px))
        return self._error(r) or ((1, r.body) if r.ok else (0, r.body))

    def hunlock(self, key: str, holder: str, px: Any) -> Any:
        r = self.ask(HUnlock(key, holder, px))
        return self._error(r) or (r.body if r.ok else None)

    def pttl(self, key: str) -> float:
        return self.ask(PTtl(key)).body

    def state(self, key: str) -> Any:
        self.ctx.local_time = float(self.clock())
        entry = self.server.live(self.ctx, key)
        if entry is None:
            return None
        return dict(entry.value) if isinstance(entry.value, dict) else entry.value

    def subscribe(self, key: str) -> None:
        self.channels.add(release_channel(key))

    def published(self, timeout_s: float = 0.05) -> list[str]:
        out, self.outbox = self.outbox[:1], self.outbox[1:]
        return out
