"""Building a commit cluster on a :class:`~dslab.sim.Sim` and driving it with clients.

The scripting layer between the protocol cores (:mod:`.twopc`, :mod:`.threepc`: handlers, no
SimPy) and the experiments: it adds coordinators and participants ``p1..pN`` for a protocol
(``"2pc"`` or ``"3pc"``), a client per coordinator, and client processes (generators for
:meth:`Sim.process`) that record each transaction in the history as a Jepsen operation ``txn``
whose value is the transaction id: ``ok`` (committed), ``fail`` (aborted, definitely) or ``info``
(the coordinator did not answer: the outcome is unknown to the client).

The builder convention of :mod:`dslab.sim.scenario` (rule 2), per server role:
:func:`build_participants` ``(sim, n=3, node_cls=...)`` adds the participants ``p1..pN`` and
:func:`build_coordinators` ``(sim, names, node_cls=...)`` the coordinators. :func:`build_cluster`
uses both; its ``coordinator_cls`` / ``participant_cls`` swap either role for another class (a
student's, say) while the other keeps the protocol's own.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

from dslab._validate import check_choice, check_number, check_type
from dslab.commit.messages import Begin, Txn
from dslab.commit.threepc import STEPS_3PC, ThreePCCoordinator, ThreePCParticipant
from dslab.commit.twopc import STEPS_2PC, TwoPCCoordinator, TwoPCParticipant
from dslab.core import Handler
from dslab.sim import Client, RpcResult, Sim
from dslab.sim.scenario import build_nodes, check_node_cls

PROTOCOLS = ("2pc", "3pc")
#: The coordinator failpoints of each protocol.
STEPS = {"2pc": STEPS_2PC, "3pc": STEPS_3PC}
#: Protocol -> (coordinator class, participant class).
CLASSES: dict[str, tuple[type[Handler], type[Handler]]] = {
    "2pc": (TwoPCCoordinator, TwoPCParticipant),
    "3pc": (ThreePCCoordinator, ThreePCParticipant),
}


def check_protocol(protocol: Any) -> str:
    check_type("protocol", protocol, str)
    return check_choice("protocol", protocol, PROTOCOLS)


def check_participants(n: Any, name: str = "n_participants") -> int:
    check_type(name, n, int)
    if n < 2:
        raise ValueError(f"{name}={n!r} is not allowed; a distributed transaction needs at least "
                         f"two participants ({name} >= 2)")
    return n


def participant_names(n: int) -> list[str]:
    return [f"p{i}" for i in range(1, n + 1)]


def role_classes(
    protocol: str, coordinator_cls: type | None = None, participant_cls: type | None = None
) -> tuple[type[Handler], type[Handler]]:
    """The (coordinator, participant) classes of ``protocol``, either one replaced if given."""
    coord, part = CLASSES[check_protocol(protocol)]
    if coordinator_cls is not None:
        coord = check_node_cls(coordinator_cls, "coordinator_cls")
    if participant_cls is not None:
        part = check_node_cls(participant_cls, "participant_cls")
    return coord, part


def check_options(name: str, options: Any, cls: type) -> dict[str, Any]:
    """``options`` for ``cls(**options)``: a dict whose keys ``cls`` accepts (checked by building
    one handler now, so a bad value fails here, naming the parameter)."""
    if options is None:
        return {}
    check_type(name, options, dict)
    try:
        cls(**options)
    except TypeError as exc:
        raise TypeError(f"{name}={options!r}: {exc}") from None
    return dict(options)


@dataclass
class CommitCluster:
    """The nodes of one run. ``clients[c]`` is the coordinator client ``c`` talks to."""

    sim: Sim
    protocol: str
    coordinators: list[str]
    participants: list[str]
    clients: dict[str, str] = field(default_factory=dict)

    def client(self, name: str) -> Client:
        return self.sim.clients[name]

    def final_states(self) -> dict[str, dict[str, str]]:
        """{participant: {tid: state}} read from each participant's durable log (works while a
        participant is down)."""
        out: dict[str, dict[str, str]] = {}
        for p in self.participants:
            storage = self.sim.nodes[p].storage
            out[p] = {k[4:]: storage[k]["state"] for k in storage if k.startswith("txn/")}
        return out


def build_participants(
    sim: Sim, n: int = 3, node_cls: type = TwoPCParticipant, **options: Any
) -> list[str]:
    """Add participants ``p1..pN`` running ``node_cls(**options)``; their names (rule 2)."""
    check_participants(n, "n")
    return build_nodes(sim, n, node_cls, names=participant_names(n), **options)


def build_coordinators(
    sim: Sim,
    names: Iterable[str] = ("co",),
    node_cls: type = TwoPCCoordinator,
    *,
    factory: Callable[[str], Callable[[], Handler]] | None = None,
    **options: Any,
) -> list[str]:
    """Add coordinators ``names`` running ``node_cls(**options)``, or the handler factory
    ``factory(name)`` returns (failpoints); their names."""
    coords = list(names)
    if not coords:
        raise ValueError("coordinators=[] is not allowed; name at least one coordinator")
    if factory is None:
        return build_nodes(sim, len(coords), node_cls, names=coords, **options)
    for name in coords:
        sim.add_node(name, factory(name))
    return coords


def build_cluster(
    sim: Sim,
    protocol: str,
    *,
    n_participants: int = 3,
    coordinators: Iterable[str] = ("co",),
    coordinator_options: dict[str, Any] | None = None,
    participant_options: dict[str, Any] | None = None,
    coordinator_factory: Callable[[str], Callable[[], Handler]] | None = None,
    coordinator_cls: type | None = None,
    participant_cls: type | None = None,
) -> CommitCluster:
    """Add coordinators, participants ``p1..pN`` and one client per coordinator (``c_<name>``).

    ``coordinator_cls`` / ``participant_cls`` replace the protocol's own class of that role.
    ``coordinator_factory(name)``, if given, returns the handler factory of coordinator ``name``
    (the experiments use it to install failpoints).
    """
    check_protocol(protocol)
    check_participants(n_participants)
    coord_cls, part_cls = role_classes(protocol, coordinator_cls, participant_cls)
    copts = check_options("coordinator_options", coordinator_options, coord_cls)
    popts = check_options("participant_options", participant_options, part_cls)
    coords = build_coordinators(sim, coordinators, coord_cls, factory=coordinator_factory,
                                **copts)
    parts = build_participants(sim, n_participants, part_cls, **popts)
    cl = CommitCluster(sim, protocol, coords, parts)
    for name in coords:
        c = f"c_{name}"
        sim.add_client(c)
        cl.clients[c] = name
    return cl


def simple_txn(tid: str, participants: Iterable[str], *, key: str = "x", value: Any = 1,
               vote_no: Iterable[str] = ()) -> Txn:
    """A transaction writing ``key=value`` at every participant."""
    return Txn(tid, tuple((p, key, value) for p in participants), tuple(vote_no))


def transaction(
    client: Client, coordinator: str, txn: Txn, *, timeout_ms: float = 1000.0
) -> Generator[Any, Any, RpcResult]:
    """Client process step: run ``txn`` through ``coordinator`` and record it as op ``txn``."""
    check_type("txn", txn, Txn)
    check_number("timeout_ms", timeout_ms, min=0, min_inclusive=False)
    inv = client.invoke("txn", txn.tid)
    res = yield from client.call(coordinator, Begin(txn), timeout_ms=timeout_ms)
    client.complete(inv, res, value=txn.tid)
    return res


__all__ = [
    "CLASSES",
    "PROTOCOLS",
    "STEPS",
    "CommitCluster",
    "build_cluster",
    "build_coordinators",
    "build_participants",
    "check_participants",
    "check_protocol",
    "participant_names",
    "role_classes",
    "simple_txn",
    "transaction",
]
