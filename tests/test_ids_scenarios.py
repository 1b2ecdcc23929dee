"""The distributed-ID experiments split into scenarios (runs) and analysis (pure functions),
with ``dslab.ids.experiments`` as the chapter's facade: the same objects, and the same history
for the same seed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dslab.core import Handler
from dslab.ids import analysis as an
from dslab.ids import experiments as ex
from dslab.ids import scenarios as sc

EXPERIMENTS = Path(ex.__file__)


def test_every_name_of_the_facade_is_the_scenario_or_analysis_object_itself():
    assert ex.__all__, "the facade exports nothing"
    for name in ex.__all__:
        obj = getattr(ex, name)
        assert any(getattr(m, name, None) is obj for m in (sc, an)), f"{name} is a copy"
        if callable(obj):
            assert obj.__module__ in (sc.__name__, an.__name__), f"{name} is defined elsewhere"
    assert ex.run_ids is sc.run_ids and ex.summarize is an.summarize


def test_the_facade_defines_nothing_itself_and_no_handler():
    tree = ast.parse(EXPERIMENTS.read_text())
    defined = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert defined == [], "experiments.py must only re-export"
    for mod in (sc, an):
        handlers = [v for v in vars(mod).values() if isinstance(v, type)
                    and issubclass(v, Handler) and v.__module__ == mod.__name__]
        assert handlers == [], f"{mod.__name__} defines handlers {handlers}"


def test_analysis_never_builds_a_simulation():
    assert not hasattr(an, "Sim") and not hasattr(an, "build")


@pytest.mark.parametrize("scheme", ["segment", "snowflake"])
def test_the_same_seed_gives_the_same_history_through_the_facade_and_the_scenario(scheme):
    kw = dict(duration_ms=30.0, fault="crash")
    df1, h1 = ex.run_ids(scheme, 7, **kw)
    df2, h2 = sc.run_ids(scheme, 7, **kw)
    assert h1.to_records() == h2.to_records(), "replay with seed=7"
    assert df1.equals(df2) and an.summarize(df1, h1) == an.summarize(df2, h2)
    _, h3 = sc.run_ids(scheme, 8, **kw)
    assert h3.to_records() != h1.to_records(), "different seeds should differ (seed=8)"


def test_segment_chaos_replays_exactly_for_the_grader():
    a = sc.segment_chaos(3, duration_ms=60.0)
    b = ex.segment_chaos(3, duration_ms=60.0)
    assert a[1].to_records() == b[1].to_records(), "replay with seed=3"
