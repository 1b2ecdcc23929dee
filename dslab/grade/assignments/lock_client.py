"""Assignment ``lock-client``: a lock client with a watchdog and fencing tokens (分布式锁).

The student writes the bodies marked ``# SOLUTION`` in :mod:`dslab.locks.client`, the client
side of the chapter's Redis lock: a fresh token per acquisition, ``SET key token NX PX ttl`` in
one command, the watchdog that renews only while the lock is still the client's, release by
compare-and-delete, and the fencing token carried on every request to the storage. The lock
server (:class:`~dslab.locks.redis.RedisLockServer`) and the fenced storage
(:class:`~dslab.locks.storage.FencedStorage`) are the book's.

Tests:

- unit tests of each command against the book's lock server and storage, which record what the
  client sent (a client is a SimPy process, so a unit test is a two-node simulation);
- the chapter's scenarios (:func:`dslab.locks.experiments.run_locks` with the student's class):
  a GC pause and a clock jump with fencing on, judged by :func:`fenced_writes`; a lock that
  expires while its holder works (the chapter's wrong-release setup), judged by
  :func:`lease_exclusion`; a holder that crashes while another client's renewals run, judged by
  :func:`crashed_holder_expires`;
- a seed sweep with GC pauses and clock jumps, judged by :func:`fenced_writes`.

The checkers read the history only: client operations, the storage's ``written`` events, the
message journal (when each ``SET NX`` left) and the fault log.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dslab.check import mutual_exclusion
from dslab.check.verdict import OK, UNSAFE, Verdict
from dslab.core import Context, Request
from dslab.grade.framework import Assignment, Submission, per_seed, unit
from dslab.history import History
from dslab.locks.experiments import FENCING_FAULTS, LAN, lock_holds, run_locks
from dslab.locks.redis import CompareAndDelete, Del, PExpire, PExpireIfMine, RedisLockServer, SetNX
from dslab.locks.storage import FencedStorage
from dslab.sim import Sim, stream

NAME = "lock-client"
STORE = "store"

#: How the unit checks reach the student's code (said in every failure report).
DRIVER = "client run against the book's lock server and storage"


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


# -- the checkers ----------------------------------------------------------------------------------
def fenced_writes(history: History, storage: str = STORE) -> Verdict:
    """Fencing (Kleppmann 2016): every write the storage accepted carried a fencing token, the
    tokens never went down, and each accepted write wrote more than the one before it. Each
    write is "the counter I read, plus one", so a write that is not larger is a lost update: a
    holder whose lock had expired wrote after the next holder's write."""
    name = "fenced_writes"
    last: tuple[Any, Any, float] | None = None
    n = 0
    for ev in history.events:
        if ev.node != storage or ev.name != "written":
            continue
        n += 1
        value, token = ev.data.get("value"), ev.data.get("token")
        if token is None:
            return Verdict(name, UNSAFE, f"at {ev.time:.2f} ms the storage accepted a write of "
                           f"{value!r} that carried no fencing token: it could not refuse a "
                           "holder whose lock had expired", history.seed)
        if last is not None:
            lvalue, ltoken, ltime = last
            if token < ltoken:
                return Verdict(name, UNSAFE, f"at {ev.time:.2f} ms a write with token {token} "
                               f"was accepted after one with token {ltoken} ({ltime:.2f} ms)",
                               history.seed)
            if value <= lvalue:
                return Verdict(name, UNSAFE, f"lost update: at {ev.time:.2f} ms the storage "
                               f"accepted counter={value} (token {token}) after counter={lvalue} "
                               f"(token {ltoken}, at {ltime:.2f} ms); the writer worked on a "
                               "stale read", history.seed)
        last = (value, token, ev.time)
    return Verdict(name, OK, f"{n} writes accepted, each with a token, in token order, no lost "
                   "update", history.seed)


