"""The MIT 6.5840 Raft lab scenarios (3A election, 3B agreement, 3C persistence, 3D snapshots),
re-expressed on dslab's harness, in simulated time, for any server class.

Each scenario is ``scenario(seed, node_cls=RaftNode)``: it keeps the lab's bounds (10 s for
``one``, 2 elections' worth of waiting, RPC and byte budgets), raises
:class:`~dslab.raft.harness.HarnessError` naming the failing step and ending with "replay with
seed=N", and finishes with ``check_safety()`` (Election Safety, Log Matching). See
:mod:`dslab.raft.harness` for the interface a server class must have. :data:`SCENARIOS` maps
each name to its function, grouped by part in :data:`PARTS`; the tests
(``tests/test_raft_scenarios.py``) and the grader (:mod:`dslab.grade`) run the same functions.
"""

from __future__ import annotations

from collections.abc import Callable

from dslab.raft.harness import ELECTION_TIMEOUT_MS, SNAPSHOT_INTERVAL, Harness
from dslab.raft.node import RaftNode


def make(n: int, seed: int, node_cls: type = RaftNode, **kwargs) -> Harness:
    """A harness of ``n`` servers of ``node_cls``."""
    return Harness(n, seed=seed, node_cls=node_cls, **kwargs)


def rand_int(h: Harness) -> int:
    return h.rng.randrange(2**31)


