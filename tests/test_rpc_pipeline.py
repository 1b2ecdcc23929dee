"""The Pipeline's compression and integrity check (压缩 / 完整性校验), and sequential downstream."""

from __future__ import annotations

import random
import zlib

import pytest

from dslab.core import Context, Request, Response
from dslab.rpc import Codec, Invocation, RpcServer
from dslab.rpc import experiments as ex
from dslab.rpc.codec import CorruptFrame
from dslab.rpc.pipeline import COMPRESSED, FramedCodec, flip_bit, frame, unframe
from dslab.rpc.server import Downstream, Sequential
from dslab.rpc.services import Counter, Database, Echo


def test_frame_round_trips_compressed_and_uncompressed_bodies():
    for body in (
        b"short",
        b"abc" * 1000,
        random.Random(1).randbytes(600),
    ):
        assert unframe(frame(body)) == body


def test_compression_is_used_only_when_it_pays():
    big = frame(b"the same words again " * 100)
    assert big[2] & COMPRESSED and len(big) < 500
    assert not frame(b"tiny")[2] & COMPRESSED  # below compress_min_bytes
    noise = random.Random(2).randbytes(2000)
    assert not frame(noise)[2] & COMPRESSED  # zlib would make random bytes longer


def test_every_single_bit_flip_is_caught_by_the_crc32():
    data = frame(b'["Counter",1,{"key":"k7","value":7}]')
    for i in range(len(data) * 8):
        b = bytearray(data)
        b[i // 8] ^= 1 << (i % 8)
        with pytest.raises(CorruptFrame):
            unframe(bytes(b))


def test_the_checksum_covers_the_bytes_as_sent_after_compression():
    data = frame(b"x" * 1000)
    _, flags, length, crc = __import__("struct").unpack_from(">2sBII", data)
    assert crc == zlib.crc32(bytes([flags]) + length.to_bytes(4, "big") + data[11:])


def test_flip_bit_changes_exactly_one_bit():
    data = b"hello world"
    out = flip_bit(data, random.Random(3))
    assert sum(bin(a ^ b).count("1") for a, b in zip(data, out, strict=True)) == 1


def test_server_refuses_a_corrupted_frame_as_a_definite_failure():
    codec = FramedCodec()
    h, ctx = RpcServer(Counter, codec=codec), Context("s1")
    payload = flip_bit(codec.encode("Counter", 1, {"key": "x", "by": 1}), random.Random(4))
    h.on_message(ctx, "c1", Request(1, Invocation("Counter", "incr", payload, "c:1")))
    assert [m.msg for m in ctx.sent(Response)] == [Response(1, ok=False, error="corrupt_frame")]
    assert h.stats["applied"] == 0


def test_server_refuses_arguments_the_method_does_not_take():
    payload = Codec().encode("Counter", 1, {"key": "x", "vaLue": 1})
    h, ctx = RpcServer(Counter), Context("s1")
    h.on_message(ctx, "c1", Request(1, Invocation("Counter", "put", payload, "c:1")))
    assert [m.msg.error for m in ctx.sent(Response)] == ["bad_payload"]


def test_without_a_checksum_some_flipped_bits_run_with_wrong_arguments_and_with_it_none():
    df = ex.corruption(seed=1, calls=300, corrupt_prob=0.2).set_index("codec")
    plain, framed = df.loc["JSON only"], df.loc["JSON + zlib + crc32 frame"]
    assert plain.wrong_args_applied > 0, "replay with seed=1"
    assert framed.wrong_args_applied == 0 and framed["failed: corrupt_frame"] == (
        framed.corrupted_on_wire
    ), "replay with seed=1"


def test_compression_table_reports_real_sizes():
    t = ex.compression_table().set_index("payload")
    assert t.loc["small dict", "compressed"] == False  # noqa: E712
    assert t.loc["text, 5 kB", "ratio"] < 0.1 and t.loc["random hex, 5 kB", "ratio"] > 0.5


# -- sequential downstream calls (a cache, then the database on a miss) -------------------------
def test_sequential_steps_run_one_after_another_and_skip_when_told():
    steps = Sequential(
        Downstream("cache", Echo, "echo", {"data": None}),
        Downstream("db", Database, "query", {"key": "k"}, when=lambda r: r[0] is None),
        Downstream("late", Database, "query", {"key": "k"}, when=lambda r: False),
    )
    h, ctx = RpcServer(Counter, downstream={"get": steps}), Context("s1")
    h.on_message(
        ctx,
        "c1",
        Request(1, Invocation("Counter", "get", Codec().encode("Counter", 1, {"key": "x"}), "c:1")),
    )
    h.on_timer(ctx, "svc/1")
    assert [s.dst for s in ctx.sent()] == ["cache"]
    (first,) = ctx.sent()
    ctx.take_effects()
    h.on_message(ctx, "cache", Response(first.msg.id, True, _reply("Echo", None)))
    assert [s.dst for s in ctx.sent()] == ["db"]  # the cache missed: ask the database
    (second,) = ctx.sent()
    ctx.take_effects()
    h.on_message(ctx, "db", Response(second.msg.id, True, _reply("Database", "row:k")))
    assert [s.dst for s in ctx.sent()] == ["c1"]  # the last step is skipped: reply


def _reply(schema, value):
    from dslab.rpc.messages import Reply

    return Reply(Codec().encode(schema, 1, value))
