"""Interactive versions of the Raft chapter's election experiment (ipywidgets ``interact``).

:func:`downtime_view` runs Figure 16's trial for one election-timeout range and cluster size and
draws its CDF (what the static book shows for the default); :func:`downtime_widget` puts sliders
in front of it in a live notebook.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

from dslab._validate import check_number
from dslab.raft import experiments as ex
from dslab.raft.plots import plot_downtime
from dslab.viz.live import live_interact

#: What the controls of :func:`downtime_widget` re-run, for readers of the static book.
_WHAT_DOWNTIME_WIDGET = (
    "They re-run the election trials with another minimum timeout, randomness, cluster size "
    "and number of trials; the figure above is the default run."
)


def downtime_view(
    timeout_min_ms: float = 150.0,
    randomness_ms: float = 150.0,
    servers: int = 5,
    trials: int = 100,
    seed: int = 0,
):
    """Figure 16's downtime CDF for timeouts drawn from ``[min, min + randomness]`` ms with
    ``servers`` servers; the median and the worst trial are in the title."""
    check_number("timeout_min_ms", timeout_min_ms, min=2.0)
    check_number("randomness_ms", randomness_ms, min=0)
    rng = (float(timeout_min_ms), float(timeout_min_ms + randomness_ms))
    df, summary = ex.election_downtime([rng], trials, seed, servers=servers)
    row = summary.iloc[0]
    return plot_downtime(
        df, title=f"Median {row['median_text']} ms, worst {row['max_text']} ms", panels="one"
    )


def downtime_widget() -> Any:
    """Sliders for the minimum election timeout, the randomness added and the cluster size."""
    from ipywidgets import IntSlider

    def show(timeout_min_ms: int, randomness_ms: int, servers: int, trials: int) -> None:
        downtime_view(timeout_min_ms, randomness_ms, servers, trials)
        plt.show()

    return live_interact(
        show,
        _WHAT_DOWNTIME_WIDGET,
        timeout_min_ms=IntSlider(value=150, min=10, max=300, step=5),
        randomness_ms=IntSlider(value=150, min=0, max=300, step=1),
        servers=IntSlider(value=5, min=3, max=9, step=2),
        trials=IntSlider(value=100, min=20, max=300, step=20),
    )
