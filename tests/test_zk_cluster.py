"""Cluster tests of dslab.zk on the simulator: crash recovery, ordering, sessions, watches,
recipes and determinism. A seed sweep's failure says ``replay with seed=N``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dslab.check import mutual_exclusion
from dslab.zk import add_zk_client, build_ensemble, leader_of, run_until_leader
from dslab.zk.experiments import (
    crash_recovery_run,
    election_after_crash,
    lock_herd,
    lock_with_pause,
    session_expiry,
    stale_reads,
)

SEEDS = range(40)


def _check_run(seed: int, servers: int) -> None:
    df, h, trees = crash_recovery_run(seed, servers=servers, writes=25, crashes=3)
    where = f"replay with seed={seed} (servers={servers})"
    snaps = list(trees.values())
    assert len(snaps) == servers, where
    assert all(s == snaps[0] for s in snaps), f"data trees differ at the end; {where}"
    acked = set(df.loc[df["type"] == "ok", "key"])
    lost = sorted(k for k in acked if k not in snaps[0])
    assert not lost, f"acknowledged writes lost: {lost}; {where}"
    failed = sorted(set(df.loc[df["type"] == "fail", "key"]) & set(snaps[0]))
    assert not failed, f"writes reported as definitely failed took effect: {failed}; {where}"
    commits = [e.data["zxid"] for e in h.events if e.name == "commit"]
    first = list(dict.fromkeys(commits))  # a new leader commits its whole history again
    assert first == sorted(first), f"commits not in increasing zxid order; {where}"


@pytest.mark.parametrize("servers", [3, 5])
def test_committed_writes_survive_leader_crashes_in_every_seed(servers):
    for seed in SEEDS:
        _check_run(seed, servers)


def test_every_server_applies_the_same_sequence_of_zxids():
    for seed in range(10):
        _, h, _ = crash_recovery_run(seed, servers=3, writes=20, crashes=2)
        restarts = {f.args["node"] for f in h.faults if f.verb == "restart"}
        seqs: dict[str, list[int]] = {}
        for e in h.events:
            if e.name == "apply" and e.node not in restarts:
                seqs.setdefault(e.node, []).append(e.data["zxid"])
        for node, seq in seqs.items():
            assert seq == sorted(set(seq)), f"{node} applied out of order; replay with seed={seed}"
        full = max(seqs.values(), key=len)
        for node, seq in seqs.items():
            assert full[: len(seq)] == seq, f"{node} diverged; replay with seed={seed}"


def test_a_proposal_that_never_committed_is_truncated_and_never_applied():
    sim, names = build_ensemble(4, 3)
    leader = run_until_leader(sim)
    others = [n for n in names if n != leader]
    c = add_zk_client(sim, "c", names, server=leader, op_timeout_ms=50.0)
    sim.run(until=sim.process(c.connect()))
    sim.isolate(others[0])
    sim.isolate(others[1])  # the leader can still append, but no follower acks
    proc = sim.process(c.create("/lost", 1))
    sim.run(until=proc)
    assert proc.value.type == "info"  # timed out: it may or may not happen
    assert sim.handler(leader).last_zxid > sim.handler(others[0]).last_zxid
    sim.crash(leader)
    sim.heal()
    assert run_until_leader(sim) in others
    sim.restart(leader)
    sim.run_for(500.0)
    trunc = [e for e in sim.history.events if e.name == "truncate" and e.node == leader]
    assert trunc and len(trunc[0].data["dropped"]) == 1
    assert all("/lost" not in sim.handler(n).tree.nodes for n in names)


def test_the_survivor_with_the_highest_zxid_wins_not_the_highest_myid():
    df, _ = election_after_crash(seed=0, servers=5, writes=6, lagging="s4")
    assert df.attrs["first_leader"] == "s5"
    assert df.attrs["new_leader"] == "s3"
    assert df.set_index("server").loc["s4", "zxid"] < df.set_index("server").loc["s3", "zxid"]


def test_reads_on_a_lagging_follower_are_stale_until_sync():
    df, _ = stale_reads(seed=1, lag_ms=30.0, writes=5)
    assert df["stale"].any()
    assert (df["read_after_sync"] == df["written"]).all()


def test_ephemeral_node_vanishes_after_session_expiry_and_the_watcher_is_told():
    df, h = session_expiry(seed=2, session_timeout_ms=300.0)
    assert df.attrs["event"] == "deleted" and df.attrs["exists_after"] is False
    t = dict(zip(df["what"], df["time_ms"], strict=True))
    assert t["leader expires the session"] - t["worker's last ping"] >= 300.0


def test_watches_fire_once():
    sim, names = build_ensemble(3, 3)
    run_until_leader(sim)
    c = add_zk_client(sim, "c", names, server=names[0])
    w = add_zk_client(sim, "w", names, server=names[1])
    fired = []

    def go():
        yield from c.connect()
        yield from w.connect()
        yield from c.create("/a", 0)
        _, ev = yield from w.get_data("/a", watch=True)
        ev.callbacks.append(lambda e: fired.append(e.value))
        yield from c.set_data("/a", 1)
        yield from c.set_data("/a", 2)
        yield sim.sleep(20)

    sim.run(until=sim.process(go()))
    assert [(n.path, n.event) for n in fired] == [("/a", "changed")]
    assert sum(1 for e in sim.history.events if e.name == "notified") == 1


def test_data_watches_and_child_watches_on_one_path_are_separate():
    """ZooKeeper keeps data watches (getData/exists) apart from child watches (getChildren):
    a change of /a's data fires only the data watch, a new child only the child watch."""
    sim, names = build_ensemble(3, 3)
    run_until_leader(sim)
    c = add_zk_client(sim, "c", names, server=names[0])
    w = add_zk_client(sim, "w", names, server=names[1])
    fired: dict[str, list[tuple[str, str]]] = {"data": [], "child": []}

    def note(kind):
        return lambda e: fired[kind].append((e.value.path, e.value.event))

    def go():
        yield from c.connect()
        yield from w.connect()
        yield from c.create("/a", 0)
        _, data_ev = yield from w.get_data("/a", watch=True)
        _, child_ev = yield from w.get_children("/a", watch=True)
        data_ev.callbacks.append(note("data"))
        child_ev.callbacks.append(note("child"))
        yield from c.set_data("/a", 1)
        yield sim.sleep(20)
        assert not child_ev.triggered  # a data change is no news for a child watch
        yield from c.create("/a/x", 0)
        yield sim.sleep(20)

    sim.run(until=sim.process(go()))
    assert fired == {"data": [("/a", "changed")], "child": [("/a", "children")]}


