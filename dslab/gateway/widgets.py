"""Interactive version of the failing-backend experiment (ipywidgets ``interact``)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from dslab.gateway import experiments as ex
from dslab.gateway.plots import plot_failing
from dslab.viz.live import live_interact

#: What the controls of :func:`failing_widget` re-run, for readers of the static book.
_WHAT_FAILING_WIDGET = (
    "They re-run the failing-backend experiment with other call slots and backend timeout; "
    "the figure above is the default run."
)


def failing_view(max_concurrent: int = 30, timeout_ms: float = 200.0, seed: int = 1):
    """Both variants of :func:`~dslab.gateway.experiments.failing_backend` for the settings."""
    runs = [ex.failing_backend(seed, breaker=b, max_concurrent=max_concurrent,
                               timeout_ms=timeout_ms) for b in (False, True)]
    return plot_failing(ex.per_route_bins(pd.concat(runs)), seed=seed)


def failing_widget() -> Any:
    """Sliders for the gateway's call slots and its backend timeout."""
    from ipywidgets import FloatSlider, IntSlider

    def show(max_concurrent: int, timeout_ms: float) -> None:
        failing_view(max_concurrent, timeout_ms)
        plt.show()

    return live_interact(
        show,
        _WHAT_FAILING_WIDGET,
        max_concurrent=IntSlider(value=30, min=5, max=200, step=5, description="call slots"),
        timeout_ms=FloatSlider(value=200.0, min=20.0, max=1000.0, step=20.0,
                               description="timeout ms"),
    )
