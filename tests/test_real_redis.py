"""Differential tests: the model lock server against a real Redis 7, command for command.

Each test sends the same command sequence to a real ``redis-server`` (``SET NX PX`` and the Lua
scripts of :mod:`dslab.locks.lua`) and to :class:`dslab.locks.RedisLockServer`, whose clock is the
test's real clock, and asserts that both answer the same and hold the same state. A TTL may
differ by a few ms (the model is asked just after Redis, and Redis counts whole ms). Expiry needs
real waiting, so the leases are short (80-250 ms) and every check sits at least 50 ms away from a
deadline. Marker ``real``; without redis-server the tests skip and say how to install it.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import pytest

redis = pytest.importorskip(
    "redis", reason="the redis Python client is missing: pip install -e '.[test]'"
)

from realservers_redis import (  # noqa: E402
    SKIP_NO_SERVER,
    ModelLocks,
    RealLocks,
    redis_server_binary,
    start_redis,
    stop_redis,
)

from dslab.locks.redis import NOT_AN_INTEGER  # noqa: E402

pytestmark = pytest.mark.real

TTL_SLACK_MS = 15.0  # model asked after Redis; scheduling noise on a busy 2-core machine
INVALID_SET_PX = "ERR invalid expire time in 'set' command"


@pytest.fixture(scope="session")
def redis_port():
    binary = redis_server_binary()
    if binary is None:
        if os.environ.get("DSLAB_REQUIRE_REAL") == "1":
            pytest.fail(f"DSLAB_REQUIRE_REAL=1 but {SKIP_NO_SERVER}")
        pytest.skip(SKIP_NO_SERVER)
    server = start_redis(binary)
    yield server.port
    stop_redis(server)


def same(model: Any, real: Any) -> bool:
    """Equal replies; a model TTL (a float, in ms) may exceed Redis's by up to TTL_SLACK_MS."""
    if isinstance(model, tuple) and isinstance(real, tuple):
        return len(model) == len(real) and all(map(same, model, real))
    if isinstance(model, float) and isinstance(real, int) and not isinstance(real, bool):
        return abs(model - real) <= TTL_SLACK_MS
    return model == real and type(model) is type(real)


class Pair:
    """Every method call goes to real Redis, then to the model; the replies must agree."""

    def __init__(self, model: ModelLocks, real: RealLocks) -> None:
        self.model, self.real = model, real

    def __getattr__(self, name: str):
        def both(*args: Any) -> Any:
            r = getattr(self.real, name)(*args)
            m = getattr(self.model, name)(*args)
            assert same(m, r), f"{name}{args}: model answered {m!r}, real Redis {r!r}"
            return r

        return both

    @staticmethod
    def sleep(ms: float) -> None:
        time.sleep(ms / 1000.0)


@pytest.fixture
def pair(redis_port):
    client = redis.Redis(port=redis_port, decode_responses=True, socket_timeout=2.0)
    client.flushall()
    start = time.monotonic()
    real = RealLocks(client)
    yield Pair(ModelLocks(clock=lambda: (time.monotonic() - start) * 1000.0), real)
    real.pubsub.close()
    client.close()


# --- SET NX PX -----------------------------------------------------------------------------------
def test_set_nx_px_grants_one_holder_and_refuses_the_rest(pair):
    assert pair.set_nx("lock", "a", 1000) == "OK"
    assert pair.set_nx("lock", "b", 1000) is None  # plain Redis: nil, no fencing token
    assert pair.get("lock") == "a"
    assert 900 < pair.pttl("lock") <= 1000
    assert pair.pttl("free") == -2


def test_set_nx_px_key_expires_after_px(pair):
    assert pair.set_nx("lock", "a", 100) == "OK"
    pair.sleep(30)
    assert pair.set_nx("lock", "b", 100) is None  # 70 ms left
    pair.sleep(130)
    assert pair.get("lock") is None  # 60 ms past the deadline
    assert pair.set_nx("lock", "b", 100) == "OK"


