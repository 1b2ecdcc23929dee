"""Scenarios on how OCTO grew: weights instead of removal, a scanner per machine room with
takeover, the MNS-Controller tier, and the move from a CP registry to an AP one. Each takes the
``seed`` first and returns a :class:`~dslab.sim.scenario.Result`; the numbers come from
:mod:`dslab.governance.evolution_analysis`.

- :func:`weight_lowering`: provider ``p1`` turns slow for a while; the plain scanner keeps it
  (its probes still arrive in time) while the weight-lowering scanner turns its traffic down
  step by step, removes it, and restores it gradually once it is healthy.
- :func:`room_takeover`: room A's scanner crashes, then provider ``p1`` (room A) crashes; with
  takeover the next room's scanner probes room A and removes ``p1``; without, nobody does.
- :func:`controller_load`: the registry's load as the number of agents grows, with agents
  talking to MNS directly or through MNS-Controllers (:func:`build_tier` builds that cluster:
  ``n`` agents running ``node_cls``, the controller and naming-service roles swappable too).
- :func:`cp_to_ap`: :func:`dslab.cap.experiments.service_discovery` (the CP, ZooKeeper-like and
  the AP, Eureka-like registries of the CAP chapter) with three registry nodes, one per machine
  room, while room A is cut off from rooms B and C.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_number, check_seed, check_type
from dslab.cap.experiments import discovery_summary, service_discovery
from dslab.governance.agent import SgAgent
from dslab.governance.controller import MnsController
from dslab.governance.evolution_analysis import (
    discovery_bins,
    load_row,
    probes_frame,
    room_summary,
    weight_series,
)
from dslab.governance.mns import NamingService
from dslab.governance.provider import Provider
from dslab.governance.scanner import Scanner
from dslab.governance.scenarios import SERVICE, run_cluster
from dslab.sim import Sim, Uniform
from dslab.sim.scenario import Result, check_node_cls


# -- 1. weights ------------------------------------------------------------------------------------
def weight_lowering(seed: int = 1, *, sick_at_ms: float = 2000.0, heal_at_ms: float = 5000.0,
                    delay_ms: float = 60.0, duration_ms: float = 8000.0, slow_ms: float = 30.0,
                    step_down: int = 4, step_up: int = 2, **kwargs: Any) -> Result:
    """``p1`` answers ``delay_ms`` late between ``sick_at_ms`` and ``heal_at_ms`` (consumers
    give up after 50 ms; probes wait 100 ms). Consumers pick in proportion to the weights;
    ``slow_ms``, ``step_down`` and ``step_up`` go to the
    :class:`~dslab.governance.weights.WeightScanner`.
    ``frame``: the consumer attempts of both scanners (column ``scanner``: ``plain`` or
    ``weights``); ``metadata["weights"]``: ``p1``'s weight over time (``t_ms``, ``weight``,
    ``scanner``); ``metadata["sick_at_ms"]``, ``["heal_at_ms"]``; ``["histories"]`` by scanner."""
    check_number("sick_at_ms", sick_at_ms, min=0)
    check_number("heal_at_ms", heal_at_ms, min=sick_at_ms)
    check_number("delay_ms", delay_ms, min=0)
    calls, weights, histories = [], [], {}
    for scanner in ("plain", "weights"):
        opts = {"slow_ms": slow_ms, "step_down": step_down, "step_up": step_up}
        result = run_cluster(seed, scanner=scanner, weighted=True, duration_ms=duration_ms,
                             degraded={"p1": ((sick_at_ms, heal_at_ms, delay_ms, 0.0),)},
                             scanner_options=opts if scanner == "weights" else None, **kwargs)
        calls.append(result.frame.assign(scanner=scanner))
        weights.append(weight_series(result.history, duration_ms).assign(scanner=scanner))
        histories[scanner] = result.history
    out = pd.concat(weights, ignore_index=True)
    out["seed"] = seed
    return Result(pd.concat(calls, ignore_index=True), None, seed,
                  {"weights": out, "sick_at_ms": sick_at_ms, "heal_at_ms": heal_at_ms,
                   "histories": histories})


# -- 2. per-room scanners --------------------------------------------------------------------------
def room_takeover(seed: int = 1, *, takeover: bool = True, scanner_crash_at_ms: float = 2000.0,
                  provider_crash_at_ms: float = 3000.0, scanner_restart_at_ms: float = 6000.0,
                  duration_ms: float = 8000.0, takeover_ms: float = 1500.0,
                  faults: tuple[tuple[Any, ...], ...] | None = None, **kwargs: Any) -> Result:
    """One scanner per room (A, B, C). Room A's scanner crashes at ``scanner_crash_at_ms`` and
    comes back at ``scanner_restart_at_ms``; provider ``p1`` (room A) crashes at
    ``provider_crash_at_ms``. ``takeover=False`` sets an effectively infinite takeover delay.
    ``faults`` replaces that schedule (for sweeps).

    ``frame``: the consumer attempts; ``metadata["probes"]``: every probe sent (``t_ms``,
    ``scanner``, ``provider``, ``delivered``); ``metadata["summary"]``: when ``p1`` was marked
    down, the longest time any provider went without a probe; ``metadata["sim"]``."""
    check_seed(seed)
    check_type("takeover", takeover, bool)
    if faults is None:
        faults = (("crash", "scanner-A", scanner_crash_at_ms),
                  ("crash", "p1", provider_crash_at_ms),
                  ("restart", "scanner-A", scanner_restart_at_ms))
    opts = {"takeover_ms": takeover_ms if takeover else 1e12, **kwargs.pop("scanner_options", {})}
    result = run_cluster(seed, scanner="rooms", duration_ms=duration_ms, faults=faults,
                         scanner_options=opts, **kwargs)
    calls = result.frame
    probes = probes_frame(result.history)
    probes["seed"] = seed
    calls["variant"] = "takeover" if takeover else "no takeover"
    probes["variant"] = calls["variant"].iloc[0] if len(calls) else ""
    summary = room_summary(result.history, probes, duration_ms, takeover)
    return Result(calls, result.history, seed,
                  {"probes": probes, "summary": summary, "sim": result.metadata["sim"]})


# -- 3. the MNS-Controller tier --------------------------------------------------------------------
TIERS = ("direct", "controller")


def build_tier(
    sim: Sim,
    n: int,
    node_cls: type[SgAgent] = SgAgent,
    *,
    tier: str = "controller",
    controllers: int = 2,
    refresh_ms: float = 1000.0,
    providers: int = 4,
    controller_cls: type[MnsController] = MnsController,
    mns_cls: type[NamingService] = NamingService,
) -> list[str]:
    """The controller-load cluster: ``mns`` (``mns_cls``), a scanner, ``providers`` providers
    registering directly, ``controllers`` MNS-Controllers ``ctl1``... (``controller_cls``; tier
    ``controller`` only) and ``n`` agents ``agent1``... running ``node_cls``, spread round robin
    over the controllers (or all on ``mns``). Returns the agents' names."""
    check_number("n", n, min=1, integer=True)
    check_node_cls(node_cls, base=SgAgent)
    check_node_cls(controller_cls, "controller_cls", MnsController)
    check_node_cls(mns_cls, "mns_cls", NamingService)
    if tier not in TIERS:
        raise ValueError(f"tier={tier!r} is not allowed; choose one of ['direct', 'controller']")
    sim.add_node("mns", lambda: mns_cls("scanner"))
    sim.add_node("scanner", lambda: Scanner())
    for k in range(1, providers + 1):
        sim.add_node(f"p{k}", lambda: Provider(SERVICE, "mns", retry_ms=100.0))
    front = [f"ctl{k}" for k in range(1, controllers + 1)] if tier == "controller" else ["mns"]
    if tier == "controller":
        for c in front:
            sim.add_node(c, lambda: controller_cls(refresh_ms=refresh_ms))
    agents = [f"agent{i + 1}" for i in range(n)]
    for i, name in enumerate(agents):
        sim.add_node(name, lambda i=i: node_cls(front[i % len(front)], refresh_ms=refresh_ms,
                                                services=(SERVICE,)))
    return agents


