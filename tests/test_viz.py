"""dslab.viz: every plot returns a Figure with labelled axes and the seed in its title, draws what
the history holds (one arrow per delivered message, one bar per operation, one band per role) and
survives an empty history."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, Rectangle  # noqa: E402

from dslab.history import History, MessageRecord  # noqa: E402
from dslab.viz import (  # noqa: E402
    cdf,
    fault_spans,
    history_timeline,
    op_label,
    role_segments,
    role_timeline,
    spacetime,
)
from dslab.viz.spacetime import display_type  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _msg(i, src, dst, send, recv, status="delivered", type_="Ping", reason=None):
    return MessageRecord(i, src, dst, type_, send, recv, status, 10, reason)


@pytest.fixture
def tiny() -> History:
    """3 nodes, 4 delivered messages, 2 dropped, 1 in flight; a partition, a crash, a pause;
    two clients with ok, fail and info operations; role events."""
    h = History(seed=7)
    h.messages += [
        _msg(1, "n1", "n2", 0.0, 2.0),
        _msg(2, "n2", "n1", 2.0, 4.0, type_="Pong"),
        _msg(3, "n1", "n3", 1.0, 3.0),
        _msg(4, "n3", "n1", 3.0, 6.0, type_="Pong"),
        _msg(5, "n1", "n2", 10.0, None, "dropped", reason="partition"),
        _msg(6, "n3", "n1", 12.0, 14.0, "dropped", reason="partition"),
        _msg(7, "n2", "n3", 29.0, None, "in_flight"),
    ]
    h.fault(9.0, "partition", groups=[["n1"], ["n2", "n3"]])
    h.fault(20.0, "heal")
    h.fault(21.0, "crash", node="n3")
    h.fault(26.0, "restart", node="n3")
    h.fault(15.0, "pause", node="n2", duration_ms=3.0)
    op = h.invoke("c1", "write", 1, time=0.5)
    h.complete(op, "ok", 1, time=5.0)
    op = h.invoke("c2", "read", None, time=1.0)
    h.complete(op, "ok", 1, time=6.0)
    op = h.invoke("c1", "cas", [1, 2], time=7.0)
    h.complete(op, "fail", None, time=8.0)
    op = h.invoke("c2", "write", 3, time=11.0)
    h.complete(op, "info", None, time=16.0)
    for n in ("n1", "n2", "n3"):
        h.event(0.0, n, "role", role="follower", term=0)
    h.event(4.0, "n1", "role", role="candidate", term=1)
    h.event(5.0, "n1", "role", role="leader", term=1)
    h.event(27.0, "n3", "role", role="follower", term=1)
    return h


def _gid(ax, gid, kind=None):
    artists = list(ax.patches) + list(ax.lines)
    return [a for a in artists if a.get_gid() == gid and (kind is None or isinstance(a, kind))]


def _assert_book_figure(fig, seed):
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel(), "both axes must be labelled"
    if seed is not None:
        assert f"seed={seed}" in ax.get_title()
    return ax


# -- spacetime -------------------------------------------------------------------------------------
def test_spacetime_draws_one_arrow_per_delivered_message(tiny):
    ax = _assert_book_figure(spacetime(tiny), 7)
    assert "ms" in ax.get_xlabel()
    assert len(_gid(ax, "message", FancyArrowPatch)) == 4
    assert len(_gid(ax, "dropped")) == 2
    assert len(_gid(ax, "in_flight")) == 1
    assert [t.get_text() for t in ax.get_yticklabels()] == ["n1", "n2", "n3"]


def test_spacetime_shades_the_minority_side_of_a_partition_a_crash_and_a_pause(tiny):
    ax = spacetime(tiny).axes[0]
    partition = _gid(ax, "fault:network", Rectangle)
    assert len(partition) == 1  # only n1, the minority side
    (band,) = partition
    assert band.get_x() == 9.0 and band.get_width() == 11.0
    assert len(_gid(ax, "fault:crash")) == 1 and len(_gid(ax, "fault:pause")) == 1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"Ping", "Pong", "dropped"} <= set(labels)


def test_spacetime_legend_and_labels_name_message_types(tiny):
    ax = spacetime(tiny, labels=True).axes[0]
    texts = {t.get_text() for t in ax.texts}
    assert {"Ping", "Pong"} <= texts


def test_spacetime_filters_nodes_and_time_window(tiny):
    ax = spacetime(tiny, nodes=["n1", "n2"]).axes[0]
    assert len(_gid(ax, "message")) == 2  # n1<->n2 only
    ax = spacetime(tiny, t0=0.0, t1=1.5).axes[0]
    assert len(_gid(ax, "message")) == 2  # sent by 1.5 ms
    assert ax.get_xlim()[1] == 1.5 and ax.get_xlim()[0] == pytest.approx(0.0, abs=0.05)


def test_spacetime_caps_the_number_of_messages_and_says_so(tiny):
    ax = spacetime(tiny, max_messages=2).axes[0]
    assert len(_gid(ax, "message")) == 2
    assert any("first 2 of" in t.get_text() for t in ax.texts)


def test_spacetime_draws_into_a_given_axes(tiny):
    fig, ax = plt.subplots()
    assert spacetime(tiny, ax=ax) is fig
    assert len(_gid(ax, "message")) == 4


def test_spacetime_accepts_a_dataframe_of_message_records(tiny):
    df = pd.DataFrame([m.to_record() for m in tiny.messages])
    df.attrs["seed"] = 7
    ax = _assert_book_figure(spacetime(df), 7)
    assert len(_gid(ax, "message")) == 4


def test_spacetime_of_an_empty_history_does_not_crash():
    _assert_book_figure(spacetime(History(seed=3)), 3)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [({"nodes": ["n9"]}, "nodes[0]"), ({"max_messages": 0}, "max_messages"),
     ({"t0": 5.0, "t1": 1.0}, "t1"), ({"labels": "yes"}, "labels")],
)
def test_spacetime_rejects_bad_arguments_naming_the_parameter(tiny, kwargs, param):
    with pytest.raises((ValueError, TypeError), match=param.replace("[", r"\[")):
        spacetime(tiny, **kwargs)


def test_replies_carrying_plain_values_share_one_legend_entry():
    assert display_type("Response:int") == "Response"
    assert display_type("Response:NoneType") == "Response"
    assert display_type("Response:Snapshot") == "Response:Snapshot"
    assert display_type("Request:Write") == "Request:Write"


def test_spacetime_rejects_something_that_is_not_a_history():
    with pytest.raises(TypeError, match="history="):
        spacetime(42)


# -- fault spans -----------------------------------------------------------------------------------
def test_fault_spans_pair_partition_with_heal_and_crash_with_restart(tiny):
    spans = {(s.kind, s.nodes): (s.start, s.end) for s in fault_spans(tiny)}
    assert spans[("network", ("n1",))] == (9.0, 20.0)
    assert spans[("crash", ("n3",))] == (21.0, 26.0)
    assert spans[("pause", ("n2",))] == (15.0, 18.0)


def test_an_unhealed_partition_and_an_unrestarted_crash_last_to_the_end():
    h = History(seed=1)
    h.fault(1.0, "isolate", node="n2")
    h.fault(2.0, "crash", node="n1")
    h.event(10.0, "n3", "tick")
    spans = fault_spans(h)
    assert [(s.kind, s.end) for s in spans] == [("network", 10.0), ("crash", 10.0)]


# -- history timeline ------------------------------------------------------------------------------
def test_history_timeline_draws_one_bar_per_operation(tiny):
    ax = _assert_book_figure(history_timeline(tiny), 7)
    bars = _gid(ax, "op", Rectangle)
    assert len(bars) == 4
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c1", "c2"]
    labels = {t.get_text().strip() for t in ax.texts}
    assert {"write 1", "read 1", "cas [1, 2]", "write 3"} <= labels


def test_an_info_operation_is_drawn_open_ended_to_the_end_of_the_run(tiny):
    ax = history_timeline(tiny).axes[0]
    info = [b for b in _gid(ax, "op") if b.get_x() == 11.0]
    assert len(info) == 1
    assert info[0].get_x() + info[0].get_width() == pytest.approx(29.0)  # the last record


def test_history_timeline_accepts_the_ops_frame_and_a_subset_of_processes(tiny):
    df = tiny.ops_frame()
    df.attrs["seed"] = 7
    ax = _assert_book_figure(history_timeline(df), 7)
    assert len(_gid(ax, "op")) == 4
    ax = history_timeline(tiny, processes=["c2"]).axes[0]
    assert len(_gid(ax, "op")) == 2
    with pytest.raises(ValueError, match=r"processes\[0\]"):
        history_timeline(tiny, processes=["c9"])


def test_history_timeline_of_an_empty_history_does_not_crash():
    _assert_book_figure(history_timeline(History(seed=5)), 5)


def test_op_labels_show_the_value_read_or_written():
    assert op_label("read", None, "ok", 3) == "read 3"
    assert op_label("read", None, "info", None) == "read ?"
    assert op_label("write", 4, "ok", 4) == "write 4"


# -- role timeline ---------------------------------------------------------------------------------
def test_role_segments_follow_role_events_and_crashes(tiny):
    segs = [(s["node"], s["role"], s["start_ms"], s["end_ms"]) for s in role_segments(tiny)]
    assert ("n1", "leader", 5.0, 29.0) in segs
    assert ("n3", "down", 21.0, 26.0) in segs
    assert ("n3", "follower", 27.0, 29.0) in segs  # unknown from restart to its first event


def test_role_timeline_writes_the_term_in_leader_segments(tiny):
    ax = _assert_book_figure(role_timeline(tiny), 7)
    assert len(_gid(ax, "role:leader")) == 1
    assert len(_gid(ax, "role:down")) == 1
    assert "T1" in {t.get_text() for t in ax.texts}


def test_role_timeline_of_an_empty_history_does_not_crash():
    _assert_book_figure(role_timeline(History(seed=2)), 2)


# -- cdf -------------------------------------------------------------------------------------------
def test_cdf_draws_one_curve_per_sample_with_markers_and_the_seed():
    fig = cdf({"a": [1, 2, 3], "b": [2, 4, 8]}, seed=11, log_x=True, markers={"paper": 5.0},
              means=True)
    ax = _assert_book_figure(fig, 11)
    assert len(_gid(ax, "cdf")) == 2
    assert len(_gid(ax, "marker")) == 1
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("a") and "mean 2" in labels[0] and "paper = 5" in labels[2]


def test_cdf_reaches_one_at_the_largest_sample():
    ax = cdf([3.0, 1.0, 2.0], seed=0).axes[0]
    (line,) = _gid(ax, "cdf")
    assert list(line.get_xdata()) == [1.0, 2.0, 3.0]
    assert line.get_ydata()[-1] == 1.0


def test_cdf_reads_a_long_dataframe_and_its_seed():
    df = pd.DataFrame({"dist": ["x", "x", "y"], "ms": [1.0, 2.0, 3.0]})
    df.attrs["seed"] = 9
    ax = _assert_book_figure(cdf(df, by="dist", value="ms", complementary=True), 9)
    assert len(_gid(ax, "cdf")) == 2
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="by="):
        cdf(df, by="nope", value="ms")


def test_cdf_of_nothing_does_not_crash():
    _assert_book_figure(cdf({}, seed=1), 1)
    _assert_book_figure(cdf([], seed=1, log_x=True), 1)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [({"log_x": "yes"}, "log_x"), ({"markers": [1.0]}, "markers"),
     ({"xlim": (5, 1)}, r"xlim\[1\]"), ({"markers": {"m": -1.0}, "log_x": True}, "markers")],
)
def test_cdf_rejects_bad_arguments_naming_the_parameter(kwargs, param):
    with pytest.raises((TypeError, ValueError), match=param):
        cdf([1.0, 2.0], **kwargs)
