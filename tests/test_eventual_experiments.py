"""The chapter's experiments: small runs return what the notebook plots, bad arguments fail at
once naming the parameter, and the protocol cores stay free of SimPy and of banned calls."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from dslab.eventual import experiments as ex

PKG = Path(__file__).resolve().parents[1] / "dslab" / "eventual"
CORES = ["ring.py", "vclock.py", "merkle.py", "dynamo.py", "pbs.py", "overload.py"]


@pytest.mark.parametrize("name", CORES)
def test_protocol_cores_import_no_simpy(name):
    tree = ast.parse((PKG / name).read_text())
    mods = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    mods |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(m == "simpy" or m.startswith("simpy.") for m in mods)
    assert not any(m.startswith("dslab.sim.world") for m in mods)


def test_no_builtin_hash_anywhere_in_the_package():
    for path in PKG.glob("*.py"):
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        assert not any(isinstance(c.func, ast.Name) and c.func.id == "hash" for c in calls), path


def test_siblings_demo_shows_siblings_then_one_value():
    df, history = ex.siblings_demo(seed=2)
    sib = df[df.step == "read after the heal: siblings"].iloc[0]
    assert sorted(sib.values_read) == ["book", "pen"]
    assert df.iloc[-1].values_read == ["book+pen"] and df.iloc[-1].copies_agree
    assert history.seed == 2


def test_convergence_run_timeline_and_attrs():
    df, _ = ex.convergence_run(anti_entropy_ms=100.0, keys=30, partition_ms=400.0, seed=1)
    assert list(df.columns) == ["t_ms", "t_after_heal_ms", "differing_keys", "phase"]
    assert df.attrs["differing_at_heal"] > 0 and df["differing_keys"].iloc[-1] == 0
    assert df.attrs["converged_ms"] == pytest.approx(df["t_after_heal_ms"].iloc[-1])


def test_convergence_sweep_one_row_per_run():
    df = ex.convergence_sweep(intervals=(100.0, None), read_repair=(True,), seeds=[0],
                              keys=20, partition_ms=300.0, max_wait_ms=800.0)
    assert len(df) == 2
    assert math.isinf(df.iloc[1].anti_entropy_ms)


@pytest.mark.parametrize(
    ("fn", "kwargs", "match"),
    [
        (ex.convergence_run, {"anti_entropy_ms": -5.0}, "anti_entropy_ms=-5.0"),
        (ex.convergence_run, {"keys": 0}, "keys=0"),
        (ex.convergence_run, {"seed": "x"}, "seed='x'"),
        (ex.convergence_sweep, {"seeds": []}, "seeds=\\[\\]"),
        (ex.hinted_handoff, {"down": "n9"}, "down='n9'"),
        (ex.hinted_handoff, {"restart_ms": 100.0}, "restart_ms=100.0"),
        (ex.merkle_cost, {"differing": (5000,)}, "differing=5000"),
        (ex.merkle_cost, {"methods": ("gossip",)}, "method='gossip'"),
        (ex.pbs_curves, {"dists": ("SSD",)}, "dist='SSD'"),
        (ex.pbs_table, {"configs": [(4, 1)]}, "R=4"),
        (ex.overload, {"policies": ("panic",)}, "policy='panic'"),
        (ex.overload, {"core_fraction": 1.5}, "core_fraction=1.5"),
    ],
)
def test_bad_arguments_fail_at_once_naming_the_parameter(fn, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fn(**kwargs)


def test_pbs_curves_share_a_grid_per_distribution():
    df = ex.pbs_curves(dists=("LNKD-SSD",), trials=2_000, points=11, seed=0)
    assert set(df.groupby(["R", "W"]).size()) == {11}
    assert df.attrs["seed"] == 0


def test_pbs_gap_orders_the_estimators():
    df = ex.pbs_gap(cases=[("LNKD-DISK", 1, 1)], reference_trials=200_000, replicas=50, seed=0)
    row = df.iloc[0]
    assert row.quantile_lo_ms <= row.t_reference_ms <= row.quantile_hi_ms
    assert row.first_pass_median_ms <= row.t_reference_ms
