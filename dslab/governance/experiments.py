"""The governance chapter's experiments, as the notebook calls them: the scenarios of
:mod:`dslab.governance.scenarios` (which return :class:`~dslab.sim.scenario.Result`) unpacked
into the tables the chapter shows, and the analysis of :mod:`dslab.governance.analysis`.

:func:`run_cluster` returns ``(attempts, sim)``; :func:`detection` ``(attempts, summary)``;
:func:`detection_compare` ``(summary table, attempts of both runs)``; :func:`mns_outage` the
attempts.
"""

from __future__ import annotations

from dslab.governance import scenarios
from dslab.governance._facade import tables
from dslab.governance.analysis import detection_summary, outcome_bins
from dslab.governance.scenarios import HOSTS, PER_HOST, ROOMS, SCANNERS, SERVICE, build

run_cluster = tables(scenarios.run_cluster, "sim")
detection = tables(scenarios.detection, "summary")
detection_compare = tables(scenarios.detection_compare, "runs")
mns_outage = tables(scenarios.mns_outage)

__all__ = ["HOSTS", "PER_HOST", "ROOMS", "SCANNERS", "SERVICE", "build", "detection",
           "detection_compare", "detection_summary", "mns_outage", "outcome_bins", "run_cluster"]
