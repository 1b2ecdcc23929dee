"""Locks in a relational database, on a real SQLite file (the notes: 基于数据库实现分布式锁).

The notes' first way to build a distributed lock is the database every service already shares.
Two forms, run here on Python's :mod:`sqlite3`:

1. **Unique-index insert** (:class:`UniqueRowLock`): a table whose primary key is the lock's name.
   ``INSERT`` of the row succeeds for exactly one client; the others get a constraint violation
   (a definite refusal). Release deletes the row, only the owner's (``WHERE owner = ?``). The row
   is ordinary data: it has **no expiry**, so a holder that dies without deleting it blocks
   everyone until someone deletes it by hand, the same fault as ``SETNX`` without ``EXPIRE``.
2. **Transaction lock** (:class:`TransactionLock`): the lock is the write lock of an open
   transaction. MySQL's ``SELECT ... FOR UPDATE`` locks one row; SQLite locks the whole database
   file, and ``BEGIN IMMEDIATE`` takes that write lock at once (another writer gets "database is
   locked"; here ``timeout=0`` makes that an immediate refusal). The lock ends with ``COMMIT``
   or ``ROLLBACK``, **or when the holder's connection dies**: the database undoes the open
   transaction. So a crashed holder frees the lock; a hung holder (connection open, no
   progress) blocks everyone, and a transaction held open for a long time is costly for the
   database.

:func:`scenario` runs clients that each add 1 to a shared counter ``increments`` times (read,
then write), with no lock, or under one of the two locks, optionally crashing one holder inside
its critical section. It is deterministic although the database is real: the clients are
generators stepped round-robin by one thread, one SQL statement per step, so the interleaving
(and every lost update) is the same on every run.

This module is outside the simulated world (no ``Sim``, no simulated clock): SQLite is the real
thing here. It reads no clock and draws no random number.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

from dslab._validate import check_choice, check_number, check_type

LOCKS = ("none", "unique", "transaction")
SCHEMA = """
CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER);
INSERT OR IGNORE INTO counter (id, value) VALUES (1, 0);
"""


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions only where a lock opens one), with no busy
    wait: a locked database is refused at once instead of after a timeout. Creates the tables
    (``locks``, and ``counter`` at 0) in a new database file."""
    conn = sqlite3.connect(str(path), timeout=0, isolation_level=None)
    have = conn.execute("SELECT count(*) FROM sqlite_master WHERE name IN ('locks', 'counter')")
    if have.fetchone()[0] < 2:  # only the first connection writes the schema: a write would be
        conn.executescript(SCHEMA)  # refused while another connection holds the write lock
    return conn


class UniqueRowLock:
    """Rule 1: the lock is the row ``(name, owner)``; the primary key admits one row per name."""

    def __init__(self, conn: sqlite3.Connection, name: str, owner: str) -> None:
        check_type("conn", conn, sqlite3.Connection)
        check_type("name", name, str)
        check_type("owner", owner, str)
        self.conn, self.name, self.owner = conn, name, owner

    def acquire(self) -> bool:
        """``INSERT`` the row: ``True`` if it is ours now, ``False`` if the name is taken."""
        try:
            self.conn.execute("INSERT INTO locks (name, owner) VALUES (?, ?)",
                              (self.name, self.owner))
        except sqlite3.IntegrityError:
            return False
        return True

    def release(self) -> bool:
        """Delete the row if it is still ours; ``False`` if it was not."""
        cur = self.conn.execute("DELETE FROM locks WHERE name = ? AND owner = ?",
                                (self.name, self.owner))
        return cur.rowcount == 1

    def holder(self) -> str | None:
        row = self.conn.execute("SELECT owner FROM locks WHERE name = ?", (self.name,)).fetchone()
        return None if row is None else row[0]


