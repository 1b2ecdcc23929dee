"""Distributed tracing in the style of Dapper (the notes' 六、链路追踪; Sigelman et al. 2010).

==============================  ============================================================
notes                           module
==============================  ============================================================
trace id, span id, parent id;   :mod:`dslab.tracing.context` (``TraceContext``)
ThreadLocal / 跨线程传递
span, Annotations (cs sr ss cr) :mod:`dslab.tracing.span` (``SpanPart``, ``Collector``)
埋点 in the RPC middleware       :mod:`dslab.tracing.filters` (client and server filters)
追踪树 (the trace tree)          :mod:`dslab.tracing.analysis` (tree check, skew, critical path)
跨线程传递: ThreadLocal,         :mod:`dslab.tracing.propagation` (real threads),
InheritableThreadLocal,         :mod:`dslab.tracing.simthreads` (the simulated RPC),
TransmittableThreadLocal        :mod:`dslab.tracing.pooldemo` (the experiment)
SpanId 表示层级 (MTrace)          :func:`dslab.tracing.filters.child_span_id`, ``parent_of``
批量压缩上报 (MTrace)             :mod:`dslab.tracing.reporter`, ``SpanBatch``
MySQL / Cache 埋点               client spans of :func:`dslab.tracing.experiments.cache_db`
Dapper's overhead (Table 2)     :func:`dslab.tracing.experiments.overhead`
==============================  ============================================================
"""

from dslab.tracing.analysis import (
    check_tree,
    correct_skew,
    critical_path,
    depths,
    self_time,
    spans_frame,
)
from dslab.tracing.context import TraceContext, new_id
from dslab.tracing.filters import TracingClientFilter, TracingServerFilter, child_span_id, parent_of
from dslab.tracing.propagation import (
    InheritableThreadLocal,
    InheritingThreadPoolExecutor,
    ThreadLocal,
    TransmittableThreadLocal,
    Transmitter,
    TtlExecutor,
    ttl_wrap,
)
from dslab.tracing.reporter import BatchReporter, DirectReporter
from dslab.tracing.span import Collector, SpanBatch, SpanPart, SpanReport

__all__ = [
    "BatchReporter",
    "Collector",
    "DirectReporter",
    "InheritableThreadLocal",
    "InheritingThreadPoolExecutor",
    "SpanBatch",
    "SpanPart",
    "SpanReport",
    "ThreadLocal",
    "TraceContext",
    "TracingClientFilter",
    "TracingServerFilter",
    "TransmittableThreadLocal",
    "Transmitter",
    "TtlExecutor",
    "check_tree",
    "child_span_id",
    "correct_skew",
    "critical_path",
    "depths",
    "new_id",
    "parent_of",
    "self_time",
    "spans_frame",
    "ttl_wrap",
]
