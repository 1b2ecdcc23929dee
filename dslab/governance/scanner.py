"""Scanner: centralised health checking of providers (OCTO's Scanner), simplified.

Rules
-----
- Every ``interval_ms`` the scanner asks MNS for every registered provider (the *master* gets the
  service list), probes each one (the *detector*) and waits ``probe_timeout_ms`` for the acks.
- A provider that missed ``confirm`` rounds in a row is marked down (``MarkDown`` to MNS); the
  ``confirm`` > 1 second look is the *updater*'s double check, which avoids removing a provider
  for one lost packet. A provider marked down that answers again is marked up.
- Self-protection (the notes' "熔断机制"): if more than ``max_down_fraction`` of a group of
  providers fail in the same round, the scanner assumes the problem is its own (its network,
  its machine room) and marks nobody in that group down that round. The plain scanner has one
  group, everyone; the per-room scanner (:mod:`~dslab.governance.rooms`) has one per room.
- The registry is the truth about who is marked down: each round starts from the ``down`` list
  of ``AllProviders``, so a scanner that restarts, or takes over another room's providers,
  marks up a provider someone else marked down once it answers again.
- Each ack's round-trip time is kept (``rtt``), for the weight-lowering scanner
  (:mod:`~dslab.governance.weights`).
- Detection bound: a provider that dies just after answering a probe is marked down at most
  ``confirm * interval_ms + probe_timeout_ms`` (+ a few network delays) later.

Map to the notes: "Scanner用于对服务节点做健康检查 ...
master从注册中心拿到服务列表，然后分发给detector来探测节点状态，
然后有变更的状态给updater进行二次校验", and
"高可靠：熔断机制（比如突然很多节点出异常），防止自身异常带来误判".
"""

from __future__ import annotations

from typing import Any

from dslab._validate import check_number, check_type
from dslab.core import Context, Handler
from dslab.governance.messages import AllProviders, ListAll, MarkDown, MarkUp, Probe, ProbeAck


class Scanner(Handler):
    def __init__(self, mns: str = "mns", *, interval_ms: float = 500.0,
                 probe_timeout_ms: float = 100.0, confirm: int = 2,
                 max_down_fraction: float = 0.5) -> None:
        self.mns = check_type("mns", mns, str)
        self.interval_ms = check_number("interval_ms", interval_ms, min=0, min_inclusive=False)
        self.probe_timeout_ms = check_number("probe_timeout_ms", probe_timeout_ms, min=0,
                                             min_inclusive=False)
        if probe_timeout_ms >= interval_ms:
            raise ValueError(f"probe_timeout_ms={probe_timeout_ms!r} must be shorter than "
                             f"interval_ms={interval_ms!r}")
        self.confirm = check_number("confirm", confirm, min=1, integer=True)
        self.max_down_fraction = check_number("max_down_fraction", max_down_fraction, min=0,
                                              max=1)
        self.round = 0
        self.targets: list[str] = []
        self.acked: set[str] = set()
        self.misses: dict[str, int] = {}
        self.down: set[str] = set()
        self.rtt: dict[str, float] = {}
        self.sent_at = 0.0

    def on_start(self, ctx: Context) -> None:
        ctx.set_timer("scan", float(self.interval_ms))

    def on_timer(self, ctx: Context, name: str) -> None:
        if name == "scan":
            ctx.send(self.mns, ListAll())  # master: get the list of providers
            ctx.set_timer("scan", float(self.interval_ms))
        elif name == "verdict":
            self._verdict(ctx)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, AllProviders):
            self.round += 1
            self.targets = self.select(ctx, msg)
            self.down = set(msg.down) & set(self.targets)  # the registry's view
            self.acked, self.rtt, self.sent_at = set(), {}, ctx.now()
            for p in self.targets:  # detector: probe everyone
                ctx.send(p, Probe(self.round))
            ctx.set_timer("verdict", float(self.probe_timeout_ms))
        elif isinstance(msg, ProbeAck) and msg.round == self.round:
            self.acked.add(src)
            self.rtt[src] = ctx.now() - self.sent_at

    def select(self, ctx: Context, msg: AllProviders) -> list[str]:
        """The providers this scanner probes this round (all of them)."""
        return sorted({p for _, p in msg.providers})

    def groups(self) -> list[list[str]]:
        """The groups self-protection looks at (one: everyone)."""
        return [self.targets] if self.targets else []

    def _verdict(self, ctx: Context) -> None:
        for group in self.groups():
            failed = [p for p in group if p not in self.acked]
            if len(failed) > self.max_down_fraction * len(group):
                ctx.log("scanner_protection", failed=len(failed), total=len(group))
                continue  # too many at once: suspect ourselves, change nothing here
            for p in group:
                self.judge(ctx, p)

    def judge(self, ctx: Context, p: str) -> None:
        """The updater: mark ``p`` down after ``confirm`` missed rounds, up when it answers."""
        if p in self.acked:
            self.misses[p] = 0
            if p in self.down:
                self.down.discard(p)
                ctx.send(self.mns, MarkUp(p))
        else:
            self.misses[p] = self.misses.get(p, 0) + 1
            if self.misses[p] >= self.confirm and p not in self.down:  # updater's check
                self.down.add(p)
                ctx.send(self.mns, MarkDown(p))
