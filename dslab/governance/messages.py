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
    service: str
    provider: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    service: str
    provider: str


@dataclass(frozen=True, slots=True)
class Fetch:
    """An agent asks for (and subscribes to) the provider list of ``service``."""

    service: str


@dataclass(frozen=True, slots=True)
class ServiceList:
    """The providers of ``service`` that are up, at the naming service's ``version``."""

    service: str
    providers: tuple[str, ...]
    version: int


@dataclass(frozen=True, slots=True)
class ListAll:
    pass


@dataclass(frozen=True, slots=True)
class AllProviders:
    """Every registered provider, up or down: ``((service, provider), ...)``."""

    providers: tuple[tuple[str, str], ...]


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
class Discover:
    service: str


@dataclass(frozen=True, slots=True)
class Work:
    payload: int = 0
