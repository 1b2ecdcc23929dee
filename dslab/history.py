"""One history per run: everything observable, in one place.

A history holds four kinds of record, each JSON-serializable through :meth:`History.to_records`:

- ``op``: a client operation in Jepsen's vocabulary. An invocation (``type="invoke"``) is later
  completed by the same ``process`` with ``ok`` (it happened), ``fail`` (it definitely did not
  happen) or ``info`` (indefinite: it may or may not have happened, e.g. a timeout).
- ``event``: something a node says about itself (``became_leader``, ``crashed``, ``committed``...).
- ``fault``: a fault the nemesis injected (``partition``, ``heal``, ``crash``, ``clock_jump``...).
- ``message``: one entry of the network journal (send and receive times, status, size).

Times are true simulated time in milliseconds. Checkers and plots read true time; nodes never do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from dslab._validate import check_choice, check_type

OP_TYPES = ("invoke", "ok", "fail", "info")
RECORD_KINDS = ("op", "event", "fault", "message")


@dataclass(frozen=True, slots=True)
class Op:
    """One client-operation record (an invocation or a completion)."""

    index: int
    time: float
    process: Any
    type: str
    f: str
    value: Any = None
    error: str | None = None

    def to_record(self) -> dict[str, Any]:
        rec = {"kind": "op", **asdict(self)}
        if rec["error"] is None:
            del rec["error"]
        return rec


@dataclass(frozen=True, slots=True)
class NodeEvent:
    """Something a node or the runtime reports: ``name`` with free-form JSON ``data``."""

    time: float
    node: str
    name: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {"kind": "event", **asdict(self)}


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault injected by the nemesis at ``time`` (true time)."""

    time: float
    verb: str
    args: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {"kind": "fault", **asdict(self)}


MESSAGE_FIELDS = (
    "id", "src", "dst", "type", "send_time", "recv_time", "status", "size", "reason", "duplicate"
)  # fmt: skip
ID, SRC, DST, TYPE, SEND_TIME, RECV_TIME, STATUS, SIZE, REASON, DUPLICATE = range(10)


def _message_field(i: int, doc: str) -> property:
    def get(self: MessageRecord) -> Any:
        return self._row[i]

    def set_(self: MessageRecord, value: Any) -> None:
        self._row[i] = value

    return property(get, set_, doc=doc)


class MessageRecord:
    """One message in the network journal.

    ``status`` is ``"in_flight"`` until the message is ``"delivered"`` or ``"dropped"``; ``reason``
    says why it was dropped (``"loss"``, ``"partition"``, ``"crashed"``, ``"stale"``...).

    The simulator keeps the journal as plain rows (lists in :data:`MESSAGE_FIELDS` order, about
    five times cheaper to create per message than an object); a ``MessageRecord`` is a view of
    one row, so it always shows the message's current status.
    """

    __slots__ = ("_row",)

    def __init__(
        self,
        id: int,
        src: str,
        dst: str,
        type: str,
        send_time: float,
        recv_time: float | None,
        status: str,
        size: int,
        reason: str | None = None,
        duplicate: bool = False,
    ) -> None:
        self._row = [id, src, dst, type, send_time, recv_time, status, size, reason, duplicate]

    @classmethod
    def view(cls, row: list[Any]) -> MessageRecord:
        rec = cls.__new__(cls)
        rec._row = row
        return rec

    id = _message_field(ID, "sequence number of the message in this run")
    src = _message_field(SRC, "sender")
    dst = _message_field(DST, "receiver")
    type = _message_field(TYPE, "message class name (``Request:Put`` for client envelopes)")
    send_time = _message_field(SEND_TIME, "true time it was sent, ms")
    recv_time = _message_field(RECV_TIME, "true time it arrived or was dropped, ms")
    status = _message_field(STATUS, '"in_flight", "delivered" or "dropped"')
    size = _message_field(SIZE, "bytes on the wire")
    reason = _message_field(REASON, "why it was dropped, else None")
    duplicate = _message_field(DUPLICATE, "True for the extra copy made by duplication")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MessageRecord) and self._row == other._row

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in zip(MESSAGE_FIELDS, self._row, strict=True))
        return f"MessageRecord({body})"

    def to_record(self) -> dict[str, Any]:
        return {"kind": "message", **dict(zip(MESSAGE_FIELDS, self._row, strict=True))}


def _jsonable(value: Any) -> Any:
    """Tuples become lists (JSON has no tuples) so a record survives a JSON round trip unchanged."""
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


