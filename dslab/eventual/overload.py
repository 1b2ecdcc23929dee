"""Basically available: a server with finite capacity that sheds or degrades non-core work.

The notes describe "basically available" (基本可用) as losing *some* availability under faults or
overload rather than all of it, in one of two ways:

- *response-time loss* (响应时间上的损失): requests still succeed, only slower;
- *feature loss* (系统功能上的损失): non-core features are switched off so the core keeps working.

This handler is a server with ``workers`` parallel workers and a FIFO queue of at most
``queue_limit`` waiting requests. A request's body is a :class:`Job` of kind ``"core"`` (say,
checkout) or ``"extra"`` (say, recommendations). Rules:

1. A job is served by one worker for an exponentially distributed time with mean
   ``service_ms[kind]`` (drawn from the node's own random stream), then answered ``ok``.
2. Policy ``"none"``: every job queues; a job that finds the queue full is refused
   (``ok=False``, ``"queue_full"``), core or not. Past capacity the queue fills, so everyone waits
   about ``queue_limit`` service times: the response-time loss hits the core too.
3. Policy ``"shed"``: an extra job that finds ``shed_at`` or more jobs waiting is refused at once
   (``ok=False``, ``"shed"``): feature loss, so that the core's queue stays short.
4. Policy ``"degrade"``: such an extra job is answered at once with a cheap fallback
   (``ok=True``, body ``Served(kind, degraded=True)``) instead of being queued: a reduced feature
   rather than none (think "popular items" instead of personal recommendations).

A refusal is a definite failure (the job was not done), so ``ok=False`` is honest here.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dslab._validate import check_choice, check_number, check_type
from dslab.core import Context, Handler, Request, Response

KINDS = ("core", "extra")
POLICIES = ("none", "shed", "degrade")


@dataclass(frozen=True, slots=True)
class Job:
    kind: str


@dataclass(frozen=True, slots=True)
class Served:
    kind: str
    degraded: bool = False


class OverloadServer(Handler):
    """A finite-capacity server (module rules)."""

    def __init__(
        self,
        *,
        policy: str = "none",
        service_ms: Mapping[str, float] | None = None,
        workers: int = 1,
        queue_limit: int = 200,
        shed_at: int = 5,
    ) -> None:
        check_choice("policy", policy, POLICIES)
        self.service_ms = dict(service_ms or {"core": 10.0, "extra": 10.0})
        for kind in KINDS:
            if kind not in self.service_ms:
                raise ValueError(f"service_ms={self.service_ms!r} needs a mean for {kind!r}")
            check_number(f"service_ms[{kind!r}]", self.service_ms[kind], min=0, min_inclusive=False)
        check_number("workers", workers, min=1, integer=True)
        check_number("queue_limit", queue_limit, min=0, integer=True)
        check_number("shed_at", shed_at, min=0, integer=True)
        self.policy = policy
        self.workers = workers
        self.queue_limit = queue_limit
        self.shed_at = shed_at
        self.queue: deque[tuple[str, int, str]] = deque()
        self.busy: dict[int, tuple[str, int, str]] = {}
        self.stats: Counter[str] = Counter()

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if not isinstance(msg, Request):
            return
        job = msg.body
        if not isinstance(job, Job) or job.kind not in KINDS:
            ctx.send(src, Response(msg.id, False, None, f"not a Job of kind {KINDS}: {job!r}"))
            return
        waiting = len(self.queue)
        if job.kind == "extra" and self.policy != "none" and waiting >= self.shed_at:
            if self.policy == "shed":
                self.stats["shed"] += 1
                ctx.send(src, Response(msg.id, False, None, "shed"))
            else:
                self.stats["degraded"] += 1
                ctx.send(src, Response(msg.id, True, Served(job.kind, degraded=True)))
            return
        if waiting >= self.queue_limit:
            self.stats["queue_full"] += 1
            ctx.send(src, Response(msg.id, False, None, "queue_full"))
            return
        self.queue.append((src, msg.id, job.kind))
        self._start(ctx)

    def _start(self, ctx: Context) -> None:
        for slot in range(self.workers):
            if not self.queue:
                return
            if slot in self.busy:
                continue
            src, rid, kind = self.busy[slot] = self.queue.popleft()
            ctx.set_timer(f"worker{slot}", ctx.rng.expovariate(1.0 / self.service_ms[kind]))

    def on_timer(self, ctx: Context, name: str) -> None:
        check_type("name", name, str)
        slot = int(name.removeprefix("worker"))
        src, rid, kind = self.busy.pop(slot)
        self.stats[f"served_{kind}"] += 1
        ctx.send(src, Response(rid, True, Served(kind)))
        self._start(ctx)
