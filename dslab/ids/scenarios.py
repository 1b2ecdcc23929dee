"""The distributed-ID chapter's scenarios. Each builds :class:`~dslab.sim.Sim` worlds, runs them and
returns pandas DataFrames (and histories where they help). The analysis of what they return is in
:mod:`dslab.ids.analysis`, the figures in :mod:`dslab.ids.plots`, and :mod:`dslab.ids.experiments`
offers all of it under one name (the chapter's facade). The handlers are in the role modules
(:mod:`dslab.ids.autoinc`, :mod:`dslab.ids.segment`, :mod:`dslab.ids.redis`,
:mod:`dslab.ids.snowflake`, :mod:`dslab.ids.uuids`...); nothing here defines a mechanism.

1. :func:`run_ids` -- one scheme under a closed-loop client load, optionally with a fault: a
   crash and restart, a backward clock jump, or a crash with the clock set back while down.
2. :func:`compare_schemes` -- every scheme under the same load; :func:`ordering_table` repeats
   it with faults.
3. :func:`segment_waste` -- the IDs a crash skips, as a function of the step;
   :func:`segment_chaos` -- quick restarts and duplicated messages, the tests' unique-ID sweep;
   :func:`db_failover` -- Tinyid's several databases; :func:`step_adaptation` -- Leaf's dynamic
   step under a changing load.
4. :func:`redis_persistence` -- a Redis crash under each persistence mode.
5. :func:`rollback_sweep` -- Snowflake duplicates against the size of a clock rollback, for each
   defence, live or across a restart; :func:`leaf_startup` -- Leaf's start-up check, message by
   message; :func:`snowflake_capacity` -- the sequence field's limit.
6. :func:`uuid_table` -- UUID versions made by one generator: size and order.

The definitions used in the tables (IDs/s, latency, unique, increasing per client, increasing in
real time) are in :mod:`dslab.ids.analysis`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_choice, check_number, check_seed, check_type
from dslab.check import unique_ids
from dslab.history import History
from dslab.ids.analysis import OP_COLUMNS, longest_gap, summarize, v1_wrap_ms
from dslab.ids.cluster import (
    DEFENCES,
    SCHEMES,
    IdCluster,
    build,
    check_scheme,
    start_clients,
)
from dslab.ids.messages import NextId
from dslab.ids.redis import PERSISTENCE
from dslab.ids.segment import SegmentIdServer, check_step
from dslab.ids.snowflake import SnowflakeLayout, SnowflakeNode
from dslab.ids.uuids import UuidGenerator
from dslab.sim import Latency, Sim, Uniform

#: Link delays of one datacenter: 0.1 to 0.3 ms one way.
LAN = Uniform(0.1, 0.3)
FAULTS = ("none", "crash", "clock_jump", "crash_rollback")


def _ms(name: str, value: Any, *, positive: bool = False) -> float:
    return check_number(name, value, min=0, min_inclusive=not positive)


def _names(name: str, values: Any, allowed: Iterable[Any]) -> list[Any]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name}={values!r} must be a list")
    out = list(values)
    if not out:
        raise ValueError(f"{name}=[] is not allowed; choose some of {list(allowed)}")
    for i, v in enumerate(out):
        check_choice(f"{name}[{i}]", v, allowed)
    return out


# -- 1. one run ----------------------------------------------------------------------------------
def run_ids(
    scheme: str,
    seed: int = 0,
    *,
    clients: int = 8,
    duration_ms: float = 100.0,
    think_ms: float = 0.0,
    warmup_ms: float = 5.0,
    timeout_ms: float = 50.0,
    fault: str = "none",
    fault_node: str | None = None,
    fault_at_ms: float | None = None,
    downtime_ms: float = 20.0,
    rollback_ms: float = 20.0,
    placement: str = "random",
    failover: bool = True,
    latency: Latency | float = LAN,
    **options: Any,
) -> tuple[pd.DataFrame, History]:
    """Run ``scheme`` with ``clients`` closed-loop clients for ``duration_ms`` after a warm-up.

    ``fault``: ``"none"``; ``"crash"``: crash ``fault_node`` at ``fault_at_ms`` and restart it
    ``downtime_ms`` later; ``"clock_jump"``: step its clock back by ``rollback_ms``;
    ``"crash_rollback"``: crash it, step its clock back while it is down, restart it.
    ``fault_node`` defaults to the first server (``db1``, ``id1`` or ``redis``); ``fault_at_ms`` to
    the middle of the run. ``placement`` and ``failover``: how clients pick a server
    (:func:`dslab.ids.cluster.start_clients`). ``options`` go to :func:`dslab.ids.cluster.build`
    (``n_servers``, ``step``, ``double_buffer``, ``persistence``, ``defence``, ``layout``...).

    Returns one row per request (:data:`OP_COLUMNS`) and the history; ``df.attrs`` holds the
    parameters (``seed``, ``scheme``, ``fault``, ``start_ms``, ``until_ms``...).
    """
    check_seed(seed)
    check_scheme(scheme)
    check_number("clients", clients, min=1, integer=True)
    _ms("duration_ms", duration_ms, positive=True)
    _ms("think_ms", think_ms)
    _ms("warmup_ms", warmup_ms)
    _ms("timeout_ms", timeout_ms, positive=True)
    check_choice("fault", fault, FAULTS)
    _ms("downtime_ms", downtime_ms)
    _ms("rollback_ms", rollback_ms)
    until = warmup_ms + duration_ms
    at = warmup_ms + duration_ms / 2 if fault_at_ms is None else _ms("fault_at_ms", fault_at_ms)
    sim = Sim(seed, latency=latency)
    cl = build(sim, scheme, **options)
    node = cl.servers[0] if fault_node is None else fault_node
    if node not in sim.nodes:
        raise ValueError(f"fault_node={node!r} is not a node of scheme {scheme!r}; "
                         f"nodes: {sim.node_names}")
    if fault in ("crash", "crash_rollback"):
        sim.crash(node, at=at)
        if fault == "crash_rollback":
            sim.clock_jump(node, -rollback_ms, at=at + downtime_ms / 2)
        sim.restart(node, at=at + downtime_ms)
    elif fault == "clock_jump":
        sim.clock_jump(node, -rollback_ms, at=at)
    rows = start_clients(cl, clients, start_ms=warmup_ms, until_ms=until, think_ms=think_ms,
                         timeout_ms=timeout_ms, placement=placement, failover=failover)
    sim.run(until=until + timeout_ms + 1.0)
    df = _frame(rows)
    df.attrs.update(
        seed=seed, scheme=scheme, fault=fault, fault_node=node if fault != "none" else None,
        fault_at_ms=at if fault != "none" else None,
        restart_ms=at + downtime_ms if fault in ("crash", "crash_rollback") else None,
        rollback_ms=rollback_ms if fault in ("clock_jump", "crash_rollback") else None,
        start_ms=warmup_ms, until_ms=until, clients=clients, **cl.options,
    )
    df.attrs["held"] = _held(sim, cl)
    return df, sim.history


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=OP_COLUMNS)
    df["id"] = pd.Series([r["id"] for r in rows], dtype=object)  # ints stay exact Python ints
    df["error"] = pd.Series([r["error"] for r in rows], dtype=object)
    return df


def _held(sim: Sim, cl: IdCluster) -> int:
    """IDs that live segment servers still hold unused at the end of the run."""
    n = 0
    for name in cl.servers:
        h = sim.handler(name)
        if isinstance(h, SegmentIdServer):
            n += sum(end - start for start, end in h.held())
    return n


# -- 2. all schemes ------------------------------------------------------------------------------
def compare_schemes(
    seed: int = 0,
    schemes: Iterable[str] = SCHEMES,
    *,
    clients: int = 16,
    duration_ms: float = 100.0,
    fault: str = "none",
    progress: bool = False,
    **run_args: Any,
) -> tuple[pd.DataFrame, dict[str, tuple[pd.DataFrame, History]]]:
    """Every scheme in ``schemes`` under the same load (and ``fault``); one row per scheme.

    Returns the table and the runs (``{scheme: (ops, history)}``). Other keyword arguments go to
    :func:`run_ids`.
    """
    check_seed(seed)
    names = _names("schemes", schemes, SCHEMES)
    check_type("progress", progress, bool)
    rows, runs = [], {}
    for scheme in tqdm(names, disable=not progress, desc="schemes"):
        df, h = run_ids(scheme, seed, clients=clients, duration_ms=duration_ms, fault=fault,
                        **run_args)
        runs[scheme] = (df, h)
        rows.append({"scheme": scheme, **summarize(df, h)})
    table = pd.DataFrame(rows)
    table.attrs.update(seed=seed, clients=clients, duration_ms=duration_ms, fault=fault)
    return table, runs


def ordering_table(
    seed: int = 0,
    schemes: Iterable[str] = SCHEMES,
    faults: Iterable[str] = ("none", "crash", "clock_jump"),
    *,
    clients: int = 4,
    duration_ms: float = 100.0,
    think_ms: float = 0.5,
    progress: bool = False,
    **run_args: Any,
) -> pd.DataFrame:
    """Uniqueness and order of every scheme with each fault (one row per scheme and fault).

    With ``"crash"`` the first server crashes for 20 ms; with ``"clock_jump"`` its clock steps
    back 20 ms (``run_ids``'s defaults). Redis runs with ``persistence="always"`` and Snowflake with
    the ``"wait"`` defence unless ``run_args`` say otherwise.
    """
    check_seed(seed)
    names = _names("schemes", schemes, SCHEMES)
    fs = _names("faults", faults, FAULTS)
    check_type("progress", progress, bool)
    rows = []
    for scheme in tqdm(names, disable=not progress, desc="schemes"):
        for fault in fs:
            df, h = run_ids(scheme, seed, clients=clients, duration_ms=duration_ms,
                            think_ms=think_ms, fault=fault, **run_args)
            s = summarize(df, h)
            rows.append({"scheme": scheme, "fault": fault,
                         **{k: s[k] for k in ("ok", "fail", "info", "unique", "duplicates",
                                              "increasing_per_client",
                                              "increasing_in_real_time")}})
    out = pd.DataFrame(rows)
    out.attrs.update(seed=seed, clients=clients, duration_ms=duration_ms)
    return out


# -- 3. segment mode -----------------------------------------------------------------------------
def segment_waste(
    seed: int = 0,
    steps: Iterable[int] = (100, 300, 1000, 3000),
    double_buffer: Iterable[bool] = (False, True),
    *,
    crashes: int = 3,
    clients: int = 4,
    duration_ms: float = 600.0,
    think_ms: float = 1.0,
    downtime_ms: float = 10.0,
    progress: bool = False,
) -> pd.DataFrame:
    """IDs that crashes of a segment-mode server skip forever, for each ``step`` and buffering.

    Two ID servers; ``id1`` crashes ``crashes`` times, evenly spread over the run, each time for
    ``downtime_ms``; its clients wait for it (no fail-over). ``wasted`` = IDs the database
    granted - IDs handed out - IDs still held by live servers at the end. Every run is also
    checked for duplicates (``unique``).
    """
    check_seed(seed)
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Iterable):
        raise TypeError(f"steps={steps!r} must be a list of ints")
    step_list = [check_step(s) for s in steps]
    if not step_list:
        raise ValueError("steps=[] is not allowed; give at least one step")
    modes = list(double_buffer) if isinstance(double_buffer, Iterable) else [double_buffer]
    for i, m in enumerate(modes):
        check_type(f"double_buffer[{i}]", m, bool)
    check_number("crashes", crashes, min=0, integer=True)
    check_number("clients", clients, min=1, integer=True)
    _ms("duration_ms", duration_ms, positive=True)
    _ms("think_ms", think_ms)
    _ms("downtime_ms", downtime_ms)
    check_type("progress", progress, bool)
    warm = 5.0
    runs = [(s, m) for s in step_list for m in modes]
    rows = []
    for step, mode in tqdm(runs, disable=not progress, desc="segment runs"):
        sim = Sim(seed, latency=LAN)
        cl = build(sim, "segment", step=step, double_buffer=mode)
        for k in range(crashes):
            at = warm + duration_ms * (k + 1) / (crashes + 1)
            sim.crash("id1", at=at)
            sim.restart("id1", at=at + downtime_ms)
        rows_ = start_clients(cl, clients, start_ms=warm, until_ms=warm + duration_ms,
                              think_ms=think_ms, placement="round_robin", failover=False)
        sim.run(until=warm + duration_ms + 60.0)
        df = _frame(rows_)
        granted = sum(e.data["end"] - e.data["start"] for e in sim.history.events
                      if e.name == "segment_granted")
        issued = int((df["type"] == "ok").sum())
        held = _held(sim, cl)
        wasted = granted - issued - held
        uniq = unique_ids(sim.history)
        rows.append({
            "step": step, "double_buffer": mode, "crashes": crashes, "granted": granted,
            "issued": issued, "held_at_end": held, "wasted": wasted,
            "wasted_per_crash": round(wasted / crashes, 1) if crashes else 0.0,
            "unique": uniq.valid,
        })
    out = pd.DataFrame(rows)
    out.attrs.update(seed=seed, crashes=crashes, duration_ms=duration_ms)
    return out


def segment_chaos(
    seed: int = 0,
    *,
    n_servers: int = 2,
    step: int = 50,
    double_buffer: bool = True,
    clients: int = 8,
    duration_ms: float = 300.0,
    duplicate: float = 0.1,
    mean_restart_gap_ms: float = 25.0,
    down_ms: float = 2.0,
    restart_db: bool = True,
    latency: Latency | float = 1.5,
    n_dbs: int = 1,
    dynamic_step: bool = False,
    node_cls: type | None = None,
) -> tuple[pd.DataFrame, History]:
    """Segment mode under quick restarts and duplicated messages: the tests' seed sweep.
    ``n_dbs`` > 1: Tinyid's several databases (restarted too, if ``restart_db``), the servers
    failing over after 10 ms; ``dynamic_step``: Leaf's (segments meant to last 20 to 40 ms).
    ``node_cls``: the ID servers' class (default :class:`~dslab.ids.segment.SegmentIdServer`).

    Every message is duplicated with probability ``duplicate``. A nemesis (stream ``faults``)
    waits an exponential gap (mean ``mean_restart_gap_ms``), crashes a random ID server (or the
    database, if ``restart_db``) and restarts it ``down_ms`` later, until the clients stop. The
    clients fail over to the next server when a request times out. Returns one row per request
    (:data:`OP_COLUMNS`) and the history, for :func:`dslab.check.unique_ids`.
    """
    check_seed(seed)
    check_number("n_servers", n_servers, min=1, max=31, integer=True)
    check_step(step)
    check_type("double_buffer", double_buffer, bool)
    check_number("clients", clients, min=1, integer=True)
    _ms("duration_ms", duration_ms, positive=True)
    check_number("duplicate", duplicate, min=0, max=1)
    _ms("mean_restart_gap_ms", mean_restart_gap_ms, positive=True)
    _ms("down_ms", down_ms)
    check_type("restart_db", restart_db, bool)
    warm = 5.0
    until = warm + duration_ms
    sim = Sim(seed, latency=latency, duplicate=duplicate)
    cl = build(sim, "segment", n_servers=n_servers, step=step, double_buffer=double_buffer,
               n_dbs=n_dbs, fetch_timeout_ms=10.0, dynamic_step=dynamic_step,
               segment_duration_ms=20.0, max_step=16 * step, node_cls=node_cls)
    victims = cl.servers + (cl.backends if restart_db else [])
    rng = sim.stream("faults")

    def nemesis() -> Any:
        while True:
            yield sim.sleep(rng.expovariate(1.0 / mean_restart_gap_ms))
            if sim.now >= until:
                return
            victim = rng.choice(victims)
            sim.crash(victim)
            yield sim.sleep(down_ms)
            sim.restart(victim)

    sim.process(nemesis())
    rows = start_clients(cl, clients, start_ms=warm, until_ms=until, timeout_ms=20.0,
                         placement="round_robin", failover=True)
    sim.run(until=until + 25.0)
    df = _frame(rows)
    df.attrs.update(seed=seed, step=step, double_buffer=double_buffer, duplicate=duplicate,
                    start_ms=warm, until_ms=until, n_dbs=n_dbs, dynamic_step=dynamic_step)
    return df, sim.history


# -- 3b. several databases (Tinyid) and the dynamic step (Leaf) ----------------------------------
def db_failover(
    seed: int = 0,
    n_dbs: Iterable[int] = (1, 2),
    *,
    step: int = 100,
    clients: int = 4,
    think_ms: float = 0.5,
    duration_ms: float = 400.0,
    crash_at_ms: float = 100.0,
    downtime_ms: float = 200.0,
    fetch_timeout_ms: float = 5.0,
    progress: bool = False,
) -> tuple[pd.DataFrame, dict[str, tuple[pd.DataFrame, History]]]:
    """Segment mode with one database, or Tinyid's several, while the first database is down.

    Two ID servers, double buffering, ``clients`` closed-loop clients. ``db1`` (``db`` when there
    is one database) crashes at ``crash_at_ms`` for ``downtime_ms``. With several databases each
    row has ``delta = N`` and its own remainder, and a server whose fetch goes unanswered for
    ``fetch_timeout_ms`` asks the next database. Returns one summary row per database count
    (``ok``, ``info``, ``longest_gap_ms`` without any ID while the database was down,
    ``failovers``, ``unique``, IDs issued by each database) and
    ``{label: (ops, history)}``.
    """
    check_seed(seed)
    counts = list(n_dbs) if isinstance(n_dbs, Iterable) else [n_dbs]
    if not counts:
        raise ValueError("n_dbs=[] is not allowed; give at least one database count")
    for i, n in enumerate(counts):
        check_number(f"n_dbs[{i}]", n, min=1, max=16, integer=True)
    check_step(step)
    check_number("clients", clients, min=1, integer=True)
    _ms("think_ms", think_ms)
    _ms("duration_ms", duration_ms, positive=True)
    _ms("crash_at_ms", crash_at_ms)
    _ms("downtime_ms", downtime_ms)
    _ms("fetch_timeout_ms", fetch_timeout_ms, positive=True)
    check_type("progress", progress, bool)
    warm = 5.0
    until = warm + duration_ms
    rows, runs = [], {}
    for n in tqdm(counts, disable=not progress, desc="database counts"):
        sim = Sim(seed, latency=LAN)
        cl = build(sim, "segment", step=step, n_dbs=n, fetch_timeout_ms=fetch_timeout_ms)
        victim = cl.backends[0]
        sim.crash(victim, at=crash_at_ms)
        sim.restart(victim, at=crash_at_ms + downtime_ms)
        ops = start_clients(cl, clients, start_ms=warm, until_ms=until, think_ms=think_ms,
                            placement="round_robin")
        sim.run(until=until + 51.0)
        df = _frame(ops)
        h = sim.history
        ok = df[df["type"] == "ok"]
        label = "one database" if n == 1 else f"{n} databases (Tinyid)"
        df.attrs.update(seed=seed, n_dbs=n, fault="crash", fault_node=victim,
                        fault_at_ms=float(crash_at_ms),
                        restart_ms=float(crash_at_ms + downtime_ms),
                        start_ms=warm, until_ms=until, step=step)
        row = {
            "run": label, "n_dbs": n, "ok": len(ok),
            "info": int((df["type"] == "info").sum()),
            "longest_gap_ms": round(longest_gap(ok, crash_at_ms,
                                                 min(crash_at_ms + downtime_ms, until)), 1),
            "failovers": sum(1 for e in h.events if e.name == "db_failover"),
            "unique": unique_ids(h).valid,
        }
        for i in range(max(counts)):
            row[f"ids_from_db{i + 1}"] = int((ok["id"] % n == i).sum()) if i < n else 0
        rows.append(row)
        runs[label] = (df, h)
    out = pd.DataFrame(rows)
    out.attrs.update(seed=seed, crash_at_ms=float(crash_at_ms),
                     restart_ms=float(crash_at_ms + downtime_ms))
    return out, runs


#: Load phases of :func:`step_adaptation`: ``(duration_ms, active clients, think_ms)``.
STEP_PHASES = ((300.0, 2, 2.0), (500.0, 8, 0.0), (3200.0, 2, 2.0))


def _phase_of(t: float, bounds: list[float]) -> int:
    for i, end in enumerate(bounds[1:]):
        if t < end:
            return i
    return len(bounds) - 2


def step_adaptation(
    seed: int = 0,
    *,
    phases: Iterable[tuple[float, int, float]] = STEP_PHASES,
    step: int = 20,
    segment_duration_ms: float = 50.0,
    max_step: int = 2000,
    db_service_ms: float = 0.5,
    modes: Iterable[bool] = (False, True),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One segment-mode ID server under a load that changes, with a fixed step or Leaf's dynamic
    step (``modes``: ``dynamic_step`` values).

    ``phases``: ``(duration_ms, active clients, think_ms)`` one after the other (default: two
    clients, a burst of eight greedy clients, two clients again). The table's step is ``step``;
    the dynamic step doubles when a segment lasted less than ``segment_duration_ms`` and halves
    when it lasted more than twice that, between ``step`` and ``max_step`` (Leaf: 15 and 30
    minutes, and 1,000,000; scaled down here to fit a few simulated seconds).

    Returns ``(segments, ops)``: one row per segment loaded (``mode``, ``time_ms``, ``size``,
    ``phase``) and one row per request (:data:`OP_COLUMNS` plus ``mode`` and ``phase``).
    """
    check_seed(seed)
    plist = [tuple(p) for p in phases]
    if not plist:
        raise ValueError("phases=[] is not allowed; give at least one (duration_ms, clients, "
                         "think_ms)")
    for i, p in enumerate(plist):
        if len(p) != 3:
            raise ValueError(f"phases[{i}]={p!r} is not allowed; expected (duration_ms, clients, "
                             "think_ms)")
        _ms(f"phases[{i}] duration_ms", p[0], positive=True)
        check_number(f"phases[{i}] clients", p[1], min=0, integer=True)
        _ms(f"phases[{i}] think_ms", p[2])
    check_step(step)
    _ms("segment_duration_ms", segment_duration_ms, positive=True)
    check_number("max_step", max_step, min=step, integer=True)
    _ms("db_service_ms", db_service_ms)
    mode_list = list(modes) if isinstance(modes, Iterable) else [modes]
    for i, m in enumerate(mode_list):
        check_type(f"modes[{i}]", m, bool)
    warm = 5.0
    bounds = [warm]
    for p in plist:
        bounds.append(bounds[-1] + float(p[0]))
    most = max(int(p[1]) for p in plist)
    seg_frames, op_frames = [], []
    for dynamic in mode_list:
        label = "dynamic step (Leaf)" if dynamic else f"fixed step {step}"
        sim = Sim(seed, latency=LAN)
        cl = build(sim, "segment", n_servers=1, step=step, db_service_ms=db_service_ms,
                   dynamic_step=dynamic, segment_duration_ms=segment_duration_ms,
                   max_step=max_step)
        rows: list[dict[str, Any]] = []
        for k in range(1, most + 1):
            sim.process(_phased_client(sim, sim.add_client(f"c{k}"), k, cl.servers[0], plist,
                                       bounds, rows))
        sim.run(until=bounds[-1] + 60.0)
        ops = _frame(rows)
        ops["mode"] = label
        ops["phase"] = [_phase_of(t, bounds) for t in ops["start_ms"]]
        op_frames.append(ops)
        segs = [{"mode": label, "server": e.node, "time_ms": e.time, "start": e.data["start"],
                 "end": e.data["end"], "size": e.data["end"] - e.data["start"],
                 "phase": _phase_of(e.time, bounds)}
                for e in sim.history.events if e.name == "segment_loaded"]
        seg_frames.append(pd.DataFrame(segs, columns=["mode", "server", "time_ms", "start",
                                                      "end", "size", "phase"]))
    segments = pd.concat(seg_frames, ignore_index=True)
    ops = pd.concat(op_frames, ignore_index=True)
    for df in (segments, ops):
        df.attrs.update(seed=seed, step=step, segment_duration_ms=float(segment_duration_ms),
                        max_step=max_step, phase_bounds_ms=bounds,
                        phases=[list(p) for p in plist])
    return segments, ops


def _phased_client(
    sim: Sim, client: Any, k: int, server: str, phases: list[tuple[float, int, float]],
    bounds: list[float], rows: list[dict[str, Any]],
) -> Any:
    """Client ``c<k>``: asks while phase ``i`` has at least ``k`` active clients, else waits."""
    rng = sim.stream(f"workload/{client.name}")
    yield sim.sleep(bounds[0] + rng.uniform(0.0, 0.2))
    while sim.now < bounds[-1]:
        i = _phase_of(sim.now, bounds)
        _, active, think = phases[i]
        if k > active:
            yield sim.sleep(bounds[i + 1] - sim.now + rng.uniform(0.0, 0.2))
            continue
        inv = client.invoke("generate")
        res = yield from client.call(server, NextId(), timeout_ms=50.0)
        client.complete(inv, res, value=res.value if res.ok else None)
        rows.append({
            "client": client.name, "server": server, "start_ms": inv.time, "end_ms": sim.now,
            "latency_ms": res.latency_ms, "type": res.type, "id": res.value if res.ok else None,
            "error": res.error,
        })
        if think > 0:
            yield sim.sleep(think)


# -- 4. Redis ------------------------------------------------------------------------------------
def redis_persistence(
    seed: int = 0,
    persistence: Iterable[str] = PERSISTENCE,
    *,
    clients: int = 8,
    duration_ms: float = 200.0,
    flush_every_ms: float = 50.0,
    downtime_ms: float = 10.0,
    fault_at_ms: float | None = None,
    timeout_ms: float = 10.0,
    progress: bool = False,
) -> tuple[pd.DataFrame, dict[str, tuple[pd.DataFrame, History]]]:
    """Redis ``INCR`` crashed and restarted under each persistence mode.

    ``flush_every_ms`` is the ``"periodic"`` mode's flush interval (Redis's ``everysec`` is 1000
    ms; shorter here so that a short run shows the effect). Returns one row per mode and the runs.
    """
    check_seed(seed)
    modes = _names("persistence", persistence, PERSISTENCE)
    _ms("flush_every_ms", flush_every_ms, positive=True)
    check_type("progress", progress, bool)
    rows, runs = [], {}
    for mode in tqdm(modes, disable=not progress, desc="persistence"):
        df, h = run_ids("redis", seed, clients=clients, duration_ms=duration_ms, fault="crash",
                        downtime_ms=downtime_ms, fault_at_ms=fault_at_ms, timeout_ms=timeout_ms,
                        persistence=mode, flush_every_ms=flush_every_ms)
        runs[mode] = (df, h)
        s = summarize(df, h)
        rows.append({"persistence": mode, **{k: s[k] for k in (
            "ids_per_s", "p50_ms", "p99_ms", "ok", "unique", "duplicates",
            "increasing_per_client")}})
    out = pd.DataFrame(rows)
    out.attrs.update(seed=seed, flush_every_ms=flush_every_ms)
    return out, runs


# -- 5. Snowflake and the clock ----------------------------------------------------------------
def rollback_sweep(
    seed: int = 0,
    rollbacks_ms: Iterable[float] = (0, 1, 2, 5, 10, 20, 30, 50, 100, 200),
    defences: Iterable[str] | None = None,
    *,
    scenario: str = "live",
    clients: int = 3,
    duration_ms: float = 500.0,
    think_ms: float = 1.0,
    timeout_ms: float = 5.0,
    downtime_ms: float = 20.0,
    report_ms: float = 100.0,
    threshold_ms: float = 40.0,
    progress: bool = False,
) -> pd.DataFrame:
    """Snowflake duplicates against the size of a clock rollback, for each defence.

    Three generators ``id1..id3``; clients are spread over them round robin and stay with their
    generator (no fail-over), so ``id1``'s clients keep asking it whatever happens.

    - ``scenario="live"``: ``id1``'s clock steps back ``rollback_ms`` in the middle of the run,
      while it serves (default defences: ``none``, ``refuse``, ``wait``).
    - ``scenario="restart"``: ``id1`` crashes, its clock steps back while it is down, and it
      restarts ``downtime_ms`` later (default defences: ``none``, ``refuse``, ``leaf``,
      ``leaf+peers``).

    One row per defence and rollback: duplicates, refused requests, IDs ``id1`` handed out after
    the fault, p99 and maximum latency. The fault comes in the middle of the run, so rollbacks up
    to ``duration_ms / 2`` re-traverse only times at which ``id1`` was serving. Clients give up on
    a request after ``timeout_ms``. Leaf reports every 3 s; ``report_ms`` is 100 ms here to fit the
    short run (what matters is how old the last report can be, compared with the rollback).
    """
    check_seed(seed)
    check_choice("scenario", scenario, ("live", "restart"))
    if isinstance(rollbacks_ms, (str, bytes)) or not isinstance(rollbacks_ms, Iterable):
        raise TypeError(f"rollbacks_ms={rollbacks_ms!r} must be a list of numbers")
    rbs = [_ms(f"rollbacks_ms[{i}]", r) for i, r in enumerate(rollbacks_ms)]
    if not rbs:
        raise ValueError("rollbacks_ms=[] is not allowed; give at least one rollback")
    if defences is None:
        defences = ("none", "refuse", "wait") if scenario == "live" else (
            "none", "refuse", "leaf", "leaf+peers")
    ds = _names("defences", defences, list(DEFENCES))
    _ms("report_ms", report_ms, positive=True)
    _ms("threshold_ms", threshold_ms)
    _ms("timeout_ms", timeout_ms, positive=True)
    check_type("progress", progress, bool)
    fault = "clock_jump" if scenario == "live" else "crash_rollback"
    runs = [(d, r) for d in ds for r in rbs]
    rows = []
    for defence, rb in tqdm(runs, disable=not progress, desc="rollbacks"):
        df, h = run_ids("snowflake", seed, clients=clients, duration_ms=duration_ms,
                        think_ms=think_ms, timeout_ms=timeout_ms, fault=fault, rollback_ms=rb,
                        downtime_ms=downtime_ms,
                        n_servers=3, defence=defence, report_ms=report_ms,
                        threshold_ms=threshold_ms, placement="round_robin", failover=False)
        s = summarize(df, h)
        after = df[(df["server"] == "id1") & (df["start_ms"] >= df.attrs["fault_at_ms"])]
        rows.append({
            "defence": defence, "rollback_ms": rb, "duplicates": s["duplicates"],
            "refused": int((df["type"] == "fail").sum()),
            "id1_ok_after_fault": int((after["type"] == "ok").sum()),
            "ok": s["ok"], "p99_ms": s["p99_ms"],
            "max_ms": round(float(df.loc[df["type"] == "ok", "latency_ms"].max()), 3),
        })
    out = pd.DataFrame(rows)
    out.attrs.update(seed=seed, scenario=scenario, downtime_ms=downtime_ms, report_ms=report_ms,
                     threshold_ms=threshold_ms)
    return out


def leaf_startup(
    seed: int = 0,
    offset_ms: float = 0.0,
    *,
    join_at_ms: float = 20.0,
    threshold_ms: float = 50.0,
    run_ms: float = 40.0,
) -> tuple[pd.DataFrame, History]:
    """Leaf's start-up check, message by message: ``zk``, ``id1`` and ``id2`` run; at
    ``join_at_ms`` a new generator ``id3`` starts with its clock ``offset_ms`` off true time.

    Returns the nodes' ``clock_check`` / ``generator_started`` / ``generator_refused_to_start``
    events and the history (its message journal draws as a space-time diagram).
    """
    check_seed(seed)
    check_number("offset_ms", offset_ms)
    _ms("join_at_ms", join_at_ms)
    _ms("threshold_ms", threshold_ms)
    _ms("run_ms", run_ms, positive=True)
    sim = Sim(seed, latency=LAN)
    build(sim, "snowflake", n_servers=2, defence="leaf", threshold_ms=threshold_ms)

    def join() -> Any:
        yield sim.sleep(join_at_ms)
        sim.add_node("id3", lambda: SnowflakeNode(1, 3, on_rollback="wait", startup_check="leaf",
                                                  threshold_ms=threshold_ms),
                     clock_offset_ms=offset_ms)

    sim.process(join())
    sim.run(until=join_at_ms + run_ms)
    names = ("clock_check", "generator_started", "generator_refused_to_start")
    rows = [{"time_ms": round(e.time, 3), "node": e.node, "event": e.name,
             **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in e.data.items()
                if k in ("verdict", "reason", "own_ms", "peers_avg_ms", "offset_ms")}}
            for e in sim.history.events if e.name in names]
    df = pd.DataFrame(rows)
    df.attrs.update(seed=seed, offset_ms=offset_ms, threshold_ms=threshold_ms)
    return df, sim.history