def test_set_nx_without_px_never_expires(pair):
    assert pair.set_nx("lock", "a") == "OK"
    assert pair.pttl("lock") == -1


@pytest.mark.parametrize("px", [0, -5, 0.0])
def test_set_px_zero_or_negative_is_an_invalid_expire_time(pair, px):
    assert pair.set_nx("lock", "a", px) == INVALID_SET_PX
    assert pair.state("lock") is None  # nothing written


@pytest.mark.parametrize("px", [1.5, "abc", "10ms", math.nan, math.inf, True])
def test_set_px_not_a_whole_number_is_not_an_integer(pair, px):
    pair.set_nx("lock", "a", 1000)
    assert pair.set_nx("lock", "b", px) == NOT_AN_INTEGER
    assert pair.state("lock") == "a"  # the held lock untouched


def test_set_px_integral_float_is_whole_milliseconds(pair):
    assert pair.set_nx("lock", "a", 250.0) == "OK"  # the model's float ms travel as "250"


# --- SETNX, then a separate PEXPIRE (the notes' crash window) -----------------------------------
def test_setnx_then_crash_before_pexpire_leaves_a_key_that_never_expires(pair):
    assert pair.set_nx("lock", "a") == "OK"  # the client dies here, before its PEXPIRE
    pair.sleep(60)
    assert pair.pttl("lock") == -1  # no expiry: held until someone deletes it by hand
    assert pair.set_nx("lock", "b", 100) is None


def test_plain_pexpire_sets_a_ttl_on_whatever_the_key_holds(pair):
    assert pair.pexpire("lock", 100) == 0  # no such key
    pair.set_nx("lock", "a")
    assert pair.pexpire("lock", 100) == 1
    assert 50 < pair.pttl("lock") <= 100
    assert pair.pexpire("lock", 2.5) == NOT_AN_INTEGER
    assert pair.pexpire("lock", 0) == 1  # 0 or less: the key is deleted at once
    assert pair.state("lock") is None


# --- the Lua release: compare and delete ---------------------------------------------------------
def test_compare_and_delete_only_the_owners_token_deletes(pair):
    pair.set_nx("lock", "a", 1000)
    assert pair.compare_and_delete("lock", "b") == 0
    assert pair.state("lock") == "a"
    assert pair.compare_and_delete("lock", "a") == 1
    assert pair.state("lock") is None
    assert pair.compare_and_delete("lock", "a") == 0


def test_compare_and_delete_after_expiry_spares_the_new_holder(pair):
    pair.set_nx("lock", "a", 80)
    pair.sleep(140)
    assert pair.set_nx("lock", "b", 1000) == "OK"
    assert pair.compare_and_delete("lock", "a") == 0  # a's late release
    assert pair.state("lock") == "b"


# --- renewal (the watchdog's PEXPIRE, only by the owner) -----------------------------------------
def test_renewal_extends_only_the_owners_lease(pair):
    pair.set_nx("lock", "a", 150)
    pair.sleep(90)
    assert pair.pexpire_if_mine("lock", "b", 150) == 0
    assert pair.pexpire_if_mine("lock", "a", 150) == 1
    assert pair.pttl("lock") > 100  # a full lease again, not the 60 ms that were left
    pair.sleep(100)  # past the first deadline (150 ms)
    assert pair.state("lock") == "a"
    pair.sleep(110)  # past the renewed one (about 240 ms)
    assert pair.state("lock") is None
    assert pair.pexpire_if_mine("lock", "a", 150) == 0  # too late to renew


@pytest.mark.parametrize(("px", "error"), [
    (0, "ERR invalid expire time in 'pexpireifmine' command"), (2.5, NOT_AN_INTEGER)])
def test_renewal_rejects_a_bad_lease(pair, px, error):
    pair.set_nx("lock", "a", 1000)
    assert pair.pexpire_if_mine("lock", "a", px) == error
    assert pair.pttl("lock") > 900


