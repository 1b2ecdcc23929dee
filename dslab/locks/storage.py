"""A storage service protected by fencing tokens (Kleppmann 2016; Chubby, Burrows 2006).

Rules:

1. Every lock grant carries a token that strictly increases (the lock server's per-key counter,
   :mod:`dslab.locks.redis` rule 6).
2. A client sends its token with every :class:`Read` and :class:`Write`. With ``fencing=True`` the
   storage remembers the largest token it has seen and refuses (definitely, ``error="stale_token"``)
   any request with a smaller one. A holder whose lock expired while it was paused comes back
   with an old token and is turned away, so its stale read-modify-write cannot overwrite the
   newer holder's work.
3. With ``fencing=False`` every request is served: the lost update of two overlapping holders
   shows up as a counter smaller than the number of accepted writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslab._validate import check_type
from dslab.core import Context, Handler, Request, Response


@dataclass(frozen=True, slots=True)
class Read:
    key: str
    token: int | None = None


@dataclass(frozen=True, slots=True)
class Write:
    key: str
    value: Any
    token: int | None = None


class FencedStorage(Handler):
    """A key-value store that rejects requests carrying a token older than the largest seen."""

    def __init__(self, *, fencing: bool = True) -> None:
        check_type("fencing", fencing, bool)
        self.fencing = fencing
        self.data: dict[str, Any] = {}
        self.max_token: int | None = None
        self.accepted = 0
        self.rejected = 0

    def admit(self, token: int | None) -> bool:
        """The fencing check: is ``token`` at least the largest token seen so far?"""
        if not self.fencing or token is None:
            return True
        if self.max_token is not None and token < self.max_token:
            return False
        self.max_token = token
        return True

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if not isinstance(msg, Request) or not isinstance(msg.body, Read | Write):
            return
        body = msg.body
        if not self.admit(body.token):
            self.rejected += 1
            ctx.log("rejected", key=body.key, token=body.token, max_token=self.max_token)
            ctx.send(src, Response(msg.id, False, None, "stale_token"))
            return
        if isinstance(body, Write):
            self.data[body.key] = body.value
            self.accepted += 1
            ctx.log("written", key=body.key, value=body.value, token=body.token)
            ctx.send(src, Response(msg.id, True, body.value))
        else:
            ctx.send(src, Response(msg.id, True, self.data.get(body.key, 0)))
