"""Service-governance scenarios (OCTO, simplified): detection of a dead provider, and the
agent's cache while the naming service is down. Each takes the seed first and returns a
:class:`~dslab.sim.scenario.Result`; the numbers come from :mod:`dslab.governance.analysis`.

The cluster: naming service ``mns``; three hosts, each with an agent ``agent<i>``, two providers
of service ``pay`` (``p1``..``p6``) and one consumer client ``c<i>``; in scanner mode a
``scanner`` node (``scanner="plain"``), a weight-lowering one (``"weights"``), or one scanner per
machine room (``"rooms"``: host ``i`` is room ``A``, ``B``, ``C``, scanned by ``scanner-A``...).
Each consumer, every ``period_ms``, discovers ``pay`` through its own agent,
picks a listed provider at random and calls it. One row per consumer attempt: ``t_ms``,
``consumer``, ``provider``, ``outcome`` (``ok``, ``call_failed``, ``discover_failed``,
``no_provider``), ``listed`` (how many providers the agent listed).

:func:`build` follows the builder convention of :mod:`dslab.sim.scenario`: ``n`` hosts, the
providers running ``node_cls``; the naming service, agent and scanner roles are swappable too
(``mns_cls``, ``agent_cls``, ``scanner_cls``). The nodes keep the chapter's names (``mns``,
``agent1``, ``p1`` ..): renaming them would change every recorded history.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_choice, check_number, check_seed, check_type
from dslab.governance.agent import SgAgent
from dslab.governance.analysis import detection_summary
from dslab.governance.messages import Discover, Work
from dslab.governance.mns import MODES, NamingService
from dslab.governance.provider import Provider
from dslab.governance.rooms import RoomScanner
from dslab.governance.scanner import Scanner
from dslab.governance.weights import WeightScanner
from dslab.sim import Sim, Uniform
from dslab.sim.scenario import Result, check_node_cls

SERVICE = "pay"
HOSTS = 3
PER_HOST = 2
ROOMS = ("A", "B", "C")  # host i is in machine room ROOMS[i - 1]
SCANNERS = ("plain", "weights", "rooms")


def build(
    sim: Sim,
    n: int = HOSTS,
    node_cls: type[Provider] = Provider,
    *,
    mode: str = "scanner",
    cache: bool = True,
    heartbeat_ms: float = 1000.0,
    session_timeout_ms: float = 3000.0,
    scanner: str = "plain",
    scanner_options: dict[str, Any] | None = None,
    degraded: dict[str, tuple[tuple[float, float, float, float], ...]] | None = None,
    mns_cls: type[NamingService] = NamingService,
    agent_cls: type[SgAgent] = SgAgent,
    scanner_cls: type[Scanner] | None = None,
) -> list[str]:
    """Add the naming service ``mns`` (``mns_cls``), the scanner(s) in scanner mode, and ``n``
    hosts, each with an agent ``agent<i>`` (``agent_cls``) and :data:`PER_HOST` providers of
    :data:`SERVICE` running ``node_cls``; returns the providers' names. ``scanner_cls`` replaces
    the scanner class that ``scanner`` names (``plain``: :class:`Scanner`, ``weights``:
    :class:`WeightScanner`, ``rooms``: :class:`RoomScanner`, one per room)."""
    check_number("n", n, min=1, max=len(ROOMS), integer=True)
    check_node_cls(node_cls, base=Provider)
    check_node_cls(mns_cls, "mns_cls", NamingService)
    check_node_cls(agent_cls, "agent_cls", SgAgent)
    degraded = dict(degraded or {})
    opts = dict(scanner_options or {})
    sim.add_node("mns", lambda: mns_cls(mode, session_timeout_ms=session_timeout_ms))
    if mode == "scanner" and scanner == "plain":
        cls = check_node_cls(scanner_cls or Scanner, "scanner_cls", Scanner)
        sim.add_node("scanner", lambda: cls(**opts))
    elif mode == "scanner" and scanner == "weights":
        cls = check_node_cls(scanner_cls or WeightScanner, "scanner_cls", Scanner)
        sim.add_node("scanner", lambda: cls(**opts))
    elif mode == "scanner":
        room_cls = check_node_cls(scanner_cls or RoomScanner, "scanner_cls", RoomScanner)
        scanners = {r: f"scanner-{r}" for r in ROOMS}
        for r in ROOMS:
            sim.add_node(scanners[r], lambda r=r: room_cls(r, scanners, **opts))
    else:
        check_number("heartbeat_ms", heartbeat_ms, min=0, min_inclusive=False)
    hb = heartbeat_ms if mode == "heartbeat" else None
    providers = []
    for h in range(1, n + 1):
        sim.add_node(f"agent{h}", lambda: agent_cls(cache=cache))
        for k in range(PER_HOST):
            name = f"p{(h - 1) * PER_HOST + k + 1}"
            sim.add_node(name, lambda h=h, name=name: node_cls(
                SERVICE, f"agent{h}", heartbeat_ms=hb, room=ROOMS[h - 1],
                degraded=degraded.get(name, ())))
            providers.append(name)
    return providers


def run_cluster(
    seed: int,
    *,
    mode: str = "scanner",
    cache: bool = True,
    duration_ms: float = 6000.0,
    period_ms: float = 20.0,
    heartbeat_ms: float = 1000.0,
    session_timeout_ms: float = 3000.0,
    scan_interval_ms: float = 500.0,
    probe_timeout_ms: float = 100.0,
    confirm: int = 2,
    faults: tuple[tuple[str, str, float], ...] = (),
    scanner: str = "plain",
    weighted: bool = False,
    degraded: dict[str, tuple[tuple[float, float, float, float], ...]] | None = None,
    scanner_options: dict[str, Any] | None = None,
    node_cls: type[Provider] = Provider,
    **roles: Any,
) -> Result:
    """Build the cluster (:func:`build`; ``node_cls`` and ``roles`` -- ``mns_cls``,
    ``agent_cls``, ``scanner_cls`` -- swap its classes), apply ``faults`` (``(verb, node,
    at_ms)``, verb crash, restart or pause: ``("pause", node, at_ms, duration_ms)``), run the
    consumers for ``duration_ms``. ``frame``: their attempts; ``metadata["sim"]``: the finished
    simulation. ``weighted``: consumers pick providers in proportion
    to their weights; ``degraded``: provider -> sick windows (see
    :class:`~dslab.governance.provider.Provider`); ``scanner_options``: more arguments for the
    scanner(s)."""
    check_seed(seed)
    check_choice("mode", mode, MODES)
    check_type("cache", cache, bool)
    check_number("duration_ms", duration_ms, min=0, min_inclusive=False)
    check_number("period_ms", period_ms, min=0, min_inclusive=False)
    check_choice("scanner", scanner, SCANNERS)
    check_type("weighted", weighted, bool)
    degraded = dict(degraded or {})
    for p in degraded:
        check_choice("degraded provider", p, [f"p{i}" for i in range(1, HOSTS * PER_HOST + 1)])
    opts = dict(interval_ms=scan_interval_ms, probe_timeout_ms=probe_timeout_ms,
                confirm=confirm, **(scanner_options or {}))
    sim = Sim(seed, latency=Uniform(0.5, 1.5))
    build(sim, HOSTS, node_cls, mode=mode, cache=cache, heartbeat_ms=heartbeat_ms,
          session_timeout_ms=session_timeout_ms, scanner=scanner, scanner_options=opts,
          degraded=degraded, **roles)
    for verb, node, at, *rest in faults:
        check_choice("fault verb", verb, ("crash", "restart", "pause"))
        if verb == "pause":
            sim.pause(node, rest[0], at=at)
        else:
            getattr(sim, verb)(node, at=at)
    rows: list[dict[str, Any]] = []

    def consumer(h: int) -> Any:
        client = sim.add_client(f"c{h}")
        rng = sim.stream(f"consumer/c{h}")
        yield sim.sleep(50.0 + rng.uniform(0, period_ms))  # let providers register
        while sim.now < duration_ms:
            t0 = sim.now
            row = {"t_ms": t0, "consumer": client.name, "provider": None, "listed": None}
            found = yield from client.call(f"agent{h}", Discover(SERVICE, weighted),
                                           timeout_ms=50.0)
            if not found.ok:
                row["outcome"] = "discover_failed"
            elif not found.value:
                row["outcome"], row["listed"] = "no_provider", 0
            else:
                row["listed"] = len(found.value)
                if weighted:
                    x = rng.random() * sum(w for _, w in found.value)
                    for p, w in found.value:  # in proportion to the weights
                        row["provider"] = p
                        if x < w:
                            break
                        x -= w
                else:
                    row["provider"] = found.value[rng.randrange(len(found.value))]
                res = yield from client.call(row["provider"], Work(), timeout_ms=50.0)
                row["outcome"] = "ok" if res.ok else "call_failed"
            rows.append(row)
            yield sim.sleep(max(0.0, t0 + period_ms - sim.now))

    for h in range(1, HOSTS + 1):
        sim.process(consumer(h))
    sim.run(until=duration_ms + 200.0)
    df = pd.DataFrame(rows, columns=["t_ms", "consumer", "provider", "listed", "outcome"])
    df = df.sort_values(["t_ms", "consumer"], kind="stable").reset_index(drop=True)
    df["seed"] = seed
    return Result(df, sim.history, seed, {"sim": sim})


def detection(seed: int = 1, *, mode: str = "scanner", crash_at_ms: float = 2000.0,
              victim: str = "p1", **kwargs: Any) -> Result:
    """Provider ``victim`` crashes at ``crash_at_ms``. ``frame``: the consumer attempts;
    ``metadata["summary"]``: when MNS marked it down, when the last agent dropped it, and how
    many calls failed (:func:`~dslab.governance.analysis.detection_summary`)."""
    check_number("crash_at_ms", crash_at_ms, min=0)
    check_choice("victim", victim, [f"p{i}" for i in range(1, HOSTS * PER_HOST + 1)])
    result = run_cluster(seed, mode=mode, faults=(("crash", victim, crash_at_ms),), **kwargs)
    df = result.frame
    summary = detection_summary(result.history, df, victim=victim, crash_at_ms=crash_at_ms,
                                mode=mode, agents=HOSTS, seed=seed)
    df["mode"] = mode
    return Result(df, result.history, seed, {"summary": summary})


def detection_compare(seed: int = 1, *, progress: bool = False, **kwargs: Any) -> Result:
    """:func:`detection` in both modes. ``frame``: the summary table, one row per mode;
    ``metadata["runs"]``: the consumer attempts of both runs; ``metadata["histories"]`` by
    mode."""
    runs, rows, histories = [], [], {}
    for mode in tqdm(MODES, disable=not progress, desc="mode"):
        result = detection(seed, mode=mode, **kwargs)
        runs.append(result.frame)
        rows.append(result.metadata["summary"])
        histories[mode] = result.history
    return Result(pd.DataFrame(rows), None, seed,
                  {"runs": pd.concat(runs, ignore_index=True), "histories": histories})


def mns_outage(seed: int = 1, *, cache: bool = True, down_at_ms: float = 1000.0,
               up_at_ms: float = 3000.0, duration_ms: float = 4000.0, **kwargs: Any
               ) -> Result:
    """The naming service is down from ``down_at_ms`` to ``up_at_ms``; agents with or without
    their cache. ``frame``: consumer attempts with a ``variant`` column."""
    check_number("down_at_ms", down_at_ms, min=0)
    check_number("up_at_ms", up_at_ms, min=down_at_ms, min_inclusive=False)
    faults = (("crash", "mns", down_at_ms), ("restart", "mns", up_at_ms))
    result = run_cluster(seed, mode="scanner", cache=cache, duration_ms=duration_ms,
                         faults=faults, **kwargs)
    df = result.frame
    df["variant"] = "agent cache" if cache else "no cache"
    return Result(df, result.history, seed)


__all__ = ["HOSTS", "PER_HOST", "ROOMS", "SCANNERS", "SERVICE", "build", "detection",
           "detection_compare", "mns_outage", "run_cluster"]
