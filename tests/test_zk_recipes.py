"""The watch recipes of dslab.zk.recipes: configuration pushed to subscribers, group membership."""

from __future__ import annotations

import pytest

from dslab.zk.recipes import config_pubsub, config_sweep, group_membership


@pytest.mark.parametrize("interval_ms", [1.0, 3.0, 20.0])
def test_a_subscriber_sees_config_versions_in_order_and_ends_on_the_last(interval_ms):
    for seed in range(3):
        df, _ = config_pubsub(seed, updates=10, interval_ms=interval_ms)
        where = f"replay with seed={seed} (interval_ms={interval_ms})"
        for who, d in df.groupby("subscriber"):
            versions = list(d["version"])
            assert versions == sorted(set(versions)), f"{who} saw {versions}; {where}"
            assert versions[-1] == 10, f"{who} missed the last update; {where}"
            assert (d["value"] == d["version"]).all(), where


def test_one_shot_watches_coalesce_fast_updates_but_not_slow_ones():
    """A watch says only that something changed; updates between the notification and the
    re-read are seen together, as the latest value."""
    sweep = config_sweep((1, 20), updates=20)
    fast, slow = sweep["seen_share"]
    assert fast < 0.8 and slow == 1.0
    assert sweep["all_end_on_last"].all()


def test_the_monitor_sees_a_clean_leave_at_once_and_a_crash_after_the_session_timeout():
    df, _ = group_membership(0, members=5, session_timeout_ms=300.0)
    views = df[df["kind"] == "view"]
    after_leave = views[views["time_ms"] >= df.attrs["leave_ms"]].iloc[0]
    assert df.attrs["left"] not in after_leave["members"].split(",")
    assert after_leave["time_ms"] - df.attrs["leave_ms"] < 30.0
    after_crash = views[views["time_ms"] > df.attrs["crash_ms"]].iloc[0]
    assert df.attrs["crashed"] not in after_crash["members"].split(",")
    delay = after_crash["time_ms"] - df.attrs["crash_ms"]
    assert 100.0 < delay < 300.0 + 100.0  # the last ping's news, plus the timeout, plus a tick
    truth = df[df["kind"] == "truth"].iloc[-1]["members"]
    assert views.iloc[-1]["members"] == truth  # in the end the view is the truth


def test_every_join_shows_up_in_the_monitors_view():
    for seed in range(3):
        df, _ = group_membership(seed, members=6)
        counts = list(df.loc[df["kind"] == "view", "count"])
        assert counts[:7] == list(range(7)), f"replay with seed={seed}"


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: config_pubsub(0, updates=0), ["updates=0"]),
        (lambda: config_pubsub(0, interval_ms=-1), ["interval_ms=-1"]),
        (lambda: config_sweep([]), ["intervals=[]"]),
        (lambda: group_membership(0, members=1), ["members=1"]),
        (lambda: group_membership(0, session_timeout_ms=5), ["session_timeout_ms=5"]),
    ],
)
def test_bad_arguments_name_parameter_and_value(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for w in words:
        assert w in str(info.value)
