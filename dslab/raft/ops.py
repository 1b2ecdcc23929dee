"""The KV service's operations: they travel in client requests and sit in the Raft log.

Each carries its client's ``client_id`` and a per-client sequence number ``seq``, which the
server's duplicate table uses to execute a retried operation once (see :mod:`dslab.raft.kv`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Put:
    key: Any
    value: Any
    client_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class Append:
    """Append the string ``value`` to the key's string (missing keys start as "")."""

    key: Any
    value: str
    client_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class Get:
    key: Any
    client_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class Cas:
    """Compare-and-set: if the key holds ``expected``, set it to ``new``. Returns True if so."""

    key: Any
    expected: Any
    new: Any
    client_id: str
    seq: int


KV_OPS = (Put, Append, Get, Cas)
