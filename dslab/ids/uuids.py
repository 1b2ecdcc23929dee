"""Scheme 4: UUIDs, 128-bit identifiers that any node makes alone (RFC 4122, now RFC 9562).

A UUID is written as 32 hexadecimal digits in groups 8-4-4-4-12 (36 characters with the dashes).
Six of its 128 bits are fixed: four give the *version* (how it was made), two the *variant*.
The notes list the versions; this module makes three of them, deterministically:

- **version 4** (:func:`uuid4_from`): 122 random bits. Here they come from the node's own random
  stream (``ctx.rng``), never from the standard library's ``uuid4``, which reads the system's
  entropy and would make runs unrepeatable. Unique with overwhelming probability (see
  :func:`collision_probability`, the birthday bound), unordered, and unguessable only if the
  random source is (a seeded PRNG is not: fine for a simulation, not for security tokens).
- **version 1** (:class:`UuidGenerator` with ``version=1``): a 60-bit timestamp in 100 ns ticks
  since 1582-10-15 (from the node's *local* clock), a 14-bit clock sequence, and a 48-bit node id
  (normally the MAC address, which the ID then leaks: the notes' 不安全). The timestamp's *low* 32
  bits come first, so sorting v1 strings follows time only within a window of 2^32 ticks (429.5
  s) and then wraps: v1 UUIDs are not ordered. If the clock steps back, the generator keeps
  counting from its last timestamp (as CPython's ``uuid1`` does), and a random clock sequence at
  each start protects against a restart onto an earlier time.
- **version 7** (RFC 9562): 48 bits of Unix milliseconds *first*, then a 12-bit counter (RFC 9562
  section 6.2, method 1) and 62 random bits. Sortable by time, like Snowflake, with no worker id to
  assign. Not in the notes, which predate RFC 9562; here to show what fixed v1's ordering.

Every UUID costs 16 bytes as a binary column and 36 as text, against 8 for a 64-bit ID, and a
random primary key scatters inserts all over a B-tree index (the notes' 存储消耗空间大, 无序).
"""

from __future__ import annotations

import math
import random
import uuid
from typing import Any

from dslab._validate import check_choice, check_number, check_type
from dslab.core import Context, Handler, Request
from dslab.ids.messages import NextId
from dslab.ids.server import reply
from dslab.ids.snowflake import SIM_START_UNIX_MS

VERSIONS = (1, 4, 7)
#: 100 ns ticks between the Gregorian reform (1582-10-15, v1's epoch) and 1970-01-01.
GREGORIAN_OFFSET_TICKS = 0x01B21DD213814000
#: Random bits in a version 4 UUID (128, minus 4 version bits and 2 variant bits).
V4_RANDOM_BITS = 122


def uuid4_from(rng: random.Random) -> str:
    """A version 4 UUID from ``rng`` (a ``random.Random``: in a handler, ``ctx.rng``)."""
    check_type("rng", rng, random.Random)
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def uuid1_fields(ticks: int, clock_seq: int, node_id: int) -> str:
    """A version 1 UUID from a 60-bit ``ticks`` timestamp (100 ns since 1582-10-15), a 14-bit
    ``clock_seq`` and a 48-bit ``node_id``."""
    check_number("ticks", ticks, min=0, max=(1 << 60) - 1, integer=True)
    check_number("clock_seq", clock_seq, min=0, max=(1 << 14) - 1, integer=True)
    check_number("node_id", node_id, min=0, max=(1 << 48) - 1, integer=True)
    fields = (
        ticks & 0xFFFFFFFF,  # time_low: the fastest-changing bits come first
        (ticks >> 32) & 0xFFFF,  # time_mid
        (ticks >> 48) & 0x0FFF,  # time_hi (the version goes in the top 4 bits)
        (clock_seq >> 8) & 0x3F,  # clock_seq_hi (the variant goes in the top 2 bits)
        clock_seq & 0xFF,
        node_id,
    )
    return str(uuid.UUID(fields=fields, version=1))


