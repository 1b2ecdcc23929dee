"""Experiments on how OCTO grew: weights instead of removal, a scanner per machine room with
takeover, the MNS-Controller tier, and the move from a CP registry to an AP one. Each takes a
``seed`` and returns pandas DataFrames.

- :func:`weight_lowering`: provider ``p1`` turns slow for a while; the plain scanner keeps it
  (its probes still arrive in time) while the weight-lowering scanner turns its traffic down
  step by step, removes it, and restores it gradually once it is healthy.
- :func:`room_takeover`: room A's scanner crashes, then provider ``p1`` (room A) crashes; with
  takeover the next room's scanner probes room A and removes ``p1``; without, nobody does.
- :func:`controller_load`: the registry's load as the number of agents grows, with agents
  talking to MNS directly or through MNS-Controllers.
- :func:`cp_to_ap`: :func:`dslab.cap.experiments.service_discovery` (the CP, ZooKeeper-like and
  the AP, Eureka-like registries of the CAP chapter) with three registry nodes, one per machine
  room, while room A is cut off from rooms B and C.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_number, check_seed, check_type
from dslab.cap.experiments import discovery_summary, service_discovery
from dslab.governance.agent import SgAgent
from dslab.governance.controller import MnsController
from dslab.governance.experiments import HOSTS, PER_HOST, ROOMS, SERVICE, run_cluster
from dslab.governance.messages import Probe
from dslab.governance.mns import FULL_WEIGHT, NamingService
from dslab.governance.provider import Provider
from dslab.governance.scanner import Scanner
from dslab.sim import Sim, Uniform

PROVIDERS = [f"p{i}" for i in range(1, HOSTS * PER_HOST + 1)]


# -- 1. weights ------------------------------------------------------------------------------------
def weight_lowering(seed: int = 1, *, sick_at_ms: float = 2000.0, heal_at_ms: float = 5000.0,
                    delay_ms: float = 60.0, duration_ms: float = 8000.0, slow_ms: float = 30.0,
                    step_down: int = 4, step_up: int = 2, **kwargs: Any
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``p1`` answers ``delay_ms`` late between ``sick_at_ms`` and ``heal_at_ms`` (consumers
    give up after 50 ms; probes wait 100 ms). Consumers pick in proportion to the weights;
    ``slow_ms``, ``step_down`` and ``step_up`` go to the
    :class:`~dslab.governance.weights.WeightScanner`.
    Returns the consumer attempts of both scanners (column ``scanner``: ``plain`` or
    ``weights``) and ``p1``'s weight over time (``t_ms``, ``weight``, ``scanner``)."""
    check_number("sick_at_ms", sick_at_ms, min=0)
    check_number("heal_at_ms", heal_at_ms, min=sick_at_ms)
    check_number("delay_ms", delay_ms, min=0)
    calls, weights = [], []
    for scanner in ("plain", "weights"):
        opts = {"slow_ms": slow_ms, "step_down": step_down, "step_up": step_up}
        df, sim = run_cluster(seed, scanner=scanner, weighted=True, duration_ms=duration_ms,
                              degraded={"p1": ((sick_at_ms, heal_at_ms, delay_ms, 0.0),)},
                              scanner_options=opts if scanner == "weights" else None, **kwargs)
        calls.append(df.assign(scanner=scanner))
        w = [(0.0, FULL_WEIGHT)] + [(e.time, e.data["weight"]) for e in sim.history.events
                                    if e.name == "weight" and e.data["provider"] == "p1"]
        w.append((duration_ms, w[-1][1]))
        weights.append(pd.DataFrame(w, columns=["t_ms", "weight"]).assign(scanner=scanner))
    out = pd.concat(weights, ignore_index=True)
    out["seed"] = seed
    out.attrs.update(sick_at_ms=sick_at_ms, heal_at_ms=heal_at_ms)
    return pd.concat(calls, ignore_index=True), out


