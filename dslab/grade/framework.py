"""The grader: run an assignment's tests against a student's file and score them.

Rules:

1. An :class:`Assignment` names the reference module (whose ``# SOLUTION`` blocks are what the
   student writes, see :mod:`dslab.grade.skeleton`), the classes a student file must define, and
   its :class:`GradedTest` list. Each test is worth ``max_score`` points.
2. A test is a list of *trials*: a unit test through a bare :class:`dslab.core.Context` is one
   trial; a scenario or a seed sweep with faults is one trial per seed. A test scores
   ``max_score`` times the fraction of its trials that pass.
3. A trial fails with the name of the checker that caught it (a unit assertion, the Raft
   harness, ``linearizable(kv)``, ``mutual_exclusion``...), its explanation, and, for a run on
   the simulator, the seed, the command that replays exactly that trial, and the path of a
   space-time diagram of the run (:func:`dslab.viz.spacetime`).
4. Verdicts come from the history only (:mod:`dslab.check.verdict`); an ``unknown`` verdict (a
   checker out of budget) neither passes nor fails a trial: it is reported and not counted.
5. :func:`grade` returns a :class:`Report`; :meth:`Report.to_json` is the Gradescope / Otter
   ``results.json`` format: ``{"score", "tests": [{"name", "score", "max_score", "output"}]}``.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dslab.history import History

#: Seeds every per-seed test runs on unless the grader is given others.
DEFAULT_SEEDS = (1, 2, 3)


class Submission:
    """A student's file, loaded as a module; ``cls(name)`` is one of the classes it defines."""

    def __init__(self, module: Any, path: str, assignment: str) -> None:
        self.module = module
        self.path = path
        self.assignment = assignment

    @classmethod
    def load(cls, path: str | Path, assignment: str) -> Submission:
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"student file {str(path)!r} does not exist; pass a .py file")
        name = f"dslab_student_{assignment.replace('-', '_')}"
        spec = importlib.util.spec_from_file_location(name, p)
        if spec is None or spec.loader is None:
            raise ValueError(f"student file {str(path)!r} cannot be imported as a module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the file runs
        spec.loader.exec_module(module)
        return cls(module, str(path), assignment)

    def cls(self, name: str) -> type:
        found = getattr(self.module, name, None)
        if not isinstance(found, type):
            raise AttributeError(f"the student file {self.path} defines no class {name!r}")
        return found


@dataclass
class Trial:
    """One check of one test: ``passed`` True / False, or None when the checker ran out of
    budget (reported, not counted)."""

    passed: bool | None
    checker: str = ""
    explanation: str = ""
    seed: int | None = None
    history: History | None = None
    plot: str | None = None
    focus_ms: float | None = None  # when the violation happened, if the checker says


@dataclass
class GradeContext:
    """What a test gets: the submission, the seeds, and where to put plots."""

    submission: Submission
    seeds: list[int]
    out_dir: Path
    plots: bool = True


@dataclass
class GradedTest:
    """A scored test: ``run(ctx)`` returns its trials."""

    name: str
    max_score: float
    run: Callable[[GradeContext], list[Trial]]
    description: str = ""


@dataclass
class Assignment:
    """An assignment: reference module, the classes to write, the tests."""

    name: str
    title: str
    module: str  # dotted name of the reference module (with the SOLUTION blocks)
    classes: tuple[str, ...]
    tests: list[GradedTest]
    chapter: str = ""

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)


# -- building tests --------------------------------------------------------------------------------
def _trial_from_exception(exc: BaseException, checker: str, seed: int | None) -> Trial:
    from dslab.sim import HandlerError

    history = getattr(exc, "history", None)
    name = type(exc).__name__
    if type(exc).__name__ == "HarnessError":
        checker = "raft harness (6.5840 checks: one leader, agreement, State Machine Safety)"
    elif isinstance(exc, HandlerError):
        checker = "runtime (a handler raised)"
    elif isinstance(exc, NotImplementedError):
        checker = "runtime (not implemented yet)"
    elif not isinstance(exc, AssertionError):
        where = traceback.extract_tb(exc.__traceback__)[-1]
        checker = f"runtime ({name} at {Path(where.filename).name}:{where.lineno})"
    text = str(exc) or name
    return Trial(False, checker, text, seed, history)


