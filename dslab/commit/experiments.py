"""The atomic-commit chapter's experiments under one name: the scenarios of
:mod:`dslab.commit.scenarios` and the analysis of :mod:`dslab.commit.analysis` (the handlers are
in :mod:`dslab.commit.twopc` and :mod:`dslab.commit.threepc`; nothing here defines a mechanism).
The chapter's notebook imports this module as ``ex``.
"""

from dslab.commit.analysis import PARTICIPANT_COLUMNS, blocking_table, client_result, crash_summary
from dslab.commit.scenarios import (
    FAULTS,
    PHASE2,
    PROTOCOLS,
    STEPS,
    chaos,
    compare_happy_paths,
    contention,
    contention_sweep,
    coordinator_crash,
    crash_matrix,
    happy_path,
    participant_failure,
    partition_split,
)

__all__ = [
    "FAULTS",
    "PARTICIPANT_COLUMNS",
    "PHASE2",
    "PROTOCOLS",
    "STEPS",
    "blocking_table",
    "chaos",
    "client_result",
    "compare_happy_paths",
    "contention",
    "contention_sweep",
    "coordinator_crash",
    "crash_matrix",
    "crash_summary",
    "happy_path",
    "participant_failure",
    "partition_split",
]