def share_bins(calls: pd.DataFrame, provider: str = "p1", bin_ms: float = 250.0
               ) -> pd.DataFrame:
    """Per scanner and time bin: the share of attempts that went to ``provider``, and the share
    that failed."""
    check_number("bin_ms", bin_ms, min=0, min_inclusive=False)
    d = calls.assign(bin_ms=(calls["t_ms"] // bin_ms) * bin_ms,
                     to_p=calls["provider"] == provider, failed=calls["outcome"] != "ok")
    return d.groupby(["scanner", "bin_ms"], sort=True).agg(
        attempts=("t_ms", "size"), share=("to_p", "mean"), failed=("failed", "mean")
    ).reset_index()


def weight_summary(calls: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """Per scanner: failed calls while ``p1`` was sick, when it was removed, and when it was
    back at full weight (ms after the sickness began / ended)."""
    a = weights.attrs
    rows = []
    for scanner, c in calls.groupby("scanner", sort=True):
        w = weights[weights["scanner"] == scanner]
        sick = c[(c["t_ms"] >= a["sick_at_ms"]) & (c["t_ms"] < a["heal_at_ms"] + 100.0)]
        removed = w[(w["weight"] == 0) & (w["t_ms"] >= a["sick_at_ms"])]["t_ms"]
        full = w[(w["weight"] == FULL_WEIGHT) & (w["t_ms"] > a["heal_at_ms"])
                 & (w["t_ms"] < w["t_ms"].max())]["t_ms"]  # not the end-of-run point
        rows.append({
            "scanner": scanner, "failed_while_sick": int((sick["outcome"] != "ok").sum()),
            "removed_after_ms": round(removed.iloc[0] - a["sick_at_ms"], 1) if len(removed)
            else None,
            "full_weight_after_ms": round(full.iloc[0] - a["heal_at_ms"], 1) if len(full)
            else None,
        })
    return pd.DataFrame(rows)


# -- 2. per-room scanners --------------------------------------------------------------------------
def room_takeover(seed: int = 1, *, takeover: bool = True, scanner_crash_at_ms: float = 2000.0,
                  provider_crash_at_ms: float = 3000.0, scanner_restart_at_ms: float = 6000.0,
                  duration_ms: float = 8000.0, takeover_ms: float = 1500.0,
                  faults: tuple[tuple[Any, ...], ...] | None = None, **kwargs: Any
                  ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], Sim]:
    """One scanner per room (A, B, C). Room A's scanner crashes at ``scanner_crash_at_ms`` and
    comes back at ``scanner_restart_at_ms``; provider ``p1`` (room A) crashes at
    ``provider_crash_at_ms``. ``takeover=False`` sets an effectively infinite takeover delay.
    ``faults`` replaces that schedule (for sweeps).

    Returns the consumer attempts, every probe sent (``t_ms``, ``scanner``, ``provider``,
    ``delivered``), a summary (when ``p1`` was marked down, the longest time any provider went
    without a probe) and the ``Sim``."""
    check_seed(seed)
    check_type("takeover", takeover, bool)
    if faults is None:
        faults = (("crash", "scanner-A", scanner_crash_at_ms),
                  ("crash", "p1", provider_crash_at_ms),
                  ("restart", "scanner-A", scanner_restart_at_ms))
    opts = {"takeover_ms": takeover_ms if takeover else 1e12, **kwargs.pop("scanner_options", {})}
    calls, sim = run_cluster(seed, scanner="rooms", duration_ms=duration_ms, faults=faults,
                             scanner_options=opts, **kwargs)
    probes = pd.DataFrame(
        [(m.send_time, m.src, m.dst, m.status == "delivered") for m in sim.history.messages
         if m.type == Probe.__name__],
        columns=["t_ms", "scanner", "provider", "delivered"])
    probes["seed"] = seed
    calls["variant"] = "takeover" if takeover else "no takeover"
    probes["variant"] = calls["variant"].iloc[0] if len(calls) else ""
    return calls, probes, room_summary(sim, probes, duration_ms, takeover), sim


def room_summary(sim: Sim, probes: pd.DataFrame, duration_ms: float, takeover: bool
                 ) -> dict[str, Any]:
    """Marks per provider, when ``p1`` went down, and the longest gap between two probes sent to
    the same provider (from the first round to the end of the run)."""
    ev = sim.history.events
    down = [(e.time, e.data["provider"]) for e in ev if e.name == "marked_down"]
    gaps = {}
    for p in PROVIDERS:
        t = sorted(probes.loc[probes["provider"] == p, "t_ms"])
        edges = t + [duration_ms]
        gaps[p] = max(b - a for a, b in zip(edges, edges[1:], strict=False)) if t else math.inf
    return {
        "variant": "takeover" if takeover else "no takeover", "seed": sim.seed,
        "p1_marked_down_ms": next((round(t, 1) for t, p in down if p == "p1"), None),
        "takeovers": [(round(e.time), e.data["room"], e.data["by"]) for e in ev
                      if e.name == "takeover"],
        "handbacks": [(round(e.time), e.data["room"], e.data["by"]) for e in ev
                      if e.name == "handback"],
        "max_probe_gap_ms": round(max(gaps.values()), 1),
        "marked_down": len(down),
        "marked_up": sum(e.name == "marked_up" and e.data.get("by") == "scanner" for e in ev),
    }


# -- 3. the MNS-Controller tier --------------------------------------------------------------------
def controller_load(seed: int = 1, *, agents: tuple[int, ...] = (25, 50, 100, 200),
                    controllers: int = 2, refresh_ms: float = 1000.0,
                    duration_ms: float = 5000.0, progress: bool = False) -> pd.DataFrame:
    """For each number of agents, two runs: agents fetch from MNS directly, or through
    ``controllers`` MNS-Controllers (agents spread over them round robin). Every agent
    subscribes to ``pay`` at start and re-fetches every ``refresh_ms``; provider ``p1`` crashes
    at 1000 ms and restarts at 2500 ms (two changes, pushed). One row per run: messages the
    registry received and sent per second, its reads per second, pushes per change, and how
    long the last agent waited for each change (``update_ms``, the worse of the two)."""
    check_seed(seed)
    for i, n in enumerate(agents):
        check_number(f"agents[{i}]", n, min=1, integer=True)
    check_number("controllers", controllers, min=1, integer=True)
    check_number("refresh_ms", refresh_ms, min=0, min_inclusive=False)
    check_number("duration_ms", duration_ms, min=2600.0)
    rows = []
    runs = [(n, tier) for n in agents for tier in ("direct", "controller")]
    for n, tier in tqdm(runs, disable=not progress, desc="runs"):
        sim = controller_run(seed, n, tier, controllers=controllers, refresh_ms=refresh_ms,
                             duration_ms=duration_ms)
        rows.append(_load_row(sim, n, tier, controllers, duration_ms))
    out = pd.DataFrame(rows)
    out["seed"] = seed
    return out


def controller_run(seed: int, agents: int, tier: str = "controller", *, controllers: int = 2,
                   refresh_ms: float = 1000.0, duration_ms: float = 5000.0, loss: float = 0.0,
                   faults: tuple[tuple[str, str, float], ...] = ()) -> Sim:
    """One run of :func:`controller_load`'s cluster (``tier`` ``direct`` or ``controller``),
    with message ``loss`` on every message to or from an agent or a controller, and extra
    ``faults`` (``(verb, node, at_ms)``, crash or restart); returns the ``Sim`` (agents
    ``agent1``..., controllers ``ctl1``...)."""
    check_seed(seed)
    check_number("agents", agents, min=1, integer=True)
    if tier not in ("direct", "controller"):
        raise ValueError(f"tier={tier!r} is not allowed; choose one of ['direct', 'controller']")
    sim = Sim(seed, latency=Uniform(0.5, 1.5))
    sim.add_node("mns", lambda: NamingService("scanner"))
    sim.add_node("scanner", lambda: Scanner())
    for k in range(1, 5):
        sim.add_node(f"p{k}", lambda: Provider(SERVICE, "mns", retry_ms=100.0))
    front = [f"ctl{k}" for k in range(1, controllers + 1)] if tier == "controller" else ["mns"]
    if tier == "controller":
        for c in front:
            sim.add_node(c, lambda: MnsController(refresh_ms=refresh_ms))
    for i in range(agents):
        sim.add_node(f"agent{i + 1}", lambda i=i: SgAgent(front[i % len(front)],
                                                            refresh_ms=refresh_ms,
                                                            services=(SERVICE,)))
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
    return sim


def _load_row(sim: Sim, n: int, tier: str, controllers: int, duration_ms: float
              ) -> dict[str, Any]:
    msgs = [m for m in sim.history.messages if "mns" in (m.src, m.dst)
            and "scanner" not in (m.src, m.dst) and not m.src.startswith("p")]
    changes = [e.time for e in sim.history.events if e.name in ("marked_down", "marked_up")
               and e.data.get("provider") == "p1" and e.time > 500.0]
    delays = []
    for t in changes:  # when did the last agent learn of this change?
        per_agent: dict[str, float] = {}
        for e in sim.history.events:
            if e.name == "cache_updated" and e.node.startswith("agent") and e.time >= t:
                per_agent.setdefault(e.node, e.time)
        delays.append(max(per_agent.values()) - t if len(per_agent) == n else math.nan)
    pushes = sum(1 for m in msgs if m.src == "mns" and m.type == "ServiceList"
                 and any(abs(m.send_time - t) < 1e-9 for t in changes))
    seconds = duration_ms / 1000.0
    return {
        "agents": n, "tier": tier, "controllers": controllers if tier == "controller" else 0,
        "registry_msgs_per_s": round(len(msgs) / seconds, 1),
        "registry_reads_per_s": round(sim.handler("mns").reads / seconds, 1),
        "pushes_per_change": pushes / max(1, len(changes)),
        "update_ms": round(max(delays), 2) if delays else math.nan,
    }


# -- 4. from a CP registry to an AP one ------------------------------------------------------------
def cp_to_ap(seed: int = 1, *, bin_ms: float = 250.0, **kwargs: Any
             ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`dslab.cap.experiments.service_discovery` with ``n=3`` registry nodes, one per
    machine room, for the CP (ZooKeeper-like, OCTO's MNS on ZooKeeper) and the AP
    (Eureka-like, standing in for Cellar) registry. Room A (``z1``, its instances and consumer)
    is cut off from rooms B and C from 1000 to 3000 ms; half way, a new instance registers in
    each side. Returns ``(bins, registrations, summary)``: the share of discovery requests
    answered per registry, room and ``bin_ms``; every registration attempt of the new
    instances; and :func:`~dslab.cap.experiments.discovery_summary` per registry."""
    check_seed(seed)
    check_number("bin_ms", bin_ms, min=0, min_inclusive=False)
    rooms = {"minority": "room A (cut off)", "majority": "rooms B + C"}
    names = {"cp": "CP (ZooKeeper-like)", "ap": "AP (Eureka / Cellar-like)"}
    bins, regs, sums = [], [], []
    for reg in ("cp", "ap"):
        df, _ = service_discovery(seed, reg, n=3, **kwargs)
        d = df.assign(room=df["side"].map(rooms), registry=names[reg])
        disc = d[d["op"] == "discover"].assign(
            bin_ms=lambda x: (x["time_ms"] // bin_ms) * bin_ms, ok=lambda x: x["type"] == "ok")
        bins.append(disc.groupby(["registry", "room", "bin_ms"], sort=True).agg(
            requests=("ok", "size"), answered=("ok", "mean")).reset_index())
        regs.append(d[d["op"] == "register"][["registry", "room", "time_ms", "actor", "type"]])
        s = discovery_summary(df)
        sums.append(s.assign(room=s["side"].map(rooms), registry=names[reg]))
    out = pd.concat(bins, ignore_index=True)
    out["seed"] = seed
    out.attrs.update(df.attrs, bin_ms=bin_ms)
    summary = pd.concat(sums, ignore_index=True)[
        ["registry", "room", "discover_ok", "register_ok", "sees_own_new", "max_dead_listed"]]
    return out, pd.concat(regs, ignore_index=True), summary


__all__ = ["PROVIDERS", "ROOMS", "controller_load", "controller_run", "cp_to_ap", "room_summary",
           "room_takeover", "share_bins", "weight_lowering", "weight_summary"]