def lease_exclusion(history: History, ttl_ms: float) -> Verdict:
    """Mutual exclusion of *valid leases*, for clients without a watchdog on servers whose clocks
    are right: a hold (acquire ``ok`` to release invocation, or crash) counts only until its
    lease surely ran out, ``ttl_ms`` after its granting ``SET NX`` left the client (from the
    message journal). Two such holds overlap only if a release or a command freed a lock that
    was still someone else's."""
    holds = lock_holds(history)
    sends: dict[str, list[float]] = {}
    for m in history.messages:
        if m.type == "Request:SetNX":
            sends.setdefault(m.src, []).append(m.send_time)
    cut = []
    for h in holds.itertuples():
        sent = [t for t in sends.get(h.holder, []) if t <= h.start_ms]
        end = h.end_ms if not sent else min(h.end_ms, max(sent) + ttl_ms)
        cut.append({"holder": h.holder, "start_ms": h.start_ms, "end_ms": max(end, h.start_ms)})
    verdict = Verdict.of("mutual_exclusion(valid leases)", mutual_exclusion(cut), history.seed)
    if verdict.unsafe:
        return Verdict(verdict.checker, UNSAFE, verdict.explanation + "\nBoth leases were still "
                       "valid on the server: someone freed a lock that was not theirs.",
                       history.seed, verdict.details)
    return verdict


def crashed_holder_expires(history: History, ttl_ms: float, slack_ms: float = 25.0) -> Verdict:
    """Expiry frees a dead holder's lock (the notes' 过期时间): when a client crashes while it
    holds the lock, a client already waiting gets it within ``ttl_ms`` (plus ``slack_ms`` for a
    retry and a round trip). Only the dead holder's own renewals may have kept it alive, and they
    stopped at the crash."""
    name = "crashed_holder_expires"
    crashes = {f.args.get("node"): f.time for f in history.faults if f.verb == "crash"}
    holds = lock_holds(history)
    for who, t in sorted(crashes.items(), key=lambda kv: kv[1]):
        held = holds[(holds["holder"] == who) & (holds["start_ms"] <= t)
                     & (holds["end_ms"] >= t)]
        if held.empty:
            continue
        waiting = [inv.process for inv, comp in history.pairs() if inv.f == "acquire"
                   and inv.process != who and inv.time <= t and (comp is None or comp.time > t)]
        if not waiting:
            continue
        after = holds[(holds["holder"] != who) & (holds["start_ms"] > t)]
        deadline = t + ttl_ms + slack_ms
        got = float(after["start_ms"].min()) if len(after) else float("inf")
        if got > deadline:
            when = "never" if got == float("inf") else f"only at {got:.2f} ms"
            return Verdict(name, UNSAFE, f"{who} crashed at {t:.2f} ms holding the lock (ttl "
                           f"{ttl_ms:g} ms); a waiting client got it {when}, later than "
                           f"{deadline:.2f} ms: someone kept renewing a lock that was not "
                           "theirs", history.seed)
    return Verdict(name, OK, "every crashed holder's lock expired within the ttl", history.seed)


# -- unit tests: the client against recording servers ----------------------------------------------
class _RecordingServer(RedisLockServer):
    """The book's lock server, noting ``(true time, client, command)`` of every request."""

    def __init__(self, seen: list[tuple[float, str, Any]], clock: Any) -> None:
        super().__init__()
        self.seen, self.clock = seen, clock

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self.seen.append((self.clock(), src, msg.body))
        super().on_message(ctx, src, msg)


class _RecordingStorage(FencedStorage):
    def __init__(self, seen: list[tuple[float, str, Any]], clock: Any) -> None:
        super().__init__(fencing=True)
        self.seen, self.clock = seen, clock

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self.seen.append((self.clock(), src, msg.body))
        super().on_message(ctx, src, msg)


class _World:
    """One lock server ``s1``, a storage ``store``, and the student's clients."""

    def __init__(self, sub: Submission, seed: int = 0) -> None:
        self.sub = sub
        self.sim = Sim(seed=seed, latency=LAN)
        self.seen: list[tuple[float, str, Any]] = []
        self.stored: list[tuple[float, str, Any]] = []
        clock = lambda: self.sim.now  # noqa: E731
        self.sim.add_node("s1", lambda: _RecordingServer(self.seen, clock))
        self.sim.add_node(STORE, lambda: _RecordingStorage(self.stored, clock))

    def client(self, name: str, **kw: Any) -> Any:
        return self.sub.cls("LockClient")(self.sim, name, ["s1"], storage=STORE, **kw)

    def run(self, script: Any, until: float = 2000.0) -> None:
        self.sim.process(script)
        self.sim.run(until=until)

    def key(self) -> Any:
        """The lock key's value on the server now, or None if it is free (or expired)."""
        e = self.sim.handler("s1").keys.get("lock")
        if e is None or (e.expires_at is not None and e.expires_at <= self.sim.local_time("s1")):
            return None
        return e.value

    def sent(self, src: str, kind: type) -> list[tuple[float, Any]]:
        return [(t, b) for t, s, b in self.seen if s == src and isinstance(b, kind)]


