"""Bad parameters of the lock experiments and clients fail at once, naming the parameter."""

from __future__ import annotations

import pytest

from dslab.locks import LockClient, plots
from dslab.locks import experiments as ex
from dslab.locks.widgets import pause_view
from dslab.sim import Sim


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"mode": "paxos"}, ValueError, "mode='paxos'"),
        ({"clients": 0}, ValueError, "clients=0"),
        ({"ttl_ms": -5}, ValueError, "ttl_ms=-5"),
        ({"release": "unlink"}, ValueError, "release='unlink'"),
        ({"work_ms": [1.0, 2.0, 3.0]}, ValueError, "work_ms="),
        ({"start_ms": -1.0}, ValueError, r"start_ms\[0\]=-1.0"),
        ({"duration_ms": 0}, ValueError, "duration_ms=0"),
        ({"fencing": "yes"}, TypeError, "fencing='yes'"),
        ({"faults": [{"verb": "meteor"}]}, ValueError, "verb'\\]='meteor'"),
        ({"faults": [{"verb": "crash", "at": 5}]}, ValueError, "faults\\[0\\]"),
        ({"faults": [{"verb": "failover", "at": 5}]}, ValueError, "mode='replicated'"),
        ({"watchdog": True, "ttl_ms": None}, ValueError, "ttl_ms=None"),
        ({"seed": -1}, ValueError, "seed=-1"),
    ],
)
def test_run_locks_rejects_bad_arguments(kwargs, exc, match):
    kwargs = dict(kwargs)
    seed = kwargs.pop("seed", 1)
    with pytest.raises(exc, match=match):
        ex.run_locks(seed, **kwargs)


def test_lock_client_rejects_bad_arguments():
    sim = Sim(seed=1)
    with pytest.raises(ValueError, match="servers=\\[\\]"):
        LockClient(sim, "c1", [])
    with pytest.raises(ValueError, match="retry_ms=0"):
        LockClient(sim, "c2", ["s1"], retry_ms=0)
    with pytest.raises(ValueError, match="drift_factor=0.9"):
        LockClient(sim, "c3", ["s1"], drift_factor=0.9)
    with pytest.raises(ValueError, match="expiry='ex'"):
        LockClient(sim, "c4", ["s1"], expiry="ex")
    with pytest.raises(ValueError, match="expiry='expire' is not allowed with ttl_ms=None"):
        LockClient(sim, "c5", ["s1"], expiry="expire", ttl_ms=None)


def test_experiment_arguments_are_checked():
    with pytest.raises(ValueError, match="pause_ms=-1"):
        ex.expiry_vs_work(1, pause_ms=-1)
    with pytest.raises(ValueError, match=r"scenarios\[0\]='flood'"):
        ex.fencing(1, scenarios=["flood"])
    with pytest.raises(ValueError, match=r"crash_ms\[1\]=0"):
        ex.crash_window(1, crash_ms=[1.0, 0])
    with pytest.raises(TypeError, match="df must be the DataFrame of crash_window"):
        plots.plot_crash_window(ex.reentrancy(1))
    with pytest.raises(TypeError, match="progress=1"):
        ex.safety_sweep([1], progress=1)


def test_pause_view_draws_a_figure():
    fig = pause_view(pause_ms=50.0)
    assert "seed=1" in fig.axes[0].get_title(loc="left")
