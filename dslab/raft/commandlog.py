"""CommandLog: a Raft server whose service is the log itself (what the chapter's experiments drive).

Rules: a leader proposes each client command at once (Raft's Start(), §5.3) and answers with the
``[index, term]`` it got; any other server refuses definitely (``not_leader``, with its hint). No
reply waits for a commit. A script may steer who times out first through ``timeouts``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dslab.core import Context, Request, Response
from dslab.raft.config import RaftConfig
from dslab.raft.node import ELECTION_TIMER, RaftNode


class CommandLog(RaftNode):
    """A Raft server whose service is the log itself: what the experiments drive.

    - A client ``Request`` carries a command; a leader proposes it at once (``start``, Raft's
      Start()) and answers ``Response(ok=True, body=[index, term])``; anyone else answers
      ``ok=False, error="not_leader"`` with the leader it knows of. Nothing waits for a commit: an
      experiment looks at the logs, not at a state machine.
    - ``timeouts`` (optional) is a mapping shared with the script that drives the run, from
      server name to the election-timeout range ``(min_ms, max_ms)`` that server draws from the
      next time it resets its timer. A script uses it to decide who times out first (the paper's
      Figure 8 is a story of unlucky timing); a server not in the mapping uses its config.
      Everything else is :class:`RaftNode`, unchanged.
    """

    def __init__(
        self,
        config: RaftConfig | None = None,
        *,
        peers: Iterable[str] | None = None,
        timeouts: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        super().__init__(config, peers=peers)
        self.timeouts = timeouts

    def on_request(self, ctx: Context, src: str, req: Request) -> None:
        index, term, ok = self.start(ctx, req.body)
        if ok:
            ctx.send(src, Response(req.id, ok=True, body=[index, term]))
        else:
            ctx.send(src, Response(req.id, ok=False, body=self.leader_id, error="not_leader"))

    def reset_election_timer(self, ctx: Context) -> None:
        chosen = self.timeouts.get(self.me) if self.timeouts is not None else None
        if chosen is None:
            super().reset_election_timer(ctx)
        else:
            ctx.set_timer(ELECTION_TIMER, ctx.rng.uniform(*chosen))
