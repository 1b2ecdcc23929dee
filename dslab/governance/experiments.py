"""Service-governance experiments (OCTO, simplified): detection of a dead provider, and the
agent's cache while the naming service is down. Each returns pandas DataFrames.

The cluster: naming service ``mns``; three hosts, each with an agent ``agent<i>``, two providers
of service ``pay`` (``p1``..``p6``) and one consumer client ``c<i>``; in scanner mode a
``scanner`` node (``scanner="plain"``), a weight-lowering one (``"weights"``), or one scanner per
machine room (``"rooms"``: host ``i`` is room ``A``, ``B``, ``C``, scanned by ``scanner-A``...).
Each consumer, every ``period_ms``, discovers ``pay`` through its own agent,
picks a listed provider at random and calls it. One row per consumer attempt: ``t_ms``,
``consumer``, ``provider``, ``outcome`` (``ok``, ``call_failed``, ``discover_failed``,
``no_provider``), ``listed`` (how many providers the agent listed).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_choice, check_number, check_seed, check_type
from dslab.governance.agent import SgAgent
from dslab.governance.messages import Discover, Work
from dslab.governance.mns import MODES, NamingService
from dslab.governance.provider import Provider
from dslab.governance.rooms import RoomScanner
from dslab.governance.scanner import Scanner
from dslab.governance.weights import WeightScanner
from dslab.sim import Sim, Uniform

SERVICE = "pay"
HOSTS = 3
PER_HOST = 2
ROOMS = ("A", "B", "C")  # host i is in machine room ROOMS[i - 1]
SCANNERS = ("plain", "weights", "rooms")


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
) -> tuple[pd.DataFrame, Sim]:
    """Build the cluster, apply ``faults`` (``(verb, node, at_ms)``, verb crash, restart or
    pause: ``("pause", node, at_ms, duration_ms)``), run the consumers for ``duration_ms`` and
    return their attempts and the ``Sim``. ``weighted``: consumers pick providers in proportion
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
    sim.add_node("mns", lambda: NamingService(mode, session_timeout_ms=session_timeout_ms))
    if mode == "scanner" and scanner == "plain":
        sim.add_node("scanner", lambda: Scanner(**opts))
    elif mode == "scanner" and scanner == "weights":
        sim.add_node("scanner", lambda: WeightScanner(**opts))
    elif mode == "scanner":
        scanners = {r: f"scanner-{r}" for r in ROOMS}
        for r in ROOMS:
            sim.add_node(scanners[r], lambda r=r: RoomScanner(r, scanners, **opts))
    else:
        check_number("heartbeat_ms", heartbeat_ms, min=0, min_inclusive=False)
    hb = heartbeat_ms if mode == "heartbeat" else None
    for h in range(1, HOSTS + 1):
        sim.add_node(f"agent{h}", lambda: SgAgent(cache=cache))
        for k in range(PER_HOST):
            name = f"p{(h - 1) * PER_HOST + k + 1}"
            sim.add_node(name, lambda h=h, name=name: Provider(
                SERVICE, f"agent{h}", heartbeat_ms=hb, room=ROOMS[h - 1],
                degraded=degraded.get(name, ())))
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
    return df, sim


def detection(seed: int = 1, *, mode: str = "scanner", crash_at_ms: float = 2000.0,
              victim: str = "p1", **kwargs: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Provider ``victim`` crashes at ``crash_at_ms``. Returns the consumer attempts and a summary:
    when MNS marked it down, when the last agent dropped it, and how many calls failed."""
    check_number("crash_at_ms", crash_at_ms, min=0)
    check_choice("victim", victim, [f"p{i}" for i in range(1, HOSTS * PER_HOST + 1)])
    df, sim = run_cluster(seed, mode=mode, faults=(("crash", victim, crash_at_ms),), **kwargs)
    downs = [e.time for e in sim.history.events
             if e.name == "marked_down" and e.data.get("provider") == victim
             and e.time >= crash_at_ms]
    marked = downs[0] if downs else None
    updates = [e.time for e in sim.history.events if e.name == "cache_updated"
               and e.time >= crash_at_ms and victim not in e.data.get("providers", [])]
    agents_done = max(updates[:HOSTS]) if marked is not None and len(updates) >= HOSTS else None
    failed = df[(df["t_ms"] >= crash_at_ms) & (df["outcome"] != "ok")]
    summary = {
        "mode": mode, "seed": seed, "crash_at_ms": crash_at_ms,
        "detected_ms": None if marked is None else round(marked - crash_at_ms, 1),
        "agents_updated_ms": None if agents_done is None else round(agents_done - crash_at_ms, 1),
        "failed_calls": len(failed),
    }
    df["mode"] = mode
    return df, summary


def detection_compare(seed: int = 1, *, progress: bool = False, **kwargs: Any
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`detection` in both modes: (summary table, consumer attempts of both runs)."""
    runs, rows = [], []
    for mode in tqdm(MODES, disable=not progress, desc="mode"):
        df, summary = detection(seed, mode=mode, **kwargs)
        runs.append(df)
        rows.append(summary)
    return pd.DataFrame(rows), pd.concat(runs, ignore_index=True)


def mns_outage(seed: int = 1, *, cache: bool = True, down_at_ms: float = 1000.0,
               up_at_ms: float = 3000.0, duration_ms: float = 4000.0, **kwargs: Any
               ) -> pd.DataFrame:
    """The naming service is down from ``down_at_ms`` to ``up_at_ms``; agents with or without
    their cache. Consumer attempts with a ``variant`` column."""
    check_number("down_at_ms", down_at_ms, min=0)
    check_number("up_at_ms", up_at_ms, min=down_at_ms, min_inclusive=False)
    faults = (("crash", "mns", down_at_ms), ("restart", "mns", up_at_ms))
    df, _ = run_cluster(seed, mode="scanner", cache=cache, duration_ms=duration_ms,
                        faults=faults, **kwargs)
    df["variant"] = "agent cache" if cache else "no cache"
    return df


def outcome_bins(df: pd.DataFrame, by: str, bin_ms: float = 100.0) -> pd.DataFrame:
    """Share of ``ok`` attempts per ``by`` column and time bin."""
    check_number("bin_ms", bin_ms, min=0, min_inclusive=False)
    d = df.assign(bin_ms=(df["t_ms"] // bin_ms) * bin_ms, ok=df["outcome"] == "ok")
    return d.groupby([by, "bin_ms"], sort=True).agg(
        attempts=("ok", "size"), ok_ratio=("ok", "mean")).reset_index()
