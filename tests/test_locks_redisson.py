"""Unit tests of Redisson's fair lock and read-write lock on the model server (bare Context)."""

from __future__ import annotations

import pytest

from dslab.core import Context, Request, Response
from dslab.locks import experiments as ex
from dslab.locks import plots
from dslab.locks.redis import HLock, HUnlock, PTtl, SetNX, release_channel
from dslab.locks.redisson import FLock, RedissonLockServer, RWLock, RWUnlock


def ask(server, body, *, now: float = 0.0, ctx: Context | None = None):
    ctx = ctx or Context("s1")
    ctx.local_time = now
    ctx.effects.clear()
    server.on_message(ctx, "c", Request(1, body))
    (reply,) = [e.msg for e in ctx.sent() if isinstance(e.msg, Response)]
    return reply


# --- fair lock -----------------------------------------------------------------------------------
def test_fair_lock_hands_the_lock_to_waiters_in_arrival_order():
    s = RedissonLockServer()
    assert ask(s, FLock("lock", "c1", 1000)).body == 1
    for i, c in enumerate(["c2", "c3", "c4"], start=1):
        r = ask(s, FLock("lock", c, 1000), now=float(i))
        assert (r.ok, r.error, r.body["position"]) == (False, "queued", i)
    ask(s, HUnlock("lock", "c1", 1000), now=10.0)
    # c4 and c3 ask first after the release, but only the head of the queue, c2, may take it
    assert ask(s, FLock("lock", "c4", 1000), now=11.0).body["position"] == 3
    assert ask(s, FLock("lock", "c3", 1000), now=12.0).body["position"] == 2
    assert ask(s, FLock("lock", "c2", 1000), now=13.0).body == 1
    assert s.queue(Context("s1", now=13.0), "lock") == ["c3", "c4"]


def test_fair_lock_reentry_by_the_holder_skips_the_queue():
    s = RedissonLockServer()
    ask(s, FLock("lock", "c1", 1000))
    ask(s, FLock("lock", "c2", 1000), now=1.0)
    assert ask(s, FLock("lock", "c1", 1000), now=2.0).body == 2


def test_fair_lock_evicts_a_waiter_that_stops_asking():
    s = RedissonLockServer()
    ctx = Context("s1")
    ask(s, FLock("lock", "c1", 1000), ctx=ctx)
    ask(s, FLock("lock", "c2", 1000, wait_ms=100.0), now=1.0, ctx=ctx)  # c2 then dies
    ask(s, FLock("lock", "c3", 1000, wait_ms=100.0), now=2.0, ctx=ctx)
    ask(s, HUnlock("lock", "c1", 1000), now=50.0, ctx=ctx)
    assert not ask(s, FLock("lock", "c3", 1000, wait_ms=100.0), now=60.0, ctx=ctx).ok
    r = ask(s, FLock("lock", "c3", 1000, wait_ms=100.0), now=101.0, ctx=ctx)  # c2's place lapsed
    assert r.ok and r.body == 1
    assert [e.data["holder"] for e in ctx.effects if getattr(e, "name", "") == "waiter_evicted"] \
        == ["c2"]


def test_fair_lock_rejects_a_bad_wait_time_with_an_error_reply():
    r = ask(RedissonLockServer(), FLock("lock", "c1", 1000, wait_ms=0))
    assert not r.ok and "wait_ms=0" in r.error


# --- read-write lock -----------------------------------------------------------------------------
def test_readers_share_the_lock():
    s = RedissonLockServer()
    assert ask(s, RWLock("rw", "r1", "read", 1000)).body == 1
    assert ask(s, RWLock("rw", "r2", "read", 1000), now=1.0).body == 1
    assert ask(s, RWLock("rw", "r1", "read", 1000), now=2.0).body == 2  # reentrant read


def test_a_writer_waits_for_every_reader():
    s = RedissonLockServer()
    ask(s, RWLock("rw", "r1", "read", 1000))
    ask(s, RWLock("rw", "r2", "read", 1000))
    r = ask(s, RWLock("rw", "w", "write", 1000), now=1.0)
    assert (r.ok, r.error, r.body) == (False, "held", pytest.approx(999.0))
    ask(s, RWUnlock("rw", "r1", "read", 1000), now=2.0)
    assert not ask(s, RWLock("rw", "w", "write", 1000), now=3.0).ok
    ask(s, RWUnlock("rw", "r2", "read", 1000), now=4.0)
    assert ask(s, RWLock("rw", "w", "write", 1000), now=5.0).body == 1


