"""Remote procedure calls on the simulated network (the notes' 五、RPC; Birrell & Nelson 1984).

One concept per module, in the order a call meets them:

================================  ==========================================================
notes                             module
================================  ==========================================================
客户端代理 (client proxy)          :mod:`dslab.rpc.interface` (``Service``, ``Stub``)
客户端Filter (client filters)      :mod:`dslab.rpc.filters`, :mod:`dslab.rpc.balance`,
                                  :mod:`dslab.breaker`
Pipeline: 序列化 (serialization)   :mod:`dslab.rpc.codec`
连接池 / 线程池 (client pools)      :mod:`dslab.rpc.pool`
执行过程 1-5, 13-15 (client)        :mod:`dslab.rpc.client`
服务端Filter, 线程池 (server)       :mod:`dslab.rpc.server`
慢请求隔离, 方法限流 (isolation)    :mod:`dslab.rpc.isolation`, :mod:`dslab.rpc.server`
完整性校验, 解压缩 (pipeline)       :mod:`dslab.rpc.pipeline`
Netty client/server               the :class:`dslab.sim.Sim` network (latency, loss, faults)
================================  ==========================================================

Birrell & Nelson's user-stub / RPCRuntime / server-stub split maps to ``Stub`` / ``RpcClient`` +
network / ``RpcServer``. Their "at most once" call identifiers are ``Invocation.call_id`` (with
``RpcServer(dedupe=True)``).
"""

from dslab.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from dslab.rpc.balance import LeastActive, Policy, RandomPolicy, RoundRobin, make_policy
from dslab.rpc.client import STAGES, Call, RpcClient
from dslab.rpc.codec import Codec, SchemaMismatch
from dslab.rpc.filters import (
    CircuitBreakerFilter,
    Filter,
    HeaderFilter,
    LoadBalanceFilter,
    RetryFilter,
    TimeoutFilter,
)
from dslab.rpc.interface import Service, Stub, idempotent, remote_methods
from dslab.rpc.messages import Invocation, Reply
from dslab.rpc.pool import BoundedPool, ConnectionPool, ThreadPool
from dslab.rpc.server import (
    AuthFilter,
    Downstream,
    Job,
    RateLimitFilter,
    RpcServer,
    ServerFilter,
    server,
)

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "OPEN",
    "STAGES",
    "AuthFilter",
    "BoundedPool",
    "Call",
    "CircuitBreaker",
    "CircuitBreakerFilter",
    "Codec",
    "ConnectionPool",
    "Downstream",
    "Filter",
    "HeaderFilter",
    "Invocation",
    "Job",
    "LeastActive",
    "LoadBalanceFilter",
    "Policy",
    "RandomPolicy",
    "RateLimitFilter",
    "Reply",
    "RetryFilter",
    "RoundRobin",
    "RpcClient",
    "RpcServer",
    "SchemaMismatch",
    "ServerFilter",
    "Service",
    "Stub",
    "ThreadPool",
    "TimeoutFilter",
    "idempotent",
    "make_policy",
    "remote_methods",
    "server",
]
