"""Simulator throughput: messages delivered per CPU second, beside bare SimPy.

The pattern: 5 nodes, all-to-all heartbeats. Every node's timer fires every 10 ms and sends a
small frozen-dataclass message to each of the 4 others; receivers run a trivial handler. Latency
is ``Uniform(1, 2)`` ms, sampled the same way in every variant.

- ``dslab (journal on)``: ``Sim`` with every message journaled in the history (the default).
- ``dslab (journal off)``: ``Sim(journal=False)``, as long sweeps run.
- ``bare SimPy``: the baseline measured in the same run: per node a process looping on
  ``env.timeout(10)``, per message one ``env.timeout(delay)`` with one callback that calls a trivial
  function.

Time is this process's CPU time (``time.process_time``): the simulation is single-threaded, and
CPU time is far less disturbed than wall time by other work on a shared 2-core machine.

Then peak memory (tracemalloc) per 100k messages journaled. Run: ``python benchmarks/bench_sim.py``
(``--messages N`` to change the run length, ``--repeat R`` for the number of timed rounds, in which
the variants take turns; the best run of each variant is reported, the least disturbed by other
load on the machine; ``--profile`` prints a cProfile of the journal-on run instead).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import time
import tracemalloc
from dataclasses import dataclass

import simpy

from dslab.core import Context, Handler
from dslab.sim import Sim, Uniform, stream

NODES = ("n1", "n2", "n3", "n4", "n5")
PERIOD_MS = 10.0
LATENCY = Uniform(1.0, 2.0)
MSGS_PER_MS = len(NODES) * (len(NODES) - 1) / PERIOD_MS


@dataclass(frozen=True, slots=True)
class Beat:
    seq: int


class Beater(Handler):
    def on_start(self, ctx: Context) -> None:
        self.seq = 0
        self.heard = 0
        ctx.set_timer("beat", PERIOD_MS)

    def on_timer(self, ctx: Context, name: str) -> None:
        self.seq += 1
        for peer in ctx.peers:
            ctx.send(peer, Beat(self.seq))
        ctx.set_timer("beat", PERIOD_MS)

    def on_message(self, ctx: Context, src: str, msg: Beat) -> None:
        self.heard += 1


def run_dslab(until_ms: float, journal: bool) -> tuple[int, float]:
    sim = Sim(seed=1, latency=LATENCY, journal=journal)
    for name in NODES:
        sim.add_node(name, Beater)
    t0 = time.process_time()
    sim.run(until=until_ms)
    cpu_s = time.process_time() - t0
    delivered = sim.net.stats["delivered"]
    assert delivered == sum(sim.handler(n).heard for n in NODES)
    return delivered, cpu_s


def run_simpy(until_ms: float) -> tuple[int, float]:
    env = simpy.Environment()
    rng = stream(1, "network")
    heard = dict.fromkeys(NODES, 0)

    def deliver(dst: str, msg: Beat) -> None:
        heard[dst] += 1

    def node(name: str):
        peers = [p for p in NODES if p != name]
        seq = 0
        while True:
            yield env.timeout(PERIOD_MS)
            seq += 1
            for peer in peers:
                ev = env.timeout(LATENCY.sample(rng))
                ev.callbacks.append(lambda _ev, d=peer, m=Beat(seq): deliver(d, m))

    for name in NODES:
        env.process(node(name))
    t0 = time.process_time()
    env.run(until=until_ms)
    cpu_s = time.process_time() - t0
    return sum(heard.values()), cpu_s


def interleaved(variants: dict, repeat: int) -> dict[str, list[float]]:
    """Rates (msgs per CPU s) of ``repeat`` runs of each variant, interleaved round by round so
    that a burst of load on the machine hits every variant alike."""
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, fn in variants.items():
            gc.collect()
            n, cpu_s = fn()
            rates[name].append(n / cpu_s)
    return rates


def profile(until_ms: float, top: int = 15) -> None:
    prof = cProfile.Profile()
    prof.runcall(run_dslab, until_ms, True)
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def peak_bytes(until_ms: float, journal: bool) -> tuple[int, int]:
    gc.collect()
    tracemalloc.start()
    sim = Sim(seed=1, latency=LATENCY, journal=journal)
    for name in NODES:
        sim.add_node(name, Beater)
    sim.run(until=until_ms)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return sim.net.stats["delivered"], peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=200_000, help="messages to deliver per run")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per variant")
    ap.add_argument("--profile", action="store_true", help="cProfile the journal-on run and exit")
    args = ap.parse_args()
    until = args.messages / MSGS_PER_MS + PERIOD_MS / 2
    if args.profile:
        profile(until)
        return

    variants = {
        "bare SimPy (baseline)": lambda: run_simpy(until),
        "dslab (journal on)": lambda: run_dslab(until, journal=True),
        "dslab (journal off)": lambda: run_dslab(until, journal=False),
    }
    n_msgs = run_simpy(until)[0]
    print(f"5 nodes, all-to-all heartbeats every {PERIOD_MS:g} ms, latency {LATENCY}")
    print(f"{n_msgs} messages per run ({until / 1000:.1f} s simulated), best of {args.repeat}\n")
    rates = interleaved(variants, args.repeat)
    best = {name: max(r) for name, r in rates.items()}
    base = best["bare SimPy (baseline)"]
    print(f"{'variant':<24}{'msgs/CPU s':>14}{'x baseline':>12}   runs (msgs/s)")
    for name, rs in rates.items():
        runs = ", ".join(f"{r:,.0f}" for r in rs)
        print(f"{name:<24}{best[name]:>14,.0f}{best[name] / base:>11.2f}x   {runs}")
    ratio = best["dslab (journal on)"] / base
    verdict = "meets" if ratio >= 0.5 else "MISSES"
    print(f"\njournal on: {ratio:.2f}x bare SimPy ({verdict} the >= 0.5x target)")
    on, bare = rates["dslab (journal on)"], rates["bare SimPy (baseline)"]
    per_round = [a / b for a, b in zip(on, bare, strict=True)]
    print(f"journal on / baseline, round by round: {', '.join(f'{r:.2f}' for r in per_round)}")

    mem_until = 100_000 / MSGS_PER_MS + PERIOD_MS / 2
    print("\npeak traced memory (tracemalloc), 100k-message run:")
    peaks = {}
    for journal in (True, False):
        delivered, peak = peak_bytes(mem_until, journal)
        peaks[journal] = peak
        per_100k = peak * 100_000 / delivered
        label = "journal on" if journal else "journal off"
        print(f"  {label:<12}{per_100k / 2**20:8.1f} MiB per 100k messages")
    share = (peaks[True] - peaks[False]) * 100_000 / delivered
    print(
        f"  the journal itself: {share / 2**20:.1f} MiB per 100k messages "
        f"({share / 100_000:.0f} bytes per record)"
    )


if __name__ == "__main__":
    main()
