"""Raft benchmark: a 5-server key-value cluster runs 10 simulated minutes and 10,000 client
operations; how long does that take, beside the simulator's bare-SimPy baseline?

- The Raft run: five ``dslab.raft.kv.KVServer`` (the package's, with its default timing: 150-300 ms
  election timeouts, heartbeats every 50 ms), latency ``Uniform(1, 2)`` ms, message journal on (the
  default). Four clients (``Clerk``) each issue 2,500 operations, one every 240 ms (half puts, half
  gets, on 10 keys), phases spread over the first 240 ms: 10,000 operations in 600 s of simulated
  time. Reported: wall time (``time.perf_counter``) and this process's CPU time
  (``time.process_time``) of ``sim.run``, operations per wall second, and messages delivered per
  CPU second.
- The baseline, measured in the same process: ``run_simpy`` of ``benchmarks/bench_sim.py``, bare
  SimPy doing all-to-all heartbeats among 5 nodes (one ``env.timeout`` per message and a trivial
  callback), for about as many messages as the Raft run delivered: messages per CPU second.

The rounds alternate (Raft, baseline, Raft, ...); the best round of each is reported, the least
disturbed by other load on the machine. Run: ``python benchmarks/bench_raft.py`` (``--repeat R``;
``--check`` also checks the history with ``dslab.check.linearizable``, untimed).
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Any

from bench_sim import MSGS_PER_MS, PERIOD_MS, run_simpy

from dslab.raft.kv import Clerk, KVServer
from dslab.sim import Sim, Uniform

SERVERS = ("s1", "s2", "s3", "s4", "s5")
CLIENTS = 4
OPS = 10_000
DURATION_MS = 600_000.0
PERIOD_OP_MS = DURATION_MS * CLIENTS / OPS  # 240 ms between two operations of one client


def client(sim: Sim, clerk: Clerk, k: int, n_ops: int):
    rng = sim.stream(f"bench/{clerk.client_id}")
    yield sim.sleep(k * PERIOD_OP_MS / CLIENTS)
    start = sim.now
    for i in range(n_ops):
        key = f"k{rng.randrange(10)}"
        if rng.random() < 0.5:
            yield from clerk.put(key, f"{clerk.client_id}.{i}")
        else:
            yield from clerk.get(key)
        wait = start + (i + 1) * PERIOD_OP_MS - sim.now
        if wait > 0:
            yield sim.sleep(wait)


def run_raft(seed: int = 1) -> dict[str, Any]:
    sim = Sim(seed=seed, latency=Uniform(1.0, 2.0))
    for name in SERVERS:
        sim.add_node(name, KVServer)
    for k in range(CLIENTS):
        clerk = Clerk(sim, sim.add_client(f"c{k}"), list(SERVERS))
        sim.process(client(sim, clerk, k, OPS // CLIENTS))
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    sim.run(until=DURATION_MS)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    ops = sim.history.ops
    done = [op for op in ops if op.type != "invoke"]
    return {
        "sim": sim,
        "wall_s": wall,
        "cpu_s": cpu,
        "invoked": len(ops) - len(done),
        "ok": sum(1 for op in done if op.type == "ok"),
        "delivered": sim.net.stats["delivered"],
        "sent": sim.net.stats["sent"],
        "leaders": sum(1 for e in sim.history.events
                       if e.name == "role" and e.data.get("role") == "leader"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="rounds of each (best is reported)")
    ap.add_argument("--check", action="store_true", help="also check linearizability (untimed)")
    args = ap.parse_args()

    raft_runs: list[dict[str, Any]] = []
    base_rates: list[float] = []
    for _ in range(args.repeat):
        raft_runs.append(run_raft())
        target = raft_runs[-1]["delivered"]
        gc.collect()
        n, cpu_s = run_simpy(target / MSGS_PER_MS + PERIOD_MS / 2)
        base_rates.append(n / cpu_s)
    best = min(raft_runs, key=lambda r: r["cpu_s"])
    base = max(base_rates)
    raft_rate = best["delivered"] / best["cpu_s"]
    print(f"Raft KV: {len(SERVERS)} servers, {CLIENTS} clients, {best['invoked']:,} operations "
          f"({best['ok']:,} ok) in {DURATION_MS / 60_000:g} simulated minutes; "
          f"{best['delivered']:,} messages delivered ({best['sent']:,} sent), "
          f"{best['leaders']} leader(s) elected")
    print(f"best of {args.repeat} rounds (wall / CPU s per round: "
          + ", ".join(f"{r['wall_s']:.2f}/{r['cpu_s']:.2f}" for r in raft_runs) + ")\n")
    print(f"  wall time            {best['wall_s']:8.2f} s   (target: <= 10 s)")
    print(f"  CPU time             {best['cpu_s']:8.2f} s")
    print(f"  operations / wall s  {best['invoked'] / best['wall_s']:8,.0f}")
    print(f"  simulated / wall     {DURATION_MS / 1000 / best['wall_s']:8,.0f} x real time")
    print(f"  Raft messages / CPU s            {raft_rate:10,.0f}")
    print(f"  bare SimPy heartbeats / CPU s    {base:10,.0f}   (baseline, bench_sim.run_simpy, "
          f"same message count)")
    print(f"  Raft / baseline                  {raft_rate / base:10.2f} x")
    verdict = "meets" if best["wall_s"] <= 10.0 else "MISSES"
    print(f"\n{verdict} the <= 10 s wall-time target")
    if args.check:
        from dslab.check import linearizable

        t0 = time.perf_counter()
        result = linearizable(best["sim"].history, "kv")
        print(f"linearizable: {result.valid} (checked in {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
