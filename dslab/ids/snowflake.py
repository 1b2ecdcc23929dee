"""Scheme 5: Snowflake (雪花算法), Twitter's 64-bit time-ordered IDs, and its clock problem.

**The layout** (:class:`SnowflakeLayout`). A Snowflake ID is a 64-bit integer, from the top:

- 1 sign bit, always 0, so the ID is a positive signed 64-bit number (a Java ``long``);
- 41 bits of timestamp: milliseconds since a *custom epoch* (Twitter's is 2010-11-04; here
  2020-01-01 by default), enough for 2^41 ms, about 69.7 years;
- 10 bits of worker id, here split as the notes describe: 5 bits of datacenter id (机房 ID) and
  5 bits of worker id (机器 ID), so 32 x 32 = 1024 generators;
- 12 bits of sequence (序列号): a counter within one millisecond, so one generator makes at most
  4096 IDs per ms.

The split is a choice: Baidu's UidGenerator uses seconds (28 bits), a 22-bit worker id and a
13-bit sequence (:data:`UIDGENERATOR_LAYOUT`).

**The rules of a generator** (:meth:`SnowflakeGenerator.next_id`):

1. Read the local clock and floor it to a whole millisecond (tick).
2. Same tick as the last ID: increment the sequence. If the sequence is exhausted, wait for the
   next tick (Twitter's ``tilNextMillis``; here a timer, not a busy loop). New tick: sequence 0.
3. IDs of one generator then strictly increase, and two generators never collide (different
   worker ids), *as long as each generator's clock never goes backwards*.

**Clock rollback (时钟回拨).** An NTP step, a manual fix or a VM migration can move a clock back.
The generator then finds itself at a millisecond it has already used, with its sequence reset,
and hands out the same IDs a second time. ``on_rollback`` chooses what it does:

- ``"ignore"``: the naive generator, with the check removed, to show why the check is there:
  it duplicates IDs.
- ``"refuse"``: Twitter's original: throw (here: answer a definite failure
  ``clock_moved_backwards``) until the clock has caught up with the last tick used.
- ``"wait"``: Leaf's runtime rule: a rollback of at most ``max_wait_ms`` (5 ms) is waited out,
  a larger one refused.

These checks live in memory, so they cannot see a rollback across a restart: a generator that
crashes and boots with its clock set back starts from scratch. Leaf's start-up check against the
coordinator and its peers (``startup_check``, :mod:`dslab.ids.leaf`) closes that hole.

Times: the node's local clock (``ctx.now()``, ms since the simulation started, offsets, drift and
jumps included) plus ``clock_base_unix_ms`` (the simulation starts on 2026-01-01 00:00 UTC) is the
generator's idea of Unix time. The simulator's true time is never read.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, NamedTuple

from dslab._validate import check_choice, check_number, check_type
from dslab.core import Context, Handler, Request
from dslab.ids.messages import CheckIn, CheckInReply, NextId, ReportTime, TimeQuery, TimeReply
from dslab.ids.server import refuse, reply

#: The Unix time (ms) at which every node's clock reads 0: 2026-01-01T00:00:00Z.
SIM_START_UNIX_MS = 1_767_225_600_000
#: The default custom epoch: 2020-01-01T00:00:00Z.
DEFAULT_EPOCH_MS = 1_577_836_800_000
#: Twitter's epoch: 2010-11-04T01:42:54.657Z.
TWITTER_EPOCH_MS = 1_288_834_974_657
#: UidGenerator's default epoch, 2016-05-20 (taken as 00:00 UTC).
UIDGENERATOR_EPOCH_MS = 1_463_702_400_000
MS_PER_YEAR = 365.25 * 24 * 3600 * 1000

ON_ROLLBACK = ("ignore", "refuse", "wait")
STARTUP_CHECKS = ("none", "leaf", "leaf+peers")


@dataclass(frozen=True)
class SnowflakeLayout:
    """How the 63 usable bits of an ID are split; ``tick_ms`` is the timestamp's unit."""

    timestamp_bits: int = 41
    datacenter_bits: int = 5
    worker_bits: int = 5
    sequence_bits: int = 12
    epoch_ms: int = DEFAULT_EPOCH_MS
    tick_ms: int = 1
    name: str = "Snowflake"

    def __post_init__(self) -> None:
        check_number("timestamp_bits", self.timestamp_bits, min=1, integer=True)
        check_number("datacenter_bits", self.datacenter_bits, min=0, integer=True)
        check_number("worker_bits", self.worker_bits, min=0, integer=True)
        check_number("sequence_bits", self.sequence_bits, min=1, integer=True)
        check_number("epoch_ms", self.epoch_ms, min=0, integer=True)
        check_number("tick_ms", self.tick_ms, min=1, integer=True)
        check_type("name", self.name, str)
        total = self.timestamp_bits + self.datacenter_bits + self.worker_bits + self.sequence_bits
        if total != 63:
            raise ValueError(
                f"timestamp_bits + datacenter_bits + worker_bits + sequence_bits = {total} is not "
                "allowed; the fields must fill the 63 bits below the sign bit"
            )

    # -- sizes -----------------------------------------------------------------------------------
    @property
    def max_timestamp(self) -> int:
        return (1 << self.timestamp_bits) - 1

    @property
    def max_datacenter(self) -> int:
        return (1 << self.datacenter_bits) - 1

    @property
    def max_worker(self) -> int:
        return (1 << self.worker_bits) - 1

    @property
    def max_sequence(self) -> int:
        return (1 << self.sequence_bits) - 1

    @property
    def lifetime_years(self) -> float:
        """How long the timestamp lasts after the epoch."""
        return (1 << self.timestamp_bits) * self.tick_ms / MS_PER_YEAR

    @property
    def generators(self) -> int:
        """How many distinct (datacenter, worker) pairs exist."""
        return 1 << (self.datacenter_bits + self.worker_bits)

    @property
    def ids_per_second(self) -> float:
        """The most IDs one generator can make per second."""
        return (1 << self.sequence_bits) * 1000.0 / self.tick_ms

    def fields(self) -> list[tuple[str, int]]:
        """``(field, bits)`` from the most significant bit down, sign included."""
        return [("sign", 1), ("timestamp", self.timestamp_bits),
                ("datacenter", self.datacenter_bits), ("worker", self.worker_bits),
                ("sequence", self.sequence_bits)]

    # -- encoding ----------------------------------------------------------------------------------
    def encode(self, timestamp: int, datacenter_id: int, worker_id: int, sequence: int) -> int:
        """The ID with these fields; each must fit its bits (``timestamp`` counts ticks since
        ``epoch_ms``)."""
        check_number("timestamp", timestamp, min=0, max=self.max_timestamp, integer=True)
        check_number("datacenter_id", datacenter_id, min=0, max=self.max_datacenter, integer=True)
        check_number("worker_id", worker_id, min=0, max=self.max_worker, integer=True)
        check_number("sequence", sequence, min=0, max=self.max_sequence, integer=True)
        return (
            (((timestamp << self.datacenter_bits | datacenter_id) << self.worker_bits | worker_id)
             << self.sequence_bits)
            | sequence
        )

    def decode(self, id_: int) -> dict[str, int]:
        """The fields of ``id_``, plus ``unix_ms``: the time the timestamp stands for."""
        check_number("id_", id_, min=0, max=(1 << 63) - 1, integer=True)
        sequence = id_ & self.max_sequence
        rest = id_ >> self.sequence_bits
        worker = rest & self.max_worker
        rest >>= self.worker_bits
        datacenter = rest & self.max_datacenter
        timestamp = rest >> self.datacenter_bits
        return {
            "timestamp": timestamp,
            "datacenter_id": datacenter,
            "worker_id": worker,
            "sequence": sequence,
            "unix_ms": self.epoch_ms + timestamp * self.tick_ms,
        }