def snowflake_capacity(
    seed: int = 0,
    sequence_bits: Iterable[int] = (12, 2, 1),
    *,
    clients: int = 8,
    duration_ms: float = 100.0,
    progress: bool = False,
) -> pd.DataFrame:
    """One generator, ``clients`` greedy clients, and layouts with fewer sequence bits (the
    timestamp takes the rest): the sequence caps a generator at ``2^bits`` IDs per ms, and the
    requests beyond wait for the next millisecond."""
    check_seed(seed)
    if isinstance(sequence_bits, (str, bytes)) or not isinstance(sequence_bits, Iterable):
        raise TypeError(f"sequence_bits={sequence_bits!r} must be a list of ints")
    bits = [check_number(f"sequence_bits[{i}]", b, min=1, max=22, integer=True)
            for i, b in enumerate(sequence_bits)]
    check_type("progress", progress, bool)
    rows = []
    for b in tqdm(bits, disable=not progress, desc="layouts"):
        layout = SnowflakeLayout(timestamp_bits=53 - b, sequence_bits=b,
                                 name=f"{b}-bit sequence")
        df, h = run_ids("snowflake", seed, clients=clients, duration_ms=duration_ms,
                        n_servers=1, layout=layout)
        s = summarize(df, h)
        rows.append({"sequence_bits": b, "limit_ids_per_s": round(layout.ids_per_second),
                     **{k: s[k] for k in ("ids_per_s", "p50_ms", "p99_ms", "unique")}})
    out = pd.DataFrame(rows)
    out.attrs.update(seed=seed, clients=clients)
    return out