def controller_run(seed: int, agents: int, tier: str = "controller", *, controllers: int = 2,
                   refresh_ms: float = 1000.0, duration_ms: float = 5000.0, loss: float = 0.0,
                   faults: tuple[tuple[str, str, float], ...] = (),
                   node_cls: type[SgAgent] = SgAgent) -> Result:
    """One run of :func:`controller_load`'s cluster (:func:`build_tier`, ``tier`` ``direct`` or
    ``controller``), with message ``loss`` on every message to or from an agent or a controller,
    and extra ``faults`` (``(verb, node, at_ms)``, crash or restart). ``frame``: the run's row
    of the load table (:func:`~dslab.governance.evolution_analysis.load_row`);
    ``metadata["row"]``: the same row as a dict; ``metadata["sim"]``: the finished simulation
    (agents ``agent1``..., controllers ``ctl1``...)."""
    check_seed(seed)
    check_number("agents", agents, min=1, integer=True)
    if tier not in TIERS:
        raise ValueError(f"tier={tier!r} is not allowed; choose one of ['direct', 'controller']")
    sim = Sim(seed, latency=Uniform(0.5, 1.5))
    build_tier(sim, agents, node_cls, tier=tier, controllers=controllers, refresh_ms=refresh_ms)
    if loss:
        for node in [n for n in sim.node_names if n.startswith(("agent", "ctl"))]:
            sim.net.configure(src=node, loss=loss)
            sim.net.configure(dst=node, loss=loss)
    sim.crash("p1", at=1000.0)
    sim.restart("p1", at=2500.0)
    for verb, node, at in faults:
        if verb not in ("crash", "restart"):
            raise ValueError(f"fault verb={verb!r} is not allowed; choose crash or restart")
        getattr(sim, verb)(node, at=at)
    sim.run(until=duration_ms)
    row = load_row(sim.history, agents, tier, controllers, duration_ms, sim.handler("mns").reads)
    return Result(pd.DataFrame([row]), sim.history, seed, {"row": row, "sim": sim})


