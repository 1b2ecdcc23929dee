"""Service discovery under a partition: a CP registry (ZooKeeper-like) and an AP one (Eureka-like).

Instances of a service register with "their" registry node and send heartbeats; consumers ask a
registry node which instances exist. The two designs answer the CAP question differently.

CP: :class:`ZkRegistryNode` (ZooKeeper's choice)
------------------------------------------------
- The registry is one replicated state -- the instances, each with the registry node that owns
  its session, and one renewal counter per node -- kept with CASPaxos (:mod:`dslab.cap.cp`).
  Registering, deregistering *and discovering* each need a majority; a node that cannot reach
  one answers ``unavailable`` (definite), as a ZooKeeper server without quorum stops serving.
- Sessions (ZooKeeper's ephemeral nodes). Instances heartbeat the node they registered with.
  Every ``tick_ms`` each node commits a ``Tick``: it bumps its own renewal counter and removes
  the instances whose heartbeats stopped for ``session_timeout_ms``. A node that sees another
  node's counter stand still for ``session_timeout_ms`` (measured on its own clock, so clock
  offsets do not matter) commits the expiry of every session that node owns. So the majority
  side expires the instances registered on the minority side, although they are alive: they
  are on the wrong side of the partition. After the heal, the minority node learns that its
  sessions expired and answers their heartbeats with ``session_expired``; the instances
  register again (what a ZooKeeper client does after ``SessionExpired``).

AP: :class:`EurekaNode` (Eureka's choice)
-----------------------------------------
- Every node serves its local view: register, heartbeat (a lease *renewal*), deregister and
  discover are answered at once. Each change is replicated to every peer, one message each,
  best effort (Eureka's peer-to-peer replication); a renewal for an instance the peer does not
  know registers it there (Eureka answers 404 and the peer re-sends a register).
- Eviction: every ``eviction_interval_ms`` a node removes instances whose lease was not renewed
  for ``lease_ms`` -- at most ``size - int(size * threshold)`` per pass, chosen at random, as
  Eureka's ``evict()`` limits it.
- Self-preservation: the node counts the renewals it received (direct or replicated) in the last
  ``renewal_window_ms`` and expects ``instances * renewal_window_ms / heartbeat_ms``. When the
  count is not above ``int(expected * renewal_percent_threshold)`` (85% by default, Eureka's
  ``renewalPercentThreshold``), the node concludes that *it* has lost the network rather than
  that the instances died, and stops evicting (Eureka's log line: "EMERGENCY! EUREKA MAY BE
  INCORRECTLY CLAIMING INSTANCES ARE UP WHEN THEY'RE NOT"). The price: dead instances stay listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslab._validate import check_number, check_probability, check_type
from dslab.cap.cp import CasPaxosReplica, Proposal
from dslab.cap.messages import (
    Deregister,
    Discover,
    Heartbeat,
    Register,
    ReplicateCancel,
    ReplicateRegister,
    ReplicateRenew,
)
from dslab.core import Context, Handler, Request, Response


# -- the CP registry -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Add:
    """Register ``instance``, its session owned by registry node ``owner``."""

    instance: str
    owner: str


@dataclass(frozen=True, slots=True)
class Remove:
    """Deregister ``instance``."""

    instance: str


@dataclass(frozen=True, slots=True)
class Tick:
    """``owner`` is alive: bump its counter, drop its ``expired`` sessions, and expire the
    sessions of every ``(node, counter)`` in ``expire_owners`` whose counter has not moved."""

    owner: str
    expired: tuple[str, ...] = ()
    expire_owners: tuple[tuple[str, int], ...] = ()


#: The registry's data: ``(instances, counters)``, both sorted tuples of pairs:
#: ``((instance, owner), ...)`` and ``((node, renewal_counter), ...)``.
RegistryData = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, int], ...]]


class RegistryMachine:
    """The sequential registry that CASPaxos replicates (see :class:`ZkRegistryNode`)."""

    def initial(self) -> RegistryData:
        return ((), ())

    def readonly(self, command: Any) -> bool:
        return isinstance(command, Discover)

    def accepts(self, command: Any) -> bool:
        return isinstance(command, (Add, Remove, Tick, Discover))

    def apply(self, data: RegistryData, command: Any) -> tuple[RegistryData, bool, Any]:
        instances, counters = dict(data[0]), dict(data[1])
        if isinstance(command, Discover):
            return data, True, sorted(instances)
        if isinstance(command, Add):
            instances[command.instance] = command.owner
        elif isinstance(command, Remove):
            instances.pop(command.instance, None)
        elif isinstance(command, Tick):
            counters[command.owner] = counters.get(command.owner, 0) + 1
            for inst in command.expired:
                if instances.get(inst) == command.owner:
                    del instances[inst]
            for owner, seen in command.expire_owners:
                if counters.get(owner, 0) == seen:  # still stalled: expire its sessions
                    for inst in [i for i, o in instances.items() if o == owner]:
                        del instances[inst]
        else:
            raise TypeError(f"command={command!r} is not a registry command")
        new = (tuple(sorted(instances.items())), tuple(sorted(counters.items())))
        return new, True, new if isinstance(command, Tick) else None


class ZkRegistryNode(CasPaxosReplica):
    """A node of the CP registry (see the module docstring). Times are local-clock ms."""

    def __init__(
        self,
        *,
        session_timeout_ms: float = 400.0,
        tick_ms: float = 100.0,
        op_timeout_ms: float = 100.0,
        attempt_timeout_ms: float = 20.0,
        backoff_ms: float = 5.0,
    ) -> None:
        super().__init__(
            RegistryMachine(),
            op_timeout_ms=op_timeout_ms,
            attempt_timeout_ms=attempt_timeout_ms,
            backoff_ms=backoff_ms,
        )
        self.session_timeout_ms = check_number(
            "session_timeout_ms", session_timeout_ms, min=0, min_inclusive=False
        )
        self.tick_ms = check_number("tick_ms", tick_ms, min=0, min_inclusive=False)

    def on_start(self, ctx: Context) -> None:
        super().on_start(ctx)
        self.sessions: dict[str, float] = {}  # instance -> local time of its last heartbeat
        self.pending: set[str] = set()  # registrations not decided yet
        self.expired_notice: set[str] = set()  # live sessions the registry has expired
        self.view: RegistryData | None = None  # the last chosen state this node saw
        self.seen: dict[str, tuple[int, float]] = {}  # node -> (counter, local time first seen)
        self.ticking = False
        ctx.set_timer("tick", self.tick_ms)

    def on_request(self, ctx: Context, src: str, req: Request) -> None:
        body = req.body
        if isinstance(body, Heartbeat):
            self.sessions[body.instance] = ctx.now()
            if body.instance in self.expired_notice:
                ctx.send(src, Response(req.id, False, None, "session_expired"))
            else:
                ctx.send(src, Response(req.id, True, None))
        elif isinstance(body, Register):
            self.sessions[body.instance] = ctx.now()
            self.pending.add(body.instance)
            self.expired_notice.discard(body.instance)
            self.submit(ctx, Add(body.instance, self.node), src, req.id)
        elif isinstance(body, Deregister):
            self.sessions.pop(body.instance, None)
            self.submit(ctx, Remove(body.instance), src, req.id)
        elif isinstance(body, Discover):
            self.submit(ctx, body, src, req.id)
        else:
            ctx.send(src, Response(req.id, False, None, f"unknown operation {body!r}"))

    def on_timer(self, ctx: Context, name: str) -> None:
        if name != "tick":
            super().on_timer(ctx, name)
            return
        ctx.set_timer("tick", self.tick_ms)
        if self.ticking:
            return
        now = ctx.now()
        expired = tuple(
            sorted(i for i, t in self.sessions.items() if now - t >= self.session_timeout_ms)
        )
        for i in expired:
            del self.sessions[i]
        owners = {o for _, o in self.view[0]} if self.view is not None else set()
        stalled = tuple(
            (o, c)
            for o, (c, t0) in sorted(self.seen.items())
            if o != self.node and o in owners and now - t0 >= self.session_timeout_ms
        )
        self.ticking = True
        self.submit_internal(ctx, Tick(self.node, expired, stalled))

    def decided(self, ctx: Context, p: Proposal, ok: bool, result: Any) -> None:
        if isinstance(p.command, Tick):
            self.ticking = False
            self._learn(ctx, result)
            return
        if isinstance(p.command, Add):
            self.pending.discard(p.command.instance)
        super().decided(ctx, p, ok, result)

    def abandoned(self, ctx: Context, p: Proposal, definite: bool) -> None:
        if isinstance(p.command, Tick):
            self.ticking = False
            return
        if isinstance(p.command, Add):
            self.pending.discard(p.command.instance)
        super().abandoned(ctx, p, definite)

    def _learn(self, ctx: Context, data: RegistryData) -> None:
        now = ctx.now()
        self.view = data
        for o, c in data[1]:
            if o not in self.seen or self.seen[o][0] != c:
                self.seen[o] = (c, now)
        listed = {i for i, _ in data[0]}
        for inst in sorted(self.sessions):
            if inst not in listed and inst not in self.pending and inst not in self.expired_notice:
                self.expired_notice.add(inst)
                ctx.log("session_expired", instance=inst)

    def instances(self) -> list[str]:
        """The instances in the state this node last accepted (for plots; may lag)."""
        return sorted(i for i, _ in self.data[0])


# -- the AP registry -----------------------------------------------------------------------------
class EurekaNode(Handler):
    """A node of the AP registry (see the module docstring). Times are local-clock ms."""

    def __init__(
        self,
        *,
        lease_ms: float = 300.0,
        heartbeat_ms: float = 100.0,
        eviction_interval_ms: float = 100.0,
        renewal_window_ms: float = 300.0,
        renewal_percent_threshold: float = 0.85,
        self_preservation: bool = True,
    ) -> None:
        self.lease_ms = check_number("lease_ms", lease_ms, min=0, min_inclusive=False)
        self.heartbeat_ms = check_number("heartbeat_ms", heartbeat_ms, min=0, min_inclusive=False)
        self.eviction_interval_ms = check_number(
            "eviction_interval_ms", eviction_interval_ms, min=0, min_inclusive=False
        )
        self.renewal_window_ms = check_number(
            "renewal_window_ms", renewal_window_ms, min=0, min_inclusive=False
        )
        self.renewal_percent_threshold = check_probability(
            "renewal_percent_threshold", renewal_percent_threshold
        )
        self.self_preservation = check_type("self_preservation", self_preservation, bool)

    def on_start(self, ctx: Context) -> None:
        self.node = ctx.node
        self.peers = tuple(sorted(ctx.peers))
        self.leases: dict[str, float] = {}  # instance -> local time of its last renewal
        self.renewals: list[float] = []  # local times of renewals (direct or replicated)
        # An empty registry expects no renewals, so it starts in self-preservation (Eureka, too,
        # does not evict until renewals have been counted).
        self.preserving = self.self_preservation
        ctx.set_timer("evict", self.eviction_interval_ms)

    # -- what experiments and tests read --------------------------------------------------------
    def instances(self) -> list[str]:
        return sorted(self.leases)

    def renewals_in_window(self, now: float) -> int:
        lo = now - self.renewal_window_ms
        self.renewals = [t for t in self.renewals if t > lo]
        return len(self.renewals)

    def threshold(self) -> int:
        """Renewals per window at or below which the node preserves (Eureka's formula)."""
        expected = len(self.leases) * self.renewal_window_ms / self.heartbeat_ms
        return int(expected * self.renewal_percent_threshold)

    # -- inputs ---------------------------------------------------------------------------------
    def _renew(self, ctx: Context, inst: str) -> None:
        now = ctx.now()
        self.leases[inst] = now
        self.renewals.append(now)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self._request(ctx, src, msg)
        elif isinstance(msg, ReplicateRegister):
            self.leases[msg.instance] = ctx.now()
        elif isinstance(msg, ReplicateRenew):
            if msg.instance in self.leases:
                self._renew(ctx, msg.instance)
            else:  # unknown here (404): register it, as the replicating peer would
                self.leases[msg.instance] = ctx.now()
        elif isinstance(msg, ReplicateCancel):
            self.leases.pop(msg.instance, None)

    def _request(self, ctx: Context, src: str, req: Request) -> None:
        body = req.body
        if isinstance(body, Discover):
            ctx.send(src, Response(req.id, True, self.instances()))
            return
        if isinstance(body, Register):
            self.leases[body.instance] = ctx.now()
            out: Any = ReplicateRegister(body.instance)
        elif isinstance(body, Heartbeat):
            if body.instance not in self.leases:
                ctx.send(src, Response(req.id, False, None, "not_found"))
                return
            self._renew(ctx, body.instance)
            out = ReplicateRenew(body.instance)
        elif isinstance(body, Deregister):
            self.leases.pop(body.instance, None)
            out = ReplicateCancel(body.instance)
        else:
            ctx.send(src, Response(req.id, False, None, f"unknown operation {body!r}"))
            return
        ctx.send(src, Response(req.id, True, None))
        for peer in self.peers:
            ctx.send(peer, out)

    def on_timer(self, ctx: Context, name: str) -> None:
        if name != "evict":
            return
        ctx.set_timer("evict", self.eviction_interval_ms)
        now = ctx.now()
        renewals = self.renewals_in_window(now)
        threshold = self.threshold()
        enabled = not self.self_preservation or (threshold > 0 and renewals > threshold)
        if self.preserving == enabled:  # a change of mode
            self.preserving = not enabled
            ctx.log(
                "self_preservation",
                on=self.preserving,
                renewals=renewals,
                threshold=threshold,
                instances=len(self.leases),
            )
        if not enabled:
            return
        expired = sorted(i for i, t in self.leases.items() if now - t > self.lease_ms)
        size = len(self.leases)
        limit = size - int(size * self.renewal_percent_threshold)
        if len(expired) > limit:
            expired = sorted(ctx.rng.sample(expired, limit))
        for inst in expired:
            del self.leases[inst]
            ctx.log("evicted", instance=inst)


def zk_registry(**kwargs: Any):
    """A factory of CP registry nodes (arguments checked now)."""
    ZkRegistryNode(**kwargs)
    return lambda: ZkRegistryNode(**kwargs)


def eureka_registry(**kwargs: Any):
    """A factory of AP registry nodes (arguments checked now)."""
    EurekaNode(**kwargs)
    return lambda: EurekaNode(**kwargs)
