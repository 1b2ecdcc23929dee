"""Unit tests of the lock cores, each handler called with a bare Context (no simulator).

One behaviour per test, named after the rule in the notes or the module docstrings.
"""

from __future__ import annotations

import pytest

from dslab.core import Context, Request, Response
from dslab.locks.redis import (
    NOT_AN_INTEGER,
    REPL_TIMER,
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
    release_channel,
)
from dslab.locks.storage import FencedStorage, Read, Write


def ask(server, body, *, now: float = 0.0, src: str = "c1", ctx: Context | None = None):
    ctx = ctx or Context("s1", now=now)
    ctx.local_time = now
    ctx.effects.clear()
    server.on_message(ctx, src, Request(7, body))
    replies = [e.msg for e in ctx.sent() if isinstance(e.msg, Response)]
    assert len(replies) == 1 and replies[0].id == 7
    return replies[0]


def test_set_nx_refuses_a_held_key():
    s = RedisLockServer()
    assert ask(s, SetNX("lock", "a", 100.0)).ok
    r = ask(s, SetNX("lock", "b", 100.0), now=10.0)
    assert not r.ok and r.error == "held"
    assert ask(s, Get("lock"), now=20.0).body == "a"


def test_set_nx_without_px_never_expires():
    s = RedisLockServer()
    ask(s, SetNX("lock", "a"))
    assert not ask(s, SetNX("lock", "b"), now=1e9).ok


def test_expiry_is_judged_on_the_servers_local_clock():
    s = RedisLockServer()
    ask(s, SetNX("lock", "a", 100.0), now=1000.0)  # expires at local 1100
    assert not ask(s, SetNX("lock", "b", 100.0), now=1099.9).ok
    assert ask(s, SetNX("lock", "b", 100.0), now=1100.0).ok  # the server's clock says so


def test_a_forward_clock_jump_expires_the_key_early():
    s = RedisLockServer()
    ask(s, SetNX("lock", "a", 500.0), now=0.0)
    # true time has moved 10 ms, but the local clock jumped +600 ms
    assert ask(s, SetNX("lock", "b", 500.0), now=610.0).ok


def test_compare_and_delete_deletes_only_the_owners_value():
    s = RedisLockServer()
    ask(s, SetNX("lock", "a", 100.0))
    r = ask(s, CompareAndDelete("lock", "b"), now=1.0)
    assert not r.ok and r.error == "not_owner"
    assert ask(s, Get("lock"), now=2.0).body == "a"
    assert ask(s, CompareAndDelete("lock", "a"), now=3.0).ok
    assert ask(s, Get("lock"), now=4.0).body is None


def test_compare_and_delete_after_expiry_leaves_the_new_holders_lock():
    s = RedisLockServer()
    ask(s, SetNX("lock", "a", 100.0))
    ask(s, SetNX("lock", "b", 100.0), now=150.0)
    assert not ask(s, CompareAndDelete("lock", "a"), now=160.0).ok
    assert ask(s, Get("lock"), now=161.0).body == "b"


def test_plain_del_deletes_someone_elses_lock():
    s = RedisLockServer()
    ask(s, SetNX("lock", "a", 100.0))
    ask(s, SetNX("lock", "b", 100.0), now=150.0)
    assert ask(s, Del("lock"), now=160.0).body == "b"  # a's release removed b's lock
    assert ask(s, Get("lock"), now=161.0).body is None


def test_pexpire_if_mine_renews_only_the_owners_lock():
    s = RedisLockServer()
    ask(s, SetNX("lock", "a", 100.0))
    assert ask(s, PExpireIfMine("lock", "a", 100.0), now=90.0).ok  # now expires at 190
    assert not ask(s, SetNX("lock", "b", 100.0), now=150.0).ok
    assert not ask(s, PExpireIfMine("lock", "b", 100.0), now=151.0).ok


def test_renewal_after_expiry_fails():
    s = RedisLockServer()
    ask(s, SetNX("lock", "a", 100.0))
    assert not ask(s, PExpireIfMine("lock", "a", 100.0), now=120.0).ok


def test_fencing_counter_strictly_increases_per_grant():
    s = RedisLockServer()
    fences = []
    for i in range(5):
        fences.append(ask(s, SetNX("lock", f"t{i}", 10.0), now=100.0 * i).body["fence"])
    assert fences == sorted(set(fences)) and fences[0] == 1
    assert ask(s, SetNX("other", "x", 10.0)).body["fence"] == 1  # per key


