"""Curator's InterProcessMutex on the simulated ZooKeeper: the hold count lives in the client."""

from __future__ import annotations

import pytest

from dslab.locks import experiments as ex
from dslab.locks import plots
from dslab.locks.curator import InterProcessMutex
from dslab.zk.client import add_zk_client
from dslab.zk.cluster import build_ensemble, run_until_leader


@pytest.fixture
def zk():
    sim, names = build_ensemble(3, 3)
    run_until_leader(sim)
    c = add_zk_client(sim, "c1", names, server=names[0])

    def setup():
        yield from c.connect()
        yield from c.create("/lock", record=False)

    sim.run(until=sim.process(setup()))
    return sim, names, c


def run(sim, gen, limit_ms: float = 2000.0):
    """Run ``gen`` to its end; a deadlock (say, waiting on one's own znode) fails, not hangs."""
    proc = sim.process(gen)
    sim.run(until=sim.env.any_of([proc, sim.sleep(limit_ms)]))
    assert proc.triggered, f"still waiting after {limit_ms} ms"
    return proc.value


def lock_nodes(sim, names):
    return sim.handler(names[0]).tree.children("/lock")


def test_reentry_sends_no_request_and_the_server_sees_one_znode(zk):
    sim, names, c = zk
    m = InterProcessMutex(c, "/lock")
    assert run(sim, m.acquire()).ok
    before = ex._client_requests(sim)
    assert run(sim, m.acquire()).ok and run(sim, m.acquire()).ok
    assert ex._client_requests(sim) == before  # rule 2: counted in the client only
    assert m.count() == 3 and len(lock_nodes(sim, names)) == 1


def test_only_the_last_release_deletes_the_znode(zk):
    sim, names, c = zk
    m = InterProcessMutex(c, "/lock")
    run(sim, m.acquire())
    run(sim, m.acquire())
    assert run(sim, m.release()).ok and len(lock_nodes(sim, names)) == 1
    assert run(sim, m.release()).ok
    sim.run_for(10.0)
    assert lock_nodes(sim, names) == [] and m.count() == 0


def test_release_by_a_thread_that_holds_nothing_is_refused(zk):
    sim, _, c = zk
    m = InterProcessMutex(c, "/lock")
    run(sim, m.acquire("t1"))
    res = run(sim, m.release("t2"))
    assert (res.type, res.error) == ("fail", "not_owner")
    assert m.count("t1") == 1


def test_another_contender_waits_for_the_last_release(zk):
    sim, names, c = zk
    c2 = add_zk_client(sim, "c2", names, server=names[1])
    run(sim, c2.connect())
    m1, m2 = InterProcessMutex(c, "/lock"), InterProcessMutex(c2, "/lock")
    log = []

    def holder():
        yield from m1.acquire()
        yield from m1.acquire()
        log.append("c1 holds twice")
        yield sim.sleep(50.0)
        yield from m1.release()
        log.append("c1 released once")
        yield sim.sleep(50.0)
        yield from m1.release()
        log.append("c1 released twice")

    def other():
        yield sim.sleep(20.0)
        res = yield from m2.acquire()  # its own znode, behind c1's (rule 4)
        log.append(f"c2 holds: {res.ok}")

    sim.run(until=sim.env.all_of([sim.process(holder()), sim.process(other())]))
    assert log == ["c1 holds twice", "c1 released once", "c1 released twice", "c2 holds: True"]


def test_reentrancy_cost_grows_only_with_a_server_side_count():
    df = ex.reentrancy_cost(1, depths=[1, 3, 5])
    redisson = df[df["recipe"] == ex.REENTRANCY_RECIPES[0]]
    curator = df[df["recipe"] == ex.REENTRANCY_RECIPES[1]]
    assert list(redisson["requests"]) == [2, 6, 10]  # one round trip per lock and per unlock
    assert list(redisson["held_on_server"]) == [1, 3, 5]
    assert curator["requests"].nunique() == 1  # the recipe once, whatever the depth
    assert list(curator["held_on_server"]) == [1, 1, 1]
    fig = plots.plot_reentrancy_cost(df)
    assert "seed=1" in fig.axes[0].get_title()