def rand_string(h: Harness, n: int) -> str:
    return "".join(h.rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


# ================================================================================================
# 3A: leader election
# ================================================================================================
def initial_election(seed: int, node_cls: type = RaftNode) -> None:
    h = make(3, seed=seed, node_cls=node_cls)
    h.begin("InitialElection")
    h.step("is a leader elected?")
    h.check_one_leader()
    h.sleep(50)
    term1 = h.check_terms()
    if term1 < 1:
        h.fail(f"term is {term1}, but should be at least 1")
    h.step("does the leader and term stay the same if there is no network failure?")
    h.sleep(2 * ELECTION_TIMEOUT_MS)
    term2 = h.check_terms()
    if term1 != term2:
        h.fail("term changed without failures")
    h.check_one_leader()
    h.check_safety()


def re_election(seed: int, node_cls: type = RaftNode) -> None:
    h = make(3, seed=seed, node_cls=node_cls)
    h.begin("ReElection")
    leader1 = h.check_one_leader()
    h.step("a new leader is elected when the old one disconnects")
    h.disconnect(leader1)
    h.check_one_leader()
    h.step("the old leader rejoins: it must not disturb the new one")
    h.connect(leader1)
    leader2 = h.check_one_leader()
    h.step("no quorum: no leader")
    h.disconnect(leader2)
    h.disconnect((leader2 + 1) % 3)
    h.sleep(2 * ELECTION_TIMEOUT_MS)
    h.check_no_leader()
    h.step("a quorum again: a leader is elected")
    h.connect((leader2 + 1) % 3)
    h.check_one_leader()
    h.step("the last node rejoins: there is still one leader")
    h.connect(leader2)
    h.check_one_leader()
    h.check_safety()


def many_elections(seed: int, node_cls: type = RaftNode) -> None:
    n = 7
    h = make(n, seed=seed, node_cls=node_cls)
    h.begin("ManyElections")
    h.check_one_leader()
    for it in range(10):
        h.step(f"iteration {it}: disconnect three random servers")
        victims = [h.rng.randrange(n) for _ in range(3)]
        for i in victims:
            h.disconnect(i)
        # Either the current leader is still alive, or the remaining four elect a new one.
        h.check_one_leader()
        for i in victims:
            h.connect(i)
    h.check_one_leader()
    h.check_safety()


# ================================================================================================
# 3B: log agreement
# ================================================================================================
def basic_agree(seed: int, node_cls: type = RaftNode) -> None:
    h = make(3, seed=seed, node_cls=node_cls)
    h.begin("BasicAgree")
    for index in range(1, 4):
        h.step(f"agreement on index {index}")
        count, _ = h.n_committed(index)
        if count > 0:
            h.fail("some have committed before start()")
        got = h.one(index * 100, 3, False)
        if got != index:
            h.fail(f"got index {got} but expected {index}")
    h.check_safety()


def rpc_bytes(seed: int, node_cls: type = RaftNode) -> None:
    """Each command is sent to each peer (about) once."""
    servers = 3
    h = make(servers, seed=seed, node_cls=node_cls)
    h.begin("RPCBytes")
    h.one(99, servers, False)
    bytes0 = h.bytes_total()
    sent = 0
    for index in range(2, 12):
        h.step(f"a 5000-byte command at index {index}")
        cmd = rand_string(h, 5000)
        got = h.one(cmd, servers, False)
        if got != index:
            h.fail(f"got index {got} but expected {index}")
        sent += len(cmd)
    got_bytes = h.bytes_total() - bytes0
    expected = servers * sent
    if got_bytes > expected + 50_000:
        h.fail(f"too many RPC bytes; got {got_bytes}, expected {expected}")
    h.check_safety()


def follower_failure(seed: int, node_cls: type = RaftNode) -> None:
    servers = 3
    h = make(servers, seed=seed, node_cls=node_cls)
    h.begin("FollowerFailure")
    h.one(101, servers, False)
    h.step("disconnect one follower")
    leader1 = h.check_one_leader()
    h.disconnect((leader1 + 1) % servers)
    h.one(102, servers - 1, False)
    h.sleep(ELECTION_TIMEOUT_MS)
    h.one(103, servers - 1, False)
    h.step("disconnect the remaining follower")
    leader2 = h.check_one_leader()
    h.disconnect((leader2 + 1) % servers)
    h.disconnect((leader2 + 2) % servers)
    index, _, ok = h.start(leader2, 104)
    if not ok:
        h.fail("leader rejected start()")
    if index != 4:
        h.fail(f"expected index 4, got {index}")
    h.sleep(2 * ELECTION_TIMEOUT_MS)
    count, _ = h.n_committed(index)
    if count > 0:
        h.fail(f"{count} committed but no majority")
    h.check_safety()


def leader_failure(seed: int, node_cls: type = RaftNode) -> None:
    servers = 3
    h = make(servers, seed=seed, node_cls=node_cls)
    h.begin("LeaderFailure")
    h.one(101, servers, False)
    h.step("disconnect the first leader")
    leader1 = h.check_one_leader()
    h.disconnect(leader1)
    h.one(102, servers - 1, False)
    h.sleep(ELECTION_TIMEOUT_MS)
    h.one(103, servers - 1, False)
    h.step("disconnect the new leader")
    leader2 = h.check_one_leader()
    h.disconnect(leader2)
    for i in range(servers):
        h.start(i, 104)
    h.sleep(2 * ELECTION_TIMEOUT_MS)
    count, _ = h.n_committed(4)
    if count > 0:
        h.fail(f"{count} committed but no majority")
    h.check_safety()


def fail_agree(seed: int, node_cls: type = RaftNode) -> None:
    servers = 3
    h = make(servers, seed=seed, node_cls=node_cls)
    h.begin("FailAgree")
    h.one(101, servers, False)
    h.step("agreement despite a disconnected follower")
    leader = h.check_one_leader()
    h.disconnect((leader + 1) % servers)
    h.one(102, servers - 1, False)
    h.one(103, servers - 1, False)
    h.sleep(ELECTION_TIMEOUT_MS)
    h.one(104, servers - 1, False)
    h.one(105, servers - 1, False)
    h.step("the follower reconnects and catches up")
    h.connect((leader + 1) % servers)
    h.one(106, servers, True)
    h.sleep(ELECTION_TIMEOUT_MS)
    h.one(107, servers, True)
    h.check_safety()


def fail_no_agree(seed: int, node_cls: type = RaftNode) -> None:
    servers = 5
    h = make(servers, seed=seed, node_cls=node_cls)
    h.begin("FailNoAgree")
    h.one(10, servers, False)
    h.step("3 of 5 followers disconnect: no agreement")
    leader = h.check_one_leader()
    for k in (1, 2, 3):
        h.disconnect((leader + k) % servers)
    index, _, ok = h.start(leader, 20)
    if not ok:
        h.fail("leader rejected start()")
    if index != 2:
        h.fail(f"expected index 2, got {index}")
    h.sleep(2 * ELECTION_TIMEOUT_MS)
    count, _ = h.n_committed(index)
    if count > 0:
        h.fail(f"{count} committed but no majority")
    h.step("repair")
    for k in (1, 2, 3):
        h.connect((leader + k) % servers)
    # The disconnected majority may have chosen a leader from among their own ranks,
    # forgetting index 2.
    leader2 = h.check_one_leader()
    index2, _, ok2 = h.start(leader2, 30)
    if not ok2:
        h.fail("leader2 rejected start()")
    if not 2 <= index2 <= 3:
        h.fail(f"unexpected index {index2}")
    h.one(1000, servers, True)
    h.check_safety()


def concurrent_starts(seed: int, node_cls: type = RaftNode) -> None:
    servers = 3
    h = make(servers, seed=seed, node_cls=node_cls)
    h.begin("ConcurrentStarts")
    for attempt in range(5):
        h.step(f"attempt {attempt}")
        if attempt > 0:
            h.sleep(3000)  # give the cluster a chance to settle
        leader = h.check_one_leader()
        _, term, ok = h.start(leader, 1)
        if not ok:
            continue  # leader moved on quickly
        indices = []
        for k in range(5):  # five "goroutines" calling start() at the same instant
            index, term1, ok1 = h.start(leader, 100 + k)
            if ok1 and term1 == term:
                indices.append(index)
        if any(h.get_state(j)[0] != term for j in range(servers)):
            continue  # the term changed: we can't expect the commands to commit
        cmds = []
        for index in indices:
            cmd = h.wait(index, servers, term)
            if cmd == -1:
                break  # peers have moved on to later terms
            cmds.append(cmd)
        else:
            missing = [100 + k for k in range(5) if 100 + k not in cmds]
            if missing:
                h.fail(f"cmd {missing} missing in {cmds}")
            break
    else:
        h.fail("term changed too often")
    h.check_safety()


def rejoin(seed: int, node_cls: type = RaftNode) -> None:
    servers = 3
    h = make(servers, seed=seed, node_cls=node_cls)
    h.begin("Rejoin")
    h.one(101, servers, True)
    h.step("the leader is partitioned and gets entries that will not commit")
    leader1 = h.check_one_leader()
    h.disconnect(leader1)
    h.start(leader1, 102)
    h.start(leader1, 103)
    h.start(leader1, 104)
    h.step("a new leader commits 103 at index 2")
    h.one(103, 2, True)
    leader2 = h.check_one_leader()
    h.disconnect(leader2)
    h.step("the old leader rejoins; its uncommitted entries must go")
    h.connect(leader1)
    h.one(104, 2, True)
    h.step("everyone rejoins")
    h.connect(leader2)
    h.one(105, servers, True)
    h.check_safety()


def backup(seed: int, node_cls: type = RaftNode) -> None:
    """A leader backs up quickly over incorrect follower logs."""
    servers = 5
    h = make(servers, seed=seed, node_cls=node_cls)
    h.begin("Backup")
    h.one(rand_int(h), servers, True)
    h.step("leader and one follower partitioned; 50 entries that won't commit")
    leader1 = h.check_one_leader()
    for k in (2, 3, 4):
        h.disconnect((leader1 + k) % servers)
    for _ in range(50):
        h.start(leader1, rand_int(h))
    h.sleep(ELECTION_TIMEOUT_MS / 2)
    for k in (0, 1):
        h.disconnect((leader1 + k) % servers)
    h.step("the other three commit 50 entries")
    for k in (2, 3, 4):
        h.connect((leader1 + k) % servers)
    for _ in range(50):
        h.one(rand_int(h), 3, True)
    h.step("a second partitioned leader with 50 entries that won't commit")
    leader2 = h.check_one_leader()
    other = (leader1 + 2) % servers
    if leader2 == other:
        other = (leader2 + 1) % servers
    h.disconnect(other)
    for _ in range(50):
        h.start(leader2, rand_int(h))
    h.sleep(ELECTION_TIMEOUT_MS / 2)
    h.step("the original leader's group returns and commits 50 entries")
    for i in range(servers):
        h.disconnect(i)
    h.connect((leader1 + 0) % servers)
    h.connect((leader1 + 1) % servers)
    h.connect(other)
    for _ in range(50):
        h.one(rand_int(h), 3, True)
    h.step("everyone")
    for i in range(servers):
        h.connect(i)
    h.one(rand_int(h), servers, True)
    h.check_safety()


def count(seed: int, node_cls: type = RaftNode) -> None:
    """Not too many RPCs: to elect, per agreement, and while idle."""
    servers = 3
    h = make(servers, seed=seed, node_cls=node_cls)
    h.begin("Count")
    leader = h.check_one_leader()
    total1 = h.rpc_count()
    if not 1 <= total1 <= 30:
        h.fail(f"too many or few RPCs ({total1}) to elect initial leader")
    total2 = 0
    for attempt in range(5):
        h.step(f"agreement attempt {attempt}")
        if attempt > 0:
            h.sleep(3000)
        leader = h.check_one_leader()
        total1 = h.rpc_count()
        iters = 10
        start_index, term, ok = h.start(leader, 1)
        if not ok:
            continue
        cmds = []
        for i in range(1, iters + 2):
            x = rand_int(h)
            cmds.append(x)
            index1, term1, ok1 = h.start(leader, x)
            if term1 != term or not ok1:
                break  # term changed while starting
            if start_index + i != index1:
                h.fail("start() failed")
        else:
            for i in range(1, iters + 1):
                cmd = h.wait(start_index + i, servers, term)
                if cmd == -1:
                    break  # term changed while waiting for agreement
                if cmd != cmds[i - 1]:
                    h.fail(f"wrong value {cmd} committed for index {start_index + i}")
            else:
                if any(h.get_state(j)[0] != term for j in range(servers)):
                    continue  # term changed: can't expect low RPC counts
                total2 = h.rpc_count()
                if total2 - total1 > (iters + 1 + 3) * 3:
                    h.fail(f"too many RPCs ({total2 - total1}) for {iters} entries")
                break
    else:
        h.fail("term changed too often")
    h.step("idle")
    h.sleep(ELECTION_TIMEOUT_MS)
    total3 = h.rpc_count()
    if total3 - total2 > 3 * 20:
        h.fail(f"too many RPCs ({total3 - total2}) for 1 second of idleness")
    h.check_safety()


# ================================================================================================
# 3C: persistence
# ================================================================================================
def persist1(seed: int, node_cls: type = RaftNode) -> None:
    servers = 3
    h = make(servers, seed=seed, node_cls=node_cls)
    h.begin("Persist1 (basic persistence)")
    h.one(11, servers, True)
    h.step("crash and restart all")
    for i in range(servers):
        h.restart(i)
    for i in range(servers):
        h.disconnect(i)
        h.connect(i)
    h.one(12, servers, True)
    h.step("restart the leader")
    leader1 = h.check_one_leader()
    h.disconnect(leader1)
    h.restart(leader1)
    h.connect(leader1)
    h.one(13, servers, True)
    h.step("restart the next leader after an agreement without it")
    leader2 = h.check_one_leader()
    h.disconnect(leader2)
    h.one(14, servers - 1, True)
    h.restart(leader2)
    h.connect(leader2)
    h.wait(4, servers, -1)  # wait for leader2 to join before killing i3
    h.step("restart a follower")
    i3 = (h.check_one_leader() + 1) % servers
    h.disconnect(i3)
    h.one(15, servers - 1, True)
    h.restart(i3)
    h.connect(i3)
    h.one(16, servers, True)
    h.check_safety()


def persist2(seed: int, node_cls: type = RaftNode) -> None:
    servers = 5
    h = make(servers, seed=seed, node_cls=node_cls)
    h.begin("Persist2 (more persistence)")
    index = 1
    for it in range(5):
        h.step(f"iteration {it}")
        h.one(10 + index, servers, True)
        index += 1
        leader1 = h.check_one_leader()
        h.disconnect((leader1 + 1) % servers)
        h.disconnect((leader1 + 2) % servers)
        h.one(10 + index, servers - 2, True)
        index += 1
        for k in (0, 3, 4):
            h.disconnect((leader1 + k) % servers)
        h.restart((leader1 + 1) % servers)
        h.restart((leader1 + 2) % servers)
        h.connect((leader1 + 1) % servers)
        h.connect((leader1 + 2) % servers)
        h.sleep(ELECTION_TIMEOUT_MS)
        h.restart((leader1 + 3) % servers)
        h.connect((leader1 + 3) % servers)
        h.one(10 + index, servers - 2, True)
        index += 1
        h.connect((leader1 + 4) % servers)
        h.connect((leader1 + 0) % servers)
    h.one(1000, servers, True)
    h.check_safety()


def persist3(seed: int, node_cls: type = RaftNode) -> None:
    """Partitioned leader and one follower crash, leader restarts."""
    servers = 3
    h = make(servers, seed=seed, node_cls=node_cls)
    h.begin("Persist3")
    h.one(101, 3, True)
    leader = h.check_one_leader()
    h.disconnect((leader + 2) % servers)
    h.one(102, 2, True)
    h.step("crash the leader and its follower")
    h.crash((leader + 0) % servers)
    h.crash((leader + 1) % servers)
    h.connect((leader + 2) % servers)
    h.restart((leader + 0) % servers)
    h.connect((leader + 0) % servers)
    h.one(103, 2, True)
    h.restart((leader + 1) % servers)
    h.connect((leader + 1) % servers)
    h.one(104, servers, True)
    h.check_safety()


def _figure8_run(h: Harness, servers: int, unreliable: bool) -> None:
    """Random leader crashes (or disconnections), while every server is offered commands."""
    h.one(rand_int(h) % 10_000, 1, True)
    nup = servers
    for it in range(1000):
        h.step(f"iteration {it}")
        if unreliable and it == 200:
            h.set_long_reordering(True)
        leader = -1
        for i in range(servers):
            if h.is_up(i):
                _, _, ok = h.start(i, rand_int(h) % 10_000)
                if ok and (not unreliable or h.connected[i]):
                    leader = i
        if h.rng.randrange(1000) < 100:
            h.sleep(h.rng.randrange(int(ELECTION_TIMEOUT_MS) // 2))
        else:
            h.sleep(h.rng.randrange(13))
        if unreliable:
            if leader != -1 and h.rng.randrange(1000) < int(ELECTION_TIMEOUT_MS) // 2:
                h.disconnect(leader)
                nup -= 1
        elif leader != -1:
            h.crash(leader)
            nup -= 1
        if nup < 3:
            s = h.rng.randrange(servers)
            if unreliable and not h.connected[s]:
                h.connect(s)
                nup += 1
            elif not unreliable and not h.is_up(s):
                h.restart(s)
                h.connect(s)
                nup += 1
    h.step("everyone back")
    for i in range(servers):
        if not h.is_up(i):
            h.restart(i)
        if not h.connected[i]:
            h.connect(i)
    h.one(rand_int(h) % 10_000, servers, True)
    h.check_safety()


def figure8(seed: int, node_cls: type = RaftNode) -> None:
    h = make(5, seed=seed, node_cls=node_cls)
    h.begin("Figure 8")
    _figure8_run(h, 5, unreliable=False)


def unreliable_agree(seed: int, node_cls: type = RaftNode) -> None:
    servers = 5
    h = make(servers, seed=seed, reliable=False, node_cls=node_cls)
    h.begin("UnreliableAgree")
    procs = []
    for it in range(1, 50):
        h.step(f"iteration {it}")
        for j in range(4):
            procs.append(h.go(h.one_gen(100 * it + j, 1, True)))
        h.one(it, 1, True)
    h.set_reliable(True)
    h.join(*procs)
    h.one(100, servers, True)
    h.check_safety()


def figure8_unreliable(seed: int, node_cls: type = RaftNode) -> None:
    h = make(5, seed=seed, reliable=False, node_cls=node_cls)
    h.begin("Figure 8 (unreliable)")
    _figure8_run(h, 5, unreliable=True)


def _churn(h: Harness, servers: int) -> None:
    """Three clients keep proposing while servers are disconnected, crashed and restarted."""
    stop = False

    def client(me: int):
        values = []
        while not stop:
            x = rand_int(h)
            index, ok = -1, False
            for i in range(servers):  # try them all, maybe one of them is a leader
                if h.is_up(i):
                    index1, _, ok1 = h.start(i, x)
                    if ok1:
                        ok, index = True, index1
            if ok:
                # Maybe the leader will commit our value, maybe not; don't wait forever.
                # (Wait before each look: in simulated time a loop that never waits would
                # stop the clock.)
                for pause in (10, 20, 50, 100, 200):
                    yield h.sleep_gen(pause)
                    count, cmd = h.n_committed(index)
                    if count > 0:
                        if cmd == x:
                            values.append(x)
                        break
            else:
                yield h.sleep_gen(79 + me * 17)
        return values

    clients = [h.go(client(k)) for k in range(3)]
    for it in range(20):
        h.step(f"churn iteration {it}")
        if h.rng.randrange(1000) < 200:
            h.disconnect(h.rng.randrange(servers))
        if h.rng.randrange(1000) < 500:
            i = h.rng.randrange(servers)
            if not h.is_up(i):
                h.restart(i)
            h.connect(i)
        if h.rng.randrange(1000) < 200:
            i = h.rng.randrange(servers)
            if h.is_up(i):
                h.crash(i)
        # Crash and restart rarely enough that the servers can still make progress.
        h.sleep(ELECTION_TIMEOUT_MS * 7 / 10)
    h.step("heal")
    h.sleep(ELECTION_TIMEOUT_MS)
    h.set_reliable(True)
    for i in range(servers):
        if not h.is_up(i):
            h.restart(i)
        h.connect(i)
    stop = True
    values = [v for vs in h.join(*clients) for v in vs]
    h.sleep(ELECTION_TIMEOUT_MS)
    last_index = h.one(rand_int(h), servers, True)
    really = {h.wait(index, servers, -1) for index in range(1, last_index + 1)}
    missing = [v for v in values if v not in really]
    if missing:
        h.fail(f"didn't find values {missing} that clients saw committed")
    h.check_safety()


def reliable_churn(seed: int, node_cls: type = RaftNode) -> None:
    h = make(5, seed=seed, node_cls=node_cls)
    h.begin("ReliableChurn")
    _churn(h, 5)


def unreliable_churn(seed: int, node_cls: type = RaftNode) -> None:
    h = make(5, seed=seed, reliable=False, node_cls=node_cls)
    h.begin("UnreliableChurn")
    _churn(h, 5)


# ================================================================================================
# 3D: log compaction with snapshots
# ================================================================================================
MAX_LOG_SIZE = 2000  # bytes of persisted Raft state (the snapshot excluded)


def _snapcommon(h: Harness, disconnect: bool, crash: bool) -> None:
    iters, servers = 30, 3
    h.one(rand_int(h), servers, True)
    leader1 = h.check_one_leader()
    for it in range(iters):
        h.step(f"iteration {it}")
        victim, sender = (leader1 + 1) % servers, leader1
        if it % 3 == 1:
            sender, victim = (leader1 + 1) % servers, leader1
        if disconnect:
            h.disconnect(victim)
            h.one(rand_int(h), servers - 1, True)
        if crash:
            h.crash(victim)
            h.one(rand_int(h), servers - 1, True)
        # Perhaps send enough to get a snapshot.
        for _ in range(SNAPSHOT_INTERVAL // 2 + h.rng.randrange(SNAPSHOT_INTERVAL)):
            h.start(sender, rand_int(h))
        # Let the appliers catch up with the start()s.
        if not disconnect and not crash:
            # All followers caught up: no InstallSnapshot needed for SnapshotBasic.
            h.one(rand_int(h), servers, True)
        else:
            h.one(rand_int(h), servers - 1, True)
        if h.log_size() >= MAX_LOG_SIZE:
            h.fail(f"log size too large: {h.log_size()} bytes")
        if disconnect:
            # Reconnect a follower, who may be behind and need a snapshot to catch up.
            h.connect(victim)
            h.one(rand_int(h), servers, True)
            leader1 = h.check_one_leader()
        if crash:
            h.restart(victim)
            h.connect(victim)
            h.one(rand_int(h), servers, True)
            leader1 = h.check_one_leader()
    h.check_safety()


def snapshot_basic(seed: int, node_cls: type = RaftNode) -> None:
    h = make(3, seed=seed, snapshot=True, node_cls=node_cls)
    h.begin("SnapshotBasic")
    _snapcommon(h, disconnect=False, crash=False)


def snapshot_install(seed: int, node_cls: type = RaftNode) -> None:
    h = make(3, seed=seed, snapshot=True, node_cls=node_cls)
    h.begin("SnapshotInstall (disconnect)")
    _snapcommon(h, disconnect=True, crash=False)


def snapshot_install_unreliable(seed: int, node_cls: type = RaftNode) -> None:
    h = make(3, seed=seed, reliable=False, snapshot=True, node_cls=node_cls)
    h.begin("SnapshotInstallUnreliable (disconnect+unreliable)")
    _snapcommon(h, disconnect=True, crash=False)


def snapshot_install_crash(seed: int, node_cls: type = RaftNode) -> None:
    h = make(3, seed=seed, snapshot=True, node_cls=node_cls)
    h.begin("SnapshotInstallCrash (crash)")
    _snapcommon(h, disconnect=False, crash=True)


def snapshot_install_uncrash(seed: int, node_cls: type = RaftNode) -> None:
    h = make(3, seed=seed, reliable=False, snapshot=True, node_cls=node_cls)
    h.begin("SnapshotInstallUnCrash (crash+unreliable)")
    _snapcommon(h, disconnect=False, crash=True)


def snapshot_all_crash(seed: int, node_cls: type = RaftNode) -> None:
    """Crash and restart all servers, each time after enough commands for a snapshot."""
    servers = 3
    h = make(servers, seed=seed, snapshot=True, node_cls=node_cls)
    h.begin("SnapshotAllCrash")
    h.one(rand_int(h), servers, True)
    for it in range(5):
        h.step(f"iteration {it}")
        for _ in range(SNAPSHOT_INTERVAL // 2 + h.rng.randrange(SNAPSHOT_INTERVAL)):
            h.one(rand_int(h), servers, True)
        index1 = h.one(rand_int(h), servers, True)
        for i in range(servers):
            h.crash(i)
        for i in range(servers):
            h.restart(i)
            h.connect(i)
        index2 = h.one(rand_int(h), servers, True)
        if index2 < index1 + 1:
            h.fail(f"index decreased from {index1} to {index2}")
    h.check_safety()


def snapshot_init(seed: int, node_cls: type = RaftNode) -> None:
    """A snapshot survives two whole-cluster reboots (the state read back is written back)."""
    servers = 3
    h = make(servers, seed=seed, snapshot=True, node_cls=node_cls)
    h.begin("SnapshotInit")
    h.one(rand_int(h), servers, True)
    for _ in range(SNAPSHOT_INTERVAL + 1):  # enough ops to make a snapshot
        h.one(rand_int(h), servers, True)
    for reboot in range(2):
        h.step(f"reboot everyone ({reboot + 1})")
        for i in range(servers):
            h.crash(i)
        for i in range(servers):
            h.restart(i)
            h.connect(i)
        # A single op, to get something written back to persistent storage.
        h.one(rand_int(h), servers, True)
    h.check_safety()


#: Every scenario by name, in the lab's order.
SCENARIOS: dict[str, Callable[..., None]] = {
    "initial_election": initial_election,
    "re_election": re_election,
    "many_elections": many_elections,
    "basic_agree": basic_agree,
    "rpc_bytes": rpc_bytes,
    "follower_failure": follower_failure,
    "leader_failure": leader_failure,
    "fail_agree": fail_agree,
    "fail_no_agree": fail_no_agree,
    "concurrent_starts": concurrent_starts,
    "rejoin": rejoin,
    "backup": backup,
    "count": count,
    "persist1": persist1,
    "persist2": persist2,
    "persist3": persist3,
    "figure8": figure8,
    "unreliable_agree": unreliable_agree,
    "figure8_unreliable": figure8_unreliable,
    "reliable_churn": reliable_churn,
    "unreliable_churn": unreliable_churn,
    "snapshot_basic": snapshot_basic,
    "snapshot_install": snapshot_install,
    "snapshot_install_unreliable": snapshot_install_unreliable,
    "snapshot_install_crash": snapshot_install_crash,
    "snapshot_install_uncrash": snapshot_install_uncrash,
    "snapshot_all_crash": snapshot_all_crash,
    "snapshot_init": snapshot_init,
}
