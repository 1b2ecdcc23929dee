"""Interactive clock-skew view: move a server's clock and see the raw and corrected trace."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

from dslab.tracing import experiments as ex
from dslab.tracing.analysis import correct_skew
from dslab.tracing.plots import plot_skew
from dslab.viz.live import live_interact

#: What the controls of :func:`skew_widget` re-run, for readers of the static book.
_WHAT_SKEW_WIDGET = (
    "They re-run the traced request with another server's clock off by another offset; the "
    "figure above is the default run."
)


def skew_view(node: str = "B", offset_ms: float = -3.0, seed: int = 1) -> Any:
    """One request through the graph with ``node``'s clock off by ``offset_ms``."""
    spans, _, _ = ex.run(seed, requests=1, clock_offsets_ms={node: offset_ms})
    return plot_skew(spans, correct_skew(spans), seed)


def skew_widget() -> Any:
    from ipywidgets import Dropdown, FloatSlider

    def show(node: str, offset_ms: float) -> None:
        skew_view(node, offset_ms)
        plt.show()

    return live_interact(
        show,
        _WHAT_SKEW_WIDGET,
        node=Dropdown(options=list(ex.NODES), value="B", description="node"),
        offset_ms=FloatSlider(value=-3.0, min=-10.0, max=10.0, step=0.5, description="offset ms"),
    )