def acquire_is_set_nx_px(sub: Submission) -> None:
    """acquire sends one SET lock token NX PX ttl per attempt with a token no other acquisition
    used, records the hold as an ok ``acquire`` with ``{"token", "fence"}``, and keeps the fencing
    token the server granted."""
    w = _World(sub)
    c1, c2 = w.client("c1", ttl_ms=100.0), w.client("c2", ttl_ms=100.0)
    fences = []

    def script() -> Any:
        for c in (c1, c2, c1):
            ok = yield from c.acquire()
            _check(ok is True, f"{c.name}.acquire() on a free lock returned {ok!r}, not True")
            fences.append(c.fence)
            yield from c.release()

    w.run(script())
    sets = [b for _, _, b in w.seen if isinstance(b, SetNX)]
    _check(len(sets) == 3, f"3 acquisitions of a free lock sent {len(sets)} SET NX commands")
    _check(all(b.key == "lock" and b.px_ms == 100.0 for b in sets),
           f"SET NX commands {sets}: each must set key 'lock' with PX 100 (the ttl) at once")
    tokens = [b.value for b in sets]
    _check(len(set(tokens)) == 3, f"tokens {tokens}: every acquisition needs its own token")
    _check(fences == [1, 2, 3], f"fencing tokens kept by the clients: {fences}; the server "
           "granted 1, 2, 3")
    oks = [op for op in w.sim.history.ops if op.f == "acquire" and op.type == "ok"]
    got = [(op.value or {}).get("token") for op in oks]
    _check(got == tokens, f"the acquire ops recorded tokens {got}; the SET NX sent {tokens}")


def release_is_compare_and_delete(sub: Submission) -> None:
    """release deletes the lock only if it still holds this hold's token (the Lua script): after
    its own lock expired and c2 took it, c1's release leaves c2's lock alone."""
    w = _World(sub)
    c1, c2 = w.client("c1", ttl_ms=100.0), w.client("c2", ttl_ms=100.0)
    state = {}

    def script() -> Any:
        yield from c1.acquire()
        yield from c1.release()
        state["after_own_release"] = w.key()
        yield from c1.acquire()
        state["c1_token"] = c1.token
        yield w.sim.sleep(150.0)  # c1's lease runs out while it "works"
        yield from c2.acquire()
        state["c2_token"] = c2.token
        yield from c1.release()
        state["after_late_release"] = w.key()

    w.run(script())
    _check(state.get("after_own_release") is None, "after c1 released its own lock the key is "
           f"still {state.get('after_own_release')!r}")
    rel = w.sent("c1", CompareAndDelete)
    _check(not w.sent("c1", Del), "release sent DEL, which deletes whoever holds the lock")
    _check(len(rel) == 2 and rel[1][1].value == state.get("c1_token"),
           f"c1's releases sent {[b for _, b in rel]}; expected compare-and-delete with c1's "
           "token, twice")
    _check(state.get("after_late_release") == state.get("c2_token"),
           f"c1's late release changed c2's lock: the key is {state.get('after_late_release')!r},"
           f" c2's token is {state.get('c2_token')!r}")


