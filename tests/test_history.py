"""One history per run (dslab.history): Jepsen's operation rules and a lossless JSON form.

- A process has at most one open operation; ``complete`` must name that open invocation and
  a type among ok / fail / info.
- ``to_records`` -> JSON -> ``from_records`` gives back the same records, so a history saved with
  a notebook can be checked later.
- ``pairs`` and ``ops_frame`` present each invocation with its completion (or none).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dslab.history import History, MessageRecord, Op


def sample_history() -> History:
    h = History(seed=42)
    a = h.invoke("c1", "write", ("x", 1), time=1.0)
    b = h.invoke("c2", "read", "x", time=1.5)
    h.complete(a, "ok", ("x", 1), time=3.0)
    h.complete(b, "info", None, time=9.0, error="timeout")
    c = h.invoke("c1", "cas", {"key": "x", "from": 1, "to": 2}, time=4.0)
    h.complete(c, "fail", time=5.0, error="not_leader")
    h.invoke("c3", "read", "y", time=6.0)  # never completed
    h.event(2.0, "n1", "became_leader", term=3, peers=("n2", "n3"))
    h.event(2.5, "n2", "timer", name="election", node="n2", time=2.5)  # data with reserved keys
    h.fault(2.2, "partition", groups=[["n1"], ["n2", "n3"]])
    h.fault(2.4, "clock_jump", node="n2", delta_ms=-30.0)
    h.messages.append(MessageRecord(1, "c1", "n1", "Request:Put", 1.0, 2.0, "delivered", 40))
    h.messages.append(
        MessageRecord(2, "n1", "n2", "AppendEntries", 2.0, 4.5, "dropped", 120, "partition", True)
    )
    return h


def test_a_process_completes_its_invocation_ok():
    h = History()
    inv = h.invoke("c1", "write", 5, time=1.0)
    done = h.complete(inv, "ok", 5, time=2.0)
    assert (inv.type, done.type, done.process, done.f, done.index) == (
        "invoke",
        "ok",
        "c1",
        "write",
        1,
    )


def test_a_process_has_at_most_one_open_operation():
    h = History()
    h.invoke("c1", "write", 1)
    with pytest.raises(ValueError, match=r"process='c1' already has an open operation"):
        h.invoke("c1", "read", None)
    h.invoke("c2", "read", None)  # another process may have its own


def test_completing_an_operation_that_is_not_open_raises():
    h = History()
    a = h.invoke("c1", "write", 1)
    h.complete(a, "ok")
    with pytest.raises(ValueError, match="is not the open operation"):
        h.complete(a, "ok")  # already completed


def test_completing_another_invocation_of_the_process_raises():
    h = History()
    first = h.invoke("c1", "write", 1)
    h.complete(first, "info")
    h.invoke("c1", "write", 2)
    with pytest.raises(ValueError, match="is not the open operation"):
        h.complete(first, "ok")


def test_completing_an_invocation_from_another_history_raises():
    h, other = History(), History()
    h.invoke("c1", "write", 1)
    foreign = other.invoke("c1", "write", 1)
    with pytest.raises(ValueError, match="is not the open operation"):
        h.complete(foreign, "ok")


def test_completion_type_must_be_ok_fail_or_info():
    h = History()
    inv = h.invoke("c1", "write", 1)
    with pytest.raises(ValueError, match=r"type='invoke'"):
        h.complete(inv, "invoke")
    h.complete(inv, "fail", error="busy")  # still open after the rejected call


def test_records_survive_a_json_round_trip_unchanged():
    h = sample_history()
    records = h.to_records()
    text = json.dumps(records)
    back = History.from_records(json.loads(text), seed=h.seed)
    assert back.to_records() == records
    assert back.to_json() == h.to_json()
    assert back.ops == h.ops and back.events == h.events and back.faults == h.faults
    assert back.messages == h.messages


def test_to_json_and_from_json_round_trip():
    h = sample_history()
    back = History.from_json(h.to_json())
    assert back.seed == 42 and back.to_records() == h.to_records()


def test_tuples_are_stored_as_lists_so_the_round_trip_is_exact():
    h = History()
    h.invoke("c1", "write", ("x", (1, 2)))
    assert h.ops[0].value == ["x", [1, 2]]


def test_records_come_in_kind_order_ops_events_faults_messages():
    kinds = [r["kind"] for r in sample_history().to_records()]
    assert kinds == ["op"] * 7 + ["event"] * 2 + ["fault"] * 2 + ["message"] * 2


def test_an_op_record_omits_error_when_there_is_none():
    h = sample_history()
    assert "error" not in h.ops[0].to_record()
    assert h.ops[3].to_record()["error"] == "timeout"


def test_a_record_without_kind_is_read_as_an_op():
    h = History.from_records([{"process": 0, "type": "invoke", "f": "read"}])
    assert h.ops == [Op(0, 0.0, 0, "invoke", "read", None)]


def test_from_records_rejects_a_malformed_record():
    with pytest.raises(ValueError, match=r"records\[0\]\['kind'\]='op2'"):
        History.from_records([{"kind": "op2"}])
    with pytest.raises(ValueError, match=r"records\[0\].*not a valid event record"):
        History.from_records([{"kind": "event", "time": 1.0}])
    with pytest.raises(TypeError, match=r"records\[0\]=3"):
        History.from_records([3])


def test_pairs_match_each_invocation_with_its_completion_in_invocation_order():
    got = [
        (inv.f, inv.process, comp.type if comp else None) for inv, comp in sample_history().pairs()
    ]
    assert got == [
        ("write", "c1", "ok"),
        ("read", "c2", "info"),
        ("cas", "c1", "fail"),
        ("read", "c3", None),
    ]


def test_ops_frame_has_one_row_per_operation_with_the_documented_columns():
    df = sample_history().ops_frame()
    assert list(df.columns) == [
        "process",
        "f",
        "invoke_value",
        "type",
        "value",
        "start_ms",
        "end_ms",
    ]
    assert len(df) == 4
    assert list(df["type"]) == ["ok", "info", "fail", "info"]  # an unfinished op counts as info
    assert list(df["start_ms"]) == [1.0, 1.5, 4.0, 6.0]
    assert df["end_ms"].iloc[:3].tolist() == [3.0, 9.0, 5.0] and pd.isna(df["end_ms"].iloc[3])


def test_ops_frame_of_an_empty_history_still_has_its_columns():
    df = History().ops_frame()
    assert df.empty and "start_ms" in df.columns


def test_event_data_may_use_any_key():
    h = sample_history()
    assert h.events[1].data == {"name": "election", "node": "n2", "time": 2.5}
    assert (h.events[1].node, h.events[1].name) == ("n2", "timer")


def test_repr_names_the_seed():
    assert "seed=42" in repr(sample_history())