class TransactionLock:
    """Rule 2: the lock is the write lock of the transaction ``BEGIN IMMEDIATE`` opens."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        check_type("conn", conn, sqlite3.Connection)
        self.conn = conn

    def acquire(self) -> bool:
        """Open a write transaction: ``True`` if we hold the write lock, ``False`` if another
        connection does ("database is locked")."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                return False
            raise
        return True

    def release(self) -> bool:
        """``COMMIT``: our writes become visible and the lock is free."""
        if not self.conn.in_transaction:
            return False
        self.conn.execute("COMMIT")
        return True


def _client(conn: sqlite3.Connection, lock: Any, increments: int,
            stats: dict[str, int]) -> Generator[str, None, None]:
    """One client's script, one SQL statement per step; yields the name of the step."""
    for _ in range(increments):
        if lock is not None:
            while not lock.acquire():
                stats["refusals"] += 1
                yield "refused"
            yield "acquired"
        (value,) = conn.execute("SELECT value FROM counter WHERE id = 1").fetchone()
        yield "read"
        conn.execute("UPDATE counter SET value = ? WHERE id = 1", (value + 1,))
        stats["writes"] += 1
        yield "wrote"
        if lock is not None:
            lock.release()
            yield "released"


def scenario(lock: str = "unique", clients: int = 2, increments: int = 3,
             crash: str | None = None, max_steps: int = 500) -> dict[str, Any]:
    """Run ``clients`` clients, each adding 1 to the counter ``increments`` times, stepped
    round-robin. ``crash="c1"``: that client's connection closes right after it first acquires the
    lock (or, with ``lock="none"``, after its first read), as when its process dies. Stops when
    every live client is done or after ``max_steps`` steps (then ``stuck`` is true).

    Returns the outcome: ``expected`` (increments of the clients that did not crash),
    ``final_counter``, ``lost_updates`` (accepted writes minus the final counter), ``refusals``,
    ``stuck``, ``steps`` and ``trace`` (the ``(client, step)`` list)."""
    check_choice("lock", lock, LOCKS)
    check_number("clients", clients, min=1, max=26, integer=True)
    check_number("increments", increments, min=1, integer=True)
    check_number("max_steps", max_steps, min=1, integer=True)
    names = [f"c{i + 1}" for i in range(clients)]
    if crash is not None:
        check_choice("crash", crash, names)
    with tempfile.TemporaryDirectory(prefix="dslab-dblock-") as tmp:  # a fresh database file
        conns = {n: connect(Path(tmp) / "locks.db") for n in names}
        try:
            return _run(conns, lock, increments, crash, max_steps)
        finally:
            for c in conns.values():
                c.close()


def _run(conns: dict[str, sqlite3.Connection], lock: str, increments: int, crash: str | None,
         max_steps: int) -> dict[str, Any]:
    stats = {"refusals": 0, "writes": 0}
    scripts = {}
    for n, conn in conns.items():
        lk = {"none": None, "unique": lambda c=conn, o=n: UniqueRowLock(c, "lock", o),
              "transaction": lambda c=conn: TransactionLock(c)}[lock]
        scripts[n] = _client(conn, lk() if lk else None, increments, stats)
    crash_on = "read" if lock == "none" else "acquired"
    trace: list[tuple[str, str]] = []
    live = list(scripts)
    steps = 0
    while live and steps < max_steps:
        for n in list(live):
            step = next(scripts[n], None)
            steps += 1
            if step is None:
                live.remove(n)
                continue
            trace.append((n, step))
            if n == crash and step == crash_on:
                conns[n].close()  # the process dies: no release, no commit
                trace.append((n, "crashed"))
                live.remove(n)
    survivors = [c for n, c in conns.items() if n != crash]
    final = None
    if survivors:
        (final,) = survivors[0].execute("SELECT value FROM counter WHERE id = 1").fetchone()
    expected = increments * len(survivors)
    return {"lock": lock, "crash": crash, "expected": expected, "final_counter": final,
            "lost_updates": None if final is None else stats["writes"] - final,
            "refusals": stats["refusals"], "stuck": bool(live), "steps": steps, "trace": trace}