def test_deleting_a_node_fires_its_data_and_child_watches_once():
    sim, names = build_ensemble(3, 3)
    run_until_leader(sim)
    c = add_zk_client(sim, "c", names, server=names[0])
    fired = []

    def go():
        yield from c.connect()
        yield from c.create("/a", 0)
        _, data_ev = yield from c.exists("/a", watch=True)
        _, child_ev = yield from c.get_children("/a", watch=True)
        yield from c.delete("/a")
        yield sim.sleep(20)
        fired.extend([data_ev.value.event, child_ev.value.event])

    sim.run(until=sim.process(go()))
    assert fired == ["deleted", "deleted"]
    assert sum(1 for e in sim.history.events if e.name == "notified") == 1  # one message


def test_a_client_whose_session_expired_can_neither_read_nor_write():
    sim, names = build_ensemble(5, 3)
    run_until_leader(sim)
    c = add_zk_client(sim, "c", names, server=names[0], session_timeout_ms=200.0)
    out = {}

    def go():
        yield from c.connect()
        yield from c.create("/a", 0)
        c.pause(1000.0)  # silent far past its session timeout
        yield sim.sleep(1000.0)
        yield from c.stall()
        for name, op in [
            ("get", c.get_data("/a")),
            ("exists", c.exists("/a")),
            ("children", c.get_children("/")),
            ("set", c.set_data("/a", 1)),
            ("create", c.create("/b", 1)),
            ("delete", c.delete("/a")),
        ]:
            res = yield from op
            out[name] = (res.type, res.error)

    sim.run(until=sim.process(go()))
    assert out == {k: ("fail", "session_expired") for k in out}, out
    assert len(out) == 6
    assert all(sim.handler(n).tree.get("/a")[0] == 0 for n in names)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("mode", ["predecessor", "herd"])
def test_the_lock_recipe_gives_mutual_exclusion_without_pauses(seed, mode):
    df, h = lock_herd(seed, clients=6, mode=mode)
    assert df.loc[0, "mutual_exclusion"], (
        f"{mutual_exclusion(h).explanation}; replay with seed={seed}"
    )
    assert df.loc[0, "releases"] == 6


def test_the_predecessor_recipe_sends_one_notification_per_release():
    df, _ = lock_herd(0, clients=8, mode="predecessor")
    assert df.loc[0, "per_release_max"] == 1
    herd, _ = lock_herd(0, clients=8, mode="herd")
    assert herd.loc[0, "per_release_max"] >= 7


def test_a_paused_holder_past_its_session_timeout_overlaps_the_next_holder():
    df, _ = lock_with_pause(seed=0, pause_ms=600.0, session_timeout_ms=300.0)
    assert not df.attrs["ok"]
    first = df.sort_values("start_ms").iloc[0]
    later = df[df["start_ms"] > first["start_ms"]]
    assert (later["token"] > first["token"]).all()  # the fencing token grows


def test_a_short_pause_keeps_mutual_exclusion():
    df, _ = lock_with_pause(seed=0, pause_ms=50.0, session_timeout_ms=300.0)
    assert df.attrs["ok"]


def test_a_leader_is_elected_at_boot():
    sim, _ = build_ensemble(0, 5)
    assert run_until_leader(sim) == "s5"
    assert leader_of(sim) == "s5"


def test_same_seed_same_history():
    a = crash_recovery_run(7, writes=10, crashes=2)[1].to_json()
    b = crash_recovery_run(7, writes=10, crashes=2)[1].to_json()
    assert a == b


def test_same_history_under_another_hash_seed():
    code = (
        "import hashlib;from dslab.zk.experiments import crash_recovery_run;"
        "print(hashlib.sha256(crash_recovery_run(7, writes=10, crashes=2)[1].to_json()"
        ".encode()).hexdigest())"
    )
    outs = set()
    for hs in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hs}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        outs.add(out.stdout.strip())
    assert len(outs) == 1