def watchdog_renews_only_as_owner(sub: Submission) -> None:
    """The watchdog renews every ttl/3 with the hold's token while the work runs; after a GC pause
    in which the lock went to c2 its renewal is refused (node event ``renewal_refused``) and
    c2's lock expires on time; after a release it renews nothing."""
    w = _World(sub)
    c1 = w.client("c1", ttl_ms=60.0, watchdog=True)
    c2 = w.client("c2", ttl_ms=60.0)
    state: dict[str, Any] = {}

    def script() -> Any:
        yield from c1.acquire()
        yield w.sim.sleep(200.0)
        state["held_at_200"], state["token"] = w.key(), c1.token
        yield from c1.release()
        state["released_at"] = w.sim.now
        yield w.sim.sleep(100.0)
        yield from c1.acquire()
        c1.pause(150.0, at=w.sim.now + 1.0)  # the lock expires during the pause
        yield w.sim.sleep(100.0)
        yield from c2.acquire()  # c2: no watchdog, ttl 60
        state["c2_at"] = w.sim.now
        yield w.sim.sleep(75.0)
        state["c2_key_later"] = w.key()

    w.run(script(), until=1500.0)
    _check(state.get("held_at_200") == state.get("token"), "200 ms into a 60 ms lease with the "
           f"watchdog on, the key is {state.get('held_at_200')!r}: it was not renewed")
    renew = w.sent("c1", PExpireIfMine)
    first = [b for t, b in renew if t < state["released_at"]]
    _check(len(first) >= 4 and all(b.value == state["token"] and b.px_ms == 60.0 for b in first),
           f"renewals during the first hold: {first}; expected PExpireIfMine('lock', token, 60) "
           "every 20 ms")
    _check(not w.sent("c1", PExpire), "the watchdog sent plain PEXPIRE, which renews whoever "
           "holds the lock")
    late = [t for t, _ in renew if state["released_at"] < t < state["released_at"] + 100.0]
    _check(not late, f"the watchdog renewed at {late} after the release at "
           f"{state['released_at']:.1f} ms")
    _check(state.get("c2_key_later") is None, f"75 ms after c2 took a 60 ms lock, the key is "
           f"{state.get('c2_key_later')!r}: c1's watchdog renewed c2's lock")
    _check(any(e.name == "renewal_refused" and e.node == "c1" for e in w.sim.history.events),
           "c1's refused renewal was not recorded as the node event 'renewal_refused'")


def writes_carry_the_fencing_token(sub: Submission) -> None:
    """work reads the counter and writes counter + 1 (a ``write`` op), both requests carrying the
    fencing token of the current hold."""
    w = _World(sub)
    c1, c2 = w.client("c1", ttl_ms=100.0), w.client("c2", ttl_ms=100.0)

    def script() -> Any:
        for c in (c1, c2):
            yield from c.acquire()
            yield from c.work(10.0)
            yield from c.release()

    w.run(script())
    got = [(s, type(b).__name__, b.token) for _, s, b in w.stored]
    want = [("c1", "Read", 1), ("c1", "Write", 1), ("c2", "Read", 2), ("c2", "Write", 2)]
    _check(got == want, f"requests to the storage (client, kind, token): {got}; expected {want}")
    _check(w.sim.handler(STORE).data.get("counter") == 2, "two holders each added one: the "
           f"counter is {w.sim.handler(STORE).data.get('counter')!r}, not 2")
    writes = [op.value for op in w.sim.history.ops if op.f == "write" and op.type == "invoke"]
    _check(writes == [1, 2], f"the write ops recorded {writes}; expected [1, 2]")


# -- the chapter's scenarios ----------------------------------------------------------------------
def _fenced(sub: Submission, seed: int, scenario: str) -> tuple[list[Verdict], History]:
    kw = dict(dict(clients=2, start_ms=[0.0, 20.0], duration_ms=600.0),
              **FENCING_FAULTS[scenario])
    res = run_locks(seed, fencing=True, client_cls=sub.cls("LockClient"), **kw)
    return [fenced_writes(res.history), _progress(res.metadata["summary"], 1, seed)], res.history


def _progress(summary: dict, writes: int, seed: int) -> Verdict:
    done = summary.get("writes_accepted", 0)
    if done >= writes:
        return Verdict("progress", OK, f"{done} writes accepted", seed)
    return Verdict("progress", UNSAFE, f"only {done} writes were accepted; expected at least "
                   f"{writes}", seed)


def gc_pause(sub: Submission, seed: int) -> tuple[list[Verdict], History]:
    """The chapter's GC pause: ttl 100 ms, watchdog on, c1 paused 300 ms while it works; the lock
    passes to c2 and c1 comes back with a stale token. Judged by fenced_writes."""
    return _fenced(sub, seed, "GC pause (watchdog on)")


def clock_jump(sub: Submission, seed: int) -> tuple[list[Verdict], History]:
    """The chapter's clock jump: the server's clock jumps 600 ms ahead and expires c1's lock
    early; c2 takes it. Judged by fenced_writes."""
    return _fenced(sub, seed, "clock jump on the server")


