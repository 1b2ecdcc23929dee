"""Load balancing policies (服务路由 / 负载均衡): which server gets the next call.

Rules (pure: each policy sees the candidates, the number of calls this client has outstanding on
each, and a random stream):

- :class:`RandomPolicy`: uniform choice. Blind to load.
- :class:`RoundRobin`: the next server in turn. Blind to load; a slow server gets its full share.
- :class:`LeastActive`: the server with the fewest outstanding calls from this client, ties broken
  at random (Dubbo's ``leastactive``). A slow server accumulates outstanding calls, so it gets
  fewer new ones: the policy reacts to latency without measuring it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from dslab._validate import check_choice


class Policy:
    name = "policy"

    def choose(
        self, candidates: Sequence[str], active: Mapping[str, int], rng: random.Random
    ) -> str:
        raise NotImplementedError


class RandomPolicy(Policy):
    name = "random"

    def choose(
        self, candidates: Sequence[str], active: Mapping[str, int], rng: random.Random
    ) -> str:
        return candidates[rng.randrange(len(candidates))]


class RoundRobin(Policy):
    name = "round_robin"

    def __init__(self) -> None:
        self.next = 0

    def choose(
        self, candidates: Sequence[str], active: Mapping[str, int], rng: random.Random
    ) -> str:
        node = candidates[self.next % len(candidates)]
        self.next += 1
        return node


class LeastActive(Policy):
    name = "least_active"

    def choose(
        self, candidates: Sequence[str], active: Mapping[str, int], rng: random.Random
    ) -> str:
        least = min(active.get(c, 0) for c in candidates)
        best = [c for c in candidates if active.get(c, 0) == least]
        return best[rng.randrange(len(best))]


POLICIES = {"random": RandomPolicy, "round_robin": RoundRobin, "least_active": LeastActive}


def make_policy(name: str) -> Policy:
    check_choice("policy", name, sorted(POLICIES))
    return POLICIES[name]()
