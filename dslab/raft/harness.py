"""A Raft test harness in simulated time, modelled on the MIT 6.5840 Raft tester.

The harness runs ``n`` servers ``s0 .. s{n-1}`` on a :class:`dslab.sim.Sim`, watches every
command they apply, and offers the verbs the 6.5840 tests are written in: ``start``, ``one``,
``n_committed``, ``wait``, ``check_one_leader``, ``check_no_leader``, ``check_terms``,
``disconnect`` / ``connect``, ``crash`` / ``restart``, ``set_reliable``, ``set_long_reordering``,
``rpc_count``, ``bytes_total``. Time is simulated: ``one`` may wait 10 s, ``sleep(1000)``
advances the world by one second, and a whole scenario takes well under a second of wall time.
The same seed replays the same run exactly.

Every check that fails raises :class:`HarnessError`, whose message names the scenario and its
current step (``begin`` / ``step``) and ends with ``replay with seed=N``.

What the harness checks on its own, at every apply (raising at once):

- each server applies indices in order, without gaps (``last applied + 1``, or the index just
  after a snapshot it installed);
- every server applies the same command at each index (State Machine Safety).

``check_safety()`` adds Election Safety (from the history's ``role`` events) and Log Matching
(from the servers' logs).

The interface a node must implement
-----------------------------------
Any class works, so a student's Raft is graded by the same scenarios, if it

1. subclasses :class:`dslab.core.Handler` (``on_start``, ``on_message``, ``on_timer``) and is
   built as ``node_cls()``, or ``node_cls(config=config)`` when the harness is given a
   ``config``;
2. has ``start(ctx, command) -> (index, term, is_leader)``: propose ``command``; a non-leader
   returns ``is_leader=False`` (its index is ignored);
3. has ``get_state() -> (term, is_leader)``;
4. calls ``self.apply(ctx, index, command)`` once per committed entry, in index order (the
   harness wraps ``apply`` in a subclass to watch it; your own ``apply`` is still called);
5. for the snapshot scenarios (``snapshot=True``): has ``snapshot(ctx, index, data)`` (the
   harness calls it from inside ``apply`` every 10 indices, with ``data`` describing its state
   up to ``index``), keeps ``data``, and calls ``self.restore_snapshot(data)`` whenever it
   installs a snapshot: one received from the leader, or its own when it reboots;
6. names its reply messages ``...Reply`` (the messages of :mod:`dslab.raft.messages` do), so the
   unreliable network and the RPC counters can tell requests from replies;
7. optionally logs ``ctx.log("role", role=..., term=...)`` on every role change and keeps its
   log in a :class:`dslab.raft.log.RaftLog` attribute ``log``: ``check_safety`` then also
   checks Election Safety and Log Matching;
8. keeps its snapshot under a storage key containing ``snapshot``: ``persisted_size`` counts
   every other key as Raft state.

:class:`dslab.raft.node.RaftNode` implements all of it.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any

import simpy

from dslab._validate import check_number, check_seed, check_type
from dslab.core import Handler
from dslab.raft.config import RaftConfig
from dslab.raft.messages import is_reply, is_reply_type
from dslab.raft.node import RaftNode
from dslab.raft.safety import election_safety, log_matching, server_logs
from dslab.sim import DROP, HandlerError, Sim

#: 6.5840's RaftElectionTimeout: the tests' unit of "long enough to elect a leader".
ELECTION_TIMEOUT_MS = 1000.0
#: With ``snapshot=True``, the harness asks for a snapshot every this many applied indices.
SNAPSHOT_INTERVAL = 10

_short = reprlib.Repr()
_short.maxstring = 40
_short.maxother = 40


class HarnessError(AssertionError):
    """A scenario failed: the message names the step and ends with ``replay with seed=N``.

    ``history`` is the run's history up to the failure (for a space-time diagram), if known."""

    def __init__(self, message: str, history: Any = None) -> None:
        super().__init__(message)
        self.history = history


