"""The distributed-ID chapter's experiments and figures: argument checks, small runs, and what
each returns. Bad arguments fail at once, naming the parameter and the value."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from dslab.ids import experiments as ex  # noqa: E402
from dslab.ids import plots  # noqa: E402
from dslab.ids.cluster import build  # noqa: E402
from dslab.ids.segment import SegmentDB, SegmentIdServer  # noqa: E402
from dslab.ids.snowflake import DEFAULT_LAYOUT, SnowflakeNode  # noqa: E402
from dslab.sim import Sim  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# -- bad parameters --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: ex.run_ids("hilo"), ValueError, "scheme='hilo'"),
        (lambda: ex.run_ids("segment", step=0), ValueError, "step=0"),
        (lambda: ex.run_ids("segment", step=-5), ValueError, "step=-5"),
        (lambda: ex.run_ids("redis", duration_ms=-1.0), ValueError, "duration_ms=-1.0"),
        (lambda: ex.run_ids("redis", think_ms=-0.5), ValueError, "think_ms=-0.5"),
        (lambda: ex.run_ids("redis", fault_at_ms=-3.0), ValueError, "fault_at_ms=-3.0"),
        (lambda: ex.run_ids("redis", rollback_ms=-20.0), ValueError, "rollback_ms=-20.0"),
        (lambda: ex.run_ids("redis", fault="meteor"), ValueError, "fault='meteor'"),
        (lambda: ex.run_ids("redis", fault="crash", fault_node="db9"), ValueError,
         "fault_node='db9'"),
        (lambda: ex.run_ids("redis", persistence="maybe"), ValueError, "persistence='maybe'"),
        (lambda: ex.run_ids("snowflake", defence="hope"), ValueError, "defence='hope'"),
        (lambda: ex.run_ids("snowflake", n_servers=40), ValueError, "n_servers=40"),
        (lambda: ex.run_ids("redis", seed=-1), ValueError, "seed=-1"),
        (lambda: ex.run_ids("redis", clients=0), ValueError, "clients=0"),
        (lambda: ex.compare_schemes(schemes=["redis", "zk"]), ValueError, r"schemes\[1\]='zk'"),
        (lambda: ex.rollback_sweep(rollbacks_ms=[1, -2]), ValueError, r"rollbacks_ms\[1\]=-2"),
        (lambda: ex.rollback_sweep(scenario="later"), ValueError, "scenario='later'"),
        (lambda: ex.segment_waste(steps=[100, 0]), ValueError, "step=0"),
        (lambda: ex.snowflake_capacity(sequence_bits=[0]), ValueError, r"sequence_bits\[0\]=0"),
        (lambda: ex.decode_table([-1]), ValueError, r"ids\[0\]=-1"),
        (lambda: ex.leaf_startup(join_at_ms=-1.0), ValueError, "join_at_ms=-1.0"),
        (lambda: ex.collision_table([-5]), ValueError, r"counts\[0\]=-5"),
        (lambda: SnowflakeNode(worker_id=32), ValueError, "worker_id=32"),
        (lambda: SnowflakeNode(datacenter_id=40), ValueError, "datacenter_id=40"),
        (lambda: SnowflakeNode(startup_check="zk"), ValueError, "startup_check='zk'"),
        (lambda: DEFAULT_LAYOUT.encode(-3, 0, 0, 0), ValueError, "timestamp=-3"),
        (lambda: ex.run_ids("redis", progress=True), TypeError, "progress"),
        (lambda: ex.compare_schemes(progress="yes"), TypeError, "progress='yes'"),
        (lambda: ex.run_ids("redis", clients=2.5), TypeError, "clients=2.5"),
        (lambda: ex.run_ids("segment", n_dbs=0), ValueError, "n_dbs=0"),
        (lambda: ex.db_failover(n_dbs=[2, 0]), ValueError, r"n_dbs\[1\]=0"),
        (lambda: ex.db_failover(downtime_ms=-1.0), ValueError, "downtime_ms=-1.0"),
        (lambda: ex.step_adaptation(phases=[(100.0, 2)]), ValueError, r"phases\[0\]"),
        (lambda: ex.step_adaptation(max_step=5), ValueError, "max_step=5"),
        (lambda: ex.segment_chaos(duplicate=2.0), ValueError, "duplicate=2.0"),
        (lambda: SegmentDB({"order": (1, 10, 2, 2)}), ValueError, "remainder=2"),
        (lambda: SegmentIdServer([]), TypeError, r"db=\[\]"),
        (lambda: SegmentIdServer(max_step=0), ValueError, "max_step=0"),
    ],
)
def test_bad_arguments_fail_at_once_naming_parameter_and_value(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_build_needs_a_sim():
    with pytest.raises(TypeError, match="sim="):
        build("not a sim", "redis")


def test_an_unknown_biz_tag_is_a_definite_failure():
    from dslab.ids.messages import NextId

    sim = Sim(0)
    build(sim, "segment", n_servers=1)
    c = sim.add_client("c1")
    out = {}

    def script():
        yield sim.sleep(5.0)
        out["r"] = yield from c.call("id1", NextId("user"), timeout_ms=10.0)

    sim.process(script())
    sim.run(until=20.0)
    assert (out["r"].type, out["r"].error) == ("fail", "unknown_biz_tag")


# -- small runs of each experiment -----------------------------------------------------------------
def test_run_ids_returns_one_row_per_request_and_its_parameters():
    df, h = ex.run_ids("segment", 1, clients=2, duration_ms=10.0, step=50)
    assert list(df.columns) == ex.OP_COLUMNS and len(df) == len(h.ops) // 2
    assert df.attrs["seed"] == 1 and df.attrs["scheme"] == "segment" and df.attrs["step"] == 50
    s = ex.summarize(df, h)
    assert s["unique"] and s["ids_per_s"] > 0 and s["p50_ms"] <= s["p99_ms"]


def test_compare_schemes_has_one_row_per_scheme():
    table, runs = ex.compare_schemes(1, ["autoinc", "uuid4"], clients=2, duration_ms=10.0)
    assert list(table["scheme"]) == ["autoinc", "uuid4"] and set(runs) == {"autoinc", "uuid4"}
    assert table.loc[0, "increasing_in_real_time"] and not table.loc[1, "increasing_per_client"]


def test_ordering_table_has_one_row_per_scheme_and_fault():
    df = ex.ordering_table(1, ["redis"], ["none", "crash"], duration_ms=20.0)
    assert list(df["fault"]) == ["none", "crash"] and df["unique"].all()


def test_the_rollback_sweep_counts_duplicates_of_the_naive_generator_only():
    df = ex.rollback_sweep(1, [0, 30], ["none", "refuse"], duration_ms=120.0)
    dups = df.set_index(["defence", "rollback_ms"])["duplicates"]
    assert dups[("none", 0)] == 0 and dups[("none", 30)] > 0 and dups[("refuse", 30)] == 0


def test_leaf_startup_passes_a_good_clock_and_refuses_a_bad_one():
    good, _ = ex.leaf_startup(1, 0.0)
    bad, h = ex.leaf_startup(1, -200.0)
    assert good.iloc[-1]["event"] == "generator_started" and good.iloc[-1]["node"] == "id3"
    assert bad.iloc[-1]["event"] == "generator_refused_to_start"
    assert {m.type for m in h.messages} >= {"CheckIn", "CheckInReply", "TimeQuery", "TimeReply"}


def test_snowflake_capacity_is_capped_by_the_sequence():
    df = ex.snowflake_capacity(1, [1], clients=4, duration_ms=30.0)
    assert df.loc[0, "ids_per_s"] <= df.loc[0, "limit_ids_per_s"] * 1.1


def test_redis_persistence_table():
    df, runs = ex.redis_persistence(1, ["none", "always"], duration_ms=60.0)
    assert list(df["persistence"]) == ["none", "always"]
    assert df.loc[0, "duplicates"] > 0 and df.loc[1, "duplicates"] == 0


def test_decode_and_layout_tables():
    id_ = DEFAULT_LAYOUT.encode(189388800005, 1, 2, 3)
    row = ex.decode_table([id_]).iloc[0]
    assert (row["timestamp"], row["datacenter"], row["worker"], row["sequence"]) == (
        189388800005, 1, 2, 3)
    assert row["time_utc"] == "2026-01-01T00:00:00.005Z"
    lay = ex.layout_table()
    assert list(lay["years"]) == [69.7, 69.7, 8.5] and lay.loc[0, "runs out"] == "2089"


def test_uuid_and_collision_tables():
    u = ex.uuid_table(1, n=200).set_index("version")
    assert (u["characters"] == 36).all()
    assert list(u["sorted (200 made 1 ms apart)"]) == [False, True, True]
    wrap = [c for c in u.columns if c.startswith("sorted across")][0]
    assert not u.loc[1, wrap] and u.loc[7, wrap]
    c = ex.collision_table([1e9])
    assert c.iloc[-1]["p_collision"] == "0.5" and c.iloc[-1]["uuids"] == "2.71e+18"


# -- figures ---------------------------------------------------------------------------------------
def test_every_figure_draws_and_carries_the_seed():
    table, runs = ex.compare_schemes(3, ["redis", "uuid4"], clients=2, duration_ms=10.0)
    seg = {"db": ex.run_ids("segment", 3, clients=2, duration_ms=20.0, step=20)}
    waste = ex.segment_waste(3, [20], [True], crashes=1, duration_ms=40.0)
    sweep = ex.rollback_sweep(3, [0, 5], ["none"], duration_ms=40.0)
    figs = [
        plots.plot_scheme_bars(table),
        plots.plot_ids_over_time(runs),
        plots.plot_ids_over_time({"r": runs["redis"]}, y="value"),
        plots.plot_ids_over_time({"u": runs["uuid4"]}, y="scaled", color_by="client"),
        plots.plot_segment_timeline(seg),
        plots.plot_segment_waste(waste),
        plots.plot_rollback({"live": sweep}),
        plots.plot_db_failover(ex.db_failover(3, duration_ms=60.0, crash_at_ms=20.0,
                                              downtime_ms=20.0)[1]),
        plots.plot_step_adaptation(*ex.step_adaptation(
            3, phases=[(20.0, 1, 1.0), (20.0, 3, 0.0)], max_step=80)),
    ]
    for fig in figs:
        titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
        assert any("(seed=3)" in t for t in titles), titles
    layout = plots.plot_layout(DEFAULT_LAYOUT, DEFAULT_LAYOUT.encode(5, 1, 2, 3))
    assert "ID" in layout.axes[0].get_title()
    assert plots.plot_collision().axes[0].get_yscale() == "log"


def test_plot_arguments_are_checked():
    with pytest.raises(ValueError, match="y='height'"):
        plots.plot_ids_over_time({"a": pd.DataFrame()}, y="height")
    with pytest.raises(ValueError, match="runs={}"):
        plots.plot_ids_over_time({})
    table, runs = ex.compare_schemes(3, ["uuid4"], clients=1, duration_ms=5.0)
    with pytest.raises(ValueError, match="y='value' needs numeric IDs"):
        plots.plot_ids_over_time(runs, y="value")