def controller_load(seed: int = 1, *, agents: tuple[int, ...] = (25, 50, 100, 200),
                    controllers: int = 2, refresh_ms: float = 1000.0,
                    duration_ms: float = 5000.0, progress: bool = False) -> Result:
    """For each number of agents, two runs: agents fetch from MNS directly, or through
    ``controllers`` MNS-Controllers (agents spread over them round robin). Every agent
    subscribes to ``pay`` at start and re-fetches every ``refresh_ms``; provider ``p1`` crashes
    at 1000 ms and restarts at 2500 ms (two changes, pushed). ``frame``: one row per run:
    messages the registry received and sent per second, its reads per second, pushes per
    change, and how long the last agent waited for each change (``update_ms``, the worse of the
    two)."""
    check_seed(seed)
    for i, n in enumerate(agents):
        check_number(f"agents[{i}]", n, min=1, integer=True)
    check_number("controllers", controllers, min=1, integer=True)
    check_number("refresh_ms", refresh_ms, min=0, min_inclusive=False)
    check_number("duration_ms", duration_ms, min=2600.0)
    rows = []
    runs = [(n, tier) for n in agents for tier in TIERS]
    for n, tier in tqdm(runs, disable=not progress, desc="runs"):
        run = controller_run(seed, n, tier, controllers=controllers, refresh_ms=refresh_ms,
                             duration_ms=duration_ms)
        rows.append(run.metadata["row"])
    out = pd.DataFrame(rows)
    out["seed"] = seed
    return Result(out, None, seed)


# -- 4. from a CP registry to an AP one ------------------------------------------------------------
def cp_to_ap(seed: int = 1, *, bin_ms: float = 250.0, **kwargs: Any) -> Result:
    """:func:`dslab.cap.experiments.service_discovery` with ``n=3`` registry nodes, one per
    machine room, for the CP (ZooKeeper-like, OCTO's MNS on ZooKeeper) and the AP
    (Eureka-like, standing in for Cellar) registry. Room A (``z1``, its instances and consumer)
    is cut off from rooms B and C from 1000 to 3000 ms; half way, a new instance registers in
    each side. ``frame`` (the bins): the share of discovery requests answered per registry,
    room and ``bin_ms``; ``metadata["registrations"]``: every registration attempt of the new
    instances; ``metadata["summary"]``: :func:`~dslab.cap.experiments.discovery_summary` per
    registry; ``metadata["schedule"]``: the partition's times (and ``bin_ms``)."""
    check_seed(seed)
    check_number("bin_ms", bin_ms, min=0, min_inclusive=False)
    rooms = {"minority": "room A (cut off)", "majority": "rooms B + C"}
    names = {"cp": "CP (ZooKeeper-like)", "ap": "AP (Eureka / Cellar-like)"}
    bins, regs, sums = [], [], []
    schedule: dict[str, Any] = {}
    for reg in ("cp", "ap"):
        run = service_discovery(seed, reg, n=3, **kwargs)
        df = run[0]
        schedule.update(df.attrs)
        meta = getattr(run, "metadata", {})
        schedule.update({k: meta[k] for k in ("partition_start_ms", "heal_ms") if k in meta})
        d = df.assign(room=df["side"].map(rooms), registry=names[reg])
        bins.append(discovery_bins(d, bin_ms))
        regs.append(d[d["op"] == "register"][["registry", "room", "time_ms", "actor", "type"]])
        s = discovery_summary(df)
        sums.append(s.assign(room=s["side"].map(rooms), registry=names[reg]))
    out = pd.concat(bins, ignore_index=True)
    out["seed"] = seed
    schedule["bin_ms"] = bin_ms
    summary = pd.concat(sums, ignore_index=True)[
        ["registry", "room", "discover_ok", "register_ok", "sees_own_new", "max_dead_listed"]]
    return Result(out, None, seed, {"registrations": pd.concat(regs, ignore_index=True),
                                    "summary": summary, "schedule": schedule})


__all__ = ["TIERS", "build_tier", "controller_load", "controller_run", "cp_to_ap",
           "room_takeover", "weight_lowering"]
