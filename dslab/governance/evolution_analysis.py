"""How OCTO grew, the analysis: pure functions of the frames and histories that
:mod:`dslab.governance.evolution_scenarios` returns.

- :func:`weight_series`, :func:`share_bins`, :func:`weight_summary` -- a provider's weight over
  time, the traffic it got, and how fast a scanner removed and restored it.
- :func:`probes_frame`, :func:`room_summary` -- every probe sent, and whether room A's providers
  stayed watched after its scanner died.
- :func:`load_row` -- the registry's load and the agents' update delay in one controller run.
- :func:`discovery_bins` -- the share of discovery requests answered per room and time bin.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from dslab._validate import check_number
from dslab.governance.messages import Probe
from dslab.governance.mns import FULL_WEIGHT
from dslab.governance.scenarios import HOSTS, PER_HOST
from dslab.history import History

PROVIDERS = [f"p{i}" for i in range(1, HOSTS * PER_HOST + 1)]


def _history(history: Any) -> History:
    """A history, or the history of a finished Sim (accepted for older callers)."""
    return getattr(history, "history", history)


# -- 1. weights ------------------------------------------------------------------------------------
def weight_series(history: History, duration_ms: float, provider: str = "p1") -> pd.DataFrame:
    """``provider``'s weight over time (``t_ms``, ``weight``): full at 0, each change the scanner
    made, and the last weight again at ``duration_ms``."""
    w = [(0.0, FULL_WEIGHT)] + [(e.time, e.data["weight"]) for e in _history(history).events
                                if e.name == "weight" and e.data["provider"] == provider]
    w.append((duration_ms, w[-1][1]))
    return pd.DataFrame(w, columns=["t_ms", "weight"])


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


def weight_summary(calls: pd.DataFrame, weights: pd.DataFrame, *,
                   sick_at_ms: float | None = None, heal_at_ms: float | None = None
                   ) -> pd.DataFrame:
    """Per scanner: failed calls while ``p1`` was sick, when it was removed, and when it was
    back at full weight (ms after the sickness began / ended). The sickness window is
    ``sick_at_ms`` / ``heal_at_ms``, or else read from ``weights.attrs`` (where the chapter's
    facade keeps a copy of the scenario's metadata)."""
    sick_at = weights.attrs["sick_at_ms"] if sick_at_ms is None else sick_at_ms
    heal_at = weights.attrs["heal_at_ms"] if heal_at_ms is None else heal_at_ms
    rows = []
    for scanner, c in calls.groupby("scanner", sort=True):
        w = weights[weights["scanner"] == scanner]
        sick = c[(c["t_ms"] >= sick_at) & (c["t_ms"] < heal_at + 100.0)]
        removed = w[(w["weight"] == 0) & (w["t_ms"] >= sick_at)]["t_ms"]
        full = w[(w["weight"] == FULL_WEIGHT) & (w["t_ms"] > heal_at)
                 & (w["t_ms"] < w["t_ms"].max())]["t_ms"]  # not the end-of-run point
        rows.append({
            "scanner": scanner, "failed_while_sick": int((sick["outcome"] != "ok").sum()),
            "removed_after_ms": round(removed.iloc[0] - sick_at, 1) if len(removed)
            else None,
            "full_weight_after_ms": round(full.iloc[0] - heal_at, 1) if len(full)
            else None,
        })
    return pd.DataFrame(rows)


# -- 2. per-room scanners --------------------------------------------------------------------------
def probes_frame(history: History) -> pd.DataFrame:
    """Every probe sent: ``t_ms``, ``scanner``, ``provider``, ``delivered``."""
    return pd.DataFrame(
        [(m.send_time, m.src, m.dst, m.status == "delivered") for m in _history(history).messages
         if m.type == Probe.__name__],
        columns=["t_ms", "scanner", "provider", "delivered"])


def room_summary(history: History, probes: pd.DataFrame, duration_ms: float, takeover: bool
                 ) -> dict[str, Any]:
    """Marks per provider, when ``p1`` went down, and the longest gap between two probes sent to
    the same provider (from the first round to the end of the run). ``history`` may also be a
    finished Sim."""
    h = _history(history)
    ev = h.events
    down = [(e.time, e.data["provider"]) for e in ev if e.name == "marked_down"]
    gaps = {}
    for p in PROVIDERS:
        t = sorted(probes.loc[probes["provider"] == p, "t_ms"])
        edges = t + [duration_ms]
        gaps[p] = max(b - a for a, b in zip(edges, edges[1:], strict=False)) if t else math.inf
    return {
        "variant": "takeover" if takeover else "no takeover", "seed": h.seed,
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
def load_row(history: History, n: int, tier: str, controllers: int, duration_ms: float,
             registry_reads: int) -> dict[str, Any]:
    """One row of the controller-load table: messages to and from the registry per second, its
    ``registry_reads`` per second, pushes per change of ``p1``, and how long the last of the
    ``n`` agents waited for each change (``update_ms``, the worst)."""
    h = _history(history)
    msgs = [m for m in h.messages if "mns" in (m.src, m.dst)
            and "scanner" not in (m.src, m.dst) and not m.src.startswith("p")]
    changes = [e.time for e in h.events if e.name in ("marked_down", "marked_up")
               and e.data.get("provider") == "p1" and e.time > 500.0]
    delays = []
    for t in changes:  # when did the last agent learn of this change?
        per_agent: dict[str, float] = {}
        for e in h.events:
            if e.name == "cache_updated" and e.node.startswith("agent") and e.time >= t:
                per_agent.setdefault(e.node, e.time)
        delays.append(max(per_agent.values()) - t if len(per_agent) == n else math.nan)
    pushes = sum(1 for m in msgs if m.src == "mns" and m.type == "ServiceList"
                 and any(abs(m.send_time - t) < 1e-9 for t in changes))
    seconds = duration_ms / 1000.0
    return {
        "agents": n, "tier": tier, "controllers": controllers if tier == "controller" else 0,
        "registry_msgs_per_s": round(len(msgs) / seconds, 1),
        "registry_reads_per_s": round(registry_reads / seconds, 1),
        "pushes_per_change": pushes / max(1, len(changes)),
        "update_ms": round(max(delays), 2) if delays else math.nan,
    }


# -- 4. from a CP registry to an AP one ------------------------------------------------------------
def discovery_bins(d: pd.DataFrame, bin_ms: float) -> pd.DataFrame:
    """Per registry, room and ``bin_ms`` bin: discovery requests and the share answered."""
    disc = d[d["op"] == "discover"].assign(
        bin_ms=lambda x: (x["time_ms"] // bin_ms) * bin_ms, ok=lambda x: x["type"] == "ok")
    return disc.groupby(["registry", "room", "bin_ms"], sort=True).agg(
        requests=("ok", "size"), answered=("ok", "mean")).reset_index()


__all__ = ["PROVIDERS", "discovery_bins", "load_row", "probes_frame", "room_summary",
           "share_bins", "weight_series", "weight_summary"]
