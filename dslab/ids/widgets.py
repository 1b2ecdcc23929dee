"""Interactive versions of two of the chapter's experiments (ipywidgets ``interact``).

``rollback_view`` / ``segment_view`` draw one run for given parameters (what the static book shows
for the defaults); ``rollback_widget`` / ``segment_widget`` put sliders in front of them in a live
notebook.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

from dslab.ids import experiments as ex
from dslab.ids.cluster import DEFENCES
from dslab.ids.plots import plot_ids_over_time, plot_segment_timeline
from dslab.viz.live import live_interact

#: What the controls of :func:`rollback_widget` re-run, for readers of the static book.
_WHAT_ROLLBACK_WIDGET = (
    "They re-run the clock-rollback experiment for another rollback, defence and scenario; "
    "the figures above show the default (a 30 ms rollback of the naive generator while it "
    "serves)."
)


#: What the controls of :func:`segment_widget` re-run, for readers of the static book.
_WHAT_SEGMENT_WIDGET = (
    "They re-run the segment-mode experiment with another step, buffering and database speed; "
    "the segment section above shows the default run."
)


def rollback_view(
    rollback_ms: float = 30.0, defence: str = "none", scenario: str = "live", seed: int = 1
):
    """IDs of three Snowflake generators around a rollback of ``id1``'s clock by ``rollback_ms``
    (``scenario="live"``: while it serves; ``"restart"``: while it is down for 20 ms)."""
    fault = "clock_jump" if scenario == "live" else "crash_rollback"
    df, _ = ex.run_ids("snowflake", seed, clients=3, think_ms=1.0, duration_ms=300.0,
                       timeout_ms=5.0, fault=fault, rollback_ms=rollback_ms, n_servers=3,
                       defence=defence, report_ms=100.0, threshold_ms=40.0,
                       placement="round_robin", failover=False)
    at = df.attrs["fault_at_ms"]
    label = f"defence {defence!r}, rollback {rollback_ms:g} ms ({scenario})"
    return plot_ids_over_time({label: df}, t0=max(0.0, at - 60.0), t1=at + 100.0, y="scaled")


def segment_view(step: int = 200, double_buffer: bool = True, db_service_ms: float = 2.0,
                 seed: int = 1):
    """Segment mode's latency and database fetches for one ``step`` and buffering choice."""
    run = ex.run_ids("segment", seed, clients=8, think_ms=0.5, warmup_ms=20.0, duration_ms=100.0,
                     step=step, double_buffer=double_buffer, db_service_ms=db_service_ms)
    return plot_segment_timeline({f"step {step}, double buffering {double_buffer}": run})


def rollback_widget() -> Any:
    """Sliders for the rollback, the defence and the scenario in front of :func:`rollback_view`."""
    from ipywidgets import Dropdown, FloatLogSlider, ToggleButtons

    def show(rollback_ms: float, defence: str, scenario: str) -> None:
        rollback_view(rollback_ms, defence, scenario)
        plt.show()

    return live_interact(
        show,
        _WHAT_ROLLBACK_WIDGET,
        rollback_ms=FloatLogSlider(value=30.0, base=10, min=0, max=2.3, step=0.1,
                                   description="rollback ms"),
        defence=Dropdown(options=list(DEFENCES), value="none"),
        scenario=ToggleButtons(options=["live", "restart"], value="live"),
    )


def segment_widget() -> Any:
    """Sliders for the step, double buffering and the database's speed in front of
    :func:`segment_view`."""
    from ipywidgets import Checkbox, FloatSlider, IntSlider

    def show(step: int, double_buffer: bool, db_service_ms: float) -> None:
        segment_view(step, double_buffer, db_service_ms)
        plt.show()

    return live_interact(
        show,
        _WHAT_SEGMENT_WIDGET,
        step=IntSlider(value=200, min=50, max=2000, step=50),
        double_buffer=Checkbox(value=True, description="double buffering"),
        db_service_ms=FloatSlider(value=2.0, min=0.1, max=10.0, step=0.1,
                                  description="DB ms/stmt"),
    )