#: Twitter's layout with the default custom epoch (2020-01-01).
DEFAULT_LAYOUT = SnowflakeLayout()
#: Twitter's layout and epoch.
TWITTER_LAYOUT = SnowflakeLayout(epoch_ms=TWITTER_EPOCH_MS, name="Snowflake (Twitter epoch)")
#: Baidu UidGenerator's default layout: seconds, 22-bit worker id, 13-bit sequence.
UIDGENERATOR_LAYOUT = SnowflakeLayout(
    timestamp_bits=28, datacenter_bits=0, worker_bits=22, sequence_bits=13,
    epoch_ms=UIDGENERATOR_EPOCH_MS, tick_ms=1000, name="UidGenerator (Baidu)",
)


class Outcome(NamedTuple):
    """What :meth:`SnowflakeGenerator.next_id` decided.

    ``kind="ok"``: ``value`` is the new ID. ``"wait"``: try again in ``value`` local ms (sequence
    exhausted, or a small rollback being waited out). ``"refuse"``: the clock is ``value`` ms
    behind the last tick used; no ID.
    """

    kind: str
    value: float


class SnowflakeGenerator:
    """The Snowflake algorithm for one generator, without any I/O (see the module rules)."""

    def __init__(
        self,
        datacenter_id: int = 0,
        worker_id: int = 0,
        *,
        layout: SnowflakeLayout = DEFAULT_LAYOUT,
        on_rollback: str = "refuse",
        max_wait_ms: float = 5.0,
        clock_base_unix_ms: int = SIM_START_UNIX_MS,
    ) -> None:
        check_type("layout", layout, SnowflakeLayout)
        check_number("datacenter_id", datacenter_id, min=0, max=layout.max_datacenter,
                     integer=True)
        check_number("worker_id", worker_id, min=0, max=layout.max_worker, integer=True)
        check_choice("on_rollback", on_rollback, ON_ROLLBACK)
        check_number("max_wait_ms", max_wait_ms, min=0)
        check_number("clock_base_unix_ms", clock_base_unix_ms, min=layout.epoch_ms, integer=True)
        self.layout = layout
        self.datacenter_id = datacenter_id
        self.worker_id = worker_id
        self.on_rollback = on_rollback
        self.max_wait_ms = float(max_wait_ms)
        self.offset_ms = clock_base_unix_ms - layout.epoch_ms  # local clock 0 = this many ms
        self.last_tick = -1
        self.sequence = 0

    def tick_start(self, tick: int) -> float:
        """The local clock reading at which ``tick`` begins."""
        return float(tick * self.layout.tick_ms - self.offset_ms)

    def next_id(self, now_ms: float) -> Outcome:
        """One new ID at local time ``now_ms``, or why not (see :class:`Outcome`)."""
        tick = math.floor((self.offset_ms + now_ms) / self.layout.tick_ms)
        if tick < self.last_tick:  # the clock went backwards
            behind_ms = self.tick_start(self.last_tick) - now_ms
            if self.on_rollback == "refuse" or (
                self.on_rollback == "wait" and behind_ms > self.max_wait_ms
            ):
                return Outcome("refuse", behind_ms)
            if self.on_rollback == "wait":
                return Outcome("wait", behind_ms)
            # "ignore": carry on with the older timestamp, sequence from 0: duplicates
        if tick == self.last_tick:
            if self.sequence == self.layout.max_sequence:  # this tick is full: wait for the next
                return Outcome("wait", max(self.tick_start(tick + 1) - now_ms, 1e-6))
            self.sequence += 1
        else:
            self.sequence = 0
        self.last_tick = tick
        return Outcome(
            "ok", self.layout.encode(tick, self.datacenter_id, self.worker_id, self.sequence)
        )