def test_refused_set_does_not_advance_the_fencing_counter():
    s = RedisLockServer()
    ask(s, SetNX("lock", "a", 100.0))
    ask(s, SetNX("lock", "b", 100.0), now=1.0)
    assert ask(s, SetNX("lock", "c", 100.0), now=200.0).body["fence"] == 2


def test_reentrant_lock_counts_per_holder():
    s = RedisLockServer()
    assert ask(s, HLock("lock", "c1", 1000.0)).body == 1
    assert ask(s, HLock("lock", "c1", 1000.0), now=1.0).body == 2
    r = ask(s, HLock("lock", "c2", 1000.0), now=2.0)
    assert not r.ok and r.error == "held"
    assert ask(s, HUnlock("lock", "c1", 1000.0), now=3.0).body == 1
    assert not ask(s, HLock("lock", "c2", 1000.0), now=4.0).ok
    assert ask(s, HUnlock("lock", "c1", 1000.0), now=5.0).body == 0
    assert ask(s, HLock("lock", "c2", 1000.0), now=6.0).body == 1


def test_reentrant_unlock_by_a_non_holder_fails():
    s = RedisLockServer()
    ask(s, HLock("lock", "c1", 1000.0))
    r = ask(s, HUnlock("lock", "c2"), now=1.0)
    assert not r.ok and r.error == "not_owner"


def test_reentrant_unlock_resets_the_lease_to_the_full_lease_time():
    # Redisson's unlock: count - 1; still above 0 -> PEXPIRE key leaseTime.
    s = RedisLockServer()
    ask(s, HLock("lock", "c1", 100.0), now=0.0)
    ask(s, HLock("lock", "c1", 100.0), now=10.0)  # lease until 110
    assert ask(s, HUnlock("lock", "c1", 100.0), now=80.0).body == 1  # lease until 180 again
    assert ask(s, PTtl("lock"), now=150.0).body == pytest.approx(30.0)
    assert not ask(s, HLock("lock", "c2", 100.0), now=150.0).ok  # past the old 110 deadline
    assert ask(s, HLock("lock", "c2", 100.0), now=180.0).ok  # the reset lease ran out


def test_reentrant_unlock_to_zero_deletes_the_key_and_publishes_the_release():
    s = RedisLockServer()
    ctx = Context("s1")
    ask(s, HLock("lock", "c1", 100.0), ctx=ctx)
    ask(s, HLock("lock", "c1", 100.0), ctx=ctx)
    ask(s, HUnlock("lock", "c1", 100.0), now=1.0, ctx=ctx)
    assert not [e for e in ctx.effects if getattr(e, "name", None) == "published"]
    assert ask(s, HUnlock("lock", "c1", 100.0), now=2.0, ctx=ctx).body == 0
    published = [e.data for e in ctx.effects if getattr(e, "name", None) == "published"]
    assert published == [{"channel": release_channel("lock"), "message": "unlocked"}]
    assert ask(s, PTtl("lock"), now=3.0, ctx=ctx).body == -2


def test_refused_reentrant_lock_answers_with_the_lease_left():
    s = RedisLockServer()
    ask(s, HLock("lock", "c1", 100.0), now=0.0)
    r = ask(s, HLock("lock", "c2", 100.0), now=30.0)
    assert (r.ok, r.error, r.body) == (False, "held", pytest.approx(70.0))


def test_pttl_is_minus_two_without_key_and_minus_one_without_expiry():
    s = RedisLockServer()
    assert ask(s, PTtl("lock")).body == -2
    ask(s, SetNX("lock", "a"))
    assert ask(s, PTtl("lock")).body == -1
    ask(s, SetNX("other", "a", 100.0), now=10.0)
    assert ask(s, PTtl("other"), now=35.0).body == pytest.approx(75.0)


@pytest.mark.parametrize("px", [0, -5, 0.0, -100.0])
def test_set_px_must_be_positive(px):
    s = RedisLockServer()
    r = ask(s, SetNX("lock", "a", px))
    assert (r.ok, r.error) == (False, "ERR invalid expire time in 'set' command")
    assert ask(s, Get("lock")).body is None  # nothing was written
    assert ask(s, SetNX("lock", "b", 100.0)).body == {"fence": 1}  # no token was spent


@pytest.mark.parametrize("px", [1.5, 99.999, float("nan"), float("inf"), "100", True])
def test_set_px_must_be_a_whole_number_of_milliseconds(px):
    s = RedisLockServer()
    ask(s, SetNX("lock", "a", 100.0))
    r = ask(s, SetNX("lock", "b", px), now=1.0)
    assert (r.ok, r.error) == (False, NOT_AN_INTEGER)
    assert ask(s, PTtl("lock"), now=1.0).body == pytest.approx(99.0)  # the held lock untouched


