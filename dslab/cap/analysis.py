"""The CAP chapter's analysis: pure functions of what a scenario of :mod:`dslab.cap.scenarios`
returned (its operations frame or its history), and the PACELC table.

- :func:`stale_flags`, :func:`lww_stamps`, :func:`lost_flags` -- stale reads and writes lost to
  last-writer-wins, flagged per operation.
- :func:`availability`, :func:`partition_summary` -- availability per side and time bucket, and
  one row per side of a partition run.
- :func:`latency_summary`, :func:`pacelc_table` -- else-latency per policy; real systems' labels.
- :func:`discovery_summary` -- what each side's consumer saw during a service-discovery run.

Definitions used in the tables
------------------------------
- *ok fraction*: operations that completed ``ok``, over the operations invoked (a definite
  ``fail`` other than a failed comparison, and an indefinite ``info``, both count as unavailable;
  a cas whose comparison failed got an answer, so it counts as available).
- *stale read*: a read that returned the value of write ``w`` although another write ``w2``
  started after ``w`` completed and itself completed before the read started (``w`` had been
  overwritten, in real time, before the read began). Every stale read breaks linearizability.
- *lost write* (LWW only): an acknowledged write ``w`` such that some write that completed before
  ``w`` was invoked carries a larger LWW stamp. It can never be the value replicas converge to,
  although nothing that came after it overwrote it. Stamps are ``(local clock, node, counter)``,
  so the prediction from the skew is: ``w`` is lost when an earlier write was made on a replica
  whose clock was ahead of ``w``'s replica's clock by more than the real time between them.
- *time to converge*: from the heal until every replica has seen everything any replica had
  accepted at the moment of the heal (LWW: the highest stamp; siblings: the merged version
  vector; CP: the highest accepted ballot).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from dslab._validate import check_number, check_type
from dslab.history import History

OP_COLUMNS = [
    "process", "replica", "side", "f", "invoke_value", "type", "value", "error",
    "start_ms", "end_ms", "latency_ms", "phase", "stale", "lost", "predicted_lost",
]
SD_COLUMNS = [
    "time_ms", "actor", "side", "op", "type", "error", "listed", "n_listed", "live_listed",
    "dead_listed", "live_missing", "sees_new_minority", "sees_new_majority",
]


def _ms(name: str, value: Any, *, positive: bool = False) -> float:
    """A time in ms: finite, >= 0 (or > 0)."""
    return check_number(name, value, min=0, min_inclusive=not positive)


def _write_ops(ops: pd.DataFrame) -> pd.DataFrame:
    """Writes that took effect or may have: ok writes and cas, and indefinite ones."""
    w = ops[(ops["f"].isin(["write", "cas"])) & (ops["type"].isin(["ok", "info"]))].copy()
    w["written"] = [
        v[1] if f == "cas" else v for f, v in zip(w["f"], w["invoke_value"], strict=True)
    ]
    return w

def stale_flags(ops: pd.DataFrame) -> list[Any]:
    """For each row of ``ops``: is it a stale read (see the module definitions)? ``None`` for
    rows that are not ok reads."""
    writes = _write_ops(ops)
    ok_writes = writes[writes["type"] == "ok"]
    done = {v: (s, e if t == "ok" else math.inf) for v, s, e, t in zip(
        writes["written"], writes["start_ms"], writes["end_ms"], writes["type"], strict=True)}
    ok_pairs = list(zip(ok_writes["start_ms"], ok_writes["end_ms"], strict=True))

    def superseded(value: Any, before: float) -> bool:
        if value is None:
            w_end = -math.inf
        elif value in done:
            w_end = done[value][1]
        else:
            return True  # a value nobody wrote
        return any(s > w_end and e < before for s, e in ok_pairs)

    out: list[Any] = []
    for f, t, v, start in zip(ops["f"], ops["type"], ops["value"], ops["start_ms"], strict=True):
        if f != "read" or t != "ok":
            out.append(None)
        elif isinstance(v, list):
            vals = v if v else [None]
            out.append(all(superseded(x, start) for x in vals))
        else:
            out.append(superseded(v, start))
    return out

def lww_stamps(history: History, offsets_ms: dict[str, float]) -> pd.DataFrame:
    """Every LWW write a replica accepted: its value, true time, replica, the stamp it got
    (``ts``, from the replica's local clock) and the stamp the skew predicts (true time + offset).
    """
    rows = []
    per_node: dict[str, int] = {}
    for ev in history.events:
        if ev.name != "ap_write" or "ts" not in ev.data:
            continue
        per_node[ev.node] = per_node.get(ev.node, 0) + 1
        rows.append({
            "value": ev.data["value"], "node": ev.node, "true_ms": ev.time,
            "ts": ev.data["ts"], "seq": ev.data["seq"],
            "predicted_ts": ev.time + offsets_ms.get(ev.node, 0.0),
        })
    return pd.DataFrame(rows, columns=["value", "node", "true_ms", "ts", "seq", "predicted_ts"])

def lost_flags(ops: pd.DataFrame, stamps: pd.DataFrame, column: str) -> list[Any]:
    """For each row of ``ops``: is it a lost write under LWW (``column``: ``"ts"`` for the
    stamps the replicas used, ``"predicted_ts"`` for those the skew predicts)? ``None`` for rows
    that are not acknowledged writes."""
    stamp = {
        v: (ts, node, seq)
        for v, ts, node, seq in zip(
            stamps["value"], stamps[column], stamps["node"], stamps["seq"], strict=True
        )
    }
    writes = _write_ops(ops)
    acked = writes[writes["type"] == "ok"]
    done = sorted(
        (e, stamp[v]) for v, e in zip(acked["written"], acked["end_ms"], strict=True) if v in stamp
    )
    out: list[Any] = []
    for f, t, v, start in zip(ops["f"], ops["type"], ops["invoke_value"], ops["start_ms"],
                              strict=True):
        if f not in ("write", "cas") or t != "ok":
            out.append(None)
            continue
        mine = stamp.get(v[1] if f == "cas" else v)
        if mine is None:
            out.append(None)
            continue
        out.append(any(s > mine for e, s in done if e < start))
    return out

def availability(df: pd.DataFrame, bucket_ms: float = 100.0) -> pd.DataFrame:
    """Ok fraction per side and time bucket (by invocation time) of a :func:`partition_workload`
    frame: columns ``bucket_ms`` (bucket start), ``side``, ``ops``, ``ok``, ``ok_fraction``, and
    ``fresh_read_fraction`` (the share of ok reads that were not stale; NaN without reads)."""
    check_type("df", df, pd.DataFrame)
    _ms("bucket_ms", bucket_ms, positive=True)
    answered = (df["type"] == "ok") | (df["error"] == "cas_mismatch")
    ok_read = (df["f"] == "read") & (df["type"] == "ok")
    fresh = ok_read & (df["stale"] != True)  # noqa: E712 (nullable boolean)
    b = (df["start_ms"] // bucket_ms) * bucket_ms
    g = pd.DataFrame({
        "bucket_ms": b, "side": df["side"], "ok": answered.astype(int),
        "reads": ok_read.astype(int), "fresh": fresh.astype(int),
    })
    out = g.groupby(["bucket_ms", "side"], sort=True).agg(
        ops=("ok", "size"), ok=("ok", "sum"), reads=("reads", "sum"), fresh=("fresh", "sum")
    )
    out = out.reset_index()
    out["ok_fraction"] = out["ok"] / out["ops"]
    out["fresh_read_fraction"] = (out["fresh"] / out["reads"]).where(out["reads"] > 0)
    out = out.drop(columns=["reads", "fresh"])
    out.attrs.update(df.attrs)
    return out

def partition_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per side of a :func:`partition_workload` frame: availability during the partition
    and overall, stale reads, lost writes (LWW) and their prediction."""
    check_type("df", df, pd.DataFrame)
    rows = []
    answered = (df["type"] == "ok") | (df["error"] == "cas_mismatch")
    for side in ("minority", "majority"):
        s = df["side"] == side
        if not s.any():
            continue
        during = s & (df["phase"] == "partition")
        reads = s & (df["f"] == "read") & (df["type"] == "ok")
        acked = s & df["f"].isin(["write", "cas"]) & (df["type"] == "ok")
        rows.append({
            "policy": df.attrs.get("policy"), "side": side,
            "ops": int(s.sum()),
            "ok_fraction_partition": float(answered[during].mean()) if during.any() else math.nan,
            "ok_fraction_overall": float(answered[s].mean()),
            "reads_ok": int(reads.sum()),
            "stale_reads": int(df.loc[reads, "stale"].sum()),
            "writes_acked": int(acked.sum()),
            "lost_writes": int(df.loc[acked, "lost"].sum()) if df["lost"].notna().any() else None,
            "predicted_lost": (
                int(df.loc[acked, "predicted_lost"].sum())
                if df["predicted_lost"].notna().any() else None
            ),
        })
    out = pd.DataFrame(rows)
    out.attrs.update(df.attrs)
    return out

def latency_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Median, 99th percentile and mean latency (ms) per policy and operation of a
    :func:`pacelc_latency` frame (ok operations only)."""
    check_type("df", df, pd.DataFrame)
    ok = df[df["type"] == "ok"]
    out = ok.groupby(["policy", "f"], sort=True)["latency_ms"].agg(
        ops="size", median_ms="median", p99_ms=lambda s: s.quantile(0.99), mean_ms="mean"
    ).reset_index()
    out.attrs.update(df.attrs)
    return out

def pacelc_table() -> pd.DataFrame:
    """PACELC labels of real systems, with the CAP labels the course notes give.

    Rows marked ``Abadi 2012`` carry the classification of Abadi, "Consistency Tradeoffs in Modern
    Distributed Database System Design", IEEE Computer 45(2), 2012 (default configurations).
    BigTable/HBase's PC/EC is the label of Abadi's 2010 blog post that introduced PACELC ("Problems
    with CAP, and Yahoo's little known NoSQL system"); secondary sources repeat it with the paper's
    list. The last rows place systems as the course notes do (CAP only: no PACELC label given).
    """
    rows = [
        ("Dynamo", "PA", "EL", "AP", "Abadi 2012"),
        ("Cassandra", "PA", "EL", "AP", "Abadi 2012; notes: AP"),
        ("Riak", "PA", "EL", "AP", "Abadi 2012"),
        ("BigTable / HBase", "PC", "EC", "CP", "Abadi 2010 blog; notes: HBase is CP"),
        ("VoltDB / H-Store", "PC", "EC", "CP", "Abadi 2012"),
        ("Megastore", "PC", "EC", "CP", "Abadi 2012"),
        ("MongoDB", "PA", "EC", "AP", "Abadi 2012"),
        ("PNUTS", "PC", "EL", "CP", "Abadi 2012"),
        ("ZooKeeper", "", "", "CP", "course notes"),
        ("Eureka", "", "", "AP", "course notes"),
        ("Nacos", "", "", "AP or CP",
         "course notes: AP for ephemeral instances (Distro), CP for persistent ones (Raft)"),
    ]
    df = pd.DataFrame(rows, columns=["system", "if_partition", "else", "cap", "source"])
    df.insert(3, "pacelc", [f"{p}/{e}" if p else "" for _, p, e, _, _ in rows])
    return df

def discovery_summary(df: pd.DataFrame) -> pd.DataFrame:
    """What each side's consumer could do *during the partition* in a :func:`service_discovery`
    run: one row per side."""
    check_type("df", df, pd.DataFrame)
    a = df.attrs
    during = df[(df["time_ms"] >= a["partition_start_ms"]) & (df["time_ms"] < a["heal_ms"])]
    rows = []
    for side, mine, other in (("minority", "new_min", "new_maj"), ("majority", "new_maj",
                                                                    "new_min")):
        d = during[(during["side"] == side) & (during["op"] == "discover")]
        ok = d[d["type"] == "ok"]
        reg = during[during["actor"] == mine]
        rows.append({
            "registry": a.get("registry"), "side": side,
            "discover_ok": float((d["type"] == "ok").mean()) if len(d) else math.nan,
            "register_ok": bool((reg["type"] == "ok").any()),
            "sees_own_new": any(mine in v for v in ok["listed"]),
            "sees_other_new": any(other in v for v in ok["listed"]),
            # None: the consumer got no list at all during the partition
            "max_dead_listed": int(ok["dead_listed"].max()) if len(ok) else None,
            "max_live_missing": int(ok["live_missing"].max()) if len(ok) else None,
        })
    out = pd.DataFrame(rows)
    out.attrs.update(a)
    return out


__all__ = [
    "OP_COLUMNS",
    "SD_COLUMNS",
    "availability",
    "discovery_summary",
    "latency_summary",
    "lost_flags",
    "lww_stamps",
    "pacelc_table",
    "partition_summary",
    "stale_flags",
]
