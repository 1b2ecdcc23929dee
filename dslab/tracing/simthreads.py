"""Simulated threads for a server's asynchronous calls (the same three rules, no real threads).

A traced server (:class:`~dslab.tracing.filters.TracingServerFilter`) keeps the current trace
context of a request in the request's own thread. With ``propagation`` other than ``"request"``,
each downstream call is handed to a pool of ``size`` simulated threads (round robin, like a pool
whose threads are reused), and the call reads its context from *that* thread's slots:

- ``"thread_local"``: the pool thread's slots hold nothing from the request (rule 1 of
  :mod:`dslab.tracing.propagation`), or what an earlier task left there;
- ``"inheritable"``: a pool thread copies the slots of the request thread that made it start
  (its first task), and keeps that copy for ever (rule 2);
- ``"transmittable"``: the request thread's slots are captured at submit, replayed on the pool
  thread for the task, and restored afterwards (rule 3).

Only *which slots the task sees* is modelled: the task runs at once, inside the filter call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dslab._validate import check_choice, check_number
from dslab.tracing.propagation import capture, replay, restore

MODES = ("thread_local", "inheritable", "transmittable")
T = TypeVar("T")


@dataclass
class SimThread:
    name: str
    slots: dict[str, Any] = field(default_factory=dict)
    started: bool = False
    tasks: int = 0


class SimThreadPool:
    """``size`` reused threads; :meth:`run` runs a task on the next one under ``mode``'s rule."""

    def __init__(self, size: int, mode: str, name: str = "async") -> None:
        check_number("size", size, min=1, integer=True)
        self.mode = check_choice("mode", mode, MODES)
        self.threads = [SimThread(f"{name}-{i}") for i in range(size)]
        self.next = 0

    def run(self, caller_slots: Mapping[str, Any], task: Callable[[dict[str, Any]], T]) -> T:
        """Run ``task(slots)`` on a pool thread; ``caller_slots`` are the submitting thread's."""
        t = self.threads[self.next % len(self.threads)]
        self.next += 1
        if not t.started:
            t.started = True
            if self.mode == "inheritable":  # Thread.init(): copy the creator's slots, once
                t.slots = dict(caller_slots)
        t.tasks += 1
        if self.mode != "transmittable":
            return task(t.slots)
        backup = replay(t.slots, capture(caller_slots))
        try:
            return task(t.slots)
        finally:
            restore(t.slots, backup)


__all__ = ["MODES", "SimThread", "SimThreadPool"]
