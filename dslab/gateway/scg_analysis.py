"""The Spring Cloud Gateway experiments' analysis: pure functions of a route table, of the
filter traces a gateway kept, or of a run's history.

- :func:`describe_routes` -- the route table in the order the gateway tries it.
- :func:`trace_table` -- the pre / backend / post steps of the first forwarded and the first
  refused request of each route.
- :func:`route_summary` -- from the history: when the gateway learned of a registry change, and
  the calls that still went to an instance that had left.
- :func:`routes_follow_registry` -- the checker, as a :class:`~dslab.check.verdict.Verdict`:
  once the gateway's routes dropped a deregistered instance, it sends that instance nothing more.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dslab.check.verdict import OK, UNKNOWN, UNSAFE, Verdict
from dslab.gateway.messages import BackendCall
from dslab.gateway.node import GatewayConfig
from dslab.gateway.routing import Route, RouteTable
from dslab.history import History


def describe_routes(routes: tuple[Route, ...]) -> pd.DataFrame:
    """One row per route, in the order the gateway tries them."""
    table = RouteTable(routes)
    return pd.DataFrame([{"id": r.id, "order": r.order, "prefix": r.prefix,
                          "predicates": ", ".join(map(repr, r.predicates)), "service": r.service}
                         for r in table.routes])


def trace_table(config: GatewayConfig, traces: list[tuple[str, tuple[str, ...]]], seed: int
                ) -> pd.DataFrame:
    """For each route, the steps of its first forwarded request and of its first refused one
    (``request`` is ``"<route> forwarded"`` or ``"<route> refused"``), with each filter's order."""
    table = RouteTable(config.routes)
    glob = {type(f).__name__: f.order for f in config.global_filters}
    rows = []
    for route in sorted(table.routes, key=lambda r: r.id):
        local = {type(f).__name__: f.order for f in route.filters}
        mine = [list(t) for rid, t in traces if rid == route.id]
        for kind in ("forwarded", "refused"):
            # every pre completed (as many posts as pres): the request was forwarded
            steps = next((t for t in mine if (len(t) == 2 * sum(s.startswith("pre:") for s in t))
                          == (kind == "forwarded")), None)
            if steps is None:
                continue
            if kind == "forwarded":
                steps = steps[:len(steps) // 2] + ["backend:"] + steps[len(steps) // 2:]
            for k, step in enumerate(steps, start=1):
                phase, name = step.split(":")
                rows.append({"request": f"{route.id} {kind}", "step": k, "phase": phase,
                             "filter": name or "backend", "order": glob.get(name, local.get(name)),
                             "scope": "global" if name in glob else
                             ("route" if name in local else "")})
    out = pd.DataFrame(rows)
    out["seed"] = seed
    return out


def route_summary(history: History | Any, mode: str, join_at_ms: float, leave_at_ms: float,
                  drain_ms: float) -> dict[str, Any]:
    """When the gateway learned of the join and the leave, and the calls to the leaver after
    it left, after the gateway's update (must be none) and after it was gone: a function of
    the run's ``history`` (a finished Sim is accepted too, for its history)."""
    history = getattr(history, "history", history)
    updates = [(e.time, e.data["instances"]) for e in history.events
               if e.name == "routes_updated" and e.node == "gw"]
    joined = next((t for t, insts in updates if t >= join_at_ms and "o4" in insts), None)
    left = next((t for t, insts in updates if t >= leave_at_ms and "o2" not in insts), None)
    calls = [m.send_time for m in history.messages
             if m.src == "gw" and m.dst == "o2" and m.type == BackendCall.__name__]
    return {
        "mode": mode, "seed": history.seed, "join_at_ms": join_at_ms, "leave_at_ms": leave_at_ms,
        "gone_at_ms": leave_at_ms + drain_ms,
        "join_seen_ms": None if joined is None else round(joined - join_at_ms, 2),
        "leave_seen_ms": None if left is None else round(left - leave_at_ms, 2),
        "calls_after_leave": sum(t >= leave_at_ms for t in calls),
        "calls_after_update": sum(left is not None and t > left for t in calls),
        "calls_after_gone": sum(t >= leave_at_ms + drain_ms for t in calls),
    }


def routes_follow_registry(history: History, leave_at_ms: float, *, leaver: str = "o2",
                           gateway: str = "gw") -> Verdict:
    """``ok`` if, after the first ``routes_updated`` of ``gateway`` at or after ``leave_at_ms``
    that no longer lists ``leaver``, the gateway sent ``leaver`` no call; ``unsafe`` (with the
    first late call) if it did; ``unknown`` if the gateway never dropped it within the run. A
    function of the history alone."""
    name = "routes_follow_registry"
    left = next((e.time for e in history.events if e.name == "routes_updated"
                 and e.node == gateway and e.time >= leave_at_ms
                 and leaver not in e.data["instances"]), None)
    if left is None:
        return Verdict(name, UNKNOWN, f"{gateway} never dropped {leaver} after {leave_at_ms:g} ms "
                       "within the run", history.seed)
    late = sorted(m.send_time for m in history.messages if m.src == gateway
                  and m.dst == leaver and m.type == BackendCall.__name__ and m.send_time > left)
    if late:
        return Verdict(name, UNSAFE, f"{gateway} dropped {leaver} from its routes at {left:.1f} ms "
                       f"but called it {len(late)} more times (first at {late[0]:.1f} ms)",
                       history.seed)
    return Verdict(name, OK, f"no call to {leaver} after {gateway} dropped it at {left:.1f} ms",
                   history.seed)


__all__ = ["describe_routes", "route_summary", "routes_follow_registry", "trace_table"]
