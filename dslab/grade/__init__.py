"""Classroom assignments, graded by the same scenarios and checkers the book uses.

- :mod:`dslab.grade.skeleton` -- the student skeleton, generated from the reference module's
  ``# SOLUTION`` blocks (so the two never drift).
- :mod:`dslab.grade.framework` -- assignments, tests, trials, the report and ``results.json``.
- :mod:`dslab.grade.assignments` -- one module per assignment (``raft-election``, ``raft-kv``,
  ``rate-limiter``, ``quorum-store``, ``lock-client``, ``segment-server``, ``zk-lock``,
  ``twopc-recovery``).
- :mod:`dslab.grade.cli` -- the ``dslab`` command: ``dslab skeleton NAME``,
  ``dslab grade NAME student.py``, ``dslab assignments``.
"""

from dslab.grade.framework import Assignment, GradedTest, Report, Trial, grade
from dslab.grade.skeleton import blocks, skeleton

__all__ = ["Assignment", "GradedTest", "Report", "Trial", "blocks", "grade", "skeleton"]
