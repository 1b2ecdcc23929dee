"""The capacity model (each server handles one message at a time) and the read/write scaling it
produces: the shape of Hunt et al. 2010, Figure 5, plus observers."""

from __future__ import annotations

import pytest

from dslab.core import Context, Request
from dslab.zk.capacity import ServiceTimes
from dslab.zk.messages import Ack, Commit, Create, CreateSession, Forward, GetData, Inform, Txn
from dslab.zk.scaling import scaling_sweep, throughput_run
from dslab.zk.server import ZkConfig, ZkServer

FAST = dict(warmup_ms=100.0, measure_ms=300.0)


def test_each_kind_of_message_costs_its_service_time():
    st = ServiceTimes(read_ms=1, request_ms=2, propose_ms=3, log_ms=4, ack_ms=5, apply_ms=6)
    t = Txn(Create("/a"), "c1")
    assert st.cost(Request(1, GetData("/a"))) == 1
    assert st.cost(Request(1, Create("/a"))) == 2
    assert st.cost(Forward(t)) == 3
    assert st.cost(Ack(1, 1)) == 5
    assert st.cost(Commit(1, 1)) == 6
    assert st.cost(Inform(1, 1, 0, t)) == 4 + 6


def test_a_server_handles_one_request_at_a_time_in_arrival_order():
    h = ZkServer("s1", {"s1": 1, "s2": 2, "s3": 3}, ZkConfig(service=ServiceTimes(read_ms=2.0)))
    h.tree.apply(0, Txn(CreateSession(1000.0), "c1"))
    h.state, h.serving = "following", True
    ctx = Context("s1", peers=("s2", "s3"))
    h.on_message(ctx, "c1", Request(1, GetData("/")))
    h.on_message(ctx, "c1", Request(2, GetData("/")))
    assert ctx.timers() == {"cpu": 2.0} and not ctx.sent()  # busy with the first for 2 ms
    ctx.take_effects()
    h.on_timer(ctx, "cpu")
    assert [e.msg.id for e in ctx.sent()] == [1] and ctx.timers() == {"cpu": 2.0}
    ctx.take_effects()
    h.on_timer(ctx, "cpu")
    assert [e.msg.id for e in ctx.sent()] == [2] and not h.cpu_queue and not h.cpu_busy


def test_service_times_reject_bad_values():
    with pytest.raises(ValueError, match="ack_ms"):
        ServiceTimes(ack_ms=-1)
    with pytest.raises(TypeError, match="service="):
        ZkConfig(service=3)


def test_throughput_saturates_at_the_servers_capacity():
    """Reads cost 1 ms: three servers answer at most ~3000 reads/s however many clients."""
    few = throughput_run(0, 3, clients_per_server=1, **FAST)["ops_per_s"]
    many = throughput_run(0, 3, clients_per_server=6, **FAST)["ops_per_s"]
    more = throughput_run(0, 3, clients_per_server=12, **FAST)["ops_per_s"]
    assert few < 0.5 * many  # one client per server leaves the servers idle most of the time
    assert 2800 <= many <= 3050 and abs(more - many) < 0.05 * many


def test_reads_scale_with_servers_and_writes_slow_down():
    df = scaling_sweep("servers", (3, 9), (0.0, 1.0), **FAST)
    ops = {(r.servers, r.write_fraction): r.ops_per_s for r in df.itertuples()}
    assert ops[(9, 0.0)] > 2.5 * ops[(3, 0.0)], ops  # every server answers reads locally
    assert ops[(9, 1.0)] < 0.7 * ops[(3, 1.0)], ops  # the leader handles one ack per voter


def test_observers_add_read_capacity_without_slowing_writes():
    df = scaling_sweep("observers", (0, 6), (0.0, 1.0), **FAST)
    ops = {(r.observers, r.write_fraction): r.ops_per_s for r in df.itertuples()}
    assert ops[(6, 0.0)] > 2.5 * ops[(0, 0.0)], ops
    assert ops[(6, 1.0)] >= 0.95 * ops[(0, 1.0)], ops
    voters = scaling_sweep("servers", (9,), (1.0,), **FAST)["ops_per_s"].iloc[0]
    assert ops[(6, 1.0)] > 1.5 * voters  # 3 voters + 6 observers write faster than 9 voters


def test_same_seed_same_throughput():
    assert throughput_run(5, 3, 2, 0.1, **FAST) == throughput_run(5, 3, 2, 0.1, **FAST)


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="write_fraction"):
        throughput_run(0, 3, write_fraction=1.5)
    with pytest.raises(ValueError, match="vary='voters'"):
        scaling_sweep("voters")
    with pytest.raises(TypeError, match="service="):
        throughput_run(0, 3, service="fast")
