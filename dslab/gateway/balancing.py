"""Load balancing (负载均衡) over the instances of a service, and gray release (灰度发布).

Rules
-----
- ``round_robin``: instances in turn (sorted names, so the order is deterministic).
- ``random``: uniform choice from the gateway node's own random stream.
- ``least_pending``: the instance with the fewest calls in flight from this gateway (ties by name).
- Gray (canary) release by **weight**: each request goes to the canary version with probability
  ``weight`` (a per-request coin, so one user may see both versions).
- Gray release by **header**: requests whose ``header`` equals ``value`` (say ``x-canary: 1`` on
  internal users) go to the canary, all others to the stable version: a user sees one version.

Map to the notes: "负载均衡：根据各个微服务实例的负载情况或者具体的负载均衡策略配置
对请求实现动态的负载均衡" and "灰度发布：将请求动态分流到不同的服务版本".
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from dslab._validate import check_choice, check_probability, check_type
from dslab.gateway.messages import ApiRequest

POLICIES = ("round_robin", "random", "least_pending")


class Balancer:
    def __init__(self, policy: str = "round_robin") -> None:
        self.policy = check_choice("policy", policy, POLICIES)
        self._next: Counter[tuple[str, ...]] = Counter()

    def pick(self, instances: list[str], rng: random.Random, pending: Counter[str]) -> str:
        if not instances:
            raise ValueError("instances=[] : a service needs at least one instance")
        instances = sorted(instances)
        if self.policy == "random":
            return instances[rng.randrange(len(instances))]
        if self.policy == "least_pending":
            return min(instances, key=lambda i: (pending[i], i))
        key = tuple(instances)
        i = self._next[key] % len(instances)
        self._next[key] += 1
        return instances[i]


@dataclass(frozen=True)
class CanaryRule:
    """Send part of a service's traffic to version ``canary`` (the rest to ``stable``)."""

    service: str
    stable: str = "v1"
    canary: str = "v2"
    weight: float = 0.0
    header: str | None = None
    value: str = "1"

    def __post_init__(self) -> None:
        check_type("service", self.service, str)
        check_probability("weight", self.weight)
        if self.header is not None:
            check_type("header", self.header, str)

    def version(self, request: ApiRequest, rng: random.Random) -> str:
        if self.header is not None:
            return self.canary if request.header(self.header) == self.value else self.stable
        return self.canary if rng.random() < self.weight else self.stable
