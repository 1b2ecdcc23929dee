"""Messages of the CAP chapter: client request bodies and the replicas' peer messages.

Every message is a frozen dataclass, so two nodes never share mutable state. Client requests
travel inside :class:`dslab.core.Request`; replicas answer with :class:`dslab.core.Response`.

Register operations (both policies):

- :class:`Read` -- answer the current value (an AP replica in ``"siblings"`` mode answers the
  sorted list of sibling values).
- :class:`Write` -- replace the value.
- :class:`Cas` -- replace the value by ``new`` only if it equals ``expected``; a comparison that
  fails is a definite failure (``Response(ok=False, error="cas_mismatch")``).

Service-discovery operations (:mod:`dslab.cap.registry`): :class:`Register`, :class:`Heartbeat`,
:class:`Deregister`, :class:`Discover`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslab.lab.register import Cas, Read, Write  # noqa: F401  (re-exported: the register ops)

#: A ballot of the CP protocol: ``(round, node)``, ordered first by round, then by node name.
Ballot = tuple[int, str]
#: The ballot below every real one (nothing promised or accepted yet).
ZERO_BALLOT: Ballot = (0, "")


# -- client request bodies: the register ---------------------------------------------------------
# Read, Write and Cas are the lab's register operations (dslab.lab.register), imported above.


# -- client request bodies: service discovery ----------------------------------------------------
@dataclass(frozen=True, slots=True)
class Register:
    """An instance of a service announces itself (``instance`` is its name, e.g. ``"i3"``)."""

    instance: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """An instance says it is still alive (Eureka: a *renewal*; ZooKeeper: a session ping)."""

    instance: str


@dataclass(frozen=True, slots=True)
class Deregister:
    """An instance leaves cleanly."""

    instance: str


@dataclass(frozen=True, slots=True)
class Discover:
    """A consumer asks for the instances the registry lists."""


# -- CP peer messages (CASPaxos, see dslab.cap.cp) -----------------------------------------------
@dataclass(frozen=True, slots=True)
class Prepare:
    """Phase 1a: "promise to ignore ballots below ``ballot`` and tell me what you accepted"."""

    ballot: Ballot


@dataclass(frozen=True, slots=True)
class Promise:
    """Phase 1b: the acceptor promised ``ballot``; it last accepted ``state`` at ``accepted``."""

    ballot: Ballot
    accepted: Ballot
    state: Any


@dataclass(frozen=True, slots=True)
class Accept:
    """Phase 2a: "accept ``state`` at ``ballot``"."""

    ballot: Ballot
    state: Any


@dataclass(frozen=True, slots=True)
class Accepted:
    """Phase 2b: the acceptor accepted the state proposed at ``ballot``."""

    ballot: Ballot


@dataclass(frozen=True, slots=True)
class Nack:
    """The acceptor refused ``ballot`` because it already promised the higher ``promised``."""

    ballot: Ballot
    promised: Ballot


# -- AP peer messages (dslab.cap.ap) -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Replicate:
    """Push a replica's state (an LWW version, or a sibling set) to a peer, who merges it."""

    payload: Any


# -- AP registry peer messages (dslab.cap.registry, Eureka-like) ---------------------------------
@dataclass(frozen=True, slots=True)
class ReplicateRegister:
    """A peer saw ``instance`` register: add it to your local view."""

    instance: str


@dataclass(frozen=True, slots=True)
class ReplicateRenew:
    """A peer saw ``instance`` renew its lease: renew it too (add it if you do not know it)."""

    instance: str


@dataclass(frozen=True, slots=True)
class ReplicateCancel:
    """A peer saw ``instance`` deregister: remove it."""

    instance: str
