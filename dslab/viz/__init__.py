"""Figures from histories and data frames: each function returns a matplotlib Figure.

- :func:`spacetime` -- a Lamport space-time diagram of the message journal, faults shaded.
- :func:`history_timeline` -- client operations per process, coloured ok / fail / info.
- :func:`role_timeline` -- each node's role (follower / candidate / leader / down) over time.
- :func:`cdf` -- empirical CDFs of one or several samples, with reference markers.
- :func:`plot_linearizability` -- the failing window of a linearizability verdict.

Every figure labels its axes with units and puts the run's seed in its title (:mod:`.style`).
"""

from dslab.viz.cdf import cdf
from dslab.viz.linearizability import plot_linearizability
from dslab.viz.roles import ROLE_EVENT, role_segments, role_timeline
from dslab.viz.spacetime import as_history, endpoints, spacetime
from dslab.viz.style import (
    CRASH_COLOR,
    DROP_COLOR,
    FAULT_COLOR,
    MESSAGE_PALETTE,
    OUTCOME_COLORS,
    PAUSE_COLOR,
    ROLE_COLORS,
    FaultSpan,
    fault_spans,
    new_axes,
    run_end,
    shade_faults,
    title_with_seed,
)
from dslab.viz.timeline import history_timeline, op_label

__all__ = [
    "CRASH_COLOR",
    "DROP_COLOR",
    "FAULT_COLOR",
    "MESSAGE_PALETTE",
    "OUTCOME_COLORS",
    "PAUSE_COLOR",
    "ROLE_COLORS",
    "ROLE_EVENT",
    "FaultSpan",
    "as_history",
    "cdf",
    "endpoints",
    "fault_spans",
    "history_timeline",
    "new_axes",
    "op_label",
    "plot_linearizability",
    "role_segments",
    "role_timeline",
    "run_end",
    "shade_faults",
    "spacetime",
    "title_with_seed",
]