def expiry_while_working(sub: Submission, seed: int) -> tuple[list[Verdict], History]:
    """The chapter's wrong-release setup: ttl 100 ms and no watchdog; c1 works 150 ms, so its lock
    expires and c2 takes it; c1 then releases while c3 waits. Judged by lease_exclusion: no two
    unexpired leases at once."""
    res = run_locks(seed, clients=3, ttl_ms=100.0, work_ms=[150.0, 80.0, 60.0],
                    start_ms=[0.0, 20.0, 110.0], duration_ms=350.0,
                    client_cls=sub.cls("LockClient"))
    holds = res.frame
    got = Verdict("progress", OK if len(holds) == 3 else UNSAFE,
                  f"{len(holds)} of 3 clients got the lock", seed)
    return [lease_exclusion(res.history, 100.0), got], res.history


def crashed_holder(sub: Submission, seed: int) -> tuple[list[Verdict], History]:
    """ttl 100 ms, watchdog on, two rounds: c1 (work 600 ms) is paused 300 ms and loses the lock;
    c2 crashes at 340 ms, holding it in most seeds, while c3 waits. When c1 wakes up, its
    watchdog must not renew c2's lock. Judged by crashed_holder_expires."""
    faults = [{"verb": "pause_client", "client": "c1", "at": 50.0, "duration_ms": 300.0},
              {"verb": "crash_client", "client": "c2", "at": 340.0}]
    res = run_locks(seed, clients=3, rounds=2, ttl_ms=100.0, watchdog=True,
                    work_ms=[600.0, 400.0, 50.0], start_ms=[0.0, 20.0, 30.0], duration_ms=1500.0,
                    faults=faults,
                    client_cls=sub.cls("LockClient"))
    return [crashed_holder_expires(res.history, 100.0)], res.history


def sweep_faults(seed: int) -> list[dict]:
    """The sweep's faults, drawn from the seed: each client may get a GC pause, the server a
    forward clock jump."""
    rng = stream(seed, "lock-client/nemesis")
    faults: list[dict] = []
    for c in ("c1", "c2", "c3"):
        if rng.random() < 0.6:
            faults.append({"verb": "pause_client", "client": c, "at": rng.uniform(0.0, 1500.0),
                           "duration_ms": rng.uniform(30.0, 250.0)})
    if rng.random() < 0.5:
        faults.append({"verb": "clock_jump", "node": "s1", "delta_ms": rng.uniform(50.0, 300.0),
                       "at": rng.uniform(0.0, 2000.0)})
    return faults


def sweep(sub: Submission, seed: int) -> tuple[list[Verdict], History]:
    """Seed sweep: 3 clients, 4 rounds each, ttl 60 ms, watchdog and fencing on, works of 40, 90
    and 150 ms, with GC pauses and a server clock jump drawn from the seed. Judged by
    fenced_writes."""
    res = run_locks(seed, clients=3, rounds=4, ttl_ms=60.0, watchdog=True, fencing=True,
                    work_ms=[40.0, 90.0, 150.0], start_ms=[0.0, 3.0, 7.0], duration_ms=3000.0,
                    faults=sweep_faults(seed), client_cls=sub.cls("LockClient"))
    return [fenced_writes(res.history), _progress(res.metadata["summary"], 3, seed)], res.history


def _more_seeds(seeds: list[int]) -> list[int]:
    return sorted(set(seeds) | {s + 100 for s in seeds} | {s + 200 for s in seeds})


def holds_table(history: History) -> pd.DataFrame:
    """The holds of a run (for a teacher's look at a failed seed)."""
    return lock_holds(history)


def assignment() -> Assignment:
    tests = [
        unit("unit.acquire_is_set_nx_px", 2, acquire_is_set_nx_px,
             driver=DRIVER),
        unit("unit.release_is_compare_and_delete", 2, release_is_compare_and_delete,
             driver=DRIVER),
        unit("unit.watchdog_renews_only_as_owner", 2, watchdog_renews_only_as_owner,
             driver=DRIVER),
        unit("unit.writes_carry_the_fencing_token", 2, writes_carry_the_fencing_token,
             driver=DRIVER),
        per_seed("scenario.gc_pause", 3, gc_pause),
        per_seed("scenario.clock_jump", 2, clock_jump),
        per_seed("scenario.expiry_while_working", 3, expiry_while_working),
        per_seed("scenario.crashed_holder", 2, crashed_holder),
        per_seed("sweep.pauses_and_clock_jumps", 4, sweep, seeds=_more_seeds),
    ]
    return Assignment(NAME, "A lock client with a watchdog and fencing tokens",
                      "dslab.locks.client", ("LockClient",), tests, chapter="locks")
