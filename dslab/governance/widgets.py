"""Interactive version of the detection experiment (ipywidgets ``interact``)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

from dslab.governance import experiments as ex
from dslab.governance.plots import plot_detection
from dslab.viz.live import live_interact

#: What the controls of :func:`detection_widget` re-run, for readers of the static book.
_WHAT_DETECTION_WIDGET = (
    "They re-run the detection experiment with another scan interval, confirmation count and "
    "session timeout; the figure above is the default run."
)


def detection_view(scan_interval_ms: float = 500.0, confirm: int = 2,
                   session_timeout_ms: float = 3000.0, seed: int = 1):
    summary, calls = ex.detection_compare(seed, scan_interval_ms=scan_interval_ms,
                                          confirm=confirm, session_timeout_ms=session_timeout_ms)
    return plot_detection(calls, summary)


def detection_widget() -> Any:
    from ipywidgets import FloatSlider, IntSlider

    def show(scan_interval_ms: float, confirm: int, session_timeout_ms: float) -> None:
        detection_view(scan_interval_ms, confirm, session_timeout_ms)
        plt.show()

    return live_interact(
        show,
        _WHAT_DETECTION_WIDGET,
        scan_interval_ms=FloatSlider(value=500.0, min=200.0, max=2000.0, step=100.0,
                                     description="scan ms"),
        confirm=IntSlider(value=2, min=1, max=5, description="confirm"),
        session_timeout_ms=FloatSlider(value=3000.0, min=1000.0, max=3800.0, step=100.0,
                                       description="session ms"),
    )
