"""Atomic commitment: two-phase commit, three-phase commit, and what each does when things fail.

A distributed transaction changes data on several independent resource managers (participants);
atomic commitment makes it take effect at all of them or at none. The modules:

- :mod:`dslab.commit.messages` -- the transaction (:class:`Txn`) and every protocol message.
- :mod:`dslab.commit.resource` -- what every participant is built on: locks, data, write-ahead log.
- :mod:`dslab.commit.coordinator` -- what both coordinators share: the decision log, retries,
  presumed abort, failpoints.
- :mod:`dslab.commit.twopc` -- 2PC (Gray 1978) with the cooperative termination protocol
  (Bernstein, Hadzilacos and Goodman 1987).
- :mod:`dslab.commit.threepc` -- 3PC (Skeen 1981): CanCommit / PreCommit / DoCommit, the notes'
  timeout rule and Skeen's termination protocol.
- :mod:`dslab.commit.check` -- atomicity (AC1-AC5) and the time participants spend in doubt.
- :mod:`dslab.commit.cluster`, :mod:`dslab.commit.scenarios`, :mod:`dslab.commit.analysis`
  (with :mod:`dslab.commit.experiments` as the notebook's facade), :mod:`dslab.commit.plots` -- the
  chapter's runs and figures.

Flexible transactions, run beside 2PC on the same transfers (:mod:`dslab.commit.ledger`) and the
same faults: :mod:`dslab.commit.tcc` (Try / Confirm / Cancel, empty rollback, suspension),
:mod:`dslab.commit.saga` (compensations run backwards), :mod:`dslab.commit.outbox` (local message
table with an at-least-once relay), :mod:`dslab.commit.txmsg` (half messages and check-back), and
:mod:`dslab.commit.twopc_ledger` (the same transfers through 2PC with row locks); judged by
:mod:`dslab.commit.practice_check` (eventual atomicity, no lost compensation, nothing left frozen),
run by :mod:`dslab.commit.practice_experiments` and drawn by :mod:`dslab.commit.practice_plots`.

Map to the course notes (一致性协议和算法, 数据库中的2PC): 协调者 = coordinator, 参与者 =
participant, 准备阶段 = phase 1 (Prepare / CanCommit), undo/redo 日志 = the participant's forced
``prepared`` record, 同步阻塞 = a participant in doubt holding its locks, 单点问题 = the
coordinator that crashes after the votes, 数据不一致 = participants that decided differently (2PC:
only for a while; 3PC under a partition: for good), 超时机制 = the 3PC participant timeouts.
"""

from dslab.commit.check import AtomicityResult, atomicity, blocking, in_doubt, participant_states
from dslab.commit.cluster import (
    PROTOCOLS,
    STEPS,
    CommitCluster,
    build_cluster,
    simple_txn,
    transaction,
)
from dslab.commit.messages import (
    Abort,
    Ack,
    Begin,
    CanCommit,
    Commit,
    DecisionReply,
    DecisionRequest,
    DoCommit,
    PreCommit,
    Prepare,
    StateReply,
    StateRequest,
    Txn,
    Vote,
)
from dslab.commit.resource import ResourceManager
from dslab.commit.threepc import STEPS_3PC, TERMINATIONS, ThreePCCoordinator, ThreePCParticipant
from dslab.commit.twopc import STEPS_2PC, TwoPCCoordinator, TwoPCParticipant

__all__ = [
    "PROTOCOLS",
    "STEPS",
    "STEPS_2PC",
    "STEPS_3PC",
    "TERMINATIONS",
    "Abort",
    "Ack",
    "AtomicityResult",
    "Begin",
    "CanCommit",
    "Commit",
    "CommitCluster",
    "DecisionReply",
    "DecisionRequest",
    "DoCommit",
    "PreCommit",
    "Prepare",
    "ResourceManager",
    "StateReply",
    "StateRequest",
    "ThreePCCoordinator",
    "ThreePCParticipant",
    "Txn",
    "TwoPCCoordinator",
    "TwoPCParticipant",
    "Vote",
    "atomicity",
    "blocking",
    "build_cluster",
    "in_doubt",
    "participant_states",
    "simple_txn",
    "transaction",
]
