"""Bad arguments to dslab.zk fail at once, naming the parameter and the value."""

from __future__ import annotations

import pytest

from dslab.zk import ZkConfig, ZkServer, add_zk_client, build_ensemble
from dslab.zk import experiments as ex
from dslab.zk.client import Lock


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: ex.election_after_crash(0, servers=2), ValueError, ["servers=2"]),
        (lambda: ex.election_after_crash(0, lagging="s9"), ValueError, ["lagging='s9'"]),
        (lambda: ex.election_after_crash(-1), ValueError, ["seed=-1"]),
        (lambda: ex.stale_reads(0, lag_ms=-5), ValueError, ["lag_ms=-5"]),
        (lambda: ex.stale_reads(0, writes=0), ValueError, ["writes=0"]),
        (lambda: ex.session_expiry(0, session_timeout_ms=1), ValueError, ["session_timeout_ms=1"]),
        (lambda: ex.lock_herd(0, mode="polite"), ValueError, ["mode='polite'", "herd"]),
        (lambda: ex.lock_herd(0, clients=0), ValueError, ["clients=0"]),
        (lambda: ex.lock_herd(0, clients=2.5), TypeError, ["clients=2.5"]),
        (lambda: ex.lock_with_pause(0, pause_ms=-1), ValueError, ["pause_ms=-1"]),
        (lambda: ex.herd_sweep([]), ValueError, ["clients=[]"]),
        (lambda: ex.recovery_sweep([]), ValueError, ["seeds=[]"]),
        (lambda: ex.crash_recovery_run(0, crashes=-1), ValueError, ["crashes=-1"]),
        (lambda: ZkConfig(tick_ms=0), ValueError, ["tick_ms=0"]),
        (lambda: ZkConfig(tick_ms=50, sync_limit_ms=20), ValueError, ["sync_limit_ms=20"]),
        (lambda: ZkServer("s9", {"s1": 1}), ValueError, ["name='s9'"]),
        (lambda: build_ensemble(0, servers=0), ValueError, ["servers=0"]),
    ],
)
def test_bad_arguments_name_parameter_and_value(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value)


def test_client_arguments_are_checked():
    sim, names = build_ensemble(0, 3)
    with pytest.raises(ValueError, match="server='s7'"):
        add_zk_client(sim, "c", names, server="s7")
    with pytest.raises(ValueError, match="session_timeout_ms=0"):
        add_zk_client(sim, "c", names, session_timeout_ms=0)
    c = add_zk_client(sim, "c", names)
    with pytest.raises(ValueError, match="path='a/b'"):
        c.create("a/b").send(None)
    with pytest.raises(ValueError, match="mode='x'"):
        Lock(c, mode="x")
    with pytest.raises(TypeError, match="client='c'"):
        Lock("c")