class SnowflakeNode(Handler):
    """An ID server running a :class:`SnowflakeGenerator`, optionally with Leaf's start-up check.

    ``on_rollback`` / ``max_wait_ms``: the runtime defence (module rules). ``startup_check``:

    - ``"none"``: serve at once.
    - ``"leaf"``: Leaf-snowflake's check (:mod:`dslab.ids.leaf`): a node that reported before must
      find its clock at or after its last report; a new node must be within ``threshold_ms`` of
      the average clock of the running peers. Then report the time every ``report_ms``.
    - ``"leaf+peers"``: as ``"leaf"``, and compare with the peers at every start, not only the
      first.

    Requests that arrive before the check passes get ``starting``; if it fails, every request gets
    ``clock_check_failed`` until an operator restarts the node. Requests that must wait (sequence
    exhausted, small rollback) queue in order.
    """

    RETRY_TIMER = "retry"
    REPORT_TIMER = "report"
    CHECK_TIMER = "check_timeout"
    PEERS_TIMER = "peers_timeout"

    def __init__(
        self,
        datacenter_id: int = 0,
        worker_id: int = 0,
        *,
        layout: SnowflakeLayout = DEFAULT_LAYOUT,
        on_rollback: str = "refuse",
        max_wait_ms: float = 5.0,
        startup_check: str = "none",
        coordinator: str = "zk",
        threshold_ms: float = 50.0,
        report_ms: float = 3000.0,
        check_timeout_ms: float = 20.0,
        clock_base_unix_ms: int = SIM_START_UNIX_MS,
    ) -> None:
        self.args = dict(layout=layout, on_rollback=on_rollback, max_wait_ms=max_wait_ms,
                         clock_base_unix_ms=clock_base_unix_ms)
        self.gen = SnowflakeGenerator(datacenter_id, worker_id, **self.args)
        check_choice("startup_check", startup_check, STARTUP_CHECKS)
        check_type("coordinator", coordinator, str)
        check_number("threshold_ms", threshold_ms, min=0)
        check_number("report_ms", report_ms, min=0, min_inclusive=False)
        check_number("check_timeout_ms", check_timeout_ms, min=0, min_inclusive=False)
        self.startup_check = startup_check
        self.coordinator = coordinator
        self.threshold_ms = float(threshold_ms)
        self.report_ms = float(report_ms)
        self.check_timeout_ms = float(check_timeout_ms)
        self.state = "starting"
        self.queue: deque[tuple[str, Request]] = deque()
        self.req = 0
        self.peer_times: dict[str, float] = {}
        self.asked: tuple[str, ...] = ()
        self.last_report = -math.inf
        self.trouble = ""  # "", "wait" or "refuse": the current episode, logged once

    # -- serving IDs -------------------------------------------------------------------------------
    def _drain(self, ctx: Context) -> None:
        while self.queue:
            out = self.gen.next_id(ctx.now())
            if out.kind == "ok":
                src, req = self.queue.popleft()
                reply(ctx, src, req, out.value)
                self.trouble = ""
            elif out.kind == "wait":
                if self.trouble != "wait":
                    ctx.log("snowflake_wait", wait_ms=out.value, last_tick=self.gen.last_tick)
                self.trouble = "wait"
                ctx.set_timer(self.RETRY_TIMER, float(out.value))
                return
            else:
                if self.trouble != "refuse":
                    ctx.log("clock_moved_backwards", behind_ms=out.value)
                self.trouble = "refuse"
                src, req = self.queue.popleft()
                refuse(ctx, src, req, "clock_moved_backwards")

    # -- Leaf's start-up check (the coordinator's side is dslab.ids.leaf.LeafCoordinator) -----
    def _new_req(self, ctx: Context) -> int:
        """A request id this node never used, in any incarnation: persisted before it leaves, so
        an answer meant for an earlier incarnation cannot pass for the current one's."""
        self.req += 1
        ctx.storage["req"] = self.req
        return self.req

    def _check_in(self, ctx: Context) -> None:
        self._new_req(ctx)
        ctx.send(self.coordinator, CheckIn(ctx.node, self.req))
        ctx.set_timer(self.CHECK_TIMER, self.check_timeout_ms)

    def _ask_peers(self, ctx: Context, peers: tuple[str, ...]) -> None:
        self._new_req(ctx)
        self.asked = peers
        self.peer_times = {}
        for p in peers:
            ctx.send(p, TimeQuery(self.req))
        ctx.set_timer(self.PEERS_TIMER, self.check_timeout_ms)

    def _judge_peers(self, ctx: Context) -> None:
        ctx.cancel_timer(self.PEERS_TIMER)
        self.asked = ()
        now = ctx.now()
        if not self.peer_times:  # nobody answered: nothing to compare with
            ctx.log("clock_check", verdict="pass", reason="no peer answered", own_ms=now)
            self._start(ctx)
            return
        avg = sum(self.peer_times[p] for p in sorted(self.peer_times)) / len(self.peer_times)
        off = now - avg
        verdict = "pass" if abs(off) < self.threshold_ms else "fail"
        ctx.log("clock_check", verdict=verdict, reason="peers", own_ms=now, peers_avg_ms=avg,
                offset_ms=off, peers=sorted(self.peer_times))
        if verdict == "pass":
            self._start(ctx)
        else:
            self._fail(ctx)

    def _start(self, ctx: Context) -> None:
        self.state = "running"
        ctx.log("generator_started", check=self.startup_check)
        if self.startup_check != "none":
            self._report(ctx, register=True)
            ctx.set_timer(self.REPORT_TIMER, self.report_ms)

    def _fail(self, ctx: Context) -> None:
        self.state = "failed"
        ctx.log("generator_refused_to_start")

    def _report(self, ctx: Context, register: bool) -> None:
        now = ctx.now()
        if now < self.last_report:  # never write a time older than the last one written
            return
        self.last_report = now
        ctx.send(self.coordinator, ReportTime(ctx.node, now, register))

    # -- handler entry points ----------------------------------------------------------------------
    def on_start(self, ctx: Context) -> None:
        self.req = ctx.storage["req"] if "req" in ctx.storage else 0
        if self.startup_check == "none":
            self._start(ctx)
        else:
            self._check_in(ctx)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            if not isinstance(msg.body, NextId):
                refuse(ctx, src, msg, "unknown_request")
            elif self.state == "running":
                self.queue.append((src, msg))
                if self.trouble != "wait":  # a pending retry timer drains the queue in order
                    self._drain(ctx)
            else:
                refuse(ctx, src, msg, "starting" if self.state == "starting"
                       else "clock_check_failed")
        elif isinstance(msg, TimeQuery):
            ctx.send(src, TimeReply(msg.req, ctx.now()))
        elif isinstance(msg, CheckInReply) and msg.req == self.req and self.state == "starting":
            ctx.cancel_timer(self.CHECK_TIMER)
            now = ctx.now()
            if msg.forever_ms is not None:  # a node that ran before
                if now < msg.forever_ms:
                    ctx.log("clock_check", verdict="fail", reason="behind own last report",
                            own_ms=now, forever_ms=msg.forever_ms)
                    self._fail(ctx)
                    return
                ctx.log("clock_check", verdict="pass", reason="after own last report",
                        own_ms=now, forever_ms=msg.forever_ms)
                if self.startup_check == "leaf+peers" and msg.peers:
                    self._ask_peers(ctx, msg.peers)
                else:
                    self._start(ctx)
            else:  # a new node: write leaf_forever/<self>, then compare with the peers
                self._report(ctx, register=False)
                if msg.peers:
                    self._ask_peers(ctx, msg.peers)
                else:
                    ctx.log("clock_check", verdict="pass", reason="first generator", own_ms=now)
                    self._start(ctx)
        elif isinstance(msg, TimeReply) and msg.req == self.req and src in self.asked:
            self.peer_times[src] = msg.time_ms
            if len(self.peer_times) == len(self.asked):
                self._judge_peers(ctx)

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == self.RETRY_TIMER:
            self.trouble = ""
            self._drain(ctx)
        elif name == self.REPORT_TIMER:
            self._report(ctx, register=True)
            ctx.set_timer(self.REPORT_TIMER, self.report_ms)
        elif name == self.CHECK_TIMER and self.state == "starting":
            self._check_in(ctx)  # the coordinator did not answer: ask again
        elif name == self.PEERS_TIMER and self.asked:
            self._judge_peers(ctx)
