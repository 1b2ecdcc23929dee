"""Weight lowering (降低权重): the scanner turns a sick provider down step by step.

OCTO's Scanner, in the notes' words, "lowers the node's weight when it finds it unhealthy".
Removing a provider is all or nothing; a weight lets a provider that is slow or flaky, but
alive, receive less traffic while it recovers, and come back gradually.

Rules (:class:`WeightScanner`, a :class:`~dslab.governance.scanner.Scanner`)
---------------------------------------------------------------------------
- Weights are integers from 0 to ``full`` (10 in MNS). Consumers pick providers with
  probability proportional to their weight; weight 0 means not listed (marked down).
- A round is **bad** for a provider if it did not answer the probe, or answered slower than
  ``slow_ms``. A bad round lowers its weight by ``step_down``; on reaching 0 it is removed.
- A provider that missed ``confirm`` rounds in a row is dead, not slow: it goes to 0 at once
  (the plain scanner's rule, so a crash is still detected as fast).
- A **good** round raises the weight by ``step_up`` up to ``full``: a recovered provider (or
  one that was removed and answers again) warms up over ``full / step_up`` rounds instead of
  taking its full share at once.
- Every change is one ``SetWeight`` to MNS, which pushes the new weights to the agents. The
  self-protection of the plain scanner applies: if too many providers fail a round at once,
  nobody's weight changes that round.

Map to the notes: "Scanner用于对服务节点做健康检查，当发现节点不健康时降低节点的权重".
"""

from __future__ import annotations

from typing import Any

from dslab._validate import check_number
from dslab.core import Context
from dslab.governance.messages import AllProviders, SetWeight
from dslab.governance.mns import FULL_WEIGHT
from dslab.governance.scanner import Scanner


class WeightScanner(Scanner):
    def __init__(self, mns: str = "mns", *, slow_ms: float = 30.0, step_down: int = 4,
                 step_up: int = 2, full: int = FULL_WEIGHT, **kwargs: Any) -> None:
        super().__init__(mns, **kwargs)
        self.full = check_number("full", full, min=1, integer=True)
        self.slow_ms = check_number("slow_ms", slow_ms, min=0, min_inclusive=False)
        if slow_ms >= self.probe_timeout_ms:
            raise ValueError(f"slow_ms={slow_ms!r} must be shorter than "
                             f"probe_timeout_ms={self.probe_timeout_ms!r}")
        self.step_down = check_number("step_down", step_down, min=1, max=full, integer=True)
        self.step_up = check_number("step_up", step_up, min=1, max=full, integer=True)
        self.weight: dict[str, int] = {}

    def select(self, ctx: Context, msg: AllProviders) -> list[str]:
        targets = super().select(ctx, msg)
        down = set(msg.down)
        for p in targets:  # a provider the registry lists as up again (it re-registered)
            if self.weight.get(p) == 0 and p not in down:
                self.weight[p] = self.full
        return targets

    def judge(self, ctx: Context, p: str) -> None:
        old = self.weight.get(p, self.full)
        if p in self.acked:
            self.misses[p] = 0
            bad = self.rtt[p] > self.slow_ms
        else:
            self.misses[p] = self.misses.get(p, 0) + 1
            bad = True
        if self.misses[p] >= self.confirm:
            new = 0  # dead, not slow
        elif bad:
            new = max(0, old - self.step_down)
        else:
            new = min(self.full, old + self.step_up)
        self.weight[p] = new
        if new != old or (new == 0 and p not in self.down):
            ctx.send(self.mns, SetWeight(p, new))
            if new == 0:
                self.down.add(p)
            else:
                self.down.discard(p)
