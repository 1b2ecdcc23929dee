"""Response caching (响应缓存) with a time to live.

Rules
-----
- A successful answer of a route with ``cache_ttl_ms > 0`` is stored under the request (path +
  params) with the time it was stored; a later identical request within ``ttl_ms`` is answered
  from the cache, without calling the backend.
- Entries older than the ttl are misses (and are replaced by the next fresh answer).
- The price: a cached answer may be **stale**: the backend's data may have changed since. The
  longer the ttl, the fewer backend calls and the staler the answers.

Map to the notes: "响应缓存：... 一段时间内多次请求获取到的数据很可能是一样的 ... 将响应缓存起来".
"""

from __future__ import annotations

from typing import Any

from dslab._validate import check_number


class TtlCache:
    def __init__(self) -> None:
        self._data: dict[Any, tuple[float, Any]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Any, now_ms: float, ttl_ms: float) -> tuple[bool, Any]:
        """``(True, value)`` on a fresh hit, ``(False, None)`` otherwise."""
        check_number("ttl_ms", ttl_ms, min=0)
        entry = self._data.get(key)
        if entry is not None and now_ms - entry[0] < ttl_ms:
            self.hits += 1
            return True, entry[1]
        self.misses += 1
        return False, None

    def put(self, key: Any, now_ms: float, value: Any) -> None:
        self._data[key] = (now_ms, value)

    def __len__(self) -> int:
        return len(self._data)
