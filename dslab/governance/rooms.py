"""Per-room scanners (每个机房一套) with cross-room takeover (A机房的检查任务由B机房来做).

Rules (:class:`RoomScanner`, a :class:`~dslab.governance.scanner.Scanner`)
---------------------------------------------------------------------------
- Each machine room (机房) has its own scanner, which probes only the providers of its room
  (short, same-room network paths; no single point of failure). Providers register with their
  room, and ``AllProviders`` tells every scanner each provider's room.
- Scanners send each other ``ScannerBeat`` every ``beat_ms``. A room's scanner is presumed dead
  when no beat from it arrived for ``takeover_ms``.
- **Takeover**: the providers of a room whose scanner is presumed dead are probed by the first
  live scanner after it in the ring of rooms (rooms sorted by name). Every scanner computes
  the same ring, so, as long as the beats arrive, exactly one scanner probes each room: no
  provider is left unscanned, and no provider is probed and marked by two scanners that may
  disagree (the *double-marking* that makes a provider flap between up and down).
- **Handback**: as soon as a beat from the room's own scanner arrives again, the taker drops
  the room at its next round.
- A scanner starting to probe a room starts from the registry's view (who is marked down, see
  :class:`~dslab.governance.scanner.Scanner`), so a provider the dead scanner had marked down
  is marked up by the taker once it answers.
- Self-protection is **per room**: if more than ``max_down_fraction`` of one room's providers
  fail in the same round (the taker cannot reach that room at all, say), none of that room's
  providers is marked. A broken link between rooms therefore never removes a healthy room.
- Detection bound for a provider that dies while its room's scanner is dead: about
  ``takeover_ms + beat_ms + (confirm + 1) * interval_ms + probe_timeout_ms``.

Map to the notes: "每个机房都有一套主机，只负责本机房的检查任务", "高可用：同机房探测，无单点故障",
"容灾能力：作为机房故障解决方案（A机房的检查任务由B机房来做），1min摘除故障机房流量".
"""

from __future__ import annotations

import math
from typing import Any

from dslab._validate import check_number, check_type
from dslab.core import Context
from dslab.governance.messages import AllProviders, ScannerBeat
from dslab.governance.scanner import Scanner


def owner(room: str, rooms: list[str], alive: set[str]) -> str | None:
    """Who scans ``room``: its own scanner if alive, else the next live one in the ring."""
    if room in alive:
        return room
    k = rooms.index(room)
    for step in range(1, len(rooms)):
        other = rooms[(k + step) % len(rooms)]
        if other in alive:
            return other
    return None


class RoomScanner(Scanner):
    def __init__(self, room: str, scanners: dict[str, str], mns: str = "mns", *,
                 takeover_ms: float = 1500.0, beat_ms: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(mns, **kwargs)
        self.room = check_type("room", room, str)
        check_type("scanners", scanners, dict)
        if room not in scanners:
            raise ValueError(f"room={room!r} is not in scanners={sorted(scanners)}")
        self.scanners = dict(sorted(scanners.items()))  # room -> scanner node
        self.rooms = sorted(scanners)
        self.takeover_ms = check_number("takeover_ms", takeover_ms, min=0, min_inclusive=False)
        self.beat_ms = float(beat_ms if beat_ms is not None else self.interval_ms)
        check_number("beat_ms", self.beat_ms, min=0, min_inclusive=False)
        self.heard: dict[str, float] = {}
        self.covering: list[str] = []
        self.room_of: dict[str, str] = {}

    def on_start(self, ctx: Context) -> None:
        super().on_start(ctx)
        now = ctx.now()
        self.heard = {r: now for r in self.rooms}  # a grace period: everyone is presumed alive
        self._beat(ctx)

    def _beat(self, ctx: Context) -> None:
        for r in self.rooms:
            if r != self.room:
                ctx.send(self.scanners[r], ScannerBeat(self.room))
        ctx.set_timer("beat", self.beat_ms)

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == "beat":
            self._beat(ctx)
        else:
            super().on_timer(ctx, name)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, ScannerBeat):
            self.heard[msg.room] = max(self.heard.get(msg.room, -math.inf), ctx.now())
        else:
            super().on_message(ctx, src, msg)

    def alive(self, now: float) -> set[str]:
        return {r for r in self.rooms
                if r == self.room or now - self.heard.get(r, -math.inf) < self.takeover_ms}

    def select(self, ctx: Context, msg: AllProviders) -> list[str]:
        alive = self.alive(ctx.now())
        covering = [r for r in self.rooms if owner(r, self.rooms, alive) == self.room]
        for r in sorted(set(covering) ^ set(self.covering)):
            if r != self.room:  # taking over another room, or handing it back
                ctx.log("takeover" if r in covering else "handback", room=r, by=self.room)
        self.covering = covering
        self.room_of = dict(msg.rooms)
        mine = sorted(p for _, p in msg.providers if self.room_of.get(p) in covering)
        for p in [p for p in self.misses if p not in mine]:
            del self.misses[p]  # a room handed back: forget its history
        return mine

    def groups(self) -> list[list[str]]:
        by_room: dict[str, list[str]] = {}
        for p in self.targets:
            by_room.setdefault(self.room_of[p], []).append(p)
        return [by_room[r] for r in sorted(by_room)]