def unit(name: str, points: float, fn: Callable[[Submission], None], description: str = "",
         *, driver: str = "handler driven through a Context") -> GradedTest:
    """A unit test: ``fn(submission)`` drives one piece of the student's code and asserts.
    ``driver`` says how, in the failure report (by default a handler through a bare Context)."""

    def run(ctx: GradeContext) -> list[Trial]:
        try:
            fn(ctx.submission)
        except Exception as exc:  # noqa: BLE001 - a student's code may raise anything
            return [_trial_from_exception(exc, f"unit test ({driver})", None)]
        return [Trial(True, "unit test")]

    return GradedTest(name, points, run, description or inspect.cleandoc(fn.__doc__ or ""))


def per_seed(
    name: str,
    points: float,
    fn: Callable[[Submission, int], Any],
    description: str = "",
    seeds: Callable[[list[int]], list[int]] | None = None,
) -> GradedTest:
    """A scenario or sweep test: ``fn(submission, seed)`` runs one seed and returns the verdicts
    of the book's checkers on its history, or ``(verdicts, history)`` so that a failure gets a
    space-time diagram; or it raises (a HarnessError, say), which fails that seed."""

    def run(ctx: GradeContext) -> list[Trial]:
        trials = []
        for seed in (seeds(ctx.seeds) if seeds else ctx.seeds):
            try:
                out = fn(ctx.submission, seed) or []
            except Exception as exc:  # noqa: BLE001
                trials.append(_trial_from_exception(exc, "scenario", seed))
                continue
            verdicts, history = out if isinstance(out, tuple) else (out, None)
            bad = [v for v in verdicts if v.unsafe]
            unknown = [v for v in verdicts if v.unknown]
            if bad:
                op = getattr(bad[0].details, "op", None)
                focus = op.get("time") if isinstance(op, dict) else None
                trials.append(Trial(False, bad[0].checker, bad[0].explanation, seed, history,
                                    focus_ms=focus))
            elif unknown:
                trials.append(Trial(None, unknown[0].checker, unknown[0].explanation, seed))
            else:
                trials.append(Trial(True, ", ".join(v.checker for v in verdicts), "", seed))
        return trials

    return GradedTest(name, points, run, description or inspect.cleandoc(fn.__doc__ or ""))


# -- the report ------------------------------------------------------------------------------------
@dataclass
class TestReport:
    name: str
    score: float
    max_score: float
    output: str
    trials: list[Trial] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score


