"""Interactive version of the retry-storm experiment (ipywidgets ``interact``)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

from dslab.rpc import experiments as ex
from dslab.rpc.plots import plot_retry
from dslab.viz.live import live_interact

#: What the controls of :func:`retry_widget` re-run, for readers of the static book.
_WHAT_RETRY_WIDGET = (
    "They re-run the retry-storm experiment for another load, client timeout and stall; the "
    "figure above is the default run."
)


def retry_view(
    rate_per_s: float = 600.0, timeout_ms: float = 30.0, pause_ms: float = 200.0, seed: int = 1
) -> Any:
    """The three retry policies for one offered load, client timeout and stall length."""
    series, _ = ex.retry_storm(
        seed, rate_per_s=rate_per_s, timeout_ms=timeout_ms, pause_ms=pause_ms
    )
    return plot_retry(series, seed, pause=(300.0, 300.0 + pause_ms))


def retry_widget() -> Any:
    """Sliders for load, timeout and stall in front of :func:`retry_view`."""
    from ipywidgets import FloatSlider

    def show(rate_per_s: float, timeout_ms: float, pause_ms: float) -> None:
        retry_view(rate_per_s, timeout_ms, pause_ms)
        plt.show()

    return live_interact(
        show,
        _WHAT_RETRY_WIDGET,
        rate_per_s=FloatSlider(value=600.0, min=100.0, max=780.0, step=20.0, description="load /s"),
        timeout_ms=FloatSlider(
            value=30.0, min=10.0, max=300.0, step=10.0, description="timeout ms"
        ),
        pause_ms=FloatSlider(value=200.0, min=0.0, max=400.0, step=20.0, description="stall ms"),
    )