def uuid7_fields(unix_ms: int, counter: int, rand_b: int) -> str:
    """A version 7 UUID: 48-bit ``unix_ms``, 12-bit ``counter`` (``rand_a``), 62-bit ``rand_b``."""
    check_number("unix_ms", unix_ms, min=0, max=(1 << 48) - 1, integer=True)
    check_number("counter", counter, min=0, max=(1 << 12) - 1, integer=True)
    check_number("rand_b", rand_b, min=0, max=(1 << 62) - 1, integer=True)
    value = (unix_ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand_b
    return str(uuid.UUID(int=value))


def uuid_version(text: str) -> int:
    """The version digit of a UUID string."""
    check_type("text", text, str)
    return uuid.UUID(text).version or 0


def collision_probability(n: Any, bits: int = V4_RANDOM_BITS) -> float:
    """P(at least two of ``n`` random ``bits``-bit values are equal): the birthday bound,
    ``1 - exp(-n (n - 1) / 2^(bits + 1))``, computed without losing tiny values to rounding."""
    check_number("n", n, min=0)
    check_number("bits", bits, min=1, integer=True)
    return -math.expm1(-n * (n - 1) / 2.0 ** (bits + 1))


def n_for_probability(p: float, bits: int = V4_RANDOM_BITS) -> float:
    """How many random ``bits``-bit values give a collision with probability ``p``."""
    check_number("p", p, min=0, max=1, min_inclusive=False)
    if p >= 1:
        return math.inf
    return math.sqrt(2.0 ** (bits + 1) * -math.log1p(-p))


class UuidGenerator:
    """Makes UUIDs of one ``version`` (1, 4 or 7) from a local clock reading and ``rng``.

    ``node_id``: v1's 48-bit node field. ``clock_base_unix_ms``: the Unix time at which the local
    clock reads 0 (the simulation starts on 2026-01-01 by default).
    """

    def __init__(
        self,
        version: int,
        rng: random.Random,
        *,
        node_id: int = 0,
        clock_base_unix_ms: int = SIM_START_UNIX_MS,
    ) -> None:
        check_choice("version", version, VERSIONS)
        check_type("rng", rng, random.Random)
        check_number("node_id", node_id, min=0, max=(1 << 48) - 1, integer=True)
        check_number("clock_base_unix_ms", clock_base_unix_ms, min=0, integer=True)
        self.version = version
        self.rng = rng
        self.node_id = node_id
        self.clock_base_unix_ms = clock_base_unix_ms
        self.clock_seq = rng.getrandbits(14) if version == 1 else 0
        self.last_ticks = -1
        self.last_ms = -1
        self.counter = 0

    def next_uuid(self, now_ms: float) -> str:
        """A new UUID, with ``now_ms`` the local clock (ms since the simulation started)."""
        if self.version == 4:
            return uuid4_from(self.rng)
        if self.version == 1:
            # 100 ns ticks, in integers where precision matters (1e16 ticks exceed a float's)
            ticks = (self.clock_base_unix_ms * 10_000 + math.floor(now_ms * 10_000)
                     + GREGORIAN_OFFSET_TICKS)
            if ticks <= self.last_ticks:  # same tick, or the clock went back: keep counting
                ticks = self.last_ticks + 1
            self.last_ticks = ticks
            return uuid1_fields(ticks, self.clock_seq, self.node_id)
        unix_ms = self.clock_base_unix_ms + math.floor(now_ms)
        if unix_ms <= self.last_ms:  # same ms (or the clock went back): count on
            unix_ms = self.last_ms
            self.counter += 1
            if self.counter >= 1 << 12:  # counter full: borrow the next millisecond
                unix_ms += 1
                self.counter = self.rng.getrandbits(11)
        else:
            self.counter = self.rng.getrandbits(11)  # random start, room to count up
        self.last_ms = unix_ms
        return uuid7_fields(unix_ms, self.counter, self.rng.getrandbits(62))


class UuidNode(Handler):
    """An ID server that answers each :class:`NextId` with a UUID of ``version`` made locally.

    (In practice every application node makes its own UUIDs; a server here lets the chapter
    compare all schemes under the same client load.)
    """

    def __init__(self, version: int = 4, node_id: int = 0) -> None:
        check_choice("version", version, VERSIONS)
        check_number("node_id", node_id, min=0, max=(1 << 48) - 1, integer=True)
        self.version = version
        self.node_id = node_id
        self.gen: UuidGenerator | None = None

    def on_start(self, ctx: Context) -> None:
        self.gen = UuidGenerator(self.version, ctx.rng, node_id=self.node_id)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request) and isinstance(msg.body, NextId):
            reply(ctx, src, msg, self.gen.next_uuid(ctx.now()))