# --- the reentrant hash lock (Redisson's RLock) --------------------------------------------------
def test_reentrant_lock_counts_holds_with_hincrby(pair):
    assert pair.hlock("lock", "c1", 1000) == (1, 1)
    assert pair.hlock("lock", "c1", 1000) == (1, 2)
    refused, lease_left = pair.hlock("lock", "c2", 1000)
    assert refused == 0 and 900 < lease_left <= 1000  # the refusal carries PTTL
    assert pair.state("lock") == {"c1": 2}
    assert pair.hunlock("lock", "c2", 1000) is None  # not c2's lock
    assert pair.hunlock("lock", "c1", 1000) == 1
    assert pair.state("lock") == {"c1": 1}
    assert pair.hunlock("lock", "c1", 1000) == 0
    assert pair.state("lock") is None
    assert pair.hlock("lock", "c2", 1000) == (1, 1)


def test_reentrant_unlock_resets_the_lease_as_redisson_does(pair):
    pair.hlock("lock", "c1", 150)
    pair.hlock("lock", "c1", 150)
    pair.sleep(100)
    assert pair.pttl("lock") < 100  # about 50 ms left
    assert pair.hunlock("lock", "c1", 150) == 1
    assert pair.pttl("lock") > 100  # a full 150 ms lease again
    pair.sleep(100)  # past the old deadline
    assert pair.state("lock") == {"c1": 1}
    assert pair.hlock("lock", "c2", 150)[0] == 0
    pair.sleep(110)  # past the reset one
    assert pair.state("lock") is None
    assert pair.hlock("lock", "c2", 150) == (1, 1)


def test_reentrant_final_unlock_deletes_and_publishes_the_release(pair):
    pair.subscribe("lock")
    pair.hlock("lock", "c1", 1000)
    pair.hlock("lock", "c1", 1000)
    assert pair.hunlock("lock", "c1", 1000) == 1
    assert pair.published() == []  # still held: nobody is told
    assert pair.hunlock("lock", "c1", 1000) == 0
    assert pair.published(1.0) == ["unlocked"]
    assert pair.pttl("lock") == -2


def test_reentrant_lock_scripts_reject_a_bad_lease_before_writing(pair):
    assert pair.hlock("lock", "c1", 0) == "ERR invalid expire time in 'hlock' command"
    assert pair.hlock("lock", "c1", 1.5) == NOT_AN_INTEGER
    assert pair.state("lock") is None
    pair.hlock("lock", "c1", 1000)
    assert pair.hunlock("lock", "c1", -1) == "ERR invalid expire time in 'hunlock' command"
    assert pair.state("lock") == {"c1": 1}  # the count was not decremented


def test_a_string_lock_and_a_hash_lock_are_not_each_others(pair):
    pair.set_nx("lock", "a", 1000)
    assert pair.hlock("lock", "a", 1000)[0] == 0
    assert pair.hunlock("lock", "a", 1000) is None
    pair.hlock("hash", "c1", 1000)
    assert pair.compare_and_delete("hash", "c1") == 0
    assert pair.pexpire_if_mine("hash", "c1", 1000) == 0
    assert pair.state("hash") == {"c1": 1}


# --- expiry timing: the model's clock against real time ------------------------------------------
def test_expiry_happens_at_px_on_both_never_early(pair):
    px = 100
    t0 = time.monotonic()
    assert pair.real.set_nx("lock", "a", px) == "OK"
    assert pair.model.set_nx("lock", "a", px) == "OK"
    gone: dict[str, float] = {}
    while len(gone) < 2 and time.monotonic() - t0 < 1.0:
        for name, side in (("real", pair.real), ("model", pair.model)):
            if name not in gone and side.get("lock") is None:
                gone[name] = (time.monotonic() - t0) * 1000.0
        time.sleep(0.002)
    assert set(gone) == {"real", "model"}, f"a key outlived 1 s: {gone}"
    assert gone["real"] >= px and gone["model"] >= px  # no lock frees early
    assert gone["real"] < px + 50 and gone["model"] < px + 50
    assert abs(gone["real"] - gone["model"]) < TTL_SLACK_MS, gone
