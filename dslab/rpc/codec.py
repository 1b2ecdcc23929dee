"""Serialization: the "Pipeline" stage of the notes (序列化 / 反序列化).

Rules:

- A :class:`Codec` turns a call's arguments into bytes and back. The encoding is canonical JSON
  (sorted keys, no spaces), so the same value always has the same size: ``len(encode(v))`` is the
  number of bytes the request or reply adds on the wire.
- Every payload starts with a header naming the service interface and its schema ``version``.
  ``decode`` with a different version raises :class:`SchemaMismatch`; the server turns that into a
  *definite* failure (``ok=False, error="schema_mismatch"``): the call did not run.
- Encoding costs simulated time: ``cost_ms(n) = fixed_ms + n * per_kb_ms / 1024`` (the notes'
  serialization and compression inside Netty's pipeline).

Birrell & Nelson (1984) call this step *packing* and *unpacking*, done by the stubs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dslab._validate import check_number, check_type


class SchemaMismatch(ValueError):
    """The payload was written for another version of the interface: a definite failure."""


class CorruptFrame(ValueError):
    """A frame whose checksum does not match its bytes (see :mod:`dslab.rpc.pipeline`)."""


@dataclass(frozen=True)
class Codec:
    """Canonical-JSON codec with a schema header and a time cost per payload."""

    fixed_ms: float = 0.05
    per_kb_ms: float = 0.02

    def __post_init__(self) -> None:
        check_number("fixed_ms", self.fixed_ms, min=0)
        check_number("per_kb_ms", self.per_kb_ms, min=0)

    def encode(self, schema: str, version: int, value: Any) -> bytes:
        check_type("schema", schema, str)
        check_number("version", version, min=0, integer=True)
        try:
            body = json.dumps([schema, version, value], sort_keys=True, separators=(",", ":"))
        except TypeError as exc:
            raise TypeError(f"value={value!r} cannot be serialized: {exc}") from None
        return body.encode("utf-8")

    def decode(self, data: bytes, schema: str, version: int) -> Any:
        """The value in ``data``; :class:`SchemaMismatch` if it was written for another schema."""
        got_schema, got_version, value = json.loads(data.decode("utf-8"))
        if got_schema != schema or got_version != version:
            raise SchemaMismatch(
                f"payload is {got_schema} v{got_version}; this side speaks {schema} v{version}"
            )
        return value

    def size(self, schema: str, version: int, value: Any) -> int:
        """Bytes of ``value`` on the wire."""
        return len(self.encode(schema, version, value))

    def cost_ms(self, nbytes: int) -> float:
        """Simulated time to encode or decode ``nbytes``."""
        return self.fixed_ms + nbytes * self.per_kb_ms / 1024.0