# -- 6. UUIDs ------------------------------------------------------------------------------------
def uuid_table(seed: int = 0, n: int = 1000) -> pd.DataFrame:
    """One row per UUID version (4, 1, 7), made by one node: an example, its size, whether ``n``
    UUIDs made 1 ms apart come out sorted, and whether two made 1 ms before and 1 ms after
    version 1's first ``time_low`` wrap (:func:`v1_wrap_ms`) are in order."""
    import random as _random

    from dslab.sim import derive_seed

    check_seed(seed)
    check_number("n", n, min=2, max=100_000, integer=True)
    wrap = v1_wrap_ms()
    rows = []
    for version in (4, 1, 7):
        gen = UuidGenerator(version, _random.Random(derive_seed(seed, f"uuid/v{version}")),
                            node_id=(1 << 40) | 1)
        made = [gen.next_uuid(float(k)) for k in range(n)]
        before, after = gen.next_uuid(wrap - 1.0), gen.next_uuid(wrap + 1.0)
        rows.append({
            "version": version, "example": made[0], "characters": len(made[0]),
            "bytes (binary)": 16, f"sorted ({n} made 1 ms apart)": made == sorted(made),
            f"sorted across t={wrap / 1000:.1f} s": before < after,
        })
    out = pd.DataFrame(rows)
    out.attrs.update(seed=seed, v1_wrap_ms=wrap)
    return out
