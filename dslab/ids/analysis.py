"""The distributed-ID chapter's analysis: pure functions of what a scenario of
:mod:`dslab.ids.scenarios` returned (its operations frame or its history), and the tables that
need no simulation at all (Snowflake bit layouts, the UUID birthday bound, the notes' pros and
cons).

- :func:`summarize` reduces a run to throughput, latency and the checkers' verdicts;
  :func:`realtime_order` checks the real-time order of the IDs.
- :func:`segment_fetches` -- segment mode's database fetches over time, from the history;
  :func:`step_summary` -- a :func:`~dslab.ids.scenarios.step_adaptation` run per load phase.
- :func:`decode_table`, :func:`layout_table` -- Snowflake's bit layout; :func:`v1_wrap_ms` and
  :func:`collision_table` -- version 1's ``time_low`` wrap and the birthday bound (computed).
- :func:`comparison_table` -- the notes' pros and cons (:data:`SCHEME_NOTES`) beside the measured
  figures.

Definitions used in the tables
------------------------------
- *IDs/s*: ``ok`` answers per simulated second while the clients ran.
- *latency*: from the client's request to its answer, true simulated ms, over ``ok`` answers.
- *unique*: :func:`dslab.check.unique_ids`; *duplicates*: extra copies of repeated IDs.
- *increasing per client*: :func:`dslab.check.monotonic` with ``per="process"``: each client's IDs
  strictly increase in the order it received them.
- *increasing in real time* (:func:`realtime_order`): whenever one request was answered before
  another was sent (by any client), the first ID is smaller. This is the meaningful global order:
  two requests in flight at the same time may legitimately be answered in either order, so
  :func:`dslab.check.monotonic` with ``per="global"`` (completion order) flags even a single
  counter as soon as clients run concurrently (the chapter shows it).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from dslab._validate import check_number, check_type
from dslab.check import monotonic, unique_ids
from dslab.history import History
from dslab.ids.snowflake import (
    DEFAULT_LAYOUT,
    SIM_START_UNIX_MS,
    TWITTER_LAYOUT,
    UIDGENERATOR_LAYOUT,
    SnowflakeLayout,
)
from dslab.ids.uuids import (
    GREGORIAN_OFFSET_TICKS,
    V4_RANDOM_BITS,
    collision_probability,
    n_for_probability,
)

#: The columns of the operations frame a scenario returns (one row per request).
OP_COLUMNS = ["client", "server", "start_ms", "end_ms", "latency_ms", "type", "id", "error"]


# -- 1. one run ----------------------------------------------------------------------------------
def realtime_order(df: pd.DataFrame) -> dict[str, Any]:
    """Is every ID larger than every ID answered before its request was sent?

    Returns ``valid`` and ``violations``: how many ``ok`` requests got an ID smaller than (or
    equal to) one answered before they started.
    """
    check_type("df", df, pd.DataFrame)
    ok = df[df["type"] == "ok"]
    ends = sorted(zip(ok["end_ms"], ok["id"], strict=True), key=lambda p: p[0])
    starts = sorted(zip(ok["start_ms"], ok["id"], strict=True), key=lambda p: p[0])
    best: Any = None
    j = 0
    bad = 0
    for start, id_ in starts:
        while j < len(ends) and ends[j][0] < start:
            if best is None or ends[j][1] > best:
                best = ends[j][1]
            j += 1
        if best is not None and not id_ > best:
            bad += 1
    return {"valid": bad == 0, "violations": bad}


def summarize(df: pd.DataFrame, history: History) -> dict[str, Any]:
    """One run in one row: throughput, latency, outcomes, and the checkers' verdicts."""
    check_type("df", df, pd.DataFrame)
    check_type("history", history, History)
    ok = df[df["type"] == "ok"]
    dur_s = (df.attrs["until_ms"] - df.attrs["start_ms"]) / 1000.0
    lat = ok["latency_ms"]
    uniq = unique_ids(history)
    dups = sum(len(d["processes"]) - 1 for d in uniq.duplicates)
    return {
        "ids_per_s": round(len(ok) / dur_s),
        "p50_ms": round(float(lat.quantile(0.5)), 3) if len(ok) else math.nan,
        "p99_ms": round(float(lat.quantile(0.99)), 3) if len(ok) else math.nan,
        "ok": len(ok),
        "fail": int((df["type"] == "fail").sum()),
        "info": int((df["type"] == "info").sum()),
        "unique": uniq.valid,
        "duplicates": dups,
        "increasing_per_client": monotonic(history, per="process").valid,
        "increasing_in_real_time": realtime_order(df)["valid"],
    }


