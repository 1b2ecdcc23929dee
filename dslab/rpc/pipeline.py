"""The rest of the Pipeline: compression and an integrity check (压缩 / 完整性校验).

The notes list the stages of Pigeon's Netty pipeline as serialization, deserialization,
integrity check and (de)compression. :class:`FramedCodec` adds the last two around the JSON
:class:`~dslab.rpc.codec.Codec`, on real bytes:

Rules:

1. **Compress**: the serialized body is compressed with zlib when it is at least
   ``compress_min_bytes`` long *and* compression makes it smaller (short or random bodies are sent
   as they are; a flag bit says which).
2. **Frame**: ``magic (2) | flags (1) | length (4) | crc32 (4) | body``. The CRC-32 covers the
   flags, the length and the body exactly as sent (after compression).
3. **Check before use**: the receiver recomputes the CRC-32 before decompressing or parsing. A
   mismatch (a flipped bit anywhere) raises :class:`~dslab.rpc.codec.CorruptFrame`; the server
   answers with the definite error ``corrupt_frame``: the call did not run.
4. Without the check a flipped bit is caught only by luck (the JSON no longer parses, or the
   schema name no longer matches). If it lands in a digit or a key, the server runs the call with
   **wrong arguments** and nobody notices.

CRC-32 detects every single-bit and every burst error up to 32 bits; it is a check against
noise, not against an attacker (who would recompute it).
"""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from dslab._validate import check_number
from dslab.rpc.codec import Codec, CorruptFrame

MAGIC = b"DS"
COMPRESSED = 0x01
HEADER = struct.Struct(">2sBII")  # magic, flags, body length, crc32


def frame(body: bytes, *, compress_min_bytes: int = 256) -> bytes:
    """``body`` compressed if that pays (rule 1) and framed with its CRC-32 (rule 2)."""
    flags = 0
    if len(body) >= compress_min_bytes:
        packed = zlib.compress(body, 6)
        if len(packed) < len(body):
            body, flags = packed, COMPRESSED
    crc = zlib.crc32(struct.pack(">BI", flags, len(body)) + body)
    return HEADER.pack(MAGIC, flags, len(body), crc) + body


def unframe(data: bytes) -> bytes:
    """The body of a frame, checked (rule 3) and decompressed."""
    if len(data) < HEADER.size:
        raise CorruptFrame(f"frame of {len(data)} bytes is shorter than its header")
    magic, flags, length, crc = HEADER.unpack_from(data)
    body = data[HEADER.size :]
    if magic != MAGIC or length != len(body):
        raise CorruptFrame(f"bad header: magic={magic!r}, length {length} for {len(body)} bytes")
    if zlib.crc32(struct.pack(">BI", flags, length) + body) != crc:
        raise CorruptFrame("crc32 mismatch: the frame was corrupted on the way")
    return zlib.decompress(body) if flags & COMPRESSED else body


def flip_bit(data: bytes, rng: random.Random) -> bytes:
    """``data`` with one bit, chosen by ``rng``, inverted (a noisy link)."""
    if not data:
        return data
    i = rng.randrange(len(data) * 8)
    b = bytearray(data)
    b[i // 8] ^= 1 << (i % 8)
    return bytes(b)


@dataclass(frozen=True)
class FramedCodec(Codec):
    """JSON, then compression and a CRC-32 frame (rules 1-3); a drop-in for :class:`Codec`."""

    compress_min_bytes: int = 256
    #: extra simulated cost of compressing or decompressing, per kB of frame
    compress_per_kb_ms: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("compress_min_bytes", self.compress_min_bytes, min=0, integer=True)
        check_number("compress_per_kb_ms", self.compress_per_kb_ms, min=0)

    def encode(self, schema: str, version: int, value: Any) -> bytes:
        return frame(
            super().encode(schema, version, value), compress_min_bytes=self.compress_min_bytes
        )

    def decode(self, data: bytes, schema: str, version: int) -> Any:
        return super().decode(unframe(data), schema, version)

    def cost_ms(self, nbytes: int) -> float:
        return super().cost_ms(nbytes) + nbytes * self.compress_per_kb_ms / 1024.0


__all__ = ["COMPRESSED", "MAGIC", "FramedCodec", "flip_bit", "frame", "unframe"]