class History:
    """The observable record of one run. ``seed`` identifies the run that produced it."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self.ops: list[Op] = []
        self.events: list[NodeEvent] = []
        self.faults: list[Fault] = []
        # the network appends rows here; ``messages`` shows them as MessageRecord views
        self.message_rows: list[list[Any]] = []
        self._message_views: list[MessageRecord] = []
        self._open: dict[Any, Op] = {}

    def __repr__(self) -> str:
        return (
            f"History(seed={self.seed}, ops={len(self.ops)}, events={len(self.events)}, "
            f"faults={len(self.faults)}, messages={len(self.messages)})"
        )

    @property
    def messages(self) -> list[MessageRecord]:
        """The network journal: one :class:`MessageRecord` per message copy, in send order."""
        views, rows = self._message_views, self.message_rows
        if len(views) > len(rows):  # records appended to this list directly
            rows.extend(v._row for v in views[len(rows) :])
        elif len(views) < len(rows):  # rows appended by the network since the last look
            views.extend(MessageRecord.view(r) for r in rows[len(views) :])
        return views

    @messages.setter
    def messages(self, records: Iterable[MessageRecord]) -> None:
        records = list(records)
        for i, r in enumerate(records):
            check_type(f"messages[{i}]", r, MessageRecord)
        self.message_rows[:] = [r._row for r in records]  # in place: the network holds this list
        self._message_views[:] = records

    # -- client operations -------------------------------------------------------------------
    def invoke(self, process: Any, f: str, value: Any = None, time: float = 0.0) -> Op:
        """Record that ``process`` invoked ``f(value)`` (one open operation per process)."""
        check_type("f", f, str)
        if process in self._open:
            raise ValueError(
                f"process={process!r} already has an open operation {self._open[process]}; "
                "complete it (ok, fail or info) before invoking another"
            )
        op = Op(len(self.ops), float(time), process, "invoke", f, _jsonable(value))
        self.ops.append(op)
        self._open[process] = op
        return op

    def complete(
        self,
        invocation: Op,
        type: str,
        value: Any = None,
        time: float = 0.0,
        error: str | None = None,
    ) -> Op:
        """Complete ``invocation`` with ``type`` ok / fail / info and the observed ``value``."""
        check_choice("type", type, ("ok", "fail", "info"))
        if self._open.get(invocation.process) is not invocation:
            raise ValueError(f"invocation={invocation} is not the open operation of its process")
        del self._open[invocation.process]
        op = Op(
            len(self.ops),
            float(time),
            invocation.process,
            type,
            invocation.f,
            _jsonable(value),
            error,
        )
        self.ops.append(op)
        return op

    def event(self, time: float, node: str, name: str, /, **data: Any) -> NodeEvent:
        # positional-only: an event's data may itself have keys "time", "node" or "name"
        ev = NodeEvent(float(time), node, name, _jsonable(data))
        self.events.append(ev)
        return ev

    def fault(self, time: float, verb: str, /, **args: Any) -> Fault:
        ft = Fault(float(time), verb, _jsonable(args))
        self.faults.append(ft)
        return ft

    # -- views -------------------------------------------------------------------------------
    def client_ops(self) -> list[dict[str, Any]]:
        """Client operations as plain dicts, in real-time order (the checkers' input format)."""
        return [op.to_record() for op in self.ops]

    def pairs(self) -> Iterator[tuple[Op, Op | None]]:
        """Each invocation with its completion (``None`` if the run ended first)."""
        pending: dict[Any, Op] = {}
        done: list[tuple[Op, Op | None]] = []
        for op in self.ops:
            if op.type == "invoke":
                pending[op.process] = op
            else:
                inv = pending.pop(op.process)
                done.append((inv, op))
        done.extend((inv, None) for inv in pending.values())
        done.sort(key=lambda p: p[0].index)
        return iter(done)

    def to_records(self) -> list[dict[str, Any]]:
        """All records as JSON-serializable dicts: ops, then events, faults and messages."""
        out: list[dict[str, Any]] = [op.to_record() for op in self.ops]
        out += [e.to_record() for e in self.events]
        out += [f.to_record() for f in self.faults]
        out += [m.to_record() for m in self.messages]
        return out

    def to_json(self) -> str:
        return json.dumps({"seed": self.seed, "records": self.to_records()}, sort_keys=True)

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]], seed: int | None = None) -> History:
        """Rebuild a history from :meth:`to_records` output (a record without ``kind`` is an op)."""
        h = cls(seed=seed)
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise TypeError(f"records[{i}]={rec!r} must be a dict")
            kind = rec.get("kind", "op")
            check_choice(f"records[{i}]['kind']", kind, RECORD_KINDS)
            body = {k: v for k, v in rec.items() if k != "kind"}
            try:
                if kind == "op":
                    body.setdefault("index", len(h.ops))
                    body.setdefault("time", 0.0)
                    body.setdefault("value", None)
                    check_choice(f"records[{i}]['type']", body.get("type"), OP_TYPES)
                    h.ops.append(Op(**body))
                elif kind == "event":
                    h.events.append(NodeEvent(**body))
                elif kind == "fault":
                    h.faults.append(Fault(**body))
                else:
                    h.message_rows.append(MessageRecord(**body)._row)
            except TypeError as exc:
                raise ValueError(
                    f"records[{i}]={rec!r} is not a valid {kind} record: {exc}"
                ) from None
        return h

    @classmethod
    def from_json(cls, text: str) -> History:
        data = json.loads(text)
        return cls.from_records(data["records"], seed=data.get("seed"))

    def ops_frame(self):
        """Invocation/completion pairs as a pandas DataFrame (one row per operation)."""
        import pandas as pd

        rows = []
        for inv, comp in self.pairs():
            rows.append(
                {
                    "process": inv.process,
                    "f": inv.f,
                    "invoke_value": inv.value,
                    "type": comp.type if comp else "info",
                    "value": comp.value if comp else None,
                    "start_ms": inv.time,
                    "end_ms": comp.time if comp else None,
                }
            )
        return pd.DataFrame(
            rows, columns=["process", "f", "invoke_value", "type", "value", "start_ms", "end_ms"]
        )
