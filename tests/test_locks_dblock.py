"""The database locks on a real SQLite file (dslab.locks.dblock), named after the notes' rules.

Real connections, real constraint violations and real "database is locked" errors; the crash of a
holder is a real process killed while it holds the lock, or its connection closed unreleased.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from dslab.locks import dblock, plots
from dslab.locks import experiments as ex


@pytest.fixture
def db(tmp_path):
    return tmp_path / "locks.db"


def test_unique_index_insert_lets_exactly_one_client_in(db):
    a, b = dblock.connect(db), dblock.connect(db)
    la, lb = dblock.UniqueRowLock(a, "lock", "c1"), dblock.UniqueRowLock(b, "lock", "c2")
    assert la.acquire()
    assert not lb.acquire()  # the primary key refuses a second row
    assert lb.holder() == "c1"
    assert la.release()
    assert lb.acquire() and la.holder() == "c2"


def test_unique_index_release_deletes_only_the_owners_row(db):
    a, b = dblock.connect(db), dblock.connect(db)
    la, lb = dblock.UniqueRowLock(a, "lock", "c1"), dblock.UniqueRowLock(b, "lock", "c2")
    la.acquire()
    assert not lb.release()
    assert lb.holder() == "c1"


def test_unique_index_lock_has_no_expiry_a_dead_holder_blocks_everyone(db):
    a, b = dblock.connect(db), dblock.connect(db)
    dblock.UniqueRowLock(a, "lock", "c1").acquire()
    a.close()  # the holder's connection dies without deleting its row
    assert not dblock.UniqueRowLock(b, "lock", "c2").acquire()


def test_transaction_lock_refuses_a_second_writer(db):
    a, b = dblock.connect(db), dblock.connect(db)
    ta, tb = dblock.TransactionLock(a), dblock.TransactionLock(b)
    assert ta.acquire()
    assert not tb.acquire()  # "database is locked", at once (timeout=0)
    assert ta.release()
    assert tb.acquire() and tb.release()
    assert not tb.release()  # nothing to commit


def test_transaction_lock_dies_with_the_holders_connection(db):
    a, b = dblock.connect(db), dblock.connect(db)
    ta = dblock.TransactionLock(a)
    ta.acquire()
    a.execute("UPDATE counter SET value = 99 WHERE id = 1")
    a.close()  # no COMMIT: the database rolls the transaction back and frees the lock
    tb = dblock.TransactionLock(b)
    assert tb.acquire()
    assert b.execute("SELECT value FROM counter").fetchone() == (0,)  # the write was undone


HOLDER = textwrap.dedent("""
    import sys, time
    from dslab.locks import dblock
    conn = dblock.connect(sys.argv[1])
    ok = (dblock.UniqueRowLock(conn, "lock", "child").acquire() if sys.argv[2] == "unique"
          else dblock.TransactionLock(conn).acquire())
    print("locked" if ok else "refused", flush=True)
    time.sleep(30)  # hold the lock until killed
""")


@pytest.mark.parametrize(("kind", "freed"), [("unique", False), ("transaction", True)])
def test_a_killed_holder_process_frees_only_the_transaction_lock(db, kind, freed):
    dblock.connect(db).close()  # create the schema before the child starts
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), kind],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        me = dblock.connect(db)
        lock = dblock.UniqueRowLock(me, "lock", "me") if kind == "unique" \
            else dblock.TransactionLock(me)
        assert not lock.acquire()  # held by the live child
    finally:
        child.kill()
        child.wait(timeout=10)
        child.stdout.close()
    assert lock.acquire() is freed


def test_without_a_lock_the_interleaved_read_modify_writes_lose_updates():
    out = dblock.scenario("none", clients=3, increments=3)
    assert out["final_counter"] < out["expected"] and out["lost_updates"] > 0


@pytest.mark.parametrize("lock", ["unique", "transaction"])
def test_under_either_lock_no_update_is_lost(lock):
    out = dblock.scenario(lock, clients=3, increments=3)
    assert (out["final_counter"], out["lost_updates"], out["stuck"]) == (9, 0, False)
    assert out["refusals"] > 0  # the clients did contend


def test_a_crashed_holder_leaves_the_unique_row_lock_stuck_but_not_the_transaction_lock():
    stuck = dblock.scenario("unique", clients=3, increments=3, crash="c1", max_steps=200)
    assert stuck["stuck"] and stuck["final_counter"] == 0
    freed = dblock.scenario("transaction", clients=3, increments=3, crash="c1", max_steps=200)
    assert not freed["stuck"] and freed["final_counter"] == freed["expected"] == 6


def test_db_scenario_is_the_same_on_every_run():
    a = dblock.scenario("unique", clients=3, increments=2, crash=None)
    b = dblock.scenario("unique", clients=3, increments=2, crash=None)
    assert a["trace"] == b["trace"]


def test_db_locks_table_and_figure():
    df = ex.db_locks(clients=2, increments=2, max_steps=100)
    assert list(df["lock"]) == ["none", "none", "unique", "unique", "transaction", "transaction"]
    assert list(df["stuck"]) == [False, False, False, True, False, False]
    fig = plots.plot_db_locks(df)
    assert "SQLite" in fig.axes[0].get_title()


def test_db_scenario_rejects_bad_arguments():
    with pytest.raises(ValueError, match="lock='row'"):
        dblock.scenario("row")
    with pytest.raises(ValueError, match="crash='c9'"):
        dblock.scenario("unique", clients=2, crash="c9")
    with pytest.raises(TypeError, match="conn=None"):
        dblock.TransactionLock(None)