class Harness:
    """``n`` Raft servers on a simulated network, and the 6.5840 tester's verbs.

    Parameters
    ----------
    n:
        Number of servers (``s0`` .. ``s{n-1}``; the verbs take the number ``i``).
    seed:
        Seed of the run: the same seed replays the same run.
    reliable:
        If False, every message is dropped with probability 0.1 and delayed by 0-27 ms.
    node_cls:
        The server class (see the module docstring for the interface it must implement).
    config:
        A :class:`RaftConfig` passed to ``node_cls(config=...)``; None builds ``node_cls()``.
    snapshot:
        If True, ask each server for a snapshot every 10 applied indices (6.5840's 3D tests).
    """

    def __init__(
        self,
        n: int,
        seed: int = 0,
        reliable: bool = True,
        node_cls: type = RaftNode,
        config: RaftConfig | None = None,
        snapshot: bool = False,
    ) -> None:
        check_number("n", n, min=1, integer=True)
        self.seed = check_seed(seed)
        check_type("reliable", reliable, bool)
        if not (isinstance(node_cls, type) and issubclass(node_cls, Handler)):
            raise TypeError(f"node_cls={node_cls!r} must be a subclass of dslab.core.Handler")
        if config is not None:
            check_type("config", config, RaftConfig)
        check_type("snapshot", snapshot, bool)
        self.n = n
        self.node_cls = node_cls
        self.config = config
        self.snapshot = snapshot
        self.sim = Sim(seed=seed)
        self.rng = self.sim.stream("harness")
        self.names = [f"s{i}" for i in range(n)]
        self._index_of = {name: i for i, name in enumerate(self.names)}
        # What each server applied, kept across its crashes (6.5840's cfg.logs).
        self.logs: list[dict[int, Any]] = [{} for _ in range(n)]
        self.last_applied = [0] * n
        self._first_applied: dict[int, tuple[Any, int]] = {}  # index -> (command, server)
        self.connected = [True] * n
        self.reliable = reliable
        self.long_reordering = False
        self.scenario = f"Harness(n={n})"
        self.current_step = "setup"
        self.sim.net.add_interceptor(self._shape_traffic)
        self._observed_cls = _observed(node_cls, self)
        for i, name in enumerate(self.names):
            self.sim.add_node(name, self._factory(i))
        with self._guard():
            self._settle()

    def __repr__(self) -> str:
        return (
            f"Harness(n={self.n}, seed={self.seed}, now={self.sim.now:.1f}ms, "
            f"node_cls={self.node_cls.__name__})"
        )

    # -- reporting -------------------------------------------------------------------------------
    def begin(self, description: str) -> None:
        """Name the scenario (it prefixes every failure message)."""
        self.scenario = description
        self.current_step = "start"

    def step(self, description: str) -> None:
        """Name the scenario's current step (it appears in failure messages)."""
        self.current_step = description

    def fail(self, what: str) -> None:
        raise HarnessError(
            f"{self.scenario}: step {self.current_step!r} at t={self.sim.now:.1f} ms: {what}; "
            f"replay with seed={self.seed}",
            history=self.sim.history,
        )

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn a handler's exception into a HarnessError naming the step."""
        try:
            yield
        except HandlerError as exc:
            if isinstance(exc.__cause__, HarnessError):
                raise exc.__cause__ from None
            raise HarnessError(
                f"{self.scenario}: step {self.current_step!r}: {exc}", history=self.sim.history
            ) from exc

    # -- building and watching servers -----------------------------------------------------------
    def _factory(self, i: int) -> Callable[[], Handler]:
        def make() -> Handler:
            node = (
                self._observed_cls()
                if self.config is None
                else self._observed_cls(config=self.config)
            )
            node._harness_server = i
            return node

        return make

    def _on_apply(self, i: int, index: int, command: Any) -> None:
        if index != self.last_applied[i] + 1:
            self.fail(
                f"server {i} applied index {index} out of order; expected index "
                f"{self.last_applied[i] + 1}"
            )
        self._agree(i, index, command)
        self.logs[i][index] = command
        self.last_applied[i] = index

    def _agree(self, i: int, index: int, command: Any) -> None:
        first, j = self._first_applied.setdefault(index, (command, i))
        if first != command:
            self.fail(
                f"apply error: commit index={index} server={i} {_short.repr(command)} != "
                f"server={j} {_short.repr(first)}"
            )

    def _on_restore(self, i: int, data: Any) -> None:
        try:
            index, commands = data
        except (TypeError, ValueError):
            self.fail(f"server {i} restored a snapshot {_short.repr(data)} the harness never made")
        for k, command in enumerate(commands, start=1):
            self._agree(i, k, command)
            self.logs[i][k] = command
        self.last_applied[i] = index

    def _snapshot_data(self, i: int, index: int) -> tuple[int, tuple[Any, ...]]:
        """What the harness's "service" saves: everything server ``i`` applied up to ``index``."""
        return index, tuple(self.logs[i][k] for k in range(1, index + 1))

    def _node(self, i: int) -> Any:
        check_number("i", i, min=0, max=self.n - 1, integer=True)
        return self.sim.nodes[self.names[i]]

    def handler(self, i: int) -> Any:
        """Server ``i``'s live handler (None while it is crashed), to inspect its state."""
        return self._node(i).handler

    def is_up(self, i: int) -> bool:
        return self._node(i).alive

    def get_state(self, i: int) -> tuple[int, bool]:
        """``(term, is_leader)`` of server ``i``, which must be up."""
        node = self._node(i)
        if not node.alive:
            self.fail(f"get_state({i}): server {i} is crashed")
        return node.handler.get_state()

    def applied(self, i: int) -> dict[int, Any]:
        """``{index: command}`` of everything server ``i`` applied (kept across its crashes)."""
        self._check_index(i)
        return dict(self.logs[i])

    def _check_index(self, i: int) -> None:
        check_number("i", i, min=0, max=self.n - 1, integer=True)

    def _up_and_connected(self) -> list[int]:
        return [i for i in range(self.n) if self.connected[i] and self._node(i).alive]

    # -- proposing -------------------------------------------------------------------------------
    def start(self, i: int, command: Any) -> tuple[int, int, bool]:
        """Ask server ``i`` to propose ``command``: its ``(index, term, is_leader)``."""
        node = self._node(i)
        if not node.alive:
            self.fail(f"start({i}, {_short.repr(command)}): server {i} is crashed")

        def propose(handler: Any, ctx: Any) -> tuple[int, int, bool]:
            try:
                return handler.start(ctx, command)
            except Exception as exc:
                self.fail(f"start({i}, {_short.repr(command)}) raised {type(exc).__name__}: {exc}")

        with self._guard():
            result = self.sim.call_handler(node.name, propose)
        return result

    def n_committed(self, index: int) -> tuple[int, Any]:
        """How many servers applied ``index``, and the command (they must all agree)."""
        count, command = 0, None
        for i in range(self.n):
            if index in self.logs[i]:
                if count > 0 and self.logs[i][index] != command:
                    self.fail(
                        f"committed values do not match: index {index}, "
                        f"{_short.repr(command)} != {_short.repr(self.logs[i][index])}"
                    )
                count, command = count + 1, self.logs[i][index]
        return count, command

    # -- time ------------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.sim.now

    def _settle(self) -> None:
        self.sim.settle()

    def sleep(self, ms: float) -> None:
        """Let ``ms`` of simulated time pass."""
        check_number("ms", ms, min=0)
        with self._guard():
            self.sim.run(until=self.sim.now + ms)

    def sleep_gen(self, ms: float) -> simpy.Timeout:
        """``yield h.sleep_gen(ms)`` inside a process started with :meth:`go`."""
        return self.sim.sleep(ms)

    def go(self, generator: Generator[Any, Any, Any]) -> simpy.Process:
        """Run ``generator`` concurrently (like a goroutine); wait for it with :meth:`join`."""
        return self.sim.process(generator)

    def join(self, *processes: simpy.Process) -> list[Any]:
        """Run the world until every process has finished; their return values."""
        with self._guard():
            self.sim.run(until=self.sim.env.all_of(processes))
        return [p.value for p in processes]

    def _drive(self, generator: Generator[Any, Any, Any]) -> Any:
        return self.join(self.go(generator))[0]

    # -- checks ----------------------------------------------------------------------------------
    def check_one_leader(self) -> int:
        """Wait (up to ~5 s) until exactly one connected server leads the latest term; return it."""
        return self._drive(self.check_one_leader_gen())

    def check_one_leader_gen(self) -> Generator[Any, Any, int]:
        for _ in range(10):
            yield self.sim.sleep(450 + self.rng.randrange(100))
            leaders: dict[int, list[int]] = {}
            for i in self._up_and_connected():
                term, is_leader = self.get_state(i)
                if is_leader:
                    leaders.setdefault(term, []).append(i)
            for term, ids in sorted(leaders.items()):
                if len(ids) > 1:
                    self.fail(f"term {term} has {len(ids)} (>1) leaders: servers {ids}")
            if leaders:
                return leaders[max(leaders)][0]
        self.fail("expected one leader, got none")

    def check_terms(self) -> int:
        """All connected servers agree on the term; return it (-1 if none is connected)."""
        term = -1
        for i in self._up_and_connected():
            t, _ = self.get_state(i)
            if term == -1:
                term = t
            elif t != term:
                self.fail(f"servers disagree on term: {term} and {t} (server {i})")
        return term

    def check_no_leader(self) -> None:
        for i in self._up_and_connected():
            _, is_leader = self.get_state(i)
            if is_leader:
                self.fail(f"expected no leader among connected servers, but server {i} claims one")

    def one(self, command: Any, expected_servers: int, retry: bool) -> int:
        """Get ``command`` committed by at least ``expected_servers`` servers; return its index.

        Like 6.5840's ``one``: for up to 10 s of simulated time, offer the command to each
        connected server in turn until one accepts as leader, then wait up to 2 s for enough
        servers to apply it. If they apply something else there, try again if ``retry``, else
        fail.
        """
        return self._drive(self.one_gen(command, expected_servers, retry))

    def one_gen(self, command: Any, expected_servers: int, retry: bool) -> Generator:
        """The generator behind :meth:`one` (``yield from`` it in a :meth:`go` process)."""
        t0 = self.sim.now
        server = 0
        while self.sim.now - t0 < 10_000:
            index = -1
            for _ in range(self.n):
                server = (server + 1) % self.n
                if self.connected[server] and self.is_up(server):
                    i, _, ok = self.start(server, command)
                    if ok:
                        index = i
                        break
            if index != -1:
                t1 = self.sim.now
                while self.sim.now - t1 < 2000:
                    count, got = self.n_committed(index)
                    if count > 0 and count >= expected_servers and got == command:
                        return index
                    yield self.sim.sleep(20)
                if not retry:
                    self.fail(f"one({_short.repr(command)}) failed to reach agreement")
            else:
                yield self.sim.sleep(50)
        self.fail(f"one({_short.repr(command)}) failed to reach agreement in 10 s")

    def wait(self, index: int, n: int, start_term: int) -> Any:
        """Wait (up to ~10 s) until ``n`` servers applied ``index``; return the command.

        Returns -1 early if some server moved past ``start_term`` (unless it is -1): a new
        leader may legitimately have replaced the entry.
        """
        return self._drive(self.wait_gen(index, n, start_term))

    def wait_gen(self, index: int, n: int, start_term: int) -> Generator:
        pause = 10.0
        for _ in range(30):
            count, _ = self.n_committed(index)
            if count >= n:
                break
            yield self.sim.sleep(pause)
            pause = min(pause * 2, 1000.0)
            if start_term > -1:
                for i in range(self.n):
                    if self.is_up(i) and self.get_state(i)[0] > start_term:
                        return -1
        count, command = self.n_committed(index)
        if count < n:
            self.fail(f"only {count} decided for index {index}; wanted {n}")
        return command

    def check_safety(self) -> None:
        """Election Safety (one leader per term) and Log Matching, over the run so far."""
        problem = election_safety(self.sim.history) or log_matching(server_logs(self.sim))
        if problem:
            self.fail(problem)

    # -- faults ----------------------------------------------------------------------------------
    def disconnect(self, i: int) -> None:
        """Cut server ``i`` off the network (it keeps running)."""
        self._node(i)
        self.connected[i] = False
        self.sim.isolate(self.names[i])

    def connect(self, i: int) -> None:
        self._node(i)
        self.connected[i] = True
        self.sim.reconnect(self.names[i])

    def crash(self, i: int) -> None:
        """Disconnect and crash server ``i``; its durable storage survives (6.5840's crash1)."""
        self.disconnect(i)
        if self.is_up(i):
            self.sim.crash(self.names[i])

    def restart(self, i: int) -> None:
        """Crash server ``i`` if it is up, then boot a fresh one on its storage (6.5840's start1).

        Like start1, it stays disconnected until :meth:`connect`.
        """
        self.crash(i)
        self.last_applied[i] = 0  # a rebooted server applies again from its snapshot on
        with self._guard():
            self.sim.restart(self.names[i])

    def set_reliable(self, reliable: bool) -> None:
        check_type("reliable", reliable, bool)
        self.reliable = reliable

    def set_long_reordering(self, flag: bool) -> None:
        """If set, each reply is held back 200-2200 ms with probability 2/3."""
        check_type("flag", flag, bool)
        self.long_reordering = flag

    def _shape_traffic(self, src: str, dst: str, msg: Any, rng: Any) -> Any:
        delay = 0.0
        if not self.reliable:
            if rng.random() < 0.1:
                return DROP
            delay += rng.uniform(0.0, 27.0)
        if self.long_reordering and is_reply(msg) and rng.random() < 2 / 3:
            delay += 200 + rng.randint(0, rng.randint(0, 2000))
        return delay or None

    # -- measurements (from the network's journal of every message) ------------------------------
    def _requests_to_servers(self) -> Iterator[Any]:
        for rec in self.sim.history.messages:
            if rec.dst in self._index_of and not is_reply_type(rec.type):
                yield rec

    def rpc_count(self, i: int | None = None) -> int:
        """Requests (not replies) delivered to server ``i`` so far, or to any server."""
        if i is not None:
            self._check_index(i)
        return sum(
            1
            for rec in self._requests_to_servers()
            if rec.status == "delivered" and (i is None or rec.dst == self.names[i])
        )

    def bytes_total(self) -> int:
        """Bytes of every request sent to a server so far (sizes as ``dslab.sim.message_size``)."""
        return sum(rec.size for rec in self._requests_to_servers())

    def persisted_size(self, i: int) -> int:
        """Bytes of server ``i``'s persisted Raft state: storage minus the snapshot."""
        storage = self._node(i).storage
        return sum(len(repr(storage[k])) for k in storage if "snapshot" not in k)

    def log_size(self) -> int:
        """The largest :meth:`persisted_size` over all servers (6.5840's LogSize)."""
        return max(self.persisted_size(i) for i in range(self.n))


def _observed(node_cls: type, harness: Harness) -> type:
    """A subclass of ``node_cls`` that reports applies and restored snapshots to ``harness``."""

    class Observed(node_cls):  # type: ignore[misc, valid-type]
        _harness_server = -1

        def apply(self, ctx: Any, index: int, command: Any) -> None:
            harness._on_apply(self._harness_server, index, command)
            super().apply(ctx, index, command)
            if harness.snapshot and index % SNAPSHOT_INTERVAL == 0:
                self.snapshot(ctx, index, harness._snapshot_data(self._harness_server, index))

        def restore_snapshot(self, data: Any) -> None:
            harness._on_restore(self._harness_server, data)
            super().restore_snapshot(data)

    Observed.__name__ = Observed.__qualname__ = node_cls.__name__
    return Observed
