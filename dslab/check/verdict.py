"""One verdict type for every checker: ``ok``, ``unsafe`` or ``unknown``, computed from a history.

Rules:

1. A :class:`Verdict` is a pure function of the history (and the checker's deterministic
   budget): never of wall-clock time, so the same run gets the same verdict on any machine.
2. ``unsafe`` means the checker *found* a violation and explains it; ``unknown`` means it could
   not decide within its budget (the linearizability search's ``max_configs``, say). An
   exhausted budget is never reported as unsafe.
3. ``bool(verdict)`` is True only for ``ok``; :func:`worst` combines several verdicts (unsafe
   beats unknown beats ok), which is how a run with several checkers is judged.

:meth:`Verdict.of` turns the result objects of :mod:`dslab.check` (``LinearizabilityResult``,
``PropertyResult``, whose ``valid`` is True / False / None) into a Verdict;
:func:`linearizable_verdict` runs the linearizability checker with a step budget.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_choice, check_type

OK, UNSAFE, UNKNOWN = "ok", "unsafe", "unknown"
STATUSES = (OK, UNSAFE, UNKNOWN)
_RANK = {OK: 0, UNKNOWN: 1, UNSAFE: 2}

#: The default search budget of :func:`linearizable_verdict` (configurations per key).
DEFAULT_MAX_CONFIGS = 2_000_000


@dataclass(frozen=True)
class Verdict:
    """The judgement of one checker on one history.

    ``checker``: its name (``"linearizable(kv)"``, ``"election_safety"``...); ``status``: one of
    ``ok`` / ``unsafe`` / ``unknown``; ``explanation``: plain English; ``seed``: the run's seed
    (for the replay line); ``details``: the checker's own result object, if any.
    """

    checker: str
    status: str
    explanation: str
    seed: Any = None
    details: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_type("checker", self.checker, str)
        check_choice("status", self.status, STATUSES)
        check_type("explanation", self.explanation, str)

    def __bool__(self) -> bool:
        return self.status == OK

    @property
    def unsafe(self) -> bool:
        return self.status == UNSAFE

    @property
    def unknown(self) -> bool:
        return self.status == UNKNOWN

    def __str__(self) -> str:
        text = f"{self.checker}: {self.status}: {self.explanation}"
        if self.seed is not None and not self:
            text += f"; replay with seed={self.seed}"
        return text

    @classmethod
    def of(cls, checker: str, result: Any, seed: Any = None) -> Verdict:
        """A verdict from a checker result with ``valid`` (True / False / None) and
        ``explanation``; or from a problem string (empty or None: no problem)."""
        if result is None or isinstance(result, str):
            if result:
                return cls(checker, UNSAFE, result, seed)
            return cls(checker, OK, "no violation found", seed)
        valid = getattr(result, "valid", "missing")
        if valid not in (True, False, None):
            raise TypeError(
                f"result={result!r} has no valid attribute True/False/None; expected a dslab.check "
                "result, a problem string, or None"
            )
        status = OK if valid is True else UNSAFE if valid is False else UNKNOWN
        seed = seed if seed is not None else getattr(result, "seed", None)
        return cls(checker, status, str(getattr(result, "explanation", result)), seed, result)


def worst(verdicts: Iterable[Verdict]) -> str:
    """The combined status: ``unsafe`` if any is, else ``unknown`` if any is, else ``ok``."""
    status = OK
    for v in verdicts:
        check_type("verdict", v, Verdict)
        if _RANK[v.status] > _RANK[status]:
            status = v.status
    return status


def linearizable_verdict(
    history: Any, model: str, *, max_configs: int = DEFAULT_MAX_CONFIGS, seed: Any = None
) -> Verdict:
    """:func:`dslab.check.linearizable` with a deterministic search budget, as a Verdict: a
    search that runs out of budget is ``unknown``, not ``unsafe``."""
    from dslab.check.linearizability import linearizable

    result = linearizable(history, model, max_configs=max_configs)
    return Verdict.of(f"linearizable({model})", result, seed)
