"""Distributed tracing in the style of Dapper (the notes' 六、链路追踪; Sigelman et al. 2010).

==============================  ============================================================
notes                           module
==============================  ============================================================
trace id, span id, parent id;   :mod:`dslab.tracing.context` (``TraceContext``)
ThreadLocal / 跨线程传递
span, Annotations (cs sr ss cr) :mod:`dslab.tracing.span` (``SpanPart``, ``Collector``)
埋点 in the RPC middleware       :mod:`dslab.tracing.filters` (client and server filters)
追踪树 (the trace tree)          :mod:`dslab.tracing.analysis` (tree check, skew, critical path)
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
from dslab.tracing.filters import TracingClientFilter, TracingServerFilter
from dslab.tracing.span import Collector, SpanPart, SpanReport

__all__ = [
    "Collector",
    "SpanPart",
    "SpanReport",
    "TraceContext",
    "TracingClientFilter",
    "TracingServerFilter",
    "check_tree",
    "correct_skew",
    "critical_path",
    "depths",
    "new_id",
    "self_time",
    "spans_frame",
]
