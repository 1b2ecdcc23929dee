"""The ZooKeeper experiments split into scenarios (runs) and analysis (pure functions): the facade
:mod:`dslab.zk.experiments` hands out the very same objects, a scenario replays exactly from its
seed, and the analysis reads a history without changing it."""

from __future__ import annotations

import pandas as pd
import pytest

from dslab.zk import analysis, experiments, scenarios


@pytest.mark.parametrize("name", sorted(n for n in scenarios.__all__))
def test_facade_hands_out_the_scenarios_objects(name: str) -> None:
    assert getattr(experiments, name) is getattr(scenarios, name)
    assert name in experiments.__all__


@pytest.mark.parametrize("name", sorted(analysis.__all__))
def test_facade_hands_out_the_analysis_objects(name: str) -> None:
    assert getattr(experiments, name) is getattr(analysis, name)
    assert name in experiments.__all__


def test_same_seed_gives_the_same_history_replay() -> None:
    a_df, a_h, a_trees = scenarios.crash_recovery_run(3, writes=8, crashes=1)
    b_df, b_h, b_trees = scenarios.crash_recovery_run(3, writes=8, crashes=1)
    assert a_h.to_json() == b_h.to_json(), "replay with seed=3"
    pd.testing.assert_frame_equal(a_df, b_df)
    assert a_trees == b_trees


def test_analysis_is_pure_over_a_lock_history() -> None:
    df, h = scenarios.lock_herd(0, clients=4, mode="herd")
    before = h.to_json()
    stats = analysis.notifications_per_release(h)
    assert stats == analysis.notifications_per_release(h)
    assert h.to_json() == before
    # The herd: every waiter is told of each release, so more than one notification per release.
    assert stats["releases"] == 4
    assert stats["per_release_max"] > 1
    assert df.loc[0, "per_release_mean"] == stats["per_release_mean"]


def test_recovery_ms_is_nan_without_an_established_leader_after_the_crash() -> None:
    _, h = scenarios.election_after_crash(0, writes=2, lagging=None)
    late = max(e.time for e in h.events) + 1.0
    assert analysis.recovery_ms(h, late) != analysis.recovery_ms(h, late)  # nan
    assert analysis.recovery_ms(h, 0.0) >= 0.0
