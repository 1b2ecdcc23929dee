"""The scenario layer every topic shares: clients, builders, one result type, one sweep.

A *scenario* is a script run in a :class:`~dslab.sim.Sim`: build a cluster, start client and
nemesis processes, run, and hand back what happened. Every topic writes its scenarios with the
same few pieces, so a notebook, a test and the grader (:mod:`dslab.grade`) read them alike.

Rules (the vocabulary):

1. **Seed first.** A scenario function is ``scenario(seed, *, n=..., node_cls=..., ...)``: the
   seed is its first parameter, ``n`` the cluster size, every time parameter ends in ``_ms``.
2. **One builder convention.** ``build(sim, n=3, node_cls=SomeHandler, **kwargs) -> names``
   adds ``n`` server nodes running ``node_cls`` and returns their names. Any server role can thus
   be swapped for a student's class (:func:`build_nodes` is the default builder).
3. **Node names.** Servers are ``n1 .. nN`` (:func:`node_names`) and clients ``c1 .. cK``
   (:func:`client_names`). (Raft keeps its paper's ``s0 ..`` / ``s1 ..`` names: renaming them
   would change every recorded Raft history.)
4. **One client operation.** :func:`operation` is invoke, call and complete in one: it records
   a Jepsen operation in the history and returns the :class:`~dslab.sim.RpcResult`.
   :func:`call_any` tries servers in turn (failover) until one answers definitely.
5. **Client faults.** :class:`ClientFaults` pauses a client (it invokes nothing while paused, like
   a client process stopped by a GC) or crashes it (it invokes nothing more; an operation in
   flight stays incomplete, which a checker treats as indefinite).
6. **One result type.** :class:`Result` holds ``frame`` (a DataFrame), ``history``, ``seed`` and
   ``metadata`` (a dict of whatever else the run measured). Nothing travels in ``df.attrs``
   except ``attrs["seed"]``, kept for plots that title themselves. ``frame, history = result``
   still unpacks, so older callers keep working.
7. **One sweep.** :func:`sweep` runs a scenario for each seed and collects one row per seed;
   ``progress=True`` shows a tqdm bar (off by default, so notebooks stay deterministic).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_number, check_seed, check_type
from dslab.core import Handler
from dslab.history import History
from dslab.sim.world import Client, RpcResult, Sim

__all__ = [
    "ClientFaults",
    "Result",
    "build_nodes",
    "call_any",
    "check_node_cls",
    "check_seeds",
    "client_names",
    "frame",
    "node_names",
    "operation",
    "sweep",
]


# -- names -----------------------------------------------------------------------------------------
def node_names(n: int, prefix: str = "n") -> list[str]:
    """``["n1", ..., "nN"]``: the server names every topic uses."""
    check_number("n", n, min=1, integer=True)
    check_type("prefix", prefix, str)
    return [f"{prefix}{i}" for i in range(1, n + 1)]


def client_names(k: int) -> list[str]:
    """``["c1", ..., "cK"]``."""
    return node_names(k, prefix="c")


# -- builders --------------------------------------------------------------------------------------
def check_node_cls(node_cls: Any, name: str = "node_cls", base: type = Handler) -> type:
    """``node_cls`` if it is a class deriving from ``base``, else a TypeError naming it."""
    if not (isinstance(node_cls, type) and issubclass(node_cls, base)):
        raise TypeError(
            f"{name}={node_cls!r} must be a subclass of {base.__module__}.{base.__qualname__}"
        )
    return node_cls


def build_nodes(
    sim: Sim,
    n: int = 3,
    node_cls: type = Handler,
    *,
    names: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[str]:
    """Add ``n`` nodes running ``node_cls(**kwargs)`` (a fresh object per boot) and return their
    names (``names`` if given, else :func:`node_names`). The builder convention of rule 2."""
    check_type("sim", sim, Sim)
    check_node_cls(node_cls)
    names = list(names) if names is not None else node_names(n)
    if len(names) != n:
        raise ValueError(f"names={names!r} has {len(names)} names; n={n} needs exactly n")
    for name in names:
        sim.add_node(name, lambda: node_cls(**kwargs))
    return names


# -- client operations ---------------------------------------------------------------------------
def operation(
    client: Client,
    dst: str,
    f: str,
    body: Any,
    *,
    timeout_ms: float,
    value: Any = None,
    result_value: Callable[[RpcResult], Any] | None = None,
) -> Generator[Any, Any, RpcResult]:
    """Invoke ``f`` (recording ``value``), call ``dst`` with ``body``, complete the operation.

    The completion records ``value`` if it is not None (a write completes with what it wrote),
    else the reply's value, or ``result_value(result)`` if given. Use inside a process::

        result = yield from operation(client, "n1", "write", Write(3), value=3, timeout_ms=100)
    """
    check_type("client", client, Client)
    check_type("f", f, str)
    call = client.call(dst, body, timeout_ms=timeout_ms)  # validates dst and timeout_ms now
    return _operation(client, call, f, value, result_value)


def _operation(
    client: Client, call: Generator[Any, Any, RpcResult], f: str, value: Any,
    result_value: Callable[[RpcResult], Any] | None,
) -> Generator[Any, Any, RpcResult]:
    op = client.invoke(f, value)
    result = yield from call
    done = result_value(result) if result_value is not None else value
    client.complete(op, result, value=done)
    return result


def call_any(
    client: Client,
    servers: Sequence[str],
    body: Any,
    *,
    timeout_ms: float,
    start: int = 0,
    attempts: int | None = None,
    retry_errors: Iterable[str] = ("not_leader",),
) -> Generator[Any, Any, tuple[RpcResult, str]]:
    """Call ``servers`` in turn, from ``servers[start]``, until one answers; ``(result, server)``.

    A timeout (``info``) or a definite failure whose error is in ``retry_errors`` moves on to the
    next server, at most ``attempts`` calls in all (default: each server once). The last result is
    returned if nobody answered: an ``info`` if any attempt timed out (it may have happened),
    else the last definite failure.
    """
    servers = list(servers)
    if not servers:
        raise ValueError("servers=[] is not allowed; give call_any at least one server")
    check_number("start", start, min=0, max=len(servers) - 1, integer=True)
    attempts = len(servers) if attempts is None else attempts
    check_number("attempts", attempts, min=1, integer=True)
    retry = frozenset(retry_errors)
    check_type("client", client, Client)
    check_number("timeout_ms", timeout_ms, min=0, min_inclusive=False)
    for i, name in enumerate(servers):
        client.sim._check_node(f"servers[{i}]", name)
    return _call_any(client, servers, body, timeout_ms, start, attempts, retry)


def _call_any(
    client: Client, servers: list[str], body: Any, timeout_ms: float, start: int, attempts: int,
    retry: frozenset[str],
) -> Generator[Any, Any, tuple[RpcResult, str]]:
    maybe = False
    result: RpcResult | None = None
    server = servers[start]
    for i in range(attempts):
        server = servers[(start + i) % len(servers)]
        result = yield from client.call(server, body, timeout_ms=timeout_ms)
        if result.type == "ok" or (result.type == "fail" and result.error not in retry):
            return result, server
        maybe = maybe or result.type == "info"
    assert result is not None
    if maybe and result.type != "info":
        result = RpcResult("info", None, "timeout", result.latency_ms)
    return result, server


class ClientFaults:
    """Pause or crash the client processes of a scenario (rule 5).

    A workload asks ``yield from faults.ready(client)`` before each operation: it waits out a
    pause and returns False once the client has crashed (the workload then stops). The faults are
    recorded in the history like any other (``client_pause``, ``client_crash``).
    """

    def __init__(self, sim: Sim) -> None:
        check_type("sim", sim, Sim)
        self.sim = sim
        self.paused_until: dict[str, float] = {}
        self.crashed: set[str] = set()

    def _check_client(self, client: str) -> None:
        if client not in self.sim.clients:
            raise ValueError(f"client={client!r} is not a client of this sim; known clients: "
                             f"{sorted(self.sim.clients)}")

    def pause(self, client: str, duration_ms: float, *, at: float | None = None) -> None:
        """Stop ``client`` from invoking anything for ``duration_ms``."""
        self._check_client(client)
        check_number("duration_ms", duration_ms, min=0)

        def action() -> None:
            until = self.sim.now + duration_ms
            self.paused_until[client] = max(self.paused_until.get(client, 0.0), until)

        self.sim._fault(at, "client_pause", {"client": client, "duration_ms": duration_ms},
                        action)

    def crash(self, client: str, *, at: float | None = None) -> None:
        """``client`` invokes nothing more; what it has in flight never completes."""
        self._check_client(client)
        self.sim._fault(at, "client_crash", {"client": client},
                        lambda: self.crashed.add(client))

    def alive(self, client: Client | str) -> bool:
        name = client.name if isinstance(client, Client) else client
        return name not in self.crashed

    def ready(self, client: Client) -> Generator[Any, Any, bool]:
        """Wait while ``client`` is paused; True if it may invoke now, False if it crashed."""
        while self.alive(client) and self.paused_until.get(client.name, 0.0) > self.sim.now:
            yield self.sim.sleep(self.paused_until[client.name] - self.sim.now)
        return self.alive(client)


# -- results ---------------------------------------------------------------------------------------
def frame(rows: Any, seed: Any, columns: list[str] | None = None) -> pd.DataFrame:
    """A DataFrame of ``rows`` with ``attrs["seed"]`` set (the only attr: plots read it)."""
    df = pd.DataFrame(rows, columns=columns)
    df.attrs["seed"] = seed
    return df


@dataclass
class Result:
    """What one scenario run returns (rule 6).

    ``frame``: the run's table; ``history``: everything observable (None for runs that have no
    simulation, such as a latency sampler); ``seed``: the run's seed; ``metadata``: anything else
    measured (faults injected, counters, configuration). ``frame, history = result`` unpacks.
    """

    frame: pd.DataFrame
    history: History | None
    seed: Any
    metadata: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.frame, self.history))

    def __getitem__(self, i: int) -> Any:
        """``result[0]`` is the frame and ``result[1]`` the history, as in a ``(df, history)``
        pair (the older return convention)."""
        return (self.frame, self.history)[i]

    def __len__(self) -> int:
        return 2

    def __repr__(self) -> str:
        n = 0 if self.history is None else len(self.history.to_records())
        meta = ", ".join(sorted(self.metadata))
        return (f"Result(seed={self.seed}, rows={len(self.frame)}, history_records={n}, "
                f"metadata=[{meta}])")


# -- sweeps ----------------------------------------------------------------------------------------

def as_tables(scenario: Callable[..., Result], *extra: str) -> Callable[..., Any]:
    """A facade for notebooks: ``scenario`` returning ``result.frame`` (and, after it,
    ``result.metadata[k]`` for each key in ``extra``), the tables a chapter has always read."""

    @functools.wraps(scenario)
    def run(*args: Any, **kwargs: Any) -> Any:
        result = scenario(*args, **kwargs)
        if not extra:
            return result.frame
        return (result.frame, *(result.metadata[k] for k in extra))

    return run


def check_seeds(seeds: Any) -> list[int]:
    """``seeds`` as a list of valid seeds (an iterable such as ``range(100)``)."""
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds={seeds!r} must be an iterable of seeds, e.g. range(100)")
    return [check_seed(s) for s in seeds]


def sweep(
    run: Callable[[int], dict[str, Any]],
    seeds: Any = range(10),
    *,
    progress: bool = False,
    desc: str = "seeds",
) -> pd.DataFrame:
    """Call ``run(seed)`` for each seed; each call returns a dict (one row). Returns the rows as a
    DataFrame with ``seed`` as its first column (rule 7)."""
    if not callable(run):
        raise TypeError(f"run={run!r} must be callable as run(seed) -> dict")
    check_type("progress", progress, bool)
    seeds = check_seeds(seeds)
    rows = []
    for seed in tqdm(seeds, disable=not progress, desc=desc):
        row = run(seed)
        if not isinstance(row, dict):
            raise TypeError(f"run({seed}) returned {row!r}; expected a dict (one row)")
        rows.append({"seed": seed, **{k: v for k, v in row.items() if k != "seed"}})
    columns = list(rows[0]) if rows else ["seed"]
    return frame(rows, seeds[0] if seeds else None, columns)
