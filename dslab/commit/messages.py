"""Messages of the atomic-commit chapter: the transaction, the client request, and every message of
two-phase commit (2PC) and three-phase commit (3PC).

Every message is a frozen dataclass (two nodes never share mutable state) named after the paper or
the notes that introduced it:

========================  ===================================================================
client -> coordinator     :class:`Begin` (inside a :class:`dslab.core.Request`)
2PC phase 1               :class:`Prepare` (coordinator -> participant), :class:`Vote` (back)
2PC phase 2               :class:`Commit` / :class:`Abort`, then :class:`Ack`
3PC                       :class:`CanCommit`, :class:`Vote`; :class:`PreCommit`, :class:`Ack`;
                          :class:`DoCommit` / :class:`Abort`, :class:`Ack`
termination (both)        :class:`DecisionRequest` / :class:`DecisionReply` ("what was decided?")
3PC termination           :class:`StateRequest` / :class:`StateReply` (a backup coordinator
                          collects the participants' states)
========================  ===================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslab._validate import check_type

#: The states a participant reports (Skeen's names in brackets): ``none`` (q: never voted yes),
#: ``prepared`` (w: voted yes, uncertain), ``precommitted`` (p: 3PC only), ``committed`` (c) and
#: ``aborted`` (a). Replies may also say ``uncertain`` (prepared or precommitted, and not allowed
#: to decide), ``undecided`` (a live coordinator still collecting votes) or ``recovering`` (a 3PC
#: participant that restarted in doubt and must not take part in deciding).
STATES = ("none", "prepared", "precommitted", "committed", "aborted")
FINAL = ("committed", "aborted")


@dataclass(frozen=True, slots=True)
class Txn:
    """A distributed transaction: ``writes`` are ``(participant, key, value)`` triples.

    ``vote_no`` names participants whose local work fails (a constraint violation, a full disk):
    they will vote NO. It is the per-transaction way to make a participant refuse; participants
    also take a ``no_probability`` of their own.
    """

    tid: str
    writes: tuple[tuple[str, str, Any], ...]
    vote_no: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_type("tid", self.tid, str)
        if not self.tid:
            raise ValueError("tid='' is not allowed; give the transaction a non-empty id")
        if not isinstance(self.writes, tuple) or not self.writes:
            raise ValueError(
                f"writes={self.writes!r} must be a non-empty tuple of (participant, key, value)"
            )
        for i, w in enumerate(self.writes):
            if not (isinstance(w, tuple) and len(w) == 3 and isinstance(w[0], str)
                    and isinstance(w[1], str)):
                raise ValueError(
                    f"writes[{i}]={w!r} must be a (participant: str, key: str, value) triple"
                )
        check_type("vote_no", self.vote_no, tuple)
        for p in self.vote_no:
            if p not in self.participants:
                raise ValueError(
                    f"vote_no={self.vote_no!r} names {p!r}, which is not a participant of "
                    f"{self.tid!r}; participants: {list(self.participants)}"
                )

    @property
    def participants(self) -> tuple[str, ...]:
        """The participants, sorted (the order is the rank used by 3PC's termination protocol)."""
        return tuple(sorted({w[0] for w in self.writes}))

    def writes_for(self, participant: str) -> tuple[tuple[str, Any], ...]:
        """The ``(key, value)`` writes of ``participant``."""
        return tuple((k, v) for p, k, v in self.writes if p == participant)


@dataclass(frozen=True, slots=True)
class Begin:
    """Client request body: run ``txn`` through the commit protocol. The coordinator answers
    ``Response(ok=True, body="committed")`` or ``Response(ok=False, error="aborted: ...")``."""

    txn: Txn


# -- phase 1 -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Prepare:
    """2PC phase 1: "do your part of ``tid`` up to the commit point, make it durable, and vote".

    ``participants`` lets a participant in doubt ask its peers (cooperative termination);
    ``must_fail`` injects a local failure (the participant votes NO).
    """

    tid: str
    participants: tuple[str, ...]
    writes: tuple[tuple[str, Any], ...]
    must_fail: bool = False


@dataclass(frozen=True, slots=True)
class CanCommit:
    """3PC phase 1 (CanCommit): the same question as :class:`Prepare`."""

    tid: str
    participants: tuple[str, ...]
    writes: tuple[tuple[str, Any], ...]
    must_fail: bool = False


@dataclass(frozen=True, slots=True)
class Vote:
    """A participant's answer to Prepare / CanCommit: ``yes`` (prepared) or no (aborted)."""

    tid: str
    yes: bool


# -- decisions -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Commit:
    """2PC phase 2: the decision is commit."""

    tid: str


@dataclass(frozen=True, slots=True)
class PreCommit:
    """3PC phase 2 (PreCommit): everyone voted yes; get ready to commit and acknowledge."""

    tid: str


@dataclass(frozen=True, slots=True)
class DoCommit:
    """3PC phase 3 (DoCommit): the decision is commit."""

    tid: str


@dataclass(frozen=True, slots=True)
class Abort:
    """The decision is abort (roll back with the undo records), in 2PC and 3PC."""

    tid: str


@dataclass(frozen=True, slots=True)
class Ack:
    """A participant acknowledges a decision (or, in 3PC, a PreCommit); ``state`` is its state
    after handling it."""

    tid: str
    state: str


# -- termination ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DecisionRequest:
    """"What was decided for ``tid``?" -- asked by a participant in doubt (of the coordinator and,
    in the cooperative termination protocol, of its peers) or by a node recovering from a crash."""

    tid: str


@dataclass(frozen=True, slots=True)
class DecisionReply:
    """The answer to :class:`DecisionRequest`: ``committed``, ``aborted``, ``uncertain`` (voted
    yes, does not know either), a 3PC participant's state (``prepared``, ``precommitted``),
    ``undecided`` (a live coordinator still running the transaction: it will decide) or
    ``recovering`` (a 3PC coordinator that restarted with a pre-commit record and no decision).

    ``recovering`` is True when the answering participant itself restarted in doubt and has not
    learned the outcome: with every site in that condition, 3PC's total-failure rule applies."""

    tid: str
    state: str
    recovering: bool = False


@dataclass(frozen=True, slots=True)
class StateRequest:
    """3PC termination: the backup coordinator of ``round`` asks for each participant's state."""

    tid: str
    round: int


@dataclass(frozen=True, slots=True)
class StateReply:
    """3PC termination: a participant's state (one of :data:`STATES`, or ``recovering``)."""

    tid: str
    round: int
    state: str


__all__ = [
    "FINAL",
    "STATES",
    "Abort",
    "Ack",
    "Begin",
    "CanCommit",
    "Commit",
    "DecisionReply",
    "DecisionRequest",
    "DoCommit",
    "PreCommit",
    "Prepare",
    "StateReply",
    "StateRequest",
    "Txn",
    "Vote",
]