# -- 3. segment mode -----------------------------------------------------------------------------
def segment_fetches(history: History) -> pd.DataFrame:
    """Each segment fetch of a segment-mode run: which server, when it asked, when the segment
    arrived (``None`` if never), the segment, and whether the server still had IDs meanwhile."""
    check_type("history", history, History)
    open_: dict[str, dict[str, Any]] = {}
    rows = []
    for ev in history.events:
        if ev.name == "segment_fetch":
            if ev.node in open_:  # a crash interrupted the previous fetch
                rows.append(open_.pop(ev.node))
            open_[ev.node] = {"server": ev.node, "start_ms": ev.time, "end_ms": None,
                              "segment_start": None, "segment_end": None,
                              "had_ids": bool(ev.data.get("buffered"))}
        elif ev.name == "segment_loaded" and ev.node in open_:
            row = open_.pop(ev.node)
            row.update(end_ms=ev.time, segment_start=ev.data["start"], segment_end=ev.data["end"])
            rows.append(row)
    rows.extend(open_.values())
    df = pd.DataFrame(rows, columns=["server", "start_ms", "end_ms", "segment_start",
                                     "segment_end", "had_ids"])
    df.attrs["seed"] = history.seed
    return df.sort_values(["start_ms", "server"], ignore_index=True)


def longest_gap(ok: pd.DataFrame, t0: float, t1: float) -> float:
    """The longest stretch of [t0, t1] (true ms) in which no client received an ID."""
    times = sorted(float(t) for t in ok["end_ms"] if t0 <= t <= t1)
    edges = [t0, *times, t1]
    return max(b - a for a, b in zip(edges, edges[1:], strict=False))


def step_summary(segments: pd.DataFrame, ops: pd.DataFrame) -> pd.DataFrame:
    """Per mode and load phase of a :func:`step_adaptation` run: IDs per second, database
    fetches per second, the mean and largest segment, and the slowest answer."""
    check_type("segments", segments, pd.DataFrame)
    check_type("ops", ops, pd.DataFrame)
    bounds = ops.attrs["phase_bounds_ms"]
    phases = ops.attrs["phases"]
    rows = []
    for mode in dict.fromkeys(ops["mode"]):
        for i, (_dur, active, think) in enumerate(phases):
            o = ops[(ops["mode"] == mode) & (ops["phase"] == i) & (ops["type"] == "ok")]
            s = segments[(segments["mode"] == mode) & (segments["phase"] == i)]
            secs = (bounds[i + 1] - bounds[i]) / 1000.0
            rows.append({
                "mode": mode, "phase": i + 1, "load": f"{active} client(s), think {think:g} ms",
                "ids_per_s": round(len(o) / secs),
                "fetches": len(s), "fetches_per_s": round(len(s) / secs, 1),
                "mean_segment": round(float(s["size"].mean()), 1) if len(s) else math.nan,
                "largest_segment": int(s["size"].max()) if len(s) else 0,
                "max_latency_ms": round(float(o["latency_ms"].max()), 2) if len(o) else math.nan,
            })
    out = pd.DataFrame(rows)
    out.attrs.update(segments.attrs)
    return out


# -- 7. the comparison ---------------------------------------------------------------------------
#: Per scheme: how an ID is made, its size, and the pros and cons the course notes list.
SCHEME_NOTES: dict[str, dict[str, str]] = {
    "autoinc": {
        "made by": "one database's AUTO_INCREMENT", "bytes": "8",
        "pros (notes)": "simple; increasing; compact",
        "cons (notes)": "low concurrency; database is a single point of failure; "
                        "guessable (reveals volume); one database round trip per ID",
    },
    "autoinc-2m": {
        "made by": "2 masters, offsets 1, 2, step 2", "bytes": "8",
        "pros (notes)": "no single master; still compact",
        "cons (notes)": "not increasing across masters; adding a master renumbers offsets",
    },
    "segment": {
        "made by": "ranges claimed from a table, served from memory", "bytes": "8",
        "pros (notes)": "increasing per server; compact; far fewer database accesses",
        "cons (notes)": "database still a single point (for long outages); guessable; "
                        "a crash skips IDs",
    },
    "redis": {
        "made by": "INCR on one Redis", "bytes": "8",
        "pros (notes)": "fast; increasing",
        "cons (notes)": "like auto-increment; IDs reissued after a crash unless every "
                        "write is persisted",
    },
    "uuid4": {
        "made by": "122 random bits, on any node", "bytes": "16 (36 as text)",
        "pros (notes)": "fast; simple; no coordination",
        "cons (notes)": "large; unordered (scatters index inserts); no business meaning",
    },
    "uuid1": {
        "made by": "time + clock sequence + node id", "bytes": "16 (36 as text)",
        "pros (notes)": "fast; no coordination",
        "cons (notes)": "large; leaks the MAC address; string order wraps every 429 s; "
                        "clock trouble can repeat IDs",
    },
    "uuid7": {
        "made by": "Unix ms + counter + random (RFC 9562)", "bytes": "16 (36 as text)",
        "pros (notes)": "time-ordered; no worker ids (not in the notes)",
        "cons (notes)": "large; order across nodes only to the millisecond",
    },
    "snowflake": {
        "made by": "ms timestamp + worker id + sequence", "bytes": "8",
        "pros (notes)": "fast; roughly increasing; flexible layout (business bits)",
        "cons (notes)": "clock rollback repeats IDs; fixed worker ids are awkward when "
                        "machines come and go",
    },
}