@dataclass
class Report:
    assignment: str
    student: str
    seeds: list[int]
    tests: list[TestReport]

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 2)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 2)

    def to_json(self) -> dict[str, Any]:
        """The Gradescope / Otter ``results.json`` document."""
        return {
            "score": self.score,
            "max_score": self.max_score,
            "output": f"dslab grade {self.assignment}: seeds {self.seeds}",
            "tests": [
                {"name": t.name, "score": t.score, "max_score": t.max_score, "output": t.output}
                for t in self.tests
            ],
        }

    def write(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return p

    def table(self) -> str:
        """A plain-text score table, one line per test, then every failure explained."""
        width = max([len(t.name) for t in self.tests] + [4])
        lines = [f"dslab grade {self.assignment} {self.student} (seeds {self.seeds})", ""]
        for t in self.tests:
            mark = "PASS" if t.passed else ("FAIL" if t.score == 0 else "PART")
            lines.append(f"  {mark}  {t.name:<{width}}  {t.score:5.2f} / {t.max_score:g}")
        lines += ["", f"  score: {self.score:g} / {self.max_score:g}"]
        failed = [t for t in self.tests if not t.passed]
        if failed:
            lines += ["", "Failures:"]
            for t in failed:
                lines += ["", f"--- {t.name}", t.output]
        return "\n".join(lines)


def _replay(assignment: str, student: str, test: str, seed: int | None) -> str:
    seeds = f" --seeds {seed}" if seed is not None else ""
    return f"dslab grade {assignment} {student} --only {test}{seeds}"


def _plot(history: History, path: Path, title: str, focus_ms: float | None) -> str | None:
    """A space-time diagram of 300 ms of ``history``: up to the violation the checker points at
    (``focus_ms``), else the last 300 ms (where a harness stopped the run)."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        from dslab.viz import spacetime

        times = [m.send_time for m in history.messages]
        end = max(times) if times else 0.0
        if focus_ms is not None:
            end = min(end, focus_ms + 20.0)
        fig = spacetime(history, t0=max(0.0, end - 300.0), t1=end, max_messages=300,
                        title=title)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=160)  # 2x pixels: sharp on high-DPI screens and in the book
        plt.close(fig)
        return str(path)
    except Exception:  # noqa: BLE001 - a plot must never change a grade
        return None


def _summarize(test: GradedTest, trials: list[Trial], ctx: GradeContext) -> TestReport:
    counted = [t for t in trials if t.passed is not None]
    passed = sum(1 for t in counted if t.passed)
    score = round(test.max_score * passed / len(counted), 2) if counted else 0.0
    lines = []
    if test.description:
        lines.append(test.description)
    seeded = any(t.seed is not None for t in trials)
    what = "seeds" if seeded else "checks"
    lines.append(f"passed {passed} of {len(counted)} {what}"
                 + (f" ({len(trials) - len(counted)} undecided)" if len(counted) < len(trials)
                    else ""))
    plotted = False
    for t in trials:
        if t.passed:
            continue
        tag = "UNDECIDED" if t.passed is None else "FAILED"
        where = f" seed={t.seed}" if t.seed is not None else ""
        lines.append(f"{tag}{where}: checker {t.checker}")
        lines.append("  " + t.explanation.replace("\n", "\n  "))
        if t.passed is False:
            lines.append("  replay: " + _replay(ctx.submission.assignment, ctx.submission.path,
                                                test.name, t.seed))
            if t.history is not None and ctx.plots and not plotted:
                path = ctx.out_dir / "plots" / f"{test.name}-seed{t.seed}.png"
                t.plot = _plot(t.history, path, f"{ctx.submission.assignment}: {test.name}",
                               t.focus_ms)
                plotted = True
            if t.plot:
                lines.append(f"  space-time plot: {t.plot}")
    return TestReport(test.name, score, test.max_score, "\n".join(lines), trials)


def grade(
    assignment: Assignment,
    student: str | Path,
    *,
    seeds: Sequence[int] | None = None,
    only: Sequence[str] | None = None,
    out_dir: str | Path = "grade-out",
    plots: bool = True,
) -> Report:
    """Grade ``student`` (a .py file) on ``assignment``; see the module rules."""
    seeds = list(DEFAULT_SEEDS if seeds is None else seeds)
    if not seeds:
        raise ValueError("seeds=[] is not allowed; give at least one seed")
    names = [t.name for t in assignment.tests]
    for o in only or []:
        if o not in names:
            raise ValueError(f"only contains {o!r}; the tests of {assignment.name} are {names}")
    out = Path(out_dir)
    reports: list[TestReport] = []
    try:
        sub = Submission.load(student, assignment.name)
        missing = [c for c in assignment.classes if not isinstance(getattr(sub.module, c, None),
                                                                   type)]
        load_error = (f"the student file defines no class {', '.join(missing)}"
                      if missing else None)
    except Exception as exc:  # noqa: BLE001 - a file that does not even import scores zero
        sub, load_error = Submission(None, str(student), assignment.name), (
            f"the student file does not import: {type(exc).__name__}: {exc}")
    ctx = GradeContext(sub, seeds, out, plots)
    for test in assignment.tests:
        if only and test.name not in only:
            continue
        if load_error:
            reports.append(TestReport(test.name, 0.0, test.max_score, load_error))
            continue
        reports.append(_summarize(test, test.run(ctx), ctx))
    return Report(assignment.name, str(student), seeds, reports)
