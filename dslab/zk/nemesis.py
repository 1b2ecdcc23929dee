"""A mixed nemesis for ZAB: partitions, crashes with quick restarts, pauses and duplication.

:func:`mixed_nemesis_run` runs a small ensemble while a fault schedule drawn from the seed
partitions the network, crashes a server and restarts it soon after, stops a server for a while
(a GC pause) and duplicates messages; a client keeps writing through random servers. Then every
fault is healed and the run checks what must hold after any mix of faults:

- **Liveness after heal**: a write issued after the heal commits within ``recover_ms``.
- **Bounded elections**: after the heal the ensemble settles with a handful of elections, not
  thousands (a livelock shows up as an election storm: a stale leader that keeps "leading" while
  the others cycle through LOOKING).
- **One established leader per epoch** (Zab's invariant behind "primary order"): two servers must
  never both become established leaders of the same epoch.
- **Safety**: no server ever truncates a committed transaction; at the end every server holds
  the same tree, which contains every write the client saw acknowledged.
- **Observers stay observers** (with ``observers > 0``): an observer never leads, follows or
  votes, and the faults hit observers too (they crash, pause, are cut off, serve the client).

:func:`check_nemesis_run` turns a run into a list of violated rules (empty when all hold).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_number, check_probability, check_seed
from dslab.history import History
from dslab.zk.client import add_zk_client
from dslab.zk.cluster import build_ensemble, run_until_leader, trees
from dslab.zk.messages import fmt_zxid

FAULT_KINDS = ("partition", "crash", "pause")


@dataclass
class NemesisRun:
    """What :func:`mixed_nemesis_run` observed (times in ms of true simulated time)."""

    seed: int
    servers: int
    observers: int
    heal_ms: float
    recover_ms: float
    acked: list[str]
    after_heal_ok_ms: float | None
    elections: int
    elections_after_heal: int
    leaders_by_epoch: dict[int, list[str]]
    trees: dict[str, dict[str, Any]]
    history: History = field(repr=False)


def mixed_nemesis_run(
    seed: int = 0,
    servers: int = 3,
    *,
    faults: int = 8,
    duplicate: float = 0.05,
    recover_ms: float = 3000.0,
    observers: int = 0,
) -> NemesisRun:
    """``faults`` faults drawn from the seed (a random partition, a crash with a restart 20-150
    ms later, or a pause of 50-400 ms), one every 50-250 ms, while messages are duplicated with
    probability ``duplicate`` and a client writes ``/k<i>`` through random servers. Then heal,
    restart whatever is down, stop duplicating, and write ``/after`` (retrying) for up to
    ``recover_ms``. ``observers`` observers join the voting ``servers`` (and the faults)."""
    check_seed(seed)
    check_number("servers", servers, min=3, max=9, integer=True)
    check_number("faults", faults, min=0, max=200, integer=True)
    check_probability("duplicate", duplicate)
    check_number("recover_ms", recover_ms, min=100, max=60_000)
    check_number("observers", observers, min=0, max=9, integer=True)
    sim, names = build_ensemble(seed, servers, observers=observers)
    run_until_leader(sim)
    client = add_zk_client(sim, "c", names, session_timeout_ms=60_000.0, op_timeout_ms=150.0)
    sim.run(until=sim.process(client.connect()))
    rng = sim.stream("nemesis")
    work_rng = sim.stream("workload")
    acked: list[str] = []
    box: dict[str, Any] = {"stop": False}
    sim.net.configure(duplicate=duplicate)

    def writer() -> Any:
        i = 0
        while not box["stop"]:
            client.server = names[work_rng.randrange(len(names))]
            res = yield from client.create(f"/k{i}", i)
            if res.ok:
                acked.append(f"/k{i}")
            i += 1
            yield sim.sleep(work_rng.uniform(0, 20))

    def nemesis() -> Any:
        for _ in range(faults):
            yield sim.sleep(rng.uniform(50, 250))
            kind = FAULT_KINDS[rng.randrange(len(FAULT_KINDS))]
            who = names[rng.randrange(len(names))]
            if kind == "partition":
                side = sorted(rng.sample(names, rng.randrange(1, len(names))))
                sim.partition(side)
                sim.heal(at=sim.now + rng.uniform(100, 600))
            elif kind == "crash":
                if sim.nodes[who].alive:
                    sim.crash(who)
                    sim.restart(who, at=sim.now + rng.uniform(20, 150))
            elif sim.nodes[who].paused_until <= sim.now:
                # one pause at a time per server
                sim.pause(who, rng.uniform(50, 400))

    writing = sim.process(writer())
    sim.run(until=sim.process(nemesis()))
    box["stop"] = True
    sim.run(until=writing)
    sim.run_for(700.0)  # every scheduled heal and restart has happened by now
    sim.heal()
    for n in names:
        if not sim.nodes[n].alive:
            sim.restart(n)
    sim.net.configure(duplicate=0.0)
    heal_ms = sim.now
    box["after"] = None

    def after_heal() -> Any:
        while sim.now - heal_ms < recover_ms:
            res = yield from client.create("/after", "x")
            if res.ok or res.error == "node_exists":
                box["after"] = sim.now - heal_ms
                return
            client.server = names[work_rng.randrange(len(names))]
            yield sim.sleep(20)

    sim.run(until=sim.process(after_heal()))
    sim.run(until=max(sim.now, heal_ms + recover_ms))
    if box["after"] is not None:
        acked.append("/after")
    h = sim.history
    elected = [e for e in h.events if e.name == "elected"]
    leaders: dict[int, list[str]] = {}
    for e in h.events:
        if e.name == "established":
            leaders.setdefault(e.data["epoch"], [])
            if e.node not in leaders[e.data["epoch"]]:
                leaders[e.data["epoch"]].append(e.node)
    return NemesisRun(
        seed=seed,
        servers=servers,
        observers=observers,
        heal_ms=heal_ms,
        recover_ms=recover_ms,
        acked=acked,
        after_heal_ok_ms=box["after"],
        elections=len(elected),
        elections_after_heal=sum(1 for e in elected if e.time >= heal_ms),
        leaders_by_epoch=leaders,
        trees=trees(sim),
        history=h,
    )


def check_nemesis_run(run: NemesisRun, *, max_elections_after_heal: int | None = None) -> list[str]:
    """The rules of the module docstring that ``run`` violates, each explained (empty: all hold).
    After the heal each server decides at most a few times while the ensemble settles: the bound
    defaults to ``4 * (servers + observers)`` decisions."""
    everyone = run.servers + run.observers
    bound = 4 * everyone if max_elections_after_heal is None else max_elections_after_heal
    problems = []
    for e in run.history.events:
        observer = e.node.startswith("o")
        if observer and e.name == "state" and e.data["state"] in ("leading", "following"):
            problems.append(f"observer {e.node} became {e.data['state']} at {e.time:.1f} ms")
        if observer and e.name in ("established", "commit"):
            problems.append(f"observer {e.node} logged {e.name!r} at {e.time:.1f} ms")
    votes = ("AckEpoch", "AckNewLeader", "Ack")  # what a voter sends for an epoch or a proposal
    for m in run.history.messages:
        if m.src.startswith("o") and m.type in votes:
            problems.append(f"observer {m.src} sent {m.type} to {m.dst} at {m.send_time:.1f} ms")
            break
    if run.after_heal_ok_ms is None:
        problems.append(f"no write committed within {run.recover_ms:.0f} ms after the heal")
    if run.elections_after_heal > bound:
        problems.append(
            f"{run.elections_after_heal} elections after the heal (at most {bound} expected): "
            "an election storm"
        )
    for epoch, who in sorted(run.leaders_by_epoch.items()):
        if len(who) > 1:
            problems.append(f"epoch {epoch} has {len(who)} established leaders: {who}")
    committed = {e.data["zxid"] for e in run.history.events if e.name == "commit"}
    for e in run.history.events:
        if e.name == "truncate" and committed.intersection(e.data["dropped"]):
            gone = sorted(committed.intersection(e.data["dropped"]))
            problems.append(
                f"{e.node} truncated committed transactions {[fmt_zxid(z) for z in gone]} "
                f"at {e.time:.1f} ms"
            )
    snaps = list(run.trees.values())
    if any(s != snaps[0] for s in snaps):
        problems.append("the servers' data trees differ at the end")
    lost = sorted(k for k in run.acked if snaps and k not in snaps[0])
    if lost:
        problems.append(f"acknowledged writes lost: {lost}")
    return problems


__all__ = ["NemesisRun", "check_nemesis_run", "mixed_nemesis_run"]