def comparison_table(measured: pd.DataFrame, faults: pd.DataFrame | None = None) -> pd.DataFrame:
    """The schemes side by side: the notes' pros and cons beside the figures measured by
    :func:`compare_schemes` (``measured``). With ``faults`` (an :func:`ordering_table`), "increasing
    in real time" must hold in every run of both tables, and "unique under faults" says whether
    the scheme stayed unique under every fault there."""
    check_type("measured", measured, pd.DataFrame)
    rows = []
    for rec in measured.to_dict("records"):
        scheme = rec["scheme"]
        row = {"scheme": scheme, **{k: SCHEME_NOTES[scheme][k] for k in ("made by", "bytes")},
               "IDs/s": rec["ids_per_s"], "p50 ms": rec["p50_ms"],
               "increasing in real time": bool(rec["increasing_in_real_time"])}
        if faults is not None:
            check_type("faults", faults, pd.DataFrame)
            mine = faults[faults["scheme"] == scheme]
            if len(mine):
                row["increasing in real time"] &= bool(mine["increasing_in_real_time"].all())
                row["unique under faults"] = bool(mine["unique"].all())
        row.update({k: SCHEME_NOTES[scheme][k] for k in ("pros (notes)", "cons (notes)")})
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update(measured.attrs)
    return out


# -- 6. layouts and UUIDs ------------------------------------------------------------------------
def _utc(ms: int) -> str:
    t = _dt.datetime.fromtimestamp(ms / 1000.0, tz=_dt.UTC)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def decode_table(ids: Iterable[int], layout: SnowflakeLayout = DEFAULT_LAYOUT) -> pd.DataFrame:
    """The fields of each Snowflake ID, and the UTC time its timestamp stands for."""
    check_type("layout", layout, SnowflakeLayout)
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(f"ids={ids!r} must be a list of ints")
    rows = []
    for i, id_ in enumerate(ids):
        check_number(f"ids[{i}]", id_, min=0, max=(1 << 63) - 1, integer=True)
        f = layout.decode(id_)
        rows.append({"id": id_, "hex": f"{id_:016x}", "timestamp": f["timestamp"],
                     "time_utc": _utc(f["unix_ms"]), "datacenter": f["datacenter_id"],
                     "worker": f["worker_id"], "sequence": f["sequence"]})
    return pd.DataFrame(rows)


def layout_table(
    layouts: Iterable[SnowflakeLayout] = (DEFAULT_LAYOUT, TWITTER_LAYOUT, UIDGENERATOR_LAYOUT),
) -> pd.DataFrame:
    """What each bit layout buys: lifetime, generators, IDs per second per generator."""
    rows = []
    for i, lay in enumerate(layouts):
        check_type(f"layouts[{i}]", lay, SnowflakeLayout)
        end_ms = lay.epoch_ms + (1 << lay.timestamp_bits) * lay.tick_ms
        rows.append({
            "layout": lay.name,
            "bits (ts/dc/worker/seq)": f"{lay.timestamp_bits}/{lay.datacenter_bits}/"
                                       f"{lay.worker_bits}/{lay.sequence_bits}",
            "tick": f"{lay.tick_ms} ms" if lay.tick_ms < 1000 else f"{lay.tick_ms // 1000} s",
            "epoch": _utc(lay.epoch_ms)[:10],
            "years": round(lay.lifetime_years, 1),
            "runs out": _utc(end_ms)[:4],
            "generators": lay.generators,
            "IDs/s per generator": int(lay.ids_per_second),
        })
    return pd.DataFrame(rows)


def v1_wrap_ms(clock_base_unix_ms: int = SIM_START_UNIX_MS) -> float:
    """Local ms after the simulation starts at which a version 1 UUID's ``time_low`` (its first 32
    bits) wraps to 0 for the first time."""
    ticks0 = clock_base_unix_ms * 10_000 + GREGORIAN_OFFSET_TICKS
    return ((1 << 32) - (ticks0 & 0xFFFFFFFF)) / 10_000


def collision_table(
    counts: Iterable[float] = (1e6, 1e9, 1e12, 1e15, 1e18), bits: int = V4_RANDOM_BITS
) -> pd.DataFrame:
    """P(any two of ``n`` random UUIDs are equal) by the birthday bound, computed (not
    simulated), plus how many give a one-in-a-billion and an even chance."""
    check_number("bits", bits, min=1, integer=True)
    if isinstance(counts, (str, bytes)) or not isinstance(counts, Iterable):
        raise TypeError(f"counts={counts!r} must be a list of numbers")
    rows = []
    for i, n in enumerate(counts):
        check_number(f"counts[{i}]", n, min=0)
        rows.append({"uuids": f"{n:.3g}", "p_collision": f"{collision_probability(n, bits):.3g}"})
    for p in (1e-9, 0.5):
        rows.append({"uuids": f"{n_for_probability(p, bits):.3g}", "p_collision": f"{p:g}"})
    out = pd.DataFrame(rows)
    out.attrs["bits"] = bits
    return out
