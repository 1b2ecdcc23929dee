"""The ZooKeeper chapter's experiments under one name: the scenarios of :mod:`dslab.zk.scenarios`
and the analysis of :mod:`dslab.zk.analysis` (the handlers are in :mod:`dslab.zk.server` and
:mod:`dslab.zk.client`; nothing here defines a mechanism). The chapter's notebook and
:mod:`dslab.zk.widgets` import from this module.

- :func:`election_after_crash` -- the leader crashes while one follower lags: who wins, and why.
- :func:`recovery_sweep` -- time from a leader's crash to a new established leader, over seeds.
- :func:`write_path` -- one write, PROPOSAL / ACK / COMMIT, for a space-time diagram.
- :func:`stale_reads` -- reads from a lagging follower, with and without ``sync``.
- :func:`session_expiry` -- a silent client's session expires; its ephemeral node goes; a watcher
  is told.
- :func:`lock_herd` / :func:`herd_sweep` -- notifications per release, herd vs predecessor.
- :func:`lock_with_pause` -- a lock holder paused past its session timeout: two holders at once.
- :func:`crash_recovery_run` -- writes under repeated leader crashes (what the tests sweep).
- :func:`truncation_demo` -- discovery and synchronisation: a rejoining old leader truncates an
  uncommitted proposal of its epoch and receives the new epoch's transactions.
"""

from dslab.zk.analysis import (
    applied_after,
    fenced_holds,
    last_ping_ms,
    messages_between,
    notifications_per_release,
    recovery_ms,
    session_expired_ms,
)
from dslab.zk.scenarios import (
    crash_recovery_run,
    election_after_crash,
    herd_sweep,
    lock_herd,
    lock_with_pause,
    recovery_sweep,
    session_expiry,
    stale_reads,
    truncation_demo,
    write_path,
)
from dslab.zk.server import ZkServer

__all__ = [
    "ZkServer",
    "applied_after",
    "crash_recovery_run",
    "election_after_crash",
    "fenced_holds",
    "herd_sweep",
    "last_ping_ms",
    "lock_herd",
    "lock_with_pause",
    "messages_between",
    "notifications_per_release",
    "recovery_ms",
    "recovery_sweep",
    "session_expired_ms",
    "session_expiry",
    "stale_reads",
    "truncation_demo",
    "write_path",
]
