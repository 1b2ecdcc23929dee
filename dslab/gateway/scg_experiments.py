"""The Spring Cloud Gateway experiments, as the notebook calls them: the scenarios of
:mod:`dslab.gateway.scg_scenarios` (which return :class:`~dslab.sim.scenario.Result`) unpacked
into the tables the chapter shows, and the analysis of :mod:`dslab.gateway.scg_analysis`.

:func:`predicate_routing` returns one DataFrame; :func:`filter_demo` ``(requests, metrics,
traces)``; :func:`registry_routes` ``(requests, summary, sim)``; :func:`registry_routes_compare`
``(summary table, requests of both runs)``.
"""

from __future__ import annotations

from dslab.gateway import scg_scenarios
from dslab.gateway._facade import tables
from dslab.gateway.scg_analysis import (
    describe_routes,
    route_summary,
    routes_follow_registry,
    trace_table,
)
from dslab.gateway.scg_scenarios import ROUTE_MODES, demo_routes, filter_config

predicate_routing = tables(scg_scenarios.predicate_routing)
filter_demo = tables(scg_scenarios.filter_demo, "metrics", "traces")
registry_routes = tables(scg_scenarios.registry_routes, "summary", "sim")
registry_routes_compare = tables(scg_scenarios.registry_routes_compare, "runs")

__all__ = ["ROUTE_MODES", "demo_routes", "describe_routes", "filter_config", "filter_demo",
           "predicate_routing", "registry_routes", "registry_routes_compare", "route_summary",
           "routes_follow_registry", "trace_table"]