def test_set_px_accepts_an_integral_float_as_whole_milliseconds():
    s = RedisLockServer()
    assert ask(s, SetNX("lock", "a", 100.0)).ok
    assert ask(s, SetNX("other", "a", 100)).ok


def test_lock_scripts_check_the_lease_before_writing_anything():
    s = RedisLockServer()
    r = ask(s, HLock("lock", "c1", 0))
    assert (r.ok, r.error) == (False, "ERR invalid expire time in 'hlock' command")
    assert ask(s, PTtl("lock")).body == -2
    ask(s, HLock("lock", "c1", 100.0))
    ask(s, HLock("lock", "c1", 100.0))
    r = ask(s, HUnlock("lock", "c1", 2.5), now=1.0)
    assert (r.ok, r.error) == (False, NOT_AN_INTEGER)
    assert s.keys["lock"].value == {"c1": 2}  # the count was not decremented
    r = ask(s, PExpireIfMine("lock", "c1", -1), now=2.0)
    assert (r.ok, r.error) == (False, "ERR invalid expire time in 'pexpireifmine' command")


def test_plain_pexpire_sets_a_ttl_on_whatever_the_key_holds():
    s = RedisLockServer()
    assert ask(s, PExpire("lock", 100.0)).body == 0  # no key
    ask(s, SetNX("lock", "a"))  # SETNX: no expiry yet
    assert ask(s, PTtl("lock"), now=1.0).body == -1
    assert ask(s, PExpire("lock", 100.0), now=2.0).body == 1
    assert ask(s, PTtl("lock"), now=2.0).body == pytest.approx(100.0)
    assert ask(s, SetNX("lock", "b", 100.0), now=102.0).ok


def test_plain_pexpire_of_zero_deletes_the_key_and_rejects_fractions():
    s = RedisLockServer()
    ask(s, SetNX("lock", "a"))
    r = ask(s, PExpire("lock", 0.5), now=1.0)
    assert (r.ok, r.error) == (False, NOT_AN_INTEGER)
    assert ask(s, PExpire("lock", 0), now=2.0).body == 1
    assert ask(s, PTtl("lock"), now=2.0).body == -2


def test_master_replies_before_replicating():
    s = RedisLockServer(replica="r1", repl_interval_ms=50.0)
    ctx = Context("m1", now=0.0)
    s.on_message(ctx, "c1", Request(1, SetNX("lock", "a", 100.0)))
    assert [type(e.msg) for e in ctx.sent()] == [Response]  # nothing shipped yet
    assert ctx.timers() == {REPL_TIMER: 50.0}
    ctx.effects.clear()
    ctx.local_time = 50.0
    s.on_timer(ctx, REPL_TIMER)
    (sent,) = ctx.sent(Replicate)
    assert sent.dst == "r1" and sent.msg.value == "a" and sent.msg.fence == 1
    assert sent.msg.ttl_ms == pytest.approx(50.0)


def test_replica_applies_ttl_on_its_own_clock():
    r = RedisLockServer()
    ctx = Context("r1", now=5000.0)
    r.on_message(ctx, "m1", Replicate("lock", "a", 40.0, 3))
    assert not ask(r, SetNX("lock", "b", 100.0), now=5039.0, ctx=ctx).ok
    assert ask(r, SetNX("lock", "b", 100.0), now=5040.0, ctx=ctx).body["fence"] == 4


def test_bad_server_parameters_name_the_parameter():
    with pytest.raises(ValueError, match="repl_interval_ms=0"):
        RedisLockServer(repl_interval_ms=0)
    with pytest.raises(TypeError, match="replica=3"):
        RedisLockServer(replica=3)


def test_storage_rejects_a_token_lower_than_the_largest_seen():
    st = FencedStorage(fencing=True)
    assert ask(st, Read("x", 2)).ok
    r = ask(st, Write("x", 1, 1), now=1.0)
    assert not r.ok and r.error == "stale_token"
    assert ask(st, Write("x", 5, 2), now=2.0).ok
    assert ask(st, Write("x", 6, 3), now=3.0).ok and st.max_token == 3
    assert (st.accepted, st.rejected, st.data) == (2, 1, {"x": 6})


def test_storage_without_fencing_accepts_stale_writes():
    st = FencedStorage(fencing=False)
    ask(st, Write("x", 5, 2))
    assert ask(st, Write("x", 1, 1), now=1.0).ok and st.data == {"x": 1}
