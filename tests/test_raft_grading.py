"""The scenarios grade any node class: buggy Raft servers fail them, with a message that names
the scenario step and the seed that replays the failure. (The reference RaftNode passes the same
scenarios on the same seeds: tests/test_raft_scenarios.py.)"""

from __future__ import annotations

import re

import pytest

from dslab.raft.harness import HarnessError
from dslab.raft.messages import RequestVoteReply
from dslab.raft.node import RaftNode
from dslab.raft.scenarios import fail_agree, figure8_unreliable, persist1


class VotesForAnyLog(RaftNode):
    """Forgets the election restriction (§5.4.1): votes for candidates with stale logs."""

    def handle_request_vote(self, ctx, src, msg):
        grant = msg.term == self.current_term and self.voted_for in (None, msg.candidate_id)
        if grant:
            self.voted_for = msg.candidate_id
            self.save_term_and_vote()
            self.reset_election_timer(ctx)
        ctx.send(src, RequestVoteReply(self.current_term, grant))


class ForgetsItsVote(RaftNode):
    """Never writes currentTerm / votedFor to disk: after a reboot it may vote twice in a term."""

    def save_term_and_vote(self):
        pass


class CommitsOldTermsByCounting(RaftNode):
    """Ignores the Figure 8 rule: commits entries of earlier terms by counting replicas."""

    def advance_commit_index(self, ctx):
        for n in range(self.log.last_index, self.commit_index, -1):
            if self.is_majority(1 + sum(1 for p in self.peers if self.match_index[p] >= n)):
                self.commit_index = n
                self.apply_committed(ctx)
                return


CASES = [
    (VotesForAnyLog, fail_agree),
    (ForgetsItsVote, persist1),
    (CommitsOldTermsByCounting, figure8_unreliable),
]


@pytest.mark.parametrize(
    "node_cls, scenario", CASES, ids=["election-restriction", "persist-vote", "figure-8"]
)
def test_a_buggy_node_fails_its_scenario(node_cls, scenario):
    """Within a few seeds (a bug needs the right interleaving to show)."""
    for seed in range(1, 6):
        try:
            scenario(seed, node_cls=node_cls)
        except HarnessError as exc:
            assert re.search(rf"step '.+' .*replay with seed={seed}$", str(exc)), str(exc)
            return
    pytest.fail(f"{node_cls.__name__} passed {scenario.__name__} on seeds 1-5")
