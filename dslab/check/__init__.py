"""Checkers: pure functions from a history to a verdict with a plain-English explanation.

- :func:`linearizable` -- is a register / cas-register / key-value history linearizable?
- :func:`unique_ids`, :func:`monotonic` -- properties of ID generators.
- :func:`mutual_exclusion`, :func:`holds_from_history` -- did two clients ever hold a lock at once?
- :func:`convergence` -- did every replica end in the same state?
"""

from dslab.check.linearizability import LinearizabilityResult, linearizable
from dslab.check.models import MODEL_NAMES, MODELS, Model, canonical, get_model
from dslab.check.properties import (
    ConvergenceResult,
    MonotonicResult,
    MutualExclusionResult,
    PropertyResult,
    UniqueIdsResult,
    convergence,
    holds_from_history,
    monotonic,
    mutual_exclusion,
    unique_ids,
)

__all__ = [
    "MODELS",
    "MODEL_NAMES",
    "ConvergenceResult",
    "LinearizabilityResult",
    "Model",
    "MonotonicResult",
    "MutualExclusionResult",
    "PropertyResult",
    "UniqueIdsResult",
    "canonical",
    "convergence",
    "get_model",
    "holds_from_history",
    "linearizable",
    "monotonic",
    "mutual_exclusion",
    "unique_ids",
]
