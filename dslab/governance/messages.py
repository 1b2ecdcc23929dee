"""Messages of the service-governance lab (frozen dataclasses).

Providers talk to their host's agent (``Register``, ``Heartbeat``); agents talk to the naming
service (``Register``, ``Heartbeat`` forwarded, ``Fetch``) and receive ``ServiceList`` pushes; the
scanner asks the naming service for ``ListAll`` and probes providers (``Probe`` / ``ProbeAck``)
and reports ``MarkDown`` / ``MarkUp``. Consumers send ``Request(Discover(service))`` to their agent
and ``Request(Work(...))`` to a provider.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Register:
    """``provider`` of ``service`` announces itself; ``room`` is its machine room (机房). With
    ``ack`` the naming service answers ``Registered``."""

    service: str
    provider: str
    room: str = ""
    ack: bool = False


@dataclass(frozen=True, slots=True)
class Deregister:
    """``provider`` leaves cleanly: the registry forgets it at once."""

    service: str
    provider: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    service: str
    provider: str


@dataclass(frozen=True, slots=True)
class Registered:
    """The naming service's acknowledgement of a ``Register`` (sent to whoever sent it)."""

    provider: str


@dataclass(frozen=True, slots=True)
class Deregistered:
    """The naming service's acknowledgement of a ``Deregister``."""

    provider: str


@dataclass(frozen=True, slots=True)
class Fetch:
    """An agent asks for the provider list of ``service`` and, with ``subscribe``, for pushes."""

    service: str
    subscribe: bool = True


@dataclass(frozen=True, slots=True)
class ServiceList:
    """The providers of ``service`` that are up, at the naming service's ``version``, and their
    ``weights`` (权重, same order; empty means all equal)."""

    service: str
    providers: tuple[str, ...]
    version: int
    weights: tuple[int, ...] = ()

    def weighted(self) -> tuple[tuple[str, int], ...]:
        """``((provider, weight), ...)``; weight 10 for every provider if none were set."""
        ws = self.weights or (10,) * len(self.providers)
        return tuple(zip(self.providers, ws, strict=True))


@dataclass(frozen=True, slots=True)
class ListAll:
    pass


@dataclass(frozen=True, slots=True)
class AllProviders:
    """Every registered provider, up or down: ``((service, provider), ...)``; ``rooms`` maps
    providers to their machine room and ``down`` lists those marked down (a scanner taking over
    a room starts from them)."""

    providers: tuple[tuple[str, str], ...]
    rooms: tuple[tuple[str, str], ...] = ()
    down: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Probe:
    round: int


@dataclass(frozen=True, slots=True)
class ProbeAck:
    round: int


@dataclass(frozen=True, slots=True)
class MarkDown:
    provider: str


@dataclass(frozen=True, slots=True)
class MarkUp:
    provider: str


@dataclass(frozen=True, slots=True)
class SetWeight:
    """A scanner sets ``provider``'s weight (0 removes it from the lists served)."""

    provider: str
    weight: int


@dataclass(frozen=True, slots=True)
class ScannerBeat:
    """A room's scanner tells the other rooms' scanners it is alive."""

    room: str


@dataclass(frozen=True, slots=True)
class Discover:
    """A consumer asks its agent for ``service``'s providers: a tuple of names, or of
    ``(name, weight)`` pairs if ``weighted``."""

    service: str
    weighted: bool = False


@dataclass(frozen=True, slots=True)
class Work:
    payload: int = 0
