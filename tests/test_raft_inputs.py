"""Bad arguments fail at once, naming the parameter; the same seed replays the same run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dslab.core import Handler
from dslab.raft.config import RaftConfig
from dslab.raft.harness import Harness, HarnessError
from dslab.raft.kv import Clerk, KVServer
from dslab.raft.workload import run_kv
from dslab.sim import Sim

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("n", [0, -3])
def test_harness_needs_at_least_one_server(n):
    with pytest.raises(ValueError, match=rf"n={n} is not allowed; it must be >= 1"):
        Harness(n)


def test_harness_rejects_a_non_integer_server_count():
    with pytest.raises(TypeError, match="n=2.5 has type float"):
        Harness(2.5)


def test_harness_rejects_a_negative_seed():
    with pytest.raises(ValueError, match="seed=-1"):
        Harness(3, seed=-1)


def test_harness_rejects_a_node_class_that_is_not_a_handler():
    with pytest.raises(TypeError, match="node_cls=.*must be a subclass of dslab.core.Handler"):
        Harness(3, node_cls=object)


def test_harness_rejects_a_config_of_the_wrong_type():
    with pytest.raises(TypeError, match="config=.*expected RaftConfig"):
        Harness(3, config={"election_timeout_min_ms": 100})


def test_harness_rejects_an_unknown_server_number():
    h = Harness(3)
    with pytest.raises(ValueError, match=r"i=3 is not allowed; it must be <= 2"):
        h.disconnect(3)


def test_config_min_above_max_names_both_fields():
    expected = r"election_timeout_min_ms=400 .* election_timeout_max_ms=300"
    with pytest.raises(ValueError, match=expected):
        RaftConfig(election_timeout_min_ms=400, election_timeout_max_ms=300)


@pytest.mark.parametrize(
    "field", ["election_timeout_min_ms", "election_timeout_max_ms", "heartbeat_interval_ms"]
)
@pytest.mark.parametrize("value", [-5, 0])
def test_config_rejects_timeouts_that_are_not_positive(field, value):
    with pytest.raises(ValueError, match=rf"{field}={value} is not allowed; it must be > 0"):
        RaftConfig(**{field: value})


def test_config_rejects_a_non_number():
    with pytest.raises(TypeError, match="heartbeat_interval_ms='50' has type str"):
        RaftConfig(heartbeat_interval_ms="50")


def test_config_requires_heartbeats_well_within_the_election_timeout():
    with pytest.raises(
        ValueError,
        match=r"heartbeat_interval_ms=200 must be less than "
        r"election_timeout_min_ms=150",
    ):
        RaftConfig(heartbeat_interval_ms=200)


def test_config_rejects_an_empty_batch():
    with pytest.raises(ValueError, match="max_entries_per_append=0"):
        RaftConfig(max_entries_per_append=0)


def test_kv_and_clerk_arguments_are_checked():
    with pytest.raises(ValueError, match="maxraftstate=0"):
        KVServer(maxraftstate=0)
    with pytest.raises(TypeError, match="config=.*expected RaftConfig"):
        KVServer(config=3)
    sim = Sim(seed=0)
    sim.add_node("s0", KVServer)
    client = sim.add_client("c1")
    with pytest.raises(ValueError, match=r"servers=\[\] is not allowed"):
        Clerk(sim, client, [])
    with pytest.raises(ValueError, match="op_timeout_ms=-1"):
        Clerk(sim, client, ["s0"], op_timeout_ms=-1)


def test_run_kv_arguments_are_checked():
    with pytest.raises(ValueError, match="faults contains 'meteor'"):
        run_kv(0, faults=("meteor",))
    with pytest.raises(ValueError, match="n_servers=0"):
        run_kv(0, n_servers=0)
    with pytest.raises(TypeError, match="server_cls=.*must be a KV server class"):
        run_kv(0, server_cls=Handler)


def test_a_failure_names_the_step_and_the_seed():
    h = Harness(3, seed=42)
    h.begin("Demo")
    h.step("no quorum")
    for i in range(3):
        h.disconnect(i)
    with pytest.raises(HarnessError, match=r"^Demo: step 'no quorum' .*replay with seed=42$"):
        h.one(1, 3, False)


def test_a_crashing_handler_is_reported_with_the_step_and_the_seed():
    class Broken(Handler):
        def on_start(self, ctx):
            raise KeyError("oops")

    with pytest.raises(HarnessError, match=r"step 'setup'.*KeyError.*replay with seed=7"):
        Harness(3, seed=7, node_cls=Broken)


def history_of_a_harness_run(seed: int) -> str:
    h = Harness(5, seed=seed, reliable=False)
    h.one(1, 5, True)
    h.crash(h.check_one_leader())
    h.one(2, 4, True)
    return h.sim.history.to_json()


def test_the_same_seed_replays_the_same_harness_run():
    assert history_of_a_harness_run(9) == history_of_a_harness_run(9)
    assert history_of_a_harness_run(9) != history_of_a_harness_run(10)


def test_a_kv_run_does_not_depend_on_the_hash_seed():
    code = (
        "import hashlib; from dslab.raft.workload import run_kv; "
        "print(hashlib.sha256(run_kv(4, duration_ms=800).history.to_json().encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={"PYTHONHASHSEED": hs, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hs in ("0", "123")
    }
    assert len(digests) == 1
