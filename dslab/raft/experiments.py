"""The Raft chapter's scenarios. Each validates its arguments, runs seeded simulations of the
package's :class:`~dslab.raft.node.RaftNode` (or its :class:`~dslab.raft.kv.KVServer`) and returns
a pandas DataFrame, or a :class:`~dslab.sim.scenario.Result` (frame, history, seed, metadata)
where there is one run. The analysis of what they return (who led each term, Figure 16's
statistics) is in :mod:`dslab.raft.analysis`, and the command-log server they drive in
:mod:`dslab.raft.commandlog`; their names stay importable from here.

1. :func:`election_downtime` -- Figure 16 of the extended Raft paper (§9.3): how long a 5-server
   cluster is without a leader after the leader crashes, for several election-timeout ranges,
   beside the numbers the paper's text quotes (:data:`PAPER_FIG16`). One trial is
   :func:`downtime_trial`, replayable on its own from its ``trial_seed``.
2. :func:`role_timeline_run` -- five servers through leader crashes and partitions (a scripted
   nemesis); the history feeds :func:`dslab.viz.role_timeline`; plus who led each term.
3. :func:`log_matrix` and :func:`figure8_replay` -- every server's log at chosen moments, and the
   paper's Figure 8 driven on a live cluster: an entry of an old term stored on a majority is not
   committed by counting replicas, and can be overwritten; one of the leader's own term can't.
4. :func:`kv_under_faults` -- the linearizable key-value service under a nemesis.
5. :func:`kv_throughput` -- throughput and latency of the service as clients are added.
6. :class:`Stepper` -- a 3-server cluster driven one observable event at a time, for reading an
   election message by message.

Modelling choices made here (not published numbers): the network's one-way latency and the cost
of a disk write in the Figure 16 set-up (:data:`FIG16_LATENCY`, :data:`FIG16_DISK_MS`), and the
per-message service time of a server in :func:`kv_throughput`. Each is stated where it is used.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from dslab._validate import check_number, check_seed, check_type
from dslab.history import DST, REASON, RECV_TIME, SEND_TIME, SRC, STATUS, TYPE, History

# The analysis lives in dslab.raft.analysis; its names stay importable from here.
from dslab.raft.analysis import PAPER_FIG16 as PAPER_FIG16
from dslab.raft.analysis import PAPER_TRIALS as PAPER_TRIALS
from dslab.raft.analysis import current_leader as current_leader
from dslab.raft.analysis import describe_message as describe_message
from dslab.raft.analysis import downtime_summary as downtime_summary
from dslab.raft.analysis import figure16_table as figure16_table
from dslab.raft.analysis import leaders_per_term as leaders_per_term
from dslab.raft.analysis import role_events
from dslab.raft.commandlog import CommandLog
from dslab.raft.config import RaftConfig
from dslab.raft.kv import Clerk, KVServer
from dslab.raft.log import RaftLog
from dslab.raft.messages import Entry, is_reply
from dslab.raft.node import LEADER, RaftNode
from dslab.raft.persist import Persister
from dslab.raft.safety import election_safety, log_matching, server_logs
from dslab.raft.workload import run_kv
from dslab.sim import Constant, Latency, Sim, Uniform, as_latency, message_type
from dslab.sim.rng import derive_seed
from dslab.sim.scenario import Result


# ================================================================================================
# Shared helpers
# ================================================================================================
def _frame(rows: Any, seed: Any, columns: list[str] | None = None) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    df.attrs["seed"] = seed
    return df


def server_names(n: int) -> list[str]:
    """``["s1", ..., "sn"]``: the paper numbers its servers from 1 (Figure 8's S1..S5)."""
    return [f"s{i}" for i in range(1, n + 1)]


def _check_servers(name: str, n: Any, minimum: int = 1) -> int:
    check_number(name, n, min=minimum, max=15, integer=True)
    return n


def _fmt_range(lo: float, hi: float) -> str:
    return f"{lo:g}-{hi:g} ms"


# ================================================================================================
# 1. Figure 16: time to detect and replace a crashed leader
# ================================================================================================
#: Figure 16's panels: election-timeout ranges (min, max) in ms.
FIG16_TOP: tuple[tuple[float, float], ...] = (
    (150, 150), (150, 151), (150, 155), (150, 175), (150, 200), (150, 300),
)  # fmt: skip
FIG16_BOTTOM: tuple[tuple[float, float], ...] = (
    (12, 24), (25, 50), (50, 100), (100, 200), (150, 300),
)  # fmt: skip
#: One-way network latency of the Figure 16 set-up (chosen here: the paper gives only the
#: broadcast time, about 15 ms, "network round trip plus a disk write").
FIG16_LATENCY = Uniform(2.0, 4.0)
#: A disk write before every reply (chosen here): a server persists its vote, term or entries
#: before answering, modelled as this much extra delay on each reply. With the latency above, a
#: request and its reply take 3 + 9 + 3 = 15 ms on average: the paper's broadcast time.
FIG16_DISK_MS = 9.0
#: Network latency of the other experiments' clusters (one way).
SCRIPT_LATENCY = Uniform(1.0, 3.0)
TIMELINE_LATENCY = Uniform(1.0, 5.0)
def _check_range(name: str, rng: Any) -> tuple[float, float]:
    if isinstance(rng, (str, bytes)) or not isinstance(rng, Sequence) or len(rng) != 2:
        raise TypeError(f"{name}={rng!r} must be a pair (min_ms, max_ms)")
    lo = check_number(f"{name}[0]", rng[0], min=0, min_inclusive=False)
    hi = check_number(f"{name}[1]", rng[1], min=lo)
    return float(lo), float(hi)


def trial_seed(seed: int, timeouts: tuple[float, float], trial: int, servers: int = 5) -> int:
    """The seed of one Figure 16 trial, derived from the sweep's ``seed``, the range and the
    trial number: any trial can be replayed alone with :func:`downtime_trial`."""
    lo, hi = timeouts
    return derive_seed(seed, f"raft/fig16/{lo:g}-{hi:g}/n{servers}/trial{trial}")


def _preload(sim: Sim, name: str, entries: Sequence[Entry], term: int) -> None:
    """Write a server's durable Raft state before it boots (what a previous run left on disk)."""
    disk = Persister(sim.nodes[name].storage)
    disk.save_term_and_vote(term, None)
    log = RaftLog(entries=entries)
    disk.save_entries(log, 1)


def _append_entries_sends(history: History, src: str, since: float) -> list[list[Any]]:
    """Journal rows of AppendEntries that ``src`` sent at or after ``since`` (send order)."""
    rows = history.message_rows
    out = []
    for row in reversed(rows):
        if row[SEND_TIME] < since:
            break
        if row[SRC] == src and row[TYPE] == "AppendEntries":
            out.append(row)
    out.reverse()
    return out


def _heard_by_all(
    history: History, crash_ms: float, survivors: Sequence[str]
) -> tuple[float, str, int] | None:
    """When every survivor had received an AppendEntries from one leader elected after the crash:
    ``(time, leader, term)`` for the earliest such leader, or None (read from the role events and
    the message journal only)."""
    events = [ev for ev in role_events(history) if ev[0] >= crash_ms]
    best: tuple[float, str, int] | None = None
    for i, (t, node, role, term) in enumerate(events):
        if role != LEADER:
            continue
        # its leadership lasts until its next role event (stepping down), if any
        end = next((e[0] for e in events[i + 1 :] if e[1] == node), math.inf)
        first: dict[str, float] = {}
        for row in _append_entries_sends(history, node, t):
            if row[SEND_TIME] > end:
                break
            if row[STATUS] == "delivered" and row[DST] not in first:
                first[row[DST]] = row[RECV_TIME]
        others = [s for s in survivors if s != node]
        if all(s in first for s in others):
            heard = max(first[s] for s in others)
            if best is None or heard < best[0]:
                best = (heard, node, term)
    return best


def downtime_trial(
    timeouts: tuple[float, float],
    trial_seed: int,
    *,
    servers: int = 5,
    latency: Latency | float = FIG16_LATENCY,
    disk_ms: float = FIG16_DISK_MS,
    cap_ms: float = 10_000.0,
    lagging: int | None = None,
    history: bool = False,
) -> dict[str, Any] | tuple[dict[str, Any], History]:
    """One trial of Figure 16: crash a leader, time until its successor is heard by everyone.

    Set-up (``servers`` = 5 as in the paper; ``s1`` .. ``s5``):

    - Before boot, each server's disk holds term 1. The first ``servers - lagging`` servers also
      hold one entry of term 1 that the last ``lagging`` servers lack (default ``(servers - 1) //
      2``, the most that still leaves a majority up to date; for 5 servers: s4 and s5). Lacking
      the last entry, those can never win an election (§5.4.1).
    - ``s1`` boots half a minimum timeout before the others, so that even with no randomness
      (150-150 ms) the first election has a single candidate.
    - Until the crash, whatever the lagging servers send is lost (a one-way partition): they hear
      the leader's heartbeats, which reset their election timers, but their refusals never reach
      it, so it never sends them the missing entry.
    - Once a leader has sent two heartbeats, the trial waits for its next broadcast to every
      follower (the synchronized heartbeat) and crashes it at a moment drawn uniformly within the
      heartbeat interval that follows (the ``phase``); the one-way partition heals at that moment.
    - Heartbeat interval: half the minimum election timeout. Network: ``latency`` one way, and
      ``disk_ms`` on every reply (see :data:`FIG16_DISK_MS`).

    Measured from the history only (role events and the message journal): the time from the crash
    until every surviving server has received an AppendEntries from one leader elected after the
    crash. A trial with no such moment within ``cap_ms`` is ``capped`` (its ``downtime_ms`` is the
    cap, a lower bound). If no leader ever lasts two heartbeats before the crash (timeouts too
    short for the network), there is nothing to crash: the trial is capped with ``stable=False``.
    """
    lo, hi = _check_range("timeouts", timeouts)
    check_number("trial_seed", trial_seed, min=0, integer=True)
    _check_servers("servers", servers, minimum=3)
    latency = as_latency(latency)
    check_number("disk_ms", disk_ms, min=0)
    check_number("cap_ms", cap_ms, min=0, min_inclusive=False)
    check_type("history", history, bool)
    most = (servers - 1) // 2
    lag = most if lagging is None else check_number("lagging", lagging, min=0, max=most,
                                                    integer=True)
    hb = lo / 2
    config = RaftConfig(lo, hi, hb)
    names = server_names(servers)
    behind, current = names[servers - lag :], names[: servers - lag]

    sim = Sim(seed=trial_seed, latency=latency)
    if disk_ms:
        sim.net.add_interceptor(lambda src, dst, msg, rng: disk_ms if is_reply(msg) else None)

    def add(name: str) -> None:
        sim.add_node(name, lambda: RaftNode(config, peers=names))
        _preload(sim, name, [] if name in behind else [Entry(1, "e1")], term=1)

    add(names[0])
    sim.run(until=lo / 2)  # s1 boots first; nobody sends anything before its timer fires
    for name in names[1:]:
        add(name)
    if behind:
        sim.partition_oneway(behind, current)

    # Wait for a leader that has sent two heartbeats.
    deadline = sim.now + 20 * hi + 500.0
    row = {
        "timeouts": _fmt_range(lo, hi), "timeout_min_ms": lo, "timeout_max_ms": hi,
        "servers": servers, "lagging": lag, "trial_seed": trial_seed,
    }  # fmt: skip
    while True:
        sim.run(until=sim.now + hb)
        leader, term, since = current_leader(sim.history)
        if leader is not None and sim.now - since >= 2 * hb:
            break
        if sim.now > deadline:  # timeouts too short for this network: no leader lasts
            row.update(old_leader=None, old_term=None, phase_ms=math.nan, new_leader=None,
                       new_term=None, downtime_ms=cap_ms, capped=True, cap_ms=cap_ms,
                       stable=False)
            return (row, sim.history) if history else row
    # Run just past the leader's next heartbeat broadcast, read its time from the journal.
    k = math.floor((sim.now - since) / hb) + 1
    sim.run(until=since + k * hb + 1e-6)
    sync_ms = max(row[SEND_TIME] for row in _append_entries_sends(sim.history, leader, since))
    phase = sim.stream("fig16/crash").uniform(0.0, hb)
    crash_ms = max(sim.now, sync_ms + phase)
    sim.crash(leader, at=crash_ms)
    sim.heal(at=crash_ms)
    survivors = [n for n in names if n != leader]
    sim.run(until=crash_ms)

    end = crash_ms + cap_ms
    chunk = max(2 * hi, 4 * hb, 50.0)
    found = None
    while sim.now < end:
        sim.run(until=min(end, sim.now + chunk))
        found = _heard_by_all(sim.history, crash_ms, survivors)
        if found is not None and found[0] - crash_ms <= cap_ms:
            break
        found = None
    row.update(
        old_leader=leader, old_term=term, phase_ms=crash_ms - sync_ms,
        new_leader=found[1] if found else None, new_term=found[2] if found else None,
        downtime_ms=(found[0] - crash_ms) if found else cap_ms, capped=found is None,
        cap_ms=cap_ms, stable=True,
    )  # fmt: skip
    return (row, sim.history) if history else row


def election_downtime(
    timeout_range_ms: Iterable[tuple[float, float]] = FIG16_TOP,
    trials: int | Mapping[tuple[float, float], int] = 100,
    seed: int = 0,
    *,
    servers: int = 5,
    latency: Latency | float = FIG16_LATENCY,
    disk_ms: float = FIG16_DISK_MS,
    cap_ms: float = 10_000.0,
    lagging: int | None = None,
    progress: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Figure 16: :func:`downtime_trial` ``trials`` times for each election-timeout range.

    ``trials`` is a number, or a ``{(min, max): number}`` mapping (the paper ran 100 trials of
    150-150 and 1000 of every other range). Each trial is an independent small simulation whose
    seed comes from ``(seed, range, trial)`` (:func:`trial_seed`). ``lagging``: how many servers
    lack the last entry (default: as many as leave a majority up to date, 2 of 5).

    Returns ``(trials_df, summary)``: one row per trial (see :func:`downtime_trial`), and one row
    per range with our median, mean and maximum (``inf`` where capped trials decide them; the
    ``*_text`` columns print them as "> cap") beside what the paper's text quotes.
    """
    check_seed(seed)
    check_type("progress", progress, bool)
    if isinstance(timeout_range_ms, (str, bytes)) or not isinstance(timeout_range_ms, Iterable):
        raise TypeError(f"timeout_range_ms={timeout_range_ms!r} must be a list of (min, max) pairs")
    ranges = [
        _check_range(f"timeout_range_ms[{i}]", r) for i, r in enumerate(timeout_range_ms)
    ]
    if not ranges:
        raise ValueError("timeout_range_ms=[] is not allowed; give at least one (min, max) pair")
    counts: dict[tuple[float, float], int] = {}
    for r in ranges:
        n = trials.get(r) if isinstance(trials, Mapping) else trials  # (150, 150) == (150.0, 150.0)
        if n is None:
            raise ValueError(f"trials={trials!r} has no entry for the range {r}")
        counts[r] = int(check_number(f"trials[{r}]" if isinstance(trials, Mapping) else "trials",
                                     n, min=1, integer=True))
    _check_servers("servers", servers, minimum=3)
    check_number("cap_ms", cap_ms, min=0, min_inclusive=False)
    jobs = [(r, t) for r in ranges for t in range(counts[r])]
    rows = []
    for r, t in tqdm(jobs, disable=not progress, desc="Figure 16 trials"):
        row = downtime_trial(
            r, trial_seed(seed, r, t, servers), servers=servers, latency=latency,
            disk_ms=disk_ms, cap_ms=cap_ms, lagging=lagging,
        )
        rows.append({"trial": t, **row})
    df = _frame(rows, seed)
    return df, downtime_summary(df)


# ================================================================================================
# 3. Logs as a matrix, and the paper's Figure 8 replayed
# ================================================================================================
LOG_MATRIX_COLUMNS = [
    "moment", "time_ms", "node", "alive", "role", "current_term", "commit_index", "last_index",
    "index", "term", "command", "committed",
]  # fmt: skip


def log_matrix(sim: Sim, moment: str = "") -> pd.DataFrame:
    """Every server's log now: one row per (server, log index), and one row with ``index`` 0 for
    a server whose log is empty (so that every server appears).

    ``role``, ``current_term`` and ``commit_index`` come from the live server (``"down"``, its
    persisted term and ``None`` for a crashed one); the log from
    :func:`dslab.raft.safety.server_logs` (a crashed server's log is read back from its disk).
    ``committed``: the entry's index is at most that server's commit index (what that server
    knows, which may lag the leader's).
    """
    check_type("sim", sim, Sim)
    check_type("moment", moment, str)
    logs = server_logs(sim)
    rows = []
    for name in sim.node_names:
        handler = sim.handler(name)
        log = logs.get(name, RaftLog())
        if handler is not None:
            role, term = handler.role, handler.current_term
            commit: int | None = handler.commit_index
        else:
            role, commit = "down", None
            term = Persister(sim.nodes[name].storage).load().current_term
        base = {
            "moment": moment, "time_ms": sim.now, "node": name, "alive": handler is not None,
            "role": role, "current_term": term, "commit_index": commit,
            "last_index": log.last_index,
        }  # fmt: skip
        if log.last_index == log.snapshot_index:
            rows.append({**base, "index": 0, "term": 0, "command": None, "committed": False})
        for index in range(log.snapshot_index + 1, log.last_index + 1):
            e = log.entry(index)
            done = commit is not None and index <= commit
            rows.append({**base, "index": index, "term": e.term, "command": e.command,
                         "committed": done})
    df = _frame(rows, sim.seed, LOG_MATRIX_COLUMNS)
    df["commit_index"] = df["commit_index"].astype("Int64")
    return df


#: Election timeouts the Figure 8 script gives a server it wants to stand for election, and one
#: it wants to stay quiet (longer than any step of the script).
STEER_FAST = (150.0, 150.0)
STEER_QUIET = (10_000.0, 10_000.0)


class _Script:
    """A small director for scripted runs of :class:`CommandLog` servers: wait for a leader,
    propose a command, steer who times out next. Every wait is in simulated time."""

    def __init__(
        self, seed: int, n: int = 5, latency: Latency | float = SCRIPT_LATENCY,
        config: RaftConfig | None = None,
    ) -> None:  # fmt: skip
        self.sim = Sim(seed=seed, latency=latency)
        self.names = server_names(n)
        self.config = config or RaftConfig()
        self.timeouts: dict[str, tuple[float, float]] = {}
        for name in self.names:
            self.sim.add_node(
                name, lambda: CommandLog(self.config, timeouts=self.timeouts)
            )
        self.client = self.sim.add_client("client")
        self.snapshots: dict[str, pd.DataFrame] = {}

    def run(self, ms: float) -> None:
        self.sim.run_for(ms)

    def steer(
        self, fast: Iterable[str] = (), quiet: Iterable[str] = (),
        ranges: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:  # fmt: skip
        """From each server's next timer reset on, ``fast`` ones time out quickly, ``quiet`` ones
        practically never (``ranges``: any other range). A follower resets its timer at every
        heartbeat, so steer at least one heartbeat before the fault that should start an election.
        """
        for name in fast:
            self.timeouts[name] = STEER_FAST
        for name in quiet:
            self.timeouts[name] = STEER_QUIET
        self.timeouts.update(ranges or {})

    def wait_leader(self, want: str, limit_ms: float = 5_000.0) -> int:
        """Run until ``want`` leads (as the history's role events say); return its term."""
        stop = self.sim.now + limit_ms
        while self.sim.now < stop:
            self.run(10.0)
            down = [n for n in self.names if not self.sim.nodes[n].alive]
            leader, term, _ = current_leader(self.sim.history, down)
            if leader == want:
                return term
        raise RuntimeError(
            f"the script expected {want} to win an election within {limit_ms:g} ms; "
            f"replay with seed={self.sim.seed}"
        )

    def propose(self, node: str, command: Any) -> tuple[int, int]:
        """Send ``command`` to ``node`` as a client request; ``(index, term)`` it was given."""
        proc = self.sim.process(self.client.call(node, command, timeout_ms=50.0))
        self.run(50.0)
        result = proc.value
        if not result.ok:
            raise RuntimeError(
                f"{node} refused {command!r} ({result.error}); replay with seed={self.sim.seed}"
            )
        return tuple(result.value)

    def snap(self, moment: str) -> None:
        self.snapshots[moment] = log_matrix(self.sim, moment)


FIGURE8_MOMENTS = {
    "a": "(a) S1 leads term 2; y (index 2) reaches S2 only",
    "b": "(b) S1 down; S5 leads term 3, takes z at index 2",
    "c": "(c) S5 down; S1 leads term 4; y on 3 of 5 servers, not committed",
    "d": "(d) S1 down; S5 wins an election, overwrites y with z",
    "e1": "(e1) instead of (d): S1 puts w (term 4) on a majority; 2 and 3 commit",
    "e2": "(e2) after (e1), S1 down: S5 loses its elections, S2 leads; y stays",
}


def figure8_replay(seed: int = 0, branch: str = "d") -> Result:
    """Drive 5 servers through the paper's Figure 8 with crashes, restarts and partitions.

    The script (every step is a fault or a client request; :class:`CommandLog` servers, election
    timeouts steered so that the server the story needs stands for election first):

    - term 1: s5 leads; command ``x`` is committed everywhere; then s5 crashes and comes back.
    - (a) s1 leads term 2. Cut off from s3-s5, it takes command ``y`` at index 2 and replicates it
      to s2 only.
    - (b) s1 crashes. s5, with s3 and s4, elects itself for term 3 and, cut off, takes ``z`` at
      index 2 in its own log only.
    - (c) s5 crashes; s1 restarts and, with s2 and s3, becomes leader (term 3 is refused by s3,
      who voted for s5; term 4 succeeds). It copies ``y`` to s3: stored on 3 of 5 servers, yet
      not committed (its term is 2, not 4). Cut off again, s1 takes ``w`` at index 3.
    - ``branch="d"``: s1 crashes, s5 restarts and wins (its last term, 3, beats their 2): it
      overwrites ``y`` on every server it reaches. Had ``y`` been committed, it would be lost.
    - ``branch="e"``: instead s1 first reaches s2 and s3 again: ``w`` (term 4) is stored on a
      majority, so index 3 commits, and index 2 with it. Then s1 crashes and s5 restarts:
      s5 loses every election (s2 and s3 refuse it), s2 wins, and ``y`` stays.

    The first three moments are identical in both branches (same seed, same script). Returns a
    :class:`Result` (``df, history = result``): the log matrices at moments a-c and d or e
    (:func:`log_matrix`, concatenated; column ``moment``) and the history.
    """
    check_seed(seed)
    if branch not in ("d", "e"):
        raise ValueError(f"branch={branch!r} is not allowed; choose 'd' or 'e'")
    s = _Script(seed)
    s1, s2, s3, s4, s5 = s.names
    sim = s.sim

    # term 1: s5 leads and commits x everywhere
    s.steer(fast=[s5], quiet=[s1, s2, s3, s4])
    s.wait_leader(s5)
    s.propose(s5, "x")
    s.steer(fast=[s1], quiet=[s5])
    s.run(60.0)  # a heartbeat: followers now reset to their new ranges; everyone knows x committed
    sim.crash(s5)
    s.wait_leader(s1)
    sim.restart(s5)
    s.run(100.0)

    # (a) s1 (term 2) replicates y to s2 only
    s.steer(fast=[s5], quiet=[s1])
    s.run(60.0)
    sim.partition([s1, s2], [s3, s4, s5])
    s.propose(s1, "y")
    s.snap(FIGURE8_MOMENTS["a"])

    # (b) s1 crashes; s5 leads term 3 and takes z alone
    sim.crash(s1)
    s.wait_leader(s5)
    s.steer(quiet=[s5])
    sim.partition([s5], [s1, s2, s3, s4])
    s.propose(s5, "z")
    s.snap(FIGURE8_MOMENTS["b"])

    # (c) s5 crashes; s1 restarts and leads term 4 with s2 and s3; y reaches s3; w at s1 only
    sim.crash(s5)
    s.steer(fast=[s1])
    sim.partition([s1, s2, s3], [s4, s5])
    sim.restart(s1)
    s.wait_leader(s1)
    s.steer(quiet=[s1])
    s.run(60.0)
    sim.partition([s1], [s2, s3], [s4, s5])
    s.propose(s1, "w")
    s.snap(FIGURE8_MOMENTS["c"])

    if branch == "d":
        s.steer(fast=[s5])
        sim.crash(s1)
        sim.heal()
        sim.restart(s5)
        s.wait_leader(s5)
        s.run(100.0)
        s.snap(FIGURE8_MOMENTS["d"])
    else:
        s.steer(ranges={s2: (400.0, 400.0)})  # s2 stands later than s5 (which will lose)
        sim.partition([s1, s2, s3], [s4, s5])
        s.run(100.0)  # w reaches s2 and s3: index 3 (and 2 with it) commits
        s.snap(FIGURE8_MOMENTS["e1"])
        sim.crash(s1)
        sim.heal()
        s.steer(fast=[s5])
        sim.restart(s5)
        s.wait_leader(s2)
        s.run(100.0)
        s.snap(FIGURE8_MOMENTS["e2"])
    df = pd.concat(list(s.snapshots.values()), ignore_index=True)
    df.attrs["seed"] = seed
    return Result(df, sim.history, seed, {"branch": branch, "moments": list(s.snapshots)})


# ================================================================================================
# 2. Roles over time under a scripted nemesis
# ================================================================================================
def role_timeline_run(
    seed: int = 0,
    *,
    servers: int = 5,
    duration_ms: float = 8000.0,
    latency: Latency | float = TIMELINE_LATENCY,
    config: RaftConfig | None = None,
) -> Result:
    """Five servers (``servers``) through a scripted nemesis; returns a :class:`Result` whose
    frame is who led each term (:func:`leaders_per_term`) and whose history feeds
    :func:`dslab.viz.role_timeline` (``leaders, history = result`` unpacks).

    The nemesis reads the current leader from the history's role events and, at fixed fractions of
    ``duration_ms`` (for 8 s: at 1, 2, 3, 4.5, 5.5 and 6.8 s):

    1. crashes the leader; 2. restarts it (it comes back as a follower);
    3. cuts the current leader and one follower off from the other servers: the majority side
       elects a new leader while the old one, in the minority, still believes it leads;
    4. heals the partition: the old leader sees the newer term and steps down;
    5. isolates one follower: alone, it keeps timing out and standing for election, raising its
       term each time; 6. reconnects it: its higher term forces the leader to step down, and the
       cluster holds one more election.
    """
    check_seed(seed)
    _check_servers("servers", servers, minimum=3)
    check_number("duration_ms", duration_ms, min=1000.0)
    latency = as_latency(latency)
    if config is not None:
        check_type("config", config, RaftConfig)
    config = config or RaftConfig()
    sim = Sim(seed=seed, latency=latency)
    names = server_names(servers)
    for name in names:
        sim.add_node(name, lambda: RaftNode(config))
    rng = sim.stream("nemesis")
    at = {k: duration_ms * f for k, f in
          {"crash": 1 / 8, "restart": 2 / 8, "split": 3 / 8, "heal": 4.5 / 8, "isolate": 5.5 / 8,
           "reconnect": 6.8 / 8}.items()}  # fmt: skip

    def leader(down: Iterable[str] = ()) -> str | None:
        return current_leader(sim.history, down)[0]

    def nemesis() -> Generator[Any, Any, None]:
        yield sim.sleep(at["crash"])
        victim = leader() or names[0]
        sim.crash(victim)
        yield sim.sleep(at["restart"] - sim.now)
        sim.restart(victim)
        yield sim.sleep(at["split"] - sim.now)
        old = leader() or names[0]
        buddy = rng.choice([n for n in names if n != old])
        minority = sorted([old, buddy])
        sim.partition(minority, [n for n in names if n not in minority])
        yield sim.sleep(at["heal"] - sim.now)
        sim.heal()
        yield sim.sleep(at["isolate"] - sim.now)
        now_leader = leader()
        loner = rng.choice([n for n in names if n != now_leader])
        sim.isolate(loner)
        yield sim.sleep(at["reconnect"] - sim.now)
        sim.reconnect(loner)

    sim.process(nemesis())
    sim.run(until=duration_ms)
    faults = [f.verb for f in sim.history.faults]
    return Result(leaders_per_term(sim.history, duration_ms), sim.history, seed,
                  {"faults": faults, "at_ms": at})


# ================================================================================================
# 4. The key-value service under faults
# ================================================================================================
def kv_under_faults(
    seed: int = 0,
    servers: int = 5,
    clients: int = 5,
    duration_ms: float = 3000.0,
    partitions: bool = True,
    unreliable: bool = True,
    crashes: bool = True,
) -> Result:
    """The linearizable KV service (:class:`~dslab.raft.kv.KVServer`, clients are
    :class:`~dslab.raft.kv.Clerk`) under a random nemesis, via :func:`dslab.raft.workload.run_kv`.

    ``partitions``: random partitions and isolated servers; ``crashes``: crashes, restarts and
    GC-like pauses (never a majority down at once); ``unreliable``: 5% of messages lost, 2%
    duplicated (latencies 1-10 ms reorder messages in any case). The nemesis acts at random
    intervals (``run_kv``'s default) until ``duration_ms``, then heals everything; clients finish
    what they started.

    Returns a :class:`~dslab.sim.scenario.Result` (``summary, history = result``): the summary
    has one row per operation kind (invoked, ok, fail, info); ``metadata`` holds ``faults`` (the
    nemesis's actions, in order), ``leaders`` (elections won) and ``safety`` (Election Safety and
    Log Matching problems found, normally none). Check the history with
    ``dslab.check.linearizable(history, "kv")``.
    """
    check_seed(seed)
    _check_servers("servers", servers, minimum=1)
    check_number("clients", clients, min=1, max=64, integer=True)
    check_number("duration_ms", duration_ms, min=0, min_inclusive=False)
    for name, flag in (("partitions", partitions), ("unreliable", unreliable),
                       ("crashes", crashes)):
        check_type(name, flag, bool)
    faults = (("partition", "isolate") if partitions else ()) + (
        ("crash", "pause") if crashes else ()
    )
    run = run_kv(
        seed, n_servers=servers, n_clients=clients, duration_ms=duration_ms, faults=faults,
        loss=0.05 if unreliable else 0.0, duplicate=0.02 if unreliable else 0.0,
    )
    h = run.history
    rows = []
    frame = h.ops_frame()
    for f in ("read", "write", "cas"):
        g = frame[frame["f"] == f]
        rows.append({"f": f, "invoked": len(g), **{t: int((g["type"] == t).sum())
                                                    for t in ("ok", "fail", "info")}})
    summary = _frame(rows, seed, ["f", "invoked", "ok", "fail", "info"])
    metadata = {
        "faults": list(run.faults),
        "leaders": sum(1 for e in h.events if e.name == "role" and e.data.get("role") == LEADER),
        "safety": [p for p in (election_safety(h), log_matching(server_logs(run.sim))) if p],
    }
    # The chapter's notebook still reads these from attrs; the Result's metadata is the source.
    summary.attrs.update(metadata)
    return Result(summary, h, seed, metadata)


# ================================================================================================
# 5. Throughput and latency as clients are added
# ================================================================================================
class _ServiceQueue:
    """Each server handles one message at a time, ``service_ms`` each, in arrival order: a
    network interceptor holds a message back until the receiver's "CPU" is free and it has been
    handled. Links have a constant latency, so arrival order is send order."""

    def __init__(self, servers: Iterable[str], latency_ms: float, service_ms: float) -> None:
        self.busy = dict.fromkeys(servers, 0.0)
        self.latency_ms = latency_ms
        self.service_ms = service_ms
        self.sim: Sim | None = None

    def __call__(self, src: str, dst: str, msg: Any, rng: Any) -> float | None:
        if dst not in self.busy:
            return None
        arrive = self.sim.now + self.latency_ms
        done = max(arrive, self.busy[dst]) + self.service_ms
        self.busy[dst] = done
        return done - arrive


def kv_throughput(
    seed: int = 0,
    clients: Iterable[int] = (1, 2, 4, 8, 16, 32, 64),
    duration_ms: float = 1500.0,
    *,
    servers: int = 5,
    latency_ms: float = 1.0,
    service_ms: float = 0.5,
    warmup_ms: float = 500.0,
    progress: bool = False,
) -> pd.DataFrame:
    """Throughput (ok operations per simulated second) and latency percentiles of the KV service
    as the number of closed-loop clients grows: each client issues its next operation (a put or a
    get of one of 10 keys, half and half) as soon as the previous one completes.

    The model (chosen, not measured): every link takes ``latency_ms``; every server handles one
    message at a time and each message costs it ``service_ms`` of work (a queue forms when
    messages arrive faster). Without such a cost a simulated server would be infinitely fast and
    throughput would grow without bound. Operations completing in ``[warmup_ms, duration_ms]``
    are counted (the first election happens during the warm-up).
    """
    check_seed(seed)
    check_type("progress", progress, bool)
    if isinstance(clients, (str, bytes)) or not isinstance(clients, Iterable):
        raise TypeError(f"clients={clients!r} must be a list of client counts")
    counts = [check_number(f"clients[{i}]", c, min=1, max=256, integer=True)
              for i, c in enumerate(clients)]
    if not counts:
        raise ValueError("clients=[] is not allowed; give at least one client count")
    _check_servers("servers", servers, minimum=1)
    check_number("latency_ms", latency_ms, min=0)
    check_number("service_ms", service_ms, min=0)
    check_number("warmup_ms", warmup_ms, min=0)
    check_number("duration_ms", duration_ms, min=warmup_ms, min_inclusive=False)
    rows = []
    for n in tqdm(counts, disable=not progress, desc="clients"):
        sim = Sim(seed=seed, latency=Constant(latency_ms))
        names = server_names(servers)
        queue = _ServiceQueue(names, latency_ms, service_ms)
        queue.sim = sim
        if service_ms:
            sim.net.add_interceptor(queue)
        for name in names:
            sim.add_node(name, KVServer)
        for k in range(n):
            clerk = Clerk(sim, sim.add_client(f"c{k}"), names, op_timeout_ms=1000.0)
            sim.process(_closed_loop(sim, clerk, duration_ms))
        sim.run(until=duration_ms + 1000.0)
        ops = sim.history.ops_frame()
        window = ops[(ops["end_ms"] >= warmup_ms) & (ops["end_ms"] <= duration_ms)]
        ok = window[window["type"] == "ok"]
        lat = (ok["end_ms"] - ok["start_ms"]).to_numpy(dtype=float)
        span_s = (duration_ms - warmup_ms) / 1000.0
        pct = np.percentile(lat, [50, 90, 99]) if len(lat) else [math.nan] * 3
        rows.append({
            "clients": n, "ops_ok": len(ok), "ops_not_ok": len(window) - len(ok),
            "throughput_ops_s": len(ok) / span_s, "p50_ms": pct[0], "p90_ms": pct[1],
            "p99_ms": pct[2], "messages": len(sim.history.messages),
        })  # fmt: skip
    df = _frame(rows, seed)
    df.attrs.update(latency_ms=latency_ms, service_ms=service_ms, servers=servers)
    return df


def _closed_loop(sim: Sim, clerk: Clerk, until_ms: float) -> Generator[Any, Any, None]:
    rng = sim.stream(f"workload/{clerk.client_id}")
    i = 0
    while sim.now < until_ms:
        i += 1
        key = f"k{rng.randrange(10)}"
        if rng.random() < 0.5:
            yield from clerk.put(key, f"{clerk.client_id}.{i}")
        else:
            yield from clerk.get(key)


# ================================================================================================
# 6. A cluster stepped one event at a time
# ================================================================================================
class Stepper:
    """A small Raft cluster (``n`` servers, no faults unless you add them through ``.sim``)
    advanced one observable event at a time: a message delivered (or dropped), or a timer that
    made a server act. Each :meth:`step` prints one line per event: when, who sent what to whom
    (or whose timer fired and what it did), and every server's role and term after it.

    Roles are written ``F`` (follower), ``C`` (candidate), ``L`` (leader), ``-`` (down), followed
    by the term: ``s1:C2`` is s1, candidate in term 2. ``a -> b`` is a delivery, ``a -x b`` a
    message dropped on arrival; a send the network refused at once is marked "(dropped)". The
    message content is captured by a network interceptor as it is sent; nothing in the servers is
    changed.
    """

    def __init__(
        self,
        seed: int = 0,
        n: int = 3,
        *,
        latency: Latency | float = SCRIPT_LATENCY,
        config: RaftConfig | None = None,
    ) -> None:
        check_seed(seed)
        _check_servers("n", n, minimum=1)
        if config is not None:
            check_type("config", config, RaftConfig)
        self.sim = Sim(seed=seed, latency=as_latency(latency))
        self.names = server_names(n)
        self._sent: dict[tuple[str, str, str, float], list[Any]] = {}
        self.sim.net.add_interceptor(self._capture)
        for name in self.names:
            self.sim.add_node(name, lambda: RaftNode(config))
        self._in_flight: list[list[Any]] = []
        self._rows_seen = 0
        env = self.sim.env
        while env.peek() <= env.now:  # boot every server (no output yet: nothing observable)
            env.step()
        self._collect_new_rows()

    def __repr__(self) -> str:
        return f"Stepper(seed={self.sim.seed}, t={self.sim.now:.2f} ms, {self.roles()})"

    def _capture(self, src: str, dst: str, msg: Any, rng: Any) -> None:
        key = (src, dst, message_type(msg), self.sim.now)
        self._sent.setdefault(key, []).append(msg)

    def _collect_new_rows(self) -> list[list[Any]]:
        rows = self.sim.history.message_rows
        new = rows[self._rows_seen :]
        self._rows_seen = len(rows)
        self._in_flight.extend(r for r in new if r[STATUS] == "in_flight")
        return new

    def roles(self) -> str:
        """Every server's role and term now, as ``s1:L2 s2:F2 s3:F2``."""
        out = []
        for name in self.names:
            h = self.sim.handler(name)
            out.append(f"{name}:-" if h is None else f"{name}:{h.role[0].upper()}{h.current_term}")
        return " ".join(out)

    def step(self, k: int = 1, *, echo: bool = True) -> list[str]:
        """Advance by ``k`` observable events; print (if ``echo``) and return their lines."""
        check_number("k", k, min=1, integer=True)
        check_type("echo", echo, bool)
        lines = []
        for _ in range(k):
            line = self._one()
            if line is None:
                break
            lines.append(line)
            if echo:
                print(line)
        return lines

    def _one(self) -> str | None:
        env = self.sim.env
        while env.peek() < math.inf:
            events_before = len(self.sim.history.events)
            env.step()
            arrived = [r for r in self._in_flight if r[STATUS] != "in_flight"]
            self._in_flight = [r for r in self._in_flight if r[STATUS] == "in_flight"]
            sent = self._collect_new_rows()
            changed = self.sim.history.events[events_before:]
            what = None
            if arrived:
                r = arrived[0]
                msgs = self._sent.get((r[SRC], r[DST], r[TYPE], r[SEND_TIME]), [])
                text = describe_message(msgs.pop(0)) if msgs else r[TYPE]
                verb = "->" if r[STATUS] == "delivered" else "-x"
                what = f"{r[SRC]} {verb} {r[DST]}  {text}"
                if r[STATUS] != "delivered":
                    what += f"  (dropped: {r[REASON]})"
            elif sent or changed:
                node = changed[0].node if changed else sent[0][SRC]
                roles = [e for e in changed if e.node == node and e.name == "role"]
                dests = ", ".join(row[DST] + (" (dropped)" if row[STATUS] == "dropped" else "")
                                  for row in sent)
                kinds = sorted({row[TYPE] for row in sent})
                if roles and roles[-1].data.get("role") == "candidate":
                    what = (f"{node}: election timeout -> candidate for term "
                            f"{roles[-1].data.get('term')}; asks {dests} for votes")
                elif sent:
                    what = f"{node}: heartbeat timer -> {'/'.join(kinds)} to {dests}"
                else:
                    what = f"{node}: timer fired"
            if what is not None:
                return f"t={self.sim.now:8.2f} ms  {what:<78} | {self.roles()}"
        return None

    def until_leader(self, limit: int = 200, *, echo: bool = True) -> list[str]:
        """Step until some server leads (at most ``limit`` events); return the lines."""
        check_number("limit", limit, min=1, integer=True)
        lines = []
        for _ in range(limit):
            got = self.step(1, echo=echo)
            if not got:
                break
            lines += got
            if any(self.sim.handler(n) is not None and self.sim.handler(n).role == LEADER
                   for n in self.names):
                break
        return lines
