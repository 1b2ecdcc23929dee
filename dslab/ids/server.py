"""What the ID servers share: replying to a client, and a single-threaded work queue.

Rules:

1. A client's :class:`~dslab.ids.messages.NextId` arrives inside a :class:`dslab.core.Request`; the
   server answers with :func:`reply` (the ID) or :func:`refuse` (a *definite* failure: no ID was
   handed out, so the client may simply retry elsewhere).
2. :class:`QueuedServer` models a server that does one thing at a time (a database committing a
   transaction, Redis's single command thread): requests wait in a FIFO queue and each occupies the
   server for ``cost(msg)`` ms of its local time before :meth:`QueuedServer.serve` runs. That is
   where the throughput limits of the database schemes come from: a server that spends 0.25 ms per
   request cannot hand out more than 4000 IDs per second, however many clients ask. With a cost of
   0 every request is served the moment it arrives.
3. The queue and the timer that drives it are volatile: a crash loses every queued request (the
   clients see timeouts, indefinite outcomes) and only ``ctx.storage`` survives.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from dslab._validate import check_number
from dslab.core import Context, Handler, Request, Response

SERVE_TIMER = "serve"


def reply(ctx: Context, src: str, req: Request, value: Any) -> None:
    """Answer request ``req`` from ``src`` with the ID ``value``."""
    ctx.send(src, Response(req.id, True, value))


def refuse(ctx: Context, src: str, req: Request, error: str) -> None:
    """Answer ``req`` with a definite failure: no ID was handed out."""
    ctx.send(src, Response(req.id, False, None, error))


class QueuedServer(Handler):
    """A handler that serves its requests one at a time, each taking ``cost(msg)`` ms.

    Subclasses implement :meth:`serve` (do the work and answer) and may override :meth:`cost`;
    they call :meth:`enqueue` for every message that needs the server's single thread.
    """

    def __init__(self, service_ms: float) -> None:
        check_number("service_ms", service_ms, min=0)
        self.service_ms = float(service_ms)
        self._queue: deque[tuple[str, Any]] = deque()
        self._busy = False
        self.served = 0

    def cost(self, msg: Any) -> float:
        """Local ms the server is busy with ``msg`` (default: ``service_ms``)."""
        return self.service_ms

    def serve(self, ctx: Context, src: str, msg: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def queue_length(self) -> int:
        return len(self._queue)

    def enqueue(self, ctx: Context, src: str, msg: Any) -> None:
        """Queue ``msg``; start serving at once if the server is idle."""
        self._queue.append((src, msg))
        if not self._busy:
            self._next(ctx)

    def _next(self, ctx: Context) -> None:
        while self._queue:
            cost = self.cost(self._queue[0][1])
            if cost > 0.0:
                self._busy = True
                ctx.set_timer(SERVE_TIMER, float(cost))
                return
            src, msg = self._queue.popleft()
            self.served += 1
            self.serve(ctx, src, msg)
        self._busy = False

    def on_timer(self, ctx: Context, name: str) -> None:
        if name != SERVE_TIMER or not self._queue:
            return
        src, msg = self._queue.popleft()
        self.served += 1
        self.serve(ctx, src, msg)
        self._next(ctx)