def test_a_writer_excludes_readers_and_other_writers():
    s = RedissonLockServer()
    ask(s, RWLock("rw", "w", "write", 1000))
    assert not ask(s, RWLock("rw", "r1", "read", 1000), now=1.0).ok
    assert not ask(s, RWLock("rw", "w2", "write", 1000), now=1.0).ok
    assert ask(s, RWLock("rw", "w", "write", 1000), now=2.0).body == 2  # reentrant write


def test_a_writer_may_also_read_but_a_reader_may_not_upgrade():
    s = RedissonLockServer()
    ask(s, RWLock("rw", "w", "write", 1000))
    assert ask(s, RWLock("rw", "w", "read", 1000), now=1.0).ok  # downgrade path
    ask(s, RWUnlock("rw", "w", "write", 1000), now=2.0)
    assert ask(s, RWLock("rw", "r2", "read", 1000), now=3.0).ok  # now only readers
    s2 = RedissonLockServer()
    ask(s2, RWLock("rw", "r", "read", 1000))
    assert not ask(s2, RWLock("rw", "r", "write", 1000), now=1.0).ok  # no upgrade


def test_rw_unlock_resets_the_lease_and_the_last_unlock_publishes():
    s = RedissonLockServer()
    ctx = Context("s1")
    ask(s, RWLock("rw", "r1", "read", 100), ctx=ctx)
    ask(s, RWLock("rw", "r2", "read", 100), now=10.0, ctx=ctx)
    ask(s, RWUnlock("rw", "r1", "read", 100), now=80.0, ctx=ctx)
    assert ask(s, PTtl("rw"), now=80.0, ctx=ctx).body == pytest.approx(100.0)
    assert ask(s, RWUnlock("rw", "r2", "read", 100), now=90.0, ctx=ctx).body == 0
    published = [e.data for e in ctx.effects if getattr(e, "name", "") == "published"]
    assert published == [{"channel": release_channel("rw"), "message": "unlocked"}]


def test_rw_unlock_of_a_hold_you_do_not_have_fails():
    s = RedissonLockServer()
    ask(s, RWLock("rw", "r1", "read", 1000))
    assert ask(s, RWUnlock("rw", "r1", "write", 1000)).error == "not_owner"
    assert ask(s, RWUnlock("rw", "r2", "read", 1000)).error == "not_owner"
    assert ask(s, RWLock("rw", "r1", "append", 1000)).error.startswith("ERR mode")


def test_lock_kinds_do_not_mix_under_one_key():
    s = RedissonLockServer()
    ask(s, SetNX("a", "token", 1000))
    assert not ask(s, RWLock("a", "r", "read", 1000)).ok
    ask(s, RWLock("b", "r", "read", 1000))
    assert not ask(s, HLock("b", "r", 1000)).ok
    assert not ask(s, FLock("b", "r", 1000)).ok


def test_rw_lock_lease_must_be_valid():
    r = ask(RedissonLockServer(), RWLock("rw", "r", "read", 0))
    assert (r.ok, r.error) == (False, "ERR invalid expire time in 'rwlock' command")


# --- on the simulator ----------------------------------------------------------------------------
def test_fair_lock_grants_in_arrival_order_on_every_seed():
    df = ex.fair_lock(range(8))
    fair = df[df["kind"] == "fair lock"]
    for seed, g in fair.groupby("seed"):
        assert list(g["order"]) == list(g["arrival"]), f"replay with seed={seed}"
    unfair = df[df["kind"] == "reentrant lock (not fair)"]
    assert (unfair["order"] != unfair["arrival"]).any()  # the retry timing decides there


def test_read_write_lock_lets_readers_share_and_keeps_the_writer_alone():
    holds, table = ex.rw_lock(1)
    t = table.set_index("kind")
    assert t.loc["read-write lock", "max_readers_at_once"] >= 2
    assert t.loc["exclusive lock", "max_readers_at_once"] == 1
    assert (t["writer_overlaps"] == 0).all()
    assert t.loc["read-write lock", "done_ms"] < t.loc["exclusive lock", "done_ms"]
    assert len(holds) == 2 * 5 * 3  # two kinds, five clients, three rounds each


def test_fair_and_rw_figures_carry_the_seed():
    fig = plots.plot_fair_lock(ex.fair_lock(range(2), waiters=2))
    assert "seed=0..1" in fig.axes[0].get_title()
    holds, table = ex.rw_lock(3, readers=2, rounds=1)
    assert "seed=3" in plots.plot_rw_lock(holds, table).axes[0].get_title(loc="left")
    with pytest.raises(TypeError, match="holds must be the first DataFrame of rw_lock"):
        plots.plot_rw_lock(table, table)
    with pytest.raises(ValueError, match="waiters=0"):
        ex.fair_lock([1], waiters=0)
